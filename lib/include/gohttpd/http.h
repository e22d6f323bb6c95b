/*
 * gohttpd/http.h - the HTTP/1.1 server: listeners, requests, responses and
 * the router.
 *
 * A server accepts connections on one or more listeners (TCP over IPv4 or
 * IPv6, or Unix-domain sockets).  Every connection is served by its own
 * goroutine, which parses requests (HTTP/1.0 and 1.1, keep-alive,
 * pipelining, chunked bodies, Expect: 100-continue) and calls the server's
 * handler for each, in order.  A handler is plain blocking code: it may read
 * the body, sleep, use channels or call a backend; only its own goroutine
 * waits.  Everything a client sends is bounded (gh_server_opts_t) and
 * answered with the right status when it oversteps.
 *
 *     static int hello(void *udata, gh_req_t *req, gh_resp_t *resp)
 *     {
 *         gh_resp_header_set(resp, "Content-Type", "text/plain");
 *         return gh_resp_send(resp, "Hello, World!", 13);
 *     }
 *
 *     gh_server_t *s;
 *     gh_server_new(&s, NULL, hello, NULL);
 *     gh_server_listen(s, "127.0.0.1:8080", NULL);
 *     gh_server_start(s);
 *     ... gh_server_shutdown(s, gh_deadline_in(10 * GH_SECOND));
 *     gh_server_free(s);
 *
 * The router (gh_router_t) is itself a handler: pass gh_router_serve and the
 * router as the server's handler to dispatch on method and path.
 */
#ifndef GOHTTPD_HTTP_H
#define GOHTTPD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "gohttpd/ctx.h"
#include "gohttpd/tls.h"
#include "gohttpd/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gh_server gh_server_t; /**< a server; opaque */
typedef struct gh_req gh_req_t;       /**< a request; opaque */
typedef struct gh_resp gh_resp_t;     /**< its response; opaque */
typedef struct gh_router gh_router_t; /**< a method and path router */

/**
 * A request handler.  Runs on the connection's goroutine and may block.
 * Returns 0 once the response has been written through gh_resp_*() (if it
 * wrote nothing, an empty 200 is sent); a status from 100 to 599 asks for a
 * canned response with that status (only if nothing was sent yet); a
 * negative GH_E* code becomes a 500 and a log line.  req and resp are valid
 * until it returns.
 */
typedef int (*gh_handler_fn)(void *udata, gh_req_t *req, gh_resp_t *resp);

/**
 * What an access log needs about one finished exchange: every response the
 * server sent, its own error responses (400, 408, 413, 431 ...) included.
 * Strings are NUL-terminated and valid only during the callback; a field
 * the request did not get far enough to have is NULL (method, target) or 0.
 */
typedef struct gh_access {
    const gh_req_t *req;       /**< the request; NULL when the head was
                                *   not parsed (a malformed or timed-out
                                *   head) */
    const struct sockaddr *peer; /**< the client */
    socklen_t peer_len;
    const char *method;        /**< "GET"; NULL if unknown */
    const char *target;        /**< the request-target as sent; NULL ... */
    int version;               /**< 10 or 11; 0 if unknown */
    int status;                /**< the status sent */
    uint64_t body_bytes;       /**< response body bytes sent */
    int64_t start_wall;        /**< when the request's first byte came,
                                *   nanoseconds since the Unix epoch */
    int64_t duration;          /**< from then to the end of the response,
                                *   nanoseconds */
    const struct sockaddr *client; /**< the real client (gh_req_client());
                                *   the peer when no trusted proxy named
                                *   one; never NULL */
    socklen_t client_len;
    const char *request_id;    /**< gh_req_id(); NULL when request IDs
                                *   are off */
} gh_access_t;

/**
 * An access-log callback: runs on the connection's goroutine right after
 * each response; it must not park for long (queue the line elsewhere).
 */
typedef void (*gh_access_fn)(void *udata, const gh_access_t *a);

