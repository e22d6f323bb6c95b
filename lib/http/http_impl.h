/*
 * http_impl.h - the HTTP server's internal objects (never installed).
 *
 *   gh_server    the options, listeners, the list of open connections
 *                and the counters.  Its lock (mu) guards the connection
 *                list and the connections' states; lmu guards the listener
 *                table; everything else is set before gh_server_start() or
 *                is atomic.
 *   gh__server_cfg  the options as one immutable block: gh_server_update()
 *                publishes a new one and never frees the old ones before
 *                gh_server_free(), so a session reads the block it loaded
 *                at its start without a lock or a reference count.
 *   gh__conn     one accepted connection: small and on the heap, because it
 *                outlives its goroutines.  While a request is in progress a
 *                goroutine owns it (state ACTIVE); between requests, with no
 *                bytes pending, it is IDLE: no goroutine, no buffer, only an
 *                fdwatch on the socket, whose callback starts a fresh
 *                goroutine when the next request's first byte arrives.
 *   gh__session  what a connection goroutine keeps on its stack while it
 *                runs: the input buffer, the parser, the output batch.
 *   gh_req, gh_resp  one request and its response, in the session.
 *
 * The transport is reached only through the connection's ops (conn.c), so
 * TLS can replace plain TCP without touching the HTTP code.
 */
#ifndef GH_HTTP_IMPL_H
#define GH_HTTP_IMPL_H

#include <netinet/in.h>
#include <sys/uio.h>

#include "internal.h"
#include "runtime/netpoll.h"
#include "http/parse.h"
#include "http/forwarded.h"

typedef struct gh__conn gh__conn_t;

/* A listener's PROXY protocol settings: immutable once published;
 * gh_server_listener_update() publishes another and the old ones stay on
 * the `older` list (connections may point at them) until
 * gh_server_free(). */
typedef struct gh__pp_cfg gh__pp_cfg_t;
struct gh__pp_cfg {
    gh_netlist_t *from;        /* who may send a header; NULL: anyone */
    int64_t timeout;           /* the header's deadline from the start */
    gh__pp_cfg_t *older;       /* the block this one replaced */
};

/** A transport.  Every call may park; deadlines are absolute. */
typedef struct gh__conn_ops {
    ssize_t (*read)(gh__conn_t *c, void *buf, size_t len, int64_t deadline);
    ssize_t (*writev)(gh__conn_t *c, const struct iovec *iov, int n,
                      int64_t deadline);
    ssize_t (*sendfile)(gh__conn_t *c, int fd, off_t *off, size_t len,
                        int64_t deadline);
    /* bytes already read from the socket and buffered inside the
     * transport (TLS records): the connection is not idle */
    bool (*pending)(gh__conn_t *c);
    void (*close)(gh__conn_t *c); /* closes c->fd, not c itself */
    /* sendfile copies through user memory (TLS without kernel TLS), so
     * a small file is better sent in the output batch with the head;
     * NULL: never */
    bool (*copies)(gh__conn_t *c);
} gh__conn_ops_t;

extern const gh__conn_ops_t gh__conn_tcp_ops;
extern const gh__conn_ops_t gh__conn_tls_ops; /* conn_tls.c */

/* conn_tls.c: make c a TLS connection on tls (a reference is taken); its
 * handshake runs at the first read.  0 or GH_ENOMEM. */
int gh__tls_conn_attach(gh__conn_t *c, gh_tls_t *tls);
/* tls_ctx.c: one more reference, for a listener or a connection. */
void gh__tls_ref(gh_tls_t *t);

enum gh__conn_state {
    GH__CONN_ACTIVE = 0, /* a goroutine serves it */
    GH__CONN_IDLE = 1,   /* only c->watch holds it */
    GH__CONN_CLOSED = 2  /* off the list; fd closed */
};

