//! The sans-IO Ivy agent: peers, handshake, our bindings, their subscriptions,
//! routing and congestion. Its driver hands it what happened (`handle_*`: bytes
//! received, datagrams, connections opened and closed) and what its user asks
//! (sends, bindings, pings with the time as an input), then polls what to do
//! (`poll_*` and [`Engine::take_output`]: bytes to write per peer, [`Event`]s for
//! the user, [`Action`]s on sockets, [`Notice`]s to log). No sockets, no clock,
//! no threads, no globals: tests and fuzzers drive it as production does.

mod admission;
mod budget;
mod dedupe;
mod dictionary;
mod error;
mod event;
mod garbage;
mod idmap;
mod limits;
mod notice;
mod outqueue;
mod peer;
mod policy;
mod receive;
mod send;
mod types;
mod work;

pub use budget::{LINE_BYTES_PER_UNIT, MESSAGE_WORK, QUADRATIC_MAX_MESSAGE, SEARCH_BASE};
pub use dictionary::CACHES_KEPT;
pub use error::{SendError, UnknownBinding};
use event::SparePool;
pub use event::{Action, Event, pong_micros};
pub use garbage::{GARBAGE_PART, Garbage};
pub use idmap::{IdHasher, IdMap};
pub use limits::Limits;
pub use notice::{Notice, Severity, TurnedAway};
use outqueue::{Push, WhenFull};
pub use peer::{Peer, PeerState};
pub use policy::{AllowList, AllowListError};
pub use types::{AppEvent, BindEvent, BindingId, Matching, PeerId};
pub use work::{FLOOR_READ, PEER_FLOOR, TURN_WORK};

use crate::pattern::Filter;
use crate::wire::{self, LineBuffer, MsgType};
use admission::Admission;
use dictionary::Dictionary;
use outqueue::OutQueue;
use peer::PeerTable;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use work::TurnWork;

/// One agent's protocol state.
#[derive(Debug)]
pub struct Engine {
    name: Vec<u8>,
    ready: Option<Vec<u8>>,
    app_id: Vec<u8>,
    tcp_port: u16,
    limits: Limits,
    filter: Filter,
    allow: AllowList,
    debug_binary: bool,
    /// Our own subscriptions: wire id → regexp text (interval-expanded).
    own: BTreeMap<i32, Vec<u8>>,
    next_binding: i32,
    peers: PeerTable,
    dict: Dictionary,
    events: VecDeque<Event>,
    actions: VecDeque<Action>,
    notices: VecDeque<Notice>,
    /// Output queued since the driver last looked.
    outbox: Outbox,
    /// Connections asked of the runtime and not yet opened, with the app id of
    /// the hello that asked for each.
    connecting: HashMap<SocketAddr, Vec<u8>>,
    /// Peer connections held, against `Limits::max_peers`.
    admission: Admission,
    /// Emptied Msg buffers handed back by the driver, reused for the next ones.
    spare: SparePool,
    /// The work of the current loop turn, and what waits for the next ones.
    turn: TurnWork,
    /// Bytes the peers' line buffers hold, against `Limits::max_input_memory`.
    input_held: usize,
}

/// Replaces LF, which would break framing, by a space (names go on the wire raw).
fn no_lf(text: &[u8]) -> Vec<u8> {
    text.iter().map(|&b| if b == wire::LF { b' ' } else { b }).collect()
}

impl Engine {
    /// An agent called `name` that greets each new peer with `ready` (None: no greeting).
    pub fn new(name: &[u8], ready: Option<&[u8]>) -> Engine {
        Engine {
            name: no_lf(name),
            ready: ready.map(<[u8]>::to_vec),
            app_id: Vec::new(),
            tcp_port: 0,
            limits: Limits::default(),
            filter: Filter::default(),
            allow: AllowList::default(),
            debug_binary: false,
            own: BTreeMap::new(),
            next_binding: 0,
            peers: PeerTable::default(),
            dict: Dictionary::default(),
            events: VecDeque::new(),
            actions: VecDeque::new(),
            notices: VecDeque::new(),
            outbox: Outbox::new(&Limits::default()),
            connecting: HashMap::new(),
            admission: Admission::default(),
            spare: SparePool::default(),
            turn: TurnWork::default(),
            input_held: 0,
        }
    }

    /// Changes our name and ready message (for the next hellos and handshakes).
    pub fn set_identity(&mut self, name: &[u8], ready: Option<&[u8]>) {
        self.name = no_lf(name);
        self.ready = ready.map(<[u8]>::to_vec);
    }

