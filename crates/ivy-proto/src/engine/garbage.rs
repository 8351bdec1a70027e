//! Compiled patterns the engine no longer uses, not freed where they are
//! removed but handed to the driver ([`super::Engine::take_garbage`]): the core
//! decides what is garbage and when it goes, the driver how it is freed (a
//! process whose allocator keeps per-thread caches frees a large batch best on
//! a thread of its own, whose caches go back when it exits).

use crate::pattern::{CaptureSlots, Pattern};

/// Pending garbage is handed out, teardown or not, once it holds more than
/// [`Limits::max_pattern_memory`](super::Limits::max_pattern_memory) / this
/// (4 MiB by default): the budget stops counting a pattern once it is removed,
/// so a teardown kept going for ever must not pile garbage up.
pub const GARBAGE_PART: usize = 8;

/// What the engine dropped: compiled patterns and their search caches, with
/// what they hold as the budgets counted it. Dropping it frees them all.
#[derive(Debug, Default)]
pub struct Garbage {
    patterns: Vec<(Pattern, CaptureSlots)>,
    bytes: usize,
    settles: bool,
}

impl Garbage {
    /// Bytes held, as counted against
    /// [`Limits::max_pattern_memory`](super::Limits::max_pattern_memory) and
    /// [`super::CACHES_KEPT`].
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether the engine settled: no teardown is left, and memory was freed
    /// since the last hand-out (a peer closed, or a teardown ran). Once this
    /// is dropped, a time to give freed memory back to the system.
    pub fn settles(&self) -> bool {
        self.settles
    }

    /// Keeps a removed pattern that held `bytes`, with its caches.
    pub(super) fn add(&mut self, pattern: Pattern, slots: CaptureSlots, bytes: usize) {
        self.patterns.push((pattern, slots));
        self.bytes += bytes;
    }

    /// Marks it as handed out when the engine settled (see [`Garbage::settles`]).
    pub(super) fn settled(mut self, settles: bool) -> Garbage {
        self.settles = settles;
        self
    }
}
