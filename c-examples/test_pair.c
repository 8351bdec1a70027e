/*
 * Two C agents over loopback (one process forks the other), exercising every
 * message type: Msg with captures, AddRegexp / DelRegexp / change seen through
 * the bind callback, direct messages both ways, Error, Ping/Pong, Die, the
 * ready message, peer queries, and IvyStop; messages made from formats with
 * no '%', "%s" alone (the shim's short paths) and others; a callback that runs the
 * loop (IvyIdle) while its own argv is in use, and writes into it. Every wait
 * is bounded (alarm).
 *
 *   test_pair [PORT]      (default: IVY_TEST_PORT or derived from the pid)
 */
#include <Ivy/ivy.h>
#include <Ivy/ivyloop.h>
#include <Ivy/timer.h>

#include <unistd.h>

#include "check.h"

/* Exported by libivy as by ivy-c, declared in no header. */
void IvyIdle(void);

#define TIME_LIMIT_S 30

static char bus[64];

/* ======================= B: the responder ================================= */
static MsgRcvPtr b_old = NULL;
static MsgRcvPtr b_victim = NULL;
static int b_died = 0;

/* Answers a message with "WORD capture", WORD in `data`. */
static void b_echo(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)app;
    if (argc == 1)
        IvySendMsg("%s %s", (const char *)data, argv[0]);
}

/* Answers a message with the text in `data`. */
static void b_say(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)app;
    (void)argc;
    (void)argv;
    IvySendMsg("%s", (const char *)data);
}

static void b_on_direct_me(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)data;
    (void)argc;
    (void)argv;
    char text[] = "direct-payload";
    IvySendDirectMsg(app, 42, text);
}

static void b_on_error_me(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)data;
    (void)argc;
    (void)argv;
    IvySendError(app, 7, "error number %d", 7);
    IvySendMsg("error-sent");
}

static void b_on_change_me(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)app;
    (void)data;
    (void)argc;
    (void)argv;
    IvyChangeMsg(b_old, "^new-pattern (%s)", ".*");
    IvyUnbindMsg(b_victim);
    IvySendMsg("changed");
}

static void b_on_any(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)app;
    (void)data;
    (void)argc;
    (void)argv;
}

static void b_on_direct(IvyClientPtr app, void *data, int id, char *msg)
{
    (void)data;
    if (id == 5) {
        char reply[128];
        snprintf(reply, sizeof reply, "echo:%s", msg);
        IvySendDirectMsg(app, 6, reply);
    }
}

static void b_on_die(IvyClientPtr app, void *data, int id)
{
    (void)app;
    (void)data;
    (void)id;
    b_died = 1;
}

static void b_started(TimerId id, void *data, unsigned long delta)
{
    (void)id;
    (void)data;
    (void)delta;
    start_signal_cb();
}

static int run_b(void)
{
    IvyInit("PairB", "PairB Ready", NULL, NULL, b_on_die, NULL);
    IvyBindMsg(b_echo, (void *)"pong-you", "^ping-me (.*)");
    IvyBindMsg(b_say, (void *)"outer 1 first", "^nest-me$");
    IvyBindMsg(b_say, (void *)"inner 2 second", "^release$");
    IvyBindMsg(b_echo, (void *)"fmt-back", "^fmt (.*)$");
    IvyBindMsg(b_echo, (void *)"fmt-back", "^(\\(null\\))$");
    IvyBindMsg(b_on_direct_me, NULL, "^direct-me$");
    IvyBindMsg(b_on_error_me, NULL, "^error-me$");
    IvyBindMsg(b_on_change_me, NULL, "^change-me$");
    b_old = IvyBindMsg(b_on_any, NULL, "^old-pattern (.*)");
    b_victim = IvyBindMsg(b_on_any, NULL, "^victim");
    IvyBindDirectMsg(b_on_direct, NULL);
    TimerRepeatAfter(1, 100, b_started, NULL);
    IvyStart(bus);
    IvyMainLoop(); /* returns after A's Die */
    return b_died ? 0 : 3;
}

/* ======================= A: the tester ==================================== */
enum step { WAIT_B, WAIT_PONG_YOU, WAIT_NESTED, WAIT_FORMATS, WAIT_DIRECT, WAIT_ECHO, WAIT_ERROR_SENT, WAIT_CHANGED, WAIT_PONG, WAIT_BYE, DONE };
static enum step step = WAIT_B;
static IvyClientPtr peer_b = NULL;
static int ready_seen = 0;
static int added = 0, removed = 0, changed = 0;
static int pong_seen = 0;
static int disconnected = 0;
static int inner_seen = 0;
static int formats_seen = 0;

