/*
 * process.c - the daemon as a Unix process: where its files are, the
 * directory it runs in, detaching, the pid file, the open-files limit and
 * dropping root.
 *
 * Paths: a gohttpd run from its build tree (the executable lives in
 * GD_BUILD_DIR/server) reads the source tree's conf/gohttpd.conf and the
 * build tree's plugins; an installed one reads SYSCONFDIR/gohttpd and
 * GH_HANDLER_DIR.  The configuration's plugin_dir comes before either.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/daemon.h"

/* True when this executable is the one in the build tree. */
static bool in_build_tree(void)
{
    char exe[PATH_MAX], *dir;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    size_t bl = strlen(GD_BUILD_DIR "/server");

    if (n <= 0)
        return false;
    exe[n] = '\0';
    dir = dirname(exe);
    return strncmp(dir, GD_BUILD_DIR "/server", bl) == 0 &&
           (dir[bl] == '\0' || strcmp(dir + bl, "/.libs") == 0);
}

const char *gd_default_conf(void)
{
    return in_build_tree() ? GD_SRC_DIR "/conf/gohttpd.conf"
                           : GD_SYSCONF_DIR "/gohttpd.conf";
}

int gd_locate(gd_daemon_t *d, char *err, size_t errlen)
{
    const char *p = d->conf_arg ? d->conf_arg : gd_default_conf();
    char *abs;

    if (d->ov.root) {
        if (!(abs = realpath(d->ov.root, NULL))) {
            snprintf(err, errlen, "-r %s: %s", d->ov.root, strerror(errno));
            return GH_EINVAL;
        }
        d->ov.root = d->root_path = abs;
        return 0;
    }
    if (!(d->conf_path = realpath(p, NULL))) {
        snprintf(err, errlen, "%s: %s", p, strerror(errno));
        return GH_EINVAL;
    }
    return 0;
}

void gd_plugin_path(const gd_config_t *c, gd_plugin_path_t *pp)
{
    pp->n = 0;
    if (c->plugin_dir)
        pp->dirs[pp->n++] = c->plugin_dir;
    if (in_build_tree())
        pp->dirs[pp->n++] = GD_BUILD_DIR "/handlers/.libs";
    pp->dirs[pp->n++] = GH_HANDLER_DIR;
}

int gd_enter_dir(gd_daemon_t *d, char *err, size_t errlen)
{
    char *dir;

    if (!d->conf_path)
        return 0;
    if (!(dir = strdup(d->conf_path)))
        return GH_ENOMEM;
    if (chdir(dirname(dir)) < 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        free(dir);
        return GH_EINVAL;
    }
    free(dir);
    return 0;
}

/*
 * -d: fork; the parent waits on a pipe until the child says how start-up
 * went (gd_detach_report), so that `gohttpd -d` still fails when the
 * address is taken.  Call before any thread exists.
 */
int gd_detach(gd_daemon_t *d, char *err, size_t errlen)
{
    int p[2], status = 1, fd;
    pid_t pid;

    d->detach_fd = -1;
    if (!d->detach)
        return 0;
    if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
        snprintf(err, errlen, "cannot detach: %s", strerror(errno));
        return GH_EINVAL;
    }
    if (pid > 0) {
        close(p[1]);
        if (read(p[0], &status, sizeof(status)) != sizeof(status))
            status = 1;
        _exit(status);
    }
    close(p[0]);
    d->detach_fd = p[1];
    setsid();
    if ((fd = open("/dev/null", O_RDWR)) >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        if (d->cfg->error_log && strcmp(d->cfg->error_log, "stderr") != 0)
            dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    return 0;
}

void gd_detach_report(gd_daemon_t *d, int status)
{
    if (d->detach_fd < 0)
        return;
    if (write(d->detach_fd, &status, sizeof(status)) < 0)
        (void)0; /* the parent is gone: nothing to tell */
    close(d->detach_fd);
    d->detach_fd = -1;
}

void gd_raise_nofile(const gd_config_t *c)
{
    struct rlimit rl;
    rlim_t want;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    want = c->max_open_files ? (rlim_t)c->max_open_files : rl.rlim_max;
    if (want > rl.rlim_max && geteuid() == 0)
        rl.rlim_max = want; /* root may raise the hard limit too */
    rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        gh_log(GH_LOG_WARN, "cannot raise the open files limit to %llu: %s",
               (unsigned long long)rl.rlim_cur, strerror(errno));
    else if (rl.rlim_cur < want)
        gh_log(GH_LOG_WARN, "open files limited to %llu (max_open_files "
               "asks for %llu)", (unsigned long long)rl.rlim_cur,
               (unsigned long long)want);
    else
        gh_log(GH_LOG_INFO, "open files limit: %llu",
               (unsigned long long)rl.rlim_cur);
}

