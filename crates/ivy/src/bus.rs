//! The [`Bus`] handle: one agent on one Ivy bus. Every method may be called from any
//! thread and from inside any callback; callbacks run one at a time on the thread
//! that drives the bus's loop. The handle is thin: its driver (`runtime::driver`)
//! decides when sockets are read and written.

use crate::runtime::driver::{DiePolicy, Driver};
use crate::runtime::{EventLoop, Liveness, MakeSocketLoop, host_name};
use ivy_proto::engine::{
    AllowList, AppEvent, BindEvent, BindingId, Engine, Limits, Matching, PeerId, SendError, UnknownBinding,
};
use ivy_proto::wire::{self, BusSpec};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

/// One agent on an Ivy bus. Cheap to clone: clones are the same agent.
#[derive(Clone)]
pub struct Bus {
    driver: Arc<Driver>,
}

impl Bus {
    /// An agent named `name` that sends `ready` to each new peer, with its own loop.
    pub fn new(name: &[u8], ready: Option<&[u8]>) -> Bus {
        Bus::with_loop(&EventLoop::new(), name, ready)
    }

    /// An agent driven by the loop `lp` (several buses may share one loop).
    pub fn with_loop(lp: &EventLoop, name: &[u8], ready: Option<&[u8]>) -> Bus {
        Bus::from_driver(Driver::new(lp, Engine::new(name, ready), None))
    }

    /// An agent whose sockets a loop of the program's own watches: `make` gets
    /// what that loop must call when one is ready and gives back how to watch them
    /// (the C library uses it for programs that implement `ivychannel.h`). Wake-ups
    /// and timers still go through `lp`, which that loop drives as well
    /// ([`EventLoop::pollable_fd`]).
    pub fn with_socket_loop(lp: &EventLoop, name: &[u8], ready: Option<&[u8]>, make: MakeSocketLoop) -> Bus {
        Bus::from_driver(Driver::new(lp, Engine::new(name, ready), Some(make)))
    }

    pub(crate) fn from_driver(driver: Arc<Driver>) -> Bus {
        Bus { driver }
    }

    /// The loop that drives this bus.
    pub fn event_loop(&self) -> EventLoop {
        self.driver.event_loop().clone()
    }

    /// Runs the bus's loop until this bus leaves ([`Bus::stop`], or a Die obeyed)
    /// or the loop is stopped ([`EventLoop::stop`]).
    pub fn run(&self) {
        self.driver.run();
    }

    /// Changes the name and ready message (takes effect for the next hello/handshake).
    pub fn set_identity(&self, name: &[u8], ready: Option<&[u8]>) {
        self.driver.with_engine(|e| e.set_identity(name, ready));
    }

    /// What a peer's Die does (default: [`DiePolicy::Obey`]).
    pub fn set_die_policy(&self, policy: DiePolicy) {
        self.driver.set_die_policy(policy);
    }

    /// Admits only the hosts of `allow` (hellos from others ignored, their
    /// connections refused); an empty list admits everyone.
    pub fn set_allow_list(&self, allow: AllowList) {
        self.driver.with_engine(|e| e.set_allow_list(allow));
    }

    /// How soon a peer whose host vanished is detected ([`Liveness`]; default 25 s);
    /// `None` turns keepalive off. Applies to connections opened afterwards.
    pub fn set_liveness(&self, liveness: Option<Liveness>) {
        self.driver.set_liveness(liveness);
    }

    /// Sets the limits on what peers may make this agent hold.
    pub fn set_limits(&self, limits: Limits) {
        self.driver.with_engine(|e| e.set_limits(limits));
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.driver.read(Engine::limits)
    }

    /// How the peers' regexps read our messages: bytes as ivy-c (the default), or
    /// text as ivy-python ([`Matching`]).
    pub fn set_matching(&self, matching: Matching) {
        self.driver.with_engine(|e| e.set_matching(matching));
    }

    /// Refuses messages with bytes < 0x20 or ≥ 0x80 (ivy-c's IVY_DEBUG_BINARY).
    pub fn set_debug_binary(&self, on: bool) {
        self.driver.with_engine(|e| e.set_debug_binary(on));
    }

