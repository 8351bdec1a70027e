//! A bus's sockets: the UDP bus socket, the TCP listener, connections being opened,
//! and one stream per peer, each watched by the bus's [`SocketLoop`] while it is
//! open. What they read goes to the [`Engine`], what it asks of sockets
//! ([`Action`]) is done here. Behind the driver's lock; no user code runs here.

use super::output::Output;
use crate::runtime::backend::{Readiness, SocketLoop, Watched};
use crate::runtime::fdmap::FdMap;
use crate::runtime::net::{self, Liveness};
use crate::runtime::sys::{self, hung_up};
use ivy_proto::engine::{Action, Engine, IdMap, PeerId};
use ivy_proto::wire::BusSpec;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Duration;

/// Bytes read from one socket in one go.
const READ_CHUNK: usize = 64 << 10;
/// The scratch buffer, which takes datagrams and the bytes of peers no longer read:
/// a datagram this long or longer is ignored whole. It holds the longest valid hello (`wire::MAX_HELLO_ID` and `MAX_HELLO_NAME`, with
/// the version, the port and the separators: 2 186 bytes) with room to spare; a
/// datagram that fills it may have been cut short, and is ignored. Kept small: a
/// 64 KiB one was zeroed at start and stayed resident in every agent.
pub const DATAGRAM_BUFFER: usize = 4 << 10;
/// Reads from one peer per loop iteration, so one busy peer cannot starve the others.
const READS_PER_TURN: usize = 16;
/// Datagrams read, and connections accepted, per loop iteration: a flood on the
/// bus socket or the listener cannot starve the other sockets (what is left is
/// taken at the next iteration).
const DATAGRAMS_PER_TURN: usize = 16;
const ACCEPTS_PER_TURN: usize = 16;
/// How long the listener goes unwatched after `accept` failed for lack of
/// descriptors or memory: the pending connection keeps it readable, and watching
/// it meanwhile would make the loop spin.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A TCP connection of the bus.
pub(super) enum Conn {
    /// A connect under way to the agent `addr` whose hello named it `name`;
    /// completion shows as writability.
    Dial {
        stream: Watched<TcpStream>,
        addr: SocketAddr,
        name: Vec<u8>,
    },
    Peer(PeerConn),
}

/// A peer's connection and what is being written to it.
pub(super) struct PeerConn {
    pub stream: Watched<TcpStream>,
    pub id: PeerId,
    pub out: Output,
}

/// What became of the listener after a turn of accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Listening {
    Watched,
    /// Unwatched after `accept` failed for lack of resources: watch it again
    /// ([`Sockets::resume_listener`]) after [`ACCEPT_BACKOFF`].
    Paused,
}

/// The sockets of one bus.
pub(super) struct Sockets {
    watcher: Arc<dyn SocketLoop>,
    udp: Option<Watched<UdpSocket>>,
    listener: Option<Watched<TcpListener>>,
    /// The listener while it is paused (unwatched).
    paused: Option<TcpListener>,
    /// Connections by descriptor number.
    conns: FdMap<Conn>,
    /// The descriptor of each peer's connection.
    fds: IdMap<PeerId, RawFd>,
    scratch: Vec<u8>,
    liveness: Option<Liveness>,
}

impl Sockets {
    /// Sockets watched by `watcher`.
    pub(super) fn new(watcher: Arc<dyn SocketLoop>) -> Sockets {
        Sockets {
            watcher,
            udp: None,
            listener: None,
            paused: None,
            conns: FdMap::default(),
            fds: IdMap::default(),
            scratch: vec![0; DATAGRAM_BUFFER],
            liveness: Some(Liveness::default()),
        }
    }

    /// Keepalive settings for connections opened from now on (`None`: off).
    pub(super) fn set_liveness(&mut self, liveness: Option<Liveness>) {
        self.liveness = liveness;
    }

    pub(super) fn liveness(&self) -> Option<Liveness> {
        self.liveness
    }

    pub(super) fn is_started(&self) -> bool {
        self.listener.is_some() || self.paused.is_some()
    }

    /// Our TCP port, once started.
    pub(super) fn tcp_port(&self) -> Option<u16> {
        let listener = self.listener.as_ref().map(Watched::get).or(self.paused.as_ref());
        listener.and_then(|l| l.local_addr().ok()).map(|a| a.port())
    }

