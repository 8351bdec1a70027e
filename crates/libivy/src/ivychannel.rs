//! `Ivy/ivychannel.h`: descriptors watched by a loop (§8.2), and the
//! library's own implementation of it, on its loop (`IvyMainLoop`).
//!
//! The functions themselves (`IvyChannelInit`, `IvyChannelStop`,
//! `IvyChannelAdd`, `IvyChannelRemove`, and ivyloop.h's writable events) are
//! weak C definitions (`csrc/ivy_channel.c`, prototypes written by hand in
//! `include/Ivy/ivychannel.h`) that call the `ivy_rs_channel_*` entry
//! points of `shim.rs`, which call these: a program that implements
//! ivychannel.h on a loop of its own replaces them (`channels.rs`).

use std::ffi::{c_int, c_void};

use super::{_channel, IVY_HANDLE, SendPtr, global, handle_addr, handle_ptr};
use ::ivy::ChannelId;

/// A watched file descriptor, as returned by `IvyChannelAdd`.
pub type Channel = *mut _channel;
/// Called when the channel is removed (and on an error condition of its fd).
pub type ChannelHandleDelete = Option<unsafe extern "C" fn(data: *mut c_void)>;
/// Called when the fd is readable.
pub type ChannelHandleRead = Option<unsafe extern "C" fn(channel: Channel, fd: IVY_HANDLE, data: *mut c_void)>;
/// Called when the fd is writable and a writable watch is on.
pub type ChannelHandleWrite = Option<unsafe extern "C" fn(channel: Channel, fd: IVY_HANDLE, data: *mut c_void)>;

/// The arguments of `IvyChannelAdd`: the descriptor to watch, the handlers
/// the loop calls and the user data it gives them.
#[derive(Clone, Copy)]
pub(crate) struct ChannelWatch {
    pub fd: IVY_HANDLE,
    pub data: *mut c_void,
    pub handle_delete: ChannelHandleDelete,
    pub handle_read: ChannelHandleRead,
    pub handle_write: ChannelHandleWrite,
}

pub(crate) fn channel_ptr(id: ChannelId) -> Channel {
    handle_ptr(id.to_raw())
}

pub(crate) fn channel_of(c: Channel) -> Option<ChannelId> {
    ChannelId::from_raw(handle_addr(c))
}

/// ivy-c's `IvyChannelInit`: the loop may run again after a stop, and SIGPIPE
/// is ignored process-wide (ivy-c documents and does this; C programs writing
/// to their own sockets may rely on it).
pub(crate) fn init() {
    // SAFETY: setting SIGPIPE's disposition to SIG_IGN has no memory-safety
    // requirement; it is what ivy-c's IvyChannelInit does.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    global().lp.reset_stop();
}

/// `IvyChannelStop`: `IvyMainLoop` returns after the current iteration.
pub(crate) fn stop() {
    global().lp.stop();
}

/// `IvyChannelAdd`: watches `fd` (any fd, 0 included), which the loop never
/// closes; NULL `handle_read` is refused (NULL is returned).
pub(crate) fn add(watch: ChannelWatch) -> Channel {
    let ChannelWatch { fd, data, handle_delete, handle_read, handle_write } = watch;
    let Some(read) = handle_read else {
        return std::ptr::null_mut();
    };
    let data = SendPtr::new(data);
    let read_cb = Box::new(move |_: &::ivy::EventLoop, id: ChannelId, fd: IVY_HANDLE| {
        // SAFETY: C callback with the ivy-c signature, on the loop thread,
        // with the user data it was registered with.
        unsafe { read(channel_ptr(id), fd, data.get()) }
    });
    let write_cb = handle_write.map(|w| {
        Box::new(move |_: &::ivy::EventLoop, id: ChannelId, fd: IVY_HANDLE| {
            // SAFETY: as above.
            unsafe { w(channel_ptr(id), fd, data.get()) }
        }) as Box<dyn FnMut(&::ivy::EventLoop, ChannelId, IVY_HANDLE) + Send>
    });
    let delete_cb = handle_delete.map(|d| {
        Box::new(move || {
            // SAFETY: as above.
            unsafe { d(data.get()) }
        }) as Box<dyn FnMut() + Send>
    });
    channel_ptr(global().lp.add_channel(fd, read_cb, write_cb, delete_cb))
}

/// `IvyChannelRemove`: the delete handler runs at the start of the next loop
/// iteration. NULL or stale: nothing.
pub(crate) fn remove(channel: Channel) {
    if let Some(id) = channel_of(channel) {
        global().lp.remove_channel(id);
    }
}

/// `IvyChannelAddWritableEvent` (`on` non-zero) and
/// `IvyChannelClearWritableEvent`. NULL or stale: nothing.
pub(crate) fn set_writable(channel: Channel, on: c_int) {
    if let Some(id) = channel_of(channel) {
        global().lp.set_channel_writable(id, on != 0);
    }
}
