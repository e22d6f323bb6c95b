/*
 * whoami.c - a handler plugin that says who it thinks the client is: what
 * a handler behind a reverse proxy sees.  One line:
 *
 *     client=ADDR peer=ADDR scheme=SCHEME host=HOST id=REQUEST-ID
 *
 * client is gh_req_client() (the real client, from a trusted proxy's
 * forwarding headers or a PROXY header), peer is gh_req_peer() (the
 * socket's other end).  Built out of tree by tests/integration/
 * proxy-nginx.sh, as a third party builds a plugin.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <gohttpd.h>

/* sa as text ("127.0.0.1", "::1", "unix"). */
static const char *addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
    if (!sa)
        return "none";
    if (sa->sa_family == AF_INET)
        return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
                         buf, (socklen_t)len);
    if (sa->sa_family == AF_INET6)
        return inet_ntop(AF_INET6,
                         &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
                         (socklen_t)len);
    return sa->sa_family == AF_UNIX ? "unix" : "other";
}

static int whoami_init(const gh_conf_section_t *conf, void **state)
{
    (void)conf;
    *state = NULL;
    return 0;
}

static int whoami_serve(void *state, gh_req_t *req, gh_resp_t *resp)
{
    char c[INET6_ADDRSTRLEN], p[INET6_ADDRSTRLEN], body[512];
    socklen_t clen, plen;
    const char *scheme = gh_req_scheme(req), *host = gh_req_host(req);
    const char *id = gh_req_id(req);
    int n;

    (void)state;
    n = snprintf(body, sizeof(body),
                 "client=%s peer=%s scheme=%s host=%s id=%s\n",
                 addr_text(gh_req_client(req, &clen), c, sizeof(c)),
                 addr_text(gh_req_peer(req, &plen), p, sizeof(p)),
                 scheme ? scheme : "none", host ? host : "none",
                 id ? id : "none");
    gh_resp_header_set(resp, "Content-Type", "text/plain");
    return gh_resp_send(resp, body, (size_t)n);
}

GH_HANDLER_DEFINE("whoami", whoami_init, whoami_serve, NULL);
