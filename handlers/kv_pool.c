/*
 * kv_pool.c - the backend workers of the kv store, and the job protocol
 * between a request's goroutine and the worker that owns its key.  This
 * is the pattern the example exists for; kv.c only speaks HTTP around it.
 *
 * Ownership.  The store is split into conf.workers shards by the high
 * bits of the key's hash, and worker i's goroutine alone reads and writes
 * shard i, for its whole life.  Requests never touch a shard: they send
 * its worker a job and wait for the answer.  So the data needs no lock,
 * an INCR is a read-modify-write that nothing can interleave with, and a
 * slow shard holds up only the requests for its own keys.  The workers
 * share one thing, the key count that max_keys limits: an atomic.
 *
 * Backpressure.  Each worker takes its jobs from a channel that buffers
 * conf.queue of them.  A request queues its job with gh_chan_try_send(),
 * which fails at once when the queue is full; the request then answers
 * 503 instead of parking one more goroutine behind a backlog that is
 * already longer than anyone will wait for.  The queue bound, not the
 * number of clients, decides how much work can be waiting.
 *
 * Waiting.  The request then waits in gh_select() for the first of: the
 * job's done channel (the worker finished it), its context's done channel
 * (the client went away, or a stop ran out of patience), and the route's
 * timeout, a deadline.  In the last two cases it stops waiting, but the
 * job is in the worker's queue already and cannot be taken back.
 *
 * Who frees a job.  While a job is in flight both sides hold it, and
 * either may be the last to let go: the worker when the requester gave up
 * early, the requester when the worker finished first.  So the job counts
 * its holders in refs:
 *
 *     gh__kv_job_new()   refs = 1: the requester.
 *     gh__kv_submit()    refs = 2: the worker too, set before the send
 *                        makes the job visible to it (the worker may
 *                        finish and release it before the send returns);
 *                        a send that fails puts refs back to 1.
 *     the worker         runs the job, sends on done, then releases it.
 *                        done has room for one signal and gets only one,
 *                        so that send never parks, whether or not anyone
 *                        still listens.
 *     the requester      releases the job once it has used the result,
 *                        or as soon as it stops waiting.
 *
 * gh__kv_job_release() frees the job, its done channel and its results
 * when refs reaches 0.  The requester reads the job's "out" part only
 * after receiving from done, which orders those reads after the worker's
 * writes, and the worker touches nothing after its send but refs.
 *
 * A worker that takes a job whose refs is already 1 knows its requester
 * has gone, and skips it: a queue that backed up behind a stall drains at
 * once.  A job it had already begun is still applied, so a PUT that timed
 * out may or may not have happened, as with any remote store.
 *
 * Stopping.  gh__kv_pool_stop() closes every job channel.  A worker's
 * GH_RANGE loop drains the jobs still queued (by then, at a stop or after
 * a reload, no request is left, so all of them are abandoned ones) and
 * ends; the wait group says when all of them have, and only then are the
 * channels and the shards freed.  The workers may still be returning from
 * worker_main() when fini returns: the daemon waits for their goroutines
 * to be gone before it unloads the module.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

struct gh__kv_worker {
    gh__kv_t *kv;
    int id;               /* its index in kv->w */
    int64_t gid;          /* its goroutine's id; 0 until started */
    gh_chan_t *jobs;      /* of gh__kv_job_t *; closed by pool_stop */
    gh__kv_table_t table; /* the shard: this worker's goroutine only */
};

int gh__kv_shard(const gh__kv_t *kv, uint64_t hash)
{
    /* the high 32 bits, scaled to [0, workers): no division */
    return (int)(((hash >> 32) * (uint64_t)kv->conf.workers) >> 32);
}

bool gh__kv_parse_int(const char *s, size_t n, int64_t *out)
{
    size_t i = n > 0 && (s[0] == '-' || s[0] == '+');
    int64_t v = 0;

    if (i == n)
        return false;
    /* Accumulate negatively: INT64_MIN has no positive twin. */
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9' || __builtin_mul_overflow(v, 10, &v) ||
            __builtin_sub_overflow(v, s[i] - '0', &v))
            return false;
    if (s[0] != '-' && __builtin_mul_overflow(v, -1, &v))
        return false;
    *out = v;
    return true;
}

/* ---- jobs ------------------------------------------------------------ */

