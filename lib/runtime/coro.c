/*
 * coro.c - goroutine stacks: mapping, guard pages, canaries, the stack cache,
 * trimming, stack-overflow reports, and the sanitizers' view of switches.
 *
 * Layout of one stack, low to high addresses:
 *
 *     [guard page, if guarded][ ... stack grows down ... | g | c ]
 *                              ^ stack_lo                  ^ g    ^ top
 *
 * The goroutine record sits near the very top of its stack, so a new
 * goroutine touches one page that holds both the record and its first
 * frames; deeper pages are faulted in by the kernel on demand.  Below the
 * top, 64 bytes (c) are reserved for the canary of the next stack up in a
 * slab.  Every record sits at the same distance from its stack's top, so
 * goroutines created one after another have their records and frames a
 * constant stride apart, which the CPU's prefetcher follows when they run
 * in that order (a ring or a pipeline built in a loop: a token passed
 * around 10,000 goroutines took 600 ns a hop when records were shifted by
 * a hashed "colour" of 0-15 cache lines, 90 ns without; in a shuffled
 * order both take the same).  Mappings are reservations (MAP_NORESERVE, no
 * huge pages): a million 64 KiB stacks reserve 64 GiB of address space but
 * cost only what they touch.
 *
 * Invariants:
 *  - Default-size stacks get a guard page while the count of guarded ones
 *    stays under the guard budget (GH_GUARD_STACKS).  Where the kernel
 *    installs guard pages inside a mapping (guard markers: Linux 6.13's
 *    MADV_GUARD_INSTALL, many at once through process_madvise() on the
 *    process itself, 6.15), they are carved from guarded slabs, a guard
 *    page below each stack and no mapping of their own, and the budget is
 *    unlimited by default: a million guarded stacks cost a few dozen
 *    mappings and 0.3 us each for the guard.  Elsewhere each is a mapping
 *    of its own with a PROT_NONE page below (two mappings per stack), and
 *    the budget is derived from vm.max_map_count.  Past the budget, stacks
 *    are carved from plain slabs, and a canary just below stack_lo (in the
 *    reserved top of the stack below it, or in a pad page at the start of
 *    the slab: a page that is resident anyway) is checked every time the
 *    goroutine is switched out.  Either way an overflow ends in a fatal
 *    message naming the goroutine.
 *  - Default-size stacks are never unmapped.  A finished goroutine's stack
 *    goes to its worker's cache, or past the cache limit to the global warm
 *    list; both are reused without a system call.  A worker that goes idle
 *    keeps a few cached stacks, moves the rest to the warm list and (at most
 *    once a second) wakes the scavenger thread, which hands the warm list
 *    back to the OS with madvise(MADV_DONTNEED) and parks it in the cold
 *    pool, where the record page reads as zeros (GH_G_DEAD) until the stack
 *    is reused.  A process too busy to idle also trims stacks that stay
 *    unused in a large warm list (see WARM_BUSY_MAX).
 *  - Custom-size stacks are mapped per goroutine, always with a guard page
 *    (a marker where the kernel has them, one mapping a stack), and unmapped
 *    when it ends.
 */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

#if GH_SANITIZE_ADDRESS
#include <sanitizer/common_interface_defs.h>
#endif
#if HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#define STACK_REGISTER(lo, hi) VALGRIND_STACK_REGISTER(lo, hi)
#define STACK_DEREGISTER(id) VALGRIND_STACK_DEREGISTER(id)
#define UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#else
#define STACK_REGISTER(lo, hi) 0u
#define STACK_DEREGISTER(id) ((void)(id))
#define UNDER_VALGRIND() false
#endif
#if GH_SANITIZE_THREAD
#include <sanitizer/tsan_interface.h>
#endif

/* Guard markers: a guard page inside a mapping, without a mapping of its
 * own (Linux 6.13's MADV_GUARD_INSTALL), installed for a slab's stacks at
 * once through process_madvise() on the process itself (PIDFD_SELF, Linux
 * 6.15).  Older headers lack the names; older kernels answer EINVAL or
 * EBADF, which the probe takes as "no". */
#define GUARD_INSTALL 102
#define PIDFD_SELF_PROCESS (-10001)

