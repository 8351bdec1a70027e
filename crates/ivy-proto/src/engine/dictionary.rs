//! The peers' subscriptions, keyed by exact regexp text: each distinct text is
//! compiled once and run once per message, whoever subscribed it (§5.1).

use super::budget::{Admit, MESSAGE_WORK, SEARCH_BASE, SearchBudget, line_cost, search_cost};
use super::garbage::Garbage;
use super::idmap::IdMap;
use super::limits::Limits;
use super::types::{Matching, PeerId};
use super::work::{compile_cost, drop_cost};
use crate::pattern::{BACKTRACK_LIMIT, CaptureSlots, CompileError, Pattern, PrefixIndex, Subject, shrink_if_sparse};
use crate::wire::{ETX, LF};
use std::collections::HashMap;

/// One distinct regexp text and who subscribed it.
#[derive(Debug)]
struct Entry {
    pattern: Pattern,
    /// What it holds ([`pattern_memory`]), as counted in [`Dictionary::memory`].
    memory: usize,
    /// (peer, subscription id), newest first.
    subs: Vec<(PeerId, i32)>,
    /// The pattern's capture storage, reused from one message to the next.
    slots: CaptureSlots,
    /// What its search caches held after its last search (see [`CACHES_KEPT`]).
    cached: usize,
}

/// Bytes the search caches of all patterns together keep from one message to
/// the next; past it, a pattern's cache is dropped after its search (and made
/// anew at the next one). Each is at most [`crate::pattern::CACHE_KEEP`].
pub const CACHES_KEPT: usize = 32 << 20;

/// What one peer's subscriptions hold, against [`Limits::max_states_per_peer`],
/// [`Limits::max_backtracking_per_peer`] and its part of
/// [`Limits::max_pattern_memory`]. A text several peers subscribe counts for each.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Load {
    states: u64,
    backtracking: usize,
    /// Bytes of compiled patterns and their texts ([`pattern_memory`]).
    memory: usize,
}

impl Load {
    /// What a subscription to `entry` holds.
    fn of(entry: &Entry) -> Load {
        let pattern = &entry.pattern;
        Load { states: pattern.states(), backtracking: usize::from(pattern.is_backtracking()), memory: entry.memory }
    }

    /// What a subscription to a text that does not compile holds: the text.
    fn broken(text: &[u8]) -> Load {
        Load { states: 0, backtracking: 0, memory: text.len() }
    }
}

/// What a compiled text holds: the pattern, as its engines count it, and the text.
fn pattern_memory(pattern: &Pattern, text: &[u8]) -> usize {
    pattern.memory_usage() + text.len()
}

/// Adds `add` to `peer`'s load, or says why the limits forbid it. `total` is
/// what all peers' regexps hold now, `add`'s included: past
/// [`Limits::max_pattern_memory`], only a peer under an equal part of it
/// ([`Limits::max_pattern_memory`] / [`Limits::max_peers`]) may add more, so
/// that the agent holds at most about twice that budget and each peer keeps room.
fn charge(
    loads: &mut IdMap<PeerId, Load>,
    peer: PeerId,
    add: Load,
    total: usize,
    limits: &Limits,
) -> Option<CompileError> {
    let held = loads.get(&peer).copied().unwrap_or_default();
    let states = held.states.saturating_add(add.states);
    let backtracking = held.backtracking + add.backtracking;
    let memory = held.memory.saturating_add(add.memory);
    let message = if states > limits.max_states_per_peer {
        format!("regular expression is too large for this peer's budget of {} states", limits.max_states_per_peer)
    } else if backtracking > limits.max_backtracking_per_peer {
        format!("more than {} regular expressions that need backtracking", limits.max_backtracking_per_peer)
    } else if total > limits.max_pattern_memory && memory > limits.part(limits.max_pattern_memory) {
        format!("the regular expressions of all peers hold more than {} bytes", limits.max_pattern_memory)
    } else {
        loads.insert(peer, Load { states, backtracking, memory });
        return None;
    };
    Some(CompileError { offset: 0, message })
}

