//! Bounds on what one peer may make us hold. A peer that goes past one of them gets
//! ivy-c's bad-format reply and is disconnected (the regexp budgets: an Error
//! reply for that regexp); the agent keeps serving the others. One bound is on
//! how many peers we hold at all: past it, new ones are not taken. The agent-wide
//! budgets (patterns, input, output) hold for all peers together: past one, a
//! peer that holds more than an equal part of it (the budget / `max_peers`) gets
//! no more, so that the agent holds at most about twice the budget.

/// Every limit the engine enforces, settable through the Rust API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest line a peer may send, without its LF (default 1 MiB).
    pub max_line: usize,
    /// Most arguments (ETX-separated fields) in one received Msg (default 1024).
    pub max_args: usize,
    /// Most regexps one peer may subscribe at once (default 4096).
    pub max_regexps_per_peer: usize,
    /// Longest regexp a peer may subscribe, in bytes (default 8 KiB).
    pub max_regexp_len: usize,
    /// Most engine states ([`crate::pattern::Pattern::states`]) one peer's
    /// regexps may add up to (default 2^17, about 10 MB compiled). A regexp
    /// past it gets an Error reply and never matches; the peer stays.
    pub max_states_per_peer: u64,
    /// Most regexps one peer may hold that need the backtracking engine
    /// (default 8, so that one message costs at most one
    /// [`crate::pattern::BACKTRACK_LIMIT`] × 8 steps per peer). Past it: as
    /// `max_states_per_peer`.
    pub max_backtracking_per_peer: usize,
    /// Most bytes the regexps of all peers together may hold: compiled
    /// patterns as the regex engines count them, and the texts of every regexp
    /// a peer holds, those that do not compile included (default 32 MiB). Past
    /// it, a peer that holds more than an equal part of it (this / `max_peers`)
    /// gets an Error reply for each new regexp, which is not kept; the others
    /// still get theirs, so the agent holds at most twice this.
    pub max_pattern_memory: usize,
    /// Most bytes the line buffers of all peers together may hold (default
    /// 32 MiB). Past it, a peer whose buffer would grow past an equal part of
    /// it (this / `max_peers`: 64 KiB by default, the room every buffer has
    /// anyway) gets the bad-format reply and is disconnected, as for a line
    /// longer than `max_line`.
    pub max_input_memory: usize,
    /// Most bytes queued for all peers together (default 32 MiB). Past it, a
    /// peer's queue is capped at an equal part of it (this / `max_peers`)
    /// instead of `queue_cap`: lines past that are dropped as at `queue_cap`.
    pub max_output_memory: usize,
    /// Most bytes queued for one slow peer; past it whole lines are dropped
    /// and FifoFull is reported (default 32 MiB, as ivy-c).
    pub queue_cap: usize,
    /// Most peer connections held at once: accepted, dialled and being dialled
    /// (default 512, half the usual soft limit of 1024 descriptors per process).
    /// Past it an incoming connection is closed as soon as accepted and a hello
    /// that would make us dial is ignored; the peers held are unaffected.
    pub max_peers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 1 << 20,
            max_args: 1024,
            max_regexps_per_peer: 4096,
            max_regexp_len: 8 << 10,
            max_states_per_peer: 1 << 17,
            max_backtracking_per_peer: 8,
            max_pattern_memory: 32 << 20,
            max_input_memory: 32 << 20,
            max_output_memory: 32 << 20,
            queue_cap: 32 << 20,
            max_peers: 512,
        }
    }
}

impl Limits {
    /// A peer's equal part of an agent-wide `budget`: `budget` / `max_peers`.
    pub(super) fn part(&self, budget: usize) -> usize {
        budget / self.max_peers.max(1)
    }
}