#define G_SLOT ((sizeof(gh__g_t) + 63) & ~(size_t)63)
#define TOP_RESERVE 64 /* the canary of the next stack up in a slab */
#define SLAB_STACKS 64
#define CANARY_WORDS 8
/* gh__canary_prefetch (internal.h) fetches the one line below stack_lo. */
_Static_assert(CANARY_WORDS * sizeof(uint64_t) == 64 && TOP_RESERVE == 64,
               "the canary is one cache line");

size_t gh__stack_default = 64 * 1024;
_Atomic int64_t gh__stacks_mapped;
_Atomic int64_t gh__stacks_guarded;
_Atomic int64_t gh__stack_bytes;

static void warm_grew(void);

static size_t page_size;
static long guard_budget;
int gh__stack_cache_max;

/* The global pools of default-size stacks and the current slab. */
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static gh__g_t *warm;    /* untrimmed, linked through next */
static _Atomic long nwarm; /* its length, for lock-free peeks */
static uintptr_t *pool;  /* cold (trimmed) stack_lo values; bit 0 = guarded */
static size_t pool_len, pool_cap;

/* The current slab of each kind: its next unused stack (the guard page
 * below it, in a guarded slab) and how many are left. */
typedef struct slab {
    char *next;
    int left;
    int guarded; /* how many of its stacks, from the first, have a guard */
} slab_t;
static slab_t slab_plain, slab_guarded;
/* Whether the kernel installs guard pages inside a mapping, many at once:
 * then every stack can have one. */
static bool guard_markers;

static size_t round_page(size_t n)
{
    return (n + page_size - 1) & ~(page_size - 1);
}

static long map_budget(void)
{
    long max_maps = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");

    if (f) {
        if (fscanf(f, "%ld", &max_maps) != 1)
            max_maps = 65530;
        fclose(f);
    }
    /* Two mappings a guarded stack; leave room for libraries, malloc
     * arenas, slabs and the program's own mappings. */
    return max_maps > 16384 ? (max_maps - 16384) / 2 : 0;
}

/* Install a guard page at each of the n pages of iov: how many, from the
 * first, have one (the kernel goes in order and stops at an error, such
 * as ENOMEM for a page table). */
static size_t install_guards(struct iovec *iov, size_t n)
{
#ifdef SYS_process_madvise
    long done = syscall(SYS_process_madvise, PIDFD_SELF_PROCESS, iov, n,
                        GUARD_INSTALL, 0);

    return done > 0 ? (size_t)done / page_size : 0;
#else
    (void)iov;
    (void)n;
    return 0;
#endif
}

/* Can this kernel install guard pages inside a mapping, many at once?
 * (Not asked under valgrind, which knows no process_madvise() and would
 * warn of it.) */
static bool probe_guard_markers(void)
{
    void *p;
    struct iovec iov;
    bool ok;

    if (UNDER_VALGRIND())
        return false;
    p = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return false;
    iov = (struct iovec){p, page_size};
    ok = install_guards(&iov, 1) == 1;
    munmap(p, page_size);
    return ok;
}

void gh__stack_init(void)
{
    long dflt;

    page_size = (size_t)sysconf(_SC_PAGESIZE);
    guard_markers = probe_guard_markers();
    /* Guard markers cost no mapping: every stack may have one. */
    dflt = guard_markers ? 1L << 30 : map_budget();
    guard_budget = gh__env_long("GH_GUARD_STACKS", dflt, 0, 1L << 30);
    gh__stack_cache_max =
        (int)gh__env_long("GH_STACK_CACHE", 1024, 0, 1 << 20);
    gh__stack_default = round_page(gh__stack_default);
}

/*
 * The canary is the CANARY_WORDS words just below an unguarded stack's
 * stack_lo, which must stay zero.  They are reserved in memory that is
 * resident anyway (the top page of the stack below, or the slab's pad page),
 * so checking them costs no page fault, and fresh or trimmed memory reads
 * as zeros, so they are never written.  A frame that reaches down there has
 * overflowed, and it almost never leaves them all zero.
 */
static bool canary_intact(const gh__g_t *g)
{
    const volatile uint64_t *w = (const uint64_t *)g->stack_lo - CANARY_WORDS;
    uint64_t acc = 0;

    for (int i = 0; i < CANARY_WORDS; i++)
        acc |= w[i];
    return acc == 0;
}

/* Fill in the fields that describe the stack (they are lost when the
 * record's page is trimmed). */