/**
 * A readiness check (gh_server_opts_t.ready_check): true when the server
 * may take traffic; false, with a short reason in why (len bytes), when
 * a load balancer should send it elsewhere.  Runs on the goroutine of a
 * request for the readiness path: it may block briefly.
 */
typedef bool (*gh_ready_fn)(void *udata, char *why, size_t len);

/**
 * Server options.  gh_server_opts_init() fills in the defaults shown; change
 * what you need.  Times are nanoseconds; sizes bytes.
 */
typedef struct gh_server_opts {
    uint32_t max_target;       /**< request-target bytes: 8192 (414) */
    uint32_t max_header_bytes; /**< header section bytes: 16384 (431) */
    uint32_t max_headers;      /**< header fields: 100 (431) */
    uint64_t max_body;         /**< request body bytes: 1 MiB (413) */
    int64_t header_timeout;    /**< whole head, from its first byte: 10 s;
                                *   TCP listeners also defer accepting a
                                *   connection until its first bytes come,
                                *   for this long rounded up to seconds */
    int64_t body_timeout;      /**< body: allowance from the end of the
                                *   head, 10 s ... */
    uint32_t body_min_rate;    /**< ... extended by 1 s per this many body
                                *   bytes read: 500 (0: no extension) */
    int64_t write_timeout;     /**< a response write: first allowance 10 s */
    uint32_t write_min_rate;   /**< ... extended likewise: 500 B/s */
    int64_t idle_timeout;      /**< keep-alive wait for a new request: 65 s
                                *   (longer than a balancer's usual 60 s, so
                                *   the balancer closes first) */
    uint32_t max_conns;        /**< open connections: 10000; at the limit
                                *   accepting pauses */
    uint32_t max_requests;     /**< per connection, then Connection: close:
                                *   1000 (0: unlimited) */
    int64_t accept_backoff;    /**< first pause after EMFILE/ENFILE or at
                                *   max_conns, doubling up to 1 s: 10 ms */
    const char *server_header; /**< "Server" value: "gohttpd"; NULL: none.
                                *   Copied by gh_server_new(). */
    size_t stack_size;         /**< connection goroutines' stacks: 0 = the
                                *   runtime default */
    gh_access_fn access_log;   /**< called after every response: NULL */
    void *access_udata;        /**< its first argument */
    const char *health_path;   /**< answered by the server itself, 200
                                *   while it runs: "/healthz"; NULL: off */
    const char *ready_path;    /**< 200 when ready, 503 once not ready
                                *   (gh_server_set_ready(), shutdown, or
                                *   ready_check): "/readyz"; NULL: off */
    bool health_log;           /**< log those requests too: false */
    gh_ready_fn ready_check;   /**< asked on each readiness request when
                                *   the server is otherwise ready: NULL */
    void *ready_udata;         /**< its first argument */
    /* Behind a reverse proxy (see gh_req_client()): */
    const char *trusted_proxies; /**< peers whose forwarding headers are
                                *   believed: a gh_netlist_new() list
                                *   ("10.0.0.0/8 ::1 unix"); NULL: none.
                                *   Parsed (GH_EINVAL if bad) and copied */
    const char *real_ip_header; /**< where a trusted peer names the client:
                                *   "X-Forwarded-For" (the default; NULL
                                *   means it), "X-Real-IP" or "Forwarded"
                                *   (RFC 7239) */
    bool real_ip_recursive;    /**< walk the list right to left past
                                *   trusted hops: true; false: take the
                                *   rightmost entry */
    uint32_t max_forwarded_hops; /**< list entries walked at most: 32
                                *   (1 to 64) */
    const char *request_id_header; /**< request IDs (gh_req_id()): the
                                *   header a trusted peer's ID comes in and
                                *   the response carries it back in, e.g.
                                *   "X-Request-ID"; NULL (the default): no
                                *   IDs.  Copied */
    int64_t linger_timeout;    /**< after an error answered before the
                                *   request was read (413, 400 ...), the
                                *   connection keeps reading and dropping
                                *   what the client still sends, so that
                                *   it reads the answer rather than a
                                *   reset, for at most: 5 s ... */
    uint64_t linger_bytes;     /**< ... and at most this many bytes:
                                *   16 MiB */
} gh_server_opts_t;

