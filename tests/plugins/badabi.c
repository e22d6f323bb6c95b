/*
 * badabi.c - a plugin that claims another handler ABI than the daemon's,
 * as one built against an older or newer gohttpd would.  The loader must
 * refuse it, naming the file and both ABI numbers
 * (tests/integration/daemon-plugin.sh).
 */
#include <gohttpd.h>

static int serve(void *state, gh_req_t *req, gh_resp_t *resp)
{
    return 500;
}

GH_API const gh_handler_t gh_handler_entry = {
    GH_HANDLER_ABI + 41, (uint32_t)sizeof(gh_handler_t), "badabi", NULL,
    serve, NULL};
