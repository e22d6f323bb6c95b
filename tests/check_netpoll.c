/*
 * check_netpoll.c - goroutine-aware I/O: reads and writes that park on a
 * worker's libev loop, deadlines, gh_close waking parked goroutines, the
 * one-waiter-per-direction rule, TCP accept/connect, scatter/gather,
 * sendfile, back-pressure, and the same calls from plain threads (poll).
 *
 * Goroutines record results in globals; the test's main thread asserts.
 * Temporary files live under a mkdtemp() directory in /tmp, never in the
 * source tree.
 */
#include "check_gh.h"
#include "runtime/netpoll.h" /* gh__fdwatch_start, gh__fdwatch_stop */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/stat.h>

static atomic_long done;
static atomic_long ready;

#define DL(ms) gh_deadline_in((int64_t)(ms) * GH_MILLISECOND)

static unsigned char pattern(size_t i)
{
    return (unsigned char)((i * 31u + (i >> 9) + 7u) & 0xff);
}

static void fill_pattern(unsigned char *p, size_t n, size_t off)
{
    for (size_t i = 0; i < n; i++)
        p[i] = pattern(off + i);
}

/* Index of the first byte that is not the pattern at off, or n. */
static size_t check_pattern(const unsigned char *p, size_t n, size_t off)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != pattern(off + i))
            return i;
    return n;
}

/* Read exactly n bytes (or to EOF / error); returns bytes read or GH_E*. */
static ssize_t read_full(int fd, void *buf, size_t n, int64_t deadline)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = gh_read(fd, (char *)buf + got, n - got, deadline);
        if (r < 0)
            return r;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* A loopback TCP listener on an ephemeral port. */
static int tcp_listener(struct sockaddr_in *addr)
{
    socklen_t len = sizeof *addr;
    int one = 1;
    int fd = gh_socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_msg(fd >= 0, "gh_socket: %s", gh_strerror(fd));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr->sin_port = 0;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)addr, sizeof *addr), 0);
    ck_assert_int_eq(listen(fd, 64), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)addr, &len), 0);
    ck_assert_int_ne(addr->sin_port, 0);
    return fd;
}

/* ------------------------------------------------------------------ */
/* Socketpair ping-pong                                                */
/* ------------------------------------------------------------------ */

#define ROUNDS 10000
static int sv[2];
static atomic_long errors;
static char first_error[256];

static void note_error(const char *what, long i, ssize_t r)
{
    if (atomic_fetch_add(&errors, 1) == 0)
        snprintf(first_error, sizeof first_error, "%s round %ld: %zd (%s)",
                 what, i, r, r < 0 ? gh_err_name((int)r) : "short");
}

static void ping(void *arg)
{
    for (uint64_t i = 0; i < ROUNDS; i++) {
        uint64_t out = i * 2, in = 0;
        ssize_t r = gh_write_all(sv[0], &out, sizeof out, DL(10000));
        if (r != sizeof out) {
            note_error("ping write", (long)i, r);
            break;
        }
        r = read_full(sv[0], &in, sizeof in, DL(10000));
        if (r != sizeof in || in != out + 1) {
            note_error("ping read", (long)i, r);
            break;
        }
    }
    atomic_fetch_add(&done, 1);
}

static void pong(void *arg)
{
    for (uint64_t i = 0; i < ROUNDS; i++) {
        uint64_t v = 0;
        ssize_t r = read_full(sv[1], &v, sizeof v, DL(10000));
        if (r != sizeof v || v != i * 2) {
            note_error("pong read", (long)i, r);
            break;
        }
        v++;
        r = gh_write_all(sv[1], &v, sizeof v, DL(10000));
        if (r != sizeof v) {
            note_error("pong write", (long)i, r);
            break;
        }
    }
    atomic_fetch_add(&done, 1);
}