    /// Our name, as sent in hellos and handshakes.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// Sets the limits on what peers may make us hold.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        self.outbox.budget = (limits.max_output_memory, limits.part(limits.max_output_memory));
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The filter words applied to peers' regexps as they arrive (§5.6).
    pub fn filter_mut(&mut self) -> &mut Filter {
        &mut self.filter
    }

    /// Restricts which hosts may join (hellos ignored, connections refused).
    pub fn set_allow_list(&mut self, allow: AllowList) {
        self.allow = allow;
    }

    /// How the peers' regexps read our messages (default [`Matching::IvyC`]).
    pub fn set_matching(&mut self, matching: Matching) {
        self.dict.set_matching(matching);
    }

    /// With it on, messages holding bytes < 0x20 or ≥ 0x80 are refused (IVY_DEBUG_BINARY).
    pub fn set_debug_binary(&mut self, on: bool) {
        self.debug_binary = on;
    }

    /// Records our listening port and application id, as announced on the bus.
    pub fn set_local(&mut self, tcp_port: u16, app_id: &[u8]) {
        self.tcp_port = tcp_port;
        self.app_id = app_id.to_vec();
    }

    /// Our application id (empty before [`Engine::set_local`]).
    pub fn app_id(&self) -> &[u8] {
        &self.app_id
    }

    /// Our hello datagram (§1.1).
    pub fn hello(&self) -> Vec<u8> {
        wire::encode_hello(self.tcp_port, &self.app_id, &self.name)
    }

    /// A new connection: `hello_name` is the name from the hello that made us
    /// connect, `None` for an accepted one. Our handshake is queued at once (§4.1).
    pub fn handle_connected(&mut self, remote: SocketAddr, local: SocketAddr, hello_name: Option<&[u8]>) -> PeerId {
        let app_id = self.connecting.remove(&remote).unwrap_or_default();
        let name = match hello_name {
            Some(n) => n.to_vec(),
            None => format!(" {}:{}", remote.ip(), remote.port()).into_bytes(),
        };
        let peer = Peer { dialled: hello_name.is_some(), app_id, ..Peer::new(name, remote, local, &self.limits) };
        let id = self.peers.insert(peer);
        self.admission.opened();
        let (port, name, own) = (self.tcp_port, &self.name, &self.own);
        queue_to(&mut self.peers, &mut self.outbox, &mut self.events, id, WhenFull::Drop, |b| {
            wire::encode_line(b, MsgType::StartRegexp, i32::from(port), name);
            for (&bid, text) in own.iter().rev().filter(|(_, t)| !t.contains(&wire::LF)) {
                wire::encode_line(b, MsgType::AddRegexp, bid, text);
            }
            wire::encode_line(b, MsgType::EndRegexp, 0, b"");
        });
        if hello_name.is_some() {
            // A dial that completes while the agent's own connection to us is open.
            self.drop_duplicate(id);
        }
        id
    }

    /// A connection asked through [`Action::Connect`] could not be opened.
    pub fn handle_connect_failed(&mut self, addr: SocketAddr) {
        self.connecting.remove(&addr);
    }

    /// The connection is gone (EOF, error, or after [`Action::Close`]): its
    /// subscriptions go and `Disconnected` is reported (a draining one's were,
    /// when it began to drain). The record stays until [`Engine::reap`].
    pub fn handle_closed(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(id) else { return };
        let was = std::mem::replace(&mut peer.state, PeerState::Dead);
        if was == PeerState::Dead {
            return;
        }
        self.admission.closed();
        self.outbox.held = self.outbox.held.saturating_sub(peer.out.len());
        self.input_held = self.input_held.saturating_sub(peer.input.held());
        peer.out = OutQueue::new(0);
        peer.input = LineBuffer::new(0);
        if was != PeerState::Draining {
            self.release(id);
        } else if peer.reaped || peer.left {
            self.peers.remove(id);
        }
    }

    /// Drops a duplicate connection while still reading it (`dedupe.rs`): it
    /// is released as if closed, and its close waits for the peer's
    /// ([`Action::Drain`]).
    fn drain(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(id).filter(|p| p.is_open()) else { return };
        peer.state = PeerState::Draining;
        self.actions.push_back(Action::Drain(id));
        self.release(id);
    }

    /// What a connection that no longer carries messages gives up: its
    /// subscriptions (a turn's work at a time), and its place, to a link on
    /// standby; `Disconnected` is reported, unless we leave.
    fn release(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(id) else { return };
        self.turn.note_released();
        let left = std::mem::take(&mut peer.left);
        let regexps = std::mem::take(&mut peer.regexps);
        if left {
            // We leave the bus: no loop turn to spread the work over.
            for (sub, text) in regexps {
                self.dict.unsubscribe(id, sub, &text);
            }
        } else if !regexps.is_empty() {
            // They never match again (nothing is queued for a dead peer), and
            // go a turn's work at a time.
            self.turn.teardown.push_back((id, regexps));
        }
        if left {
            // Our own leaving: nobody is told (as ivy-c), the record goes at once.
            self.peers.remove(id);
        } else {
            self.events.push_back(Event::App { peer: id, event: AppEvent::Disconnected });
            self.promote_standby(id);
        }
    }

