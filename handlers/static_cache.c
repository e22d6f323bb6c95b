/*
 * static_cache.c - the static handler's open-file cache: what a request
 * path resolved to (the file, its stat, validators, the siblings probed)
 * and, for small files, the bytes themselves, so that a hit costs one
 * write, plus one ioctl to ask whether anything changed (static_watch.c),
 * or one path lookup to check the file when something did.
 *
 * Entries are immutable once put in the cache: a changed file gets a new
 * entry that replaces the old one, never an update in place, so a reader
 * needs no lock beyond the one that finds the entry and takes a reference.
 * The lock guards the hash chains, the LRU list and the totals; the
 * reference count (atomic) keeps an entry alive while a request that
 * found it is still writing its body, which may park the goroutine for
 * as long as the client takes: an evicted or replaced entry is freed by
 * whichever of the cache and those requests lets go last.
 *
 * Bounds: at most max_entries entries and max_bytes bytes of file bodies;
 * the least recently used entries go first.  Lookups are O(1) (chained
 * hash table sized once from max_entries).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gohttpd.h>

#include "static.h"

static uint64_t hash_key(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return h;
}

int gh__static_cache_init(gh__static_cache_t *c, size_t max_entries,
                          size_t max_bytes, size_t file_max, int64_t valid)
{
    size_t nb = 16;

    memset(c, 0, sizeof(*c));
    c->watch.fd = -1; /* gh__static_watch_init opens it */
    c->max_entries = max_entries;
    c->max_bytes = max_bytes;
    c->file_max = file_max;
    c->valid = valid;
    c->lru.prev = c->lru.next = &c->lru;
    if (max_entries == 0)
        return 0;
    while (nb < max_entries && nb < (1u << 20))
        nb *= 2;
    if (!(c->buckets = calloc(nb, sizeof(*c->buckets))))
        return GH_ENOMEM;
    c->mask = nb - 1;
    return 0;
}

static void ent_free(gh__static_cache_ent_t *e)
{
    gh__static_watch_release(e->watch, e->wds, e->nwd);
    if (e->fd >= 0)
        close(e->fd);
    free(e->body);
    free(e);
}

void gh__static_cache_unref(gh__static_cache_ent_t *e)
{
    if (e && atomic_fetch_sub_explicit(&e->refs, 1,
                                       memory_order_acq_rel) == 1)
        ent_free(e);
}

/* Take e out of the table and the LRU list (the lock held); the cache's
 * reference is the caller's to drop. */
static void unlink_ent(gh__static_cache_t *c, gh__static_cache_ent_t *e)
{
    gh__static_cache_ent_t **pp = &c->buckets[e->hash & c->mask];

    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->linked = false;
    c->n--;
    c->bytes -= e->body_len;
}

static gh__static_cache_ent_t *find(gh__static_cache_t *c, const char *key,
                                    size_t klen, uint64_t h)
{
    gh__static_cache_ent_t *e = c->buckets[h & c->mask];

    while (e && !(e->hash == h && e->klen == klen &&
                  memcmp(e->key, key, klen) == 0))
        e = e->hnext;
    return e;
}

static void lru_front(gh__static_cache_t *c, gh__static_cache_ent_t *e)
{
    e->prev = &c->lru;
    e->next = c->lru.next;
    c->lru.next->prev = e;
    c->lru.next = e;
}

gh__static_cache_ent_t *gh__static_cache_get(gh__static_cache_t *c,
                                             const char *key, size_t klen)
{
    uint64_t h = hash_key(key, klen);
    gh__static_cache_ent_t *e;

    if (!c->buckets)
        return NULL;
    gh_mutex_lock(&c->mu);
    if ((e = find(c, key, klen, h))) {
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        e->prev->next = e->next;
        e->next->prev = e->prev;
        lru_front(c, e);
    }
    gh_mutex_unlock(&c->mu);
    return e;
}

/* Evict from the LRU end until e (not yet counted) fits; the victims go
 * on *dead, to be let go of outside the lock. */
static void make_room(gh__static_cache_t *c, const gh__static_cache_ent_t *e,
                      gh__static_cache_ent_t **dead)
{
    while (c->n > 0 && (c->n + 1 > c->max_entries ||
                        c->bytes + e->body_len > c->max_bytes)) {
        gh__static_cache_ent_t *v = c->lru.prev;
        unlink_ent(c, v);
        v->hnext = *dead;
        *dead = v;
    }
}

void gh__static_cache_put(gh__static_cache_t *c, gh__static_cache_ent_t *e)
{
    gh__static_cache_ent_t *dead = NULL, *old;

    e->hash = hash_key(e->key, e->klen);
    if (!c->buckets || e->body_len > c->max_bytes)
        return;
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    gh_mutex_lock(&c->mu);
    if ((old = find(c, e->key, e->klen, e->hash))) {
        unlink_ent(c, old);
        old->hnext = dead;
        dead = old;
    }
    make_room(c, e, &dead);
    e->hnext = c->buckets[e->hash & c->mask];
    c->buckets[e->hash & c->mask] = e;
    lru_front(c, e);
    e->linked = true;
    c->n++;
    c->bytes += e->body_len;
    gh_mutex_unlock(&c->mu);
    while (dead) {
        old = dead;
        dead = dead->hnext;
        gh__static_cache_unref(old);
    }
}

void gh__static_cache_drop(gh__static_cache_t *c, gh__static_cache_ent_t *e)
{
    bool was = false;

    gh_mutex_lock(&c->mu);
    if (e->linked) {
        unlink_ent(c, e);
        was = true;
    }
    gh_mutex_unlock(&c->mu);
    if (was)
        gh__static_cache_unref(e);
}

void gh__static_cache_stats(gh__static_cache_t *c, size_t *n, size_t *bytes)
{
    gh_mutex_lock(&c->mu);
    *n = c->n;
    *bytes = c->bytes;
    gh_mutex_unlock(&c->mu);
}

void gh__static_cache_fini(gh__static_cache_t *c)
{
    while (c->buckets && c->lru.next != &c->lru) {
        gh__static_cache_ent_t *e = c->lru.next;
        unlink_ent(c, e);
        gh__static_cache_unref(e);
    }
    free(c->buckets);
    c->buckets = NULL;
    gh__static_watch_fini(&c->watch); /* after the entries let go */
}

gh__static_cache_ent_t *gh__static_cache_ent_new(const char *key,
                                                 size_t klen,
                                                 const char *path)
{
    size_t plen = strlen(path);
    gh__static_cache_ent_t *e = calloc(1, sizeof(*e) + klen + plen + 2);

    if (!e)
        return NULL;
    e->key = (char *)(e + 1);
    memcpy(e->key, key, klen);
    e->key[klen] = '\0';
    e->klen = klen;
    e->path = e->key + klen + 1;
    memcpy(e->path, path, plen + 1);
    e->fd = -1;
    e->index = -1;
    atomic_init(&e->refs, 1);
    return e;
}
