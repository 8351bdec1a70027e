//! What the engine does with each line a peer sends (§3, with DESIGN §5's choices).

use super::budget::line_cost;
use super::dictionary::Subscribed;
use super::{AppEvent, BindEvent, Engine, Event, GARBAGE_PART, Garbage, Notice, PeerId, PeerState, WhenFull};
use crate::pattern::CompileError;
use crate::wire::{self, MsgType};
use std::net::SocketAddr;

/// The bad-format reply of ivy-c (§2): sent with Error id 3, then Bye, then close.
pub(super) const BAD_FORMAT: &[u8] = b"bad format request expected 'type id ...'";

/// After a line: go on with the next one, or stop reading this peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Next,
    /// Bye: the rest of this batch is still processed, then the peer is closed.
    CloseAfterBatch,
    /// The peer was dropped; its remaining input is ignored.
    Stop,
}

/// What a draining connection still delivers (`dedupe.rs`): what its agent
/// sent us. Its subscriptions and handshake no longer matter, and it cannot be
/// answered.
fn heard_while_draining(kind: MsgType) -> bool {
    matches!(kind, MsgType::Msg | MsgType::DirectMsg | MsgType::Die | MsgType::Bye | MsgType::Error)
}

impl Engine {
    /// Where to receive a peer's bytes without a copy: room in its line buffer; then
    /// call [`Engine::handle_input`]. `None` when the peer is neither open nor
    /// draining (its input is ignored), or when its buffer would grow past the agent's input budget
    /// ([`super::Limits::max_input_memory`]): it is then dropped as for a line
    /// too long. Not to be called while [`Engine::input_waits`].
    pub fn input_room(&mut self, id: PeerId) -> Option<&mut [u8]> {
        let peer = self.peers.get_mut(id).filter(|p| p.is_read())?;
        let (held, size) = (peer.input.held(), peer.input.room_size());
        let total = self.input_held + size.saturating_sub(held);
        let limits = &self.limits;
        if size > held && total > limits.max_input_memory && size > limits.part(limits.max_input_memory) {
            self.limit_passed(id, "input memory of all peers", total, self.limits.max_input_memory);
            return None;
        }
        self.input_held = total;
        Some(self.peers.get_mut(id)?.input.spare())
    }

    /// `n` bytes were received into [`Engine::input_room`]: every line they complete
    /// is handled, as far as the turn's work allows ([`Engine::input_waits`]).
    pub fn handle_input(&mut self, id: PeerId, n: usize) {
        let Some(peer) = self.peers.get_mut(id).filter(|p| p.is_read()) else { return };
        peer.input.filled(n);
        self.turn.received(&mut peer.work, n);
        self.take_lines(id);
    }

    /// How many bytes to read from the peer at most now: none while its lines
    /// wait ([`Engine::input_waits`]); once the turn's work is spent, a few
    /// ([`super::FLOOR_READ`]) once per turn, for the lines of its floor. Any
    /// number for a peer no longer read (its bytes are dropped).
    pub fn read_allowance(&self, id: PeerId) -> usize {
        match self.peers.get(id).filter(|p| p.is_read()) {
            Some(peer) if peer.waits => 0,
            Some(peer) => self.turn.read_allowance(&peer.work),
            None => usize::MAX,
        }
    }

    /// Whether the peer's lines wait for another turn (the turn's work is spent):
    /// read nothing more from it until [`Engine::handle_turn`] took them up.
    pub fn input_waits(&self, id: PeerId) -> bool {
        self.peers.get(id).is_some_and(|p| p.waits)
    }

    /// Whether work waits for another turn: a peer's lines, the teardown of a
    /// peer that left, or peers not read for want of work left in this turn.
    /// Call [`Engine::handle_turn`] at the next turn of the loop.
    pub fn work_waits(&self) -> bool {
        self.turn.waits()
    }

    /// A new turn of the loop: its work starts from nothing, and what waited is
    /// taken up (the peers' lines in the order they stopped, and teardowns, in
    /// turns) as far as the turn allows.
    pub fn handle_turn(&mut self) {
        self.turn.start();
        if self.turn.teardown_first() {
            self.tear_down();
            self.resume_peers();
        } else {
            self.resume_peers();
            self.tear_down();
        }
    }

