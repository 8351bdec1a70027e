/*
 * ivy_bench: the ivy-bench scenarios written against the C API of ivy-c 3.15
 * (Ivy/ivy.h, Ivy/ivyloop.h, Ivy/timer.h). Built once, it runs against any
 * libivy.so.3 found on the library path (ours, or ivy-c's), without recompiling:
 *
 *   LD_LIBRARY_PATH=/path/to/other/lib ./ivy_bench [--scenario NAME|all]
 *       [--messages N] [--runs K] [--port-base P] [--timeout S]
 *
 * Scenarios: 1to1-20B, 1to1-1KiB, 1to10-20B, regexps-1000, rtt, mesh-50 (and
 * "all"). Every agent is a process of its own: the program re-executes itself
 * (/proc/self/exe) with "--role NAME --key value ...", and each role prints one
 * "IVYBENCH role=... key=value ..." line at the end. The roles are the same as
 * those of the Rust ivy-bench (src/bin/ivy-bench/roles.rs), so ivy-bench can also
 * drive them: `ivy-bench --c-bench ./ivy_bench --scenario c` (which adds the raw
 * TCP baseline, the idle agent and the JSON report).
 *
 * Protocol between roles: subscriber I binds ^topicNNNN (.*) for NNNN in 0..R-1
 * (only the last one is sent to), sends "ack I COUNT" every A messages and on each
 * connection; the sender (from timer and acknowledgement callbacks on the loop:
 * the C API is single-threaded) keeps at most W messages beyond the slowest
 * acknowledgement. Message: "topicNNNN " + 10-digit sequence number [+ " " +
 * filler]. Subscribers check the order and sum a checksum of the bodies.
 */
#define _GNU_SOURCE /* memmem */
#include <Ivy/ivy.h>
#include <Ivy/ivyloop.h>
#include <Ivy/timer.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../spawn.h"

/* ============================== common ==================================== */

static const char *role_name = "main";

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One little-endian 64-bit word of `n` <= 8 bytes at p (zero-padded). */
static uint64_t le_word(const char *p, size_t n)
{
    unsigned char b[8] = {0};
    memcpy(b, p, n);
    uint64_t w;
    memcpy(&w, b, sizeof w);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* Same as util::hash64 of ivy-bench, 8 bytes at a time as it does (the
 * benchmark's own cost per message is kept as small as the Rust roles'). */
static uint64_t hash64(const char *data, size_t len)
{
    const uint64_t k = 0x9E3779B97F4A7C15ull;
    uint64_t h = 0xCBF29CE484222325ull ^ (uint64_t)len;
    for (size_t i = 0; i < len; i += 8) {
        h = (h ^ le_word(data + i, len - i < 8 ? len - i : 8)) * k;
        h ^= h >> 32;
    }
    return h;
}

/* 'a' + j % 26 for j in 0..FILLER: the filler letters of every body, copied
 * from here as ivy-bench's util::Bodies does. */
static char *filler;
static size_t filler_len;

/* Body for sequence number seq: 10 digits [+ ' ' + 'a'+(seq+i)%26 ...]. */
static void fill_body(char *body, size_t len, uint64_t seq)
{
    uint64_t n = seq;
    size_t d = len < 10 ? len : 10;
    for (size_t i = d; i > 0; i--) {
        body[i - 1] = (char)('0' + n % 10);
        n /= 10;
    }
    if (len > 10) {
        if (filler_len < len + 26) {
            free(filler);
            filler_len = len + 26;
            filler = (char *)malloc(filler_len);
            if (filler == NULL)
                abort();
            for (size_t j = 0; j < filler_len; j++)
                filler[j] = (char)('a' + j % 26);
        }
        body[10] = ' ';
        memcpy(body + 11, filler + seq % 26, len - 11);
    }
    body[len] = '\0';
}

static void emit_usage(char *out, size_t cap)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    snprintf(out, cap, " cpu_user_us=%llu cpu_sys_us=%llu maxrss_kb=%ld vcsw=%ld ivcsw=%ld",
             (unsigned long long)ru.ru_utime.tv_sec * 1000000ull + (unsigned long long)ru.ru_utime.tv_usec,
             (unsigned long long)ru.ru_stime.tv_sec * 1000000ull + (unsigned long long)ru.ru_stime.tv_usec,
             ru.ru_maxrss, ru.ru_nvcsw, ru.ru_nivcsw);
}

/* Prints "IVYBENCH role=R <fields> <rusage>" and flushes. */
static void emit_result(const char *fmt, ...)
{
    char fields[1024], usage[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fields, sizeof fields, fmt, ap);
    va_end(ap);
    emit_usage(usage, sizeof usage);
    printf("IVYBENCH role=%s %s%s\n", role_name, fields, usage);
    fflush(stdout);
}

static void on_alarm(int sig)
{
    (void)sig;
    char line[128];
    int n = snprintf(line, sizeof line, "IVYBENCH role=%s error=timeout\n", role_name);
    if (write(1, line, (size_t)n) < 0) { /* nothing more to do */ }
    _exit(3);
}

