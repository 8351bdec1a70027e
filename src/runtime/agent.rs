//! Drives one [`Engine`] over real sockets: the bus's UDP socket, the TCP listener,
//! connections being opened, and one stream per peer. Not thread-safe by itself:
//! the API keeps it behind a lock and never calls user code while holding it.

use super::net::{self, Liveness};
use crate::engine::{Action, Engine, PeerId, diag};
use crate::wire::{self, BusSpec};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use super::sys::{POLLERR, POLLHUP, POLLIN, POLLOUT};

/// Bytes read from one socket in one go.
const READ_CHUNK: usize = 64 << 10;
/// Reads from one peer per loop iteration, so one busy peer cannot starve the others.
const READS_PER_TURN: usize = 16;

/// What a poll token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Udp,
    Listener,
    Peer(PeerId),
    Dial(SocketAddr),
}

struct Dial {
    stream: TcpStream,
    name: Vec<u8>,
}

/// An engine and its sockets.
pub struct Agent {
    pub engine: Engine,
    spec: Option<BusSpec>,
    udp: Option<UdpSocket>,
    listener: Option<TcpListener>,
    conns: HashMap<PeerId, TcpStream>,
    dials: HashMap<SocketAddr, Dial>,
    targets: Vec<Target>,
    scratch: Vec<u8>,
    dirty: Vec<PeerId>,
    liveness: Option<Liveness>,
}

