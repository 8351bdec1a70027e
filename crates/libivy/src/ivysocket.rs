//! `Ivy/ivysocket.h`: ivy-c's socket layer (ivy-protocol.md §8.5), a small
//! TCP and UDP layer of its own on the library's loop: servers, connections
//! and datagram sockets whose input reaches a handler line by line (LF
//! removed), sends with §7's congestion queue. The bus does not use it: its
//! connections are no `Client`s. The variadic functions (`SocketSend`,
//! `SocketBroadcast`, `SocketSendBroadcast`, `SocketSendBroadcast6`) are in
//! `csrc/ivy_shim.c`; the implementation in `sockets/`.
//!
//! Where ivy-protocol.md does not say, these are our decisions:
//! - a failure to create a server or a socket returns NULL (ivy-c exits);
//!   connects wait at most 5 s (ivy-c: as long as the system);
//! - `handle_delete` runs once per connection: inside `SocketClose`, or when
//!   the peer closes or an error or a line over 1 MiB ends it;
//! - a send is whole or dropped whole (`SocketSendRawWithId`'s two parts
//!   together); past 32 MiB waiting, sends are dropped until bytes drain;
//! - a datagram's end ends a line (ivy-c keeps an unterminated one for the next);
//! - ports are in host byte order everywhere, `SocketGetRemotePort` included
//!   (ivy-c's returns network order); the `unsigned long` IPv4 addresses too;
//! - `SocketAddMember`/`6` return 1 on success, 0 on failure;
//! - `SocketWaitForReply` waits `delai` seconds (0 or less: no wait) for a
//!   line, copies at most `size - 1` bytes of it and returns how many, or -1;
//! - `SocketGetPeerHost` gives the peer's host name, `SocketGetRemoteHost` its
//!   numeric address;
//! - `SocketCmpUuid` is 0 when both clients have the same uuid, the sign of
//!   strcmp when both have one, else 1.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int, c_ulong, c_ushort, c_void};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use libc::{in6_addr, sockaddr_storage};

use super::{_client, _server, Ring, SendPtr, bytes, intern_in};
use crate::boundary::{Neutral, boundary};
use crate::sockets::{self, Handlers};

/// Result of a send on a connection of the socket layer (ivy-protocol.md §7).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendState {
    /// Written.
    SendOk,
    /// Queued behind earlier bytes.
    SendStillCongestion,
    /// The socket took part of it or none: the rest is queued, the
    /// connection is congested from now on.
    SendStateChangeToCongestion,
    /// Never used for a send (the decongestion handler tells it).
    SendStateChangeToDecongestion,
    /// Dropped: the queue is full.
    SendStateFifoFull,
    /// The socket failed, or the client is a datagram socket.
    SendError,
    /// NULL or stale client, NULL buffer or negative length.
    SendParamError,
}

impl Neutral for SendState {
    fn neutral() -> Self {
        SendState::SendError
    }
}

/// A connection or a datagram socket of the socket layer (opaque).
pub type Client = *mut _client;
/// A listening socket of the socket layer (opaque).
pub type Server = *mut _server;
/// Called with each line received (LF removed; writable, NUL-terminated,
/// valid during the call) and the client's data.
pub type SocketInterpretation = Option<unsafe extern "C" fn(client: Client, data: *const c_void, line: *mut c_char)>;

/// The user data as stored (the layer gives it back, untouched).
fn user(data: *const c_void) -> SendPtr {
    SendPtr::new(data.cast_mut())
}

thread_local! {
    static TEXTS: RefCell<Ring> = const { RefCell::new(Ring::new()) };
    // SAFETY: all-zero bytes are a valid sockaddr_storage (plain integers).
    static REMOTE: Cell<sockaddr_storage> = const { Cell::new(unsafe { std::mem::zeroed() }) };
}

/// Same as `IvyChannelInit`.
#[unsafe(no_mangle)]
pub extern "C" fn SocketInit() {
    boundary!(crate::channels::init())
}