/** Fill *o with the defaults above. */
GH_API void gh_server_opts_init(gh_server_opts_t *o);

/**
 * gh_server_new - create a server that answers every request with
 * handler(udata, ...).  opts may be NULL for the defaults; it is copied.
 * Returns 0 and the server in *out, or GH_EINVAL (a zero limit or
 * timeout) / GH_ENOMEM.  The server listens on nothing yet.
 */
GH_API int gh_server_new(gh_server_t **out, const gh_server_opts_t *opts,
                         gh_handler_fn handler, void *udata);

/** Listener options; zero-initialise (NULL means all defaults). */
typedef struct gh_listen_opts {
    int backlog;    /**< listen(2) backlog; 0 = 511 */
    bool reuseport; /**< set SO_REUSEPORT (TCP only) */
    /* A Unix-domain socket's file, set between bind(2) and listen(2), so
     * no client connects before it holds: */
    unsigned unix_mode; /**< its mode (e.g. 0660); 0 = as the umask made it */
    bool unix_chown;    /**< chown it to unix_uid:unix_gid (-1: keep one) */
    uid_t unix_uid;
    gid_t unix_gid;
    /* The PROXY protocol (v1 or v2, as HAProxy's send-proxy sends it): */
    bool proxy_protocol; /**< every connection must start with a header;
                          *   its source address becomes the peer
                          *   (gh_req_peer()); one without a valid header
                          *   is closed (logged at most every 10 s) */
    const char *proxy_protocol_from; /**< the peers allowed to send it, a
                          *   gh_netlist_new() list; others are closed at
                          *   once.  NULL: any peer.  Parsed and copied */
    int64_t proxy_protocol_timeout; /**< the header must be in within this
                          *   (ns) of the connection's start: 0 = 5 s */
    gh_tls_t *tls;      /**< serve HTTPS with this context (the listener
                         *   takes its own reference); NULL: plain HTTP */
    int notsent_lowat;  /**< TCP_NOTSENT_LOWAT of its connections: a
                         *   send parks once this many bytes are queued
                         *   but not yet sent, so a large body goes out
                         *   from the server's own thread as the client
                         *   reads, not from the client's ACKs.  0 =
                         *   16384; < 0 = the system's
                         *   (net.ipv4.tcp_notsent_lowat).  TCP only */
} gh_listen_opts_t;

/**
 * gh_server_listen - bind and listen on addr: "host:port" (an IPv4
 * address, or a host name: its first address), "[v6addr]:port", ":port"
 * (two listeners: every IPv4 and every IPv6 address) or "unix:/path" (a
 * stale socket file at path, one nothing listens on, is replaced; a live
 * one gives GH_EADDRINUSE, and one that cannot be probed the probe's
 * error, e.g. GH_EMFILE).  Port 0 picks a free port
 * (see gh_server_addr(); ":0" gives the two listeners different ports).
 * After gh_server_start() the new listener is served at once (a reload
 * adding an address).  Returns the (first new) listener's index
 * (>= 0) or GH_E* (GH_EINVAL for an address it cannot parse,
 * GH_EADDRINUSE, ...).
 */
GH_API int gh_server_listen(gh_server_t *s, const char *addr,
                            const gh_listen_opts_t *opts);

/**
 * gh_listen_addr_problem - NULL when addr has a form gh_server_listen()
 * takes (a port 0 to 65535 in digits, a host of at most 255 bytes,
 * balanced brackets, a unix: path that fits sun_path), else a short
 * English phrase saying what is wrong, for a configuration error.  Only
 * the form: a host name is not resolved, nothing is bound.
 */