static gh__g_t *g_at(char *lo, size_t usable, unsigned flags)
{
    gh__g_t *g = (gh__g_t *)(lo + usable - TOP_RESERVE - G_SLOT);

    g->stack_lo = lo;
    g->stack_size = usable;
    g->flags = flags;
    return g;
}

/* Tell valgrind (when the program runs under it; a few instructions
 * otherwise) that this is a stack, so switching to it is not reported as
 * a wild stack-pointer change. */
static gh__g_t *registered(gh__g_t *g)
{
    if (g)
        g->vg_stack_id = STACK_REGISTER((char *)g->stack_lo,
                                        (char *)g->stack_lo + g->stack_size);
    return g;
}

static void *map_stack(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                   -1, 0);

    if (p == MAP_FAILED)
        return NULL;
#ifdef MADV_NOHUGEPAGE
    /* A huge page in a slab would make every touched stack cost 2 MiB.  A
     * single stack is too small to hold one: spare it the system call. */
    if (len >= 2 * 1024 * 1024)
        (void)madvise(p, len, MADV_NOHUGEPAGE);
#endif
    return p;
}

/* A stack in a mapping of its own with a guard page below: a marker where
 * the kernel has them (one mapping), else a PROT_NONE page (two). */
static gh__g_t *map_guarded(size_t usable, unsigned flags)
{
    char *base = map_stack(usable + page_size);
    struct iovec guard = {base, page_size};

    if (!base)
        return NULL;
    if (guard_markers ? install_guards(&guard, 1) != 1
                      : mprotect(base, page_size, PROT_NONE) != 0) {
        munmap(base, usable + page_size);
        return NULL;
    }
    atomic_fetch_add(&gh__stacks_guarded, 1);
    atomic_fetch_add(&gh__stack_bytes, (int64_t)(usable + page_size));
    return registered(g_at(base + page_size, usable, flags | GH__G_GUARDED));
}

/*
 * Take the next default-size stack of a slab, mapping a new slab when the
 * current one is used up: its stack_lo, or NULL.  pool_mu held.  A plain
 * slab is a pad page (the canary of its first stack) and SLAB_STACKS
 * stacks.  A guarded one is SLAB_STACKS pairs of a guard page and a stack,
 * its guard pages installed with one system call; should that fail part of
 * the way, the pages it did not reach stay ordinary memory below their
 * stacks, as good a place for a canary as a pad page, and *guarded says
 * which kind the stack is (a canary must never be read from a guard).
 */
static char *carve_slab(bool *guarded)
{
    size_t sz = gh__stack_default, guard = *guarded ? page_size : 0;
    slab_t *sl = *guarded ? &slab_guarded : &slab_plain;
    char *lo;

    if (sl->left == 0) {
        size_t len = (guard + sz) * SLAB_STACKS + (guard ? 0 : page_size);
        char *base = map_stack(len);
        struct iovec iov[SLAB_STACKS];
        if (!base)
            return NULL;
        sl->next = guard ? base : base + page_size;
        sl->left = SLAB_STACKS;
        atomic_fetch_add(&gh__stack_bytes, (int64_t)len);
        if (guard) {
            for (int i = 0; i < SLAB_STACKS; i++)
                iov[i] = (struct iovec){base + i * (guard + sz), guard};
            sl->guarded = (int)install_guards(iov, SLAB_STACKS);
        }
    }
    *guarded = guard && SLAB_STACKS - sl->left < sl->guarded;
    lo = sl->next + guard;
    sl->next = lo + sz;
    sl->left--;
    return lo;
}

static gh__g_t *new_default_stack(void)
{
    bool guarded = atomic_load(&gh__stacks_guarded) < guard_budget;
    gh__g_t *g = NULL;
    char *lo;

    if (guarded && !guard_markers) {
        g = map_guarded(gh__stack_default, 0);
        guarded = false; /* if that failed: the canary instead */
    }
    if (!g) {
        pthread_mutex_lock(&pool_mu);
        lo = carve_slab(&guarded);
        pthread_mutex_unlock(&pool_mu);
        if (lo && guarded)
            atomic_fetch_add(&gh__stacks_guarded, 1);
        if (lo)
            g = registered(g_at(lo, gh__stack_default,
                                guarded ? GH__G_GUARDED : GH__G_CANARY));
    }
    if (g) {
        atomic_fetch_add(&gh__stacks_mapped, 1);
        gh__allg_add(g);
    }
    return g;
}

