//! What the searches of one message may cost the sender, over all peers, so
//! that no peer's regexps, nor those of many peers together, can stall it
//! (DESIGN §4). Work is counted, never timed: the engine reads no clock.
//!
//! The unit is one engine step, a state on a message byte: a search costs at
//! most about [`Pattern::cost_per_byte`] steps per byte (the linear engine's
//! worst case, when its lazy DFA gives up, at about 12 ns a step). Each search
//! also costs [`SEARCH_BASE`], and each Msg line it makes [`line_cost`]. A
//! message may cost [`MESSAGE_WORK`] in all. When its candidates ask for
//! more, the work is shared out between the peers that ask, max-min fairly
//! (a peer that asks for less than an equal share gets what it asks, the rest
//! is shared by the others), and a search runs only for the subscribers whose
//! share covers their part. A search refused counts as no match.

use super::idmap::IdMap;
use super::types::PeerId;
use crate::pattern::{BACKTRACK_LIMIT, Pattern};

/// Longest message a pattern that may take quadratic time
/// ([`Pattern::may_be_quadratic`]) runs on: about 30 ms at worst.
pub const QUADRATIC_MAX_MESSAGE: usize = 8 << 10;
/// Work one message may cost, all searches and Msg lines of all peers
/// together: about 12 ms at worst, so that a loop turn that sends stays well
/// under 50 ms. A single search past it never runs.
pub const MESSAGE_WORK: u64 = 1 << 20;
/// What every search costs beside its steps, a literal shape's included.
pub const SEARCH_BASE: u64 = 4;
/// Bytes of a Msg line that cost one unit to build and queue.
pub const LINE_BYTES_PER_UNIT: u64 = 64;

/// What one Msg line for a message of `len` bytes costs.
pub(super) fn line_cost(len: usize) -> u64 {
    1 + u64::try_from(len).unwrap_or(u64::MAX) / LINE_BYTES_PER_UNIT
}

/// What one search of `pattern` on a message of `len` bytes may cost, or
/// `None` when it may never run on such a message.
pub(super) fn search_cost(pattern: &Pattern, len: usize) -> Option<u64> {
    // The usual subscription: a literal shape runs no engine.
    if pattern.has_literal_shape() {
        return Some(SEARCH_BASE);
    }
    if pattern.may_be_quadratic() && len > QUADRATIC_MAX_MESSAGE {
        return None;
    }
    let mut steps = pattern.cost_per_byte().saturating_mul(u64::try_from(len).unwrap_or(u64::MAX));
    if pattern.is_backtracking() {
        // Its step budget, counted as one step per state and byte.
        steps = steps.max(BACKTRACK_LIMIT as u64);
    }
    let cost = steps.saturating_add(SEARCH_BASE);
    (cost <= MESSAGE_WORK).then_some(cost)
}

/// How many times the subscribers of a search may be counted again as some
/// of them turn out unable to pay their part: past it, the search is refused.
const PAYING_ROUNDS: usize = 4;

/// What a subscriber pays for one search subscribed by `subscribers`: its
/// part of the search and its line.
fn part(search: u64, subscribers: usize, line: u64) -> u64 {
    let n = u64::try_from(subscribers.max(1)).unwrap_or(u64::MAX);
    search.div_ceil(n).saturating_add(line)
}

/// What [`SearchBudget::admit`] allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admit {
    /// Not this search: it counts as no match.
    No,
    /// Run it, for every subscriber.
    All,
    /// Run it, for the subscribers in [`SearchBudget::admitted`] only.
    Some,
}

/// The accounting of one message's searches.
#[derive(Debug, Default)]
pub(super) struct SearchBudget {
    /// Length of the message.
    len: usize,
    /// Work spent on it so far.
    spent: u64,
    /// Its candidates ask for more than [`MESSAGE_WORK`]: each peer has its share.
    shared: bool,
    /// What each peer asks for, then what it may still spend (when shared).
    shares: IdMap<PeerId, u64>,
    /// Scratch of the fair division.
    asks: Vec<(u64, PeerId)>,
    /// The subscribers a search admitted with [`Admit::Some`] runs for.
    admitted: Vec<(PeerId, i32)>,
    /// Searches refused.
    refused: usize,
}