GH_API const char *gh_listen_addr_problem(const char *addr);

/**
 * gh_server_update - replace s's options with opts (copied) while it runs,
 * as a reload does.  Connections pick the new limits, timeouts and access
 * log up at their next request; nothing in flight is disturbed.  Returns
 * 0 or GH_EINVAL (as gh_server_new()) / GH_ENOMEM.  Any thread; not
 * concurrently with itself.
 */
GH_API int gh_server_update(gh_server_t *s, const gh_server_opts_t *opts);

/**
 * gh_server_listener_update - change what can change on a listener while
 * it accepts: its PROXY protocol settings (proxy_protocol,
 * proxy_protocol_from, proxy_protocol_timeout of opts) and notsent_lowat
 * (the rest is ignored), for connections it accepts from now on.  Returns 0,
 * GH_EINVAL (no such listener, or a bad proxy_protocol_from) or
 * GH_ENOMEM.  Any thread; not concurrently with itself.
 */
GH_API int gh_server_listener_update(gh_server_t *s, int i,
                                     const gh_listen_opts_t *opts);

/**
 * gh_server_listener_close - stop accepting on listener i (an index from
 * gh_server_listen() or gh_server_listen_fd()) and close it; connections
 * it accepted carry on.  Works before and after gh_server_start().  Returns
 * 0 or GH_EINVAL (no such listener, or already closed).
 */
GH_API int gh_server_listener_close(gh_server_t *s, int i);

/**
 * gh_server_listener_tls - make listener i serve TLS with tls from now on
 * (NULL: plain HTTP), atomically: handshakes that start later use tls,
 * connections already accepted keep the context they began with.  The
 * listener takes its own reference to tls and drops the old one.  Returns
 * 0 or GH_EINVAL (no such listener, or closed).  Any thread.
 */
GH_API int gh_server_listener_tls(gh_server_t *s, int i, gh_tls_t *tls);

/**
 * gh_server_listen_fd - serve on fd, a socket already listening (inherited
 * from a supervisor, say).  The server takes it over and closes it.  As
 * gh_server_listen(), it may be called after gh_server_start().  Returns
 * the listener's index or GH_E*.
 */
GH_API int gh_server_listen_fd(gh_server_t *s, int fd);

/**
 * gh_server_listener_share - listener i's socket is shared with another
 * process (a new copy of the program it was passed to, or the supervisor
 * that passed it in): from now on, closing the listener here
 * (gh_server_listener_close(), gh_server_shutdown(), gh_server_free())
 * only stops accepting in this process, within a second, and closes this
 * process's descriptor; the socket is not shut down and a unix: socket's
 * file is not removed, so the other process keeps accepting on it with
 * nothing refused.  Returns 0 or GH_EINVAL (no such listener, or closed).
 */
GH_API int gh_server_listener_share(gh_server_t *s, int i);

/**
 * gh_server_listener_dup - a new descriptor for listener i's socket, the
 * lowest free one >= minfd, close-on-exec, for the caller to pass to
 * another process (with gh_server_listener_share()).  The caller closes
 * it.  Returns the descriptor or GH_EINVAL (no such listener, or closed)
 * / a negated errno.
 */
GH_API int gh_server_listener_dup(gh_server_t *s, int i, int minfd);

/**
 * gh_server_addr - the local address of listener i (getsockname(2)).
 * Returns 0 or GH_EINVAL (no such listener).
 */
GH_API int gh_server_addr(gh_server_t *s, int i, struct sockaddr_storage *ss,
                          socklen_t *len);

/**
 * gh_server_start - start an acceptor goroutine per listener.  Returns at
 * once: 0, or GH_EINVAL (no listeners, or already started) / GH_ENOMEM.
 */
GH_API int gh_server_start(gh_server_t *s);