impl Agent {
    pub fn new(engine: Engine) -> Agent {
        Agent {
            engine,
            spec: None,
            udp: None,
            listener: None,
            conns: HashMap::new(),
            dials: HashMap::new(),
            targets: Vec::new(),
            scratch: vec![0; READ_CHUNK],
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
        self.listener.as_ref().and_then(|l| l.local_addr().ok()).map(|a| a.port())
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
        self.engine.set_local(port, net::app_id(port).as_bytes());
        self.listener = Some(listener);
        self.udp =
            net::bus_socket(&spec).inspect_err(|e| diag::log(|| format!("bus socket on port {}: {e}", spec.port))).ok();
        self.say_hello(&spec);
        self.spec = Some(spec);
        Ok(())
    }

    fn say_hello(&self, spec: &BusSpec) {
        let Some(udp) = &self.udp else { return };
        let hello = self.engine.hello();
        for &ip in &spec.targets {
            diag::log(|| format!("Broadcasting on network {ip}, port {}", spec.port));
            if let Err(e) = udp.send_to(&hello, SocketAddr::new(ip, spec.port)) {
                diag::log(|| format!("hello to {ip}: {e}"));
            }
        }
    }

    /// Leaves the bus: Bye to every peer, connections and sockets closed.
    pub fn stop(&mut self) {
        self.engine.leave();
        self.flush();
        self.dials.clear();
        self.udp = None;
        self.listener = None;
        self.spec = None;
    }

    /// The descriptors to watch now, as (fd, events, token).
    pub fn interests(&mut self, out: &mut Vec<(i32, i16, u64)>) {
        self.targets.clear();
        let mut push = |targets: &mut Vec<Target>, fd: i32, events: i16, t: Target| {
            out.push((fd, events, targets.len() as u64));
            targets.push(t);
        };
        if let Some(u) = &self.udp {
            push(&mut self.targets, u.as_raw_fd(), POLLIN, Target::Udp);
        }
        if let Some(l) = &self.listener {
            push(&mut self.targets, l.as_raw_fd(), POLLIN, Target::Listener);
        }
        for (&addr, d) in &self.dials {
            push(&mut self.targets, d.stream.as_raw_fd(), POLLOUT, Target::Dial(addr));
        }
        for (&id, s) in &self.conns {
            let out_events = if self.engine.pending_output(id).is_empty() { 0 } else { POLLOUT };
            push(&mut self.targets, s.as_raw_fd(), POLLIN | out_events, Target::Peer(id));
        }
    }

    /// Handles readiness of token `token` at loop time `now`.
    pub fn ready(&mut self, token: u64, revents: i16, now: Duration) {
        let Some(&target) = self.targets.get(token as usize) else { return };
        match target {
            Target::Udp => self.read_datagrams(),
            Target::Listener => self.accept_all(),
            Target::Dial(addr) => self.finish_dial(addr, revents),
            Target::Peer(id) => {
                if revents & POLLOUT != 0 {
                    self.write_out(id);
                }
                if revents & (POLLIN | POLLHUP | POLLERR) != 0 {
                    self.read_peer(id, now);
                }
            }
        }
        self.flush();
    }

    fn read_datagrams(&mut self) {
        let Some(udp) = &self.udp else { return };
        loop {
            match udp.recv_from(&mut self.scratch) {
                Ok((n, from)) => {
                    let data = self.scratch.get(..n).unwrap_or_default();
                    self.engine.on_datagram(from.ip(), data);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    fn accept_all(&mut self) {
        let Some(listener) = &self.listener else { return };
        loop {
            let (stream, remote) = match listener.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            if !self.engine.allows(remote.ip()) {
                diag::log(|| format!("connection from {remote} refused: not in the allow-list"));
                continue;
            }
            let Ok(local) = stream.local_addr() else { continue };
            if net::configure(&stream, self.liveness).is_err() {
                continue;
            }
            let id = self.engine.add_peer(remote, local, None);
            self.conns.insert(id, stream);
        }
    }

    fn dial(&mut self, addr: SocketAddr, name: Vec<u8>) {
        match net::dial(addr) {
            Ok(stream) => {
                self.dials.insert(addr, Dial { stream, name });
            }
            Err(e) => {
                diag::log(|| format!("SocketConnectAddr error {addr}: {e}"));
                self.engine.connect_failed(addr);
            }
        }
    }

    fn finish_dial(&mut self, addr: SocketAddr, revents: i16) {
        let Some(dial) = self.dials.remove(&addr) else { return };
        let failed = match dial.stream.take_error() {
            Ok(None) => revents & POLLERR != 0,
            _ => true,
        };
        let local = dial.stream.local_addr();
        match (failed, local, dial.stream.peer_addr()) {
            (false, Ok(local), Ok(_)) if net::configure(&dial.stream, self.liveness).is_ok() => {
                let id = self.engine.add_peer(addr, local, Some(&dial.name));
                self.conns.insert(id, dial.stream);
            }
            _ => {
                diag::log(|| format!("SocketConnectAddr error {addr}"));
                self.engine.connect_failed(addr);
            }
        }
    }

    fn read_peer(&mut self, id: PeerId, now: Duration) {
        for _ in 0..READS_PER_TURN {
            let Some(stream) = self.conns.get_mut(&id) else { return };
            match stream.read(&mut self.scratch) {
                Ok(0) => return self.drop_peer(id),
                Ok(n) => {
                    let data = self.scratch.get(..n).unwrap_or_default();
                    self.engine.on_input(id, data, now);
                    if n < self.scratch.len() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return self.drop_peer(id),
            }
        }
    }

    /// Writes what is queued for a peer until done or the socket is full.
    fn write_out(&mut self, id: PeerId) {
        loop {
            let pending = self.engine.pending_output(id);
            if pending.is_empty() {
                return self.engine.wrote(id, 0, false);
            }
            let Some(stream) = self.conns.get_mut(&id) else { return };
            match stream.write(pending) {
                Ok(n) => self.engine.wrote(id, n, false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return self.engine.wrote(id, 0, true),
                Err(_) => return self.drop_peer(id),
            }
        }
    }

    fn drop_peer(&mut self, id: PeerId) {
        self.conns.remove(&id);
        self.engine.on_closed(id);
    }

    /// Writes out what the engine queued and carries out its actions.
    pub fn flush(&mut self) {
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
                    if let Some(s) = self.conns.get(&id) {
                        let _ = s.shutdown(std::net::Shutdown::Both);
                    }
                    self.drop_peer(id);
                }
            }
        }
    }
}