/* Write our pid at the start of the open pid file fd. */
static int pid_put(int fd)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
        return -1;
    return 0;
}

/* The pid file an upgrade passed, if it is the one configured still. */
static int pid_inherited(gd_daemon_t *d, const char *path)
{
    struct stat a, b;
    int fd = d->up.pid_fd;

    d->up.pid_fd = -1;
    if (fd < 0)
        return -1;
    if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino)
        return fd;
    close(fd);
    return -1;
}

/*
 * The pid file stays open: an upgrade passes it to the new process, which
 * may no longer be root.  In a new process started by an upgrade, the
 * file only becomes ours (pid_written, so removed at exit) once the old
 * one has been told we serve (gd_upgrade_child_ready): if we fail before,
 * the old one writes its pid back.  Its path is kept (pid_path): a reload
 * does not move the file, so the one to rewrite and remove is the one
 * written here, whatever the configuration in force names by then.
 */
int gd_pid_write(gd_daemon_t *d, char *err, size_t errlen)
{
    const char *path = d->cfg->pid_file;
    int fd;

    if (!path)
        return 0;
    if (!(d->pid_path = strdup(path))) {
        snprintf(err, errlen, "pid_file %s: out of memory", path);
        return GH_ENOMEM;
    }
    if ((fd = pid_inherited(d, path)) < 0)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || pid_put(fd) < 0) {
        snprintf(err, errlen, "pid_file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(d->pid_path);
        d->pid_path = NULL;
        return GH_EINVAL;
    }
    d->pid_fd = fd;
    d->pid_written = d->up.ready_fd < 0;
    return 0;
}

int gd_pid_rewrite(gd_daemon_t *d, char *err, size_t errlen)
{
    if (d->pid_fd < 0 || pid_put(d->pid_fd) == 0)
        return 0;
    snprintf(err, errlen, "pid_file %s: %s", d->pid_path, strerror(errno));
    return GH_EINVAL;
}

bool gd_pid_holds_ours(const gd_daemon_t *d)
{
    char buf[32];
    ssize_t n;

    if (d->pid_fd < 0 || (n = pread(d->pid_fd, buf, sizeof(buf) - 1, 0)) <= 0)
        return false;
    buf[n] = '\0';
    return strtol(buf, NULL, 10) == (long)getpid();
}

void gd_pid_remove(gd_daemon_t *d)
{
    if (d->pid_written && d->pid_path && unlink(d->pid_path) < 0 &&
        errno != ENOENT)
        gh_log(GH_LOG_WARN, "cannot remove %s: %s", d->pid_path,
               strerror(errno));
    d->pid_written = false;
    free(d->pid_path);
    d->pid_path = NULL;
    if (d->pid_fd >= 0)
        close(d->pid_fd);
    d->pid_fd = -1;
}

static int lookup_ids(const gd_config_t *c, uid_t *uid, gid_t *gid,
                      char *err, size_t errlen)
{
    struct passwd *pw = getpwnam(c->user);
    struct group *gr;

    if (!pw) {
        snprintf(err, errlen, "user %s: no such user", c->user);
        return GH_EINVAL;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    if (c->group) {
        if (!(gr = getgrnam(c->group))) {
            snprintf(err, errlen, "user: no such group %s", c->group);
            return GH_EINVAL;
        }
        *gid = gr->gr_gid;
    }
    return 0;
}

/*
 * Started as root: become the configured user (nobody unless told), or
 * stay root only with allow_root on.  setuid(2) changes every thread of
 * the process (glibc does it for all of them).
 */
int gd_drop_privileges(const gd_config_t *c, char *err, size_t errlen)
{
    uid_t uid;
    gid_t gid;

    if (geteuid() != 0)
        return 0;
    if (c->allow_root) {
        gh_log(GH_LOG_WARN, "running handlers as root (allow_root on)");
        return 0;
    }
    if (lookup_ids(c, &uid, &gid, err, errlen))
        return GH_EINVAL;
    if (uid == 0) {
        snprintf(err, errlen, "user %s is root: refusing to run handlers as "
                 "root (set allow_root on to insist)", c->user);
        return GH_EINVAL;
    }
    if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        snprintf(err, errlen, "cannot become user %s: %s", c->user,
                 strerror(errno));
        return GH_EINVAL;
    }
    if (setuid(0) == 0) {
        snprintf(err, errlen, "could regain root after dropping it");
        return GH_EINVAL;
    }
    gh_log(GH_LOG_NOTICE, "running as user %s (uid %ld, gid %ld)", c->user,
           (long)uid, (long)gid);
    return 0;
}