    /// Frees a dead peer's record, once its `Disconnected` event has been
    /// delivered (a draining one's when it closes).
    pub fn reap(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(id) else { return };
        match peer.state {
            PeerState::Dead => {
                self.peers.remove(id);
            }
            PeerState::Draining => peer.reaped = true,
            PeerState::Open | PeerState::Closing => {}
        }
    }

    /// Leaves the bus: Bye to every peer, then close them all. Their closing
    /// reports no `Disconnected`: the user leaves, the peers do not.
    pub fn leave(&mut self) {
        for id in self.peers.newest_first() {
            self.queue(id, WhenFull::Drop, |b| wire::encode_line(b, MsgType::Bye, 0, b""));
            self.request_close(id);
            if let Some(peer) = self.peers.get_mut(id) {
                peer.left = true;
            }
        }
    }

    /// Closes a connection once what is queued for it is written; a draining
    /// one (a Bye, or a limit passed, or we leave) stays draining meanwhile.
    fn request_close(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(id).filter(|p| p.is_read()) else { return };
        if peer.is_open() {
            peer.state = PeerState::Closing;
        }
        self.actions.push_back(Action::Close(id));
    }

    /// Queues whole lines for an open peer (`None` when it is not open); `full`
    /// says what becomes of them past the queue's cap.
    fn queue(&mut self, id: PeerId, full: WhenFull, write: impl FnOnce(&mut Vec<u8>)) -> Option<Push> {
        queue_to(&mut self.peers, &mut self.outbox, &mut self.events, id, full, write)
    }

    /// Moves the bytes queued for a peer into `buf` for the driver to write (see
    /// `OutQueue::lend`: `buf`'s allocation goes to the engine in exchange). They
    /// stay counted against the peer's queue cap until [`Engine::handle_written`].
    pub fn take_output(&mut self, id: PeerId, buf: &mut Vec<u8>) {
        match self.peers.get_mut(id) {
            Some(peer) => peer.out.lend(buf),
            None => buf.clear(),
        }
    }

    /// Bytes not yet written to the peer: taken and not reported written, or queued.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn output_len(&self, id: PeerId) -> usize {
        self.peers.get(id).map_or(0, |p| p.out.len())
    }

    /// The driver wrote `n` of the bytes it took; `blocked` when the socket would
    /// not take more. Congestion starts on the first refusal and ends when all
    /// is written (§7).
    #[inline]
    pub fn handle_written(&mut self, id: PeerId, n: usize, blocked: bool) {
        let Some(peer) = self.peers.get_mut(id) else { return };
        let before = peer.out.len();
        peer.out.settle(n);
        self.outbox.held = self.outbox.held.saturating_sub(before - peer.out.len());
        let event = if blocked && peer.out.note_blocked() {
            Some(AppEvent::Congestion)
        } else if peer.out.note_drained() {
            Some(AppEvent::Decongestion)
        } else {
            None
        };
        if let Some(event) = event {
            self.events.push_back(Event::App { peer: id, event });
        }
    }

    /// Peers whose queue went from empty to not empty since the last call.
    pub fn poll_dirty(&mut self, out: &mut Vec<PeerId>) {
        out.clear();
        std::mem::swap(out, &mut self.outbox.peers);
        self.outbox.bytes = 0;
    }

    /// Bytes queued since the last [`Engine::poll_dirty`], and for how many peers.
    pub fn unflushed(&self) -> (usize, usize) {
        (self.outbox.bytes, self.outbox.peers.len())
    }

    /// Whether the runtime has connections to open or close.
    pub fn has_actions(&self) -> bool {
        !self.actions.is_empty()
    }

    /// Takes back the buffer of a delivered Msg event, to carry a later one.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        self.spare.give(buf);
    }

    /// Moves every pending event to `out` (which should be empty), in order. The
    /// queues are swapped, so their allocations take turns rather than being freed;
    /// with no event, only when that gives the engine the larger allocation.
    pub fn poll_events(&mut self, out: &mut VecDeque<Event>) {
        if !self.events.is_empty() || self.events.capacity() < out.capacity() {
            std::mem::swap(out, &mut self.events);
        }
    }

    /// Puts back events taken and not delivered, in order, ahead of those queued since.
    pub fn requeue(&mut self, taken: &mut VecDeque<Event>) {
        while let Some(event) = taken.pop_back() {
            self.events.push_front(event);
        }
    }

    /// Whether events wait for [`Engine::poll_events`].
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The next thing to do with sockets.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next notice to log.
    pub fn poll_notice(&mut self) -> Option<Notice> {
        self.notices.pop_front()
    }

    /// Peer ids, newest connection first, mid-handshake ones included (not a
    /// connection on standby or draining, `dedupe.rs`).
    pub fn peers(&self) -> Vec<PeerId> {
        let mut ids = self.peers.newest_first();
        ids.retain(|&id| self.peers.get(id).is_some_and(|p| !p.standby && p.state != PeerState::Draining));
        ids
    }

    /// Every connection, newest first, on standby or draining too: what leaving closes.
    pub fn connections(&self) -> Vec<PeerId> {
        self.peers.newest_first()
    }

    /// A peer, while it is connected or draining, or its `Disconnected` is not yet reaped.
    pub fn peer(&self, id: PeerId) -> Option<&Peer> {
        self.peers.get(id)
    }

    /// The newest-connected peer with that name, among those listed ([`Engine::peers`]).
    pub fn peer_by_name(&self, name: &[u8]) -> Option<PeerId> {
        self.peers().into_iter().find(|&id| self.peers.get(id).is_some_and(|p| p.name == name))
    }

    /// A peer's regexps, newest added first.
    pub fn peer_regexps(&self, id: PeerId) -> Option<Vec<Vec<u8>>> {
        let peer = self.peers.get(id)?;
        Some(peer.regexps.iter().rev().map(|(_, t)| t.clone()).collect())
    }

    /// A peer's subscriptions, (id, regexp), in the order it made them.
    pub fn peer_subscriptions(&self, id: PeerId) -> Option<Vec<(i32, Vec<u8>)>> {
        Some(self.peers.get(id)?.regexps.clone())
    }

    /// Our own subscriptions, by id.
    pub fn bindings(&self) -> &BTreeMap<i32, Vec<u8>> {
        &self.own
    }

    /// Memory held for one peer's buffers.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn peer_memory(&self, id: PeerId) -> usize {
        self.peers.get(id).map_or(0, |p| p.input.capacity() + p.out.capacity())
    }
}