static void fail(const char *why)
{
    printf("IVYBENCH role=%s error=%s\n", role_name, why);
    fflush(stdout);
    exit(2);
}

/* --key value arguments of a role. */
static int role_argc;
static char **role_argv;

static const char *arg_str(const char *key, const char *dflt)
{
    for (int i = 0; i + 1 < role_argc; i += 2)
        if (strncmp(role_argv[i], "--", 2) == 0 && strcmp(role_argv[i] + 2, key) == 0)
            return role_argv[i + 1];
    if (!dflt) {
        char why[128];
        snprintf(why, sizeof why, "missing_--%s", key);
        fail(why);
    }
    return dflt;
}

static uint64_t arg_u64(const char *key, const char *dflt)
{
    return strtoull(arg_str(key, dflt), NULL, 10);
}

static int parse_seq(const char *s, uint64_t *out)
{
    uint64_t n = 0;
    int i = 0;
    for (; s[i] >= '0' && s[i] <= '9' && i < 19; i++)
        n = n * 10 + (uint64_t)(s[i] - '0');
    *out = n;
    return i > 0;
}

/* Standard input: any input calls on_stdin_input, its end (the orchestrator
 * closes it) stops the loop. */
static void (*on_stdin_input)(void) = NULL;

static void stdin_read(Channel ch, IVY_HANDLE fd, void *data)
{
    (void)data;
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) {
        IvyChannelRemove(ch);
        IvyStop();
    } else if (on_stdin_input)
        on_stdin_input();
}

static void watch_stdin(void)
{
    IvyChannelAdd(0, NULL, NULL, stdin_read, NULL);
}

/* ============================== sub ======================================= */

static struct {
    uint64_t index, want, count, checksum, t_first, t_last, errors, ack;
    int done;
} sub;

static void sub_on_msg(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)app;
    (void)data;
    uint64_t now, seq;
    if (sub.done)
        return;
    /* The clock only for the first and the last message. */
    now = sub.count == 0 || sub.count + 1 == sub.want ? now_ns() : 0;
    if (argc < 1) {
        sub.errors++;
        return;
    }
    size_t len = strlen(argv[0]);
    if (len < 10 || !parse_seq(argv[0], &seq) || seq != sub.count)
        sub.errors++;
    if (sub.count == 0)
        sub.t_first = now;
    sub.count++;
    if (now)
        sub.t_last = now;
    sub.checksum += hash64(argv[0], len);
    if (sub.count % sub.ack == 0 || sub.count == sub.want)
        IvySendMsg("ack %llu %llu", (unsigned long long)sub.index, (unsigned long long)sub.count);
    if (sub.count == sub.want) {
        sub.done = 1;
        IvyStop();
    }
}

static void sub_on_decoy(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)app;
    (void)data;
    (void)argc;
    (void)argv;
    sub.errors++;
}

static void sub_on_app(IvyClientPtr app, void *data, IvyApplicationEvent event)
{
    (void)app;
    (void)data;
    if (event == IvyApplicationConnected)
        IvySendMsg("ack %llu %llu", (unsigned long long)sub.index, (unsigned long long)sub.count);
}

static int role_sub(void)
{
    char name[64];
    sub.index = arg_u64("index", NULL);
    sub.want = arg_u64("count", NULL);
    sub.ack = arg_u64("ack", "1024");
    uint64_t regexps = arg_u64("regexps", "1");
    if (regexps < 1)
        regexps = 1;
    if (sub.ack < 1)
        sub.ack = 1;
    snprintf(name, sizeof name, "bench-sub-%llu", (unsigned long long)sub.index);
    IvyInit(name, NULL, sub_on_app, NULL, NULL, NULL);
    for (uint64_t r = 0; r < regexps; r++)
        IvyBindMsg(r + 1 == regexps ? sub_on_msg : sub_on_decoy, NULL, "^topic%04llu (.*)", (unsigned long long)r);
    IvyStart(arg_str("bus", NULL));
    IvyMainLoop();
    emit_result("index=%llu count=%llu checksum=%016llx errors=%llu t_first=%llu t_last=%llu",
                (unsigned long long)sub.index, (unsigned long long)sub.count, (unsigned long long)sub.checksum,
                (unsigned long long)sub.errors, (unsigned long long)sub.t_first, (unsigned long long)sub.t_last);
    return 0;
}

/* ============================== send ====================================== */

#define MAX_SUBS 64

static struct {
    uint64_t subs, want, window, batch, sent, matched, checksum, t_start, t_sent, t_acked, stalls;
    int64_t acks[MAX_SUBS];
    int64_t min;
    uint64_t fifo_full, congestion, disconnected;
    int pump_scheduled;
    char *msg;
    size_t off, body_len;
} snd;

static void pump(void);

static void pump_timer(TimerId id, void *data, unsigned long delta)
{
    (void)id;
    (void)data;
    (void)delta;
    snd.pump_scheduled = 0;
    pump();
}

