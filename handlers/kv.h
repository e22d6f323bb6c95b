/*
 * kv.h - the pieces of the kv handler plugin (handlers/kv*.c) shared
 * between its files.  Nothing here is exported from the module: it is
 * built with -fvisibility=hidden and only gh_handler_entry carries GH_API.
 *
 *   kv.c        the plugin: settings, init and fini, and HTTP: methods,
 *               keys, statuses, text and JSON answers
 *   kv_pool.c   the backend workers and the job protocol between a
 *               request's goroutine and the worker that owns its key:
 *               the part of the example worth copying
 *   kv_table.c  one shard's hash table; used by one worker only, so it
 *               has no locks and knows nothing of goroutines
 *   hbuf.c      (shared with the other plugins) the output buffer and
 *               JSON string escaping
 */
#ifndef GH_HANDLER_KV_H
#define GH_HANDLER_KV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gohttpd.h>

#include "hbuf.h"

/* ---- kv_table.c ------------------------------------------------------ */

/* One key and its value, in one allocation: key, NUL, value, NUL. */
typedef struct gh__kv_entry {
    struct gh__kv_entry *next; /* the bucket's chain */
    uint64_t hash;             /* of the key, kept to skip compares and to
                                * rehash without reading the key again */
    size_t klen, vlen;
    char *val; /* points into data, after the key */
    char data[];
} gh__kv_entry_t;

/* A chained hash table with a power-of-two number of buckets. */
typedef struct gh__kv_table {
    gh__kv_entry_t **b; /* buckets; malloc */
    size_t mask;        /* buckets - 1 */
    size_t n;           /* entries */
} gh__kv_table_t;

/* The hash of key[0 .. klen) under the store's seed. */
uint64_t gh__kv_hash(uint64_t seed, const char *key, size_t klen);

/* An empty table.  0 or GH_ENOMEM. */
int gh__kv_table_init(gh__kv_table_t *t);

/* Free every entry and the buckets; returns how many entries there were. */
size_t gh__kv_table_fini(gh__kv_table_t *t);

/* The entry for key, or NULL. */
gh__kv_entry_t *gh__kv_table_get(const gh__kv_table_t *t, uint64_t hash,
                                 const char *key, size_t klen);

/* Set key to val[0 .. vlen), replacing any old value.  0 or GH_ENOMEM (the
 * table is then unchanged). */
int gh__kv_table_put(gh__kv_table_t *t, uint64_t hash, const char *key,
                     size_t klen, const char *val, size_t vlen);

/* Remove key: true if it was there. */
bool gh__kv_table_del(gh__kv_table_t *t, uint64_t hash, const char *key,
                      size_t klen);

/* Call fn(arg, entry) for every entry, in no particular order. */
void gh__kv_table_each(const gh__kv_table_t *t,
                       void (*fn)(void *arg, const gh__kv_entry_t *e),
                       void *arg);

/* ---- output: hbuf.c ------------------------------------------------- */

/* The response bodies' buffer and JSON strings (hbuf.h).  Values are
 * bytes: in JSON, bytes that are not UTF-8 come back as U+FFFD; read
 * binary data back as text/plain, where it comes back byte for byte. */
typedef gh__hbuf_t gh__kv_buf_t;

/* ---- kv_pool.c ------------------------------------------------------- */

/* What a job asks its worker to do. */
typedef enum gh__kv_op {
    GH__KV_GET,    /* copy the value out */
    GH__KV_PUT,    /* set the value */
    GH__KV_DELETE, /* remove the key */
    GH__KV_INCR,   /* add delta to the integer stored */
    GH__KV_LIST    /* copy out the worker's keys (the job names a worker,
                    * not a key) */
} gh__kv_op_t;

/* What the worker found, in a job it finished. */
typedef enum gh__kv_result {
    GH__KV_OK = 0,  /* done; for PUT and INCR: the key existed */
    GH__KV_CREATED, /* PUT, INCR: the key is new */
    GH__KV_MISSING, /* GET, DELETE: no such key */
    GH__KV_FULL,    /* PUT, INCR: the store holds max_keys keys */
    GH__KV_NAN,     /* INCR: the stored value is not an integer, or the
                     * sum overflows */
    GH__KV_NOMEM    /* the worker ran out of memory */
} gh__kv_result_t;