impl SearchBudget {
    /// Starts the accounting of a message of `len` bytes whose candidates ask
    /// for `asked` work in all ([`search_cost`] and a [`line_cost`] per subscriber).
    pub(super) fn start(&mut self, len: usize, asked: u64) {
        self.len = len;
        self.spent = 0;
        self.refused = 0;
        self.shared = asked > MESSAGE_WORK;
        if !self.shares.is_empty() {
            self.shares.clear();
        }
    }

    /// Whether the work must be shared out: then give every candidate to
    /// [`SearchBudget::ask`], and call [`SearchBudget::divide`].
    pub(super) fn is_shared(&self) -> bool {
        self.shared
    }

    /// A candidate that costs `search` and is subscribed by `subs`: what its
    /// subscribers ask for.
    pub(super) fn ask(&mut self, search: u64, subs: &[(PeerId, i32)]) {
        let part = part(search, subs.len(), line_cost(self.len));
        for (peer, _) in subs {
            let asked = self.shares.entry(*peer).or_default();
            *asked = asked.saturating_add(part);
        }
    }

    /// Shares [`MESSAGE_WORK`] out between the peers, max-min fairly by what they asked.
    pub(super) fn divide(&mut self) {
        self.asks.clear();
        self.asks.extend(self.shares.iter().map(|(&peer, &asked)| (asked, peer)));
        self.asks.sort_unstable();
        let (mut left, mut peers) = (MESSAGE_WORK, self.asks.len() as u64);
        for &(asked, peer) in &self.asks {
            let share = asked.min(left / peers.max(1));
            self.shares.insert(peer, share);
            left -= share;
            peers -= 1;
        }
    }

    /// Whether `pattern`, subscribed by `subs`, runs on the message, and for whom.
    pub(super) fn admit(&mut self, pattern: &Pattern, subs: &[(PeerId, i32)]) -> Admit {
        let admit = self.decide(pattern, subs);
        self.refused += usize::from(admit == Admit::No);
        admit
    }

    fn decide(&mut self, pattern: &Pattern, subs: &[(PeerId, i32)]) -> Admit {
        let Some(search) = search_cost(pattern, self.len) else { return Admit::No };
        let line = line_cost(self.len);
        if !self.shared {
            let n = u64::try_from(subs.len()).unwrap_or(u64::MAX);
            self.spent = self.spent.saturating_add(search.saturating_add(n.saturating_mul(line)));
            return Admit::All;
        }
        // The subscribers whose share covers their part run it; a part grows as
        // fewer pay for the search, so the ones left pay it again, a few times at most.
        let mut payers = subs.len();
        for _ in 0..PAYING_ROUNDS {
            let part = part(search, payers, line);
            self.admitted.clear();
            for &(peer, id) in subs {
                if let Some(share) = self.shares.get_mut(&peer).filter(|s| **s >= part) {
                    *share -= part;
                    self.admitted.push((peer, id));
                }
            }
            if self.admitted.len() == payers {
                let n = u64::try_from(payers).unwrap_or(u64::MAX);
                self.spent = self.spent.saturating_add(part.saturating_mul(n));
                return if payers == subs.len() { Admit::All } else { Admit::Some };
            }
            for &(peer, _) in &self.admitted {
                if let Some(share) = self.shares.get_mut(&peer) {
                    *share += part;
                }
            }
            payers = self.admitted.len();
            if payers == 0 {
                break;
            }
        }
        Admit::No
    }

    /// The subscribers of the last search admitted with [`Admit::Some`].
    pub(super) fn admitted(&self) -> &[(PeerId, i32)] {
        &self.admitted
    }

    /// Work spent on the message so far.
    #[cfg(test)]
    pub(super) fn spent(&self) -> u64 {
        self.spent
    }