static void pump(void)
{
    uint64_t n = 0;
    if (snd.sent >= snd.want || snd.min < 0)
        return;
    if (snd.t_start == 0)
        snd.t_start = now_ns();
    while (snd.sent < snd.want && (int64_t)snd.sent - snd.min < (int64_t)snd.window && n < snd.batch) {
        fill_body(snd.msg + snd.off, snd.body_len, snd.sent);
        snd.checksum += hash64(snd.msg + snd.off, snd.body_len);
        snd.matched += (uint64_t)IvySendMsg("%s", snd.msg);
        snd.sent++;
        n++;
    }
    if (snd.sent == snd.want)
        snd.t_sent = now_ns();
    else if (n == snd.batch) {
        if (!snd.pump_scheduled) {
            snd.pump_scheduled = 1;
            TimerRepeatAfter(1, 0, pump_timer, NULL);
        }
    } else
        snd.stalls++;
}

static void snd_on_ack(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)app;
    (void)data;
    uint64_t i, c;
    if (argc < 2 || !parse_seq(argv[0], &i) || !parse_seq(argv[1], &c) || i >= snd.subs)
        return;
    if ((int64_t)c > snd.acks[i])
        snd.acks[i] = (int64_t)c;
    int64_t min = snd.acks[0];
    for (uint64_t k = 1; k < snd.subs; k++)
        if (snd.acks[k] < min)
            min = snd.acks[k];
    snd.min = min;
    if (min == (int64_t)snd.want) {
        snd.t_acked = now_ns();
        IvyStop();
    } else if (min >= 0)
        pump();
}

static void snd_on_app(IvyClientPtr app, void *data, IvyApplicationEvent event)
{
    (void)app;
    (void)data;
    if (event == IvyApplicationFifoFull)
        snd.fifo_full++;
    else if (event == IvyApplicationCongestion)
        snd.congestion++;
    else if (event == IvyApplicationDisconnected)
        snd.disconnected++;
}

static int role_send(void)
{
    snd.subs = arg_u64("subs", NULL);
    snd.want = arg_u64("count", NULL);
    snd.window = arg_u64("window", "65536");
    snd.batch = arg_u64("batch", "4096");
    uint64_t size = arg_u64("size", "20"), regexps = arg_u64("regexps", "1");
    if (snd.subs < 1 || snd.subs > MAX_SUBS)
        fail("subs_out_of_range");
    if (regexps < 1)
        regexps = 1;
    if (snd.batch < 1)
        snd.batch = 1;
    char topic[32];
    snprintf(topic, sizeof topic, "topic%04llu", (unsigned long long)(regexps - 1));
    snd.off = strlen(topic) + 1;
    snd.body_len = size > snd.off + 10 ? size - snd.off : 10;
    snd.msg = malloc(snd.off + snd.body_len + 1);
    if (!snd.msg)
        fail("malloc");
    memcpy(snd.msg, topic, snd.off - 1);
    snd.msg[snd.off - 1] = ' ';
    snd.min = -1;
    for (uint64_t k = 0; k < snd.subs; k++)
        snd.acks[k] = -1;
    IvyInit("bench-sender", NULL, snd_on_app, NULL, NULL, NULL);
    IvyBindMsg(snd_on_ack, NULL, "^ack ([0-9]+) ([0-9]+)");
    IvyStart(arg_str("bus", NULL));
    IvyMainLoop();
    emit_result("mode=loop sent=%llu matched=%llu checksum=%016llx t_start=%llu t_sent=%llu t_acked=%llu "
                "stalls=%llu fifo_full=%llu congestion=%llu disconnected=%llu",
                (unsigned long long)snd.sent, (unsigned long long)snd.matched, (unsigned long long)snd.checksum,
                (unsigned long long)snd.t_start, (unsigned long long)snd.t_sent, (unsigned long long)snd.t_acked,
                (unsigned long long)snd.stalls, (unsigned long long)snd.fifo_full,
                (unsigned long long)snd.congestion, (unsigned long long)snd.disconnected);
    free(snd.msg);
    return 0;
}

/* ============================== rtt ======================================= */

static struct {
    uint64_t want, warmup, seq, t_send, n, errors;
    uint64_t *samples;
    int started;
} rtt;

