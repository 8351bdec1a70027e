//! What the loop calls when a socket of the layer is ready (the handlers given
//! to `IvyChannelAdd`, whose data is the record's id): accept on a server,
//! read and hand out lines on a connection or a datagram socket, write what
//! waits on a congested connection, end it on an error; and the blocking wait
//! for a line.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use ivy_proto::wire::LineBuffer;

use std::ffi::c_void;

use super::fifo::Flush;
use super::{Conn, Sock, adopt, client_ptr, close, close_server, layer, net};
use crate::boundary::boundary;
use crate::cargs::CArgs;
use crate::ivychannel::Channel;
use crate::{IVY_HANDLE, SendPtr, handle_addr, handle_ptr};

/// A connection's or datagram socket's read handler.
pub(super) unsafe extern "C" fn on_readable(_channel: Channel, _fd: IVY_HANDLE, data: *mut c_void) {
    boundary!(readable(handle_addr(data)))
}

/// A connection's write handler.
pub(super) unsafe extern "C" fn on_writable(_channel: Channel, _fd: IVY_HANDLE, data: *mut c_void) {
    boundary!(writable(handle_addr(data)))
}

/// A connection's delete handler (an error on its socket, or its removal).
pub(super) unsafe extern "C" fn on_conn_error(data: *mut c_void) {
    boundary!(close(client_ptr(handle_addr(data))))
}

/// A server's read handler.
pub(super) unsafe extern "C" fn on_acceptable(_channel: Channel, _fd: IVY_HANDLE, data: *mut c_void) {
    boundary!(acceptable(handle_addr(data)))
}

/// A server's delete handler (an error on its socket, or its removal).
pub(super) unsafe extern "C" fn on_server_error(data: *mut c_void) {
    boundary!(close_server(handle_ptr(handle_addr(data))))
}

/// What a read from a socket gave.
enum Input {
    /// Bytes, now in the record's line buffer.
    Data,
    /// Nothing for now.
    Nothing,
    /// The end of the connection, or an error.
    End,
}

/// Reads once from the record's socket into its line buffer. A datagram is
/// whole lines: its end ends a line.
fn read_input(conn: &mut Conn) -> Input {
    let got = match &conn.sock {
        Sock::Tcp(stream) => match (&*stream).read(conn.lines.spare()) {
            Ok(0) => return Input::End,
            Ok(n) => {
                conn.lines.filled(n);
                return Input::Data;
            }
            Err(e) => Err(e),
        },
        Sock::Udp(sock) => sock.recv_from(&mut conn.datagram),
    };
    match got {
        Ok((n, from)) => {
            let datagram = conn.datagram.get(..n).unwrap_or_default();
            conn.remote = Some(from);
            append(&mut conn.lines, datagram);
            if datagram.last().is_some_and(|&b| b != b'\n') {
                append(&mut conn.lines, b"\n");
            }
            Input::Data
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => Input::Nothing,
        // A datagram socket outlives a failed receive (an ICMP error...).
        Err(_) if matches!(conn.sock, Sock::Udp(_)) => Input::Nothing,
        Err(_) => Input::End,
    }
}

/// Appends `bytes` to `lines`.
fn append(lines: &mut LineBuffer, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        let room = lines.spare();
        let n = room.len().min(bytes.len());
        room[..n].copy_from_slice(&bytes[..n]);
        lines.filled(n);
        bytes = &bytes[n..];
    }
}

/// The connection `id` is readable: reads, then hands every complete line to
/// its handler, one at a time with the layer unlocked; ends the connection at
/// its end, on an error, or on a line longer than the line buffer allows.
fn readable(id: u64) {
    let input = match layer().conns.get_mut(&id) {
        Some(conn) => read_input(conn),
        None => return,
    };
    match input {
        Input::Data => deliver_lines(id),
        Input::Nothing => {}
        Input::End => close(client_ptr(id)),
    }
}

