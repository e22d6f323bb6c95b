/*
 * gohttpd/ctx.h - request-scoped cancellation (Go's context.Context).
 *
 * A context carries a cancellation signal, an optional deadline and
 * key/value pairs across goroutines.  Contexts form a tree: cancelling one
 * cancels all its descendants, never its parent.  gh_ctx_done() is a
 * channel that is closed on cancellation, so a goroutine can wait for it in
 * gh_select() next to its real work:
 *
 *     gh_ctx_t *ctx = gh_ctx_with_timeout(parent, 2 * GH_SECOND);
 *     gh_case_t cs[] = { GH_RECV(reply, &r), GH_RECV(gh_ctx_done(ctx), NULL) };
 *     if (gh_select(cs, 2, GH_FOREVER) == 1)
 *         return gh_ctx_err(ctx);            // GH_EDEADLINE or GH_ECANCELED
 *     ...
 *     gh_ctx_free(ctx);                      // defer cancel()
 *
 * The HTTP server gives every request a context that is cancelled when the
 * client goes away.
 *
 * Ownership.  Every gh_ctx_with_*() result is owned by its caller, who must
 * gh_ctx_free() it (Go's `defer cancel()`); freeing cancels it.  A context
 * keeps its parent alive, so children may outlive a parent that has been
 * freed (they are cancelled with it).  All calls are safe from any
 * goroutine or thread and never block.
 */
#ifndef GOHTTPD_CTX_H
#define GOHTTPD_CTX_H

#include <stdint.h>

#include "gohttpd/chan.h"
#include "gohttpd/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A context (opaque). */
typedef struct gh_ctx gh_ctx_t;

/**
 * gh_ctx_background - the root context: never cancelled, no deadline, no
 * values (Go's context.Background).  Static: gh_ctx_free() ignores it.
 */
GH_API gh_ctx_t *gh_ctx_background(void);

/**
 * gh_ctx_with_cancel - a child of parent that gh_ctx_cancel() cancels.
 * Returns NULL with errno ENOMEM.  If parent is already cancelled, so is the
 * child, at once.
 */
GH_API gh_ctx_t *gh_ctx_with_cancel(gh_ctx_t *parent);

/**
 * gh_ctx_with_deadline - a child cancelled at the absolute gh_now() time
 * deadline (with GH_EDEADLINE), or earlier with its parent or by
 * gh_ctx_cancel().  A parent deadline that comes sooner wins.
 */
GH_API gh_ctx_t *gh_ctx_with_deadline(gh_ctx_t *parent, int64_t deadline);

/** gh_ctx_with_timeout - gh_ctx_with_deadline(parent, now + ns). */
GH_API gh_ctx_t *gh_ctx_with_timeout(gh_ctx_t *parent, int64_t ns);

/**
 * gh_ctx_with_value - a child that carries val under key (compared by
 * address: use the address of a static variable of your own).  It is
 * cancelled with its parent; val is borrowed, not freed.
 */
GH_API gh_ctx_t *gh_ctx_with_value(gh_ctx_t *parent, const void *key,
                                   void *val);

/**
 * gh_ctx_cancel - cancel ctx and its descendants: close their done
 * channels, make gh_ctx_err() return GH_ECANCELED.  Later calls do
 * nothing.  Cancelling a value context cancels nothing of its own: it
 * has no done channel of its own (as in Go).
 */
GH_API void gh_ctx_cancel(gh_ctx_t *ctx);

/**
 * gh_ctx_free - cancel ctx (as gh_ctx_cancel) and give up the caller's
 * reference.  ctx must not be used afterwards.  NULL is ignored.
 */
GH_API void gh_ctx_free(gh_ctx_t *ctx);

/**
 * gh_ctx_done - a channel closed when ctx is cancelled, for gh_select()
 * or gh_chan_recv().  NULL (a channel that is never ready) for a context
 * that can never be cancelled.  Owned by ctx.
 */
GH_API gh_chan_t *gh_ctx_done(const gh_ctx_t *ctx);

/**
 * gh_ctx_err - 0 while ctx is live, GH_ECANCELED once cancelled, or
 * GH_EDEADLINE when its deadline passed.
 */
GH_API int gh_ctx_err(const gh_ctx_t *ctx);

/** gh_ctx_deadline - ctx's deadline (the earliest up the tree), or
 * GH_FOREVER. */
GH_API int64_t gh_ctx_deadline(const gh_ctx_t *ctx);

/**
 * gh_ctx_value - the value stored under key by the nearest ancestor (or
 * ctx itself) made with gh_ctx_with_value, or NULL.
 */
GH_API void *gh_ctx_value(const gh_ctx_t *ctx, const void *key);

#ifdef __cplusplus
}
#endif
#endif /* GOHTTPD_CTX_H */