/*
 * A job: one request's operation, travelling from its goroutine to a
 * worker and back.  The requester fills the "in" part before sending; the
 * worker fills the "out" part before signalling done; refs decides who
 * frees it (see the protocol at the top of kv_pool.c).
 */
typedef struct gh__kv_job {
    atomic_int refs; /* holders: the requester and/or the worker */
    gh_chan_t *done; /* capacity 1, no payload: "finished" */
    gh__kv_op_t op;  /* in */
    int worker;      /* in: the worker that owns the key */
    uint64_t hash;   /* in: of the key */
    const char *key; /* in: points into data, NUL-terminated */
    size_t klen;
    const char *val; /* in: PUT's value; points into data */
    size_t vlen;
    int64_t delta;          /* in: INCR's addend */
    gh__kv_result_t result; /* out */
    char *out;              /* out: GET's value, INCR's sum, LIST's keys
                             * (each followed by a NUL); malloc, freed with
                             * the job */
    size_t outlen;          /* out: bytes in out */
    size_t count;           /* out: LIST: keys in out */
    char data[];            /* key, NUL, value, NUL: copies, since the
                             * request's memory may be gone before the
                             * worker gets to the job */
} gh__kv_job_t;

/* The settings of one route (kv.c reads them in init). */
typedef struct gh__kv_conf {
    int64_t workers;    /* backend goroutines, one shard each */
    int64_t queue;      /* each worker's job channel capacity */
    int64_t timeout;    /* a request waits this long for its job, ns */
    uint64_t max_key;   /* bytes */
    uint64_t max_value; /* bytes */
    int64_t max_keys;   /* keys in the whole store */
    int64_t delay;      /* for tests: a worker sleeps this long per job */
} gh__kv_conf_t;

typedef struct gh__kv_worker gh__kv_worker_t;

/* The store: one per route instance. */
typedef struct gh__kv {
    gh__kv_conf_t conf;
    uint64_t seed;      /* of the hash: see kv_table.c */
    gh__kv_worker_t *w; /* conf.workers of them; calloc */
    gh_waitgroup_t wg;  /* counts running workers */
    atomic_int up;      /* workers inside their loop, for readiness */
    atomic_llong nkeys; /* keys in all shards, for max_keys: the one
                         * value the workers share, so it is atomic */
} gh__kv_t;

/* Start the workers of kv (conf and seed set).  0, or GH_ENOMEM after
 * stopping the ones already started. */
int gh__kv_pool_start(gh__kv_t *kv);

/* Close the job channels, wait until every worker has drained its queue
 * and returned, free the shards.  Returns the number of keys freed. */
size_t gh__kv_pool_stop(gh__kv_t *kv);

/* Whether the store takes requests: every worker is up and not every
 * queue is full.  If not, why in why.  Any goroutine. */
bool gh__kv_pool_ready(gh__kv_t *kv, char *why, size_t len);

/* The worker that owns a key with this hash. */
int gh__kv_shard(const gh__kv_t *kv, uint64_t hash);

/* Parse s[0 .. n) as a decimal int64_t (an optional sign, digits, nothing
 * else) into *out: false if it is not one or is out of range. */
bool gh__kv_parse_int(const char *s, size_t n, int64_t *out);

/* A new job for op on key (and val; both copied, either may be NULL),
 * held by the caller alone, for the worker that owns key.  NULL when out
 * of memory. */
gh__kv_job_t *gh__kv_job_new(const gh__kv_t *kv, gh__kv_op_t op,
                             const char *key, size_t klen, const char *val,
                             size_t vlen);

/* Let go of j: the last holder frees it. */
void gh__kv_job_release(gh__kv_job_t *j);

/*
 * Queue j on its worker without waiting: 0, or GH_EAGAIN when the
 * worker's queue is full (backpressure: the caller answers 503 and
 * still holds j alone).  Never parks.
 */
int gh__kv_submit(gh__kv_t *kv, gh__kv_job_t *j);

/*
 * Wait for a submitted job: 0 once the worker finished it (its "out" part
 * is then valid), GH_ETIMEDOUT when deadline passed first, or the error
 * of ctx (GH_ECANCELED ...) when it was cancelled first.  The job may
 * still run after a timeout or cancellation.  Parks.
 */
int gh__kv_wait(gh__kv_job_t *j, gh_ctx_t *ctx, int64_t deadline);

#endif /* GH_HANDLER_KV_H */