static void a_go(enum step next);

static void a_on_app(IvyClientPtr app, void *data, IvyApplicationEvent event)
{
    (void)data;
    if (strcmp(IvyGetApplicationName(app), "PairB") != 0)
        return;
    /* Both agents may connect to each other at once; the library keeps one
     * link. Only the link that became connected first is followed here. */
    if (event == IvyApplicationConnected && step == WAIT_B) {
        peer_b = app;
        CHECK(IvyGetApplication((char *)"PairB") == app);
        CHECK_STR(IvyGetApplicationHost(app), "localhost");
        CHECK(strstr(IvyGetApplicationList(","), "PairB,") != NULL);
        char **msgs = IvyGetApplicationMessages(app);
        int n = 0, found = 0;
        for (; msgs != NULL && msgs[n] != NULL; n++)
            if (strcmp(msgs[n], "^ping-me (.*)") == 0)
                found = 1;
        CHECK(n == 10 && found);
        step = WAIT_PONG_YOU;
        CHECK(IvySendMsg("ping-me %s", "hello world") == 1);
    } else if (event == IvyApplicationDisconnected && app == peer_b) {
        disconnected++;
        if (step == WAIT_BYE) {
            step = DONE;
            IvyStop();
        }
    }
}

static void a_on_bind(IvyClientPtr app, void *data, int id, const char *regexp, IvyBindEvent event)
{
    (void)app;
    (void)data;
    (void)id;
    if (event == IvyAddBind)
        added++;
    else if (event == IvyRemoveBind)
        removed++;
    else if (event == IvyChangeBind)
        changed++;
    if (step == WAIT_CHANGED && strcmp(regexp, "^new-pattern (.*)") == 0)
        CHECK(event == IvyChangeBind || event == IvyAddBind);
}

static void a_on_ready(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)app;
    (void)data;
    CHECK_ARGS(argc, argv, "PairB Ready");
    ready_seen++;
}

static void a_on_pong_you(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)data;
    CHECK(app == peer_b);
    CHECK_ARGS(argc, argv, "hello world");
    CHECK(step == WAIT_PONG_YOU);
    a_go(WAIT_NESTED);
}

/* "outer 1 first": writes into its argv, asks B for "inner 2 second" and runs
 * the loop until that has been delivered (a nested delivery on this thread),
 * then checks that its own argv is intact. */
static void a_on_outer(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)app;
    (void)data;
    CHECK(step == WAIT_NESTED);
    CHECK(argc == 2);
    CHECK(argv[argc] == NULL);
    argv[1][0] = 'F'; /* argv is writable, as with ivy-c */
    CHECK(IvySendMsg("release") == 1);
    for (int i = 0; i < 5000 && inner_seen == 0; i++) {
        IvyIdle();
        if (inner_seen == 0)
            usleep(1000);
    }
    CHECK(inner_seen == 1);
    CHECK_ARGS(argc, argv, "1", "First");
    a_go(WAIT_FORMATS);
}

/* The texts B echoes, in the order A sent them (see a_go). */
static void a_on_fmt_back(IvyClientPtr app, void *data, int argc, char **argv)
{
    static const char *const expected[] = {"a%d", "b", "c%", "(null)", "d 7"};
    (void)app;
    (void)data;
    CHECK(step == WAIT_FORMATS);
    CHECK(argc == 1);
    if (formats_seen < 5)
        CHECK_STR(argv[0], expected[formats_seen]);
    if (++formats_seen == 5) {
        a_go(WAIT_DIRECT);
    }
}

static void a_on_inner(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)app;
    (void)data;
    CHECK(step == WAIT_NESTED);
    CHECK_ARGS(argc, argv, "2", "second");
    inner_seen++;
}

static void a_on_direct(IvyClientPtr app, void *data, int id, char *msg)
{
    (void)data;
    CHECK(app == peer_b);
    if (step == WAIT_DIRECT) {
        CHECK(id == 42);
        CHECK_STR(msg, "direct-payload");
        a_go(WAIT_ECHO);
    } else if (step == WAIT_ECHO) {
        CHECK(id == 6);
        CHECK_STR(msg, "echo:to-b");
        a_go(WAIT_ERROR_SENT);
    }
}