static gh__g_t *pool_take(void)
{
    uintptr_t e;
    gh__g_t *g;
    size_t sz = gh__stack_default;

    pthread_mutex_lock(&pool_mu);
    if ((g = warm)) {
        warm = g->next;
        atomic_fetch_sub_explicit(&nwarm, 1, memory_order_relaxed);
        pthread_mutex_unlock(&pool_mu);
        return g;
    }
    if (pool_len == 0) {
        pthread_mutex_unlock(&pool_mu);
        return NULL;
    }
    e = pool[--pool_len];
    pthread_mutex_unlock(&pool_mu);
    /* The record's page was trimmed: rebuild the stack description. */
    return g_at((char *)(e & ~(uintptr_t)1), sz,
                (e & 1) ? GH__G_GUARDED : GH__G_CANARY);
}

static gh__g_t *new_custom_stack(size_t size)
{
    size_t usable = round_page(size);
    gh__g_t *g = map_guarded(usable, GH__G_CUSTOM);

    if (g) {
        atomic_fetch_add(&gh__stacks_mapped, 1);
        gh__allg_add(g);
    }
    return g;
}

/* Move a batch of warm stacks to m's cache under one lock, so that a
 * worker spawning on stacks freed elsewhere takes pool_mu once per batch,
 * not once per goroutine. */
#define CACHE_BATCH 32

static void cache_refill(gh__m_t *m)
{
    gh__g_t *first, *last;
    int n = 0;

    if (atomic_load_explicit(&nwarm, memory_order_relaxed) == 0)
        return;
    pthread_mutex_lock(&pool_mu);
    first = last = warm;
    if (first) {
        for (n = 1; n < CACHE_BATCH && last->next; n++)
            last = last->next;
        warm = last->next;
        last->next = NULL;
        atomic_fetch_sub_explicit(&nwarm, n, memory_order_relaxed);
    }
    pthread_mutex_unlock(&pool_mu);
    if (first) {
        m->cache = first;
        m->ncache = n;
    }
}

gh__g_t *gh__g_alloc_slow(gh__m_t *m, size_t stack_size)
{
    gh__g_t *g;

    if (stack_size && round_page(stack_size) != gh__stack_default)
        return new_custom_stack(stack_size);
    if (m && !m->cache)
        cache_refill(m);
    if (m && m->cache) {
        g = m->cache;
        m->cache = g->next;
        m->ncache--;
        if (m->cache) /* the next spawn's record, while this one is set up */
            __builtin_prefetch(m->cache, 1);
        return g;
    }
    g = pool_take();
    return g ? g : new_default_stack();
}

typedef struct range {
    char *lo, *hi;
} range_t;