/// Takes `gone` off `peer`'s load.
fn discharge(loads: &mut IdMap<PeerId, Load>, peer: PeerId, gone: Load) {
    let Some(load) = loads.get_mut(&peer) else { return };
    load.states = load.states.saturating_sub(gone.states);
    load.backtracking = load.backtracking.saturating_sub(gone.backtracking);
    load.memory = load.memory.saturating_sub(gone.memory);
    if *load == Load::default() {
        loads.remove(&peer);
        shrink_if_sparse(loads);
    }
}

/// After a search: what all caches hold (`total`, which counted `cached` for
/// this pattern before), its cache dropped if they would hold more than
/// [`CACHES_KEPT`].
fn keep_caches(slots: &mut CaptureSlots, cached: &mut usize, total: usize) -> usize {
    let now = slots.memory_usage();
    let total = total.saturating_sub(*cached);
    if total + now > CACHES_KEPT {
        *slots = CaptureSlots::default();
        *cached = 0;
        return total;
    }
    *cached = now;
    total + now
}

/// What the params buffer of [`Dictionary::for_each_match`] keeps between messages.
const PARAMS_KEEP: usize = 64 << 10;

/// See [`Dictionary::worst`]: never lowered but when the dictionary empties.
#[derive(Debug, Default, Clone, Copy)]
struct Worst {
    /// Largest [`Pattern::cost_per_byte`].
    per_byte: u64,
    /// Largest cost that does not depend on the message's length.
    fixed: u64,
    /// Most subscribers of one text.
    subs: usize,
}

impl Worst {
    /// Counts `pattern`, subscribed by `subs` subscribers.
    fn count(&mut self, pattern: &Pattern, subs: usize) {
        self.per_byte = self.per_byte.max(pattern.cost_per_byte());
        let fixed = if pattern.is_backtracking() { BACKTRACK_LIMIT as u64 } else { 0 };
        self.fixed = self.fixed.max(fixed + SEARCH_BASE);
        self.subs = self.subs.max(subs);
    }

    /// At most what `candidates` searches of a message of `len` bytes ask for.
    fn bound(&self, candidates: usize, len: usize) -> u64 {
        let to_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        let per_byte = self.per_byte.saturating_mul(to_u64(len));
        let lines = to_u64(self.subs).saturating_mul(line_cost(len));
        let one = self.fixed.saturating_add(per_byte).saturating_add(lines);
        one.saturating_mul(u64::try_from(candidates).unwrap_or(u64::MAX))
    }
}

/// What [`Dictionary::subscribe`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Subscribed {
    /// Kept, and matching.
    Kept,
    /// Kept, listed but never matching: the text does not compile (ivy-c).
    Broken(CompileError),
    /// Not kept: past one of the peer's [`Limits`] (the error says which).
    Refused(CompileError),
}

/// Every peer subscription, iterated in insertion order of the texts.
#[derive(Debug, Default)]
pub(super) struct Dictionary {
    entries: IdMap<u64, Entry>,
    by_text: HashMap<Vec<u8>, u64>,
    index: PrefixIndex,
    next_key: u64,
    loads: IdMap<PeerId, Load>,
    /// What all texts and their compiled patterns hold together, against
    /// [`Limits::max_pattern_memory`].
    memory: usize,
    /// What the search caches of all patterns hold, against [`CACHES_KEPT`].
    cached: usize,
    /// Work of compiles and drops since [`Dictionary::take_work`] (`work.rs`).
    work: u64,
    /// Patterns removed since [`Dictionary::take_garbage`], not freed here.
    garbage: Garbage,
    budget: SearchBudget,
    /// The costliest search and the most subscribers any text had since the
    /// dictionary was last empty: a bound that spares most messages the
    /// budget's planning pass (see [`Dictionary::plan`]).
    worst: Worst,
    matching: Matching,
    /// Scratch of [`Dictionary::for_each_match`], kept to save allocations.
    candidates: Vec<u64>,
    spans: Vec<Option<(usize, usize)>>,
    params: Vec<u8>,
}