static void a_on_simple(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)app;
    (void)argc;
    const char *what = (const char *)data;
    CHECK(argc == 0);
    (void)argv;
    if (strcmp(what, "error-sent") == 0 && step == WAIT_ERROR_SENT) {
        a_go(WAIT_CHANGED);
    } else if (strcmp(what, "changed") == 0 && step == WAIT_CHANGED) {
        a_go(WAIT_PONG);
    }
}

static void a_on_pong(IvyClientPtr app, int delay)
{
    CHECK(app == peer_b);
    CHECK(delay >= 0);
    pong_seen++;
    if (step == WAIT_PONG) {
        a_go(WAIT_BYE);
    }
}

/* Moves to step `next`: sends what it waits for. */
static void a_go(enum step next)
{
    char to_b[] = "to-b";
    step = next;
    switch (step) {
    case WAIT_NESTED: CHECK(IvySendMsg("nest-me") == 1); break;
    case WAIT_FORMATS: {
        const char *volatile none = NULL;
        CHECK(IvySendMsg("%s", "fmt a%d") == 1); /* the argument, not formatted */
        CHECK(IvySendMsg("fmt b") == 1);         /* no '%': the format is the text */
        CHECK(IvySendMsg("fmt %s%%", "c") == 1);
        CHECK(IvySendMsg("%s", none) == 1); /* "(null)", as printf prints it */
        CHECK(IvySendMsg("fmt %c %d", 'd', 7) == 1);
        break;
    }
    case WAIT_DIRECT: CHECK(IvySendMsg("direct-me") == 1); break;
    case WAIT_ECHO: IvySendDirectMsg(peer_b, 5, to_b); break;
    case WAIT_ERROR_SENT: CHECK(IvySendMsg("error-me") == 1); break;
    case WAIT_CHANGED: CHECK(IvySendMsg("change-me") == 1); break;
    case WAIT_PONG:
        /* B now has ^new-pattern (.*) in place of ^old-pattern and no ^victim. */
        CHECK(IvySendMsg("new-pattern x") == 1);
        CHECK(IvySendMsg("victim") == 0);
        IvySendPing(peer_b);
        break;
    case WAIT_BYE: IvySendDieMsg(peer_b); break;
    default: break;
    }
}

static void a_on_timeout(TimerId id, void *data, unsigned long delta)
{
    (void)id;
    (void)data;
    (void)delta;
    fprintf(stderr, "test_pair: timeout in step %d\n", (int)step);
    check_failures++;
    IvyStop();
}

static int run_a(pid_t child)
{
    IvyInit("PairA", NULL, a_on_app, NULL, NULL, NULL);
    IvySetBindCallback(a_on_bind, NULL);
    IvySetPongCallback(a_on_pong);
    IvyBindDirectMsg(a_on_direct, NULL);
    IvyBindMsg(a_on_ready, NULL, "^(PairB Ready)$");
    IvyBindMsg(a_on_pong_you, NULL, "^pong-you (.*)$");
    IvyBindMsg(a_on_outer, NULL, "^outer ([0-9]) ([a-z]+)$");
    IvyBindMsg(a_on_inner, NULL, "^inner ([0-9]) ([a-z]+)$");
    IvyBindMsg(a_on_fmt_back, NULL, "^fmt-back (.*)$");
    IvyBindMsg(a_on_simple, (void *)"error-sent", "^error-sent$");
    IvyBindMsg(a_on_simple, (void *)"changed", "^changed$");
    TimerRepeatAfter(1, (TIME_LIMIT_S - 5) * 1000L, a_on_timeout, NULL);
    IvyStart(bus);
    IvyMainLoop();

    CHECK(child_succeeded(child));
    CHECK(step == DONE);
    CHECK(ready_seen == 1);
    CHECK(added >= 10);
    CHECK(removed >= 1);
    CHECK(pong_seen == 1);
    CHECK(inner_seen == 1);
    CHECK(formats_seen == 5);
    CHECK(disconnected == 1);
    return check_report("test_pair");
}

int main(int argc, char **argv)
{
    static const struct pair_test pair = {"test_pair", TIME_LIMIT_S, run_b, run_a};
    return run_pair(&pair, bus, sizeof bus, test_port_arg(argc, argv, 1));
}