static int range_cmp(const void *a, const void *b)
{
    const range_t *x = a, *y = b;

    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Return the memory of n stacks to the OS, merging adjacent ranges. */
static void discard(range_t *r, size_t n)
{
    size_t i = 0;

    qsort(r, n, sizeof(*r), range_cmp);
    while (i < n) {
        char *lo = r[i].lo, *hi = r[i].hi;
        while (++i < n && r[i].lo <= hi)
            hi = r[i].hi > hi ? r[i].hi : hi;
        (void)madvise(lo, (size_t)(hi - lo), MADV_DONTNEED);
    }
}

static bool pool_reserve(size_t more)
{
    size_t ncap = pool_cap ? pool_cap : 1024;
    uintptr_t *np;

    while (ncap < pool_len + more)
        ncap *= 2;
    if (ncap == pool_cap)
        return true;
    if (!(np = realloc(pool, ncap * sizeof(*np))))
        return false;
    pool = np;
    pool_cap = ncap;
    return true;
}

/* Trim a list of stacks (linked through next) into the cold pool. */
static void make_cold(gh__g_t *list, size_t n)
{
    range_t *r = malloc(n * sizeof(*r));
    uintptr_t *e = malloc(n * sizeof(*e));
    size_t i = 0;

    if (!r || !e) {
        free(r);
        free(e);
        return; /* they stay out of circulation, as they were */
    }
    for (gh__g_t *g = list; g; g = g->next, i++) {
        bool guarded = (g->flags & GH__G_GUARDED) != 0;
        r[i].lo = (char *)g->stack_lo - (guarded ? page_size : 0);
        r[i].hi = (char *)g->stack_lo + g->stack_size;
        e[i] = (uintptr_t)g->stack_lo | (guarded ? 1 : 0);
    }
    discard(r, n);
    pthread_mutex_lock(&pool_mu);
    if (pool_reserve(n)) {
        memcpy(pool + pool_len, e, n * sizeof(*e));
        pool_len += n;
    }
    pthread_mutex_unlock(&pool_mu);
    free(r);
    free(e);
}

static void unmap_custom(gh__g_t *g)
{
    size_t len = g->stack_size + page_size;

    gh__allg_del(g);
    STACK_DEREGISTER(g->vg_stack_id);
    atomic_fetch_sub(&gh__stacks_mapped, 1);
    atomic_fetch_sub(&gh__stacks_guarded, 1);
    atomic_fetch_sub(&gh__stack_bytes, (int64_t)len);
    munmap((char *)g->stack_lo - page_size, len);
}

void gh__g_release_slow(gh__m_t *m, gh__g_t *g)
{
    atomic_store_explicit(&g->state, GH_G_DEAD, memory_order_relaxed);
    if (g->flags & GH__G_CUSTOM) {
        unmap_custom(g);
        return;
    }
    if (m) {
        /* A full cache gives half of itself back in one go. */
        if (m->ncache >= gh__stack_cache_max)
            gh__stack_spill(m, gh__stack_cache_max / 2);
        if (m->ncache < gh__stack_cache_max) {
            g->next = m->cache;
            m->cache = g;
            m->ncache++;
            return;
        }
    }
    pthread_mutex_lock(&pool_mu);
    g->next = warm;
    warm = g;
    atomic_fetch_add_explicit(&nwarm, 1, memory_order_relaxed);
    pthread_mutex_unlock(&pool_mu);
    warm_grew();
}

void gh__stack_spill(gh__m_t *m, int keep)
{
    gh__g_t *first, *last;
    long n = 0;

    if (m->ncache <= keep)
        return;
    first = last = m->cache;
    while (m->ncache - n > keep + 1) {
        last = last->next;
        n++;
    }
    n++;
    m->cache = last->next;
    m->ncache -= (int)n;
    pthread_mutex_lock(&pool_mu);
    last->next = warm;
    warm = first;
    atomic_fetch_add_explicit(&nwarm, n, memory_order_relaxed);
    pthread_mutex_unlock(&pool_mu);
    warm_grew();
}

/* Take up to max stacks off the warm list. */
static gh__g_t *warm_take(size_t max, size_t *n)
{
    gh__g_t *list, *last = NULL;

    *n = 0;
    pthread_mutex_lock(&pool_mu);
    list = warm;
    for (gh__g_t *g = warm; g && *n < max; g = g->next, (*n)++)
        last = g;
    if (last) {
        warm = last->next;
        last->next = NULL;
        atomic_fetch_sub_explicit(&nwarm, (long)*n, memory_order_relaxed);
    }
    pthread_mutex_unlock(&pool_mu);
    return *n ? list : NULL;
}

/*
 * The scavenger: a background thread that hands the warm list back to the
 * OS, so that no worker ever stalls in madvise.  It takes the list in large
 * chunks and sorts each, so that neighbours from a slab go back in one call
 * (each call costs a TLB shootdown on every CPU).  Stacks in a chunk are in
 * nobody's pool meanwhile; a spawner that finds the pools empty then maps a
 * few new ones, which is harmless.
 */
#define SCAVENGE_CHUNK 65536

static pthread_mutex_t scav_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t scav_cond = PTHREAD_COND_INITIALIZER;
static bool scav_running;              /* under scav_mu */
static bool scav_idle;                 /* an idle worker asked; scav_mu */
static bool scav_busy;                 /* the warm list grew large; scav_mu */
static _Atomic int64_t scav_last_busy; /* gh_now() of the last busy kick */

/*
 * A busy process may never idle: past WARM_BUSY_MAX warm stacks the
 * scavenger is asked (at most once a second) to look again a second later
 * and return the stacks that stayed unused all along (no fewer were warm
 * at both looks), down to half the limit.  A burst that comes back within
 * the second finds its stacks still warm.
 */
#define WARM_BUSY_MAX 4096
#define BUSY_DELAY_S 1

/* Return warm stacks to the OS, at most n of them. */
static void scavenge(long n)
{
    gh__g_t *list;
    size_t got;

    while (n > 0 &&
           (list = warm_take(n < SCAVENGE_CHUNK ? (size_t)n : SCAVENGE_CHUNK,
                             &got))) {
        make_cold(list, got);
        n -= (long)got;
    }
}

/* After a busy kick: wait a second (or for an idle request), then say how
 * many stacks stayed warm throughout, beyond what is kept.  scav_mu held. */
static long busy_excess(void)
{
    struct timespec until;
    long n0 = atomic_load(&nwarm), n1;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += BUSY_DELAY_S;
    while (!scav_idle &&
           pthread_cond_timedwait(&scav_cond, &scav_mu, &until) == 0)
        ;
    n1 = atomic_load(&nwarm);
    return (n0 < n1 ? n0 : n1) - WARM_BUSY_MAX / 2;
}

static void *scavenger_main(void *unused)
{
    long n;

    pthread_mutex_lock(&scav_mu);
    for (;;) {
        while (!scav_idle && !scav_busy)
            pthread_cond_wait(&scav_cond, &scav_mu);
        n = scav_idle ? 0 : busy_excess();
        if (scav_idle)
            n = atomic_load(&nwarm); /* an idle worker: return them all */
        scav_idle = scav_busy = false;
        pthread_mutex_unlock(&scav_mu);
        scavenge(n);
        pthread_mutex_lock(&scav_mu);
    }
    return NULL;
}

static void scav_kick(bool idle)
{
    pthread_t t;
    sigset_t old;

    pthread_mutex_lock(&scav_mu);
    if (!scav_running) {
        gh__block_signals(&old);
        scav_running = pthread_create(&t, NULL, scavenger_main, NULL) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (scav_running)
            pthread_detach(t);
    }
    if (idle)
        scav_idle = true;
    else
        scav_busy = true;
    pthread_cond_signal(&scav_cond);
    pthread_mutex_unlock(&scav_mu);
}

void gh__stack_scavenge(void)
{
    scav_kick(true);
}

/* Called after stacks were added to the warm list. */
static void warm_grew(void)
{
    int64_t now, last;

    if (atomic_load_explicit(&nwarm, memory_order_relaxed) <= WARM_BUSY_MAX)
        return;
    now = gh_now();
    last = atomic_load_explicit(&scav_last_busy, memory_order_relaxed);
    if (now - last < BUSY_DELAY_S * GH_SECOND ||
        !atomic_compare_exchange_strong(&scav_last_busy, &last, now))
        return;
    scav_kick(false);
}

/* ---- contexts ---- */

#if GH_CTX_ASM
void gh__ctx_trampoline(void);

void gh__ctx_make(gh__ctx_t *ctx, void *stack_lo, size_t size,
                  void (*entry)(void *), void *arg)
{
    uintptr_t top = ((uintptr_t)stack_lo + size) & ~(uintptr_t)15;
#if defined(__x86_64__)
    uint64_t *f = (uint64_t *)(top - 64);

    f[0] = 0x1F80 | ((uint64_t)0x037F << 32); /* MXCSR, x87 control word */
    f[1] = 0;                                  /* r15 */
    f[2] = 0;                                  /* r14 */
    f[3] = (uintptr_t)arg;                     /* r13 */
    f[4] = (uintptr_t)entry;                   /* r12 */
    f[5] = 0;                                  /* rbx */
    f[6] = 0;                                  /* rbp */
    f[7] = (uintptr_t)gh__ctx_trampoline;      /* return address */
#elif defined(__aarch64__)
    uint64_t *f = (uint64_t *)(top - 176);

    memset(f, 0, 176);
    f[0] = (uintptr_t)entry;              /* x19 */
    f[1] = (uintptr_t)arg;                /* x20 */
    f[11] = (uintptr_t)gh__ctx_trampoline; /* x30 */
#else
#error "no assembly context switch for this CPU: configure --with-ucontext"
#endif
    ctx->sp = f;
}
#endif

void gh__g_prepare(gh__g_t *g, void (*entry)(void *))
{
    size_t usable = (size_t)((char *)g - (char *)g->stack_lo);

    gh__ctx_make(&g->ctx, g->stack_lo, usable, entry, g);
}

/* ---- switches: the canary and the sanitizers ---- */

void gh__switch(gh__g_t *from, gh__g_t *to, bool from_dying)
{
    if ((from->flags & GH__G_CANARY) && GH__UNLIKELY(!canary_intact(from)))
        gh__stack_overflow(from, "canary overwritten");
#if GH_SANITIZE_ADDRESS
    {
        const void *lo = to->stack_lo;
        size_t sz = to->stack_lo ? (size_t)((char *)to - (char *)lo) : 0;
        gh__m_t *m = gh__cur_m();
        if (!to->stack_lo && m) { /* g0: the worker thread's own stack */
            lo = m->g0_stack_lo;
            sz = m->g0_stack_size;
        }
        __sanitizer_start_switch_fiber(from_dying ? NULL : &from->asan_fake,
                                       lo, sz);
    }
#endif
#if GH_SANITIZE_THREAD
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    (void)to;
    (void)from_dying;
}

void gh__switch_done(gh__g_t *self)
{
#if GH_SANITIZE_ADDRESS
    const void *lo;
    size_t sz;
    __sanitizer_finish_switch_fiber(self ? self->asan_fake : NULL, &lo, &sz);
#else
    (void)self;
#endif
}

void gh__tsan_g_init(gh__g_t *g)
{
#if GH_SANITIZE_THREAD
    /* A stack reused from the cache still names its last fiber. */
    g->tsan_fiber = __tsan_create_fiber(0);
#else
    (void)g;
#endif
}

void gh__tsan_g_fini(gh__g_t *g)
{
#if GH_SANITIZE_THREAD
    if (g->tsan_fiber)
        __tsan_destroy_fiber(g->tsan_fiber);
    g->tsan_fiber = NULL;
#else
    (void)g;
#endif
}

/* ---- stack overflow ---- */

static struct sigaction prev_segv;

static const char *fn_name(gh_go_fn fn, char *buf, size_t len)
{
    Dl_info info;

    if (dladdr((void *)(uintptr_t)fn, &info) && info.dli_sname)
        return info.dli_sname;
    snprintf(buf, len, "%p", (void *)(uintptr_t)fn);
    return buf;
}

void gh__stack_overflow(const gh__g_t *g, const char *how)
{
    char msg[512], fbuf[32];
    int n = snprintf(msg, sizeof(msg),
                     "fatal error: stack overflow: goroutine %lld \"%s\" "
                     "exceeded its %zu-byte stack (%s)\n"
                     "goroutine %lld was started at %s\n"
                     "hint: give it a larger stack with gh_go_with() or "
                     "GH_STACK_SIZE\n",
                     (long long)g->id,
                     (g->flags & GH__G_NAMED) ? g->name : "", g->stack_size,
                     how,
                     (long long)g->id, fn_name(g->fn, fbuf, sizeof(fbuf)));
    if (n > 0)
        (void)!write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg));
    _exit(2);
}