impl Dictionary {
    /// How regexps read messages from now on.
    pub(super) fn set_matching(&mut self, matching: Matching) {
        self.matching = matching;
    }

    /// Adds (peer, id) under `text`, compiling the text if it is new. A text
    /// that cannot be compiled is kept by the peer (listed, never matching), as
    /// ivy-c does, and counted here, but not stored: it is compiled again
    /// whenever subscribed. A text past the peer's [`Limits`] is not kept.
    pub(super) fn subscribe(&mut self, peer: PeerId, id: i32, text: &[u8], limits: &Limits) -> Subscribed {
        let key = match self.by_text.get(text) {
            Some(&key) => key,
            None => match Pattern::compile(text) {
                Ok(pattern) => self.insert_text(text, pattern),
                Err(error) => return self.subscribe_broken(peer, text, error, limits),
            },
        };
        let Some(entry) = self.entries.get_mut(&key) else { return Subscribed::Kept };
        if let Some(refused) = charge(&mut self.loads, peer, Load::of(entry), self.memory, limits) {
            if entry.subs.is_empty() {
                self.remove_text(key, text);
            }
            return Subscribed::Refused(refused);
        }
        entry.subs.insert(0, (peer, id));
        self.worst.count(&entry.pattern, entry.subs.len());
        Subscribed::Kept
    }

    /// A text that does not compile: its bytes count for the peer and the agent.
    fn subscribe_broken(&mut self, peer: PeerId, text: &[u8], error: CompileError, limits: &Limits) -> Subscribed {
        self.work += compile_cost(None);
        let total = self.memory + text.len();
        if let Some(refused) = charge(&mut self.loads, peer, Load::broken(text), total, limits) {
            return Subscribed::Refused(refused);
        }
        self.memory = total;
        Subscribed::Broken(error)
    }

    /// Whether subscribing `text` compiles it (nobody holds it yet).
    pub(super) fn compiles(&self, text: &[u8]) -> bool {
        !self.by_text.contains_key(text)
    }

    /// The work of compiles and drops since the last call.
    pub(super) fn take_work(&mut self) -> u64 {
        std::mem::take(&mut self.work)
    }

    fn insert_text(&mut self, text: &[u8], pattern: Pattern) -> u64 {
        self.next_key += 1;
        let key = self.next_key;
        let memory = pattern_memory(&pattern, text);
        self.work += compile_cost(Some(pattern.memory_usage()));
        self.index.insert(key, pattern.literal_prefix());
        self.by_text.insert(text.to_vec(), key);
        self.memory += memory;
        let entry = Entry { pattern, memory, subs: Vec::new(), slots: CaptureSlots::default(), cached: 0 };
        self.entries.insert(key, entry);
        key
    }

    /// Removes every (peer, id) pair under `text`; drops the text when nobody is left.
    pub(super) fn unsubscribe(&mut self, peer: PeerId, id: i32, text: &[u8]) {
        let Some(&key) = self.by_text.get(text) else {
            // Not stored: a text that does not compile.
            discharge(&mut self.loads, peer, Load::broken(text));
            self.memory = self.memory.saturating_sub(text.len());
            self.work += drop_cost(text.len());
            return;
        };
        let Some(entry) = self.entries.get_mut(&key) else { return };
        let before = entry.subs.len();
        entry.subs.retain(|&(p, i)| p != peer || i != id);
        for _ in entry.subs.len()..before {
            discharge(&mut self.loads, peer, Load::of(entry));
        }
        if entry.subs.is_empty() {
            self.remove_text(key, text);
        } else {
            self.work += drop_cost(0);
        }
    }

