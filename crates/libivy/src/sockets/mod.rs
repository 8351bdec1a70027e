//! ivy-c's socket layer (`Ivy/ivysocket.h`, ivy-protocol.md §8.5): TCP
//! servers and connections and UDP sockets whose input is cut into lines for a
//! handler, with the congestion queue of §7. The C functions are in
//! `ivysocket.rs`; the records and their handles here; what the loop calls
//! when a socket is ready in `events.rs`.
//!
//! As in ivy-c, the sockets are watched through ivychannel.h's functions
//! (`channels.rs`): the library's own loop's, or those of a program that runs
//! its own loop. The records live in one table under a lock; C handlers, and
//! the loop's functions, are always called with the lock released, so they
//! may call any function of the layer (send, close their own connection...).

mod events;
mod fifo;
mod net;

use std::collections::HashMap;
use std::ffi::{c_char, c_void};
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

use ivy_proto::wire::{DEFAULT_MAX_LINE, LineBuffer};
use once_cell::sync::Lazy;
use parking_lot::{Mutex, MutexGuard};

use crate::ivychannel::{Channel, ChannelHandleDelete, ChannelHandleRead, ChannelHandleWrite, ChannelWatch};
use crate::ivysocket::{Client, SendState, Server};
use crate::{SendPtr, channels, handle_addr, handle_ptr};

pub(crate) use net::{from_storage, to_storage};

/// `void *(*create)(Client client)`: gives an accepted connection its data.
pub(crate) type CreateFn = Option<unsafe extern "C" fn(client: Client) -> *mut c_void>;
/// `void (*handle)(Client client, const void *data)`: a connection's end, or
/// its decongestion.
pub(crate) type ClientFn = Option<unsafe extern "C" fn(client: Client, data: *const c_void)>;
/// `SocketInterpretation`: one received line (LF removed, NUL added).
pub(crate) type LineFn = Option<unsafe extern "C" fn(client: Client, data: *const c_void, line: *mut c_char)>;

/// The handlers of a connection.
#[derive(Clone, Copy)]
pub(crate) struct Handlers {
    /// Each received line.
    pub(crate) line: LineFn,
    /// The connection's end.
    pub(crate) delete: ClientFn,
    /// The queue of a congested connection drained.
    pub(crate) decongestion: ClientFn,
}

/// A largest UDP datagram.
const DATAGRAM_ROOM: usize = 65536;

enum Sock {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

impl Sock {
    fn fd(&self) -> RawFd {
        match self {
            Sock::Tcp(s) => s.as_raw_fd(),
            Sock::Udp(s) => s.as_raw_fd(),
        }
    }
}

/// A connection (TCP) or a datagram socket (UDP) of the layer.
struct Conn {
    sock: Sock,
    channel: Option<Watch>,
    data: SendPtr,
    handlers: Handlers,
    lines: LineBuffer,
    out: fifo::Fifo,
    /// TCP: the peer; UDP: the sender of the last datagram.
    remote: Option<SocketAddr>,
    uuid: Option<Vec<u8>>,
    /// UDP: room for one datagram.
    datagram: Vec<u8>,
}

/// A TCP server of the layer.
struct Listener {
    listener: TcpListener,
    channel: Option<Watch>,
    create: CreateFn,
    handlers: Handlers,
}

#[derive(Default)]
struct Layer {
    last: u64,
    conns: HashMap<u64, Conn>,
    servers: HashMap<u64, Listener>,
}

impl Layer {
    fn next_id(&mut self) -> u64 {
        self.last += 1;
        self.last
    }
}

static LAYER: Lazy<Mutex<Layer>> = Lazy::new(Mutex::default);

fn layer() -> MutexGuard<'static, Layer> {
    LAYER.lock()
}

fn client_ptr(id: u64) -> Client {
    handle_ptr(id)
}

fn conn_id(client: Client) -> u64 {
    handle_addr(client)
}

/// A socket's channel in the loop (`IvyChannelAdd`'s result).
#[derive(Clone, Copy)]
struct Watch(SendPtr);

impl Watch {
    /// Watches `fd` of the record `id`: the loop calls the handlers with the
    /// id as their data.
    fn new(
        fd: RawFd,
        id: u64,
        read: ChannelHandleRead,
        write: ChannelHandleWrite,
        delete: ChannelHandleDelete,
    ) -> Watch {
        let watch =
            ChannelWatch { fd, data: handle_ptr(id), handle_delete: delete, handle_read: read, handle_write: write };
        Watch(SendPtr::new(channels::add(watch).cast()))
    }