/**
 * gh_server_set_ready - say whether s takes traffic: with false its
 * readiness path answers 503 while everything else is served as before
 * (a drain before shutdown: the load balancer notices and moves away);
 * true undoes it.  A new server is ready; gh_server_shutdown() makes it
 * not ready for good.  Any thread.
 */
GH_API void gh_server_set_ready(gh_server_t *s, bool ready);

/**
 * gh_server_shutdown - graceful shutdown: stop accepting and close the
 * listeners, close idle keep-alive connections at once, let in-flight
 * requests finish (their responses carry Connection: close) until
 * deadline (absolute, gh_now() based), then cancel the contexts of what
 * remains and shut their sockets down.  Parks until every connection is
 * gone, so past the deadline it still waits for handlers to return: a
 * handler that may run long must watch gh_req_ctx().  Returns 0, or
 * GH_ETIMEDOUT if some had to be cut off.  Call once, from any goroutine
 * or thread except the server's own handlers (which it would wait for).
 */
GH_API int gh_server_shutdown(gh_server_t *s, int64_t deadline);

/** gh_server_free - release a server after gh_server_shutdown() (or one
 * that never started).  NULL is ignored. */
GH_API void gh_server_free(gh_server_t *s);

/**
 * The latency histogram of gh_server_stats_t: the time from a request's
 * first byte to the end of its response (as gh_access_t.duration), counted
 * in GH_LATENCY_BUCKETS buckets.  Bucket i holds the responses that took
 * at most GH_LATENCY_BOUNDS_US[i] microseconds and more than the bound
 * before it; the last bucket, which has no bound, holds the slower ones.
 * The bounds run 1-2.5-5 per decade, from 10 us to 10 s:
 *
 *     static const uint32_t bounds[GH_LATENCY_BUCKETS - 1] =
 *         GH_LATENCY_BOUNDS_US;
 */
#define GH_LATENCY_BUCKETS 20
#define GH_LATENCY_BOUNDS_US                                               \
    {10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000,     \
     100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000}

/** Counters, all since the server was created. */
typedef struct gh_server_stats {
    uint64_t conns_open;     /**< connections open now */
    uint64_t conns_idle;     /**< of which idle between requests */
    uint64_t conns_total;    /**< accepted */
    uint64_t requests;       /**< requests answered */
    uint64_t status[6];      /**< responses by class: [1] 1xx ... [5] 5xx
                              *   ([0] unused) */
    uint64_t bytes_in;       /**< bytes read from clients */
    uint64_t bytes_out;      /**< bytes written to clients */
    uint64_t accept_pauses;  /**< times accepting backed off */
    uint64_t timeouts;       /**< connections cut by a timeout */
    int64_t goroutines;      /**< goroutines in the runtime now */
    uint64_t latency[GH_LATENCY_BUCKETS]; /**< responses by latency (see
                              *   GH_LATENCY_BOUNDS_US); they add up to the
                              *   responses counted in status[] */
    uint64_t latency_sum_ns; /**< the latencies' total, nanoseconds */
    int64_t created;         /**< gh_now() when the server was created */
} gh_server_stats_t;

/**
 * gh_server_stats - a snapshot of s's counters.  Each is read atomically
 * but not all at one instant: under load, sums taken from different
 * fields (requests, the latency buckets) may differ by the responses that
 * finished meanwhile.  Any thread; does not park.
 */
GH_API void gh_server_stats(gh_server_t *s, gh_server_stats_t *st);

/* ---- requests ---------------------------------------------------------
 *
 * Strings returned below are NUL-terminated and valid until the handler
 * returns, unless said otherwise; never free them.
 */

/** The method, upper case ("GET"). */
GH_API const char *gh_req_method(const gh_req_t *req);

/** The request-target exactly as sent ("/a%20b?x=1"). */
GH_API const char *gh_req_target(const gh_req_t *req);