/// Which peers got output, and how much, since the driver last flushed; what
/// all peers' queues hold, against `Limits::max_output_memory`.
#[derive(Debug)]
struct Outbox {
    peers: Vec<PeerId>,
    bytes: usize,
    /// Bytes not yet written to all peers together.
    held: usize,
    /// `Limits::max_output_memory` and a peer's equal part of it.
    budget: (usize, usize),
}

impl Outbox {
    fn new(limits: &Limits) -> Outbox {
        let budget = (limits.max_output_memory, limits.part(limits.max_output_memory));
        Outbox { peers: Vec::new(), bytes: 0, held: 0, budget }
    }

    /// How long a peer's queue may grow with a capped line: past the agent's
    /// budget, to its equal part only.
    fn room(&self) -> usize {
        let (max, part) = self.budget;
        if self.held > max { part } else { usize::MAX }
    }
}

/// [`Engine::queue`] over the engine's parts, usable while another part is borrowed.
fn queue_to(
    peers: &mut PeerTable,
    outbox: &mut Outbox,
    events: &mut VecDeque<Event>,
    id: PeerId,
    full: WhenFull,
    write: impl FnOnce(&mut Vec<u8>),
) -> Option<Push> {
    let peer = peers.get_mut(id).filter(|p| p.is_open())?;
    Some(queue_on(peer, id, outbox, events, full, write))
}

/// Queues whole lines for `peer` (whose id is `id`), open.
fn queue_on(
    peer: &mut Peer,
    id: PeerId,
    outbox: &mut Outbox,
    events: &mut VecDeque<Event>,
    full: WhenFull,
    write: impl FnOnce(&mut Vec<u8>),
) -> Push {
    let (was_empty, before) = (peer.out.is_empty(), peer.out.queued());
    let push = if full == WhenFull::Keep {
        peer.out.push_uncapped(write);
        Push::Queued
    } else {
        peer.out.push_with(outbox.room(), write)
    };
    outbox.held += peer.out.queued() - before;
    match push {
        Push::Queued => {
            // A queue that was not empty is already known to the driver: listed
            // here since, or being written (it takes the rest when done), or
            // waiting for the socket to become writable.
            if was_empty {
                outbox.peers.push(id);
            }
            outbox.bytes += peer.out.queued() - before;
        }
        Push::Full if full == WhenFull::Report => events.push_back(Event::App { peer: id, event: AppEvent::FifoFull }),
        Push::Full => {}
    }
    push
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_budgets;