/// Listens on TCP `port` (0: any; `ipv6`: IPv6, else IPv4) on every
/// interface. Each accepted connection is a `Client` whose data is what
/// `create` returns for it; its lines go to `interpretation`, its end to
/// `handle_delete`, its decongestion to `handle_decongestion` (each may be
/// NULL). NULL if the socket cannot be made.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SocketServer(
    ipv6: c_int,
    port: c_ushort,
    create: Option<unsafe extern "C" fn(client: Client) -> *mut c_void>,
    handle_delete: Option<unsafe extern "C" fn(client: Client, data: *const c_void)>,
    handle_decongestion: Option<unsafe extern "C" fn(client: Client, data: *const c_void)>,
    interpretation: SocketInterpretation,
) -> Server {
    boundary!({
        let handlers = Handlers { line: interpretation, delete: handle_delete, decongestion: handle_decongestion };
        sockets::serve(ipv6 != 0, port, create, handlers).unwrap_or(std::ptr::null_mut())
    })
}

/// The port the server listens on (0 for NULL).
#[unsafe(no_mangle)]
pub extern "C" fn SocketServerGetPort(server: Server) -> c_ushort {
    boundary!(sockets::server_port(server))
}

/// Stops listening; the connections already accepted stay.
#[unsafe(no_mangle)]
pub extern "C" fn SocketServerClose(server: Server) {
    boundary!(sockets::close_server(server))
}

/// Closes the connection or datagram socket; its `handle_delete` runs now.
/// NULL or already closed: nothing.
#[unsafe(no_mangle)]
pub extern "C" fn SocketClose(client: Client) {
    boundary!(sockets::close(client))
}

/// Sends `len` bytes of `buffer` on a TCP connection, or queues them while it
/// is congested.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SocketSendRaw(client: Client, buffer: *const c_char, len: c_int) -> SendState {
    boundary!({
        // SAFETY: `buffer` is NULL or holds `len` readable bytes (ivy-c's contract).
        match unsafe { raw_bytes(buffer, len) } {
            Some(b) => sockets::send(client, &[b]),
            None => SendState::SendParamError,
        }
    })
}

/// Sends the string `id` then `len` bytes of `buffer`, as one whole.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SocketSendRawWithId(
    client: Client,
    id: *const c_char,
    buffer: *const c_char,
    len: c_int,
) -> SendState {
    boundary!({
        // SAFETY: `id` is NULL or a NUL-terminated string; `buffer` is NULL or
        // holds `len` readable bytes.
        match unsafe { (bytes(id), raw_bytes(buffer, len)) } {
            (Some(id), Some(b)) => sockets::send(client, &[id, b]),
            _ => SendState::SendParamError,
        }
    })
}

/// `len` bytes at `p`; `None` for NULL or a negative length.
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes that outlive `'a`.
unsafe fn raw_bytes<'a>(p: *const c_char, len: c_int) -> Option<&'a [u8]> {
    let len = usize::try_from(len).ok()?;
    if p.is_null() {
        return None;
    }
    // SAFETY: non-NULL, with `len` readable bytes per this function's contract.
    Some(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) })
}

/// The peer's host name (reverse DNS, short form; its address when unnamed),
/// or NULL. Library-owned, per thread.
#[unsafe(no_mangle)]
pub extern "C" fn SocketGetPeerHost(client: Client) -> *const c_char {
    boundary!(match sockets::remote(client) {
        Some(a) => intern_in(&TEXTS, ::ivy::host_name(a.ip()).as_bytes()),
        None => std::ptr::null(),
    })
}

/// Sets the user data given to the client's handlers.
#[unsafe(no_mangle)]
pub extern "C" fn SocketSetData(client: Client, data: *const c_void) {
    boundary!(sockets::set_data(client, user(data)))
}

/// The client's user data (NULL for NULL).
#[unsafe(no_mangle)]
pub extern "C" fn SocketGetData(client: Client) -> *const c_void {
    boundary!(sockets::data(client).map_or(std::ptr::null(), |d| d.get().cast_const()))
}

