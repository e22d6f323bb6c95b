/*
 * kv_table.c - one shard of the kv store: a chained hash table from keys
 * to values.
 *
 * Each table belongs to exactly one worker goroutine for its whole life
 * (kv_pool.c), which is why there is no lock here: the single owner is
 * the synchronisation.  The table doubles when it holds more entries than
 * buckets, so chains stay short on average.
 *
 * The hash is FNV-1a over the key, started from a per-store random seed
 * and finished with a 64-bit mixer.  The seed keeps a client from choosing
 * keys that collide on every server alike; FNV is no keyed PRF, though, so
 * a store facing determined attackers would use SipHash.  The mixer
 * spreads FNV's weak low bits, so both the bucket index (low bits) and the
 * shard (high bits, in kv_pool.c) are well distributed.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "kv.h"

#define INITIAL_BUCKETS 64

uint64_t gh__kv_hash(uint64_t seed, const char *key, size_t klen)
{
    uint64_t h = 0xcbf29ce484222325ull ^ seed;

    for (size_t i = 0; i < klen; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ull;
    }
    /* the finaliser of MurmurHash3 */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

int gh__kv_table_init(gh__kv_table_t *t)
{
    t->b = calloc(INITIAL_BUCKETS, sizeof(*t->b));
    t->mask = INITIAL_BUCKETS - 1;
    t->n = 0;
    return t->b ? 0 : GH_ENOMEM;
}

size_t gh__kv_table_fini(gh__kv_table_t *t)
{
    size_t n = t->n;

    for (size_t i = 0; t->b && i <= t->mask; i++) {
        gh__kv_entry_t *e = t->b[i], *next;
        for (; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(t->b);
    t->b = NULL;
    t->n = 0;
    return n;
}

/* The link that points at key's entry, or at the NULL ending its chain. */
static gh__kv_entry_t **find(const gh__kv_table_t *t, uint64_t hash,
                             const char *key, size_t klen)
{
    gh__kv_entry_t **link = &t->b[hash & t->mask];

    for (; *link; link = &(*link)->next)
        if ((*link)->hash == hash && (*link)->klen == klen &&
            memcmp((*link)->data, key, klen) == 0)
            break;
    return link;
}

gh__kv_entry_t *gh__kv_table_get(const gh__kv_table_t *t, uint64_t hash,
                                 const char *key, size_t klen)
{
    return *find(t, hash, key, klen);
}

/* Double the buckets.  Failing is harmless: chains just grow longer. */
static void grow(gh__kv_table_t *t)
{
    size_t n = (t->mask + 1) * 2;
    gh__kv_entry_t **b = calloc(n, sizeof(*b));

    if (!b)
        return;
    for (size_t i = 0; i <= t->mask; i++) {
        gh__kv_entry_t *e = t->b[i], *next;
        for (; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(t->b);
    t->b = b;
    t->mask = n - 1;
}

static gh__kv_entry_t *entry_new(uint64_t hash, const char *key, size_t klen,
                                 const char *val, size_t vlen)
{
    gh__kv_entry_t *e = malloc(sizeof(*e) + klen + vlen + 2);

    if (!e)
        return NULL;
    e->next = NULL;
    e->hash = hash;
    e->klen = klen;
    e->vlen = vlen;
    memcpy(e->data, key, klen);
    e->data[klen] = '\0';
    e->val = e->data + klen + 1;
    if (vlen)
        memcpy(e->val, val, vlen);
    e->val[vlen] = '\0';
    return e;
}

int gh__kv_table_put(gh__kv_table_t *t, uint64_t hash, const char *key,
                     size_t klen, const char *val, size_t vlen)
{
    gh__kv_entry_t **link = find(t, hash, key, klen);
    gh__kv_entry_t *e = entry_new(hash, key, klen, val, vlen);

    if (!e)
        return GH_ENOMEM;
    if (*link) {
        /* An update replaces the entry: key and value stay one block. */
        e->next = (*link)->next;
        free(*link);
        *link = e;
        return 0;
    }
    *link = e;
    if (++t->n > t->mask + 1)
        grow(t);
    return 0;
}

bool gh__kv_table_del(gh__kv_table_t *t, uint64_t hash, const char *key,
                      size_t klen)
{
    gh__kv_entry_t **link = find(t, hash, key, klen), *e = *link;

    if (!e)
        return false;
    *link = e->next;
    free(e);
    t->n--;
    return true;
}

void gh__kv_table_each(const gh__kv_table_t *t,
                       void (*fn)(void *arg, const gh__kv_entry_t *e),
                       void *arg)
{
    for (size_t i = 0; i <= t->mask; i++)
        for (const gh__kv_entry_t *e = t->b[i]; e; e = e->next)
            fn(arg, e);
}
