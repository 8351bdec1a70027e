//! Drives an [`Engine`] the way its production driver does, for tests and fuzzers
//! (built with the `testing` feature, or in this crate's own tests): bytes go in
//! through the receive buffer's room, output comes out through the lending
//! queue, events, actions and notices are polled.

use crate::engine::{Action, Engine, Event, Notice, PeerId};
use crate::wire::LineBuffer;
use std::collections::VecDeque;

/// Something that receives bytes in place: room to write into, then how much was.
trait InPlace {
    /// Room for the next bytes; `None` when no more are taken.
    fn room(&mut self) -> Option<&mut [u8]>;
    fn filled(&mut self, n: usize);
}

impl InPlace for LineBuffer {
    fn room(&mut self) -> Option<&mut [u8]> {
        Some(self.spare())
    }

    fn filled(&mut self, n: usize) {
        LineBuffer::filled(self, n);
    }
}

/// One peer's input.
struct PeerInput<'e>(&'e mut Engine, PeerId);

impl InPlace for PeerInput<'_> {
    fn room(&mut self) -> Option<&mut [u8]> {
        // As the driver does: no read while the peer's lines wait; the loop's
        // next turns take them up.
        while self.0.input_waits(self.1) {
            self.0.handle_turn();
        }
        self.0.input_room(self.1)
    }

    fn filled(&mut self, n: usize) {
        self.0.handle_input(self.1, n);
    }
}

/// Copies `bytes` into the room offered, as a socket read fills it, as many times
/// as it takes; what is offered once no room is left is dropped.
fn copy_in(to: &mut impl InPlace, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        let Some(room) = to.room() else { return };
        let n = room.len().min(bytes.len());
        let (now, rest) = bytes.split_at(n);
        room.get_mut(..n).unwrap_or_default().copy_from_slice(now);
        to.filled(n);
        bytes = rest;
    }
}

/// Hands `bytes` to the peer as received data, through the room the engine offers
/// ([`Engine::input_room`], [`Engine::handle_input`]), and runs turns of the loop
/// until every line they complete is handled ([`Engine::handle_turn`]). Bytes
/// offered to a peer that is no longer read are dropped, as the driver drops them.
pub fn feed(engine: &mut Engine, peer: PeerId, bytes: &[u8]) {
    copy_in(&mut PeerInput(engine, peer), bytes);
    while engine.input_waits(peer) {
        engine.handle_turn();
    }
}

/// Runs turns of the loop until no work waits (peers' lines, teardowns of
/// peers that left); returns how many it took.
pub fn settle(engine: &mut Engine) -> usize {
    let mut turns = 0;
    while engine.work_waits() {
        engine.handle_turn();
        turns += 1;
    }
    turns
}

/// Receives `bytes` into a line buffer in place ([`LineBuffer::spare`],
/// [`LineBuffer::filled`]).
pub fn receive(buf: &mut LineBuffer, bytes: &[u8]) {
    copy_in(buf, bytes);
}

/// Everything queued for the peer, taken and reported written.
pub fn drain_output(engine: &mut Engine, peer: PeerId) -> Vec<u8> {
    let mut out = Vec::new();
    engine.take_output(peer, &mut out);
    engine.handle_written(peer, out.len(), false);
    out
}

/// Bytes not yet written to the peer: taken and not reported written, or queued.
pub fn output_len(engine: &Engine, peer: PeerId) -> usize {
    engine.output_len(peer)
}

/// Memory held for one peer's buffers (input, and output not lent).
pub fn peer_memory(engine: &Engine, peer: PeerId) -> usize {
    engine.peer_memory(peer)
}

/// Every pending event, in order.
pub fn events(engine: &mut Engine) -> Vec<Event> {
    let mut events = VecDeque::new();
    engine.poll_events(&mut events);
    events.into()
}

/// Every pending action, in order.
pub fn actions(engine: &mut Engine) -> Vec<Action> {
    std::iter::from_fn(|| engine.poll_action()).collect()
}

/// Every pending notice, in order.
pub fn notices(engine: &mut Engine) -> Vec<Notice> {
    std::iter::from_fn(|| engine.poll_notice()).collect()
}
