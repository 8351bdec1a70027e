/*
 * Ivy software bus, C API (ivy-rs: a drop-in replacement for ivy-c 3.15's libivy).
 * SPDX-License-Identifier: MIT
 */

#ifndef IVY_TIMER_H
#define IVY_TIMER_H

#include <sys/time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* BEGIN cbindgen: generated from src/timer.rs; IVY_UPDATE_HEADERS=1 cargo build rewrites it */

/**
 * `count` value for a timer that fires forever.
 */
#define TIMER_LOOP -1

/**
 * A timer, as returned by `TimerRepeatAfter`. It dangles harmlessly after its
 * last firing.
 */
typedef struct _timer *TimerId;

/**
 * Called at each firing; `delta` is the lateness in ms.
 */
typedef void (*TimerCb)(TimerId id, void *user_data, unsigned long delta);

/**
 * Fires `cb` `count` times (`TIMER_LOOP` or 0: forever), every `timeout` ms,
 * the first time `timeout` ms from now. NULL `cb`: NULL, nothing created.
 */
TimerId TimerRepeatAfter(int count, long timeout, TimerCb cb, void *user_data);

/**
 * Sets the period to `timeout` ms and the next firing to now + `timeout`.
 */
void TimerModify(TimerId id, long timeout);

/**
 * Cancels the timer (safe from its own callback; NULL or stale: nothing).
 */
void TimerRemove(TimerId id);

/**
 * Time until the next timer is due, or NULL when there is no timer. The
 * `timeval` is library-owned, per thread, valid until the next call.
 */
struct timeval *TimerGetSmallestTimeout(void);

/**
 * Fires the timers that are due (for programs that drive timers themselves).
 */
void TimerScan(void);

/* END cbindgen */

#ifdef __cplusplus
}
#endif

#endif /* IVY_TIMER_H */