static void rtt_on_pong(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)app;
    (void)data;
    uint64_t now = now_ns(), seq;
    if (argc < 1)
        return;
    if (strcmp(argv[0], "hello") == 0) {
        if (!rtt.started) {
            rtt.started = 1;
            rtt.t_send = now_ns();
            IvySendMsg("ping 0");
        }
        return;
    }
    if (!parse_seq(argv[0], &seq) || seq != rtt.seq)
        rtt.errors++;
    if (rtt.seq >= rtt.warmup)
        rtt.samples[rtt.n++] = now - rtt.t_send;
    rtt.seq++;
    if (rtt.seq < rtt.warmup + rtt.want) {
        char m[64];
        snprintf(m, sizeof m, "ping %llu", (unsigned long long)rtt.seq);
        rtt.t_send = now_ns();
        IvySendMsg("%s", m);
    } else {
        IvySendMsg("ping quit");
        IvyStop();
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *v, uint64_t n, double p)
{
    if (n == 0)
        return 0;
    uint64_t rank = (uint64_t)(p / 100.0 * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

static int role_rtt_req(void)
{
    rtt.want = arg_u64("count", NULL);
    rtt.warmup = arg_u64("warmup", "1000");
    rtt.samples = calloc(rtt.want + 1, sizeof *rtt.samples);
    if (!rtt.samples)
        fail("malloc");
    IvyInit("bench-rtt-req", NULL, NULL, NULL, NULL, NULL);
    IvyBindMsg(rtt_on_pong, NULL, "^pong (.*)");
    IvyStart(arg_str("bus", NULL));
    IvyMainLoop();
    qsort(rtt.samples, rtt.n, sizeof *rtt.samples, cmp_u64);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < rtt.n; i++)
        sum += rtt.samples[i];
    emit_result("count=%llu min_ns=%llu mean_ns=%llu p50_ns=%llu p90_ns=%llu p99_ns=%llu max_ns=%llu errors=%llu",
                (unsigned long long)rtt.n, (unsigned long long)(rtt.n ? rtt.samples[0] : 0),
                (unsigned long long)(rtt.n ? sum / rtt.n : 0), (unsigned long long)pct(rtt.samples, rtt.n, 50),
                (unsigned long long)pct(rtt.samples, rtt.n, 90), (unsigned long long)pct(rtt.samples, rtt.n, 99),
                (unsigned long long)(rtt.n ? rtt.samples[rtt.n - 1] : 0), (unsigned long long)rtt.errors);
    free(rtt.samples);
    return 0;
}

static void echo_on_ping(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)app;
    (void)data;
    if (argc < 1)
        return;
    if (strcmp(argv[0], "quit") == 0) {
        IvyStop();
        return;
    }
    IvySendMsg("pong %s", argv[0]);
}

static void echo_on_app(IvyClientPtr app, void *data, IvyApplicationEvent event)
{
    (void)app;
    (void)data;
    if (event == IvyApplicationConnected)
        IvySendMsg("pong hello");
}

static int role_rtt_echo(void)
{
    IvyInit("bench-rtt-echo", NULL, echo_on_app, NULL, NULL, NULL);
    IvyBindMsg(echo_on_ping, NULL, "^ping (.*)");
    IvyStart(arg_str("bus", NULL));
    IvyMainLoop();
    emit_result("ok=1");
    return 0;
}

/* ============================== idle, mesh ================================ */

static void idle_on_app(IvyClientPtr app, void *data, IvyApplicationEvent event)
{
    (void)app;
    (void)data;
    if (event == IvyApplicationConnected) {
        printf("IVYBENCH-EVENT connected\n");
        fflush(stdout);
    }
}

static void idle_on_msg(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)app;
    (void)data;
    (void)argc;
    (void)argv;
}

static int role_idle(void)
{
    char name[64];
    snprintf(name, sizeof name, "bench-idle-%s", arg_str("index", "0"));
    IvyInit(name, NULL, idle_on_app, NULL, NULL, NULL);
    IvyBindMsg(idle_on_msg, NULL, "^never (.*)");
    watch_stdin();
    IvyStart(arg_str("bus", NULL));
    IvyMainLoop();
    emit_result("ok=1");
    return 0;
}

#define MAX_AGENTS 256

/* Peers whose Connected event came (and no Disconnected since), by handle. */
static struct {
    uint64_t index, agents, t_start, t_full, connected_events, disconnected_events, orphan_disconnects, max_dup;
    IvyClientPtr apps[MAX_AGENTS * 2];
    char *names[MAX_AGENTS * 2];
    int n;
} mesh;

static int mesh_distinct(void)
{
    int d = 0;
    for (int i = 0; i < mesh.n; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= strcmp(mesh.names[i], mesh.names[j]) == 0;
        d += !seen;
    }
    return d;
}

static void mesh_on_app(IvyClientPtr app, void *data, IvyApplicationEvent event)
{
    (void)data;
    int i = 0;
    while (i < mesh.n && mesh.apps[i] != app)
        i++;
    if (event == IvyApplicationConnected) {
        const char *name = IvyGetApplicationName(app);
        mesh.connected_events++;
        if (i == mesh.n && mesh.n < MAX_AGENTS * 2) {
            mesh.apps[i] = app;
            mesh.names[i] = strdup(name);
            mesh.n++;
        }
        uint64_t same = 0;
        for (int j = 0; j < mesh.n; j++)
            same += strcmp(mesh.names[j], name) == 0;
        if (same - 1 > mesh.max_dup)
            mesh.max_dup = same - 1;
        if (mesh.t_full == 0 && (uint64_t)mesh_distinct() >= mesh.agents - 1) {
            mesh.t_full = now_ns();
            printf("IVYBENCH-FULL index=%llu t_full=%llu\n", (unsigned long long)mesh.index,
                   (unsigned long long)mesh.t_full);
            fflush(stdout);
        }
    } else if (event == IvyApplicationDisconnected) {
        mesh.disconnected_events++;
        if (i == mesh.n) {
            mesh.orphan_disconnects++;
            return;
        }
        free(mesh.names[i]);
        mesh.n--;
        mesh.apps[i] = mesh.apps[mesh.n];
        mesh.names[i] = mesh.names[mesh.n];
    }
}

