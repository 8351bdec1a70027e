//! `Ivy/ivyloop.h`: the main loop and its hooks (§8.3). Its writable events
//! (`IvyChannelAddWritableEvent`, `IvyChannelClearWritableEvent`) belong to
//! ivychannel.h's set: see `ivychannel.rs`.

use std::ffi::c_void;

use super::{SendPtr, global};
use crate::boundary::boundary;

/// The port value meaning "any" (kept for source compatibility).
pub const ANYPORT: i32 = 0;

/// A hook called before or after each wait of the loop.
pub type IvyHookPtr = Option<unsafe extern "C" fn(data: *mut c_void)>;

/// Runs the loop until `IvyStop` (returns at once if a stop is pending).
#[unsafe(no_mangle)]
pub extern "C" fn IvyMainLoop() {
    boundary!(global().lp.run())
}

/// One non-blocking pass of the loop (no timer scan). Exported as ivy-c does,
/// declared in no header.
#[unsafe(no_mangle)]
pub extern "C" fn IvyIdle() {
    boundary!(global().lp.run_once())
}

fn hook(h: IvyHookPtr, data: *mut c_void) -> Option<Box<dyn FnMut() + Send>> {
    let data = SendPtr::new(data);
    h.map(|f| {
        Box::new(move || {
            // SAFETY: C hook with the ivy-c signature, on the loop thread, with
            // the user data it was registered with.
            unsafe { f(data.get()) }
        }) as Box<dyn FnMut() + Send>
    })
}

/// Sets (or, with NULL, clears) the hook called before each wait.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvySetBeforeSelectHook(before: IvyHookPtr, data: *mut c_void) {
    boundary!(global().lp.set_before_hook(hook(before, data)))
}

/// Sets (or, with NULL, clears) the hook called after each wait.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvySetAfterSelectHook(after: IvyHookPtr, data: *mut c_void) {
    boundary!(global().lp.set_after_hook(hook(after, data)))
}
