/*
 * ctx.c - contexts: cancellation trees with deadlines and values (Go's
 * context package).
 *
 * Three kinds of node: the static background; cancel nodes (with_cancel
 * and with_deadline), which own a done channel and an error; and value
 * nodes, which own neither and answer done/err/deadline from their nearest
 * cancel ancestor.  A cancel node registers in the children list of its
 * nearest cancel ancestor (its "canceler"), so that cancelling a node walks
 * down the tree: cancel(n) takes n's lock, sets the error, closes the done
 * channel (waking every select on it), takes the children off n's list
 * (each with a reference, so that none is freed before its turn) and goes
 * on with them, one node and one lock at a time: a chain thousands deep
 * costs no stack.  A child that unregisters itself (gh_ctx_free) takes
 * only its canceler's lock, and finds itself already taken off.
 *
 * Lifetime.  Each node counts references: its creator's (dropped by
 * gh_ctx_free) and one per child node (dropped when that child dies).  So
 * a child may outlive a parent that was freed, as a Go context would.  A
 * deadline node's timer lives only while the creator's reference does:
 * gh_ctx_free stops it (waiting if it is firing) before dropping that
 * reference.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "chan_impl.h"

enum kind { K_BACKGROUND, K_CANCEL, K_VALUE };

struct gh_ctx {
    enum kind kind;
    _Atomic long refs;         /* creator + children; 0 frees the node */
    gh_ctx_t *parent;          /* holds a reference; NULL for background */
    gh_chan_t *done;           /* cancel: owned; value: the canceler's */
    int64_t deadline;          /* effective: the earliest up the tree */
    const void *key;           /* value nodes */
    void *val;
    /* Cancel nodes only. */
    gh__lock_t mu;             /* guards err's writes, children, links */
    _Atomic int err;           /* 0, GH_ECANCELED or GH_EDEADLINE */
    gh_ctx_t *children;        /* registered cancel nodes; mu */
    gh_ctx_t *sib_next;        /* in canceler->children; canceler's mu */
    gh_ctx_t *sib_prev;
    gh_ctx_t *canceler;        /* where we are registered, or NULL */
    gh_ctx_t *cancel_next;     /* in the one cancel() that took us off
                                * our canceler's list */
    gh__timer_t tm;            /* the deadline (with_deadline) */
    bool timed;                /* tm was started */
};

static gh_ctx_t background = {.kind = K_BACKGROUND, .refs = 1,
                              .deadline = GH_FOREVER};

gh_ctx_t *gh_ctx_background(void)
{
    return &background;
}

/* The nearest cancel node at or above c, or NULL. */
static gh_ctx_t *canceler_of(const gh_ctx_t *c)
{
    while (c && c->kind == K_VALUE)
        c = c->parent;
    return c && c->kind == K_CANCEL ? (gh_ctx_t *)c : NULL;
}