    /// The compiled patterns dropped since the last call, for the caller to
    /// free, when they are due: once no teardown is left (then
    /// [`Garbage::settles`] says whether memory was freed meanwhile, even if
    /// no pattern was), or as soon as they hold more than
    /// [`Limits::max_pattern_memory`](super::Limits::max_pattern_memory) /
    /// [`GARBAGE_PART`], teardown or not. Call it at the end of each turn.
    pub fn take_garbage(&mut self) -> Option<Garbage> {
        let settles = self.turn.take_released();
        let pending = self.dict.garbage_bytes();
        let done = self.turn.teardown.is_empty();
        let due = settles || (done && pending > 0) || pending > self.limits.max_pattern_memory / GARBAGE_PART;
        due.then(|| self.dict.take_garbage().settled(settles))
    }

    /// Takes up the lines of the peers that waited, each once: as far as the
    /// turn's work goes, then each its floor. The first one of this turn goes
    /// last in the next, so that each in turn has the turn's work first.
    fn resume_peers(&mut self) {
        self.resume_waiting();
        self.turn.waiting.rotate_left(1.min(self.turn.waiting.len()));
    }

    fn resume_waiting(&mut self) {
        for _ in 0..self.turn.waiting.len() {
            let Some(id) = self.turn.waiting.pop_front() else { return };
            if let Some(peer) = self.peers.get_mut(id).filter(|p| p.waits) {
                peer.waits = false;
                if peer.is_read() {
                    self.take_lines(id);
                }
            }
        }
    }

    /// Drops the regexps of peers that left, while the turn allows.
    fn tear_down(&mut self) {
        while !self.turn.is_spent() {
            let Some((id, regexps)) = self.turn.teardown.front_mut() else { return };
            let id = *id;
            match regexps.pop() {
                Some((sub, text)) => {
                    self.dict.unsubscribe(id, sub, &text);
                    let cost = self.dict.take_work();
                    self.turn.spend_on_teardown(cost);
                }
                None => {
                    self.turn.teardown.pop_front();
                }
            }
        }
    }

    /// Handles the complete lines buffered for an open peer while the turn's
    /// work allows; the others wait, and so does the peer.
    fn take_lines(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(id) else { return };
        let mut input = std::mem::take(&mut peer.input);
        let mut work = peer.work;
        let mut close = false;
        let mut waits = false;
        loop {
            let range = match input.take_line() {
                Ok(Some(range)) => range,
                Ok(None) => break,
                Err(_) => {
                    let max = self.limits.max_line;
                    self.limit_passed(id, "line length", input.data().len(), max);
                    break;
                }
            };
            let line = input.data().get(range.clone()).unwrap_or_default();
            if !self.turn.may_take(&work, line.len(), self.compiles(line)) {
                input.unread(range.start);
                waits = true;
                break;
            }
            let flow = self.on_line(id, line);
            let cost = line_cost(line.len()).saturating_add(self.dict.take_work());
            self.turn.spend(&mut work, cost);
            match flow {
                Flow::Next => {}
                Flow::CloseAfterBatch => close = true,
                Flow::Stop => break,
            }
        }
        let before = input.held();
        input.compact();
        self.input_held = self.input_held.saturating_sub(before - input.held());
        if let Some(peer) = self.peers.get_mut(id).filter(|p| p.state != PeerState::Dead) {
            peer.input = input;
            peer.work = work;
            let waits = waits && peer.is_read() && !close;
            if waits && !std::mem::replace(&mut peer.waits, true) {
                self.turn.waiting.push_back(id);
            }
            peer.waits = waits;
        } else {
            self.input_held = self.input_held.saturating_sub(input.held());
        }
        if close {
            self.request_close(id);
        }
    }

    /// Whether handling `line` compiles a regexp: an AddRegexp of a text nobody holds.
    fn compiles(&self, line: &[u8]) -> bool {
        wire::parse_line(line).is_some_and(|l| l.code == MsgType::AddRegexp.code() && self.dict.compiles(l.params))
    }

    /// A limit of [`super::Limits`] passed: noticed, then as a bad format.
    fn limit_passed(&mut self, peer: PeerId, limit: &'static str, value: usize, max: usize) {
        self.notices.push_back(Notice::LimitPassed { peer, limit, value, max });
        self.reject(peer);
    }

    /// Bad format, or a limit passed: ivy-c's reply, Bye, close.
    fn reject(&mut self, id: PeerId) {
        self.queue(id, WhenFull::Drop, |b| {
            wire::encode_line(b, MsgType::Error, 3, BAD_FORMAT);
            wire::encode_line(b, MsgType::Bye, 0, b"");
        });
        self.request_close(id);
    }

