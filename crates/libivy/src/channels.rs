//! How the library calls the loop functions of ivychannel.h and ivyloop.h
//! (`IvyChannelInit`, `IvyChannelStop`, `IvyChannelAdd`, `IvyChannelRemove`,
//! `IvyChannelAddWritableEvent`, `IvyChannelClearWritableEvent`): through
//! their symbols (`csrc/ivy_channel.c`), so that the definitions of a program
//! that runs its own loop (or libglibivy's) are the ones called; and which of
//! them the program brought, found once.

use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

use crate::IVY_HANDLE;
use crate::ivychannel::{Channel, ChannelHandleDelete, ChannelHandleRead, ChannelHandleWrite, ChannelWatch};
use crate::shim::{
    IVY_APP_CHANNEL_ADD, IVY_APP_CHANNEL_ADD_WRITABLE, IVY_APP_CHANNEL_CLEAR_WRITABLE, IVY_APP_CHANNEL_REMOVE,
};

unsafe extern "C" {
    fn ivy_app_channel_init();
    fn ivy_app_channel_stop();
    fn ivy_app_channel_add(
        fd: IVY_HANDLE,
        data: *mut c_void,
        handle_delete: ChannelHandleDelete,
        handle_read: ChannelHandleRead,
        handle_write: ChannelHandleWrite,
    ) -> Channel;
    fn ivy_app_channel_remove(channel: Channel);
    fn ivy_app_channel_set_writable(channel: Channel, on: c_int);
    fn ivy_app_channels() -> c_int;
}

/// `IvyChannelInit()`.
pub(crate) fn init() {
    // SAFETY: no arguments; the loop's function, the library's or the program's.
    unsafe { ivy_app_channel_init() }
}

/// `IvyChannelStop()`.
pub(crate) fn stop() {
    // SAFETY: as above.
    unsafe { ivy_app_channel_stop() }
}

/// `IvyChannelAdd(fd, data, handle_delete, handle_read, handle_write)`.
pub(crate) fn add(watch: ChannelWatch) -> Channel {
    let ChannelWatch { fd, data, handle_delete, handle_read, handle_write } = watch;
    // SAFETY: the handlers have ivychannel.h's signatures; `data` is an opaque
    // token the loop hands back to them.
    unsafe { ivy_app_channel_add(fd, data, handle_delete, handle_read, handle_write) }
}

/// `IvyChannelRemove(channel)`.
pub(crate) fn remove(channel: Channel) {
    // SAFETY: a channel that `add` returned, removed once.
    unsafe { ivy_app_channel_remove(channel) }
}

/// `IvyChannelAddWritableEvent(channel)` or `IvyChannelClearWritableEvent(channel)`.
pub(crate) fn set_writable(channel: Channel, on: bool) {
    // SAFETY: a channel that `add` returned and that is not removed.
    unsafe { ivy_app_channel_set_writable(channel, c_int::from(on)) }
}

/// Whether the program runs the loop: it defines `IvyChannelAdd` (found once;
/// a program that defines only part of the set is told on stderr).
pub(crate) fn program_loop() -> bool {
    static FOREIGN: OnceLock<bool> = OnceLock::new();
    *FOREIGN.get_or_init(|| {
        // SAFETY: no arguments; compares symbol addresses.
        let bits = unsafe { ivy_app_channels() };
        let foreign = bits & IVY_APP_CHANNEL_ADD != 0;
        if foreign {
            let missing = missing(bits);
            if !missing.is_empty() {
                crate::c_stderr(&format!(
                    "libivy: the program defines IvyChannelAdd but not {}: its loop cannot drive the bus fully\n",
                    missing.join(", ")
                ));
            }
        }
        foreign
    })
}

/// The functions a program that defines `IvyChannelAdd` must define too.
fn missing(bits: c_int) -> Vec<&'static str> {
    [
        (IVY_APP_CHANNEL_REMOVE, "IvyChannelRemove"),
        (IVY_APP_CHANNEL_ADD_WRITABLE, "IvyChannelAddWritableEvent"),
        (IVY_APP_CHANNEL_CLEAR_WRITABLE, "IvyChannelClearWritableEvent"),
    ]
    .into_iter()
    .filter(|(bit, _)| bits & bit == 0)
    .map(|(_, name)| name)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_set_names_what_lacks() {
        let all = IVY_APP_CHANNEL_ADD
            | IVY_APP_CHANNEL_REMOVE
            | IVY_APP_CHANNEL_ADD_WRITABLE
            | IVY_APP_CHANNEL_CLEAR_WRITABLE;
        assert!(missing(all).is_empty());
        assert_eq!(
            missing(IVY_APP_CHANNEL_ADD | IVY_APP_CHANNEL_REMOVE),
            ["IvyChannelAddWritableEvent", "IvyChannelClearWritableEvent"]
        );
    }
}
