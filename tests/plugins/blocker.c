/*
 * blocker.c - a handler plugin that does what a plugin must not: it blocks
 * its worker thread, with nanosleep(2) for its `block` setting, instead of
 * parking its goroutine (gh_sleep) or going through gh_blocking().  Every
 * other connection on that worker waits meanwhile.  The runtime's stall
 * watch reports it in the error log; tests/integration/daemon-plugin.sh
 * builds it (as hello.c is built) and checks that report.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include <gohttpd.h>

static int blocker_init(const gh_conf_section_t *conf, void **state)
{
    int64_t *block = malloc(sizeof(*block));
    int rc;

    if (!block)
        return GH_ENOMEM;
    if ((rc = gh_conf_get_duration(conf, "block", GH_SECOND, block))) {
        free(block);
        return rc;
    }
    *state = block;
    return 0;
}

/* Sleeps the whole time although the stall watch's signal interrupts it,
 * as careful C code does. */
static void block_thread(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / GH_SECOND), (long)(ns % GH_SECOND)};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static int blocker_serve(void *state, gh_req_t *req, gh_resp_t *resp)
{
    (void)req;
    block_thread(*(int64_t *)state);
    gh_resp_header_set(resp, "Content-Type", "text/plain");
    return gh_resp_send(resp, "done\n", 5);
}

static void blocker_fini(void *state)
{
    free(state);
}

GH_HANDLER_DEFINE("blocker", blocker_init, blocker_serve, blocker_fini);