static void mesh_report(void)
{
    /* Final peer list: "name,name,...," (each followed by the separator). */
    char *list = strdup(IvyGetApplicationList(","));
    int peers = 0, distinct = 0;
    char *seen[MAX_AGENTS];
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        peers++;
        int dup = 0;
        for (int i = 0; i < distinct; i++)
            dup |= strcmp(seen[i], tok) == 0;
        if (!dup && distinct < MAX_AGENTS)
            seen[distinct++] = tok;
    }
    emit_result("index=%llu t_start=%llu t_full=%llu peers=%d distinct=%d duplicates=%d max_dup_seen=%llu "
                "connected_events=%llu disconnected_events=%llu orphan_disconnects=%llu",
                (unsigned long long)mesh.index, (unsigned long long)mesh.t_start, (unsigned long long)mesh.t_full,
                peers, distinct, peers - distinct, (unsigned long long)mesh.max_dup,
                (unsigned long long)mesh.connected_events, (unsigned long long)mesh.disconnected_events,
                (unsigned long long)mesh.orphan_disconnects);
    free(list);
}

static int role_mesh(void)
{
    char name[64], go[16];
    size_t len = 0;
    mesh.index = arg_u64("index", NULL);
    mesh.agents = arg_u64("agents", NULL);
    snprintf(name, sizeof name, "bench-mesh-%03llu", (unsigned long long)mesh.index);
    IvyInit(name, NULL, mesh_on_app, NULL, NULL, NULL);
    on_stdin_input = mesh_report;
    watch_stdin();
    printf("IVYBENCH-ARMED index=%llu\n", (unsigned long long)mesh.index);
    fflush(stdout);
    while (len + 1 < sizeof go) { /* one line, unbuffered: the loop watches fd 0 later */
        char c;
        if (read(0, &c, 1) != 1 || c == '\n')
            break;
        go[len++] = c;
    }
    go[len] = '\0';
    if (strcmp(go, "go") != 0)
        fail("expected_go");
    mesh.t_start = now_ns();
    IvyStart(arg_str("bus", NULL));
    IvyMainLoop();
    return 0;
}

static int run_role(const char *role, int argc, char **argv)
{
    role_name = role;
    role_argc = argc;
    role_argv = argv;
    signal(SIGALRM, on_alarm);
    if (strcmp(role, "idle") != 0)
        alarm((unsigned)arg_u64("timeout", "60"));
    static const struct {
        const char *name;
        int (*run)(void);
    } roles[] = {
        {"sub", role_sub},           {"send", role_send}, {"rtt-req", role_rtt_req},
        {"rtt-echo", role_rtt_echo}, {"idle", role_idle}, {"mesh", role_mesh},
    };
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(role, roles[i].name) == 0)
            return roles[i].run();
    fail("unknown_role");
    return 2;
}

/* ============================== orchestrator ============================== */

typedef struct {
    pid_t pid;
    int out, in;
    char buf[16384];
    size_t len;
    int done;
} agent_t;

static char self_exe[4096];
static unsigned opt_timeout = 60;
static unsigned port_next;

static int spawn_role(agent_t *a, const char *role, ...)
{
    char *argv[64];
    int argc = 0;
    va_list ap;
    argv[argc++] = self_exe;
    argv[argc++] = (char *)"--role";
    argv[argc++] = (char *)role;
    va_start(ap, role);
    for (char *s = va_arg(ap, char *); s && argc < 62; s = va_arg(ap, char *))
        argv[argc++] = s;
    va_end(ap);
    argv[argc] = NULL;
    memset(a, 0, sizeof *a);
    a->pid = spawn_piped(argv, &a->in, &a->out);
    return a->pid < 0 ? -1 : 0;
}