static void segv_handler(int sig, siginfo_t *si, void *uctx)
{
    gh__m_t *m = gh__cur_m();
    gh__g_t *g = m ? m->cur : NULL;

    if (g && g != &m->g0 && g->stack_lo) {
        char *addr = si->si_addr, *lo = g->stack_lo;
        /* A fault in the guard page, or just below it for a frame that
         * jumped over it, is this goroutine running out of stack. */
        if (addr < lo + 256 && addr + (1 << 20) >= lo)
            gh__stack_overflow(g, "hit the guard page");
    }
    /* Not ours: let the previous disposition handle the re-fault. */
    sigaction(SIGSEGV, &prev_segv, NULL);
    (void)sig;
    (void)uctx;
}

static void install_segv(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &prev_segv);
}

void gh__segv_thread_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    size_t sz = 64 * 1024;
    stack_t ss;

    /* The handler runs on an alternate stack: the faulting one is full. */
    ss.ss_sp = mmap(NULL, sz, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ss.ss_sp != MAP_FAILED) {
        ss.ss_size = sz;
        ss.ss_flags = 0;
        (void)sigaltstack(&ss, NULL);
    }
    pthread_once(&once, install_segv);
}

bool gh__stack_warm_pending(void)
{
    return atomic_load_explicit(&nwarm, memory_order_relaxed) > 0;
}