    fn channel(self) -> Channel {
        self.0.get().cast()
    }

    /// Stops the watch; the delete handler may run from inside (it then
    /// finds the record gone).
    fn remove(self) {
        channels::remove(self.channel());
    }

    fn set_writable(self, on: bool) {
        channels::set_writable(self.channel(), on);
    }
}

// ---------------------------------------------------------------------------
// Creation and end.

/// A TCP server on `port` (0: any); accepted connections get `handlers` and
/// the data `create` returns for them.
pub(crate) fn serve(ipv6: bool, port: u16, create: CreateFn, handlers: Handlers) -> io::Result<Server> {
    let listener = net::listener(ipv6, port)?;
    let fd = listener.as_raw_fd();
    let id = {
        let mut layer = layer();
        let id = layer.next_id();
        layer.servers.insert(id, Listener { listener, channel: None, create, handlers });
        id
    };
    let watch = Watch::new(fd, id, Some(events::on_acceptable), None, Some(events::on_server_error));
    if let Some(server) = layer().servers.get_mut(&id) {
        server.channel = Some(watch);
    }
    Ok(handle_ptr(id))
}

/// The server's port (0 for NULL or stale).
pub(crate) fn server_port(server: Server) -> u16 {
    let layer = layer();
    let s = layer.servers.get(&handle_addr(server));
    s.and_then(|s| s.listener.local_addr().ok()).map_or(0, |a| a.port())
}

/// Stops listening (the server's connections stay).
pub(crate) fn close_server(server: Server) {
    let gone = layer().servers.remove(&handle_addr(server));
    if let Some(watch) = gone.and_then(|s| s.channel) {
        watch.remove();
    }
}

/// A connection to the first of `addrs` that answers, watched by the loop.
pub(crate) fn connect(addrs: Vec<SocketAddr>, data: SendPtr, handlers: Handlers) -> io::Result<Client> {
    let stream = net::connect(addrs)?;
    let remote = stream.peer_addr().ok();
    Ok(client_ptr(adopt(Sock::Tcp(stream), remote, data, handlers)))
}

/// A UDP socket on `port`, whose datagrams go, line by line, to `line`.
pub(crate) fn datagram(ipv6: bool, port: u16, data: SendPtr, line: LineFn) -> io::Result<Client> {
    let sock = net::datagram(ipv6, port)?;
    let handlers = Handlers { line, delete: None, decongestion: None };
    Ok(client_ptr(adopt(Sock::Udp(sock), None, data, handlers)))
}

/// Makes `sock` a record of the layer watched by the loop; returns its id.
fn adopt(sock: Sock, remote: Option<SocketAddr>, data: SendPtr, handlers: Handlers) -> u64 {
    let datagram = match sock {
        Sock::Udp(_) => vec![0; DATAGRAM_ROOM],
        Sock::Tcp(_) => Vec::new(),
    };
    let fd = sock.fd();
    let conn = Conn {
        sock,
        channel: None,
        data,
        handlers,
        lines: LineBuffer::new(DEFAULT_MAX_LINE),
        out: fifo::Fifo::new(fifo::FIFO_CAP),
        remote,
        uuid: None,
        datagram,
    };
    let id = {
        let mut layer = layer();
        let id = layer.next_id();
        layer.conns.insert(id, conn);
        id
    };
    let watch = Watch::new(fd, id, Some(events::on_readable), Some(events::on_writable), Some(events::on_conn_error));
    if let Some(conn) = layer().conns.get_mut(&id) {
        conn.channel = Some(watch);
    }
    id
}

/// Ends a connection: the socket is closed, the loop forgets it, and its
/// delete handler runs (once: later calls find nothing).
pub(crate) fn close(client: Client) {
    let Some(conn) = layer().conns.remove(&conn_id(client)) else { return };
    if let Some(watch) = conn.channel {
        watch.remove();
    }
    let (delete, data) = (conn.handlers.delete, conn.data);
    drop(conn);
    if let Some(f) = delete {
        // SAFETY: a C handler with ivysocket.h's signature, with the data the
        // program gave the connection.
        unsafe { f(client, data.get()) }
    }
}

// ---------------------------------------------------------------------------
// Sending.