/* Next line of `a` starting with `prefix` into `line`; 0 on success. */
static int agent_line(agent_t *a, const char *prefix, char *line, size_t cap, uint64_t deadline)
{
    for (;;) {
        char *nl;
        while ((nl = memchr(a->buf, '\n', a->len)) != NULL) {
            size_t n = (size_t)(nl - a->buf);
            int match = strncmp(a->buf, prefix, strlen(prefix)) == 0;
            int error = strncmp(a->buf, "IVYBENCH ", 9) == 0 && memmem(a->buf, n, " error=", 7) != NULL;
            if (match || error) {
                size_t c = n < cap - 1 ? n : cap - 1;
                memcpy(line, a->buf, c);
                line[c] = '\0';
            }
            memmove(a->buf, nl + 1, a->len - n - 1);
            a->len -= n + 1;
            if (error) {
                fprintf(stderr, "agent %d: %s\n", (int)a->pid, line);
                return -1;
            }
            if (match)
                return 0;
        }
        uint64_t now = now_ns();
        if (now >= deadline || a->len == sizeof a->buf) {
            fprintf(stderr, "agent %d: timeout waiting for %s\n", (int)a->pid, prefix);
            return -1;
        }
        struct pollfd p = {a->out, POLLIN, 0};
        int r = poll(&p, 1, (int)((deadline - now) / 1000000 + 1));
        if (r < 0 && errno != EINTR)
            return -1;
        if (r > 0) {
            ssize_t n = read(a->out, a->buf + a->len, sizeof a->buf - a->len);
            if (n <= 0) {
                fprintf(stderr, "agent %d: exited before %s\n", (int)a->pid, prefix);
                return -1;
            }
            a->len += (size_t)n;
        }
    }
}

static void agent_close_stdin(agent_t *a)
{
    if (a->in >= 0) {
        close(a->in);
        a->in = -1;
    }
}

static void agent_reap(agent_t *a)
{
    agent_close_stdin(a);
    if (a->pid > 0) {
        int status;
        uint64_t until = now_ns() + 2000000000ull;
        while (waitpid(a->pid, &status, WNOHANG) == 0) {
            if (now_ns() > until) {
                kill(a->pid, SIGKILL);
                waitpid(a->pid, &status, 0);
                break;
            }
            usleep(2000);
        }
        a->pid = 0;
    }
    if (a->out >= 0)
        close(a->out);
    a->out = -1;
}

static int field(const char *line, const char *key, char *val, size_t cap)
{
    size_t k = strlen(key);
    for (const char *p = line; (p = strstr(p, key)) != NULL; p += k) {
        if ((p == line || p[-1] == ' ') && p[k] == '=') {
            const char *v = p + k + 1;
            size_t n = strcspn(v, " ");
            if (n >= cap)
                n = cap - 1;
            memcpy(val, v, n);
            val[n] = '\0';
            return 1;
        }
    }
    val[0] = '\0';
    return 0;
}

static double fnum(const char *line, const char *key)
{
    char v[64];
    return field(line, key, v, sizeof v) ? strtod(v, NULL) : -1.0;
}

static double cpu_s(const char *line)
{
    return (fnum(line, "cpu_user_us") + fnum(line, "cpu_sys_us")) / 1e6;
}

static void next_bus(char *bus, size_t cap)
{
    snprintf(bus, cap, "127.255.255.255:%u", port_next);
    port_next = port_next >= 60000 ? 20000 : port_next + 1;
}

/* One 1 -> subs run; fills msgs/s and CPU µs per message; 0 on success. */
static int run_throughput(unsigned subs, uint64_t count, unsigned size, unsigned regexps, double *out)
{
    static agent_t sa[MAX_SUBS + 1];
    char bus[64], idx[16], cnt[24], re[16], ack[24], win[24], sz[16], ns[16], to[16];
    char line[2048], sline[MAX_SUBS][2048];
    uint64_t deadline = now_ns() + (uint64_t)opt_timeout * 1000000000ull;
    uint64_t window = (4u << 20) / (size + 8);
    int ok = 0;
    window = window > 65536 ? 65536 : window < 256 ? 256 : window;
    next_bus(bus, sizeof bus);
    snprintf(cnt, sizeof cnt, "%llu", (unsigned long long)count);
    snprintf(re, sizeof re, "%u", regexps);
    snprintf(ack, sizeof ack, "%llu", (unsigned long long)(window / 8));
    snprintf(win, sizeof win, "%llu", (unsigned long long)window);
    snprintf(sz, sizeof sz, "%u", size);
    snprintf(ns, sizeof ns, "%u", subs);
    snprintf(to, sizeof to, "%u", opt_timeout + 5);
    for (unsigned i = 0; i < subs; i++) {
        snprintf(idx, sizeof idx, "%u", i);
        spawn_role(&sa[i], "sub", "--bus", bus, "--index", idx, "--count", cnt, "--regexps", re, "--ack", ack,
                   "--timeout", to, (char *)NULL);
    }
    spawn_role(&sa[subs], "send", "--bus", bus, "--subs", ns, "--count", cnt, "--size", sz, "--regexps", re,
               "--window", win, "--timeout", to, (char *)NULL);
    if (agent_line(&sa[subs], "IVYBENCH ", line, sizeof line, deadline) != 0)
        goto out;
    for (unsigned i = 0; i < subs; i++)
        if (agent_line(&sa[i], "IVYBENCH ", sline[i], sizeof sline[i], deadline) != 0)
            goto out;
    {
        char sum[40], ssum[40];
        double t_last = 0, sub_cpu = 0;
        field(line, "checksum", sum, sizeof sum);
        if (fnum(line, "sent") != (double)count || fnum(line, "matched") != (double)count * subs ||
            fnum(line, "fifo_full") != 0) {
            fprintf(stderr, "sender: %s\n", line);
            goto out;
        }
        for (unsigned i = 0; i < subs; i++) {
            field(sline[i], "checksum", ssum, sizeof ssum);
            if (fnum(sline[i], "count") != (double)count || fnum(sline[i], "errors") != 0 || strcmp(sum, ssum)) {
                fprintf(stderr, "subscriber %u lost or corrupted messages: %s\n", i, sline[i]);
                goto out;
            }
            if (fnum(sline[i], "t_last") > t_last)
                t_last = fnum(sline[i], "t_last");
            if (cpu_s(sline[i]) > sub_cpu)
                sub_cpu = cpu_s(sline[i]);
        }
        double elapsed = (t_last - fnum(line, "t_start")) / 1e9;
        out[0] = (double)count / elapsed;
        out[1] = out[0] * subs;
        out[2] = cpu_s(line) * 1e6 / (double)count;
        out[3] = sub_cpu * 1e6 / (double)count;
        ok = 1;
    }
out:
    for (unsigned i = 0; i <= subs; i++)
        agent_reap(&sa[i]);
    return ok ? 0 : -1;
}