    /// Joins the bus `bus` (`net,net:port`, ivy-c's syntax, §1.2); `None` or ""
    /// joins the default bus, `127.255.255.255:2010`. (The environment's `IVYBUS`
    /// is the caller's to pass: see [`crate::Environment`].)
    pub fn start(&self, bus: Option<&str>) -> io::Result<()> {
        let spec: BusSpec = wire::parse_bus(bus, None);
        self.driver.start(&spec)
    }

    /// Leaves the bus: Bye to every peer, sockets closed. The application callback
    /// hears of no disconnection for it; [`Bus::run`] returns. The loop goes on for
    /// the other buses and timers it holds.
    pub fn stop(&self) {
        self.driver.stop();
    }

    /// Whether the bus was started and has not left since.
    pub fn is_started(&self) -> bool {
        self.driver.is_started()
    }

    /// Our TCP port, once started.
    pub fn tcp_port(&self) -> Option<u16> {
        self.driver.tcp_port()
    }

    /// Our application id, as announced in the hello.
    pub fn app_id(&self) -> Vec<u8> {
        self.driver.read(|e| e.app_id().to_vec())
    }

    /// Subscribes `cb` to messages matching `regexp` (interval regexps expanded here);
    /// `cb` gets the captured groups.
    pub fn bind(&self, regexp: &[u8], cb: impl Fn(&Bus, PeerId, &[&[u8]]) + Send + Sync + 'static) -> BindingId {
        self.driver.with_engine(|e| {
            let id = e.bind(regexp);
            self.driver.callbacks().write().bindings.insert(id.id(), Arc::new(cb));
            id
        })
    }

    /// Replaces the regexp of a binding, keeping its id and callback.
    pub fn change(&self, id: BindingId, regexp: &[u8]) -> Result<(), UnknownBinding> {
        self.driver.with_engine(|e| e.change(id, regexp))
    }

    /// Removes a binding; safe from inside its own callback.
    pub fn unbind(&self, id: BindingId) -> Result<(), UnknownBinding> {
        self.driver.with_engine(|e| {
            self.driver.callbacks().write().bindings.remove(&id.id());
            e.unbind(id)
        })
    }

    /// Our bindings: (id, regexp as sent).
    pub fn bindings(&self) -> Vec<(BindingId, Vec<u8>)> {
        self.driver.read(|e| e.bindings().iter().map(|(&id, t)| (BindingId::from_id(id), t.clone())).collect())
    }

    /// Sends a message to every matching subscription; returns the number of Msg
    /// lines (those dropped at a full queue included, as ivy-c counts them).
    pub fn send(&self, message: &[u8]) -> Result<usize, SendError> {
        self.driver.with_engine(|e| e.send_msg(message))
    }

    /// Sends a message to the matching subscriptions of one peer only; returns the
    /// number of Msg lines.
    pub fn send_to(&self, peer: PeerId, message: &[u8]) -> Result<usize, SendError> {
        self.driver.with_engine(|e| e.send_msg_to(peer, message))
    }

    /// A direct message to one peer.
    pub fn send_direct(&self, peer: PeerId, id: i32, text: &[u8]) -> Result<(), SendError> {
        self.driver.with_engine(|e| e.send_direct(peer, id, text))
    }

    /// An Error message to one peer.
    pub fn send_error(&self, peer: PeerId, id: i32, text: &[u8]) -> Result<(), SendError> {
        self.driver.with_engine(|e| e.send_error(peer, id, text))
    }

    /// Asks a peer to die, with an id and a text (ivy-c's `IvySendDieMsg` sends 0
    /// and none).
    pub fn send_die(&self, peer: PeerId, id: i32, text: &[u8]) -> Result<(), SendError> {
        self.driver.with_engine(|e| e.send_die(peer, id, text))
    }

    /// Pings a peer; the answer reaches the pong callback. Nothing is sent without
    /// one ([`SendError::NoPongCallback`]).
    pub fn ping(&self, peer: PeerId) -> Result<(), SendError> {
        if self.driver.callbacks().read().pong.is_none() {
            return Err(SendError::NoPongCallback);
        }
        let now = self.driver.event_loop().now();
        self.driver.with_engine(|e| e.ping(peer, now))
    }

