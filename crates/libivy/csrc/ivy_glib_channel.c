/*
 * libglibivy's loop: ivychannel.h (and ivyloop.h's writable events) on GLib's
 * default main context (ivy-protocol.md §8.5). The program runs
 * g_main_loop_run; each channel is a GIOChannel on its descriptor, watched
 * for G_IO_IN (read handler), G_IO_ERR and G_IO_HUP (delete handler), and
 * G_IO_OUT while its writable watch is on (write handler).
 *
 * These strong definitions replace the library's weak ones
 * (csrc/ivy_channel.c), as a program's own would: the library then finds
 * that the loop is not its own, and registers here the bus's sockets and its
 * loop's pollable descriptor (wake-ups, the library's timers and the C
 * timers of timer.h), whose read handler does what is due.
 *
 * - A hang-up calls the read handler first (a read then sees the end), then
 *   the delete handler if the channel is still there; the watch stays until
 *   IvyChannelRemove.
 * - IvyChannelRemove destroys the watches at once and calls the delete
 *   handler from inside, as ivy-c's GLib flavour does. A channel is freed
 *   when its last watch is gone (never during one of its own handlers).
 * - IvyChannelInit and IvyChannelStop do nothing: the program owns its
 *   GMainLoop, and quits it itself.
 * - The library calls these functions for one descriptor from one thread at
 *   a time (its driver's lock); GLib's sources may be attached and destroyed
 *   from any thread.
 */
#include <glib.h>
#include <stdlib.h>

#include "Ivy/ivychannel.h"
#include "Ivy/ivyglibloop.h"
#include "Ivy/ivyloop.h"

struct _channel {
    IVY_HANDLE fd;
    void *data;
    ChannelHandleDelete handle_delete;
    ChannelHandleRead handle_read;
    ChannelHandleWrite handle_write;
    GIOChannel *io;
    GSource *input;  /* G_IO_IN | G_IO_ERR | G_IO_HUP */
    GSource *output; /* G_IO_OUT, while the writable watch is on */
    gint refs;       /* one per watch, one until IvyChannelRemove */
    gint removed;
};

static void channel_ref(Channel c)
{
    g_atomic_int_inc(&c->refs);
}

static void channel_unref(gpointer data)
{
    Channel c = (Channel)data;
    if (g_atomic_int_dec_and_test(&c->refs)) {
        g_io_channel_unref(c->io);
        free(c);
    }
}

static int is_removed(Channel c)
{
    return g_atomic_int_get(&c->removed);
}

/* A watch of `condition` on the channel, attached to the default context. */
static GSource *watch(Channel c, GIOCondition condition, GIOFunc func)
{
    GSource *source = g_io_create_watch(c->io, condition);
    channel_ref(c);
    g_source_set_callback(source, G_SOURCE_FUNC(func), c, channel_unref);
    g_source_attach(source, NULL);
    return source;
}

static void unwatch(GSource **source)
{
    if (*source != NULL) {
        g_source_destroy(*source);
        g_source_unref(*source);
        *source = NULL;
    }
}

static gboolean on_input(GIOChannel *io, GIOCondition condition, gpointer data)
{
    (void)io;
    Channel c = (Channel)data;
    if (!is_removed(c) && (condition & (G_IO_IN | G_IO_HUP)))
        c->handle_read(c, c->fd, c->data);
    if (!is_removed(c) && (condition & (G_IO_ERR | G_IO_HUP)) && c->handle_delete != NULL)
        c->handle_delete(c->data);
    /* A descriptor closed under the watch: watching it would spin. */
    return (is_removed(c) || (condition & G_IO_NVAL)) ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

static gboolean on_output(GIOChannel *io, GIOCondition condition, gpointer data)
{
    (void)io;
    Channel c = (Channel)data;
    if (!is_removed(c) && (condition & G_IO_OUT) && c->handle_write != NULL)
        c->handle_write(c, c->fd, c->data);
    return (is_removed(c) || (condition & G_IO_NVAL)) ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

void IvyChannelInit(void)
{
}

void IvyChannelStop(void)
{
}

Channel IvyChannelAdd(IVY_HANDLE fd, void *data, ChannelHandleDelete handle_delete, ChannelHandleRead handle_read,
                      ChannelHandleWrite handle_write)
{
    if (handle_read == NULL)
        return NULL;
    Channel c = (Channel)calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->fd = fd;
    c->data = data;
    c->handle_delete = handle_delete;
    c->handle_read = handle_read;
    c->handle_write = handle_write;
    c->io = g_io_channel_unix_new(fd); /* does not close fd */
    c->refs = 1;
    c->input = watch(c, G_IO_IN | G_IO_ERR | G_IO_HUP, on_input);
    return c;
}

void IvyChannelRemove(Channel c)
{
    if (c == NULL || is_removed(c))
        return;
    g_atomic_int_set(&c->removed, 1);
    unwatch(&c->input);
    unwatch(&c->output);
    if (c->handle_delete != NULL)
        c->handle_delete(c->data);
    channel_unref(c);
}

void IvyChannelAddWritableEvent(Channel c)
{
    if (c != NULL && !is_removed(c) && c->output == NULL)
        c->output = watch(c, G_IO_OUT, on_output);
}

void IvyChannelClearWritableEvent(Channel c)
{
    if (c != NULL && !is_removed(c))
        unwatch(&c->output);
}
