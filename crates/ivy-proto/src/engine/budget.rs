//! What the searches of one message may cost the sender, so that no peer's
//! regexps can stall it (DESIGN §4). A search costs at most about
//! [`Pattern::cost_per_byte`] steps per message byte; a search that is refused here
//! counts as no match, and the sender goes on with the next pattern.

use super::types::PeerId;
use crate::pattern::{BACKTRACK_LIMIT, Pattern};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Longest message a pattern that may take quadratic time
/// ([`Pattern::may_be_quadratic`]) runs on: about 30 ms at worst.
pub const QUADRATIC_MAX_MESSAGE: usize = 8 << 10;
/// A pattern of at most this many states runs on any message: at most 64
/// steps per byte.
pub const ALWAYS_RUN_STATES: u64 = 64;
/// Most [`Pattern::cost_per_byte`] × message length one search of a larger
/// pattern may cost: about 50 ms at worst, so a pattern of n states runs on
/// messages up to 2^22 / n bytes (300 states: 14 KiB).
pub const SEARCH_MAX_COST: u64 = 1 << 22;
/// Cost of one message's searches up to which none is timed.
pub const UNTIMED_COST: u64 = 1 << 22;
/// Past [`UNTIMED_COST`], once the searches for one peer have taken this
/// long on a message, that peer's other patterns do not run on it.
pub const PEER_SEARCH_TIME: Duration = Duration::from_millis(10);

/// The accounting of one message's searches.
#[derive(Debug, Default)]
pub(super) struct SearchBudget {
    /// Worst-case cost of the searches admitted so far.
    cost: u64,
    /// Time taken by each peer's searches, once they are timed.
    spent: HashMap<PeerId, Duration>,
    /// Searches refused.
    refused: usize,
}

/// What [`SearchBudget::admit`] allows.
pub(super) enum Admit {
    /// Not this search: it counts as no match.
    No,
    /// Run it.
    Yes,
    /// Run it and give the time to [`SearchBudget::settle`].
    Timed(Instant),
}

impl SearchBudget {
    /// Starts the accounting of a new message.
    pub(super) fn start(&mut self) {
        self.cost = 0;
        // Only messages past UNTIMED_COST fill it: an empty table is not swept.
        if !self.spent.is_empty() {
            self.spent.clear();
        }
        self.refused = 0;
    }

    /// Whether `pattern`, subscribed by `subs`, may run on a message of `len` bytes.
    pub(super) fn admit(&mut self, pattern: &Pattern, len: usize, subs: &[(PeerId, i32)]) -> Admit {
        let admit = self.decide(pattern, len, subs);
        self.refused += usize::from(matches!(admit, Admit::No));
        admit
    }

    fn decide(&mut self, pattern: &Pattern, len: usize, subs: &[(PeerId, i32)]) -> Admit {
        // The usual subscription: a literal shape runs no engine, costs nothing.
        if pattern.has_literal_shape() {
            return Admit::Yes;
        }
        if pattern.may_be_quadratic() && len > QUADRATIC_MAX_MESSAGE {
            return Admit::No;
        }
        let per_byte = pattern.cost_per_byte();
        let mut cost = per_byte.saturating_mul(u64::try_from(len).unwrap_or(u64::MAX));
        if cost > SEARCH_MAX_COST && per_byte > ALWAYS_RUN_STATES {
            return Admit::No;
        }
        if pattern.is_backtracking() {
            // Its step budget, counted as one step per state and byte.
            cost = cost.max(BACKTRACK_LIMIT as u64);
        } else if cost == 0 {
            // Nothing to count (an empty message).
            return Admit::Yes;
        }
        self.cost = self.cost.saturating_add(cost);
        if self.cost <= UNTIMED_COST {
            return Admit::Yes;
        }
        let out_of_time = |(peer, _): &(PeerId, i32)| self.spent.get(peer).is_some_and(|&t| t >= PEER_SEARCH_TIME);
        if subs.iter().all(out_of_time) {
            return Admit::No;
        }
        Admit::Timed(Instant::now())
    }

