//! The one module that calls the `ivy` crate: a thin adapter that speaks this
//! crate's own types (raw peer handles, plain integers and byte slices), so that a
//! change of the Rust API is an edit here and nowhere else.

use ivy::{AppEvent, BindEvent, BindingId, Bus, DiePolicy, Environment, EventLoop, Matching, PeerId, TimerId};
use std::io;
use std::net::SocketAddr;

/// A peer, as the raw, non-zero handle of the engine (never reused within a bus).
pub(crate) type Peer = u64;

/// What happened to a peer's connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    Connected,
    Disconnected,
    Congestion,
    Decongestion,
    FifoFull,
}

/// What happened to one of a peer's subscriptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PeerBind {
    Added,
    Removed,
    Filtered,
    /// The peer re-sent an id with a new text: the new text replaces the old one.
    Changed,
}

/// One agent on a bus and the loop that drives it.
#[derive(Clone)]
pub(crate) struct Core {
    bus: Bus,
    lp: EventLoop,
}

fn peer_id(peer: Peer) -> Option<PeerId> {
    PeerId::from_raw(peer)
}

/// What a bus callback may ask of its agent while it runs (a borrowed view, so
/// that callbacks hold no handle on the agent that holds them).
pub(crate) struct View<'a>(&'a Bus);

impl View<'_> {
    pub(crate) fn peer_name(&self, peer: Peer) -> Option<Vec<u8>> {
        self.0.peer_name(peer_id(peer)?)
    }

    /// Whether the peer's Disconnected was delivered (see `Bus::peer_reported_gone`).
    pub(crate) fn peer_reported_gone(&self, peer: Peer) -> bool {
        peer_id(peer).is_none_or(|id| self.0.peer_reported_gone(id))
    }

    /// The peer's address as this agent sees it: the port is the peer's TCP server
    /// port when we connected to it, its ephemeral port when it connected to us.
    pub(crate) fn peer_addr(&self, peer: Peer) -> Option<SocketAddr> {
        self.0.peer_addr(peer_id(peer)?)
    }

    /// The application id the peer's hello announced (empty when it connected to us).
    pub(crate) fn peer_app_id(&self, peer: Peer) -> Option<Vec<u8>> {
        self.0.peer_app_id(peer_id(peer)?)
    }
}

/// What a timer callback may ask of the loop while it runs.
pub(crate) struct Timers<'a>(&'a EventLoop);

impl Timers<'_> {
    /// New period of a timer, next firing `delay_ms` from now.
    pub(crate) fn modify(&self, timer: u64, delay_ms: i64) {
        if let Some(id) = TimerId::from_raw(timer) {
            self.0.modify_timer(id, delay_ms);
        }
    }

    pub(crate) fn remove(&self, timer: u64) {
        if let Some(id) = TimerId::from_raw(timer) {
            self.0.remove_timer(id);
        }
    }
}

impl Core {
    /// An agent with a loop of its own. A peer's Die runs the die callback and
    /// nothing more: whether to leave is the callback's answer (see [`Core::on_die`]).
    pub(crate) fn new(name: &[u8], ready: Option<&[u8]>) -> Core {
        let bus = Bus::new(name, ready);
        bus.set_die_policy(DiePolicy::Ignore);
        let lp = bus.event_loop();
        Core { bus, lp }
    }

    /// Whose sender's rules route our messages: ivy-python's (`re.match`: anchored
    /// at the start, every group sent, `.` a whole character on UTF-8) or ivy-c's
    /// (a search anywhere, trailing groups that took no part omitted, bytes).
    pub(crate) fn set_python_matching(&self, python: bool) {
        self.bus.set_matching(if python { Matching::IvyPython } else { Matching::IvyC });
    }

    /// New name and ready message, for the next start.
    pub(crate) fn set_identity(&self, name: &[u8], ready: Option<&[u8]>) {
        self.bus.set_identity(name, ready);
    }

    /// Joins the bus (ivy-c's bus syntax; `None` reads `IVYBUS`, then the default).
    pub(crate) fn start(&self, bus: Option<&str>) -> io::Result<()> {
        self.lp.reset_stop();
        self.bus.start(Environment::read().bus_or(bus))
    }

    /// Runs the loop on the calling thread until [`Core::stop`] or an obeyed Die.
    pub(crate) fn run(&self) {
        self.bus.run();
    }

    /// Leaves the bus (Bye to every peer) and ends [`Core::run`].
    pub(crate) fn stop(&self) {
        self.bus.stop();
    }

    /// Our TCP port, once started.
    pub(crate) fn tcp_port(&self) -> Option<u16> {
        self.bus.tcp_port()
    }

    /// Our application id, as announced in the hello.
    pub(crate) fn app_id(&self) -> Vec<u8> {
        self.bus.app_id()
    }

    /// Runs `hook` on the loop thread each time before the loop waits.
    pub(crate) fn before_wait(&self, hook: impl FnMut() + Send + 'static) {
        self.lp.set_before_hook(Some(Box::new(hook)));
    }