/// Resolves `host` (name or address, of the family `ipv6` says) and connects
/// to `port` there. The connection's lines go to `interpretation`, its end
/// to `handle_delete`, its decongestion to `handle_decongestion`; `data` is
/// given to them. NULL if no address answers within 5 s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SocketConnect(
    ipv6: c_int,
    host: *const c_char,
    port: c_ushort,
    data: *mut c_void,
    interpretation: SocketInterpretation,
    handle_delete: Option<unsafe extern "C" fn(client: Client, data: *const c_void)>,
    handle_decongestion: Option<unsafe extern "C" fn(client: Client, data: *const c_void)>,
) -> Client {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string.
        let Some(host) = (unsafe { bytes(host) }).and_then(|h| std::str::from_utf8(h).ok()) else {
            return std::ptr::null_mut();
        };
        let addrs: Vec<SocketAddr> = match (host, port).to_socket_addrs() {
            Ok(all) => all.filter(|a| a.is_ipv6() == (ipv6 != 0)).collect(),
            Err(_) => return std::ptr::null_mut(),
        };
        let handlers = Handlers { line: interpretation, delete: handle_delete, decongestion: handle_decongestion };
        sockets::connect(addrs, SendPtr::new(data), handlers).unwrap_or(std::ptr::null_mut())
    })
}

/// Connects to `port` at the address of `addr` (its family decides; its port
/// is ignored); otherwise as `SocketConnect`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SocketConnectAddr(
    ipv6: c_int,
    addr: *mut sockaddr_storage,
    port: c_ushort,
    data: *mut c_void,
    interpretation: SocketInterpretation,
    handle_delete: Option<unsafe extern "C" fn(client: Client, data: *const c_void)>,
    handle_decongestion: Option<unsafe extern "C" fn(client: Client, data: *const c_void)>,
) -> Client {
    boundary!({
        let _ = ipv6; // the address's own family decides
        // SAFETY: `addr` is NULL or a readable sockaddr_storage.
        let Some(ip) = (unsafe { addr.as_ref() }).and_then(sockets::from_storage).map(|a| a.ip()) else {
            return std::ptr::null_mut();
        };
        let handlers = Handlers { line: interpretation, delete: handle_delete, decongestion: handle_decongestion };
        let to = vec![SocketAddr::new(ip, port)];
        sockets::connect(to, SendPtr::new(data), handlers).unwrap_or(std::ptr::null_mut())
    })
}

/// Waits at most `delai` seconds for a line from the client, reading its
/// socket directly (for programs that do not run the loop meanwhile); copies
/// it, NUL-terminated and cut to `size - 1` bytes, into `buffer`. Returns the
/// number of bytes copied, or -1 (time out, end of the connection, bad
/// arguments).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SocketWaitForReply(client: Client, buffer: *mut c_char, size: c_int, delai: c_int) -> c_int {
    boundary!({
        let Some(room) = usize::try_from(size).ok().filter(|&n| n > 0 && !buffer.is_null()) else {
            return -1;
        };
        let wait = Duration::from_secs(u64::try_from(delai).unwrap_or(0));
        let copied = sockets::wait_line(client, wait, |line| {
            let n = line.len().min(room - 1);
            // SAFETY: `buffer` has `size` = `room` writable bytes; n + 1 <= room.
            unsafe {
                std::ptr::copy_nonoverlapping(line.as_ptr(), buffer.cast::<u8>(), n);
                *buffer.add(n) = 0;
            }
            c_int::try_from(n).unwrap_or(c_int::MAX)
        });
        copied.unwrap_or(-1)
    })
}

/// A UDP socket on `port` (`ipv6`: IPv6, else IPv4) of every interface,
/// allowed to broadcast, sharing the port with other sockets. Each datagram
/// goes to `interpretation` line by line, with `data`. NULL on failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SocketBroadcastCreate(
    ipv6: c_int,
    port: c_ushort,
    data: *mut c_void,
    interpretation: SocketInterpretation,
) -> Client {
    boundary!(sockets::datagram(ipv6 != 0, port, SendPtr::new(data), interpretation).unwrap_or(std::ptr::null_mut()))
}