    /// Sets the application callback: a peer connected, left, is congested...
    pub fn on_application(&self, cb: impl Fn(&Bus, PeerId, AppEvent) + Send + Sync + 'static) {
        self.driver.callbacks().write().app = Some(Arc::new(cb));
    }

    /// Sets the callback told about peers' subscriptions: (peer, id, regexp, event).
    pub fn on_bind_change(&self, cb: impl Fn(&Bus, PeerId, i32, &[u8], BindEvent) + Send + Sync + 'static) {
        self.driver.callbacks().write().bind = Some(Arc::new(cb));
    }

    /// Sets the callback run when a peer asks us to die (then [`DiePolicy`] applies).
    pub fn on_die(&self, cb: impl Fn(&Bus, PeerId, i32) + Send + Sync + 'static) {
        self.driver.callbacks().write().die = Some(Arc::new(cb));
    }

    /// Sets the direct-message callback: (peer, id, text).
    pub fn on_direct(&self, cb: impl Fn(&Bus, PeerId, i32, &[u8]) + Send + Sync + 'static) {
        self.driver.callbacks().write().direct = Some(Arc::new(cb));
    }

    /// The pong callback gets the round trip in µs (negative: answer to an older ping).
    pub fn on_pong(&self, cb: impl Fn(&Bus, PeerId, i32) + Send + Sync + 'static) {
        self.driver.callbacks().write().pong = Some(Arc::new(cb));
    }

    /// Removes the pong callback; [`Bus::ping`] then sends nothing.
    pub fn clear_pong(&self) {
        self.driver.callbacks().write().pong = None;
    }

    /// Adds a filter word (§5.6): peers' `^WORD` regexps must match one.
    pub fn add_filter(&self, word: &[u8]) {
        self.driver.with_engine(|e| e.filter_mut().add(word));
    }

    /// Removes a filter word.
    pub fn remove_filter(&self, word: &[u8]) {
        self.driver.with_engine(|e| e.filter_mut().remove(word));
    }

    /// Peers, newest first, including those still in their handshake.
    pub fn peers(&self) -> Vec<PeerId> {
        self.driver.read(Engine::peers)
    }

    /// The peer's name (from its hello, then its StartRegexp).
    pub fn peer_name(&self, peer: PeerId) -> Option<Vec<u8>> {
        self.driver.read(|e| e.peer(peer).map(|p| p.name().to_vec()))
    }

    /// Whether the peer's `Disconnected` was delivered. Its record goes then,
    /// unless its connection drains (a duplicate dropped, whose last messages
    /// are still delivered after it).
    pub fn peer_reported_gone(&self, peer: PeerId) -> bool {
        self.driver.read(|e| e.peer(peer).is_none_or(|p| p.is_reaped()))
    }

    /// The peer's address as seen by this agent.
    pub fn peer_addr(&self, peer: PeerId) -> Option<SocketAddr> {
        self.driver.read(|e| e.peer(peer).map(|p| p.remote()))
    }

    /// The peer's host name (reverse DNS, short form; the address when unnamed).
    /// May block on DNS.
    pub fn peer_host(&self, peer: PeerId) -> Option<String> {
        let addr = self.peer_addr(peer)?;
        Some(host_name(addr.ip()))
    }

    /// The newest-connected peer with that name.
    pub fn peer_by_name(&self, name: &[u8]) -> Option<PeerId> {
        self.driver.read(|e| e.peer_by_name(name))
    }

    /// A peer's regexps, newest first.
    pub fn peer_regexps(&self, peer: PeerId) -> Option<Vec<Vec<u8>>> {
        self.driver.read(|e| e.peer_regexps(peer))
    }

    /// A peer's subscriptions, (id, regexp), in the order it made them.
    pub fn peer_subscriptions(&self, peer: PeerId) -> Option<Vec<(i32, Vec<u8>)>> {
        self.driver.read(|e| e.peer_subscriptions(peer))
    }

    /// The application id the peer's hello announced (empty when it connected to
    /// us: it sent no hello).
    pub fn peer_app_id(&self, peer: PeerId) -> Option<Vec<u8>> {
        self.driver.read(|e| e.peer(peer).map(|p| p.app_id().to_vec()))
    }
}