    fn on_line(&mut self, id: PeerId, line: &[u8]) -> Flow {
        let Some(l) = wire::parse_line(line) else {
            self.notices.push_back(Notice::BadFormat { peer: id, line: line.to_vec() });
            self.reject(id);
            return Flow::Stop;
        };
        let Some(kind) = MsgType::from_code(l.code) else {
            self.notices.push_back(Notice::UnknownType { peer: id, line: line.to_vec() });
            return Flow::Next;
        };
        // Looked up only for the lines a draining peer does not deliver: not on a Msg.
        if !heard_while_draining(kind) && self.peers.get(id).is_some_and(|p| p.state == PeerState::Draining) {
            return Flow::Next;
        }
        match kind {
            MsgType::Bye => return Flow::CloseAfterBatch,
            MsgType::AddRegexp => return self.peer_subscribes(id, l.id, l.params),
            MsgType::DelRegexp => self.peer_unsubscribes(id, l.id, l.params),
            MsgType::Msg => return self.deliver(id, l.id, l.params),
            MsgType::StartRegexp => return self.peer_introduces(id, l.id, l.params),
            MsgType::EndRegexp => self.peer_ready(id),
            MsgType::Error => {
                self.notices.push_back(Notice::ErrorReceived { peer: id, id: l.id, text: l.params.to_vec() });
            }
            MsgType::DirectMsg => {
                let text = l.params.to_vec();
                self.events.push_back(Event::Direct { peer: id, id: l.id, text });
            }
            MsgType::Die => self.events.push_back(Event::Die { peer: id, id: l.id }),
            MsgType::Ping => {
                self.queue(id, WhenFull::Drop, |b| wire::encode_line(b, MsgType::Pong, l.id, b""));
            }
            MsgType::Pong => self.pong(id, l.id),
        }
        Flow::Next
    }

    fn deliver(&mut self, id: PeerId, binding: i32, params: &[u8]) -> Flow {
        // Each field takes at least one byte: short params need no count.
        let fields = if params.len() <= self.limits.max_args {
            0
        } else {
            wire::count_byte(params, wire::ETX) + usize::from(params.last().is_some_and(|&b| b != wire::ETX))
        };
        if fields > self.limits.max_args {
            self.limit_passed(id, "arguments in a Msg", fields, self.limits.max_args);
            return Flow::Stop;
        }
        if self.own.contains_key(&binding) {
            let mut buf = self.spare.take();
            buf.extend_from_slice(params);
            self.events.push_back(Event::Msg { peer: id, binding, params: buf });
        } else {
            self.notices.push_back(Notice::UnknownBinding { peer: id, id: binding });
        }
        Flow::Next
    }

    /// AddRegexp: add, or replace the text under an id the peer already uses (DESIGN §5).
    fn peer_subscribes(&mut self, id: PeerId, sub: i32, text: &[u8]) -> Flow {
        if text.len() > self.limits.max_regexp_len {
            self.limit_passed(id, "regexp length", text.len(), self.limits.max_regexp_len);
            return Flow::Stop;
        }
        if !self.filter.is_empty() && !self.filter.accepts(text) {
            let regexp = text.to_vec();
            self.events.push_back(Event::Bind { peer: id, id: sub, regexp, event: BindEvent::Filtered });
            return Flow::Next;
        }
        let max = self.limits.max_regexps_per_peer;
        let Some(peer) = self.peers.get_mut(id) else { return Flow::Stop };
        let old = peer.regexps.iter().position(|(i, _)| *i == sub);
        let count = peer.regexps.len();
        let (at, old) = match old {
            Some(at) => (at, Some(peer.regexps.remove(at).1)),
            None if count >= max => {
                self.limit_passed(id, "regexps", count + 1, max);
                return Flow::Stop;
            }
            None => (count, None),
        };
        if let Some(old) = &old {
            self.dict.unsubscribe(id, sub, old);
        }
        let broken = match self.dict.subscribe(id, sub, text, &self.limits) {
            Subscribed::Kept => None,
            Subscribed::Broken(err) => Some(err),
            Subscribed::Refused(err) => {
                // Not kept, nor listed: what is past a budget holds nothing.
                self.answer_bad_regexp(id, sub, text, err);
                if let Some(regexp) = old {
                    self.events.push_back(Event::Bind { peer: id, id: sub, regexp, event: BindEvent::Removed });
                }
                return Flow::Next;
            }
        };
        if let Some(peer) = self.peers.get_mut(id) {
            peer.regexps.insert(at.min(peer.regexps.len()), (sub, text.to_vec()));
        }
        if let Some(err) = broken {
            self.answer_bad_regexp(id, sub, text, err);
        }
        let event = if old.is_some() { BindEvent::Changed } else { BindEvent::Added };
        self.events.push_back(Event::Bind { peer: id, id: sub, regexp: text.to_vec(), event });
        Flow::Next
    }

