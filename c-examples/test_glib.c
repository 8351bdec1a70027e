/*
 * A GLib program on libglibivy (pkg-config ivy-glib): the bus lives on GLib's
 * default main context, which g_main_loop_run drives; it never calls
 * IvyMainLoop (ivy-protocol.md §8.5). With a Rust ivyprobe (RustProbe) and a
 * C ivyprobe (CProbe) on a loopback bus, it checks:
 *  - IvyStart (from the loop) connects both probes;
 *  - a message from each is received, and answered from inside the callback;
 *  - 50 messages sent from another thread reach both, in order;
 *  - a ping to each is answered;
 *  - a g_timeout_add source of the program and a TimerRepeatAfter timer each
 *    fire three times and send from the loop;
 *  - IvyStop: both probes see us leave, no Disconnected for our own stop, the
 *    GLib loop goes on (a timeout fires after it);
 *  - started again, then a Die from the Rust probe: the die callback, both
 *    probes see us leave, no Disconnected.
 * The script runs on a thread of its own, which waits for the probes' lines
 * and for what the loop's callbacks record, and has the loop thread run the
 * calls that belong there (g_idle_add). Every wait is bounded.
 *
 *   test_glib RUST_IVYPROBE C_IVYPROBE [PORT]
 */
#include <Ivy/ivy.h>
#include <Ivy/ivyglibloop.h>
#include <Ivy/timer.h>

#include <glib.h>

#include "check.h"
#include "probe_io.h"

#define TIME_LIMIT_S 120
#define WAIT_S 10.0
#define THREAD_COUNT 50

static char bus[64];
static GMainLoop *loop;
static struct probe rust, c;

/* What the loop's callbacks saw (read by the script thread). */
static gint rust_connected, c_connected, disconnected;
static gint received, pongs, died, glib_ticks, ivy_ticks, after_stop_ticks;
static IvyClientPtr rust_app, c_app; /* set before rust_connected / c_connected */

static void on_app(IvyClientPtr app, void *data, IvyApplicationEvent event)
{
    (void)data;
    const char *name = IvyGetApplicationName(app);
    if (event == IvyApplicationConnected && strcmp(name, "RustProbe") == 0) {
        rust_app = app;
        g_atomic_int_inc(&rust_connected);
    } else if (event == IvyApplicationConnected && strcmp(name, "CProbe") == 0) {
        c_app = app;
        g_atomic_int_inc(&c_connected);
    } else if (event == IvyApplicationDisconnected) {
        g_atomic_int_inc(&disconnected);
    }
}

static void on_die(IvyClientPtr app, void *data, int id)
{
    (void)app;
    (void)data;
    (void)id;
    g_atomic_int_inc(&died);
}

/* Answers from inside the callback, on the loop thread. */
static void on_message(IvyClientPtr app, void *data, int argc, char **argv)
{
    (void)app;
    (void)data;
    CHECK(argc == 1);
    if (argc == 1)
        IvySendMsg("from-glib echo %s", argv[0]);
    g_atomic_int_inc(&received);
}

static void on_pong(IvyClientPtr app, int delay)
{
    (void)app;
    CHECK(delay >= 0);
    g_atomic_int_inc(&pongs);
}

