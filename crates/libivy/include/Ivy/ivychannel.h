/*
 * Ivy software bus, C API (ivy-rs: a drop-in replacement for ivy-c 3.15's libivy).
 * SPDX-License-Identifier: MIT
 */

#ifndef IVYCHANNEL_H
#define IVYCHANNEL_H

/* The file descriptor type of channels (ivy-c: SOCKET on Windows). */
#ifndef IVY_HANDLE
#define IVY_HANDLE int
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* BEGIN cbindgen: generated from src/ivychannel.rs; IVY_UPDATE_HEADERS=1 cargo build rewrites it */

/**
 * A watched file descriptor, as returned by `IvyChannelAdd`.
 */
typedef struct _channel *Channel;

/**
 * Called when the channel is removed (and on an error condition of its fd).
 */
typedef void (*ChannelHandleDelete)(void *data);

/**
 * Called when the fd is readable.
 */
typedef void (*ChannelHandleRead)(Channel channel, IVY_HANDLE fd, void *data);

/**
 * Called when the fd is writable and a writable watch is on.
 */
typedef void (*ChannelHandleWrite)(Channel channel, IVY_HANDLE fd, void *data);

/* END cbindgen */

/* The functions of this header are the loop's. The library's own loop
 * (IvyMainLoop) implements them; a program that runs a loop of its own may
 * define all of them, with IvyChannelAddWritableEvent and
 * IvyChannelClearWritableEvent (ivyloop.h), and never call IvyMainLoop: the
 * library then registers each descriptor it needs through the program's
 * IvyChannelAdd and is driven by its handlers (ELF interposition with
 * libivy.so; the program's definitions win over libivy.a's). */

/* Prepares the loop (called by IvyInit; rarely needed by programs). */
extern void IvyChannelInit(void);

/* Makes IvyMainLoop return after the current iteration (called by IvyStop). */
extern void IvyChannelStop(void);

/* Watches fd (any fd, 0 included); the loop never closes it. handle_read
 * must not be NULL (NULL is refused: NULL is returned). */
extern Channel IvyChannelAdd(IVY_HANDLE fd, void *data, ChannelHandleDelete handle_delete,
                             ChannelHandleRead handle_read, ChannelHandleWrite handle_write);

/* Stops watching the channel: its delete handler runs at the start of the
 * next loop iteration. NULL or stale: nothing. */
extern void IvyChannelRemove(Channel channel);

#ifdef __cplusplus
}
#endif

#endif /* IVYCHANNEL_H */
