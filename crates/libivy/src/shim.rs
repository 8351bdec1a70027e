//! The Rust entry points of the library's C files, whose C prototypes
//! (`ivy_shim.h`, private) are generated from this file: the variadic
//! functions (`csrc/ivy_shim.c`), which format their arguments and call one of
//! these with the text; and the library's own ivychannel.h (`ivy_rs_channel_*`),
//! which the weak definitions of `csrc/ivy_channel.c` call.

use std::ffi::{c_char, c_int, c_ulong, c_ushort, c_void};
use std::net::{Ipv6Addr, SocketAddr};

use libc::in6_addr;

use crate::boundary::boundary;
use crate::ivy::{IvyClientPtr, MsgCallback, MsgRcvPtr};
use crate::ivychannel::{self, Channel, ChannelHandleDelete, ChannelHandleRead, ChannelHandleWrite, ChannelWatch};
use crate::ivysocket::Client;
use crate::{IVY_HANDLE, SendPtr, bus, bytes, sockets};

/// `IvyBindMsg` once the regexp is formatted.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ivy_rs_bind_msg(
    callback: MsgCallback,
    user_data: *mut c_void,
    regexp: *const c_char,
) -> MsgRcvPtr {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string (from the C shim).
        match unsafe { bytes(regexp) } {
            Some(re) => bus::bind(re, callback, SendPtr::new(user_data)),
            None => std::ptr::null_mut(),
        }
    })
}

/// `IvyChangeMsg` once the regexp is formatted; returns `msg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ivy_rs_change_msg(msg: MsgRcvPtr, regexp: *const c_char) -> MsgRcvPtr {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string (from the C shim).
        if let Some(re) = unsafe { bytes(regexp) } {
            bus::change(msg, re);
        }
        msg
    })
}

/// `IvySendMsg` once the message is formatted: the number of Msg lines sent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ivy_rs_send_msg(message: *const c_char) -> c_int {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string (from the C shim).
        unsafe { bytes(message) }.map_or(0, bus::send)
    })
}

/// `IvySendError` once the text is formatted.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ivy_rs_send_error(app: IvyClientPtr, id: c_int, text: *const c_char) {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string (from the C shim).
        if let Some(t) = unsafe { bytes(text) } {
            bus::send_error(app, id, t);
        }
    })
}

/// `SocketBroadcast` once the text is formatted: sent on every TCP connection
/// of the socket layer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ivy_rs_socket_broadcast(text: *const c_char) {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string (from the C shim).
        if let Some(t) = unsafe { bytes(text) } {
            sockets::broadcast(t);
        }
    })
}

/// `SocketSendBroadcast` once the text is formatted: one datagram to the IPv4
/// address `host` (host byte order) and `port`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ivy_rs_socket_send_broadcast(
    client: Client,
    host: c_ulong,
    port: c_ushort,
    text: *const c_char,
) {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string (from the C shim).
        if let Some(t) = unsafe { bytes(text) } {
            sockets::send_to(client, SocketAddr::from((sockets::ipv4(host), port)), t);
        }
    })
}

/// `SocketSendBroadcast6` once the text is formatted: one datagram to the IPv6
/// address `host` and `port`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ivy_rs_socket_send_broadcast6(
    client: Client,
    host: *const in6_addr,
    port: c_ushort,
    text: *const c_char,
) {
    boundary!({
        // SAFETY: `host` is NULL or a readable in6_addr; `text` NULL or a
        // NUL-terminated string (from the C shim).
        if let (Some(h), Some(t)) = unsafe { (host.as_ref(), bytes(text)) } {
            sockets::send_to(client, SocketAddr::from((Ipv6Addr::from(h.s6_addr), port)), t);
        }
    })
}

/// The library's own `IvyChannelInit`.
#[unsafe(no_mangle)]
pub extern "C" fn ivy_rs_channel_init() {
    boundary!(ivychannel::init())
}

/// The library's own `IvyChannelStop`.
#[unsafe(no_mangle)]
pub extern "C" fn ivy_rs_channel_stop() {
    boundary!(ivychannel::stop())
}

/// The library's own `IvyChannelAdd`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ivy_rs_channel_add(
    fd: IVY_HANDLE,
    data: *mut c_void,
    handle_delete: ChannelHandleDelete,
    handle_read: ChannelHandleRead,
    handle_write: ChannelHandleWrite,
) -> Channel {
    boundary!(ivychannel::add(ChannelWatch { fd, data, handle_delete, handle_read, handle_write }))
}

/// The library's own `IvyChannelRemove`.
#[unsafe(no_mangle)]
pub extern "C" fn ivy_rs_channel_remove(channel: Channel) {
    boundary!(ivychannel::remove(channel))
}

/// The library's own `IvyChannelAddWritableEvent` (`on` non-zero) and
/// `IvyChannelClearWritableEvent`.
#[unsafe(no_mangle)]
pub extern "C" fn ivy_rs_channel_set_writable(channel: Channel, on: c_int) {
    boundary!(ivychannel::set_writable(channel, on))
}

/// `ivy_app_channels()` (`csrc/ivy_channel.c`): the program defines
/// `IvyChannelAdd`.
pub const IVY_APP_CHANNEL_ADD: c_int = 1;
/// The program defines `IvyChannelRemove`.
pub const IVY_APP_CHANNEL_REMOVE: c_int = 2;
/// The program defines `IvyChannelAddWritableEvent`.
pub const IVY_APP_CHANNEL_ADD_WRITABLE: c_int = 4;
/// The program defines `IvyChannelClearWritableEvent`.
pub const IVY_APP_CHANNEL_CLEAR_WRITABLE: c_int = 8;