/** The path of the target, still percent-encoded ("/a%20b"). */
GH_API const char *gh_req_raw_path(const gh_req_t *req);

/**
 * The path, percent-decoded ("/a b").  A request whose path does not
 * decode (a bad %-escape or an encoded NUL) was answered with 400 before
 * any handler ran.
 */
GH_API const char *gh_req_path(const gh_req_t *req);

/** The query string without its '?', still encoded; NULL when absent. */
GH_API const char *gh_req_query(const gh_req_t *req);

/**
 * gh_req_query_param - the first value of query parameter name, decoded
 * ('+' is a space), "" for a name without '='; NULL if absent.  The value
 * lives in the request's arena.
 */
GH_API const char *gh_req_query_param(gh_req_t *req, const char *name);

/** HTTP version: 10 or 11. */
GH_API int gh_req_version(const gh_req_t *req);

/**
 * gh_req_tls - how req's connection is secured: the TLS version, cipher,
 * SNI name, ALPN protocol and (with client verification) the verified
 * client's subject; NULL for a plain HTTP connection.  The struct and its
 * strings belong to the connection and stay valid until the handler
 * returns.  Connection goroutine only; does not park.
 */
GH_API const gh_tls_info_t *gh_req_tls(const gh_req_t *req);

/**
 * gh_req_header - the value of the first header field called name
 * (case-insensitive), surrounding whitespace removed; NULL if absent.
 */
GH_API const char *gh_req_header(const gh_req_t *req, const char *name);

/** The number of header fields, for gh_req_header_at(). */
GH_API int gh_req_header_count(const gh_req_t *req);

/**
 * gh_req_header_at - header field i (0 .. count-1) in arrival order: sets
 * *name and *value.  Returns 0 or GH_EINVAL.
 */
GH_API int gh_req_header_at(const gh_req_t *req, int i, const char **name,
                            const char **value);

/**
 * gh_req_trailer - a trailer field of a chunked body, once the body has
 * been read to its end; NULL otherwise.
 */
GH_API const char *gh_req_trailer(const gh_req_t *req, const char *name);

/** The body length from Content-Length, or -1 (chunked or unknown). */
GH_API int64_t gh_req_content_length(const gh_req_t *req);

/**
 * gh_req_read - read up to len bytes of the body (de-chunked).  The first
 * call on a request that carried Expect: 100-continue sends the interim 100
 * response.  Parks until at least one byte is there, the body ends
 * (returns 0) or deadline (absolute; GH_FOREVER: only the server's body
 * timeout applies) passes (GH_ETIMEDOUT).  Other errors: GH_ECONNRESET
 * (the client went away), GH_EMSGSIZE (the body is over max_body),
 * GH_EINVAL (malformed chunked framing).  These, and GH_ETIMEDOUT from the
 * server's body timeout, are final: returned by the handler they give 413,
 * 400 or 408 and the connection closes.
 */
GH_API ssize_t gh_req_read(gh_req_t *req, void *buf, size_t len,
                           int64_t deadline);

/**
 * gh_req_read_all - read the whole body into the request's arena, NUL-
 * terminated; *out points to it.  Returns its length, or GH_EMSGSIZE if it
 * is longer than max bytes (final, as for gh_req_read(): returned by the
 * handler it gives 413), or an error of gh_req_read().
 */
GH_API ssize_t gh_req_read_all(gh_req_t *req, size_t max, const char **out);

/** The peer's address: the connection's other end, or the source of its
 * PROXY protocol header; *len is set to its length.  A Unix-domain peer
 * is only its family. */
GH_API const struct sockaddr *gh_req_peer(const gh_req_t *req,
                                          socklen_t *len);

/**
 * gh_req_client - the real client's address; *len is set to its length.
 * When the peer is one of the server's trusted_proxies, the address the
 * real_ip_header names (walked right to left past trusted hops, at most
 * max_forwarded_hops; a malformed, "unknown" or obfuscated entry ends the
 * walk at the last good address); otherwise the peer itself, as
 * gh_req_peer().  Its port is 0 unless the header gave one.
 */
