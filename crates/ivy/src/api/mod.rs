//! The safe Rust API: a [`Bus`] is one agent on one Ivy bus, driven by an
//! [`EventLoop`]. Every method may be called from any thread and from inside any
//! callback; callbacks run one at a time on the thread running the loop.

mod callbacks;
mod dispatch;

pub use crate::runtime::{ChannelId, EventLoop, Liveness, TimerId};
pub use ivy_proto::engine::{AllowList, AppEvent, BindEvent, BindingId, DiePolicy, Limits, PeerId};

use crate::runtime::agent::Agent;
use callbacks::Callbacks;
use ivy_proto::engine::Engine;
use parking_lot::{Mutex, RwLock};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Past this many queued bytes per peer written to, a thread other than the loop's
/// writes them itself (rather than waking the loop once more).
const SELF_FLUSH: usize = 16 << 10;

struct Shared {
    agent: Mutex<Agent>,
    /// Another thread queued output and woke the loop to write it.
    flush_scheduled: AtomicBool,
    /// Deliveries of this bus's events in progress (each writes out what was
    /// queued meanwhile when it ends); more than one when a callback runs the loop.
    deliveries: AtomicUsize,
    /// A call may have queued output or events since the last delivery that left
    /// nothing behind: the loop's next turn must deliver. Without it, a turn after
    /// the delivery of a socket's input has nothing to do and skips it.
    turn_due: AtomicBool,
    callbacks: RwLock<Callbacks>,
    die_policy: Mutex<DiePolicy>,
    lp: EventLoop,
}

impl Shared {
    /// Records that a call left the agent (`locked`, so that a delivery ending now
    /// sees it) with work for the loop's next turn.
    fn note_turn_due(&self, _locked: &Agent) {
        // SeqCst, against the loop's exit: it clears `runner` then reads this flag,
        // while a sender sets this flag then reads `runner`; one must see the other.
        self.turn_due.store(true, Ordering::SeqCst);
    }
}

/// One agent on an Ivy bus. Cheap to clone: clones are the same agent.
#[derive(Clone)]
pub struct Bus {
    shared: Arc<Shared>,
}

impl Bus {
    /// An agent named `name` that sends `ready` to each new peer, with its own loop.
    pub fn new(name: &[u8], ready: Option<&[u8]>) -> Bus {
        Bus::with_loop(&EventLoop::new(), name, ready)
    }

    /// An agent driven by the loop `lp` (several buses may share one loop).
    ///
    /// Policies from the environment: `IVY_IGNORE_DIE=1` ignores remote Die
    /// requests; `IVY_ALLOW=net,net` admits only those hosts (see [`AllowList`]).
    pub fn with_loop(lp: &EventLoop, name: &[u8], ready: Option<&[u8]>) -> Bus {
        let mut engine = Engine::new(name, ready);
        if let Ok(list) = std::env::var("IVY_ALLOW") {
            match AllowList::parse(&list) {
                Ok(allow) => engine.set_allow_list(allow),
                Err(e) => eprintln!("ivy: IVY_ALLOW ignored: {e}"),
            }
        }
        let ignore_die = std::env::var("IVY_IGNORE_DIE").is_ok_and(|v| !v.is_empty() && v != "0");
        let watcher = lp.watcher();
        let shared = Shared {
            agent: Mutex::new(Agent::new(engine, watcher.clone())),
            flush_scheduled: AtomicBool::new(false),
            deliveries: AtomicUsize::new(0),
            turn_due: AtomicBool::new(false),
            callbacks: RwLock::new(Callbacks::default()),
            die_policy: Mutex::new(if ignore_die { DiePolicy::Ignore } else { DiePolicy::Obey }),
            lp: lp.clone(),
        };
        let bus = Bus { shared: Arc::new(shared) };
        lp.add_source(&watcher, Arc::new(dispatch::BusSource::new(&bus)));
        bus
    }

    /// The loop that drives this bus.
    pub fn event_loop(&self) -> EventLoop {
        self.shared.lp.clone()
    }

    /// Runs the bus's loop until [`Bus::stop`] (or [`EventLoop::stop`]).
    pub fn run(&self) {
        self.shared.lp.run();
    }

    /// Changes the name and ready message (takes effect for the next hello/handshake).
    pub fn set_identity(&self, name: &[u8], ready: Option<&[u8]>) {
        self.shared.agent.lock().engine.set_identity(name, ready);
    }