    /// Gives the time since `started` to every peer in `subs`.
    pub(super) fn settle(&mut self, started: Instant, subs: &[(PeerId, i32)]) {
        let took = started.elapsed();
        for (peer, _) in subs {
            *self.spent.entry(*peer).or_default() += took;
        }
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

    fn admits(b: &mut SearchBudget, p: &Pattern, len: usize, subs: &[(PeerId, i32)]) -> &'static str {
        match b.admit(p, len, subs) {
            Admit::No => "no",
            Admit::Yes => "yes",
            Admit::Timed(_) => "timed",
        }
    }

    #[test]
    fn quadratic_patterns_run_on_short_messages_only() {
        let mut b = SearchBudget::default();
        let subs = [(PeerId(1), 0)];
        for p in ["(a*)*\\1b", "(?=[^x]*x)a", "(?>a+)b", "a++b"] {
            let p = pattern(p);
            assert!(p.may_be_quadratic());
            assert_eq!(admits(&mut b, &p, QUADRATIC_MAX_MESSAGE, &subs), "yes");
            assert_eq!(admits(&mut b, &p, QUADRATIC_MAX_MESSAGE + 1, &subs), "no");
        }
        // Short look-arounds (interval expansions) are linear: any length.
        let interval = pattern("^x=(?:1[0-9]?|20?)(?![\\d.]) (.*)");
        assert!(interval.is_backtracking() && !interval.may_be_quadratic());
        assert_eq!(admits(&mut b, &interval, 1 << 10, &subs), "yes");
        assert!(interval.cost_per_byte() * (1 << 20) > UNTIMED_COST);
        assert_eq!(admits(&mut b, &interval, 1 << 20, &subs), "timed");
        assert_eq!(b.refused(), 4);
    }

    #[test]
    fn search_cost_is_weight_times_length() {
        let mut b = SearchBudget::default();
        let subs = [(PeerId(1), 0)];
        let big = pattern("(x{1000})1");
        let w = big.cost_per_byte();
        assert!((1000..1010).contains(&w), "cost {w}");
        let longest = usize::try_from(SEARCH_MAX_COST / w).expect("fits");
        assert_eq!(admits(&mut b, &big, longest, &subs), "yes");
        b.start();
        assert_eq!(admits(&mut b, &big, longest + 1, &subs), "no");
        // A small pattern runs on any message (timed past the untimed cost).
        let small = pattern("^(\\S*) GPS (\\S*) (\\S*) (\\S*) (.*)$");
        assert!(small.cost_per_byte() <= ALWAYS_RUN_STATES);
        assert_eq!(admits(&mut b, &small, 1 << 30, &subs), "timed");
        // A literal shape runs no engine: any length, never timed.
        let shape = pattern("^topic (.*)");
        assert_eq!(shape.cost_per_byte(), 0);
        assert!(shape.states() > 0);
        assert_eq!(admits(&mut b, &shape, 1 << 30, &subs), "yes");
    }

    #[test]
    fn past_the_untimed_cost_each_peer_has_its_time() {
        let (a, c) = ([(PeerId(1), 0)], [(PeerId(2), 0)]);
        let both = [(PeerId(1), 3), (PeerId(2), 4)];
        let p = pattern("(x{1000})1");
        let len = usize::try_from(SEARCH_MAX_COST / p.cost_per_byte()).expect("fits");
        let mut b = SearchBudget::default();
        // The first searches fill the untimed cost.
        assert_eq!(admits(&mut b, &p, len, &a), "yes");
        let Admit::Timed(_) = b.admit(&p, len, &a) else { panic!("timed") };
        let long_ago = Instant::now().checked_sub(PEER_SEARCH_TIME).expect("clock");
        b.settle(long_ago, &a);
        assert_eq!(admits(&mut b, &p, len, &a), "no", "peer 1 spent its time");
        assert_eq!(admits(&mut b, &p, len, &c), "timed", "peer 2 did not");
        assert_eq!(admits(&mut b, &p, len, &both), "timed", "one subscriber has time left");
        assert_eq!(b.refused(), 1);
        b.start();
        assert_eq!(admits(&mut b, &p, len, &a), "yes", "a new message, a new budget");
        assert_eq!(b.refused(), 0);
    }
}