GH_API const struct sockaddr *gh_req_client(const gh_req_t *req,
                                            socklen_t *len);

/**
 * gh_req_scheme - "http" or "https" as a trusted proxy reports it
 * (X-Forwarded-Proto, or proto= with Forwarded); else the connection's
 * own ("https" on a TLS listener, else "http").  Static storage.
 */
GH_API const char *gh_req_scheme(const gh_req_t *req);

/**
 * gh_req_host - the host the client asked for: as a trusted proxy reports
 * it (X-Forwarded-Host, or host= with Forwarded), else the Host header;
 * NULL if none.
 */
GH_API const char *gh_req_host(const gh_req_t *req);

/**
 * gh_req_id - the request's ID when the server has a request_id_header:
 * the one a trusted peer sent in it (1 to 128 characters of A-Z a-z 0-9
 * and - _ . : + / = @), else a new one of 32 hex digits.  The response
 * carries it in the same header.  NULL when IDs are off.
 */
GH_API const char *gh_req_id(const gh_req_t *req);

/**
 * gh_req_server - the server that req came to, for gh_server_stats()
 * (a status page).  Valid as long as the server; never NULL.
 */
GH_API gh_server_t *gh_req_server(const gh_req_t *req);

/**
 * gh_req_ctx - the request's context, cancelled when the server shuts
 * down past its grace period, when the request ends, and when the client
 * goes away: once the body has been read, the socket is watched and end of
 * file or an error there cancels it (bytes of a pipelined request end the
 * watch instead: the client is still there).  Before that, a vanished
 * client shows as an error of gh_req_read().  Owned by the request.
 */
GH_API gh_ctx_t *gh_req_ctx(gh_req_t *req);

/**
 * gh_req_alloc - n bytes from the request's arena, aligned for any type,
 * freed when the request ends.  NULL when out of memory.
 */
GH_API void *gh_req_alloc(gh_req_t *req, size_t n);

/**
 * gh_req_param - the value of path parameter name ("/users/{id}") that the
 * router matched, decoded; NULL if none.  For a prefix route, "*" is the
 * rest of the path after the prefix, decoded ("a/b.txt" for "/static/" on
 * "/static/a/b.txt"; "" for "/static/" itself).  A nested router whose
 * route has neither leaves the outer router's in place; it matches the
 * whole path too, so its patterns repeat the outer prefix.
 */
GH_API const char *gh_req_param(const gh_req_t *req, const char *name);

/* ---- responses --------------------------------------------------------
 *
 * Calls that would break the response (a header after the head was sent,
 * anything after it ended) fail with GH_ESENT and change nothing.
 */

/** Set the status (default 200).  GH_EINVAL outside 100..599 (101 too). */
GH_API int gh_resp_status(gh_resp_t *resp, int status);

/**
 * gh_resp_header_set - set header name to value, replacing every field of
 * that name (case-insensitive).  Both are copied.  Content-Length sets the
 * body length (a streaming body then must match it); Connection, Date and
 * Transfer-Encoding are the server's and give GH_EINVAL, as do a name that
 * is not a token or a value with CR, LF or NUL.
 */
GH_API int gh_resp_header_set(gh_resp_t *resp, const char *name,
                              const char *value);

/** gh_resp_header_add - add a field, keeping others of that name. */
GH_API int gh_resp_header_add(gh_resp_t *resp, const char *name,
                              const char *value);

/** gh_resp_header_del - remove every field called name. */
GH_API int gh_resp_header_del(gh_resp_t *resp, const char *name);

/**
 * gh_resp_send - send the whole response: the head with Content-Length:
 * len and the body, in one write where possible, and end it.  For HEAD
 * requests the body is not sent.  Parks.  Returns 0 or GH_E* (the client
 * went away, a write timed out, GH_ESENT, GH_EINVAL for a body with a
 * status that has none: 1xx, 204, 304).
 */
