/*
 * hello.c - a handler plugin built the way a third party builds one: out
 * of tree, against the installed (here: the just-built) gohttpd, with
 *
 *     cc -shared -fPIC -o hello.so hello.c $(pkg-config --cflags --libs gohttpd)
 *
 * tests/integration/daemon-plugin.sh builds and loads it.  It answers
 * every request with its `greeting` setting, after `delay` (watching the
 * request's context, so a client that goes away or a server that gives
 * up cuts the wait short), and counts the requests it served in its state.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gohttpd.h>

typedef struct hello {
    const char *greeting;   /* from the route's block */
    int64_t delay;
    _Atomic long served;
} hello_t;

static int hello_init(const gh_conf_section_t *conf, void **state)
{
    hello_t *h = calloc(1, sizeof(*h));
    int rc;

    if (!h)
        return GH_ENOMEM;
    if ((rc = gh_conf_get_str(conf, "greeting", "hello", &h->greeting)) ||
        (rc = gh_conf_get_duration(conf, "delay", 0, &h->delay))) {
        free(h);
        return rc;
    }
    *state = h;
    return 0;
}

static int hello_serve(void *state, gh_req_t *req, gh_resp_t *resp)
{
    hello_t *h = state;
    char body[512];
    int n;

    if (h->delay) {
        gh_case_t c[] = {GH_RECV(gh_ctx_done(gh_req_ctx(req)), NULL)};

        if (gh_select(c, 1, gh_deadline_in(h->delay)) == 0)
            return 503; /* the request was cancelled */
    }
    n = snprintf(body, sizeof(body), "%s %ld\n", h->greeting,
                 atomic_fetch_add(&h->served, 1) + 1);
    gh_resp_header_set(resp, "Content-Type", "text/plain");
    return gh_resp_send(resp, body, (size_t)n);
}

static void hello_fini(void *state)
{
    hello_t *h = state;

    gh_log(GH_LOG_INFO, "hello: served %ld requests", atomic_load(&h->served));
    free(h);
}

GH_HANDLER_DEFINE("hello", hello_init, hello_serve, hello_fini);
