//! The work of one loop turn, so that the loop answers every peer within a
//! bound however much one peer, or many, ask of it (DESIGN §5): the lines a
//! peer sends, the regexps they make us compile, and the teardown of a peer
//! that held thousands of them. Work is counted, never timed (the engine reads
//! no clock).
//!
//! The unit is about a short line's handling (some 50 ns). A turn may spend
//! [`TURN_WORK`]; past it, a peer's lines wait in its buffer (the driver reads
//! no more from it) and the driver runs another turn at once
//! ([`super::Engine::handle_turn`]), which takes them up first. Each peer may
//! still spend [`PEER_FLOOR`] per turn on lines that compile nothing (and be
//! read [`FLOOR_READ`] bytes for them), so that a well-behaved peer is answered
//! in every turn whatever the others ask. The regexps of a peer that left are
//! dropped in slices, a turn's work at a time.

use super::budget::{LINE_BYTES_PER_UNIT, line_cost};
use super::types::PeerId;
use std::collections::VecDeque;

/// Work one turn may spend on lines, compiles and teardowns: about 3 ms.
pub const TURN_WORK: u64 = 1 << 16;
/// Work each peer may spend in every turn, past [`TURN_WORK`] too, on lines
/// that compile nothing: 256 short lines, or one of 16 KiB (512 peers: about
/// 6 ms more).
pub const PEER_FLOOR: u64 = 256;
/// Bytes a peer may still be read in a turn whose work is spent (once per
/// turn): room for the lines of its floor.
pub const FLOOR_READ: usize = 16 << 10;
/// What compiling a regexp costs beside its size.
const COMPILE_BASE: u64 = 32;
/// Bytes of a compiled regexp ([`crate::pattern::Pattern::memory_usage`])
/// that cost one unit to compile (measured: 2 to 8 ns a byte).
const COMPILE_BYTES_PER_UNIT: u64 = 8;
/// What a regexp that does not compile costs: as much as the largest one that
/// does ([`crate::pattern::REGEX_SIZE_LIMIT`]), which it may have been built up
/// to before it failed.
const COMPILE_FAILED: u64 = (crate::pattern::REGEX_SIZE_LIMIT as u64) / COMPILE_BYTES_PER_UNIT;
/// What dropping a subscription costs beside the memory it frees.
const DROP_BASE: u64 = 16;
/// Bytes freed that cost one unit (measured: 0.2 to 0.4 ns a byte).
const DROP_BYTES_PER_UNIT: u64 = 64;

/// What compiling a regexp cost: `memory` bytes once compiled, `None` when it
/// did not compile.
pub(super) fn compile_cost(memory: Option<usize>) -> u64 {
    match memory {
        Some(bytes) => COMPILE_BASE + units(bytes, COMPILE_BYTES_PER_UNIT),
        None => COMPILE_FAILED,
    }
}

/// What dropping a subscription that freed `freed` bytes cost.
pub(super) fn drop_cost(freed: usize) -> u64 {
    DROP_BASE + units(freed, DROP_BYTES_PER_UNIT)
}

fn units(bytes: usize, per_unit: u64) -> u64 {
    u64::try_from(bytes).unwrap_or(u64::MAX) / per_unit
}

/// A peer's regexps still to drop after it left: (subscription id, text).
pub(super) type Teardown = (PeerId, Vec<(i32, Vec<u8>)>);

/// The accounting of the current turn, and the work left for the next ones.
#[derive(Debug, Default)]
pub(super) struct TurnWork {
    /// Turns started so far (a peer's own count is valid in this one only).
    number: u64,
    /// Work spent in this turn.
    spent: u64,
    /// Peers whose lines wait in their buffer, in the order they stopped.
    pub(super) waiting: VecDeque<PeerId>,
    /// Regexps of peers that left, dropped a slice per turn.
    pub(super) teardown: VecDeque<Teardown>,
    /// Memory was freed since the driver last asked ([`TurnWork::take_released`]).
    released: bool,
}

/// What one peer spent in a turn.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PeerWork {
    turn: u64,
    spent: u64,
    /// It was read after the turn's work was spent ([`FLOOR_READ`]).
    floor_read: bool,
}

impl PeerWork {
    /// The peer's count in turn `number`, started again if it was another's.
    fn at(&mut self, number: u64) -> &mut PeerWork {
        if self.turn != number {
            *self = PeerWork { turn: number, spent: 0, floor_read: false };
        }
        self
    }
}

impl TurnWork {
    /// A new turn: nothing spent yet.
    pub(super) fn start(&mut self) {
        self.number += 1;
        self.spent = 0;
    }

    /// Whether the turn's work is spent.
    pub(super) fn is_spent(&self) -> bool {
        self.spent >= TURN_WORK
    }

    /// Whether a peer that spent `peer` may handle a line of `len` bytes that
    /// compiles a regexp (`compiles`) or not.
    pub(super) fn may_take(&self, peer: &PeerWork, len: usize, compiles: bool) -> bool {
        let own = if peer.turn == self.number { peer.spent } else { 0 };
        !self.is_spent() || (!compiles && own.saturating_add(line_cost(len)) <= PEER_FLOOR)
    }

