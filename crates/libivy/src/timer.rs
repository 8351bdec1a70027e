//! `Ivy/timer.h`: loop timers with ivy-c's semantics (§8.4).

use std::cell::Cell;
use std::ffi::{c_int, c_long, c_ulong, c_void};

use libc::timeval;

use super::{_timer, SendPtr, global, handle_addr, handle_ptr};
use crate::boundary::boundary;

/// `count` value for a timer that fires forever.
pub const TIMER_LOOP: i32 = -1;

/// A timer, as returned by `TimerRepeatAfter`. It dangles harmlessly after its
/// last firing.
pub type TimerId = *mut _timer;
/// Called at each firing; `delta` is the lateness in ms.
pub type TimerCb = Option<unsafe extern "C" fn(id: TimerId, user_data: *mut c_void, delta: c_ulong)>;

/// `c_long` is 32 bits on some targets: widen it without a lint on the others.
#[allow(clippy::useless_conversion)]
fn ms(timeout: c_long) -> i64 {
    i64::from(timeout)
}

fn timer_of(t: TimerId) -> Option<::ivy::TimerId> {
    ::ivy::TimerId::from_raw(handle_addr(t))
}

/// Fires `cb` `count` times (`TIMER_LOOP` or 0: forever), every `timeout` ms,
/// the first time `timeout` ms from now. NULL `cb`: NULL, nothing created.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TimerRepeatAfter(
    count: c_int,
    timeout: c_long,
    cb: TimerCb,
    user_data: *mut c_void,
) -> TimerId {
    boundary!({
        let Some(f) = cb else {
            return std::ptr::null_mut();
        };
        let data = SendPtr::new(user_data);
        crate::foreign::drive();
        let id = global().lp.add_timer(
            count,
            ms(timeout),
            Box::new(move |_lp, id, delta| {
                let delta = c_ulong::try_from(delta).unwrap_or(c_ulong::MAX);
                // SAFETY: C callback with the ivy-c signature, on the loop
                // thread, with the user data it was registered with.
                unsafe { f(handle_ptr(id.to_raw()), data.get(), delta) }
            }),
        );
        handle_ptr(id.to_raw())
    })
}

/// Sets the period to `timeout` ms and the next firing to now + `timeout`.
#[unsafe(no_mangle)]
pub extern "C" fn TimerModify(id: TimerId, timeout: c_long) {
    boundary!({
        if let Some(t) = timer_of(id) {
            global().lp.modify_timer(t, ms(timeout));
        }
    })
}

/// Cancels the timer (safe from its own callback; NULL or stale: nothing).
#[unsafe(no_mangle)]
pub extern "C" fn TimerRemove(id: TimerId) {
    boundary!({
        if let Some(t) = timer_of(id) {
            global().lp.remove_timer(t);
        }
    })
}

/// `suseconds_t` differs across targets; a sub-second count always fits.
#[allow(clippy::unnecessary_fallible_conversions)]
fn micros(us: u32) -> libc::suseconds_t {
    libc::suseconds_t::try_from(us).unwrap_or(0)
}

thread_local! {
    static SMALLEST: Cell<timeval> = const { Cell::new(timeval { tv_sec: 0, tv_usec: 0 }) };
}

/// Time until the next timer is due, or NULL when there is no timer. The
/// `timeval` is library-owned, per thread, valid until the next call.
#[unsafe(no_mangle)]
pub extern "C" fn TimerGetSmallestTimeout() -> *mut timeval {
    boundary!(match global().lp.next_timeout() {
        None => std::ptr::null_mut(),
        Some(d) => SMALLEST.with(|c| {
            c.set(timeval {
                tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_usec: micros(d.subsec_micros()),
            });
            c.as_ptr()
        }),
    })
}

/// Fires the timers that are due (for programs that drive timers themselves).
#[unsafe(no_mangle)]
pub extern "C" fn TimerScan() {
    boundary!(global().lp.scan_timers())
}