struct gh__conn {
    const gh__conn_ops_t *ops; /* set at accept, never changes */
    gh_server_t *srv;
    int fd;
    uint8_t state;             /* enum gh__conn_state; under srv->mu */
    bool fresh;                /* no request read yet */
    uint32_t nreq;             /* requests served; by the owner */
    gh__conn_t *prev, *next;   /* srv->conns; under srv->mu */
    gh__conn_t *qnext;         /* srv->wq_*: waiting for a goroutine */
    gh__m_t *qm;               /* ... since this worker's loop woke it */
    gh__iowait_t watch;        /* the idle fdwatch; owner only */
    struct gh__tls_conn *tls;  /* TLS state (conn_tls.c), or NULL */
    int wake;                  /* its result, for the new goroutine */
    const gh__pp_cfg_t *pp;    /* a PROXY header is still to come (its
                                * listener's settings at accept); NULL
                                * once read, or none wanted; owner only */
    socklen_t peer_len;
    gh__addr_t peer;           /* the peer, or the PROXY header's source
                                * once read */
};

/* A listener.  Allocated once and never moved (acceptors hold it), freed
 * by gh_server_free(). */
typedef struct gh__listener {
    gh__lock_t mu;             /* fd's closing vs the wake-ups of shutdown
                                * and gh_server_listener_close(); and tls */
    int fd;                    /* the acceptor's once running; -1 once
                                * closed */
    int family;
    bool running;              /* an acceptor owns fd; under srv->lmu */
    bool closed;               /* closed by listener_close or shutdown;
                                * under srv->lmu */
    _Atomic bool stop;         /* listener_close: the acceptor must end */
    char *unix_path;           /* a socket file to unlink at the end */
    _Atomic bool shared;       /* gh_server_listener_share(): another
                                * process accepts on the socket too, so
                                * it is never shut down nor unlinked */
    _Atomic(gh__pp_cfg_t *) pp; /* PROXY protocol settings, NULL: off;
                                * the acceptor loads it per connection */
    gh_server_t *srv;
    gh_waitgroup_t exited;     /* 1 while its acceptor runs */
    gh_tls_t *tls;             /* a reference, or NULL (plain); under mu:
                                * gh_server_listener_tls() swaps it */
} gh__listener_t;

/* The options, as gh_server_new() or gh_server_update() saw them.
 * Immutable once published. */
typedef struct gh__server_cfg gh__server_cfg_t;
struct gh__server_cfg {
    gh_server_opts_t o;        /* its strings point into strs below */
    gh__http_limits_t lim;     /* derived from o, for the parser */
    gh__server_cfg_t *older;   /* the block this one replaced: the list
                                * gh_server_free() frees */
    gh_netlist_t *trusted;     /* o.trusted_proxies parsed, or NULL */
    int real_ip;               /* GH__FWD_* of o.real_ip_header */
    char *rid_header;          /* o.request_id_header's copy, or NULL */
    uint32_t rid_len;          /* its length */
    char strs[];               /* the copies of o's strings */
};

/* A refused PROXY header is logged once per this, with the count of the
 * others (serve.c). */
#define GH__PP_LOG_EVERY (10 * GH_SECOND)

struct gh_server {
    _Atomic(gh__server_cfg_t *) cfg; /* the current options */
    gh_handler_fn handler;
    void *udata;
    gh__lock_t lmu;            /* the listener table and started */
    gh__listener_t **ls;       /* nls of lcap, by index; never shrinks */
    int nls, lcap;
    bool started;              /* under lmu */
    _Atomic bool not_ready;    /* gh_server_set_ready(s, false) or
                                * shutdown: the readiness path says 503 */
    _Atomic bool draining;     /* shutdown began: close after each request;
                                * set under lmu (no listener after it) */
    gh__lock_t mu;             /* the connection list below */
    gh__conn_t *conns;
    gh__conn_t *wq_head, *wq_tail; /* woken connections waiting for a
                                * goroutine (FIFO); under mu */
    uint32_t unstarted;        /* goroutines spawned, not yet running;
                                * under mu */
    gh_ctx_t *ctx;             /* parent of request contexts; cancelled at
                                * the shutdown deadline */
    gh_waitgroup_t acceptors;
    _Atomic uint64_t conns_open, conns_idle, conns_total, requests;
    _Atomic uint64_t status[6], bytes_in, bytes_out, accept_pauses, timeouts;
    _Atomic uint64_t latency[GH_LATENCY_BUCKETS]; /* gh__count_response */
    _Atomic uint64_t latency_sum_ns;
    int64_t created;           /* gh_now() at gh_server_new() */
    gh__log_gate_t pp_log;     /* PROXY refusals (serve.c) */
};

