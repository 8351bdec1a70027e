/* Built against the installed package, linked with libglibivy: the bus on
 * GLib's main loop, with a timer of timer.h and a GLib timeout; then it stops.
 *   hello_glib PORT */
#include <Ivy/ivy.h>
#include <Ivy/ivyglibloop.h>
#include <Ivy/timer.h>
#include <glib.h>
#include <stdio.h>

static GMainLoop *loop;
static int ivy_ticks = 0, glib_ticks = 0;

static void check_done(void)
{
    if (ivy_ticks == 3 && glib_ticks == 3) {
        IvyStop();
        g_main_loop_quit(loop);
    }
}

static void ivy_tick(TimerId id, void *data, unsigned long delta)
{
    (void)id;
    (void)data;
    (void)delta;
    ivy_ticks++;
    check_done();
}

static gboolean glib_tick(gpointer data)
{
    (void)data;
    glib_ticks++;
    check_done();
    return glib_ticks < 3 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean give_up(gpointer data)
{
    (void)data;
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
    char bus[64];
    snprintf(bus, sizeof bus, "127.255.255.255:%s", argc > 1 ? argv[1] : "23457");
    loop = g_main_loop_new(NULL, FALSE);
    IvyInit("HelloGlib", NULL, NULL, NULL, NULL, NULL);
    IvyStart(bus);
    TimerRepeatAfter(3, 10, ivy_tick, NULL);
    g_timeout_add(10, glib_tick, NULL);
    g_timeout_add(10000, give_up, NULL);
    g_main_loop_run(loop);
    g_main_loop_unref(loop);
    printf("hello from libglibivy: %d timer ticks, %d GLib ticks\n", ivy_ticks, glib_ticks);
    return ivy_ticks == 3 && glib_ticks == 3 ? 0 : 1;
}
