//! Drives one [`Engine`] over real sockets: the bus's UDP socket, the TCP listener,
//! connections being opened, and one stream per peer, each registered with the loop
//! through the agent's [`Watcher`] while it is open. Not thread-safe by itself: the
//! API keeps it behind a lock and never calls user code while holding it.

use super::fdmap::FdMap;
use super::net::{self, Liveness};
use super::sys::{self, POLLERR, POLLHUP, POLLIN, POLLOUT, hung_up};
use super::watch::{Watched, Watcher};
use ivy_proto::engine::{Action, Engine, IdMap, PeerId, diag};
use ivy_proto::wire::{self, BusSpec};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::RawFd;
use std::time::Duration;

/// Bytes read from one socket in one go.
const READ_CHUNK: usize = 64 << 10;
/// The scratch buffer, which takes datagrams and the bytes of peers no longer read.
/// It holds the longest valid hello (`wire::MAX_HELLO_ID` and `MAX_HELLO_NAME`, with
/// the version, the port and the separators: 2 186 bytes) with room to spare; a
/// datagram that fills it may have been cut short, and is ignored. Kept small: a
/// 64 KiB one was zeroed at start and stayed resident in every agent.
pub const SCRATCH: usize = 4 << 10;
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

/// A TCP connection of the agent.
enum Conn {
    /// A connect under way to the agent `addr` whose hello named it `name`;
    /// completion shows as writability.
    Dial {
        stream: Watched<TcpStream>,
        addr: SocketAddr,
        name: Vec<u8>,
    },
    Peer {
        stream: Watched<TcpStream>,
        id: PeerId,
    },
}

/// An engine and its sockets.
pub struct Agent {
    pub engine: Engine,
    spec: Option<BusSpec>,
    watcher: Watcher,
    udp: Option<Watched<UdpSocket>>,
    listener: Option<Watched<TcpListener>>,
    /// The listener was paused (see [`Agent::take_listener_pause`]).
    listener_paused: bool,
    /// Connections by descriptor number.
    conns: FdMap<Conn>,
    /// The descriptor of each peer's connection.
    fds: IdMap<PeerId, RawFd>,
    scratch: Vec<u8>,
    dirty: Vec<PeerId>,
    liveness: Option<Liveness>,
}

impl Agent {
    /// An agent whose sockets the loop watches through `watcher`.
    pub fn new(engine: Engine, watcher: Watcher) -> Agent {
        Agent {
            engine,
            spec: None,
            watcher,
            udp: None,
            listener: None,
            listener_paused: false,
            conns: FdMap::default(),
            fds: IdMap::default(),
            scratch: vec![0; SCRATCH],
            dirty: Vec::new(),
            liveness: Some(Liveness::default()),
        }
    }

    /// Keepalive settings for connections opened from now on (`None`: off).
    pub fn set_liveness(&mut self, liveness: Option<Liveness>) {
        self.liveness = liveness;
    }

    pub fn is_started(&self) -> bool {
        self.listener.is_some()
    }

    /// Our TCP port, once started.
    pub fn tcp_port(&self) -> Option<u16> {
        self.listener.as_ref().and_then(|l| l.get().local_addr().ok()).map(|a| a.port())
    }

    /// Opens the listener and the bus socket, then says hello on every network (§1).
    /// Without a UDP socket (port taken, no permission) discovery is off but TCP works.
    pub fn start(&mut self, bus: Option<&str>) -> io::Result<()> {
        let env = std::env::var("IVYBUS").ok();
        let spec = wire::parse_bus(bus, env.as_deref());
        for bad in &spec.bad_elements {
            diag::log(|| format!("bad broadcast address {bad}"));
        }
        let listener = net::listener(spec.ipv6)?;
        let port = listener.local_addr()?.port();
        self.listener = Some(Watched::new(listener, &self.watcher, POLLIN)?);
        self.engine.set_local(port, net::app_id(port).as_bytes());
        self.udp = net::bus_socket(&spec)
            .and_then(|udp| Watched::new(udp, &self.watcher, POLLIN))
            .inspect_err(|e| diag::log(|| format!("bus socket on port {}: {e}", spec.port)))
            .ok();
        self.say_hello(&spec);
        self.spec = Some(spec);
        Ok(())
    }

    fn say_hello(&self, spec: &BusSpec) {
        let Some(udp) = &self.udp else { return };
        let hello = self.engine.hello();
        for &ip in &spec.targets {
            diag::log(|| format!("Broadcasting on network {ip}, port {}", spec.port));
            if let Err(e) = udp.get().send_to(&hello, SocketAddr::new(ip, spec.port)) {
                diag::log(|| format!("hello to {ip}: {e}"));
            }
        }
    }

    /// Leaves the bus: Bye to every peer, connections and sockets closed.
    pub fn stop(&mut self) {
        self.engine.leave();
        self.flush();
        let engine = &mut self.engine;
        self.conns.retain(|c| match c {
            Conn::Dial { addr, .. } => {
                engine.connect_failed(*addr);
                false
            }
            Conn::Peer { .. } => true,
        });
        self.udp = None;
        self.listener = None;
        self.spec = None;
    }