    pub fn set_die_policy(&self, policy: DiePolicy) {
        *self.shared.die_policy.lock() = policy;
    }

    /// Admits only the hosts of `allow` (hellos from others ignored, their
    /// connections refused); an empty list admits everyone.
    pub fn set_allow_list(&self, allow: AllowList) {
        self.shared.agent.lock().engine.set_allow_list(allow);
    }

    /// How soon a peer whose host vanished is detected ([`Liveness`]; default 25 s);
    /// `None` turns keepalive off. Applies to connections opened afterwards.
    pub fn set_liveness(&self, liveness: Option<Liveness>) {
        self.shared.agent.lock().set_liveness(liveness);
    }

    pub fn set_limits(&self, limits: Limits) {
        self.shared.agent.lock().engine.set_limits(limits);
    }

    pub fn limits(&self) -> Limits {
        self.shared.agent.lock().engine.limits()
    }

    /// Refuses messages with bytes < 0x20 or ≥ 0x80 (ivy-c's IVY_DEBUG_BINARY).
    pub fn set_debug_binary(&self, on: bool) {
        self.shared.agent.lock().engine.set_debug_binary(on);
    }

    /// Joins the bus: `None` or "" uses `IVYBUS`, then `127.255.255.255:2010`.
    pub fn start(&self, bus: Option<&str>) -> io::Result<()> {
        let result = self.with_agent(|a| a.start(bus));
        self.shared.lp.wake();
        result
    }

    /// Leaves the bus (Bye to every peer, sockets closed) and stops the loop.
    pub fn stop(&self) {
        self.with_agent(Agent::stop);
        self.shared.lp.stop();
    }

    pub fn is_started(&self) -> bool {
        self.shared.agent.lock().is_started()
    }

    /// Our TCP port, once started.
    pub fn tcp_port(&self) -> Option<u16> {
        self.shared.agent.lock().tcp_port()
    }

    /// Our application id, as announced in the hello.
    pub fn app_id(&self) -> Vec<u8> {
        self.shared.agent.lock().engine.app_id().to_vec()
    }

    /// Subscribes `cb` to messages matching `regexp` (interval regexps expanded here);
    /// `cb` gets the captured groups.
    pub fn bind(&self, regexp: &[u8], cb: impl Fn(&Bus, PeerId, &[&[u8]]) + Send + Sync + 'static) -> BindingId {
        BindingId::from_id(self.with_agent(|a| {
            let id = a.engine.bind(regexp);
            self.shared.callbacks.write().bindings.insert(id, Arc::new(cb));
            id
        }))
    }

    /// Replaces the regexp of a binding, keeping its id and callback.
    pub fn change(&self, id: BindingId, regexp: &[u8]) -> bool {
        self.with_agent(|a| a.engine.change(id.id(), regexp))
    }

    /// Removes a binding; safe from inside its own callback.
    pub fn unbind(&self, id: BindingId) -> bool {
        self.with_agent(|a| {
            let done = a.engine.unbind(id.id());
            self.shared.callbacks.write().bindings.remove(&id.id());
            done
        })
    }

    /// Our bindings: (id, regexp as sent).
    pub fn bindings(&self) -> Vec<(BindingId, Vec<u8>)> {
        let agent = self.shared.agent.lock();
        agent.engine.bindings().iter().map(|(&id, t)| (BindingId::from_id(id), t.clone())).collect()
    }

    /// Sends a message to every matching subscription; returns the number of Msg lines.
    pub fn send(&self, message: &[u8]) -> usize {
        self.with_agent(|a| a.engine.send_msg(message))
    }

    /// A direct message to one peer.
    pub fn send_direct(&self, peer: PeerId, id: i32, text: &[u8]) -> bool {
        self.with_agent(|a| a.engine.send_direct(peer, id, text))
    }

    /// An Error message to one peer.
    pub fn send_error(&self, peer: PeerId, id: i32, text: &[u8]) -> bool {
        self.with_agent(|a| a.engine.send_error(peer, id, text))
    }

    /// Asks a peer to die.
    pub fn send_die(&self, peer: PeerId) -> bool {
        self.with_agent(|a| a.engine.send_die(peer))
    }

