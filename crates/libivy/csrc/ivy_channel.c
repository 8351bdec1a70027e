/*
 * The loop functions of ivychannel.h (IvyChannelInit, IvyChannelStop,
 * IvyChannelAdd, IvyChannelRemove) and of ivyloop.h (IvyChannelAddWritableEvent,
 * IvyChannelClearWritableEvent), as the library defines them and as it calls
 * them (ivy-protocol.md §8.2, "Applications that implement ivychannel.h
 * themselves").
 *
 * - The definitions are weak aliases of the library's own implementation (the
 *   ivy_rs_channel_* entry points of src/shim.rs, on its loop). A program that
 *   defines these functions on a loop of its own replaces them: with libivy.a
 *   its strong definitions win, with no duplicate symbol; with libivy.so its
 *   definitions interpose, because the library calls them below through their
 *   dynamic symbols (this file is compiled -fPIC, without
 *   -fno-semantic-interposition; the library is not linked -Bsymbolic and
 *   exports them, csrc/libivy.map). libglibivy's GLib implementation replaces
 *   them the same way.
 * - ivy_app_channel_* are how the library calls them, whoever defines them.
 * - ivy_app_channels() says which of IvyChannelAdd, IvyChannelRemove and the
 *   writable events, the ones a loop of the program's must have, the program
 *   (or the GLib flavour) brought: the resolved address of each compared with
 *   the library's own. (The library's IvyChannelInit and IvyChannelStop are
 *   harmless beside a program's loop.)
 *   (A non-PIE program that takes the address of one of them without
 *   defining it makes its PLT entry the function's address: it would be
 *   taken for the program's own. PIE, the default, does not.)
 */
#include "Ivy/ivychannel.h"
#include "Ivy/ivyloop.h"
#include "ivy_shim.h"

/* The library's own implementation. */

static void own_init(void)
{
    ivy_rs_channel_init();
}

static void own_stop(void)
{
    ivy_rs_channel_stop();
}

static Channel own_add(IVY_HANDLE fd, void *data, ChannelHandleDelete handle_delete,
                       ChannelHandleRead handle_read, ChannelHandleWrite handle_write)
{
    return ivy_rs_channel_add(fd, data, handle_delete, handle_read, handle_write);
}

static void own_remove(Channel channel)
{
    ivy_rs_channel_remove(channel);
}

static void own_add_writable(Channel channel)
{
    ivy_rs_channel_set_writable(channel, 1);
}

static void own_clear_writable(Channel channel)
{
    ivy_rs_channel_set_writable(channel, 0);
}

/* The exported names: weak, so that a program's definitions replace them. */

void IvyChannelInit(void) __attribute__((weak, alias("own_init")));
void IvyChannelStop(void) __attribute__((weak, alias("own_stop")));
Channel IvyChannelAdd(IVY_HANDLE fd, void *data, ChannelHandleDelete handle_delete,
                      ChannelHandleRead handle_read, ChannelHandleWrite handle_write)
    __attribute__((weak, alias("own_add")));
void IvyChannelRemove(Channel channel) __attribute__((weak, alias("own_remove")));
void IvyChannelAddWritableEvent(Channel channel) __attribute__((weak, alias("own_add_writable")));
void IvyChannelClearWritableEvent(Channel channel) __attribute__((weak, alias("own_clear_writable")));

/* The calls of the library, through the symbols (the program's when it has
 * them). */

void ivy_app_channel_init(void)
{
    IvyChannelInit();
}

void ivy_app_channel_stop(void)
{
    IvyChannelStop();
}

Channel ivy_app_channel_add(IVY_HANDLE fd, void *data, ChannelHandleDelete handle_delete,
                            ChannelHandleRead handle_read, ChannelHandleWrite handle_write)
{
    return IvyChannelAdd(fd, data, handle_delete, handle_read, handle_write);
}

void ivy_app_channel_remove(Channel channel)
{
    IvyChannelRemove(channel);
}

void ivy_app_channel_set_writable(Channel channel, int on)
{
    if (on)
        IvyChannelAddWritableEvent(channel);
    else
        IvyChannelClearWritableEvent(channel);
}

/* Whether the symbol `name` resolves elsewhere than to `own` (void (*)(void)
 * is the type every function pointer converts to without a warning). */
#define FOREIGN(name, own) ((void (*)(void))&name != (void (*)(void))&own)

int ivy_app_channels(void)
{
    int bits = 0;
    if (FOREIGN(IvyChannelAdd, own_add))
        bits |= IVY_APP_CHANNEL_ADD;
    if (FOREIGN(IvyChannelRemove, own_remove))
        bits |= IVY_APP_CHANNEL_REMOVE;
    if (FOREIGN(IvyChannelAddWritableEvent, own_add_writable))
        bits |= IVY_APP_CHANNEL_ADD_WRITABLE;
    if (FOREIGN(IvyChannelClearWritableEvent, own_clear_writable))
        bits |= IVY_APP_CHANNEL_CLEAR_WRITABLE;
    return bits;
}