gh__kv_job_t *gh__kv_job_new(const gh__kv_t *kv, gh__kv_op_t op,
                             const char *key, size_t klen, const char *val,
                             size_t vlen)
{
    gh__kv_job_t *j = calloc(1, sizeof(*j) + klen + vlen + 2);

    if (!j)
        return NULL;
    if (!(j->done = gh_chan_new(0, 1))) {
        free(j);
        return NULL;
    }
    atomic_init(&j->refs, 1);
    j->op = op;
    if (klen)
        memcpy(j->data, key, klen);
    if (vlen)
        memcpy(j->data + klen + 1, val, vlen);
    j->key = j->data;
    j->klen = klen;
    j->val = j->data + klen + 1;
    j->vlen = vlen;
    j->hash = gh__kv_hash(kv->seed, key, klen);
    j->worker = gh__kv_shard(kv, j->hash);
    return j;
}

void gh__kv_job_release(gh__kv_job_t *j)
{
    if (atomic_fetch_sub(&j->refs, 1) != 1)
        return; /* the other holder frees it */
    gh_chan_free(j->done);
    free(j->out);
    free(j);
}

int gh__kv_submit(gh__kv_t *kv, gh__kv_job_t *j)
{
    atomic_store(&j->refs, 2);
    if (gh_chan_try_send(kv->w[j->worker].jobs, &j) == 0)
        return 0;
    atomic_store(&j->refs, 1); /* the worker never saw it */
    return GH_EAGAIN;
}

int gh__kv_wait(gh__kv_job_t *j, gh_ctx_t *ctx, int64_t deadline)
{
    gh_case_t cs[] = {GH_RECV(j->done, NULL), GH_RECV(gh_ctx_done(ctx), NULL)};
    int rc = gh_select(cs, 2, deadline);

    if (rc == 1)
        return gh_ctx_err(ctx) ? gh_ctx_err(ctx) : GH_ECANCELED;
    return rc; /* 0: done; or GH_ETIMEDOUT */
}

/* ---- the operations, on the worker's goroutine ----------------------- */

/* Count one more key against max_keys: false when the store is full. */
static bool reserve_key(gh__kv_t *kv)
{
    if (atomic_fetch_add(&kv->nkeys, 1) < kv->conf.max_keys)
        return true;
    atomic_fetch_sub(&kv->nkeys, 1);
    return false;
}

/* Store val under j's key, counting a new key: the result. */
static gh__kv_result_t store(gh__kv_worker_t *w, const gh__kv_job_t *j,
                             const char *val, size_t vlen)
{
    bool exists = gh__kv_table_get(&w->table, j->hash, j->key, j->klen);

    if (!exists && !reserve_key(w->kv))
        return GH__KV_FULL;
    if (gh__kv_table_put(&w->table, j->hash, j->key, j->klen, val, vlen)) {
        if (!exists)
            atomic_fetch_sub(&w->kv->nkeys, 1);
        return GH__KV_NOMEM;
    }
    return exists ? GH__KV_OK : GH__KV_CREATED;
}

/* Hand the job a copy of s[0 .. n): the entry may change once we return. */
static gh__kv_result_t copy_out(gh__kv_job_t *j, const char *s, size_t n)
{
    if (!(j->out = malloc(n + 1)))
        return GH__KV_NOMEM;
    memcpy(j->out, s, n);
    j->out[n] = '\0';
    j->outlen = n;
    return GH__KV_OK;
}

static gh__kv_result_t op_incr(gh__kv_worker_t *w, gh__kv_job_t *j)
{
    const gh__kv_entry_t *e =
        gh__kv_table_get(&w->table, j->hash, j->key, j->klen);
    int64_t v = 0;
    char num[24];
    gh__kv_result_t r;

    if (e && !gh__kv_parse_int(e->val, e->vlen, &v))
        return GH__KV_NAN;
    if (__builtin_add_overflow(v, j->delta, &v))
        return GH__KV_NAN;
    snprintf(num, sizeof(num), "%lld", (long long)v);
    r = store(w, j, num, strlen(num));
    if (r == GH__KV_OK || r == GH__KV_CREATED)
        return copy_out(j, num, strlen(num)) == GH__KV_OK ? r : GH__KV_NOMEM;
    return r;
}

static void list_one(void *arg, const gh__kv_entry_t *e)
{
    gh__hbuf_put(arg, e->data, e->klen + 1); /* with its NUL */
}

static gh__kv_result_t op_list(gh__kv_worker_t *w, gh__kv_job_t *j)
{
    gh__kv_buf_t b = {0};

    gh__kv_table_each(&w->table, list_one, &b);
    if (b.oom) {
        free(b.p);
        return GH__KV_NOMEM;
    }
    j->out = b.p;
    j->outlen = b.len;
    j->count = w->table.n;
    return GH__KV_OK;
}