    /// Opens the listener and the bus socket of `spec`, then says hello on every
    /// network (§1). Without a UDP socket (port taken, no permission) discovery is
    /// off but TCP works.
    pub(super) fn start(&mut self, engine: &mut Engine, spec: &BusSpec) -> io::Result<()> {
        for bad in &spec.bad_elements {
            log::warn!(target: "ivy", "bad broadcast address");
            log::debug!(target: "ivy", "bad broadcast address: {bad}");
        }
        let listener = net::listener(spec.ipv6)?;
        let port = listener.local_addr()?.port();
        self.listener = Some(Watched::new(listener, &self.watcher)?);
        engine.set_local(port, net::app_id(port).as_bytes());
        self.udp = net::bus_socket(spec)
            .and_then(|udp| Watched::new(udp, &self.watcher))
            .inspect_err(|e| log::warn!(target: "ivy", "bus socket on port {}: {e}", spec.port))
            .ok();
        self.say_hello(engine, spec);
        Ok(())
    }

    fn say_hello(&self, engine: &Engine, spec: &BusSpec) {
        let Some(udp) = &self.udp else { return };
        let hello = engine.hello();
        if spec.ipv6 {
            log::info!(target: "ivy", "Ivy Using IPV6 mode");
        }
        for &ip in &spec.targets {
            log::info!(target: "ivy", "Broadcasting on network {ip}, port {}", spec.port);
            if let Err(e) = udp.get().send_to(&hello, SocketAddr::new(ip, spec.port)) {
                log::debug!(target: "ivy", "hello to {ip}: {e}");
            }
        }
    }

    /// Closes every connection (after the engine was told to leave and what it
    /// queued was written) and the bus's own sockets.
    pub(super) fn stop(&mut self, engine: &mut Engine) {
        self.conns.retain(|c| match c {
            Conn::Dial { addr, .. } => {
                engine.handle_connect_failed(*addr);
                false
            }
            Conn::Peer(_) => true,
        });
        for id in engine.connections() {
            self.drop_peer(engine, id);
        }
        self.udp = None;
        self.listener = None;
        self.paused = None;
    }

    /// Handles the readiness of descriptor `fd`. A stale report (the socket closed
    /// meanwhile, or its number reused) costs at most a read or write that would
    /// block. A peer's writability is the caller's ([`Sockets::peer_of`]).
    pub(super) fn ready(&mut self, engine: &mut Engine, fd: RawFd, readiness: Readiness) -> Option<Listening> {
        if self.udp.as_ref().is_some_and(|u| u.fd() == fd) {
            self.read_datagrams(engine);
        } else if self.listener.as_ref().is_some_and(|l| l.fd() == fd) {
            return Some(self.accept_connections(engine));
        } else {
            match self.conns.get(fd) {
                Some(Conn::Dial { .. }) => self.finish_dial(engine, fd, readiness),
                Some(Conn::Peer(p)) if readiness.readable || readiness.failed => {
                    let id = p.id;
                    self.read_peer(engine, fd, id);
                }
                _ => {}
            }
        }
        None
    }

    /// The peer whose connection is `fd`, if it is one.
    pub(super) fn peer_of(&self, fd: RawFd) -> Option<PeerId> {
        match self.conns.get(fd) {
            Some(Conn::Peer(p)) => Some(p.id),
            _ => None,
        }
    }