    /// Counts `cost` against the turn and the peer.
    pub(super) fn spend(&mut self, peer: &mut PeerWork, cost: u64) {
        let peer = peer.at(self.number);
        peer.spent = peer.spent.saturating_add(cost);
        self.spent = self.spent.saturating_add(cost);
    }

    /// How many bytes a peer may be read now: any while the turn has work
    /// left; past it, [`FLOOR_READ`] once per turn.
    pub(super) fn read_allowance(&self, peer: &PeerWork) -> usize {
        if !self.is_spent() {
            usize::MAX
        } else if peer.turn == self.number && peer.floor_read {
            0
        } else {
            FLOOR_READ
        }
    }

    /// `n` bytes were received from a peer: they count against the turn (their
    /// lines count again as they are handled).
    pub(super) fn received(&mut self, peer: &mut PeerWork, n: usize) {
        let spent = self.is_spent();
        let peer = peer.at(self.number);
        peer.floor_read |= spent;
        self.spent = self.spent.saturating_add(u64::try_from(n).unwrap_or(u64::MAX) / LINE_BYTES_PER_UNIT);
    }

    /// Counts `cost` against the turn only (teardowns).
    pub(super) fn spend_on_teardown(&mut self, cost: u64) {
        self.spent = self.spent.saturating_add(cost);
        self.released = true;
    }

    /// Whether work waits for another turn, or the turn's work is spent (peers
    /// are read again only in a new turn).
    pub(super) fn waits(&self) -> bool {
        !self.waiting.is_empty() || !self.teardown.is_empty() || self.is_spent()
    }

    /// Whether teardowns go before waiting lines in this turn: every other
    /// turn, so that neither starves the other.
    pub(super) fn teardown_first(&self) -> bool {
        self.number.is_multiple_of(2)
    }

    /// Notes that memory was freed.
    pub(super) fn note_released(&mut self) {
        self.released = true;
    }

    /// Whether memory was freed since the last call and no teardown is left.
    pub(super) fn take_released(&mut self) -> bool {
        if self.teardown.is_empty() { std::mem::take(&mut self.released) } else { false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_follow_the_sizes() {
        assert_eq!(compile_cost(Some(0)), COMPILE_BASE);
        assert_eq!(compile_cost(Some(8000)), COMPILE_BASE + 1000);
        assert_eq!(compile_cost(None), 40960);
        assert_eq!(drop_cost(6400), DROP_BASE + 100);
    }

    #[test]
    fn past_the_turn_only_the_floor_of_cheap_lines() {
        let mut turn = TurnWork::default();
        turn.start();
        let (mut a, mut b) = (PeerWork::default(), PeerWork::default());
        assert!(turn.may_take(&a, 10, true));
        turn.spend(&mut a, TURN_WORK);
        assert!(turn.is_spent());
        // A compile waits; short lines pass up to the floor, for each peer.
        assert!(!turn.may_take(&b, 10, true));
        for _ in 0..PEER_FLOOR {
            assert!(turn.may_take(&b, 10, false));
            turn.spend(&mut b, 1);
        }
        assert!(!turn.may_take(&b, 10, false));
        assert!(!turn.may_take(&a, 10, false), "a spent its floor and more");
        // A new turn starts every count again.
        turn.start();
        assert!(turn.may_take(&a, 10, true) && turn.may_take(&b, 10, false));
        turn.spend(&mut b, 1);
        assert_eq!((b.spent, turn.spent), (1, 1));
    }

    #[test]
    fn past_the_turn_each_peer_is_read_once_a_little() {
        let mut turn = TurnWork::default();
        turn.start();
        let (mut a, mut b) = (PeerWork::default(), PeerWork::default());
        assert_eq!(turn.read_allowance(&a), usize::MAX);
        turn.received(&mut a, 64 * TURN_WORK as usize);
        assert!(turn.is_spent(), "bytes received count");
        assert_eq!(turn.read_allowance(&a), FLOOR_READ, "the read that spent it was not a floor read");
        turn.received(&mut a, FLOOR_READ);
        assert_eq!(turn.read_allowance(&a), 0);
        assert_eq!(turn.read_allowance(&b), FLOOR_READ);
        turn.received(&mut b, 10);
        assert_eq!(turn.read_allowance(&b), 0);
        turn.start();
        assert_eq!((turn.read_allowance(&a), turn.read_allowance(&b)), (usize::MAX, usize::MAX));
    }

    #[test]
    fn memory_freed_is_reported_once_teardowns_are_done() {
        let mut turn = TurnWork::default();
        turn.teardown.push_back((PeerId(1), vec![(0, b"x".to_vec())]));
        turn.spend_on_teardown(5);
        assert!(!turn.take_released(), "a teardown is left");
        turn.teardown.clear();
        assert!(turn.take_released());
        assert!(!turn.take_released());
        turn.note_released();
        assert!(turn.take_released());
    }
}
