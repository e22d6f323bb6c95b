/*
 * upgrade.c - SIGUSR2: a new copy of gohttpd (the executable now at the
 * path this one started from: a new binary, or the same one) takes over
 * the listening sockets while this one finishes its requests, with no
 * connection attempt refused in between.
 *
 * The old process forks and execs the new one with its listening sockets
 * at descriptors 3.. as systemd would pass them (LISTEN_FDS, LISTEN_PID,
 * LISTEN_FDNAMES: sd.c), so the new one adopts them by address like a
 * socket-activated start does.  GOHTTPD_UPGRADE=R,P adds two descriptors:
 * R, a pipe on which the new process writes 'R' once it serves, and P, the
 * pid file, kept open since the start so that a process no longer root
 * can still rewrite it.  Both processes accept on the same sockets for a
 * moment; then the old one marks them shared (gh_server_listener_share:
 * never shut down, which would end them for the new one too) and stops
 * gracefully.  End of file on the pipe before 'R' (the new one failed or
 * crashed), or upgrade_timeout passing, leaves the old one serving.
 *
 * Between fork and exec the child only calls async-signal-safe functions
 * (dup2, pthread_sigmask, getpid, execve, _exit) on memory prepared
 * before the fork: the parent has threads, and any of them could have
 * held a lock at the fork.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/daemon.h"

#define UPGRADE_ENV "GOHTTPD_UPGRADE"
#define MAX_PASSED GD_SD_MAX_FDS

extern char **environ;

/* ---- the new process ---- */

void gd_upgrade_child_init(gd_daemon_t *d)
{
    const char *v = getenv(UPGRADE_ENV);
    int r = -1, p = -1;

    d->up = (gd_upgrade_t){.fd = -1, .ready_fd = -1, .pid_fd = -1};
    if (v && sscanf(v, "%d,%d", &r, &p) == 2 && r >= 3 &&
        fcntl(r, F_SETFD, FD_CLOEXEC) == 0) {
        d->up.ready_fd = r;
        if (p >= 3 && fcntl(p, F_SETFD, FD_CLOEXEC) == 0)
            d->up.pid_fd = p;
    }
    unsetenv(UPGRADE_ENV);
}

int gd_upgrade_child_ready(gd_daemon_t *d, char *err, size_t errlen)
{
    char c = 'R';

    if (d->up.ready_fd < 0)
        return 0;
    if (write(d->up.ready_fd, &c, 1) != 1) {
        snprintf(err, errlen, "upgrade: cannot tell the old process: %s",
                 strerror(errno));
        close(d->up.ready_fd);
        d->up.ready_fd = -1;
        return GH_EINVAL;
    }
    close(d->up.ready_fd);
    d->up.ready_fd = -1;
    d->pid_written = d->cfg->pid_file != NULL; /* ours from now on */
    gh_log(GH_LOG_NOTICE, "upgrade: took over from pid %ld",
           (long)getppid());
    return 0;
}

/* ---- the old process: starting the new one ---- */

/* What the child needs, all made before the fork. */
typedef struct spawn {
    int n;                       /* listening sockets */
    int fds[MAX_PASSED + 2];     /* sources: sockets, pipe, pid file */
    int nfds;
    char **argv, **envp;
    char pidvar[32];             /* "LISTEN_PID=" + the child's pid */
    char fdsvar[32], upvar[64];
    char *namesvar;
} spawn_t;

static char *concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);

    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

/* The command line again, with absolute paths (this process runs in the
 * configuration's directory now) and never -d (it is detached already). */
static char **child_argv(gd_daemon_t *d)
{
    char **a = calloc(12, sizeof(*a));
    static char w[16];
    int n = 0;

    if (!a)
        return NULL;
    a[n++] = d->exe;
    a[n++] = d->root_path ? "-r" : "-c";
    a[n++] = d->root_path ? d->root_path : d->conf_path;
    if (d->ov.listen) {
        a[n++] = "-l";
        a[n++] = (char *)d->ov.listen;
    }
    if (d->ov.workers) {
        snprintf(w, sizeof(w), "%d", d->ov.workers);
        a[n++] = "-w";
        a[n++] = w;
    }
    if (d->ov.globals) {
        a[n++] = "-g";
        a[n++] = (char *)d->ov.globals;
    }
    return a;
}

/* environ without the variables we set, plus ours. */
static char **child_envp(spawn_t *sp)
{
    size_t n = 0, k = 0;
    char **e;

    while (environ[n])
        n++;
    if (!(e = calloc(n + 5, sizeof(*e))))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LISTEN_", 7) != 0 &&
            strncmp(environ[i], UPGRADE_ENV "=", sizeof(UPGRADE_ENV)) != 0)
            e[k++] = environ[i];
    e[k++] = sp->pidvar;
    e[k++] = sp->fdsvar;
    e[k++] = sp->namesvar;
    e[k++] = sp->upvar;
    return e;
}