fn deliver_lines(id: u64) {
    loop {
        let next = {
            let mut layer = layer();
            let Some(conn) = layer.conns.get_mut(&id) else { return };
            match conn.lines.take_line() {
                Ok(Some(range)) => {
                    let line = CArgs::one(conn.lines.data().get(range).unwrap_or_default());
                    Some((line, conn.handlers.line, conn.data))
                }
                Ok(None) => {
                    conn.lines.compact();
                    return;
                }
                Err(_too_long) => None,
            }
        };
        match next {
            Some((mut line, Some(f), data)) => {
                // SAFETY: a C handler with SocketInterpretation's signature, with
                // the connection's data and a writable NUL-terminated line.
                unsafe { f(client_ptr(id), data.get(), line.first()) }
            }
            Some((_, None, _)) => {}
            None => return close(client_ptr(id)),
        }
    }
}

/// The connection `id` is writable while congested: writes what waits; once
/// nothing does, stops watching and runs the decongestion handler.
fn writable(id: u64) {
    let drained = {
        let mut layer = layer();
        let Some(conn) = layer.conns.get_mut(&id) else { return };
        let Sock::Tcp(stream) = &conn.sock else { return };
        match conn.out.flush(|b| (&*stream).write(b)) {
            Flush::Pending => return,
            Flush::Failed => None,
            Flush::Drained => Some((conn.handlers.decongestion, conn.data, conn.channel)),
        }
    };
    let Some((decongestion, data, watch)) = drained else { return close(client_ptr(id)) };
    if let Some(watch) = watch {
        watch.set_writable(false);
    }
    if let Some(f) = decongestion {
        // SAFETY: a C handler with ivysocket.h's signature, with the
        // connection's data.
        unsafe { f(client_ptr(id), data.get()) }
    }
}

/// The server `id` has connections to accept: each becomes a connection of
/// the layer, whose data the server's create handler gives (before any line).
fn acceptable(id: u64) {
    loop {
        let accepted = {
            let layer = layer();
            let Some(server) = layer.servers.get(&id) else { return };
            match server.listener.accept() {
                Ok((stream, from)) => (stream, from, server.create, server.handlers),
                Err(_) => return,
            }
        };
        let (stream, from, create, handlers) = accepted;
        let Ok(stream) = net::prepared(stream) else { continue };
        let conn = adopt(Sock::Tcp(stream), Some(from), SendPtr::new(std::ptr::null_mut()), handlers);
        if let Some(f) = create {
            // SAFETY: a C handler with ivysocket.h's signature.
            let data = unsafe { f(client_ptr(conn)) };
            if let Some(c) = layer().conns.get_mut(&conn) {
                c.data = SendPtr::new(data);
            }
        }
    }
}

/// Waits at most `timeout` for a complete line of connection `id`, reading its
/// socket directly (not through the loop); gives the line to `take`. `None`
/// when the time is up first, at the connection's end, or for an unknown id.
pub(super) fn wait_line<R>(id: u64, timeout: Duration, take: impl FnOnce(&[u8]) -> R) -> Option<R> {
    let deadline = Instant::now() + timeout;
    loop {
        let fd = {
            let mut layer = layer();
            let conn = layer.conns.get_mut(&id)?;
            if let Ok(Some(range)) = conn.lines.take_line() {
                let r = take(conn.lines.data().get(range).unwrap_or_default());
                conn.lines.compact();
                return Some(r);
            }
            conn.sock.fd()
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if !readable_within(fd, left) {
            return None;
        }
        let input = read_input(layer().conns.get_mut(&id)?);
        if let Input::End = input {
            return None;
        }
    }
}

/// Whether `fd` becomes readable within `timeout` (poll).
fn readable_within(fd: std::os::fd::RawFd, timeout: Duration) -> bool {
    let mut entry = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd entry, as the count says.
    let n = unsafe { libc::poll(&raw mut entry, 1, ms) };
    n > 0
}