static void ref(gh_ctx_t *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

static void unref(gh_ctx_t *c)
{
    while (c && c->kind != K_BACKGROUND &&
           atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
        gh_ctx_t *parent = c->parent;
        if (c->kind == K_CANCEL)
            gh_chan_free(c->done);
        free(c);
        c = parent; /* drop the reference the dead child held */
    }
}

/*
 * Cancel n alone: set its error, close its done channel and move its
 * children onto *todo, each with a reference.  A child's cancel_next
 * belongs to whoever took it off its canceler's list, under the
 * canceler's lock: one cancel() at most.
 */
static void cancel_one(gh_ctx_t *n, int err, gh_ctx_t **todo)
{
    gh__lock(&n->mu);
    if (atomic_load_explicit(&n->err, memory_order_relaxed) == 0) {
        atomic_store_explicit(&n->err, err, memory_order_release);
        gh__chan_close(n->done);
        for (gh_ctx_t *k = n->children; k; k = k->sib_next) {
            k->canceler = NULL; /* under n's lock: no longer listed */
            ref(k);
            k->cancel_next = *todo;
            *todo = k;
        }
        n->children = NULL;
    }
    gh__unlock(&n->mu);
}

/* Cancel c (a cancel node) and its subtree with err, a node at a time. */
static void cancel(gh_ctx_t *c, int err)
{
    gh_ctx_t *todo = NULL, *n;

    cancel_one(c, err, &todo);
    while ((n = todo)) {
        todo = n->cancel_next;
        cancel_one(n, err, &todo);
        unref(n);
    }
}

/* Register c with its canceler, or cancel it at once if that is done. */
static void attach(gh_ctx_t *c)
{
    gh_ctx_t *p = canceler_of(c->parent);
    int perr;

    if (!p)
        return;
    gh__lock(&p->mu);
    perr = atomic_load_explicit(&p->err, memory_order_relaxed);
    if (!perr) {
        c->sib_prev = NULL;
        c->sib_next = p->children;
        if (p->children)
            p->children->sib_prev = c;
        p->children = c;
        c->canceler = p;
    }
    gh__unlock(&p->mu);
    if (perr)
        cancel(c, perr);
}

static void detach(gh_ctx_t *c)
{
    gh_ctx_t *p = canceler_of(c->parent);

    if (!p)
        return;
    gh__lock(&p->mu);
    if (c->canceler == p) {
        if (c->sib_prev)
            c->sib_prev->sib_next = c->sib_next;
        else
            p->children = c->sib_next;
        if (c->sib_next)
            c->sib_next->sib_prev = c->sib_prev;
        c->canceler = NULL;
    }
    gh__unlock(&p->mu);
}

static gh_ctx_t *node_new(gh_ctx_t *parent, enum kind kind)
{
    gh_ctx_t *c;

    if (!parent) {
        errno = EINVAL;
        return NULL;
    }
    if (!(c = calloc(1, sizeof(*c))))
        return NULL;
    if (kind == K_CANCEL && !(c->done = gh_chan_new(0, 0))) {
        free(c);
        return NULL;
    }
    c->kind = kind;
    c->refs = 1;
    c->parent = parent;
    c->deadline = parent->deadline;
    c->tm.idx = GH__TIMER_IDLE;
    ref(parent);
    return c;
}

gh_ctx_t *gh_ctx_with_cancel(gh_ctx_t *parent)
{
    gh_ctx_t *c = node_new(parent, K_CANCEL);

    if (c)
        attach(c);
    return c;
}

static void deadline_fire(gh__m_t *m, gh__timer_t *t)
{
    cancel(gh__container_of(t, gh_ctx_t, tm), GH_EDEADLINE);
}

gh_ctx_t *gh_ctx_with_deadline(gh_ctx_t *parent, int64_t deadline)
{
    gh_ctx_t *c = node_new(parent, K_CANCEL);
    gh__m_t *m;

    if (!c)
        return NULL;
    attach(c);
    if (deadline >= c->deadline)
        return c; /* the parent's deadline comes first: it will cancel us */
    c->deadline = deadline;
    if (deadline <= gh_now()) {
        cancel(c, GH_EDEADLINE);
        return c;
    }
    if (!(m = gh__cur_m()) && !(m = gh__any_m())) {
        gh_ctx_free(c);
        errno = ENOMEM;
        return NULL;
    }
    c->tm = (gh__timer_t){.when = deadline, .idx = GH__TIMER_IDLE,
                          .fn = deadline_fire};
    if (gh__timer_start(m, &c->tm) < 0) {
        gh_ctx_free(c);
        errno = ENOMEM;
        return NULL;
    }
    c->timed = true;
    return c;
}

gh_ctx_t *gh_ctx_with_timeout(gh_ctx_t *parent, int64_t ns)
{
    return gh_ctx_with_deadline(parent, gh_deadline_in(ns));
}

gh_ctx_t *gh_ctx_with_value(gh_ctx_t *parent, const void *key, void *val)
{
    gh_ctx_t *c = node_new(parent, K_VALUE);

    if (c) {
        c->key = key;
        c->val = val;
    }
    return c;
}

void gh_ctx_cancel(gh_ctx_t *ctx)
{
    if (ctx && ctx->kind == K_CANCEL)
        cancel(ctx, GH_ECANCELED);
}

void gh_ctx_free(gh_ctx_t *ctx)
{
    if (!ctx || ctx->kind == K_BACKGROUND)
        return;
    if (ctx->kind == K_CANCEL) {
        cancel(ctx, GH_ECANCELED);
        if (ctx->timed)
            gh__timer_stop(&ctx->tm);
        detach(ctx);
    }
    unref(ctx);
}

gh_chan_t *gh_ctx_done(const gh_ctx_t *ctx)
{
    const gh_ctx_t *c = canceler_of(ctx);

    return c ? c->done : NULL;
}

int gh_ctx_err(const gh_ctx_t *ctx)
{
    const gh_ctx_t *c = canceler_of(ctx);

    return c ? atomic_load_explicit(&((gh_ctx_t *)c)->err,
                                    memory_order_acquire)
             : 0;
}

int64_t gh_ctx_deadline(const gh_ctx_t *ctx)
{
    return ctx ? ctx->deadline : GH_FOREVER;
}

void *gh_ctx_value(const gh_ctx_t *ctx, const void *key)
{
    for (const gh_ctx_t *c = ctx; c; c = c->parent)
        if (c->kind == K_VALUE && c->key == key)
            return c->val;
    return NULL;
}