    /// Handles readiness (poll bits) of descriptor `fd`; `now` reads the loop's
    /// clock (only when a line needs the time, so most turns read none). A stale
    /// report (the socket closed meanwhile, or its number reused) costs at most a
    /// read or write that would block.
    pub fn ready(&mut self, fd: RawFd, revents: i16, now: &dyn Fn() -> Duration) {
        if self.udp.as_ref().is_some_and(|u| u.fd() == fd) {
            self.read_datagrams();
        } else if self.listener.as_ref().is_some_and(|l| l.fd() == fd) {
            self.accept_connections();
        } else {
            match self.conns.get(fd) {
                Some(Conn::Dial { .. }) => self.finish_dial(fd, revents),
                Some(&Conn::Peer { id, .. }) => {
                    if revents & POLLOUT != 0 {
                        self.write_out(id);
                    }
                    if revents & (POLLIN | POLLHUP | POLLERR) != 0 {
                        self.read_peer(fd, id, now);
                    }
                }
                None => {}
            }
        }
        self.flush();
    }

    fn read_datagrams(&mut self) {
        let Some(udp) = &self.udp else { return };
        for _ in 0..DATAGRAMS_PER_TURN {
            match udp.get().recv_from(&mut self.scratch) {
                Ok((n, from)) if n < self.scratch.len() => {
                    let data = self.scratch.get(..n).unwrap_or_default();
                    self.engine.on_datagram(from.ip(), data);
                }
                Ok((_, from)) => diag::log(|| format!("datagram from {from} ignored: {SCRATCH} bytes or more")),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    fn accept_connections(&mut self) {
        for _ in 0..ACCEPTS_PER_TURN {
            let Some(listener) = &self.listener else { return };
            let (stream, remote) = match listener.get().accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if lacks_resources(&e) => return self.pause_listener(&e),
                Err(_) => return,
            };
            if !self.engine.allows(remote.ip()) {
                diag::log(|| format!("connection from {remote} refused: not in the allow-list"));
                continue;
            }
            // Accepted and closed at once: left pending, it would keep the listener readable.
            if !self.engine.room_for_peer(|| format!("connection from {remote} closed")) {
                continue;
            }
            let Ok(local) = stream.local_addr() else { continue };
            if net::configure(&stream, self.liveness).is_err() {
                continue;
            }
            match Watched::new(stream, &self.watcher, POLLIN) {
                Ok(stream) => self.add_peer(stream, remote, local, None),
                Err(e) => diag::log(|| format!("connection from {remote} refused: {e}")),
            }
        }
    }

    /// Stops watching the listener after `accept` failed with `e`; the caller has
    /// it watched again after [`ACCEPT_BACKOFF`] (see [`Agent::take_listener_pause`]).
    fn pause_listener(&mut self, e: &io::Error) {
        let Some(listener) = &mut self.listener else { return };
        match listener.set_events(0) {
            Ok(()) => {
                self.listener_paused = true;
                diag::log(|| format!("accept: {e}: not accepting for {} ms", ACCEPT_BACKOFF.as_millis()));
            }
            Err(err) => diag::log(|| format!("accept: {e}; epoll: {err}")),
        }
    }

    /// Whether the listener was paused since the last call; if so, call
    /// [`Agent::resume_listener`] after [`ACCEPT_BACKOFF`].
    pub fn take_listener_pause(&mut self) -> bool {
        std::mem::take(&mut self.listener_paused)
    }

    /// Watches the listener again after a pause: connections that came meanwhile
    /// are accepted, or the listener is paused again if descriptors still lack.
    /// False when it could not be watched: try again after [`ACCEPT_BACKOFF`].
    pub fn resume_listener(&mut self) -> bool {
        let Some(listener) = &mut self.listener else { return true };
        let watched = listener.set_events(POLLIN);
        if let Err(e) = &watched {
            diag::log(|| format!("epoll: {e}: the listener stays paused {} ms more", ACCEPT_BACKOFF.as_millis()));
        }
        watched.is_ok()
    }

    /// A connection becomes a peer of the engine.
    fn add_peer(&mut self, stream: Watched<TcpStream>, remote: SocketAddr, local: SocketAddr, name: Option<&[u8]>) {
        let id = self.engine.add_peer(remote, local, name);
        self.fds.insert(id, stream.fd());
        self.conns.insert(stream.fd(), Conn::Peer { stream, id });
    }

    fn dial(&mut self, addr: SocketAddr, name: Vec<u8>) {
        match net::dial(addr).and_then(|stream| Watched::new(stream, &self.watcher, POLLOUT)) {
            Ok(stream) => {
                self.conns.insert(stream.fd(), Conn::Dial { stream, addr, name });
            }
            Err(e) => {
                diag::log(|| format!("SocketConnectAddr error {addr}: {e}"));
                self.engine.connect_failed(addr);
            }
        }
    }

    /// A connect under way on `fd` reports readiness: it succeeded, failed, or (a
    /// stale report) is still under way.
    fn finish_dial(&mut self, fd: RawFd, revents: i16) {
        let Some(Conn::Dial { stream, .. }) = self.conns.get(fd) else { return };
        let status = match stream.get().take_error() {
            Ok(None) => stream.get().peer_addr().map(drop),
            Ok(Some(e)) | Err(e) => Err(e),
        };
        let pending = status.as_ref().is_err_and(|e| e.raw_os_error() == Some(libc::ENOTCONN));
        // A hang-up reported for this descriptor number may be a stale report for
        // a socket closed earlier in the same turn: ask this socket itself.
        if pending && (revents & (POLLERR | POLLHUP) == 0 || !hung_up(fd)) {
            return;
        }
        let Some(Conn::Dial { mut stream, addr, name }) = self.conns.remove(fd) else { return };
        let local = stream.get().local_addr();
        match (status, local) {
            (Ok(()), Ok(local))
                if net::configure(stream.get(), self.liveness).is_ok() && stream.set_events(POLLIN).is_ok() =>
            {
                self.add_peer(stream, addr, local, Some(&name));
            }
            _ => {
                diag::log(|| format!("SocketConnectAddr error {addr}"));
                self.engine.connect_failed(addr);
            }
        }
    }

    /// Reads a peer's socket straight into its line buffer (into the scratch buffer,
    /// then ignored, once the engine no longer reads it), at most a few times.
    fn read_peer(&mut self, fd: RawFd, id: PeerId, now: &dyn Fn() -> Duration) {
        for _ in 0..READS_PER_TURN {
            let Some(Conn::Peer { stream, .. }) = self.conns.get(fd) else { return };
            let room = self.engine.input_room(id).unwrap_or(&mut self.scratch);
            // At most READ_CHUNK per read, so that a turn takes at most
            // READS_PER_TURN × READ_CHUNK from one peer, however large its buffer.
            let offered = room.len().min(READ_CHUNK);
            let room = room.get_mut(..offered).unwrap_or_default();
            match sys::recv(stream.fd(), room) {
                Ok(0) => return self.drop_peer(id),
                Ok(n) => {
                    self.engine.input_filled(id, n, now);
                    if n < offered {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return self.drop_peer(id),
            }
        }
    }

    /// Writes what is queued for a peer until done or the socket is full; the loop
    /// watches for writability only while bytes wait.
    fn write_out(&mut self, id: PeerId) {
        let Some(&fd) = self.fds.get(&id) else { return };
        let blocked = loop {
            let pending = self.engine.pending_output(id);
            if pending.is_empty() {
                self.engine.wrote(id, 0, false);
                break false;
            }
            let Some(Conn::Peer { stream, .. }) = self.conns.get(fd) else { return };
            let len = pending.len();
            match sys::send(stream.fd(), pending) {
                Ok(n) => {
                    self.engine.wrote(id, n, false);
                    // All written: nothing to ask the engine again.
                    if n == len {
                        break false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.engine.wrote(id, 0, true);
                    break true;
                }
                Err(_) => return self.drop_peer(id),
            }
        };
        let events = if blocked { POLLIN | POLLOUT } else { POLLIN };
        let Some(Conn::Peer { stream, .. }) = self.conns.get_mut(fd) else { return };
        if let Err(e) = stream.set_events(events) {
            diag::log(|| format!("epoll: {e}: dropping peer"));
            self.drop_peer(id);
        }
    }

    fn drop_peer(&mut self, id: PeerId) {
        if let Some(fd) = self.fds.remove(&id) {
            self.conns.remove(fd);
        }
        self.engine.on_closed(id);
    }

    /// Writes out what the engine queued and carries out its actions. Inline: after
    /// most reads nothing is queued, and the check is all there is to do.
    #[inline]
    pub fn flush(&mut self) {
        if self.engine.unflushed().1 > 0 || self.engine.has_actions() {
            self.flush_queued();
        }
    }

    fn flush_queued(&mut self) {
        loop {
            let mut dirty = std::mem::take(&mut self.dirty);
            self.engine.take_dirty(&mut dirty);
            for &id in &dirty {
                self.write_out(id);
            }
            self.dirty = dirty;
            let Some(action) = self.engine.pop_action() else { return };
            match action {
                Action::Connect { addr, name } => self.dial(addr, name),
                Action::Close(id) => {
                    self.write_out(id);
                    if let Some(Conn::Peer { stream, .. }) = self.fds.get(&id).and_then(|&fd| self.conns.get(fd)) {
                        let _ = stream.get().shutdown(std::net::Shutdown::Both);
                    }
                    self.drop_peer(id);
                }
            }
        }
    }
}

/// Errors of `accept` that leave the connection pending until descriptors or
/// memory are freed: out of descriptors for the process or the system, or of
/// kernel memory.
fn lacks_resources(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}