/// Sends `parts` as one whole on a TCP connection (§7's states).
pub(crate) fn send(client: Client, parts: &[&[u8]]) -> SendState {
    let (state, watch) = {
        let mut layer = layer();
        let Some(conn) = layer.conns.get_mut(&conn_id(client)) else { return SendState::SendParamError };
        let Sock::Tcp(stream) = &conn.sock else { return SendState::SendError };
        (conn.out.send(parts, |b| (&*stream).write(b)), conn.channel)
    };
    if state == SendState::SendStateChangeToCongestion
        && let Some(watch) = watch
    {
        watch.set_writable(true);
    }
    state
}

/// Sends `text` to every TCP connection of the layer.
pub(crate) fn broadcast(text: &[u8]) {
    let mut ids: Vec<u64> =
        layer().conns.iter().filter(|(_, c)| matches!(c.sock, Sock::Tcp(_))).map(|(&id, _)| id).collect();
    ids.sort_unstable();
    for id in ids {
        send(client_ptr(id), &[text]);
    }
}

/// Sends `text` in one datagram from a UDP socket of the layer to `to`.
pub(crate) fn send_to(client: Client, to: SocketAddr, text: &[u8]) {
    if let Some(Conn { sock: Sock::Udp(s), .. }) = layer().conns.get(&conn_id(client)) {
        // A datagram that cannot go is lost, as UDP loses them anyway.
        let _ = s.send_to(text, to);
    }
}

/// An IPv4 address given as an `unsigned long` in host byte order (ivy-c's
/// convention for them); bits past the 32nd are ignored.
pub(crate) fn ipv4(host: std::ffi::c_ulong) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(u32::try_from(host & 0xffff_ffff).unwrap_or(0))
}

// ---------------------------------------------------------------------------
// Queries and settings.

/// Runs `f` on the connection's record, if `client` is one.
fn with_conn<R>(client: Client, f: impl FnOnce(&mut Conn) -> R) -> Option<R> {
    layer().conns.get_mut(&conn_id(client)).map(f)
}

/// The user data of the connection.
pub(crate) fn data(client: Client) -> Option<SendPtr> {
    with_conn(client, |c| c.data)
}

/// Sets the user data of the connection.
pub(crate) fn set_data(client: Client, data: SendPtr) {
    with_conn(client, |c| c.data = data);
}

/// TCP: the peer's address; UDP: the last datagram's sender.
pub(crate) fn remote(client: Client) -> Option<SocketAddr> {
    with_conn(client, |c| c.remote).flatten()
}

/// The local address of the connection's socket.
pub(crate) fn local(client: Client) -> Option<SocketAddr> {
    with_conn(client, |c| match &c.sock {
        Sock::Tcp(s) => s.local_addr().ok(),
        Sock::Udp(s) => s.local_addr().ok(),
    })
    .flatten()
}

/// The uuid given to the connection.
pub(crate) fn uuid(client: Client) -> Option<Vec<u8>> {
    with_conn(client, |c| c.uuid.clone()).flatten()
}

/// Gives the connection a uuid.
pub(crate) fn set_uuid(client: Client, uuid: &[u8]) {
    with_conn(client, |c| c.uuid = Some(uuid.to_vec()));
}

/// Joins a multicast group on a UDP socket of the layer.
pub(crate) fn join(client: Client, group: std::net::IpAddr) -> io::Result<()> {
    let unsupported = || io::Error::from(io::ErrorKind::InvalidInput);
    with_conn(client, |c| match (&c.sock, group) {
        (Sock::Udp(s), std::net::IpAddr::V4(g)) => {
            s.join_multicast_v4(&g, &std::net::Ipv4Addr::UNSPECIFIED)?;
            s.set_multicast_ttl_v4(64)
        }
        (Sock::Udp(s), std::net::IpAddr::V6(g)) => s.join_multicast_v6(&g, 0),
        (Sock::Tcp(_), _) => Err(unsupported()),
    })
    .unwrap_or_else(|| Err(unsupported()))
}

/// Waits at most `timeout` for a line of the connection (one already received
/// comes first) and gives it to `take`; `None` on timeout, end or error.
pub(crate) fn wait_line<R>(client: Client, timeout: std::time::Duration, take: impl FnOnce(&[u8]) -> R) -> Option<R> {
    events::wait_line(conn_id(client), timeout, take)
}