static gboolean on_glib_tick(gpointer data)
{
    (void)data;
    int n = g_atomic_int_add(&glib_ticks, 1) + 1;
    IvySendMsg("from-glib gtick %d", n);
    return n < 3 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void on_ivy_tick(TimerId id, void *data, unsigned long delta)
{
    (void)id;
    (void)data;
    (void)delta;
    int n = g_atomic_int_add(&ivy_ticks, 1) + 1;
    IvySendMsg("from-glib timer %d", n);
}

static gboolean after_stop(gpointer data)
{
    (void)data;
    g_atomic_int_inc(&after_stop_ticks);
    return G_SOURCE_REMOVE;
}

/* ---- what the script has the loop thread do -------------------------------- */

static gboolean start_on_loop(gpointer data)
{
    (void)data;
    IvyStart(bus);
    return G_SOURCE_REMOVE;
}

static gboolean timers_on_loop(gpointer data)
{
    (void)data;
    g_timeout_add(20, on_glib_tick, NULL);
    TimerRepeatAfter(3, 20, on_ivy_tick, NULL);
    return G_SOURCE_REMOVE;
}

static gboolean stop_on_loop(gpointer data)
{
    (void)data;
    IvyStop();
    g_timeout_add(50, after_stop, NULL);
    return G_SOURCE_REMOVE;
}

/* ---- the script -------------------------------------------------------------- */

#define WAIT_UNTIL(cond) PUMP_UNTIL(cond, #cond, WAIT_S, probe_sleep_ms, 5)

/* Both probes print the line of ours that contains `text`. */
static void both_get(const char *text)
{
    char needle[128];
    snprintf(needle, sizeof needle, "GlibAgent sent [0] '%s'", text);
    CHECK(probe_expect(&rust, needle, WAIT_S));
    CHECK(probe_expect(&c, needle, WAIT_S));
}

static gpointer script(gpointer data)
{
    (void)data;
    /* The probes first: our hello makes the links, they dial us. */
    rust.label = "RustProbe";
    c.label = "CProbe";
    CHECK(probe_expect(&rust, "-> bound [0]", WAIT_S));
    CHECK(probe_expect(&c, "-> bound [0]", WAIT_S));
    CHECK(probe_expect(&rust, "CProbe connected", WAIT_S));
    probe_sleep_ms(300);

    g_idle_add(start_on_loop, NULL);
    WAIT_UNTIL(g_atomic_int_get(&rust_connected) == 1 && g_atomic_int_get(&c_connected) == 1);
    CHECK(probe_expect(&rust, "GlibAgent connected", WAIT_S));
    CHECK(probe_expect(&c, "GlibAgent connected", WAIT_S));

    CHECK(probe_say(&rust, "to-glib hello from rust") == 0);
    both_get("echo hello from rust");
    CHECK(probe_say(&c, "to-glib hello from c") == 0);
    both_get("echo hello from c");
    CHECK(g_atomic_int_get(&received) == 2);

    for (int i = 0; i < THREAD_COUNT; i++)
        CHECK(IvySendMsg("from-glib thread %d", i) == 2);
    for (int i = 0; i < THREAD_COUNT; i++) {
        char text[32];
        snprintf(text, sizeof text, "thread %d", i);
        both_get(text);
    }

    IvySendPing(rust_app);
    IvySendPing(c_app);
    WAIT_UNTIL(g_atomic_int_get(&pongs) == 2);

    g_idle_add(timers_on_loop, NULL);
    for (int i = 1; i <= 3; i++) {
        char text[32];
        snprintf(text, sizeof text, "timer %d", i);
        CHECK(probe_expect(&rust, text, WAIT_S));
        snprintf(text, sizeof text, "gtick %d", i);
        CHECK(probe_expect(&c, text, WAIT_S));
    }
    WAIT_UNTIL(g_atomic_int_get(&glib_ticks) == 3 && g_atomic_int_get(&ivy_ticks) == 3);

    /* Our own stop. */
    g_idle_add(stop_on_loop, NULL);
    CHECK(probe_expect(&rust, "GlibAgent disconnected", WAIT_S));
    CHECK(probe_expect(&c, "GlibAgent disconnected", WAIT_S));
    WAIT_UNTIL(g_atomic_int_get(&after_stop_ticks) == 1);
    CHECK(g_atomic_int_get(&disconnected) == 0);

    /* Again, until the Rust probe tells us to die. */
    g_idle_add(start_on_loop, NULL);
    WAIT_UNTIL(g_atomic_int_get(&rust_connected) == 2 && g_atomic_int_get(&c_connected) == 2);
    CHECK(probe_expect(&rust, "GlibAgent connected", WAIT_S));
    CHECK(probe_expect(&c, "GlibAgent connected", WAIT_S));
    CHECK(probe_say(&rust, ".die GlibAgent") == 0);
    WAIT_UNTIL(g_atomic_int_get(&died) == 1);
    CHECK(probe_expect(&rust, "GlibAgent disconnected", WAIT_S));
    CHECK(probe_expect(&c, "GlibAgent disconnected", WAIT_S));
    CHECK(g_atomic_int_get(&disconnected) == 0);

    g_main_loop_quit(loop);
    return NULL;
}

int main(int argc, char **argv)
{
    if (probe_test_start(argc, argv, 2, "test_glib RUST_IVYPROBE C_IVYPROBE [PORT]", bus, sizeof bus) != 0)
        return 2;
    alarm(TIME_LIMIT_S);
    CHECK(probe_spawn(&rust, argv[1], bus, "RustProbe", "^from-glib (.*)") == 0);
    CHECK(probe_spawn(&c, argv[2], bus, "CProbe", "^from-glib (.*)") == 0);

    IvyInit("GlibAgent", "GlibAgent Ready", on_app, NULL, on_die, NULL);
    IvyBindMsg(on_message, NULL, "^to-glib (.*)");
    IvySetPongCallback(on_pong);

    loop = g_main_loop_new(NULL, FALSE);
    GThread *thread = g_thread_new("script", script, NULL);
    g_main_loop_run(loop);
    g_thread_join(thread);
    g_main_loop_unref(loop);

    close(rust.in); /* end of input: the probes quit */
    close(c.in);
    CHECK(probe_wait_exit(&rust, WAIT_S) == 0);
    CHECK(probe_wait_exit(&c, WAIT_S) == 0);
    return check_report("test_glib");
}
