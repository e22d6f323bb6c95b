/*
 * check_coro.c - goroutines themselves: arguments, identity, names, stacks
 * (size, depth, overflow, reuse) and the machine state a context switch must
 * keep (callee-saved registers, the FP control words).
 *
 * Goroutines never call ck_assert: a failed assertion on a worker thread
 * would exit from a goroutine stack.  They record what they saw in globals
 * and the test's main thread asserts.
 */
#include "check_gh.h"

#include <fenv.h>
#include <limits.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#define KiB ((size_t)1024)

static atomic_long done;

/* ------------------------------------------------------------------ */
/* Arguments                                                           */
/* ------------------------------------------------------------------ */

static void *got_arg;

static void store_arg(void *arg)
{
    got_arg = arg;
    atomic_fetch_add(&done, 1);
}

START_TEST(coro_goroutine_receives_its_argument)
{
    static int token;
    int64_t id = gh_go(store_arg, &token);
    ck_assert_int_gt(id, 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_ptr_eq(got_arg, &token);
}
END_TEST

#define N_ARGS 1000
static atomic_int seen[N_ARGS];

static void mark_seen(void *arg)
{
    intptr_t i = (intptr_t)arg;
    if (i >= 0 && i < N_ARGS)
        atomic_fetch_add(&seen[i], 1);
    atomic_fetch_add(&done, 1);
}

START_TEST(coro_many_goroutines_get_distinct_arguments)
{
    for (intptr_t i = 0; i < N_ARGS; i++)
        ck_assert_int_gt(gh_go(mark_seen, (void *)i), 0);
    GH_TEST_WAIT_COUNT(&done, N_ARGS, 10 * GH_SECOND);
    for (int i = 0; i < N_ARGS; i++)
        ck_assert_msg(atomic_load(&seen[i]) == 1,
                      "argument %d seen %d times", i, atomic_load(&seen[i]));
}
END_TEST

/* ------------------------------------------------------------------ */
/* Identity and names                                                  */
/* ------------------------------------------------------------------ */

#define N_IDS 100
static int64_t ids_seen[N_IDS];
static int in_g_seen[N_IDS];

static void record_id(void *arg)
{
    intptr_t i = (intptr_t)arg;
    ids_seen[i] = gh_self_id();
    in_g_seen[i] = gh_in_goroutine();
    atomic_fetch_add(&done, 1);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

START_TEST(coro_self_id_is_positive_distinct_and_matches_gh_go)
{
    int64_t ret[N_IDS], sorted[N_IDS];
    for (intptr_t i = 0; i < N_IDS; i++) {
        ret[i] = gh_go(record_id, (void *)i);
        ck_assert_int_gt(ret[i], 0);
    }
    GH_TEST_WAIT_COUNT(&done, N_IDS, 5 * GH_SECOND);
    for (int i = 0; i < N_IDS; i++) {
        ck_assert_int_eq(ids_seen[i], ret[i]);
        ck_assert_int_eq(in_g_seen[i], 1);
        sorted[i] = ids_seen[i];
    }
    qsort(sorted, N_IDS, sizeof sorted[0], cmp_i64);
    for (int i = 1; i < N_IDS; i++)
        ck_assert_msg(sorted[i] != sorted[i - 1], "id %lld repeated",
                      (long long)sorted[i]);
}
END_TEST

static void *outside_thread(void *arg)
{
    int *r = arg;
    r[0] = (int)gh_self_id();
    r[1] = gh_in_goroutine();
    r[2] = gh_self_name() == NULL;
    return NULL;
}

START_TEST(coro_outside_a_goroutine_id_is_zero_and_name_null)
{
    int r[3] = {-1, -1, -1};
    pthread_t t;

    /* Before the runtime starts ... */
    ck_assert_int_eq(gh_self_id(), 0);
    ck_assert_int_eq(gh_in_goroutine(), 0);
    ck_assert_ptr_null(gh_self_name());
    /* ... and after, on main and on a thread of our own. */
    ck_assert_int_gt(gh_go(store_arg, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(gh_self_id(), 0);
    ck_assert_int_eq(gh_in_goroutine(), 0);
    ck_assert_ptr_null(gh_self_name());
    ck_assert_int_eq(pthread_create(&t, NULL, outside_thread, r), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(r[0], 0);
    ck_assert_int_eq(r[1], 0);
    ck_assert_int_eq(r[2], 1);
}
END_TEST

static char name_seen[64];
static int name_was_null;

static void record_name(void *arg)
{
    const char *n = gh_self_name();
    name_was_null = n == NULL;
    if (n != NULL)
        snprintf(name_seen, sizeof name_seen, "%s", n);
    atomic_fetch_add(&done, 1);
}

START_TEST(coro_go_with_name_is_reported_by_self_name)
{
    char name[] = "worker-7";
    gh_go_opts_t o = {0};
    o.name = name;
    ck_assert_int_gt(gh_go_with(record_name, NULL, &o), 0);
    /* The name is copied: scribbling on ours must not matter. */
    memset(name, 'X', sizeof name - 1);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(name_was_null, 0);
    ck_assert_str_eq(name_seen, "worker-7");
}
END_TEST

START_TEST(coro_unnamed_goroutine_has_empty_name)
{
    strcpy(name_seen, "unset");
    ck_assert_int_gt(gh_go(record_name, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(name_was_null, 0);
    ck_assert_str_eq(name_seen, "");
    /* NULL options are the defaults too. */
    strcpy(name_seen, "unset");
    ck_assert_int_gt(gh_go_with(record_name, NULL, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 2, 5 * GH_SECOND);
    ck_assert_str_eq(name_seen, "");
}
END_TEST

START_TEST(coro_long_name_is_truncated_to_31_bytes)
{
    gh_go_opts_t o = {0};
    o.name = "0123456789012345678901234567890123456789";
    ck_assert_int_gt(gh_go_with(record_name, NULL, &o), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_str_eq(name_seen, "0123456789012345678901234567890");
}
END_TEST

/* gh_go never switches: with one worker busy running us, the new
 * goroutine cannot have run before we park. */
static atomic_int child_ran, child_ran_before_yield;

static void set_child_ran(void *arg)
{
    atomic_store(&child_ran, 1);
    atomic_fetch_add(&done, 1);
}

static void spawner(void *arg)
{
    gh_go(set_child_ran, NULL);
    atomic_store(&child_ran_before_yield, atomic_load(&child_ran));
    gh_sleep(GH_MILLISECOND);
    atomic_fetch_add(&done, 1);
}

START_TEST(coro_go_does_not_switch_to_the_new_goroutine)
{
    gh_test_set_workers(1);
    ck_assert_int_gt(gh_go(spawner, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 2, 5 * GH_SECOND);
    ck_assert_int_eq(atomic_load(&child_ran_before_yield), 0);
    ck_assert_int_eq(atomic_load(&child_ran), 1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Registers and FP state across switches                              */
/* ------------------------------------------------------------------ */

/*
 * Twelve 64-bit values live across every call: the compiler keeps six in
 * callee-saved registers and spills the rest, so a switch that loses a
 * register or scribbles on the stack changes the result.
 */
static __attribute__((noinline)) uint64_t int_work(uint64_t seed, int iters,
                                                   int yield)
{
    uint64_t a = seed, b = seed ^ 2, c = 3, d = 5, e = 7, f = 11;
    uint64_t g = 13, h = 17, i = 19, j = 23, k = 29, l = 31;
    for (int n = 0; n < iters; n++) {
        a = a * 6364136223846793005ULL + b;
        b ^= a >> 13;
        c += b * 3;
        d = ((d << 7) | (d >> 57)) ^ c;
        e += d;
        f ^= e * 5;
        g += f >> 3;
        h ^= g + (uint64_t)n;
        i += h * 7;
        j ^= i >> 11;
        k += j;
        l ^= k * 13 + a;
        if (yield)
            gh_yield();
    }
    return a ^ b ^ c ^ d ^ e ^ f ^ g ^ h ^ i ^ j ^ k ^ l;
}

static __attribute__((noinline)) long double fp_work(int seed, int iters,
                                                     int yield)
{
    double x = seed + 0.5, y = 1.0 / (seed + 3), z = seed * 1e-3;
    long double lx = seed * 0.25L, ly = 1.0L / (seed + 7);
    for (int n = 0; n < iters; n++) {
        x = x * 1.0000001 + y;
        y = y * 0.999 + x * 1e-6;
        z += x / (y + 1.0);
        lx = lx * 1.00000001L + x;
        ly = ly / 1.0001L + lx * 1e-9L;
        if (yield)
            gh_yield();
    }
    return lx + ly + x + y + z;
}

#define N_REG_G 6
#define REG_ITERS 2000
static uint64_t int_result[N_REG_G];
static long double fp_result[N_REG_G];

static void reg_worker(void *arg)
{
    intptr_t s = (intptr_t)arg;
    int_result[s] = int_work((uint64_t)s * 1000003u + 1, REG_ITERS, 1);
    fp_result[s] = fp_work((int)s + 1, REG_ITERS, 1);
    atomic_fetch_add(&done, 1);
}

START_TEST(coro_registers_and_fp_values_survive_yields)
{
    /* Several goroutines per worker, so every yield really switches to
     * code with other values in the same registers. */
    for (intptr_t s = 0; s < N_REG_G; s++)
        ck_assert_int_gt(gh_go(reg_worker, (void *)s), 0);
    GH_TEST_WAIT_COUNT(&done, N_REG_G, 20 * GH_SECOND);
    for (int s = 0; s < N_REG_G; s++) {
        uint64_t want = int_work((uint64_t)s * 1000003u + 1, REG_ITERS, 0);
        long double fwant = fp_work(s + 1, REG_ITERS, 0);
        ck_assert_msg(int_result[s] == want,
                      "goroutine %d: integer result %#llx, want %#llx", s,
                      (unsigned long long)int_result[s],
                      (unsigned long long)want);
        ck_assert_msg(memcmp(&fp_result[s], &fwant, 10) == 0,
                      "goroutine %d: FP result %.21Lg, want %.21Lg", s,
                      fp_result[s], fwant);
    }
}
END_TEST

/*
 * One worker, two goroutines interleaving on the same thread: A sets
 * FE_UPWARD and keeps it across yields; B must see FE_TONEAREST the whole
 * time.  1/3 (double, SSE) and 1/7 (long double, x87) round differently in
 * the two modes, so the modes are checked in effect, not just as flags.
 * (1/3 is no good for long double: its 64-bit mantissa rounds up either
 * way.)
 */
static atomic_int a_ready, a_stop;
static int a_mode_lost, b_mode_wrong;
static double a_third, b_third;
static long double a_lthird, b_lthird;
static volatile double v_one = 1.0, v_three = 3.0;
static volatile long double lv_one = 1.0L, lv_seven = 7.0L;

static void rounding_a(void *arg)
{
    fesetround(FE_UPWARD);
    atomic_store(&a_ready, 1);
    for (int n = 0; n < 200 || !atomic_load(&a_stop); n++) {
        gh_yield();
        if (fegetround() != FE_UPWARD)
            a_mode_lost++;
        if (n > 100000)
            break;
    }
    a_third = v_one / v_three;
    a_lthird = lv_one / lv_seven;
    /* Ends with FE_UPWARD still set, on purpose. */
    atomic_fetch_add(&done, 1);
}

static void rounding_b(void *arg)
{
    while (!atomic_load(&a_ready))
        gh_yield();
    for (int n = 0; n < 200; n++) {
        if (fegetround() != FE_TONEAREST)
            b_mode_wrong++;
        gh_yield();
    }
    b_third = v_one / v_three;
    b_lthird = lv_one / lv_seven;
    atomic_store(&a_stop, 1);
    atomic_fetch_add(&done, 1);
}

START_TEST(coro_rounding_mode_is_per_goroutine)
{
    gh_test_set_workers(1);
    ck_assert_int_gt(gh_go(rounding_a, NULL), 0);
    ck_assert_int_gt(gh_go(rounding_b, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 2, 10 * GH_SECOND);
    ck_assert_msg(a_mode_lost == 0,
                  "FE_UPWARD lost across gh_yield %d times", a_mode_lost);
    ck_assert_msg(b_mode_wrong == 0,
                  "another goroutine's FE_UPWARD leaked in %d times",
                  b_mode_wrong);
    ck_assert_msg(a_third > b_third, "double 1/3: upward %a, nearest %a",
                  a_third, b_third);
    ck_assert_msg(a_lthird > b_lthird,
                  "long double 1/7: upward %La, nearest %La", a_lthird,
                  b_lthird);
    ck_assert_int_eq(fegetround(), FE_TONEAREST);
}
END_TEST

static int c_mode;

static void rounding_c(void *arg)
{
    c_mode = fegetround();
    atomic_fetch_add(&done, 1);
}

static void rounding_set_and_exit(void *arg)
{
    fesetround(FE_DOWNWARD);
    atomic_fetch_add(&done, 1);
}

START_TEST(coro_rounding_mode_does_not_leak_past_goroutine_exit)
{
    gh_test_set_workers(1);
    ck_assert_int_gt(gh_go(rounding_set_and_exit, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    c_mode = -12345;
    ck_assert_int_gt(gh_go(rounding_c, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 2, 5 * GH_SECOND);
    ck_assert_msg(c_mode == FE_TONEAREST,
                  "new goroutine's rounding mode %#x, want FE_TONEAREST %#x",
                  c_mode, FE_TONEAREST);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Many goroutines                                                     */
/* ------------------------------------------------------------------ */

static void count_one(void *arg)
{
    atomic_fetch_add(&done, 1);
}

START_TEST(coro_100k_goroutines_spawn_and_finish)
{
    long failed = 0;
    for (int i = 0; i < 100000; i++)
        if (gh_go(count_one, NULL) <= 0)
            failed++;
    ck_assert_int_eq(failed, 0);
    GH_TEST_WAIT_COUNT(&done, 100000, 30 * GH_SECOND);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Stacks                                                              */
/* ------------------------------------------------------------------ */

static long big_sum;

static void use_200k_array(void *arg)
{
    volatile unsigned char a[200 * 1024];
    long s = 0;
    /* Touch it from the top (where the stack starts) down. */
    for (size_t i = sizeof a; i-- > 0;)
        a[i] = (unsigned char)i;
    for (size_t i = 0; i < sizeof a; i += 512)
        s += a[i];
    big_sum = s;
    atomic_fetch_add(&done, 1);
}

static long expected_200k_sum(void)
{
    long s = 0;
    for (size_t i = 0; i < 200 * 1024; i += 512)
        s += (unsigned char)i;
    return s;
}

START_TEST(coro_go_with_256k_stack_fits_a_200k_array)
{
    gh_go_opts_t o = {0};
    o.stack_size = 256 * KiB;
    o.name = "big-stack";
    big_sum = -1;
    ck_assert_int_gt(gh_go_with(use_200k_array, NULL, &o), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(big_sum, expected_200k_sum());
}
END_TEST

START_TEST(coro_set_stack_size_changes_the_default)
{
    ck_assert_int_eq(gh_set_stack_size(8 * KiB), GH_EINVAL);
    ck_assert_int_eq(gh_set_stack_size((size_t)2 << 30), GH_EINVAL);
    ck_assert_int_eq(gh_set_stack_size(256 * KiB), 0);
    big_sum = -1;
    ck_assert_int_gt(gh_go(use_200k_array, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(big_sum, expected_200k_sum());
    ck_assert_int_eq(gh_set_stack_size(128 * KiB), GH_EBUSY);
}
END_TEST

START_TEST(coro_go_with_invalid_stack_size_is_einval)
{
    gh_go_opts_t o = {0};
    gh_rt_stats_t st;
    int64_t spawned;
    size_t bad[] = {SIZE_MAX, SIZE_MAX - 4095, 1024};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t rc;
        o.stack_size = bad[i];
        rc = gh_go_with(count_one, NULL, &o);
        ck_assert_msg(rc == GH_EINVAL, "stack_size %zu: got %lld (%s)",
                      bad[i], (long long)rc, gh_err_name((int)rc));
    }
    /* None of them ran; a valid call still works afterwards. */
    o.stack_size = 32 * KiB;
    ck_assert_int_gt(gh_go_with(count_one, NULL, &o), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    gh_sleep(20 * GH_MILLISECOND);
    ck_assert_int_eq(atomic_load(&done), 1);
    gh_rt_stats(&st);
    spawned = st.spawned;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.stack_size = bad[i];
        ck_assert_int_eq(gh_go_with(count_one, NULL, &o), GH_EINVAL);
    }
    gh_sleep(20 * GH_MILLISECOND);
    gh_rt_stats(&st);
    ck_assert_int_eq(st.spawned, spawned);
    ck_assert_int_eq(atomic_load(&done), 1);
}
END_TEST

static __attribute__((noinline)) long recurse_sum(int depth)
{
    volatile char frame[256];
    for (size_t i = 0; i < sizeof frame; i++)
        frame[i] = (char)(depth + i);
    if (depth == 0)
        return frame[0];
    return recurse_sum(depth - 1) + frame[7] + 1;
}

static long deep_result[2];

static void deep_default(void *arg)
{
    deep_result[0] = recurse_sum(100); /* ~30 KiB of a 64 KiB stack */
    atomic_fetch_add(&done, 1);
}

static void deep_big(void *arg)
{
    deep_result[1] = recurse_sum(2000); /* ~600 KiB of 1 MiB */
    atomic_fetch_add(&done, 1);
}

START_TEST(coro_deep_recursion_within_the_stack_works)
{
    gh_go_opts_t o = {0};
    o.stack_size = 1024 * KiB;
    deep_result[0] = deep_result[1] = -1;
    ck_assert_int_gt(gh_go(deep_default, NULL), 0);
    ck_assert_int_gt(gh_go_with(deep_big, NULL, &o), 0);
    GH_TEST_WAIT_COUNT(&done, 2, 10 * GH_SECOND);
    ck_assert_int_eq(deep_result[0], recurse_sum(100));
    ck_assert_int_eq(deep_result[1], recurse_sum(2000));
}
END_TEST

/*
 * Overflow.  Each frame is 1 KiB written from its lowest byte up, so the
 * untouched gap between frames is far below a 4 KiB guard page and the
 * guard is hit, not skipped.  overflow_limit is never reached; it only
 * keeps the compiler from seeing infinite recursion.
 */
static volatile int overflow_limit = INT_MAX;

static __attribute__((noinline)) int recurse_forever(int depth)
{
    volatile char frame[1024];
    for (size_t i = 0; i < sizeof frame; i++)
        frame[i] = (char)depth;
    if (depth >= overflow_limit)
        return frame[0];
    return recurse_forever(depth + 1) + frame[depth % 1024];
}

static void overflow_g(void *arg)
{
    recurse_forever(0);
}

static void child_overflow_guarded(void *arg)
{
    gh_go_opts_t o = {0};
    o.name = "overflower";
    gh_go_with(overflow_g, NULL, &o);
    gh_sleep(10 * GH_SECOND);
    fprintf(stderr, "child: still alive after the overflow\n");
}

/* A custom-size stack is always guarded, whatever GH_GUARD_STACKS says. */
static void child_overflow_custom(void *arg)
{
    gh_go_opts_t o = {0};
    setenv("GH_GUARD_STACKS", "0", 1);
    o.name = "overflower";
    o.stack_size = 128 * KiB;
    gh_go_with(overflow_g, NULL, &o);
    gh_sleep(10 * GH_SECOND);
    fprintf(stderr, "child: still alive after the overflow\n");
}

/*
 * With GH_GUARD_STACKS=0 there is no guard page, only a canary at the
 * stack's bottom that the runtime checks when the goroutine is switched
 * out.  Unguarded stacks are carved side by side from larger mappings, so
 * three parked goroutines started first give ours neighbours to land on
 * instead of unmapped memory (which would fault, and be reported through
 * the fault handler rather than the canary).  The goroutine recurses with
 * 256-byte frames down to a target that starts 1 KiB inside its estimated
 * stack bottom (a local of its first frame minus the 64 KiB size) and moves
 * 64 bytes lower each round, coming back up and yielding (then sleeping, so
 * it surely is switched out) after each: the first round that reaches the
 * canary is the one that gets caught, so it writes at most about one frame
 * past the bottom.
 */
#define CANARY_STACK (64 * KiB)

static __attribute__((noinline)) int dig_to(uintptr_t target)
{
    volatile char frame[256];
    for (size_t i = 0; i < sizeof frame; i++)
        frame[i] = (char)i;
    if ((uintptr_t)frame <= target)
        return frame[0];
    return dig_to(target) + frame[3];
}

static void canary_g(void *arg)
{
    volatile char top_marker = 0;
    uintptr_t bottom = (uintptr_t)&top_marker - CANARY_STACK;
    for (uintptr_t t = bottom + 1024; t > bottom - 4 * KiB; t -= 64) {
        dig_to(t);
        gh_yield();
        gh_sleep(GH_MILLISECOND);
    }
    fprintf(stderr, "child: canary goroutine survived\n");
}

static void parked_neighbour(void *arg)
{
    gh_sleep(60 * GH_SECOND);
}

static void child_overflow_canary(void *arg)
{
    gh_go_opts_t o = {0};
    /* Before the runtime starts: it reads the variable once. */
    setenv("GH_GUARD_STACKS", "0", 1);
    for (int i = 0; i < 3; i++)
        gh_go(parked_neighbour, NULL);
    gh_sleep(20 * GH_MILLISECOND);
    o.name = "overflower";
    o.stack_size = CANARY_STACK;
    gh_go_with(canary_g, NULL, &o);
    gh_sleep(10 * GH_SECOND);
    fprintf(stderr, "child: still alive after the overflow\n");
}

static void check_overflow_child(void (*fn)(void *))
{
    struct gh_test_child c;
    char how[64];
    if (!gh_test_forking())
        return; /* the child needs a process without a runtime */
    gh_test_run_child(fn, NULL, 30 * GH_SECOND, &c);
    gh_test_child_str(&c, how, sizeof how);
#if GH_SANITIZE_ADDRESS
    /* Under ASan the overflowing write may land in a neighbouring parked
     * goroutine's poisoned frames and be reported by ASan before the
     * runtime's check runs: also a loud end, not silent corruption. */
    if (strstr(c.err, "ERROR: AddressSanitizer") &&
        c.exited && c.exit_code != 0)
        return;
#endif
    /* Check cannot carry messages of many KiB: quote the start only. */
    ck_assert_msg(strstr(c.err, "stack overflow") != NULL,
                  "no \"stack overflow\" in stderr (%s): [%.600s]", how,
                  c.err);
    ck_assert_msg(strstr(c.err, "goroutine") != NULL,
                  "no \"goroutine\" in stderr (%s): [%.600s]", how, c.err);
    ck_assert_msg(c.exited && c.exit_code == 2,
                  "want exit status 2, got %s; stderr: [%.600s]", how,
                  c.err);
}

/*
 * One frame larger than the whole stack, written only at its low end: the
 * write lands a page or more below the guard page, in the stack below it,
 * unless the compiler probes each page of the frame as it grows
 * (-fstack-clash-protection, which the build and pkg-config --cflags
 * gohttpd give): then the guard page is touched first and the overflow
 * is caught, not left to corrupt a parked neighbour.
 */
static __attribute__((noinline)) void huge_frame(void)
{
    volatile char buf[80 * KiB];

    memset((char *)buf, 'x', 12 * KiB);
    fprintf(stderr, "child: %c survived a frame larger than its stack\n",
            buf[0]);
}

static void huge_frame_g(void *arg)
{
    huge_frame();
}

static void child_overflow_huge_frame(void *arg)
{
    gh_go_opts_t o = {.name = "huge-frame"};

    for (int i = 0; i < 3; i++)
        gh_go(parked_neighbour, NULL);
    gh_sleep(20 * GH_MILLISECOND);
    gh_go_with(huge_frame_g, NULL, &o);
    gh_sleep(10 * GH_SECOND);
    fprintf(stderr, "child: still alive after the overflow\n");
}

START_TEST(coro_frame_larger_than_the_stack_is_caught_not_silent)
{
    check_overflow_child(child_overflow_huge_frame);
}
END_TEST

START_TEST(coro_stack_overflow_on_guard_page_is_fatal_with_status_2)
{
    check_overflow_child(child_overflow_guarded);
}
END_TEST

START_TEST(coro_stack_overflow_on_a_custom_size_stack_is_fatal_with_status_2)
{
    check_overflow_child(child_overflow_custom);
}
END_TEST

START_TEST(coro_stack_overflow_without_guard_trips_canary_with_status_2)
{
    check_overflow_child(child_overflow_canary);
}
END_TEST

/*
 * Where the kernel installs guard pages inside a mapping, many at once
 * (MADV_GUARD_INSTALL through process_madvise() on PIDFD_SELF: Linux
 * 6.15), every default stack gets one and costs no mapping of its own:
 * 2,000 parked goroutines add a few mappings (their slabs), not the 4,000
 * that separately mapped guarded stacks would, and 500 with a custom-size
 * stack add 500, not 1,000.  On an older kernel the stacks are guarded all
 * the same, within the map budget.
 */
#define N_GUARDED 2000
#define N_CUSTOM 500
static atomic_long started;
static _Atomic int64_t release_at; /* 0: not yet */

static bool kernel_has_guard_markers(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct iovec iov = {p, (size_t)pg};
    bool ok = p != MAP_FAILED &&
              syscall(SYS_process_madvise, -10001 /* PIDFD_SELF_PROCESS */,
                      &iov, 1, 102 /* MADV_GUARD_INSTALL */, 0) == pg;

    if (p != MAP_FAILED)
        munmap(p, (size_t)pg);
    return ok;
}

static long count_mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    long n = 0;
    int c;

    ck_assert_ptr_nonnull(f);
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static void parked_until_released(void *arg)
{
    atomic_fetch_add(&started, 1);
    while (!atomic_load(&release_at))
        gh_sleep(GH_MILLISECOND);
    atomic_fetch_add(&done, 1);
}

START_TEST(coro_every_stack_is_guarded_without_a_mapping_each)
{
    gh_go_opts_t custom = {.stack_size = 128 * KiB};
    gh_rt_stats_t st;
    long before, after;

    ck_assert_int_gt(gh_go(parked_until_released, NULL), 0);
    GH_TEST_WAIT_COUNT(&started, 1, 10 * GH_SECOND); /* the runtime is up */
    before = count_mappings();
    for (int i = 1; i < N_GUARDED; i++)
        ck_assert_int_gt(gh_go(parked_until_released, NULL), 0);
    GH_TEST_WAIT_COUNT(&started, N_GUARDED, 30 * GH_SECOND);
    after = count_mappings();
    gh_rt_stats(&st);
    ck_assert_int_ge(st.stacks_mapped, N_GUARDED);
    ck_assert_int_eq(st.stacks_guarded, st.stacks_mapped);
    /* ThreadSanitizer maps memory of its own for every goroutine. */
    if (kernel_has_guard_markers() && !GH_TEST_TSAN)
        ck_assert_msg(after - before < 200,
                      "%d parked goroutines added %ld mappings", N_GUARDED,
                      after - before);
    /* A custom-size stack is a mapping of its own: one, guard included. */
    before = count_mappings();
    for (int i = 0; i < N_CUSTOM; i++)
        ck_assert_int_gt(gh_go_with(parked_until_released, NULL, &custom), 0);
    GH_TEST_WAIT_COUNT(&started, N_GUARDED + N_CUSTOM, 30 * GH_SECOND);
    after = count_mappings();
    gh_rt_stats(&st);
    ck_assert_int_eq(st.stacks_guarded, st.stacks_mapped);
    if (kernel_has_guard_markers() && !GH_TEST_TSAN)
        ck_assert_msg(after - before < N_CUSTOM + 50,
                      "%d goroutines with custom stacks added %ld mappings",
                      N_CUSTOM, after - before);
    atomic_store(&release_at, 1);
    GH_TEST_WAIT_COUNT(&done, N_GUARDED + N_CUSTOM, 30 * GH_SECOND);
}
END_TEST

/*
 * Stack reuse: 10k goroutines alive at once, four times over.  Each round's
 * goroutines wait until main has seen all of them start and then sets a
 * release time (they poll for it every 100 ms, so a slow spawner, as under
 * TSan, does not let early ones finish and free their stacks before the
 * last ones are created).
 */
#if GH_TEST_TSAN
#define N_REUSE 1000 /* TSan runs out of mappings with 10k live fibers */
#else
#define N_REUSE 10000
#endif

static void gated(void *arg)
{
    atomic_fetch_add(&started, 1);
    for (;;) {
        int64_t r = atomic_load(&release_at);
        if (r != 0 && gh_now() >= r)
            break;
        gh_sleep_until(r != 0 ? r : gh_now() + 100 * GH_MILLISECOND);
    }
    atomic_fetch_add(&done, 1);
}

static int64_t reuse_baseline; /* goroutines the runtime keeps itself */

static int64_t reuse_round(long round)
{
    gh_rt_stats_t st;
    atomic_store(&release_at, 0);
    for (int i = 0; i < N_REUSE; i++)
        ck_assert_int_gt(gh_go(gated, NULL), 0);
    GH_TEST_WAIT_COUNT(&started, round * N_REUSE, 30 * GH_SECOND);
    gh_rt_stats(&st);
    ck_assert_int_ge(st.goroutines, N_REUSE);
    atomic_store(&release_at, gh_now() + 50 * GH_MILLISECOND);
    GH_TEST_WAIT_COUNT(&done, round * N_REUSE, 30 * GH_SECOND);
    ck_assert_msg(GH_TEST_WAIT_UNTIL(
                      (gh_rt_stats(&st), st.goroutines <= reuse_baseline),
                      5 * GH_SECOND),
                  "%lld goroutines still live", (long long)st.goroutines);
    gh_rt_stats(&st);
    ck_assert_int_le(st.stacks_guarded, st.stacks_mapped);
    return st.stacks_mapped;
}

START_TEST(coro_stacks_are_reused_after_goroutines_end)
{
    gh_rt_stats_t st;
    int64_t r[5];

    /* Start the runtime and see what it runs on its own. */
    ck_assert_int_gt(gh_go(count_one, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    gh_sleep(50 * GH_MILLISECOND);
    gh_rt_stats(&st);
    reuse_baseline = st.goroutines;
    atomic_store(&done, 0);

    /*
     * Without reuse, round n would leave n * 10k stacks mapped.  Stacks in
     * per-worker caches may be out of reach of the next spawner, so allow
     * the total to settle a little above one round's worth; after that it
     * must stay flat.
     */
    for (int i = 1; i <= 4; i++)
        r[i] = reuse_round(i);
    ck_assert_int_ge(r[1], N_REUSE);
    ck_assert_msg(r[2] <= r[1] + r[1] / 2 && r[4] <= r[1] + r[1] / 2,
                  "stacks_mapped after rounds 1-4: %lld %lld %lld %lld: "
                  "stacks are not reused",
                  (long long)r[1], (long long)r[2], (long long)r[3],
                  (long long)r[4]);
    ck_assert_msg(r[4] <= r[3] + 64,
                  "stacks_mapped keeps growing: %lld %lld %lld %lld",
                  (long long)r[1], (long long)r[2], (long long)r[3],
                  (long long)r[4]);
}
END_TEST

/*
 * Memory shrinks after a burst: N_REUSE goroutines parked at once hold at
 * least a page each; once they end and the workers go idle, the runtime
 * must hand (most of) those pages back to the OS.
 */
static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = atol(line + 6);
    fclose(f);
    return kib;
}

START_TEST(coro_memory_is_returned_after_a_burst)
{
    long before, peak, after;
    gh_rt_stats_t st;

#if GH_SANITIZE_ADDRESS
    /* ASan's shadow of every stack touched dominates RSS and is ASan's to
     * keep or drop: RSS says nothing about the runtime here. */
    return;
#endif
    ck_assert_int_gt(gh_go(count_one, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    atomic_store(&done, 0);
    before = rss_kib();
    ck_assert_int_gt(before, 0);
    atomic_store(&release_at, 0);
    for (int i = 0; i < N_REUSE; i++)
        ck_assert_int_gt(gh_go(gated, NULL), 0);
    GH_TEST_WAIT_COUNT(&started, N_REUSE, 30 * GH_SECOND);
    peak = rss_kib();
    /* A parked goroutine costs at least its record's page. */
    ck_assert_msg(peak - before >= N_REUSE * 4 / 2,
                  "RSS grew only %ld KiB for %d parked goroutines",
                  peak - before, N_REUSE);
    atomic_store(&release_at, gh_now());
    GH_TEST_WAIT_COUNT(&done, N_REUSE, 30 * GH_SECOND);
    ck_assert(GH_TEST_WAIT_UNTIL((gh_rt_stats(&st), st.goroutines <= 1),
                                 5 * GH_SECOND));
    /* Idle workers wake the scavenger at most once a second. */
    ck_assert_msg(GH_TEST_WAIT_UNTIL(
                      (after = rss_kib(), after - before < (peak - before) / 4),
                      gh_test_slack(5 * GH_SECOND)),
                  "RSS %ld KiB before, %ld KiB with %d goroutines parked, "
                  "still %ld KiB after they ended",
                  before, peak, N_REUSE, after);
}
END_TEST

static Suite *coro_suite(void)
{
    Suite *s = suite_create("coro");
    TCase *tc;

    tc = tcase_create("args");
    gh_test_tcase_setup(tc, 20);
    tcase_add_test(tc, coro_goroutine_receives_its_argument);
    tcase_add_test(tc, coro_many_goroutines_get_distinct_arguments);
    suite_add_tcase(s, tc);

    tc = tcase_create("identity");
    gh_test_tcase_setup(tc, 20);
    tcase_add_test(tc, coro_self_id_is_positive_distinct_and_matches_gh_go);
    tcase_add_test(tc, coro_outside_a_goroutine_id_is_zero_and_name_null);
    tcase_add_test(tc, coro_go_with_name_is_reported_by_self_name);
    tcase_add_test(tc, coro_unnamed_goroutine_has_empty_name);
    tcase_add_test(tc, coro_long_name_is_truncated_to_31_bytes);
    tcase_add_test(tc, coro_go_does_not_switch_to_the_new_goroutine);
    suite_add_tcase(s, tc);

    tc = tcase_create("machine_state");
    gh_test_tcase_setup(tc, 30);
    tcase_add_test(tc, coro_registers_and_fp_values_survive_yields);
    tcase_add_test(tc, coro_rounding_mode_is_per_goroutine);
    tcase_add_test(tc, coro_rounding_mode_does_not_leak_past_goroutine_exit);
    suite_add_tcase(s, tc);

    tc = tcase_create("many");
    gh_test_tcase_setup(tc, 60);
    tcase_add_test(tc, coro_100k_goroutines_spawn_and_finish);
    suite_add_tcase(s, tc);

    tc = tcase_create("stacks");
    gh_test_tcase_setup(tc, 60);
    tcase_add_test(tc, coro_go_with_256k_stack_fits_a_200k_array);
    tcase_add_test(tc, coro_set_stack_size_changes_the_default);
    tcase_add_test(tc, coro_go_with_invalid_stack_size_is_einval);
    tcase_add_test(tc, coro_deep_recursion_within_the_stack_works);
    tcase_add_test(tc, coro_stack_overflow_on_guard_page_is_fatal_with_status_2);
    tcase_add_test(tc, coro_frame_larger_than_the_stack_is_caught_not_silent);
    tcase_add_test(
        tc, coro_stack_overflow_on_a_custom_size_stack_is_fatal_with_status_2);
    tcase_add_test(tc,
                   coro_stack_overflow_without_guard_trips_canary_with_status_2);
    tcase_add_test(tc, coro_every_stack_is_guarded_without_a_mapping_each);
    tcase_add_test(tc, coro_stacks_are_reused_after_goroutines_end);
    tcase_add_test(tc, coro_memory_is_returned_after_a_burst);
    suite_add_tcase(s, tc);

    return s;
}

GH_CHECK_MAIN(coro_suite)