static gh__kv_result_t run(gh__kv_worker_t *w, gh__kv_job_t *j)
{
    const gh__kv_entry_t *e;

    switch (j->op) {
    case GH__KV_GET:
        e = gh__kv_table_get(&w->table, j->hash, j->key, j->klen);
        return e ? copy_out(j, e->val, e->vlen) : GH__KV_MISSING;
    case GH__KV_PUT:
        return store(w, j, j->val, j->vlen);
    case GH__KV_DELETE:
        if (!gh__kv_table_del(&w->table, j->hash, j->key, j->klen))
            return GH__KV_MISSING;
        atomic_fetch_sub(&w->kv->nkeys, 1);
        return GH__KV_OK;
    case GH__KV_INCR:
        return op_incr(w, j);
    case GH__KV_LIST:
        return op_list(w, j);
    }
    return GH__KV_NOMEM; /* not reached: kv.c makes only the ops above */
}

/* ---- the workers ----------------------------------------------------- */

/* The requester let go before we started: nobody wants the answer. */
static bool abandoned(gh__kv_job_t *j)
{
    return atomic_load(&j->refs) == 1;
}

static void worker_main(void *arg)
{
    gh__kv_worker_t *w = arg;
    gh__kv_job_t *j;

    atomic_fetch_add(&w->kv->up, 1);
    GH_RANGE(w->jobs, j) {
        if (!abandoned(j)) {
            if (w->kv->conf.delay > 0)
                gh_sleep(w->kv->conf.delay); /* a slow backend, for tests */
            j->result = run(w, j);
            gh_chan_send(j->done, NULL); /* never parks: see the top */
        }
        gh__kv_job_release(j);
    }
    atomic_fetch_sub(&w->kv->up, 1);
    gh_waitgroup_done(&w->kv->wg);
}

static int worker_start(gh__kv_t *kv, int i)
{
    gh__kv_worker_t *w = &kv->w[i];
    char name[32];
    int rc;

    w->kv = kv;
    w->id = i;
    if (!(w->jobs =
              gh_chan_new(sizeof(gh__kv_job_t *), (size_t)kv->conf.queue)))
        return GH_ENOMEM;
    if ((rc = gh__kv_table_init(&w->table)) < 0)
        return rc;
    snprintf(name, sizeof(name), "kv worker %d", i);
    gh_waitgroup_add(&kv->wg, 1);
    w->gid = gh_go_with(worker_main, w, &(gh_go_opts_t){.name = name});
    if (w->gid < 0) {
        w->gid = 0;
        gh_waitgroup_done(&kv->wg);
        return GH_ENOMEM;
    }
    return 0;
}

int gh__kv_pool_start(gh__kv_t *kv)
{
    int rc;

    if (!(kv->w = calloc((size_t)kv->conf.workers, sizeof(*kv->w))))
        return GH_ENOMEM;
    for (int i = 0; i < kv->conf.workers; i++) {
        if ((rc = worker_start(kv, i)) < 0) {
            gh__kv_pool_stop(kv);
            return rc;
        }
    }
    return 0;
}

bool gh__kv_pool_ready(gh__kv_t *kv, char *why, size_t len)
{
    int up = atomic_load(&kv->up);

    if (up < kv->conf.workers) {
        snprintf(why, len, "%d of %lld workers up", up,
                 (long long)kv->conf.workers);
        return false;
    }
    for (int i = 0; i < kv->conf.workers; i++)
        if (gh_chan_len(kv->w[i].jobs) < gh_chan_cap(kv->w[i].jobs))
            return true;
    snprintf(why, len, "every worker's queue is full");
    return false;
}

size_t gh__kv_pool_stop(gh__kv_t *kv)
{
    size_t freed = 0;

    if (!kv->w)
        return 0;
    /* A worker whose start failed half way has a channel nobody reads:
     * closing it is harmless, and the wait group never counted it. */
    for (int i = 0; i < kv->conf.workers; i++)
        if (kv->w[i].jobs)
            gh_chan_close(kv->w[i].jobs);
    gh_waitgroup_wait(&kv->wg);
    for (int i = 0; i < kv->conf.workers; i++) {
        gh_chan_free(kv->w[i].jobs);
        freed += gh__kv_table_fini(&kv->w[i].table);
    }
    free(kv->w);
    kv->w = NULL;
    return freed;
}