/* Duplicate the sockets above every target descriptor (3 .. 3+n+1), so
 * the child's dup2 calls cannot overwrite a source before using it. */
static int dup_sockets(gd_daemon_t *d, spawn_t *sp, char *names, size_t cap)
{
    int idx[MAX_PASSED];
    const char *nm[MAX_PASSED];
    int n = gd_listeners(d, idx, nm, MAX_PASSED);
    int base = GD_SD_LISTEN_FDS_START + n + 2;
    size_t used = 0;

    sp->n = 0;
    for (int i = 0; i < n; i++) {
        int fd = gh_server_listener_dup(d->srv, idx[i], base);
        if (fd < 0) {
            gh_log(GH_LOG_ERROR, "upgrade: listener %d: %s", idx[i],
                   gh_strerror(fd));
            return fd;
        }
        sp->fds[sp->nfds++] = fd;
        sp->n++;
        used += (size_t)snprintf(names + used, cap - used, "%s%s",
                                 i ? ":" : "", nm[i]);
        if (used >= cap) {
            gh_log(GH_LOG_ERROR, "upgrade: the socket names (fd_name) are "
                   "more than %zu bytes together", cap - 1);
            return GH_EINVAL;
        }
    }
    return n > 0 ? base : GH_EINVAL;
}

static void spawn_free(spawn_t *sp)
{
    for (int i = 0; i < sp->nfds; i++)
        close(sp->fds[i]);
    free(sp->argv);
    free(sp->envp);
    free(sp->namesvar);
}

/* The child's LISTEN_PID, written by the child itself: no snprintf. */
static void put_pid(char *dst, long pid)
{
    char digits[24];
    int n = 0;

    do
        digits[n++] = (char)('0' + pid % 10);
    while ((pid /= 10) > 0 && n < 23);
    while (n > 0)
        *dst++ = digits[--n];
    *dst = '\0';
}

/* In the child, after fork: async-signal-safe calls only. */
static void __attribute__((noreturn)) child_exec(spawn_t *sp, char *exe)
{
    sigset_t none;

    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    for (int i = 0; i < sp->nfds; i++)
        if (dup2(sp->fds[i], GD_SD_LISTEN_FDS_START + i) < 0)
            _exit(127);
    put_pid(sp->pidvar + 11, (long)getpid());
    execve(exe, sp->argv, sp->envp);
    _exit(127);
}

/* Sockets, readiness pipe, pid file, argv and envp for the child; the
 * pipe's read end in *rd.  0 or GH_E* (logged). */
static int spawn_prepare(gd_daemon_t *d, spawn_t *sp, int *rd)
{
    char names[4096];
    int base, p[2], w = -1, pf = -1;

    *sp = (spawn_t){.n = 0};
    if ((base = dup_sockets(d, sp, names, sizeof(names))) < 0)
        return base;
    if (pipe2(p, O_CLOEXEC) < 0) {
        gh_log(GH_LOG_ERROR, "upgrade: pipe: %s", strerror(errno));
        return GH_EINVAL;
    }
    w = fcntl(p[1], F_DUPFD_CLOEXEC, base);
    close(p[1]);
    *rd = p[0];
    if (w >= 0)
        sp->fds[sp->nfds++] = w;
    if (w >= 0 && d->pid_fd >= 0 &&
        (pf = fcntl(d->pid_fd, F_DUPFD_CLOEXEC, base)) >= 0)
        sp->fds[sp->nfds++] = pf;
    snprintf(sp->pidvar, sizeof(sp->pidvar), "LISTEN_PID=");
    snprintf(sp->fdsvar, sizeof(sp->fdsvar), "LISTEN_FDS=%d", sp->n);
    snprintf(sp->upvar, sizeof(sp->upvar), UPGRADE_ENV "=%d,%d",
             GD_SD_LISTEN_FDS_START + sp->n,
             pf >= 0 ? GD_SD_LISTEN_FDS_START + sp->n + 1 : -1);
    sp->namesvar = concat("LISTEN_FDNAMES=", names);
    if (w < 0 || !sp->namesvar || !(sp->argv = child_argv(d)) ||
        !(sp->envp = child_envp(sp))) {
        gh_log(GH_LOG_ERROR, "upgrade: out of descriptors or memory");
        close(*rd);
        return GH_ENOMEM;
    }
    return 0;
}