    /// ivy-c's Error reply to a regexp that does not compile (ours too for one
    /// past a budget), and its notice.
    fn answer_bad_regexp(&mut self, id: PeerId, sub: i32, text: &[u8], err: CompileError) {
        let mut reply = b"Error compiling '".to_vec();
        reply.extend_from_slice(text);
        reply.extend_from_slice(b"', ");
        reply.extend_from_slice(err.message.as_bytes());
        self.queue(id, WhenFull::Drop, |b| wire::encode_line(b, MsgType::Error, err.offset, &reply));
        let regexp = text.to_vec();
        self.notices.push_back(Notice::BadRegexp { peer: id, id: sub, regexp, error: err.message });
    }

    /// DelRegexp: every regexp of the peer under that id goes; the event carries the
    /// DelRegexp text, as ivy-c reports it.
    fn peer_unsubscribes(&mut self, id: PeerId, sub: i32, params: &[u8]) {
        let Some(peer) = self.peers.get_mut(id) else { return };
        let (gone, kept) = std::mem::take(&mut peer.regexps).into_iter().partition(|(i, _)| *i == sub);
        peer.regexps = kept;
        let gone: Vec<(i32, Vec<u8>)> = gone;
        for (_, text) in &gone {
            self.dict.unsubscribe(id, sub, text);
        }
        if !gone.is_empty() {
            let regexp = params.to_vec();
            self.events.push_back(Event::Bind { peer: id, id: sub, regexp, event: BindEvent::Removed });
        }
    }

    /// StartRegexp: the peer's name and listening port; then the duplicate check.
    fn peer_introduces(&mut self, id: PeerId, port: i32, name: &[u8]) -> Flow {
        let Some(peer) = self.peers.get_mut(id) else { return Flow::Stop };
        peer.name = name.to_vec();
        peer.announced_port = u16::try_from(port).ok().filter(|&p| p != 0);
        if self.drop_duplicate(id) { Flow::Stop } else { Flow::Next }
    }

    /// EndRegexp: Connected (every time), and the ready message once (§4.3).
    fn peer_ready(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(id) else { return };
        if peer.standby {
            // Reported when it takes over (dedupe.rs); its agent had our ready
            // message on the link it duplicates.
            peer.ready_sent = true;
            return;
        }
        self.events.push_back(Event::App { peer: id, event: AppEvent::Connected });
        if std::mem::replace(&mut peer.ready_sent, true) {
            return;
        }
        if let Some(ready) = self.ready.clone() {
            self.route(&ready, Some(id), WhenFull::Drop);
        }
    }

    /// Pong: the time of the ping it answers, and whether it was the last one sent
    /// (§6.4); a Pong with no ping waiting is ignored.
    fn pong(&mut self, id: PeerId, pong: i32) {
        let Some(peer) = self.peers.get_mut(id) else { return };
        let Some(sent_at) = peer.ping_sent_at.take() else { return };
        let latest = pong == peer.ping_seq;
        self.events.push_back(Event::Pong { peer: id, sent_at, latest });
    }

    /// A datagram from the bus, sent from `from`: each hello line from a newcomer
    /// asks for a connection ([`super::Action::Connect`]).
    pub fn handle_datagram(&mut self, from: SocketAddr, data: &[u8]) {
        if !self.allows(from.ip()) {
            return;
        }
        for line in wire::hello_lines(data) {
            let hello = match wire::parse_hello(line) {
                Ok(h) => h,
                Err(error) => {
                    self.notices.push_back(Notice::BadHello { from, error });
                    continue;
                }
            };
            if hello.app_id == self.app_id.as_slice() && !self.app_id.is_empty() {
                continue;
            }
            let addr = SocketAddr::new(from.ip(), hello.port);
            if self.knows(addr) || !self.room_to_dial(addr) {
                continue;
            }
            self.connecting.insert(addr, hello.app_id.to_vec());
            self.actions.push_back(super::Action::Connect { addr, name: hello.app_name.to_vec() });
        }
    }

    /// Whether a connection to the agent listening at `addr` exists or is under way.
    fn knows(&self, addr: SocketAddr) -> bool {
        self.connecting.contains_key(&addr)
            || self.peers.iter().any(|(_, p)| {
                p.is_open()
                    && p.remote.ip() == addr.ip()
                    && (p.remote.port() == addr.port() || p.announced_port == Some(addr.port()))
            })
    }
}