    fn read_datagrams(&mut self, engine: &mut Engine) {
        let Some(udp) = &self.udp else { return };
        for _ in 0..DATAGRAMS_PER_TURN {
            match udp.get().recv_from(&mut self.scratch) {
                Ok((n, from)) if n < self.scratch.len() => {
                    engine.handle_datagram(from, self.scratch.get(..n).unwrap_or_default());
                }
                Ok((_, from)) => {
                    log::debug!(target: "ivy", "datagram from {from} ignored: {DATAGRAM_BUFFER} bytes or more")
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    fn accept_connections(&mut self, engine: &mut Engine) -> Listening {
        for _ in 0..ACCEPTS_PER_TURN {
            let Some(listener) = &self.listener else { break };
            let (stream, remote) = match listener.get().accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if lacks_resources(&e) => return self.pause_listener(&e),
                Err(_) => break,
            };
            // Accepted and closed at once: left pending, it would keep the listener readable.
            if !engine.admit(remote) {
                continue;
            }
            let Ok(local) = stream.local_addr() else { continue };
            if net::configure(&stream, self.liveness).is_err() {
                continue;
            }
            match Watched::new(stream, &self.watcher) {
                Ok(stream) => self.add_peer(engine, stream, remote, local, None),
                Err(e) => log::warn!(target: "ivy", "connection from {remote} refused: {e}"),
            }
        }
        Listening::Watched
    }

    /// Stops watching the listener after `accept` failed with `e`.
    fn pause_listener(&mut self, e: &io::Error) -> Listening {
        // Unwatched by being taken out and registered again on resume.
        let Some(listener) = self.listener.take() else { return Listening::Watched };
        let ms = ACCEPT_BACKOFF.as_millis();
        log::warn!(target: "ivy", "accept: {e}: not accepting for {ms} ms");
        let sock = listener.shared();
        drop(listener);
        self.paused = Arc::into_inner(sock);
        Listening::Paused
    }

    /// Watches the listener again after a pause: connections that came meanwhile
    /// are accepted, or the listener is paused again if descriptors still lack.
    /// False when it could not be watched: try again after [`ACCEPT_BACKOFF`].
    pub(super) fn resume_listener(&mut self) -> bool {
        let Some(listener) = self.paused.take() else { return true };
        match Watched::new(listener, &self.watcher) {
            Ok(listener) => {
                self.listener = Some(listener);
                true
            }
            Err(e) => {
                let ms = ACCEPT_BACKOFF.as_millis();
                log::warn!(target: "ivy", "watching the listener: {e}: paused {ms} ms more");
                false
            }
        }
    }

    /// A connection becomes a peer of the engine.
    fn add_peer(
        &mut self,
        engine: &mut Engine,
        stream: Watched<TcpStream>,
        remote: SocketAddr,
        local: SocketAddr,
        name: Option<&[u8]>,
    ) {
        let id = engine.handle_connected(remote, local, name);
        self.fds.insert(id, stream.fd());
        self.conns.insert(stream.fd(), Conn::Peer(PeerConn { stream, id, out: Output::default() }));
    }

    /// Does what the engine asked of sockets: a connect, or a close or a drain
    /// once what is queued is written (`false` while another thread still writes
    /// to that peer: ask again later).
    pub(super) fn act(&mut self, engine: &mut Engine, action: &Action) -> bool {
        match action {
            Action::Connect { addr, name } => {
                self.dial(engine, *addr, name.clone());
                true
            }
            Action::Close(id) => self.close_peer(engine, *id),
            Action::Drain(id) => self.drain_peer(engine, *id),
        }
    }

    fn dial(&mut self, engine: &mut Engine, addr: SocketAddr, name: Vec<u8>) {
        match net::dial(addr).and_then(|stream| Watched::new(stream, &self.watcher)) {
            Ok(mut stream) => match stream.set_writable(true) {
                Ok(()) => {
                    self.conns.insert(stream.fd(), Conn::Dial { stream, addr, name });
                }
                Err(e) => self.dial_failed(engine, addr, &e),
            },
            Err(e) => self.dial_failed(engine, addr, &e),
        }
    }

    fn dial_failed(&mut self, engine: &mut Engine, addr: SocketAddr, e: &io::Error) {
        log::info!(target: "ivy", "SocketConnectAddr error {addr}: {e}");
        engine.handle_connect_failed(addr);
    }

    /// A connect under way on `fd` reports readiness: it succeeded, failed, or (a
    /// stale report) is still under way.
    fn finish_dial(&mut self, engine: &mut Engine, fd: RawFd, readiness: Readiness) {
        let Some(Conn::Dial { stream, .. }) = self.conns.get(fd) else { return };
        let status = match stream.get().take_error() {
            Ok(None) => stream.get().peer_addr().map(drop),
            Ok(Some(e)) | Err(e) => Err(e),
        };
        let pending = status.as_ref().is_err_and(|e| e.raw_os_error() == Some(libc::ENOTCONN));
        // A hang-up reported for this descriptor number may be a stale report for
        // a socket closed earlier in the same turn: ask this socket itself.
        if pending && (!readiness.failed || !hung_up(fd)) {
            return;
        }
        let Some(Conn::Dial { mut stream, addr, name }) = self.conns.remove(fd) else { return };
        let connected = status.and_then(|()| stream.get().local_addr()).and_then(|local| {
            net::configure(stream.get(), self.liveness)?;
            stream.set_writable(false)?;
            Ok(local)
        });
        match connected {
            Ok(local) => self.add_peer(engine, stream, addr, local, Some(&name)),
            Err(e) => self.dial_failed(engine, addr, &e),
        }
    }

    /// Reads a peer's socket straight into its line buffer (into the scratch buffer,
    /// then ignored, once the engine no longer reads it), at most a few times.
    /// Reads no more than the engine allows ([`Engine::read_allowance`]: nothing
    /// while the peer's lines wait for another turn, little once the turn's work
    /// is spent): the socket keeps the rest.
    fn read_peer(&mut self, engine: &mut Engine, fd: RawFd, id: PeerId) {
        for _ in 0..READS_PER_TURN {
            let allowed = engine.read_allowance(id);
            if allowed == 0 {
                return;
            }
            let room = engine.input_room(id).unwrap_or(&mut self.scratch);
            // At most READ_CHUNK per read, so that a turn takes at most
            // READS_PER_TURN × READ_CHUNK from one peer, however large its buffer.
            let offered = room.len().min(READ_CHUNK).min(allowed);
            let room = room.get_mut(..offered).unwrap_or_default();
            match sys::recv(fd, room) {
                Ok(0) => return self.drop_peer(engine, id),
                Ok(n) => {
                    engine.handle_input(id, n);
                    if n < offered {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return self.drop_peer(engine, id),
            }
        }
    }

    /// Drops the peers whose host vanished while data waits for them
    /// ([`net::host_vanished`]); returns whether data still waits for any
    /// other peer (so that the check goes on).
    pub(super) fn drop_vanished_peers(&mut self, engine: &mut Engine) -> bool {
        let Some(liveness) = self.liveness else { return false };
        let (mut gone, mut waiting) = (Vec::new(), false);
        for (&id, &fd) in self.fds.iter() {
            let Some(Conn::Peer(p)) = self.conns.get(fd) else { continue };
            let stream = p.stream.get();
            if net::host_vanished(stream, liveness.silence_limit()).unwrap_or(false) {
                gone.push(id);
            } else {
                waiting |= p.out.is_blocked() || net::data_waits(stream).unwrap_or(false);
            }
        }
        for id in gone {
            let limit = liveness.silence_limit();
            log::info!(target: "ivy", "peer {id:?} dropped: its host answered nothing for {limit:?}");
            self.drop_peer(engine, id);
        }
        waiting
    }

    /// The connection of a peer, with what is being written to it.
    pub(super) fn peer_mut(&mut self, id: PeerId) -> Option<&mut PeerConn> {
        let fd = *self.fds.get(&id)?;
        match self.conns.get_mut(fd) {
            Some(Conn::Peer(p)) if p.id == id => Some(p),
            _ => None,
        }
    }

    /// Peers whose writers, off the loop's thread, left something for the loop to
    /// do ([`Output::needs_loop`]).
    pub(super) fn peers_needing_loop(&self, out: &mut Vec<PeerId>) {
        out.clear();
        for (&id, &fd) in self.fds.iter() {
            if let Some(Conn::Peer(p)) = self.conns.get(fd)
                && p.out.needs_loop()
            {
                out.push(id);
            }
        }
    }

    /// Closes a peer's connection once nothing is being written to it; false
    /// while a writer holds it.
    fn close_peer(&mut self, engine: &mut Engine, id: PeerId) -> bool {
        let Some(peer) = self.peer_mut(id) else { return true };
        if peer.out.is_writing() {
            return false;
        }
        let _ = peer.stream.get().shutdown(std::net::Shutdown::Both);
        self.drop_peer(engine, id);
        true
    }

    /// Shuts our side of a peer's connection down for writing once nothing is
    /// being written to it (false while a writer holds it); it is still read,
    /// until the peer closes its side.
    fn drain_peer(&mut self, engine: &mut Engine, id: PeerId) -> bool {
        let Some(peer) = self.peer_mut(id) else { return true };
        if peer.out.is_writing() {
            return false;
        }
        peer.out.shut();
        // A socket shut down for writing always reads as writable: unwatched.
        let shut = peer.stream.set_writable(false).and_then(|()| peer.stream.get().shutdown(std::net::Shutdown::Write));
        if shut.is_err() {
            self.drop_peer(engine, id);
        }
        true
    }

    /// Forgets a peer's connection (closed once no writer holds it) and tells the
    /// engine.
    pub(super) fn drop_peer(&mut self, engine: &mut Engine, id: PeerId) {
        if let Some(fd) = self.fds.remove(&id) {
            self.conns.remove(fd);
        }
        engine.handle_closed(id);
    }
}

/// Errors of `accept` that leave the connection pending until descriptors or
/// memory are freed: out of descriptors for the process or the system, or of
/// kernel memory.
fn lacks_resources(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}