    fn remove_text(&mut self, key: u64, text: &[u8]) {
        if let Some(entry) = self.entries.remove(&key) {
            self.memory = self.memory.saturating_sub(entry.memory);
            self.cached = self.cached.saturating_sub(entry.cached);
            // Only its removal from the tables: the pattern is freed off the
            // loop's turn (garbage.rs). Measured: the teardown of 511 peers × 100
            // costly regexps ends about 0.5 s sooner than when the turn paid for
            // the bytes too, and GOOD's worst ping stays the same.
            self.work += drop_cost(0);
            self.garbage.add(entry.pattern, entry.slots, entry.memory + entry.cached);
        }
        self.by_text.remove(text);
        self.index.remove(key);
        shrink_if_sparse(&mut self.entries);
        shrink_if_sparse(&mut self.by_text);
        if self.entries.is_empty() {
            self.worst = Worst::default();
        }
    }

    /// What the patterns removed since the last call hold.
    pub(super) fn garbage_bytes(&self) -> usize {
        self.garbage.bytes()
    }

    /// The patterns removed since the last call, for the caller to free.
    pub(super) fn take_garbage(&mut self) -> Garbage {
        std::mem::take(&mut self.garbage)
    }

    /// Runs every candidate text against `message`; for each match calls
    /// `deliver(params, subscribers)` in dictionary order, `params` being the
    /// params of the Msg line (the argv of §5.3, each argument followed by ETX),
    /// or `None` when an argument holds LF (no line can carry it). The
    /// [`SearchBudget`] decides which searches run, and for which subscribers.
    pub(super) fn for_each_match(&mut self, message: &[u8], mut deliver: impl FnMut(Option<&[u8]>, &[(PeerId, i32)])) {
        let mut candidates = std::mem::take(&mut self.candidates);
        self.index.candidates(message, &mut candidates);
        self.plan(message.len(), &candidates);
        // Checked for UTF-8 once, on the first candidate that needs it.
        let mut checked = None;
        for key in &candidates {
            let Some(Entry { pattern, subs, slots, memory, cached }) = self.entries.get_mut(key) else {
                continue;
            };
            let subs = match self.budget.admit(pattern, subs) {
                Admit::No => continue,
                Admit::All => &subs[..],
                Admit::Some => self.budget.admitted(),
            };
            let python = self.matching == Matching::IvyPython;
            let subject = match (python, pattern.reads_text()) {
                (true, true) => checked.get_or_insert_with(|| Subject::new(message)).anchored(),
                (true, false) => Subject::bytes_only(message).anchored(),
                (false, _) => Subject::bytes_only(message),
            };
            // Its text version may be compiled for this message: counted from then on.
            let before = subject.is_text().then(|| pattern.memory_usage());
            let hit = pattern.capture_spans(subject, slots, &mut self.spans);
            if let Some(grown) = before.and_then(|b| pattern.memory_usage().checked_sub(b)) {
                *memory += grown;
                self.memory += grown;
            }
            self.cached = keep_caches(slots, cached, self.cached);
            if !hit {
                continue;
            }
            if python {
                // Every group, an empty argument for one that did not take part.
                self.spans.resize(pattern.group_count(), None);
            }
            self.params.clear();
            let check_lf = !pattern.captures_exclude_lf();
            let mut lf = false;
            for span in &self.spans {
                let arg = span.and_then(|(a, b)| message.get(a..b)).unwrap_or_default();
                lf |= check_lf && arg.contains(&LF);
                self.params.extend_from_slice(arg);
                self.params.push(ETX);
            }
            deliver((!lf).then_some(&self.params), subs);
        }
        self.candidates = candidates;
        if self.params.capacity() > PARAMS_KEEP {
            // The captures of a long message: not kept for the next ones.
            self.params = Vec::new();
        }
    }

    /// Starts the budget of a message of `len` bytes with these candidates:
    /// what they ask for in all, and, past the message's work, for each peer.
    fn plan(&mut self, len: usize, candidates: &[u64]) {
        // The usual message: even the worst searches could not pass the work.
        if self.worst.bound(candidates.len(), len) <= MESSAGE_WORK {
            self.budget.start(len, 0);
            return;
        }
        let asked = self.asked(len, candidates);
        self.budget.start(len, asked);
        if !self.budget.is_shared() {
            return;
        }
        for key in candidates {
            if let Some(Entry { pattern, subs, .. }) = self.entries.get(key)
                && let Some(search) = search_cost(pattern, len)
            {
                self.budget.ask(search, subs);
            }
        }
        self.budget.divide();
    }