    /// Subscribes `cb` to the messages matching `regexp`; returns the binding id.
    pub(crate) fn bind(&self, regexp: &[u8], cb: impl Fn(&View<'_>, Peer, &[&[u8]]) + Send + Sync + 'static) -> i32 {
        self.bus.bind(regexp, move |bus, peer, args| cb(&View(bus), peer.to_raw(), args)).id()
    }

    /// Removes a binding; false if there was none.
    pub(crate) fn unbind(&self, id: i32) -> bool {
        self.bus.unbind(BindingId::from_id(id)).is_ok()
    }

    /// Gives a binding a new regexp, keeping its id and callback.
    pub(crate) fn change(&self, id: i32, regexp: &[u8]) -> bool {
        self.bus.change(BindingId::from_id(id), regexp).is_ok()
    }

    /// Our bindings, (id, regexp), by id.
    pub(crate) fn bindings(&self) -> Vec<(i32, Vec<u8>)> {
        self.bus.bindings().into_iter().map(|(id, re)| (id.id(), re)).collect()
    }

    /// Sends a message; returns the number of Msg lines (matching subscriptions).
    pub(crate) fn send(&self, message: &[u8]) -> usize {
        self.bus.send(message).unwrap_or(0)
    }

    /// Sends a message to one peer's matching subscriptions only; returns the
    /// number of Msg lines (0 when the peer is gone).
    pub(crate) fn send_to(&self, peer: Peer, message: &[u8]) -> usize {
        peer_id(peer).and_then(|p| self.bus.send_to(p, message).ok()).unwrap_or(0)
    }

    pub(crate) fn send_direct(&self, peer: Peer, id: i32, text: &[u8]) -> bool {
        peer_id(peer).is_some_and(|p| self.bus.send_direct(p, id, text).is_ok())
    }

    pub(crate) fn send_error(&self, peer: Peer, id: i32, text: &[u8]) -> bool {
        peer_id(peer).is_some_and(|p| self.bus.send_error(p, id, text).is_ok())
    }

    /// Asks a peer to die, with an id and a text; false if the peer is gone (or the
    /// text has a line feed).
    pub(crate) fn send_die(&self, peer: Peer, id: i32, text: &[u8]) -> bool {
        peer_id(peer).is_some_and(|p| self.bus.send_die(p, id, text).is_ok())
    }

    /// A peer's subscriptions, (id, regexp), in the order it made them; `None` if
    /// the peer is gone.
    pub(crate) fn peer_subscriptions(&self, peer: Peer) -> Option<Vec<(i32, Vec<u8>)>> {
        self.bus.peer_subscriptions(peer_id(peer)?)
    }

    /// Pings a peer; the answer goes to the pong callback (set one first).
    pub(crate) fn ping(&self, peer: Peer) -> bool {
        peer_id(peer).is_some_and(|p| self.bus.ping(p).is_ok())
    }

    pub(crate) fn on_link(&self, cb: impl Fn(&View<'_>, Peer, Link) + Send + Sync + 'static) {
        self.bus.on_application(move |bus, peer, event| {
            let link = match event {
                AppEvent::Connected => Link::Connected,
                AppEvent::Disconnected => Link::Disconnected,
                AppEvent::Congestion => Link::Congestion,
                AppEvent::Decongestion => Link::Decongestion,
                AppEvent::FifoFull => Link::FifoFull,
            };
            cb(&View(bus), peer.to_raw(), link)
        });
    }

    pub(crate) fn on_peer_bind(&self, cb: impl Fn(&View<'_>, Peer, i32, &[u8], PeerBind) + Send + Sync + 'static) {
        self.bus.on_bind_change(move |bus, peer, id, regexp, event| {
            let what = match event {
                BindEvent::Added => PeerBind::Added,
                BindEvent::Removed => PeerBind::Removed,
                BindEvent::Filtered => PeerBind::Filtered,
                BindEvent::Changed => PeerBind::Changed,
            };
            cb(&View(bus), peer.to_raw(), id, regexp, what)
        });
    }

    /// `cb` gets a peer's Die request; when it answers true the agent leaves the bus.
    pub(crate) fn on_die(&self, cb: impl Fn(&View<'_>, Peer, i32) -> bool + Send + Sync + 'static) {
        self.bus.on_die(move |bus, peer, id| {
            if cb(&View(bus), peer.to_raw(), id) {
                bus.stop();
            }
        });
    }

    pub(crate) fn on_direct(&self, cb: impl Fn(&View<'_>, Peer, i32, &[u8]) + Send + Sync + 'static) {
        self.bus.on_direct(move |bus, peer, id, text| cb(&View(bus), peer.to_raw(), id, text));
    }

    /// `cb` gets the round trip in µs (negative: the answer to an older ping).
    pub(crate) fn on_pong(&self, cb: impl Fn(&View<'_>, Peer, i32) + Send + Sync + 'static) {
        self.bus.on_pong(move |bus, peer, micros| cb(&View(bus), peer.to_raw(), micros));
    }

    /// Adds a filter word (ivy-c's IvyAddFilter): peers' `^WORD...` regexps must name one.
    pub(crate) fn add_filter(&self, word: &[u8]) {
        self.bus.add_filter(word);
    }

    pub(crate) fn remove_filter(&self, word: &[u8]) {
        self.bus.remove_filter(word);
    }

    /// Adds an endless timer on the loop, first firing after `delay_ms`; `cb` gets
    /// the loop's timers and its own id.
    pub(crate) fn add_timer(&self, delay_ms: i64, mut cb: impl FnMut(&Timers<'_>, u64) + Send + 'static) -> u64 {
        self.lp.add_timer(0, delay_ms, Box::new(move |lp, id, _| cb(&Timers(lp), id.to_raw()))).to_raw()
    }

    /// The loop's timers.
    pub(crate) fn timers(&self) -> Timers<'_> {
        Timers(&self.lp)
    }
}