    /// How many searches were refused since [`SearchBudget::start`].
    pub(super) fn refused(&self) -> usize {
        self.refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(p: &str) -> Pattern {
        Pattern::compile(p.as_bytes()).expect("compiles")
    }

    #[test]
    fn quadratic_patterns_run_on_short_messages_only() {
        for p in ["(a*)*\\1b", "(?=[^x]*x)a", "(?>a+)b", "a++b"] {
            let p = pattern(p);
            assert!(p.may_be_quadratic());
            assert_eq!(search_cost(&p, QUADRATIC_MAX_MESSAGE), Some(BACKTRACK_LIMIT as u64 + SEARCH_BASE));
            assert_eq!(search_cost(&p, QUADRATIC_MAX_MESSAGE + 1), None);
        }
        // Short look-arounds (interval expansions) are linear: any length the work allows.
        let interval = pattern("^x=(?:1[0-9]?|20?)(?![\\d.]) (.*)");
        assert!(interval.is_backtracking() && !interval.may_be_quadratic());
        assert_eq!(search_cost(&interval, 1 << 10), Some(BACKTRACK_LIMIT as u64 + SEARCH_BASE));
        let long = usize::try_from((MESSAGE_WORK - SEARCH_BASE) / interval.cost_per_byte()).expect("fits");
        assert!(search_cost(&interval, long).is_some());
        assert_eq!(search_cost(&interval, long + 1), None);
    }

    #[test]
    fn search_cost_is_states_times_length() {
        let big = pattern("(x{1000})1");
        let w = big.cost_per_byte();
        assert!((1000..1010).contains(&w), "cost {w}");
        let longest = usize::try_from((MESSAGE_WORK - SEARCH_BASE) / w).expect("fits");
        assert_eq!(search_cost(&big, longest), Some(w * longest as u64 + SEARCH_BASE));
        assert_eq!(search_cost(&big, longest + 1), None);
        // A literal shape runs no engine: any length, the base cost.
        let shape = pattern("^topic (.*)");
        assert_eq!(shape.cost_per_byte(), 0);
        assert!(shape.states() > 0);
        assert_eq!(search_cost(&shape, 1 << 30), Some(SEARCH_BASE));
        assert_eq!((line_cost(0), line_cost(63), line_cost(64), line_cost(4096)), (1, 1, 2, 65));
    }

    #[test]
    fn under_the_message_work_everything_runs() {
        let mut b = SearchBudget::default();
        let p = pattern("(x{1000})1");
        let subs = [(PeerId(1), 0), (PeerId(2), 7)];
        let cost = search_cost(&p, 250).expect("runs");
        b.start(250, 2 * cost);
        assert!(!b.is_shared());
        assert_eq!(b.admit(&p, &subs), Admit::All);
        assert_eq!(b.admit(&p, &subs), Admit::All);
        assert_eq!(b.spent(), 2 * (cost + 2 * line_cost(250)));
        assert_eq!(b.refused(), 0);
    }

    /// Peer 1 subscribed `n1` costly patterns, peer 2 `n2` small ones, peer 1
    /// first: the searches each gets to run on a 1 KiB message.
    fn fair_run(n1: usize, n2: usize) -> (usize, usize, u64) {
        let (hostile, good) = (pattern("(.*a){19}(?:|z)"), pattern("^good ([a-z]+) [0-9]+$"));
        let len = 1024;
        let (h, g) = (search_cost(&hostile, len).expect("runs"), search_cost(&good, len).expect("runs"));
        let (hs, gs) = ([(PeerId(1), 0)], [(PeerId(2), 0)]);
        let mut b = SearchBudget::default();
        let line = line_cost(len);
        b.start(len, n1 as u64 * (h + line) + n2 as u64 * (g + line));
        if b.is_shared() {
            (0..n1).for_each(|_| b.ask(h, &hs));
            (0..n2).for_each(|_| b.ask(g, &gs));
            b.divide();
        }
        let ran1 = (0..n1).filter(|_| b.admit(&hostile, &hs) != Admit::No).count();
        let ran2 = (0..n2).filter(|_| b.admit(&good, &gs) != Admit::No).count();
        assert_eq!(b.refused(), n1 + n2 - ran1 - ran2);
        (ran1, ran2, b.spent())
    }

    #[test]
    fn past_the_message_work_each_peer_has_its_fair_share() {
        // Alone, the costly peer gets the whole work, and no more.
        let (ran, _, spent) = fair_run(2016, 0);
        let one = search_cost(&pattern("(.*a){19}(?:|z)"), 1024).expect("runs") + line_cost(1024);
        assert_eq!(ran as u64, MESSAGE_WORK / one);
        assert_eq!(spent, ran as u64 * one);
        // A peer that asks less than half gets all it asks, whoever comes first.
        let (ran1, ran2, spent) = fair_run(2016, 10);
        assert_eq!(ran2, 10);
        assert!(ran1 > 0 && spent <= MESSAGE_WORK, "{ran1} ran, spent {spent}");
        // Two peers that both ask too much get half each.
        let (ran1, ran2, _) = fair_run(2016, 100_000);
        let good = search_cost(&pattern("^good ([a-z]+) [0-9]+$"), 1024).expect("runs") + line_cost(1024);
        assert_eq!(ran2 as u64, MESSAGE_WORK / 2 / good);
        assert!(ran1 > 0);
    }

    #[test]
    fn a_shared_text_runs_for_the_subscribers_whose_share_covers_it() {
        let (small, big) = (pattern("(x{500})1"), pattern("(x{1000})1"));
        let len = 500;
        let (one, two) = (search_cost(&small, len).expect("runs"), search_cost(&big, len).expect("runs"));
        let line = line_cost(len);
        let (a, c) = (PeerId(1), PeerId(2));
        let (alone, both) = ([(a, 0)], [(a, 1), (c, 4)]);
        let mut b = SearchBudget::default();
        // Peer 1 asks for four small searches alone and half a big one, peer 2
        // for the other half: past the work.
        b.start(len, 4 * (one + line) + two + 2 * line);
        assert!(b.is_shared());
        (0..4).for_each(|_| b.ask(one, &alone));
        b.ask(two, &both);
        b.divide();
        // Peer 2 asked for less than half: all it asked. Peer 1 the rest.
        assert_eq!(b.shares.get(&c), Some(&part(two, 2, line)));
        assert_eq!(b.shares.get(&a), Some(&(MESSAGE_WORK - part(two, 2, line))));
        for _ in 0..3 {
            assert_eq!(b.admit(&small, &alone), Admit::All);
        }
        // Peer 1's share no longer covers half the big search; peer 2's covers
        // the whole of it? No: it asked for half. Refused.
        assert_eq!(b.admit(&big, &both), Admit::No);
        // A new message where both ask for more than half, peer 2 for the big
        // search alone too: it can pay the whole of the shared one.
        b.start(len, MESSAGE_WORK + 1);
        (0..10).for_each(|_| b.ask(one, &alone));
        b.ask(two, &both);
        b.ask(two, &[(c, 5)]);
        b.divide();
        assert_eq!((b.shares.get(&a), b.shares.get(&c)), (Some(&(MESSAGE_WORK / 2)), Some(&(MESSAGE_WORK / 2))));
        let ran = (0..10).filter(|_| b.admit(&small, &alone) == Admit::All).count();
        assert_eq!(ran as u64, MESSAGE_WORK / 2 / (one + line));
        assert_eq!(b.admit(&big, &both), Admit::Some);
        assert_eq!(b.admitted(), &[(c, 4)]);
        assert_eq!(b.spent(), ran as u64 * (one + line) + two + line);
        assert!(b.spent() <= MESSAGE_WORK);
        assert_eq!(b.refused(), 10 - ran);
        // A new message, a new budget.
        b.start(len, one);
        assert_eq!(b.admit(&small, &alone), Admit::All);
        assert_eq!(b.refused(), 0);
    }
}
