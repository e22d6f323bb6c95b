/*
 * main.c - the gohttpd daemon: command line, start-up, the signal loop,
 * reload and graceful stop.
 *
 * Start-up order matters: the configuration is read and checked first (so
 * -t and every error need nothing else), then signals are blocked before
 * any thread exists (every runtime thread inherits the mask, and the main
 * thread takes them from a signalfd), the log writer starts, the listeners
 * are bound and the plugins initialised while still privileged, the pid
 * file is written, privileges are dropped, and only then does the server
 * accept.  The process then runs in the configuration file's directory, so
 * relative paths in the configuration resolve against it.
 *
 * Nothing here is HTTP or runtime logic: that is libgohttpd's.
 */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "server/settings.h"
#include "server/daemon.h"
#include "server/log.h"
#include "server/plugins.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gohttpd [-c FILE] [-t] [-f | -d] [-l ADDR] [-r DIR] "
            "[-w N] [-g DIRECTIVES] [-v] [-h]\n"
            "  -c FILE  configuration file (default %s)\n"
            "  -t       test the configuration (and the plugins' settings) "
            "and exit\n"
            "  -f       stay in the foreground (the default)\n"
            "  -d       detach and run in the background\n"
            "  -l ADDR  listen on ADDR instead of the configured listen "
            "directives\n"
            "           (host:port, [v6]:port, :port or unix:/path)\n"
            "  -r DIR   serve DIR with no configuration file (on "
            "127.0.0.1:8080 unless -l)\n"
            "  -w N     worker threads (default: one per CPU)\n"
            "  -g TEXT  directives applied after the configuration file, "
            "e.g. -g 'workers 1;'\n"
            "  -v       print the version and exit\n"
            "  -h       print this help and exit\n",
            gd_default_conf());
}

static int parse_workers(const char *s)
{
    char *end;
    long n = strtol(s, &end, 10);

    if (!*s || *end || n < 1 || n > 1024) {
        fprintf(stderr, "gohttpd: -w: expected 1 to 1024 workers, found "
                "\"%s\"\n", s);
        exit(1);
    }
    return (int)n;
}

static void parse_args(gd_daemon_t *d, int argc, char **argv)
{
    int opt;

    while ((opt = getopt(argc, argv, "c:tfdl:r:w:g:vh")) != -1) {
        switch (opt) {
        case 'c': d->conf_arg = optarg; break;
        case 't': d->test_only = true; break;
        case 'f': d->detach = false; break;
        case 'd': d->detach = true; break;
        case 'l': d->ov.listen = optarg; break;
        case 'r': d->ov.root = optarg; break;
        case 'w': d->ov.workers = parse_workers(optarg); break;
        case 'g': d->ov.globals = optarg; break;
        case 'v': printf("gohttpd %s\n", gh_version()); exit(0);
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(1);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gohttpd: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        exit(1);
    }
    if (d->ov.root && d->conf_arg) {
        fprintf(stderr, "gohttpd: -r serves a directory without a "
                "configuration file: leave out -c\n");
        exit(1);
    }
}

static int test_config(gd_daemon_t *d)
{
    gd_plugin_path_t pp;
    char err[1024];
    gd_gen_t *g;

    gd_plugin_path(d->cfg, &pp);
    if (gd_gen_build(d->cfg, &pp, &g, err, sizeof(err))) {
        fprintf(stderr, "gohttpd: %s\n", err);
        return 1;
    }
    gd_gen_retire(g);
    fprintf(stderr, "gohttpd: the configuration %s is ok\n",
            d->ov.root ? "(-r)" : d->cfg->path);
    return 0;
}

/* Everything up to the signal loop; the exit status if it ends there. */
static int start(gd_daemon_t *d)
{
    char err[1024];

    if (gd_locate(d, err, sizeof(err)) ||
        gd_config_load(d->conf_path, &d->ov, &d->cfg, err, sizeof(err)) ||
        gd_enter_dir(d, err, sizeof(err))) {
        fprintf(stderr, "gohttpd: %s\n", err);
        return 1;
    }
    if (d->test_only)
        return test_config(d);
    if (gd_start(d, err, sizeof(err))) {
        gh_log(GH_LOG_ERROR, "%s", err);
        gd_detach_report(d, 1);
        return 1;
    }
    gd_detach_report(d, 0);
    return -1;
}

/* The executable's path, for SIGUSR2 to start what is there then (a new
 * binary installed over this one). */
static char *exe_path(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    return strdup(buf);
}

int main(int argc, char **argv)
{
    gd_daemon_t d = {.detach_fd = -1, .sfd = -1, .pid_fd = -1};
    int status;

    gd_upgrade_child_init(&d); /* first: before descriptors are opened */
    d.argv = argv;
    d.exe = exe_path();
    parse_args(&d, argc, argv);
    status = start(&d);
    if (status < 0)
        status = gd_run(&d);
    gd_teardown(&d);
    free(d.conf_path);
    free(d.root_path);
    return status;
}
