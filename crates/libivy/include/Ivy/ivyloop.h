/*
 * Ivy software bus, C API (ivy-rs: a drop-in replacement for ivy-c 3.15's libivy).
 * SPDX-License-Identifier: MIT
 */

#ifndef IVYLOOP_H
#define IVYLOOP_H

#include "ivychannel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* BEGIN cbindgen: generated from src/ivyloop.rs; IVY_UPDATE_HEADERS=1 cargo build rewrites it */

/**
 * The port value meaning "any" (kept for source compatibility).
 */
#define ANYPORT 0

/**
 * A hook called before or after each wait of the loop.
 */
typedef void (*IvyHookPtr)(void *data);

/**
 * Runs the loop until `IvyStop` (returns at once if a stop is pending).
 */
void IvyMainLoop(void);

/**
 * Sets (or, with NULL, clears) the hook called before each wait.
 */
void IvySetBeforeSelectHook(IvyHookPtr before, void *data);

/**
 * Sets (or, with NULL, clears) the hook called after each wait.
 */
void IvySetAfterSelectHook(IvyHookPtr after, void *data);

/* END cbindgen */

/* Calls the channel's write handler whenever its fd is writable. */
extern void IvyChannelAddWritableEvent(Channel channel);

/* Stops the calls started by IvyChannelAddWritableEvent. */
extern void IvyChannelClearWritableEvent(Channel channel);

#ifdef __cplusplus
}
#endif

#endif /* IVYLOOP_H */