static int run_rtt(uint64_t count, double *out)
{
    agent_t echo, req;
    char bus[64], cnt[24], to[16], line[2048];
    uint64_t deadline = now_ns() + (uint64_t)opt_timeout * 1000000000ull;
    int ok = 0;
    next_bus(bus, sizeof bus);
    snprintf(cnt, sizeof cnt, "%llu", (unsigned long long)count);
    snprintf(to, sizeof to, "%u", opt_timeout + 5);
    spawn_role(&echo, "rtt-echo", "--bus", bus, "--timeout", to, (char *)NULL);
    spawn_role(&req, "rtt-req", "--bus", bus, "--count", cnt, "--timeout", to, (char *)NULL);
    if (agent_line(&req, "IVYBENCH ", line, sizeof line, deadline) == 0 && fnum(line, "errors") == 0 &&
        fnum(line, "count") == (double)count) {
        out[0] = fnum(line, "p50_ns") / 1e3;
        out[1] = fnum(line, "p90_ns") / 1e3;
        out[2] = fnum(line, "p99_ns") / 1e3;
        out[3] = cpu_s(line) * 1e6 / (double)count;
        ok = 1;
    }
    agent_reap(&req);
    agent_reap(&echo);
    return ok ? 0 : -1;
}

/* Writes `text` to the standard input of each of the `n` agents; 0 on success. */
static int tell_all(agent_t *a, unsigned n, const char *text)
{
    ssize_t len = (ssize_t)strlen(text);
    for (unsigned i = 0; i < n; i++)
        if (write(a[i].in, text, (size_t)len) != len)
            return -1;
    return 0;
}

/* The sum and the largest value of a field over the lines of several agents. */
struct field_total {
    double sum, max;
};

/* Waits for the line of each of the `n` agents that starts with `prefix`,
 * totalling their field `key` (none when NULL) in *total; 0 on success. */
static int lines_of_all(agent_t *a, unsigned n, const char *prefix, const char *key, uint64_t deadline,
                        struct field_total *total)
{
    char line[2048];
    total->sum = total->max = 0;
    for (unsigned i = 0; i < n; i++) {
        if (agent_line(&a[i], prefix, line, sizeof line, deadline) != 0)
            return -1;
        double v = key != NULL ? fnum(line, key) : 0;
        total->sum += v;
        if (v > total->max)
            total->max = v;
    }
    return 0;
}