/* ---- the arena (request.c) ---- */
typedef struct gh__arena_chunk gh__arena_chunk_t;

/* ---- a request and its response ---- */

enum gh__resp_state {
    GH__RESP_NEW = 0,   /* nothing sent */
    GH__RESP_HEAD,      /* the head is sent or in the output batch */
    GH__RESP_DONE       /* the response is complete */
};

typedef struct gh__hdr {
    const char *name;          /* in the request's arena */
    const char *value;
    uint32_t nlen, vlen;
} gh__hdr_t;

typedef struct gh__session gh__session_t;

struct gh_resp {
    gh__session_t *ss;
    int status;
    uint8_t state;             /* enum gh__resp_state */
    bool chunked;              /* streaming with chunked framing */
    bool until_close;          /* HTTP/1.0 stream: the close ends it */
    bool has_length;           /* a Content-Length was set */
    bool head_only;            /* a HEAD request: never any body */
    bool no_body;              /* 1xx, 204, 304: no body allowed */
    uint64_t length;           /* the Content-Length set */
    uint64_t sent;             /* body bytes accepted so far */
    gh__hdr_t *hdrs;           /* in the arena; nhdrs used of hcap */
    uint32_t nhdrs, hcap;
};

#define GH__REQ_INLINE 512

struct gh_req {
    gh__session_t *ss;
    const char *path;          /* decoded, in the arena; lazily */
    const char *raw_path;      /* NUL-terminated copy or in place */
    const char *query;         /* in the buffer or NULL */
    gh_ctx_t *ctx;             /* lazily, with the disconnect watch */
    gh__iowait_t ctx_watch;    /* armed while the handler runs */
    bool watching;
    bool continue_sent;        /* the 100 went out (or was not asked) */
    bool body_done;            /* the body was read to its end */
    bool body_error;           /* the body failed: the connection closes */
    int body_err;              /* ... with this code */
    bool timed_out;            /* a read of it timed out */
    gh__http_span_t pend;      /* decoded body bytes not yet handed out */
    uint64_t body_read;        /* body bytes handed to the handler */
    int64_t body_start;        /* when the body began, for the rate */
    int nparams;               /* router parameters */
    const char *const *pnames;
    const char *const *pvalues;
    const char *id;            /* gh_req_id(): the trusted peer's, in the
                                * buffer, or idbuf; NULL when off */
    const char *fwd_scheme;    /* a trusted proxy's, static; or NULL */
    const char *fwd_host;      /* a trusted proxy's, in the arena; NULL */
    const char *target_host;   /* an absolute-form target's authority, in
                                * the arena; NULL */
    socklen_t client_len;
    gh__addr_t client;         /* gh_req_client() */
    char idbuf[33];            /* a generated ID */
    gh__arena_chunk_t *arena;  /* heap chunks, newest first */
    uint32_t inl_used;         /* bytes of inl handed out */
    _Alignas(16) unsigned char inl[GH__REQ_INLINE]; /* the arena's first
                                * bytes: most requests need no malloc */
};

struct gh__session {
    gh__conn_t *c;
    gh_server_t *s;
    const gh__server_cfg_t *cfg; /* s's options when this goroutine began:
                                * every request it serves uses them */
    int64_t wall_off;          /* CLOCK_REALTIME - gh_now(), for the
                                * access log; 0 until first needed */
    char *buf;                 /* the input: buf[0 .. len) of cap */
    uint32_t len, cap;
    bool heap;                 /* buf is malloc'd (outgrew the stack one) */
    bool served;               /* this goroutine answered a request */
    char *out;                 /* the output batch: out[0 .. olen) */
    uint32_t olen, ocap;
    bool close;                /* close after this response */
    bool linger;               /* ... after draining what the client
                                * still sends, so it reads the answer */
    int64_t now;               /* gh_now() when this request's head began */
    int64_t head_deadline;     /* the head's deadline */
    gh__http_parser_t p;
    gh__http_field_t *fields;
    gh_req_t *req;             /* the request in progress, or NULL */
    gh_resp_t *resp;           /* ... and its response */
};