/// Joins the IPv4 multicast group `host` (host byte order) on the datagram
/// socket, with a TTL of 64. 1 on success, 0 on failure.
#[unsafe(no_mangle)]
pub extern "C" fn SocketAddMember(client: Client, host: c_ulong) -> c_int {
    boundary!(joined(client, IpAddr::V4(sockets::ipv4(host))))
}

/// Joins the IPv6 multicast group `host` on the datagram socket. 1 on
/// success, 0 on failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SocketAddMember6(client: Client, host: *mut in6_addr) -> c_int {
    boundary!({
        // SAFETY: `host` is NULL or a readable in6_addr.
        match unsafe { host.as_ref() } {
            Some(h) => joined(client, IpAddr::V6(Ipv6Addr::from(h.s6_addr))),
            None => 0,
        }
    })
}

fn joined(client: Client, group: IpAddr) -> c_int {
    c_int::from(sockets::join(client, group).is_ok())
}

/// The address of the peer (TCP) or of the last datagram's sender (UDP), or
/// NULL. Library-owned, per thread, valid until the next call.
#[unsafe(no_mangle)]
pub extern "C" fn SocketGetRemoteAddr(client: Client) -> *mut sockaddr_storage {
    boundary!(match sockets::remote(client) {
        Some(a) => REMOTE.with(|r| {
            r.set(sockets::to_storage(a).0);
            r.as_ptr()
        }),
        None => std::ptr::null_mut(),
    })
}

/// Gives the client a uuid (copied; NULL: nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SocketSetUuid(client: Client, uuid: *const c_char) {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string.
        if let Some(u) = unsafe { bytes(uuid) } {
            sockets::set_uuid(client, u);
        }
    })
}

/// The client's uuid, or NULL. Library-owned, per thread.
#[unsafe(no_mangle)]
pub extern "C" fn SocketGetUuid(client: Client) -> *const c_char {
    boundary!(sockets::uuid(client).map_or(std::ptr::null(), |u| intern_in(&TEXTS, &u)))
}

/// 0 when both clients have the same uuid; the sign of strcmp when both have
/// one; 1 otherwise.
#[unsafe(no_mangle)]
pub extern "C" fn SocketCmpUuid(c1: Client, c2: Client) -> c_int {
    boundary!(match (sockets::uuid(c1), sockets::uuid(c2)) {
        (Some(a), Some(b)) => a.cmp(&b) as c_int,
        _ => 1,
    })
}

/// The numeric address and the port of the peer (TCP) or of the last
/// datagram's sender (UDP); NULL and 0 when unknown. The host string is
/// library-owned, per thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SocketGetRemoteHost(client: Client, host: *mut *const c_char, port: *mut c_ushort) {
    boundary!({
        let remote = sockets::remote(client);
        let text = remote.map_or(std::ptr::null(), |a| intern_in(&TEXTS, a.ip().to_string().as_bytes()));
        // SAFETY: each is NULL or writable (ivy-c's contract).
        unsafe {
            if let Some(h) = host.as_mut() {
                *h = text;
            }
            if let Some(p) = port.as_mut() {
                *p = remote.map_or(0, |a| a.port());
            }
        }
    })
}

/// The local port of the client's socket (0 when unknown).
#[unsafe(no_mangle)]
pub extern "C" fn SocketGetLocalPort(client: Client) -> c_ushort {
    boundary!(sockets::local(client).map_or(0, |a| a.port()))
}

/// The remote port of the peer or of the last datagram's sender, in host
/// byte order (0 when unknown).
#[unsafe(no_mangle)]
pub extern "C" fn SocketGetRemotePort(client: Client) -> c_ushort {
    boundary!(sockets::remote(client).map_or(0, |a| a.port()))
}