    /// What `candidates` ask for on a message of `len` bytes: their searches
    /// and a line for each subscriber.
    fn asked(&self, len: usize, candidates: &[u64]) -> u64 {
        let line = line_cost(len);
        let costs = candidates.iter().filter_map(|key| match self.entries.get(key) {
            Some(Entry { pattern, subs, .. }) => Some((search_cost(pattern, len)?, subs)),
            _ => None,
        });
        costs.fold(0u64, |sum, (search, subs)| {
            let lines = u64::try_from(subs.len()).unwrap_or(u64::MAX).saturating_mul(line);
            sum.saturating_add(search).saturating_add(lines)
        })
    }

    /// What the texts and patterns hold, the room of the two text tables, and
    /// what the search caches hold.
    #[cfg(test)]
    pub(super) fn memory(&self) -> (usize, usize, usize) {
        (self.memory, self.entries.capacity().max(self.by_text.capacity()), self.cached)
    }

    /// How many searches the budget refused on the last message.
    pub(super) fn refused(&self) -> usize {
        self.budget.refused()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The params (or None) and the subscribers of one match.
    type Match = (Option<Vec<u8>>, Vec<(PeerId, i32)>);

    /// Every match, in order.
    fn matches(d: &mut Dictionary, message: &[u8]) -> Vec<Match> {
        let mut out = Vec::new();
        d.for_each_match(message, |params, subs| out.push((params.map(<[u8]>::to_vec), subs.to_vec())));
        out
    }

    #[test]
    fn params_are_argv_with_etx_in_dictionary_order() {
        let (a, b) = (PeerId(1), PeerId(2));
        let mut d = Dictionary::default();
        assert_eq!(d.subscribe(a, 0, b"^topic (.*)", &Limits::default()), Subscribed::Kept);
        assert_eq!(d.subscribe(b, 5, b"^(t)(x)?(o)(.*)$", &Limits::default()), Subscribed::Kept);
        assert_eq!(d.subscribe(b, 6, b"^topic (.*)", &Limits::default()), Subscribed::Kept);
        assert_eq!(d.subscribe(a, 1, b"(?s)^topic (.*)", &Limits::default()), Subscribed::Kept);
        assert_eq!(d.subscribe(a, 2, b"pic", &Limits::default()), Subscribed::Kept);
        assert!(matches!(d.subscribe(a, 3, b"(", &Limits::default()), Subscribed::Broken(_)));
        let want = |p: &[u8], subs: &[(PeerId, i32)]| (Some(p.to_vec()), subs.to_vec());
        assert_eq!(
            matches(&mut d, b"topic x\x03y"),
            vec![
                want(b"x\x03y\x03", &[(b, 6), (a, 0)]),
                want(b"t\x03\x03o\x03pic x\x03y\x03", &[(b, 5)]),
                want(b"x\x03y\x03", &[(a, 1)]),
                want(b"", &[(a, 2)]),
            ]
        );
        // An argument holding LF cannot go on a line.
        assert_eq!(
            matches(&mut d, b"topic x\ny"),
            vec![want(b"x\x03", &[(b, 6), (a, 0)]), (None, vec![(a, 1)]), want(b"", &[(a, 2)])]
        );
        // Whole characters on UTF-8 messages, the same slots reused.
        assert_eq!(matches(&mut d, "tépi".as_bytes()), vec![]);
        assert_eq!(
            matches(&mut d, "topic é".as_bytes()),
            vec![
                want("é\x03".as_bytes(), &[(b, 6), (a, 0)]),
                want("t\x03\x03o\x03pic é\x03".as_bytes(), &[(b, 5)]),
                want("é\x03".as_bytes(), &[(a, 1)]),
                want(b"", &[(a, 2)]),
            ]
        );
        d.unsubscribe(b, 6, b"^topic (.*)");
        d.unsubscribe(a, 0, b"^topic (.*)");
        assert_eq!(matches(&mut d, b"topic").len(), 2);
    }

    #[test]
    fn the_worst_bound_covers_what_candidates_ask() {
        let mut d = Dictionary::default();
        let texts: [&[u8]; 4] = [b"^topic (.*)", b"(x{1000})1", b"(a+)+\\1", b"[a-z]+ ([0-9]+)"];
        for (id, text) in (0..).zip(texts) {
            assert_eq!(d.subscribe(PeerId(1), id, text, &Limits::default()), Subscribed::Kept);
        }
        for peer in 2..6 {
            assert_eq!(d.subscribe(PeerId(peer), 9, b"^topic (.*)", &Limits::default()), Subscribed::Kept);
        }
        let keys: Vec<u64> = d.entries.keys().copied().collect();
        assert_eq!(keys.len(), 4);
        for len in [0, 1, 63, 64, 1000, 100_000, 10_000_000] {
            let asked = d.asked(len, &keys);
            assert!(asked > 0);
            assert!(d.worst.bound(keys.len(), len) >= asked, "len {len}: {asked}");
        }
        // Never lowered while a text is left; emptied, it starts over.
        let before = d.worst.bound(1, 1000);
        for (id, text) in (0..).zip(texts) {
            d.unsubscribe(PeerId(1), id, text);
        }
        assert_eq!(d.worst.bound(1, 1000), before);
        for peer in 2..6 {
            d.unsubscribe(PeerId(peer), 9, b"^topic (.*)");
        }
        assert_eq!(d.worst.bound(4, 1000), 0);
    }

    /// A dictionary where peer 1 subscribed each of `kept` (ids from 0), all kept
    /// under `limits`, then `refused` with the next id, which `limits` refuse;
    /// returns the dictionary and the reason.
    #[track_caller]
    fn refused_after(kept: &[&[u8]], refused: &[u8], limits: &Limits) -> (Dictionary, CompileError) {
        let mut d = Dictionary::default();
        for (id, text) in (0..).zip(kept) {
            assert_eq!(d.subscribe(PeerId(1), id, text, limits), Subscribed::Kept);
        }
        let next = i32::try_from(kept.len()).unwrap_or(i32::MAX);
        let Subscribed::Refused(err) = d.subscribe(PeerId(1), next, refused, limits) else { panic!("past the limit") };
        (d, err)
    }

    #[test]
    fn each_peer_has_its_budget_of_states() {
        let (a, b) = (PeerId(1), PeerId(2));
        let limits = Limits { max_states_per_peer: 2500, ..Limits::default() };
        let (mut d, err) = refused_after(&[b"x{1000}0", b"x{1000}1"], b"x{1000}2", &limits);
        assert_eq!(err.message, "regular expression is too large for this peer's budget of 2500 states");
        assert_eq!(err.offset, 0);
        // Refused: kept nowhere, never matching.
        assert_eq!(matches(&mut d, &[b"x".repeat(1000), b"2".to_vec()].concat()), vec![]);
        assert!(!d.by_text.contains_key(b"x{1000}2".as_slice()));
        // Another peer has its own budget, even for the same text.
        assert_eq!(d.subscribe(b, 0, b"x{1000}1", &limits), Subscribed::Kept);
        assert_eq!(d.subscribe(b, 1, b"x{1000}2", &limits), Subscribed::Kept);
        // What a peer drops, it gets back.
        d.unsubscribe(a, 0, b"x{1000}0");
        assert_eq!(d.subscribe(a, 2, b"x{1000}2", &limits), Subscribed::Kept);
        d.unsubscribe(a, 1, b"x{1000}1");
        d.unsubscribe(a, 2, b"x{1000}2");
        assert!(!d.loads.contains_key(&a), "nothing left for a peer without regexps");
        assert_eq!(d.loads.get(&b).map(|l| l.backtracking), Some(0));
    }

    #[test]
    fn all_peers_share_one_pattern_memory_budget() {
        // Room for a few patterns in all; four peers: an equal part is a quarter.
        let one = |i: usize| format!("(x{{100}}){i:03}");
        let mut d = Dictionary::default();
        assert_eq!(d.subscribe(PeerId(9), 0, one(999).as_bytes(), &Limits::default()), Subscribed::Kept);
        let size = d.memory;
        let limits = Limits { max_pattern_memory: 10 * size, max_peers: 4, ..Limits::default() };
        let (hog, good) = (PeerId(1), PeerId(2));
        let mut kept = 0;
        for i in 0..20 {
            match d.subscribe(hog, i as i32, one(i).as_bytes(), &limits) {
                Subscribed::Kept => kept += 1,
                Subscribed::Broken(err) => panic!("{err:?}"),
                Subscribed::Refused(err) => assert_eq!(
                    err.message,
                    format!("the regular expressions of all peers hold more than {} bytes", 10 * size)
                ),
            }
        }
        // The hog fills the budget, then gets no more.
        assert_eq!(kept, 9, "{kept} kept");
        assert_eq!(d.memory, limits.max_pattern_memory);
        // A peer under its equal part still gets its pattern.
        assert_eq!(d.subscribe(good, 0, one(500).as_bytes(), &limits), Subscribed::Kept);
        assert_eq!(d.loads.get(&good).map(|l| l.memory), Some(size));
        // What a peer gives back, the others get.
        for i in 0..9 {
            d.unsubscribe(hog, i, one(i as usize).as_bytes());
        }
        assert_eq!(d.memory, 2 * size);
        assert_eq!(d.subscribe(hog, 30, one(30).as_bytes(), &limits), Subscribed::Kept);
    }

    #[test]
    fn backtracking_patterns_are_counted_per_peer() {
        let (a, b) = (PeerId(1), PeerId(2));
        let limits = Limits { max_backtracking_per_peer: 2, ..Limits::default() };
        let (mut d, err) = refused_after(&[b"(a)\\1", b"(?=b)b", b"^linear (.*)"], b"(c)\\1", &limits);
        assert_eq!(err.message, "more than 2 regular expressions that need backtracking");
        assert_eq!(d.subscribe(b, 0, b"(c)\\1", &limits), Subscribed::Kept);
        d.unsubscribe(a, 1, b"(?=b)b");
        assert_eq!(d.subscribe(a, 3, b"(c)\\1", &limits), Subscribed::Kept);
        assert_eq!(matches(&mut d, b"cc").len(), 1, "one text, both subscribers");
    }

    #[test]
    fn search_caches_are_kept_within_one_budget() {
        let pattern = Pattern::compile(b"(.*a){19}(?:|z)").expect("compiles");
        let mut slots = CaptureSlots::default();
        let mut spans = Vec::new();
        pattern.capture_spans(Subject::bytes_only(b"echo 1"), &mut slots, &mut spans);
        let size = slots.memory_usage();
        assert!(size > 0);
        // Room for it: kept and counted.
        let mut cached = 0;
        assert_eq!(keep_caches(&mut slots, &mut cached, 100), 100 + size);
        assert_eq!((cached, slots.memory_usage()), (size, size));
        // Its own count is replaced, not added twice.
        assert_eq!(keep_caches(&mut slots, &mut cached, 100 + size), 100 + size);
        // No room left: dropped, and no longer counted.
        let full = CACHES_KEPT - size / 2;
        assert_eq!(keep_caches(&mut slots, &mut cached, full + size), full);
        assert_eq!((cached, slots.memory_usage()), (0, 0));
    }

    #[test]
    fn refused_searches_do_not_match() {
        let a = PeerId(1);
        let mut d = Dictionary::default();
        assert_eq!(d.subscribe(a, 0, b"(?=[^x]*x)(a)", &Limits::default()), Subscribed::Kept);
        let short = [b"a".repeat(100), b"x".to_vec()].concat();
        assert_eq!(matches(&mut d, &short), vec![(Some(b"a\x03".to_vec()), vec![(a, 0)])]);
        let long = [b"a".repeat(crate::engine::QUADRATIC_MAX_MESSAGE), b"x".to_vec()].concat();
        assert_eq!(matches(&mut d, &long), vec![]);
    }
}