void gd_upgrade_start(gd_daemon_t *d)
{
    spawn_t sp;
    pid_t pid;
    int rd = -1;

    if (d->up.pid > 0) {
        gh_log(GH_LOG_WARN, "SIGUSR2: an upgrade is already under way (new "
               "process %ld): ignored", (long)d->up.pid);
        return;
    }
    if (!d->exe) {
        gh_log(GH_LOG_ERROR, "SIGUSR2: cannot upgrade: the executable's "
               "path is unknown");
        return;
    }
    gh_log(GH_LOG_NOTICE, "SIGUSR2: upgrading: starting %s", d->exe);
    if (spawn_prepare(d, &sp, &rd) == 0) {
        if ((pid = fork()) == 0)
            child_exec(&sp, d->exe);
        if (pid < 0) {
            gh_log(GH_LOG_ERROR, "upgrade: fork: %s", strerror(errno));
            close(rd);
        } else {
            d->up.pid = pid;
            d->up.fd = rd;
            d->up.deadline = gh_now() + d->cfg->upgrade_timeout;
            gh_log(GH_LOG_NOTICE, "upgrade: new process %ld started with %d "
                   "listening sockets; waiting up to %.1f s for it",
                   (long)pid, sp.n,
                   (double)d->cfg->upgrade_timeout / GH_SECOND);
            gd_sd_notify("STATUS=upgrading: new process %ld starting",
                         (long)pid);
        }
    }
    spawn_free(&sp);
}

/* ---- the old process: the outcome ---- */

/* Reap the failed new process (it is exiting, or was killed). */
static void reap(gd_daemon_t *d)
{
    int st = 0;
    pid_t r = 0;

    for (int i = 0; i < 500 && r == 0; i++) {
        r = waitpid(d->up.pid, &st, WNOHANG);
        if (r == 0)
            usleep(10000);
    }
    if (r == d->up.pid && WIFEXITED(st))
        gh_log(GH_LOG_ERROR, "upgrade: new process %ld exited with status %d",
               (long)d->up.pid, WEXITSTATUS(st));
    else if (r == d->up.pid && WIFSIGNALED(st))
        gh_log(GH_LOG_ERROR, "upgrade: new process %ld killed by %s",
               (long)d->up.pid, strsignal(WTERMSIG(st)));
    else
        gh_log(GH_LOG_ERROR, "upgrade: new process %ld did not exit",
               (long)d->up.pid);
}

static void reset(gd_daemon_t *d)
{
    if (d->up.fd >= 0)
        close(d->up.fd);
    d->up.fd = -1;
    d->up.pid = 0;
}

/* The new process serves: this one's sockets are its too now. */
static void hand_over(gd_daemon_t *d)
{
    int idx[MAX_PASSED];
    const char *nm[MAX_PASSED];
    int n = gd_listeners(d, idx, nm, MAX_PASSED);

    for (int i = 0; i < n; i++)
        gh_server_listener_share(d->srv, idx[i]);
    /* The new process wrote its pid into our file, or, when its
     * configuration names another, into that one: then ours is stale. */
    if (gd_pid_holds_ours(d))
        gd_pid_remove(d);
    d->pid_written = false;
    gh_log(GH_LOG_NOTICE, "upgrade: new process %ld is ready; this one "
           "(pid %ld) stops accepting and finishes its requests",
           (long)d->up.pid, (long)getpid());
    gd_sd_notify("MAINPID=%ld\nSTATUS=upgraded: pid %ld serves",
                 (long)d->up.pid, (long)d->up.pid);
    reset(d);
}

static void failed(gd_daemon_t *d, const char *why)
{
    char err[256];

    if (why) {
        gh_log(GH_LOG_ERROR, "upgrade: %s: killing new process %ld", why,
               (long)d->up.pid);
        kill(d->up.pid, SIGKILL);
    }
    reap(d);
    if (d->pid_written && gd_pid_rewrite(d, err, sizeof(err)) < 0)
        gh_log(GH_LOG_WARN, "upgrade: %s", err);
    gh_log(GH_LOG_ERROR, "upgrade failed: pid %ld goes on serving",
           (long)getpid());
    gd_sd_notify("STATUS=upgrade failed; pid %ld goes on serving",
                 (long)getpid());
    reset(d);
}

bool gd_upgrade_check(gd_daemon_t *d, bool readable)
{
    char c = 0;
    ssize_t r = 0;

    if (d->up.pid <= 0)
        return false;
    if (readable) {
        r = read(d->up.fd, &c, 1);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            return false;
        if (r == 1 && c == 'R') {
            hand_over(d);
            return true;
        }
        failed(d, r == 1 ? "unexpected message" : NULL); /* EOF: it died */
        return false;
    }
    if (gh_now() >= d->up.deadline)
        failed(d, "not ready within upgrade_timeout");
    return false;
}

void gd_upgrade_cleanup(gd_daemon_t *d)
{
    if (d->up.pid > 0)
        failed(d, "stopping before the upgrade finished");
    if (d->up.ready_fd >= 0)
        close(d->up.ready_fd);
    d->up.ready_fd = -1;
    if (d->up.pid_fd >= 0 && d->up.pid_fd != d->pid_fd)
        close(d->up.pid_fd);
    d->up.pid_fd = -1;
}