GH_API int gh_resp_send(gh_resp_t *resp, const void *body, size_t len);

/**
 * gh_resp_write - stream part of the body.  The head goes first; without a
 * Content-Length header the body is sent chunked (HTTP/1.1) or delimited
 * by closing the connection (HTTP/1.0).  Small writes are buffered.
 * Returns len or GH_E* (GH_EMSGSIZE past a Content-Length).
 */
GH_API ssize_t gh_resp_write(gh_resp_t *resp, const void *buf, size_t len);

/** gh_resp_flush - send what gh_resp_write() buffered.  0 or GH_E*. */
GH_API int gh_resp_flush(gh_resp_t *resp);

/**
 * gh_resp_end - end a streamed response (the last chunk).  The server calls
 * it when the handler returns; call it to finish early.  GH_EIO if fewer
 * bytes than a set Content-Length were written (the connection is then
 * closed).
 */
GH_API int gh_resp_end(gh_resp_t *resp);

/**
 * gh_resp_sendfile - send len bytes of the open file fd from offset as the
 * whole body (Content-Length: len), with sendfile(2), and end the
 * response.  fd stays the caller's.  0 or GH_E*.
 */
GH_API int gh_resp_sendfile(gh_resp_t *resp, int fd, off_t offset,
                            size_t len);

/** True once the head has been sent (headers can no longer change). */
GH_API bool gh_resp_head_sent(const gh_resp_t *resp);

/* ---- the router -------------------------------------------------------*/

/** gh_router_new - an empty router.  NULL when out of memory. */
GH_API gh_router_t *gh_router_new(void);

/** gh_router_free - free a router no server uses any more.  NULL ok. */
GH_API void gh_router_free(gh_router_t *r);

/**
 * gh_router_add - route requests to fn(udata, ...).
 *
 * methods: a comma-separated list ("GET,POST"; case-sensitive, as HTTP
 * methods are), or NULL / "*" for any; a GET route also answers HEAD.
 * pattern: "/exact/path"; "/prefix/" or "/prefix/ *" (no space) matches
 * everything under it (not "/prefix" itself; "/" therefore matches every
 * path); "{name}" as a whole segment matches one non-empty segment and is
 * read with gh_req_param().  Literals are percent-decoded, and each path
 * segment is decoded before it is compared ("%2F" never splits one).
 *
 * The most specific route wins, whatever the order routes were added in:
 * an exact route beats a prefix route; otherwise, comparing segment by
 * segment, a literal beats a {param} and both beat the end of a shorter
 * prefix.  Among routes of the same pattern, the one naming the method
 * wins over an any-method route.  A path that matches some route but none
 * for its method gets 405 with Allow (never when an any-method route
 * matches).  Returns 0 or GH_EINVAL (a malformed pattern: an empty
 * segment, '{' or '}' inside a literal, a bad or repeated parameter name,
 * '*' not at the end, more than 16 parameters) / GH_EEXIST (the same
 * pattern with an overlapping method) / GH_ENOMEM.  Not while serving.
 */
GH_API int gh_router_add(gh_router_t *r, const char *methods,
                         const char *pattern, gh_handler_fn fn, void *udata);

/** gh_router_not_found - the handler for paths no route matches; NULL
 * restores the default, a 404.  0, or GH_EINVAL for a NULL router. */
GH_API int gh_router_not_found(gh_router_t *r, gh_handler_fn fn,
                               void *udata);

/**
 * gh_router_serve - the router as a handler: gh_server_new(&s, NULL,
 * gh_router_serve, router).
 */
GH_API int gh_router_serve(void *router, gh_req_t *req, gh_resp_t *resp);

#ifdef __cplusplus
}
#endif
#endif /* GOHTTPD_HTTP_H */