START_TEST(netpoll_socketpair_ping_pong_10k_round_trips)
{
    gh_test_set_workers(2);
    gh_test_socketpair(sv);
    ck_assert_int_gt(gh_go(ping, NULL), 0);
    ck_assert_int_gt(gh_go(pong, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 2, 30 * GH_SECOND);
    ck_assert_msg(atomic_load(&errors) == 0, "%s", first_error);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Deadlines                                                           */
/* ------------------------------------------------------------------ */

static ssize_t res[8];
static int64_t took[8];

static void read_with_50ms_deadline(void *arg)
{
    char buf[16];
    int64_t t0 = gh_now();
    res[0] = gh_read(sv[0], buf, sizeof buf, t0 + 50 * GH_MILLISECOND);
    took[0] = gh_now() - t0;
    atomic_fetch_add(&done, 1);
}

START_TEST(netpoll_read_deadline_on_idle_socket_times_out)
{
    char buf[16];
    int64_t t0;
    ssize_t r;

    gh_test_socketpair(sv);
    ck_assert_int_gt(gh_go(read_with_50ms_deadline, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_msg(res[0] == GH_ETIMEDOUT, "gh_read = %zd (%s)", res[0],
                  gh_err_name((int)res[0]));
    ck_assert_msg(took[0] >= 50 * GH_MILLISECOND, "timed out after %.3f ms",
                  gh_test_ms(took[0]));
    ck_assert_int_lt(took[0], gh_test_slack(GH_SECOND));

    /* The same from the main thread, which waits in poll(2). */
    t0 = gh_now();
    r = gh_read(sv[0], buf, sizeof buf, t0 + 50 * GH_MILLISECOND);
    ck_assert_int_eq(r, GH_ETIMEDOUT);
    ck_assert_int_ge(gh_now() - t0, 50 * GH_MILLISECOND);
    /* A deadline already past: at once. */
    ck_assert_int_eq(gh_read(sv[0], buf, sizeof buf, gh_now() - 1),
                     GH_ETIMEDOUT);
}
END_TEST

static int listen_fd;

static void accept_with_deadline(void *arg)
{
    int64_t t0 = gh_now();
    res[0] = gh_accept(listen_fd, NULL, NULL, t0 + 30 * GH_MILLISECOND);
    took[0] = gh_now() - t0;
    atomic_fetch_add(&done, 1);
}

START_TEST(netpoll_accept_deadline_times_out)
{
    struct sockaddr_in a;
    listen_fd = tcp_listener(&a);
    ck_assert_int_gt(gh_go(accept_with_deadline, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(res[0], GH_ETIMEDOUT);
    ck_assert_int_ge(took[0], 30 * GH_MILLISECOND);
}
END_TEST

/* ------------------------------------------------------------------ */
/* gh_close and the one-waiter rule                                    */
/* ------------------------------------------------------------------ */

static void parked_reader(void *arg)
{
    char buf[16];
    intptr_t slot = (intptr_t)arg;
    atomic_fetch_add(&ready, 1);
    res[slot] = gh_read(sv[0], buf, sizeof buf, DL(10000));
    atomic_fetch_add(&done, 1);
}

static void closer(void *arg)
{
    (void)GH_TEST_WAIT_UNTIL(atomic_load(&ready) >= 1, 5 * GH_SECOND);
    gh_sleep(30 * GH_MILLISECOND); /* let the reader park */
    res[1] = gh_close(sv[0]);
    atomic_fetch_add(&done, 1);
}

START_TEST(netpoll_close_from_goroutine_wakes_parked_reader_with_eclosed)
{
    gh_test_socketpair(sv);
    res[0] = res[1] = 12345;
    ck_assert_int_gt(gh_go(parked_reader, (void *)0), 0);
    ck_assert_int_gt(gh_go(closer, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 2, 5 * GH_SECOND);
    ck_assert_msg(res[0] == GH_ECLOSED, "parked reader got %zd (%s)", res[0],
                  gh_err_name((int)res[0]));
    ck_assert_int_eq(res[1], 0);
    /* It really is closed. */
    ck_assert_int_eq(fcntl(sv[0], F_GETFD), -1);
}
END_TEST

START_TEST(netpoll_close_from_main_wakes_parked_reader_with_eclosed)
{
    gh_test_socketpair(sv);
    res[0] = 12345;
    ck_assert_int_gt(gh_go(parked_reader, (void *)0), 0);
    GH_TEST_WAIT_COUNT(&ready, 1, 5 * GH_SECOND);
    gh_sleep(30 * GH_MILLISECOND);
    ck_assert_int_eq(gh_close(sv[0]), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_msg(res[0] == GH_ECLOSED, "parked reader got %zd (%s)", res[0],
                  gh_err_name((int)res[0]));
}
END_TEST

static void second_reader(void *arg)
{
    char buf[16];
    int64_t t0 = gh_now();
    res[1] = gh_read(sv[0], buf, sizeof buf, DL(2000));
    took[1] = gh_now() - t0;
    res[2] = gh_wait_fd(sv[0], GH_IO_READ, DL(2000));
    atomic_fetch_add(&done, 1);
}

/* A plain thread (not a worker) blocked in gh_read: it waits in poll(2),
 * and gh_close() must wake it too before the descriptor is closed, or it
 * would go on polling a number that may be reused. */
static void *thread_reader(void *arg)
{
    char buf[16];

    atomic_fetch_add(&ready, 1);
    res[0] = gh_read(sv[0], buf, sizeof buf, DL(10000));
    atomic_fetch_add(&done, 1);
    return arg;
}

START_TEST(netpoll_close_wakes_a_plain_thread_waiting_in_poll)
{
    pthread_t t;
    int64_t t0;

    gh_test_socketpair(sv);
    res[0] = res[1] = 12345;
    ck_assert_int_eq(pthread_create(&t, NULL, thread_reader, NULL), 0);
    GH_TEST_WAIT_COUNT(&ready, 1, 5 * GH_SECOND);
    gh_sleep(30 * GH_MILLISECOND); /* it is in poll(2) */
    /* One reader at a time, threads included. */
    ck_assert_int_gt(gh_go(second_reader, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_msg(res[1] == GH_EBUSY, "a goroutine beside it got %zd (%s)",
                  res[1], gh_err_name((int)res[1]));
    t0 = gh_now();
    ck_assert_int_eq(gh_close(sv[0]), 0);
    GH_TEST_WAIT_COUNT(&done, 2, 5 * GH_SECOND);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_msg(res[0] == GH_ECLOSED, "the thread got %zd (%s)", res[0],
                  gh_err_name((int)res[0]));
    ck_assert_int_lt(gh_now() - t0, gh_test_slack(GH_SECOND));
    ck_assert_int_eq(fcntl(sv[0], F_GETFD), -1);
}
END_TEST

/* Out of descriptors, a thread's wait has no eventfd: it still waits, and
 * gh_close() still wakes it (within a poll slice). */
START_TEST(netpoll_close_wakes_a_waiting_thread_out_of_descriptors)
{
    int fillers[4096], nfill = 0;
    struct rlimit rl, low;
    pthread_t t;
    int64_t t0;

    gh_test_socketpair(sv);
    res[0] = 12345;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    low = rl;
    if (low.rlim_cur > 1024)
        low.rlim_cur = 1024;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    while (nfill < (int)(sizeof(fillers) / sizeof(fillers[0])) &&
           (fillers[nfill] = dup(sv[1])) >= 0)
        nfill++;
    ck_assert_msg(nfill < (int)(sizeof(fillers) / sizeof(fillers[0])),
                  "the descriptor table did not fill up");
    /* None left for the thread's eventfd. */
    ck_assert_int_eq(pthread_create(&t, NULL, thread_reader, NULL), 0);
    GH_TEST_WAIT_COUNT(&ready, 1, 5 * GH_SECOND);
    gh_sleep(30 * GH_MILLISECOND); /* it is in poll(2), in slices */
    ck_assert_int_eq(res[0], 12345);
    t0 = gh_now();
    ck_assert_int_eq(gh_close(sv[0]), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    while (nfill > 0)
        close(fillers[--nfill]);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    ck_assert_msg(res[0] == GH_ECLOSED, "the thread got %zd (%s)", res[0],
                  gh_err_name((int)res[0]));
    ck_assert_int_lt(gh_now() - t0, gh_test_slack(GH_SECOND));
}
END_TEST

START_TEST(netpoll_second_concurrent_reader_gets_ebusy)
{
    gh_test_socketpair(sv);
    ck_assert_int_gt(gh_go(parked_reader, (void *)0), 0);
    GH_TEST_WAIT_COUNT(&ready, 1, 5 * GH_SECOND);
    gh_sleep(30 * GH_MILLISECOND); /* the first reader is parked */
    ck_assert_int_gt(gh_go(second_reader, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_msg(res[1] == GH_EBUSY, "second reader got %zd (%s)", res[1],
                  gh_err_name((int)res[1]));
    ck_assert_msg(res[2] == GH_EBUSY, "second gh_wait_fd got %zd (%s)",
                  res[2], gh_err_name((int)res[2]));
    ck_assert_int_lt(took[1], gh_test_slack(GH_SECOND));
    /* The first reader is still parked and still gets its data. */
    ck_assert_int_eq(write(sv[1], "x", 1), 1);
    GH_TEST_WAIT_COUNT(&done, 2, 5 * GH_SECOND);
    ck_assert_int_eq(res[0], 1);
}
END_TEST

static void peer_close_reader(void *arg)
{
    char buf[16];
    atomic_fetch_add(&ready, 1);
    res[0] = gh_read(sv[0], buf, sizeof buf, DL(5000));
    atomic_fetch_add(&done, 1);
}

START_TEST(netpoll_peer_close_wakes_parked_reader_with_eof)
{
    gh_test_socketpair(sv);
    ck_assert_int_gt(gh_go(peer_close_reader, NULL), 0);
    GH_TEST_WAIT_COUNT(&ready, 1, 5 * GH_SECOND);
    gh_sleep(20 * GH_MILLISECOND);
    close(sv[1]); /* nobody waits on this end */
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(res[0], 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* TCP                                                                 */
/* ------------------------------------------------------------------ */

#define ECHO_CHUNK 1024
#define ECHO_CHUNKS 64
static struct sockaddr_in srv_addr, peer_addr;

static void echo_server(void *arg)
{
    socklen_t len = sizeof peer_addr;
    char buf[4096];
    ssize_t r;
    int fd = gh_accept(listen_fd, (struct sockaddr *)&peer_addr, &len,
                       DL(10000));
    res[0] = fd;
    if (fd < 0)
        goto out;
    res[3] = fcntl(fd, F_GETFL) & O_NONBLOCK;
    while ((r = gh_read(fd, buf, sizeof buf, DL(10000))) > 0)
        if (gh_write_all(fd, buf, (size_t)r, DL(10000)) != r)
            break;
    res[1] = r; /* 0: the client's EOF */
    gh_close(fd);
out:
    atomic_fetch_add(&done, 1);
}

static void echo_client(void *arg)
{
    unsigned char out[ECHO_CHUNK], in[ECHO_CHUNK];
    ssize_t r;
    int fd = gh_socket(AF_INET, SOCK_STREAM, 0);
    res[4] = fd < 0 ? fd : gh_connect(fd, (struct sockaddr *)&srv_addr,
                                      sizeof srv_addr, DL(10000));
    if (res[4] < 0)
        goto out;
    for (size_t c = 0; c < ECHO_CHUNKS; c++) {
        fill_pattern(out, sizeof out, c * ECHO_CHUNK);
        r = gh_write_all(fd, out, sizeof out, DL(10000));
        if (r != sizeof out) {
            note_error("client write", (long)c, r);
            goto out;
        }
        r = read_full(fd, in, sizeof in, DL(10000));
        if (r != sizeof in ||
            check_pattern(in, sizeof in, c * ECHO_CHUNK) != sizeof in) {
            note_error("client read", (long)c, r);
            goto out;
        }
    }
    shutdown(fd, SHUT_WR);
    res[5] = gh_read(fd, in, sizeof in, DL(10000)); /* server closed: 0 */
out:
    if (fd >= 0)
        gh_close(fd);
    atomic_fetch_add(&done, 1);
}

START_TEST(netpoll_tcp_accept_connect_echo_over_loopback)
{
    listen_fd = tcp_listener(&srv_addr);
    ck_assert_int_gt(gh_go(echo_server, NULL), 0);
    ck_assert_int_gt(gh_go(echo_client, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 2, 20 * GH_SECOND);
    ck_assert_msg(res[0] >= 0, "gh_accept = %zd (%s)", res[0],
                  gh_err_name((int)res[0]));
    ck_assert_msg(res[4] == 0, "gh_connect = %zd (%s)", res[4],
                  gh_err_name((int)res[4]));
    ck_assert_msg(atomic_load(&errors) == 0, "%s", first_error);
    ck_assert_int_eq(res[3], O_NONBLOCK);
    ck_assert_int_eq(res[1], 0);
    ck_assert_int_eq(res[5], 0);
    ck_assert_int_eq(peer_addr.sin_family, AF_INET);
    ck_assert_int_eq(ntohl(peer_addr.sin_addr.s_addr), INADDR_LOOPBACK);
    ck_assert_int_eq(gh_close(listen_fd), 0);
}
END_TEST

static void connect_refused(void *arg)
{
    int fd = gh_socket(AF_INET, SOCK_STREAM, 0);
    res[0] = fd < 0 ? fd : gh_connect(fd, (struct sockaddr *)&srv_addr,
                                      sizeof srv_addr, DL(5000));
    if (fd >= 0)
        gh_close(fd);
    atomic_fetch_add(&done, 1);
}

START_TEST(netpoll_connect_to_closed_port_is_econnrefused)
{
    int fd;
    /* A port that was just free: bound, never listened on, closed. */
    listen_fd = gh_socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(listen_fd, 0);
    memset(&srv_addr, 0, sizeof srv_addr);
    srv_addr.sin_family = AF_INET;
    srv_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(listen_fd, (struct sockaddr *)&srv_addr,
                          sizeof srv_addr),
                     0);
    {
        socklen_t len = sizeof srv_addr;
        ck_assert_int_eq(
            getsockname(listen_fd, (struct sockaddr *)&srv_addr, &len), 0);
    }
    ck_assert_int_eq(gh_close(listen_fd), 0);

    ck_assert_int_gt(gh_go(connect_refused, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 10 * GH_SECOND);
    ck_assert_msg(res[0] == GH_ECONNREFUSED, "gh_connect = %zd (%s)", res[0],
                  gh_err_name((int)res[0]));
    /* From main too. */
    fd = gh_socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(
        gh_connect(fd, (struct sockaddr *)&srv_addr, sizeof srv_addr, DL(5000)),
        GH_ECONNREFUSED);
    ck_assert_int_eq(gh_close(fd), 0);
}
END_TEST

START_TEST(netpoll_socket_is_nonblocking_and_cloexec)
{
    int fd = gh_socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ne(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    ck_assert_int_eq(gh_close(fd), 0);
    ck_assert_int_eq(gh_socket(-1, SOCK_STREAM, 0), GH_EAFNOSUPPORT);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Scatter/gather, send/recv, datagrams                                */
/* ------------------------------------------------------------------ */

static void vector_io(void *arg)
{
    char a[] = "hello, ", b[] = "scattered ", c[] = "world";
    char x[8] = {0}, y[32] = {0};
    struct iovec wv[3] = {{a, 7}, {b, 10}, {c, 5}};
    struct iovec rv[2] = {{x, 7}, {y, sizeof y - 1}};
    res[0] = gh_writev(sv[0], wv, 3, DL(5000));
    res[1] = gh_readv(sv[1], rv, 2, DL(5000));
    res[2] = strcmp(x, "hello, ") == 0 && strcmp(y, "scattered world") == 0;
    atomic_fetch_add(&done, 1);
}

START_TEST(netpoll_writev_and_readv_move_scattered_data)
{
    gh_test_socketpair(sv);
    ck_assert_int_gt(gh_go(vector_io, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(res[0], 22);
    ck_assert_int_eq(res[1], 22);
    ck_assert_int_eq(res[2], 1);
}
END_TEST

static void send_recv(void *arg)
{
    char buf[16] = {0};
    res[0] = gh_send(sv[0], "ping", 4, 0, DL(5000));
    res[1] = gh_recv(sv[1], buf, sizeof buf, 0, DL(5000));
    res[2] = memcmp(buf, "ping", 4) == 0;
    close(sv[1]);
    /* MSG_NOSIGNAL: EPIPE, not a SIGPIPE that kills the test. */
    res[3] = gh_send(sv[0], "pong", 4, 0, DL(5000));
    atomic_fetch_add(&done, 1);
}

START_TEST(netpoll_send_recv_and_epipe_without_sigpipe)
{
    gh_test_socketpair(sv);
    ck_assert_int_gt(gh_go(send_recv, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(res[0], 4);
    ck_assert_int_eq(res[1], 4);
    ck_assert_int_eq(res[2], 1);
    ck_assert_msg(res[3] == GH_EPIPE || res[3] == GH_ECONNRESET,
                  "send to closed peer = %zd (%s)", res[3],
                  gh_err_name((int)res[3]));
}
END_TEST

static int udp[2];
static struct sockaddr_in udp_addr[2];

static void udp_exchange(void *arg)
{
    char buf[64] = {0};
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    res[2] = gh_recvfrom(udp[1], buf, sizeof buf, 0, NULL, NULL, DL(20));
    res[0] = gh_sendto(udp[0], "datagram", 8, 0,
                       (struct sockaddr *)&udp_addr[1], sizeof udp_addr[1],
                       DL(5000));
    res[1] = gh_recvfrom(udp[1], buf, sizeof buf, 0, (struct sockaddr *)&from,
                         &fl, DL(5000));
    res[3] = memcmp(buf, "datagram", 8) == 0 &&
             from.sin_port == udp_addr[0].sin_port;
    atomic_fetch_add(&done, 1);
}

START_TEST(netpoll_udp_sendto_recvfrom)
{
    for (int i = 0; i < 2; i++) {
        socklen_t len = sizeof udp_addr[i];
        udp[i] = gh_socket(AF_INET, SOCK_DGRAM, 0);
        ck_assert_int_ge(udp[i], 0);
        memset(&udp_addr[i], 0, sizeof udp_addr[i]);
        udp_addr[i].sin_family = AF_INET;
        udp_addr[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ck_assert_int_eq(bind(udp[i], (struct sockaddr *)&udp_addr[i], len),
                         0);
        ck_assert_int_eq(
            getsockname(udp[i], (struct sockaddr *)&udp_addr[i], &len), 0);
    }
    ck_assert_int_gt(gh_go(udp_exchange, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(res[2], GH_ETIMEDOUT);
    ck_assert_int_eq(res[0], 8);
    ck_assert_int_eq(res[1], 8);
    ck_assert_int_eq(res[3], 1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* sendfile                                                            */
/* ------------------------------------------------------------------ */

#define FILE_SIZE ((size_t)1024 * 1024 + 123)
static char tmpdir[64], tmppath[128];
static int file_fd;

static void file_sender(void *arg)
{
    off_t off = 0;
    while ((size_t)off < FILE_SIZE) {
        ssize_t r = gh_sendfile(sv[0], file_fd, &off, FILE_SIZE - (size_t)off,
                                DL(20000));
        if (r <= 0) {
            note_error("sendfile", (long)off, r);
            break;
        }
    }
    res[0] = off;
    shutdown(sv[0], SHUT_WR);
    atomic_fetch_add(&done, 1);
}

static void file_receiver(void *arg)
{
    static unsigned char buf[65536];
    size_t total = 0, bad = 0;
    ssize_t r;
    while ((r = gh_read(sv[1], buf, sizeof buf, DL(20000))) > 0) {
        if (!bad && check_pattern(buf, (size_t)r, total) != (size_t)r)
            bad = total + check_pattern(buf, (size_t)r, total) + 1;
        total += (size_t)r;
    }
    res[1] = (ssize_t)total;
    res[2] = r;
    res[3] = (ssize_t)bad; /* 0, or 1 + offset of the first bad byte */
    atomic_fetch_add(&done, 1);
}

START_TEST(netpoll_sendfile_sends_a_whole_file_through_a_socket)
{
    unsigned char *data = malloc(FILE_SIZE);
    int fd;

    ck_assert_ptr_nonnull(data);
    strcpy(tmpdir, "/tmp/check_netpoll.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(tmppath, sizeof tmppath, "%s/payload", tmpdir);
    fd = open(tmppath, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    fill_pattern(data, FILE_SIZE, 0);
    ck_assert_int_eq(write(fd, data, FILE_SIZE), (ssize_t)FILE_SIZE);
    close(fd);
    free(data);
    file_fd = open(tmppath, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(file_fd, 0);
    unlink(tmppath);
    rmdir(tmpdir);

    gh_test_socketpair(sv);
    ck_assert_int_gt(gh_go(file_receiver, NULL), 0);
    ck_assert_int_gt(gh_go(file_sender, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 2, 30 * GH_SECOND);
    ck_assert_msg(atomic_load(&errors) == 0, "%s", first_error);
    ck_assert_int_eq(res[0], (ssize_t)FILE_SIZE);
    ck_assert_int_eq(res[1], (ssize_t)FILE_SIZE);
    ck_assert_int_eq(res[2], 0);
    ck_assert_msg(res[3] == 0, "content differs at byte %zd", res[3] - 1);
    close(file_fd);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Back-pressure                                                       */
/* ------------------------------------------------------------------ */

#define BIG ((size_t)4 * 1024 * 1024)
static atomic_int writer_done, reader_started;
static atomic_long ticks;

static void big_writer(void *arg)
{
    unsigned char *buf = malloc(BIG);
    if (buf == NULL) {
        res[0] = GH_ENOMEM;
    } else {
        fill_pattern(buf, BIG, 0);
        atomic_fetch_add(&ready, 1);
        res[0] = gh_write_all(sv[0], buf, BIG, DL(30000));
        free(buf);
    }
    atomic_store(&writer_done, 1);
    atomic_fetch_add(&done, 1);
}

static void ticker(void *arg)
{
    while (!atomic_load(&reader_started)) {
        atomic_fetch_add(&ticks, 1);
        gh_sleep(GH_MILLISECOND);
    }
}

static void big_reader(void *arg)
{
    static unsigned char buf[65536];
    size_t total = 0, bad = 0;
    ssize_t r = 0;
    while (total < BIG &&
           (r = gh_read(sv[1], buf, sizeof buf, DL(30000))) > 0) {
        if (!bad && check_pattern(buf, (size_t)r, total) != (size_t)r)
            bad = total + check_pattern(buf, (size_t)r, total) + 1;
        total += (size_t)r;
    }
    res[1] = (ssize_t)total;
    res[2] = r;
    res[3] = (ssize_t)bad;
    atomic_fetch_add(&done, 1);
}

START_TEST(netpoll_large_write_parks_writer_until_reader_drains)
{
    long ticks_while_parked;
    gh_test_set_workers(1);
    gh_test_socketpair(sv);
    ck_assert_int_gt(gh_go(big_writer, NULL), 0);
    ck_assert_int_gt(gh_go(ticker, NULL), 0);
    GH_TEST_WAIT_COUNT(&ready, 1, 5 * GH_SECOND);
    gh_sleep(100 * GH_MILLISECOND);
    /* 4 MiB does not fit in a socketpair's buffers: the writer parked,
     * and the one worker kept running the ticker meanwhile. */
    ck_assert_int_eq(atomic_load(&writer_done), 0);
    ticks_while_parked = atomic_load(&ticks);
    ck_assert_msg(ticks_while_parked >= 5,
                  "ticker ran %ld times while the writer was parked",
                  ticks_while_parked);
    atomic_store(&reader_started, 1);
    ck_assert_int_gt(gh_go(big_reader, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 2, 30 * GH_SECOND);
    ck_assert_int_eq(res[0], (ssize_t)BIG);
    ck_assert_int_eq(res[1], (ssize_t)BIG);
    ck_assert_msg(res[3] == 0, "content differs at byte %zd", res[3] - 1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* gh_wait_fd                                                          */
/* ------------------------------------------------------------------ */

static void wait_fd_g(void *arg)
{
    int64_t t0 = gh_now();
    res[0] = gh_wait_fd(sv[0], GH_IO_READ, t0 + 30 * GH_MILLISECOND);
    took[0] = gh_now() - t0;
    res[1] = gh_wait_fd(sv[0], GH_IO_WRITE, DL(5000));
    atomic_fetch_add(&ready, 1);
    /* Parked until main writes to the other end. */
    res[2] = gh_wait_fd(sv[0], GH_IO_READ, DL(5000));
    res[3] = gh_wait_fd(sv[0], GH_IO_READ | GH_IO_WRITE, DL(5000));
    atomic_fetch_add(&done, 1);
}

START_TEST(netpoll_wait_fd_reports_readiness_and_times_out)
{
    gh_test_socketpair(sv);
    ck_assert_int_gt(gh_go(wait_fd_g, NULL), 0);
    GH_TEST_WAIT_COUNT(&ready, 1, 5 * GH_SECOND);
    ck_assert_int_eq(res[0], GH_ETIMEDOUT);
    ck_assert_int_ge(took[0], 30 * GH_MILLISECOND);
    ck_assert_int_eq(res[1], GH_IO_WRITE);
    gh_sleep(20 * GH_MILLISECOND);
    ck_assert_int_eq(atomic_load(&done), 0);
    ck_assert_int_eq(write(sv[1], "r", 1), 1);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(res[2], GH_IO_READ);
    ck_assert_int_eq(res[3], GH_IO_READ | GH_IO_WRITE);
    /* From main, via poll. */
    ck_assert_int_eq(gh_wait_fd(sv[0], GH_IO_READ, DL(1000)), GH_IO_READ);
    ck_assert_int_eq(gh_wait_fd(sv[1], GH_IO_READ, DL(20)), GH_ETIMEDOUT);
}
END_TEST

/* Descriptors that one poll finds ready are served in the order they
 * became ready, the order of epoll's ready list (libev invokes one
 * iteration's callbacks newest first: served as invoked, the socket that
 * had waited longest would go last). */
#define ORDER_N 16
static int order_sv[ORDER_N][2];
static int order_seen[ORDER_N];
static atomic_int order_next, hog_state;

static void order_reader(void *arg)
{
    int i = (int)(intptr_t)arg;
    char c;

    if (gh_read(order_sv[i][0], &c, 1, DL(10000)) == 1)
        order_seen[atomic_fetch_add(&order_next, 1)] = i;
    atomic_fetch_add(&done, 1);
}

/* Keeps the only worker from polling until main has written to all. */
static void order_hog(void *arg)
{
    int64_t until = gh_now() + 5 * GH_SECOND;

    atomic_store(&hog_state, 1);
    while (atomic_load(&hog_state) == 1 && gh_now() < until)
        ;
    atomic_fetch_add(&done, 1);
}

START_TEST(netpoll_sockets_ready_together_are_served_oldest_first)
{
    int written[ORDER_N];
    int64_t until = gh_now() + 5 * GH_SECOND;
    gh_rt_stats_t st;

    gh_test_set_workers(1);
    for (int i = 0; i < ORDER_N; i++) {
        ck_assert_int_eq(socketpair(AF_UNIX,
                                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                    0, order_sv[i]),
                         0);
        ck_assert_int_gt(gh_go(order_reader, (void *)(intptr_t)i), 0);
    }
    do {
        gh_sleep(GH_MILLISECOND);
        gh_rt_stats(&st);
    } while (st.waiting < ORDER_N && gh_now() < until);
    ck_assert_int_ge(st.waiting, ORDER_N);
    ck_assert_int_gt(gh_go(order_hog, NULL), 0);
    while (atomic_load(&hog_state) == 0 && gh_now() < until)
        gh_sleep(GH_MILLISECOND);
    ck_assert_int_eq(atomic_load(&hog_state), 1);
    /* Neither the descriptors' order nor its reverse. */
    for (int k = 0; k < ORDER_N; k++) {
        written[k] = (k * 7 + 3) % ORDER_N;
        ck_assert_int_eq(write(order_sv[written[k]][1], "x", 1), 1);
    }
    atomic_store(&hog_state, 2);
    GH_TEST_WAIT_COUNT(&done, ORDER_N + 1, 10 * GH_SECOND);
    ck_assert_int_eq(atomic_load(&order_next), ORDER_N);
    for (int k = 0; k < ORDER_N; k++)
        ck_assert_msg(order_seen[k] == written[k],
                      "reader %d ran in place %d, where reader %d (the "
                      "socket that became ready there) belongs",
                      order_seen[k], k, written[k]);
    for (int i = 0; i < ORDER_N; i++) {
        close(order_sv[i][0]);
        close(order_sv[i][1]);
    }
}
END_TEST

/* Two watches that one poll finds ready: the first one's callback stops
 * the second, which has been reported but not served yet.  The stop
 * wins: it says so, and the second callback never runs. */
static gh__iowait_t pair_w[2];
static atomic_int pair_calls[2], pair_armed, pair_stopped;

static void pair_fn(gh__iowait_t *w, int result)
{
    int i = (int)(w - pair_w);

    atomic_fetch_add(&pair_calls[i], 1);
    if (i == 0) /* on the worker's g0, which owns both watches */
        atomic_store(&pair_stopped, gh__fdwatch_stop(&pair_w[1]) ? 1 : -1);
}

static void pair_arm(void *arg)
{
    int ok = 1;

    for (int i = 0; i < 2; i++)
        if (gh__fdwatch_start(&pair_w[i], order_sv[i][0], GH_IO_READ,
                              GH_FOREVER, pair_fn, 0) != 0)
            ok = -1;
    atomic_store(&pair_armed, ok);
}

START_TEST(netpoll_fdwatch_stopped_after_its_report_never_runs)
{
    int64_t until = gh_now() + 5 * GH_SECOND;
    int first, second;

    gh_test_set_workers(1);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(socketpair(AF_UNIX,
                                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                    0, order_sv[i]),
                         0);
    ck_assert_int_gt(gh_go(pair_arm, NULL), 0);
    while (atomic_load(&pair_armed) == 0 && gh_now() < until)
        gh_sleep(GH_MILLISECOND);
    ck_assert_int_eq(atomic_load(&pair_armed), 1);
    ck_assert_int_gt(gh_go(order_hog, NULL), 0);
    while (atomic_load(&hog_state) == 0 && gh_now() < until)
        gh_sleep(GH_MILLISECOND);
    ck_assert_int_eq(atomic_load(&hog_state), 1);
    /* Both ready before the busy worker polls again, the first first. */
    ck_assert_int_eq(write(order_sv[0][1], "x", 1), 1);
    ck_assert_int_eq(write(order_sv[1][1], "x", 1), 1);
    atomic_store(&hog_state, 2);
    GH_TEST_WAIT_COUNT(&done, 1, 10 * GH_SECOND); /* the hog */
    while (atomic_load(&pair_stopped) == 0 && gh_now() < until)
        gh_sleep(GH_MILLISECOND);
    gh_sleep(20 * GH_MILLISECOND);
    first = atomic_load(&pair_calls[0]);
    second = atomic_load(&pair_calls[1]);
    ck_assert_msg(first == 1, "the first watch's callback ran %d times", first);
    ck_assert_msg(atomic_load(&pair_stopped) == 1,
                  "gh__fdwatch_stop said the reported watch had fired");
    ck_assert_msg(second == 0, "the stopped watch's callback ran %d times",
                  second);
    for (int i = 0; i < 2; i++) {
        gh_close(order_sv[i][0]);
        close(order_sv[i][1]);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* Plain threads, EOF, bad descriptors                                 */
/* ------------------------------------------------------------------ */

static void delayed_writer(void *arg)
{
    gh_sleep(50 * GH_MILLISECOND);
    res[0] = gh_write_all(sv[1], "from a goroutine", 16, DL(5000));
    atomic_fetch_add(&done, 1);
}

START_TEST(netpoll_read_from_main_thread_waits_in_poll)
{
    char buf[32] = {0};
    int64_t t0;
    ssize_t r;
    gh_test_socketpair(sv);
    t0 = gh_now();
    ck_assert_int_gt(gh_go(delayed_writer, NULL), 0);
    r = read_full(sv[0], buf, 16, DL(5000));
    ck_assert_int_eq(r, 16);
    ck_assert_int_ge(gh_now() - t0, 50 * GH_MILLISECOND);
    ck_assert_str_eq(buf, "from a goroutine");
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(res[0], 16);
}
END_TEST

static int pfd[2];

static void pipe_reader(void *arg)
{
    char buf[16];
    res[0] = gh_read(pfd[0], buf, sizeof buf, DL(5000));
    res[1] = gh_read(pfd[0], buf, sizeof buf, DL(5000));
    atomic_fetch_add(&done, 1);
}

START_TEST(netpoll_read_on_pipe_at_eof_returns_zero)
{
    char buf[16];
    gh_test_pipe(pfd);
    ck_assert_int_eq(write(pfd[1], "abc", 3), 3);
    ck_assert_int_gt(gh_go(pipe_reader, NULL), 0);
    gh_sleep(30 * GH_MILLISECOND);
    close(pfd[1]);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(res[0], 3);
    ck_assert_int_eq(res[1], 0);
    /* Main thread too, and again. */
    ck_assert_int_eq(gh_read(pfd[0], buf, sizeof buf, DL(1000)), 0);
    ck_assert_int_eq(gh_close(pfd[0]), 0);
}
END_TEST

static int bad_fd;

static void bad_fd_g(void *arg)
{
    char buf[4];
    res[0] = gh_read(bad_fd, buf, sizeof buf, DL(1000));
    res[1] = gh_write(bad_fd, "x", 1, DL(1000));
    atomic_fetch_add(&done, 1);
}

START_TEST(netpoll_read_on_bad_fd_is_ebadf)
{
    char buf[4];
    /* A descriptor number that is not open, and that the runtime (which
     * opens descriptors of its own when it starts) will not take: the
     * highest one allowed. */
    bad_fd = getdtablesize() - 1;
    ck_assert_int_gt(bad_fd, 2);
    ck_assert_int_eq(fcntl(bad_fd, F_GETFD), -1);
    ck_assert_int_eq(gh_read(bad_fd, buf, sizeof buf, DL(1000)), GH_EBADF);
    ck_assert_int_eq(gh_read(-1, buf, sizeof buf, DL(1000)), GH_EBADF);
    ck_assert_int_gt(gh_go(bad_fd_g, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(fcntl(bad_fd, F_GETFD), -1);
    ck_assert_msg(res[0] == GH_EBADF, "gh_read = %zd (%s)", res[0],
                  gh_err_name((int)res[0]));
    ck_assert_msg(res[1] == GH_EBADF, "gh_write = %zd (%s)", res[1],
                  gh_err_name((int)res[1]));
    ck_assert_int_eq(gh_set_nonblock(bad_fd), GH_EBADF);
}
END_TEST

static Suite *netpoll_suite(void)
{
    Suite *s = suite_create("netpoll");
    TCase *tc;

    tc = tcase_create("socketpair");
    gh_test_tcase_setup(tc, 60);
    tcase_add_test(tc, netpoll_socketpair_ping_pong_10k_round_trips);
    tcase_add_test(tc, netpoll_writev_and_readv_move_scattered_data);
    tcase_add_test(tc, netpoll_send_recv_and_epipe_without_sigpipe);
    tcase_add_test(tc, netpoll_large_write_parks_writer_until_reader_drains);
    tcase_add_test(tc, netpoll_sendfile_sends_a_whole_file_through_a_socket);
    suite_add_tcase(s, tc);

    tc = tcase_create("deadlines");
    gh_test_tcase_setup(tc, 20);
    tcase_add_test(tc, netpoll_read_deadline_on_idle_socket_times_out);
    tcase_add_test(tc, netpoll_accept_deadline_times_out);
    tcase_add_test(tc, netpoll_wait_fd_reports_readiness_and_times_out);
    suite_add_tcase(s, tc);

    tc = tcase_create("order");
    gh_test_tcase_setup(tc, 20);
    tcase_add_test(tc, netpoll_sockets_ready_together_are_served_oldest_first);
    tcase_add_test(tc, netpoll_fdwatch_stopped_after_its_report_never_runs);
    suite_add_tcase(s, tc);

    tc = tcase_create("close");
    gh_test_tcase_setup(tc, 20);
    tcase_add_test(tc,
                   netpoll_close_from_goroutine_wakes_parked_reader_with_eclosed);
    tcase_add_test(tc, netpoll_close_from_main_wakes_parked_reader_with_eclosed);
    tcase_add_test(tc, netpoll_second_concurrent_reader_gets_ebusy);
    tcase_add_test(tc, netpoll_close_wakes_a_plain_thread_waiting_in_poll);
    tcase_add_test(tc,
                   netpoll_close_wakes_a_waiting_thread_out_of_descriptors);
    tcase_add_test(tc, netpoll_peer_close_wakes_parked_reader_with_eof);
    suite_add_tcase(s, tc);

    tc = tcase_create("tcp");
    gh_test_tcase_setup(tc, 30);
    tcase_add_test(tc, netpoll_tcp_accept_connect_echo_over_loopback);
    tcase_add_test(tc, netpoll_connect_to_closed_port_is_econnrefused);
    tcase_add_test(tc, netpoll_socket_is_nonblocking_and_cloexec);
    tcase_add_test(tc, netpoll_udp_sendto_recvfrom);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    gh_test_tcase_setup(tc, 20);
    tcase_add_test(tc, netpoll_read_from_main_thread_waits_in_poll);
    tcase_add_test(tc, netpoll_read_on_pipe_at_eof_returns_zero);
    tcase_add_test(tc, netpoll_read_on_bad_fd_is_ebadf);
    suite_add_tcase(s, tc);

    return s;
}

GH_CHECK_MAIN(netpoll_suite)