/* ---- serve.c ---- */
/* health.c: which health path req is for (1 health, 2 readiness, 0
 * none), and its answer (as a handler's result). */
int gh__health_match(const gh__server_cfg_t *cfg, const gh_req_t *req);
int gh__health_serve(gh__session_t *ss, gh_req_t *req, gh_resp_t *resp,
                     int which);

/* The connection goroutine: serve c until it is idle or closed. */
void gh__conn_serve(void *c);
/* Make room: make sure cap - len >= need, moving the buffer to the heap
 * if needed.  Only while no string handed out points into it. */
int gh__session_reserve(gh__session_t *ss, uint32_t need);
/* Read more input (at most cap - len bytes); parks.  Bytes or GH_E*. */
ssize_t gh__session_fill(gh__session_t *ss, int64_t deadline);

/* ---- request.c ---- */
void gh__req_init(gh_req_t *req, gh__session_t *ss);
void gh__req_fini(gh_req_t *req);
/* Prepare the strings of the head (in place); 0 or an HTTP status. */
int gh__req_prepare(gh_req_t *req);
/* Read and drop the rest of the body, up to limit bytes.  0 when it all
 * went, else GH_E* (the connection must close). */
int gh__req_discard(gh_req_t *req, uint64_t limit);
/* Stop watching for a disconnect (before the session touches the fd). */
void gh__req_unwatch(gh_req_t *req);

/* Set req's client, scheme, host and ID from the peer and, if parsed,
 * from its head (forwarded.c); after gh__req_prepare(). */
void gh__req_forwarded(gh_req_t *req, bool parsed);

/* ---- response.c ---- */
void gh__resp_init(gh_resp_t *resp, gh__session_t *ss);
/* After the handler: finish resp according to its result rc.  Returns 0
 * or GH_E* (then the connection closes). */
int gh__resp_finish(gh_resp_t *resp, int rc);
/* Send a canned error page for status and mark the session closing
 * (errors before or outside a handler). */
int gh__resp_error(gh__session_t *ss, int status);
/* Write the output batch.  0 or GH_E*. */
int gh__session_flush(gh__session_t *ss);
/* Write iov after the batch, the write timeout and rate applying. */
int gh__session_writev(gh__session_t *ss, struct iovec *iov, int n);
/* The cached "Date: ...\r\n" line (37 bytes) for now. */
const char *gh__http_date(void);

/* Drain the input for a while before closing (after an error answer). */
void gh__session_linger(gh__session_t *ss);
/* Count the response just finished by status class and by latency (from
 * ss->now).  Returns the time it took, gh_now(), for the access log. */
int64_t gh__count_response(gh__session_t *ss, int status);
/* Tell the access log about the response that finished at now: req NULL
 * for the server's answer to a head it could not parse. */
void gh__access_report(gh__session_t *ss, const gh_req_t *req, int status,
                       uint64_t body_bytes, int64_t now);

/* ---- server.c ---- */
/* The options now (a new session's snapshot). */
static inline const gh__server_cfg_t *gh__server_cfg(gh_server_t *s)
{
    return atomic_load_explicit(&s->cfg, memory_order_acquire);
}
/* The connection is done: unlink, close, count, free. */
void gh__conn_release(gh__conn_t *c);
/* Park c as idle (no goroutine).  False if it must close instead. */
bool gh__conn_idle(gh__conn_t *c);
/* c's goroutine has begun: let a waiting connection have one. */
void gh__conn_started(gh__conn_t *c);

#define GH__DATE_LEN 37 /* "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" */

#endif /* GH_HTTP_IMPL_H */
