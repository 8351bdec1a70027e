/*
 * A worker thread calls IvySendMsg in a loop while IvyMainLoop runs on the
 * main thread; the peer (a forked process) keeps unbinding and rebinding its
 * subscription, and checks that every frame it receives is intact and in
 * order. Run it under valgrind too (CTest does, when valgrind is found).
 *
 *   test_threads [FRAMES] [PORT]
 */
#include <Ivy/ivy.h>
#include <Ivy/ivyloop.h>
#include <Ivy/timer.h>

#include <pthread.h>
#include <unistd.h>

#include "check.h"

#define TIME_LIMIT_S 120

static char bus[64];
static int frames = 20000;

static void payload(int i, char *out)
{
    int len = i % 200 + 1;
    memset(out, 'a' + i % 26, (size_t)len);
    out[len] = '\0';
}

/* ======================= B: the checking peer ============================= */
static MsgRcvPtr b_frames = NULL;
static int b_received = 0, b_bad = 0, b_last = -1, b_toggles = 0, b_done = 0;

static void b_on_frame(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)app;
    (void)data;
    char expected[256];
    if (argc != 2) {
        b_bad++;
        return;
    }
    int i = atoi(argv[0]);
    payload(i, expected);
    if (strcmp(argv[1], expected) != 0 || i <= b_last) {
        fprintf(stderr, "test_threads: bad frame %d (last %d): '%s'\n", i, b_last, argv[1]);
        b_bad++;
    }
    b_last = i;
    b_received++;
}

static void b_on_done(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)app;
    (void)data;
    (void)argc;
    (void)argv;
    b_done = 1;
    IvyStop();
}

static void b_toggle(TimerId id, void *data, unsigned long delta)
{
    (void)id;
    (void)data;
    (void)delta;
    start_signal_cb();
    if (b_received < 10)
        return; /* toggle once frames flow */
    b_toggles++;
    if (b_frames != NULL) {
        IvyUnbindMsg(b_frames);
        b_frames = NULL;
    } else {
        b_frames = IvyBindMsg(b_on_frame, NULL, "^frame (\\d+) ([a-z]+)$");
    }
}

static int run_b(void)
{
    IvyInit("ThreadsB", NULL, NULL, NULL, NULL, NULL);
    b_frames = IvyBindMsg(b_on_frame, NULL, "^frame (\\d+) ([a-z]+)$");
    IvyBindMsg(b_on_done, NULL, "^done$");
    TimerRepeatAfter(TIMER_LOOP, 5, b_toggle, NULL);
    IvyStart(bus);
    IvyMainLoop();
    printf("test_threads: peer got %d frames, %d bad, %d toggles\n", b_received, b_bad, b_toggles);
    return (b_done && b_bad == 0 && b_received > 0) ? 0 : 1;
}

/* ======================= A: the sender ==================================== */
static pthread_t worker;
static int worker_started = 0;
static long sent_lines = 0;

static void *send_frames(void *arg)
{
    (void)arg;
    char text[256];
    for (int i = 0; i < frames; i++) {
        payload(i, text);
        sent_lines += IvySendMsg("frame %d %s", i, text);
        if (i % 500 == 0)
            usleep(2000); /* let the peer toggle its binding meanwhile */
    }
    IvySendMsg("done");
    return NULL;
}

static void a_on_app(IvyClientPtr app, void *data, IvyApplicationEvent event)
{
    (void)data;
    if (strcmp(IvyGetApplicationName(app), "ThreadsB") != 0)
        return;
    if (event == IvyApplicationConnected && !worker_started) {
        worker_started = 1;
        CHECK(pthread_create(&worker, NULL, send_frames, NULL) == 0);
    } else if (event == IvyApplicationDisconnected) {
        IvyStop();
    }
}

static int run_a(pid_t child)
{
    IvyInit("ThreadsA", NULL, a_on_app, NULL, NULL, NULL);
    IvyStart(bus);
    IvyMainLoop();
    if (worker_started)
        CHECK(pthread_join(worker, NULL) == 0);
    CHECK(child_succeeded(child));
    CHECK(worker_started);
    printf("test_threads: sent %ld frame lines\n", sent_lines);
    return check_report("test_threads");
}

int main(int argc, char **argv)
{
    static const struct pair_test threads = {"test_threads", TIME_LIMIT_S, run_b, run_a};
    if (argc > 1)
        frames = atoi(argv[1]);
    return run_pair(&threads, bus, sizeof bus, test_port_arg(argc, argv, 2));
}