static int run_mesh(unsigned agents, double *out)
{
    static agent_t ma[MAX_AGENTS];
    char bus[64], idx[16], na[16], to[16];
    uint64_t deadline = now_ns() + (uint64_t)opt_timeout * 1000000000ull, t_go;
    struct field_total armed, full, report;
    int ok = 0;
    unsigned spawned = 0;
    next_bus(bus, sizeof bus);
    snprintf(na, sizeof na, "%u", agents);
    snprintf(to, sizeof to, "%u", opt_timeout + 5);
    for (; spawned < agents; spawned++) {
        snprintf(idx, sizeof idx, "%u", spawned);
        if (spawn_role(&ma[spawned], "mesh", "--bus", bus, "--index", idx, "--agents", na, "--timeout", to,
                       (char *)NULL) != 0)
            goto out;
    }
    if (lines_of_all(ma, agents, "IVYBENCH-ARMED", NULL, deadline, &armed) != 0)
        goto out;
    t_go = now_ns();
    if (tell_all(ma, agents, "go\n") != 0 || lines_of_all(ma, agents, "IVYBENCH-FULL", "t_full", deadline, &full) != 0)
        goto out;
    usleep(300000);
    if (tell_all(ma, agents, "report\n") != 0 ||
        lines_of_all(ma, agents, "IVYBENCH ", "duplicates", deadline, &report) != 0)
        goto out;
    out[0] = (double)((uint64_t)full.max - t_go) / 1e9;
    out[1] = report.sum;
    ok = 1;
out:
    for (unsigned i = 0; i < spawned; i++)
        agent_reap(&ma[i]);
    return ok ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The figures of one run, at most (their medians are printed). */
#define FIGURES 4
#define MAX_RUNS 32

/* A scenario: how one run goes, how the medians of its figures are printed. */
struct scenario {
    const char *name;
    int (*run)(const struct scenario *s, uint64_t messages, double *out);
    void (*print)(const char *name, const double *median);
    unsigned agents;             /* the subscribers (throughput), or the agents of the mesh */
    unsigned size, regexps, div; /* throughput: message size, regexps held, messages / div */
};

static int throughput_run(const struct scenario *s, uint64_t messages, double *out)
{
    return run_throughput(s->agents, messages / s->div, s->size, s->regexps, out);
}

static void throughput_print(const char *name, const double *m)
{
    printf("| %s | %.0f msgs/s, %.0f deliveries/s | %.2f / %.2f |\n", name, m[0], m[1], m[2], m[3]);
}

static int rtt_run(const struct scenario *s, uint64_t messages, double *out)
{
    (void)s;
    (void)messages;
    return run_rtt(20000, out);
}

static void rtt_print(const char *name, const double *m)
{
    printf("| %s | p50 %.1f µs, p90 %.1f, p99 %.1f | %.1f per round trip (requester) |\n", name, m[0], m[1], m[2],
           m[3]);
}

static int mesh_run(const struct scenario *s, uint64_t messages, double *out)
{
    (void)messages;
    return run_mesh(s->agents, out);
}

static void mesh_print(const char *name, const double *m)
{
    printf("| %s | full mesh in %.3f s, %.0f duplicate link(s) | |\n", name, m[0], m[1]);
}

static const struct scenario scenarios[] = {
    {"1to1-20B", throughput_run, throughput_print, 1, 20, 1, 1},
    {"1to1-1KiB", throughput_run, throughput_print, 1, 1024, 1, 2},
    {"1to10-20B", throughput_run, throughput_print, 10, 20, 1, 4},
    {"regexps-1000", throughput_run, throughput_print, 1, 20, 1000, 1},
    {"rtt", rtt_run, rtt_print, 0, 0, 0, 1},
    {"mesh-50", mesh_run, mesh_print, 50, 0, 0, 1},
};

/* Runs `s` `runs` times (at most MAX_RUNS): the median of each figure over
 * the runs that worked into `medians`; how many worked. */
static int run_scenario(const struct scenario *s, uint64_t messages, int runs, double *medians)
{
    double v[FIGURES][MAX_RUNS];
    int good = 0;
    for (int r = 0; r < runs; r++) {
        double out[FIGURES] = {0};
        if (s->run(s, messages, out) != 0)
            continue;
        for (int k = 0; k < FIGURES; k++)
            v[k][good] = out[k];
        good++;
    }
    for (int k = 0; good > 0 && k < FIGURES; k++)
        medians[k] = median(v[k], good);
    return good;
}

static int orchestrate(int argc, char **argv)
{
    const char *scenario = "all";
    uint64_t messages = 300000;
    int runs = 3, failed = 0;
    port_next = 20000 + (unsigned)getpid() % 30000;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--scenario") && v)
            scenario = v, i++;
        else if (!strcmp(argv[i], "--messages") && v)
            messages = strtoull(v, NULL, 10), i++;
        else if (!strcmp(argv[i], "--runs") && v)
            runs = atoi(v), i++;
        else if (!strcmp(argv[i], "--timeout") && v)
            opt_timeout = (unsigned)atoi(v), i++;
        else if (!strcmp(argv[i], "--port-base") && v)
            port_next = (unsigned)atoi(v), i++;
        else {
            fprintf(stderr, "usage: %s [--scenario NAME|all] [--messages N] [--runs K] [--port-base P] "
                            "[--timeout S]\n  scenarios: 1to1-20B 1to1-1KiB 1to10-20B regexps-1000 rtt mesh-50\n",
                    argv[0]);
            return 2;
        }
    }
    if (runs < 1 || runs > MAX_RUNS)
        runs = 3;
    if (port_next == 2010)
        port_next = 2011;
    if (messages < 100)
        messages = 100;
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n <= 0)
        return 2;
    self_exe[n] = '\0';
    signal(SIGPIPE, SIG_IGN);

    printf("| scenario | result (median of %d) | CPU µs/msg send / recv |\n|---|---|---|\n", runs);
    fflush(stdout);
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        const struct scenario *s = &scenarios[i];
        if (strcmp(scenario, "all") && strcmp(scenario, s->name))
            continue;
        double medians[FIGURES];
        int good = run_scenario(s, messages, runs, medians);
        failed |= good < runs;
        if (good > 0)
            s->print(s->name, medians);
        else
            printf("| %s | FAILED | |\n", s->name);
        fflush(stdout);
    }
    return failed;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--role") == 0)
        return run_role(argv[2], argc - 3, argv + 3);
    return orchestrate(argc, argv);
}