    /// Pings a peer; the answer reaches the pong callback. Nothing is sent without one.
    pub fn ping(&self, peer: PeerId) -> bool {
        if self.shared.callbacks.read().pong.is_none() {
            let name = self.peer_name(peer).unwrap_or_else(|| b"Unknown".to_vec());
            eprintln!(
                "Application: {} useless IvySendPing issued since no pong callback defined",
                String::from_utf8_lossy(&name)
            );
            return false;
        }
        let now = self.shared.lp.now();
        self.with_agent(|a| a.engine.ping(peer, now))
    }

    /// Runs `f` on the agent, then has what it queued written out: by the loop
    /// after the current callback when called on the loop thread; by the loop,
    /// woken once for a whole batch, when another thread calls while the loop
    /// runs; at once otherwise, or when much is queued or connections change.
    fn with_agent<R>(&self, f: impl FnOnce(&mut Agent) -> R) -> R {
        let lp = &self.shared.lp;
        let mut agent = self.shared.agent.lock();
        let r = f(&mut agent);
        self.shared.note_turn_due(&agent);
        if lp.on_loop_thread() {
            if self.shared.deliveries.load(Ordering::Acquire) == 0 {
                // A hook, a channel's or a timer's handler: the next turn writes it out.
                lp.want_turn();
            }
            return r;
        }
        let (bytes, peers) = agent.engine.unflushed();
        let defer = lp.is_running() && bytes < SELF_FLUSH * peers.max(1) && !agent.engine.has_actions();
        let wake = if defer {
            !self.shared.flush_scheduled.swap(true, Ordering::AcqRel)
        } else {
            agent.flush();
            false
        };
        let wake = wake || agent.engine.has_events();
        drop(agent);
        if wake {
            lp.wake();
        }
        r
    }

    pub fn on_application(&self, cb: impl Fn(&Bus, PeerId, AppEvent) + Send + Sync + 'static) {
        self.shared.callbacks.write().app = Some(Arc::new(cb));
    }

    pub fn on_bind_change(&self, cb: impl Fn(&Bus, PeerId, i32, &[u8], BindEvent) + Send + Sync + 'static) {
        self.shared.callbacks.write().bind = Some(Arc::new(cb));
    }

    pub fn on_die(&self, cb: impl Fn(&Bus, PeerId, i32) + Send + Sync + 'static) {
        self.shared.callbacks.write().die = Some(Arc::new(cb));
    }

    pub fn on_direct(&self, cb: impl Fn(&Bus, PeerId, i32, &[u8]) + Send + Sync + 'static) {
        self.shared.callbacks.write().direct = Some(Arc::new(cb));
    }

    /// The pong callback gets the round trip in µs (negative: answer to an older ping).
    pub fn on_pong(&self, cb: impl Fn(&Bus, PeerId, i32) + Send + Sync + 'static) {
        self.shared.callbacks.write().pong = Some(Arc::new(cb));
    }

    /// Removes the pong callback; [`Bus::ping`] then sends nothing.
    pub fn clear_pong(&self) {
        self.shared.callbacks.write().pong = None;
    }

    /// Adds a filter word (§5.6): peers' `^WORD` regexps must match one.
    pub fn add_filter(&self, word: &[u8]) {
        self.shared.agent.lock().engine.filter_mut().add(word);
    }

    pub fn remove_filter(&self, word: &[u8]) {
        self.shared.agent.lock().engine.filter_mut().remove(word);
    }

    /// Peers, newest first, including those still in their handshake.
    pub fn peers(&self) -> Vec<PeerId> {
        self.shared.agent.lock().engine.peers()
    }

    pub fn peer_name(&self, peer: PeerId) -> Option<Vec<u8>> {
        self.shared.agent.lock().engine.peer(peer).map(|p| p.name.clone())
    }

    /// The peer's address as seen by this agent.
    pub fn peer_addr(&self, peer: PeerId) -> Option<SocketAddr> {
        self.shared.agent.lock().engine.peer(peer).map(|p| p.remote)
    }

    /// The peer's host name (reverse DNS, short form; the address when unnamed).
    pub fn peer_host(&self, peer: PeerId) -> Option<String> {
        let addr = self.peer_addr(peer)?;
        Some(crate::runtime::host_name(addr.ip()))
    }

    /// The newest-connected peer with that name.
    pub fn peer_by_name(&self, name: &[u8]) -> Option<PeerId> {
        self.shared.agent.lock().engine.peer_by_name(name)
    }

    /// A peer's regexps, newest first.
    pub fn peer_regexps(&self, peer: PeerId) -> Option<Vec<Vec<u8>>> {
        self.shared.agent.lock().engine.peer_regexps(peer)
    }
}
