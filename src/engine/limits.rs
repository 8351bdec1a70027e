//! Bounds on what one peer may make us hold. A peer that goes past one of them gets
//! ivy-c's bad-format reply and is disconnected; the agent keeps serving the others.

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
    /// Most bytes queued for one slow peer; past it whole lines are dropped
    /// and FifoFull is reported (default 32 MiB, as ivy-c).
    pub queue_cap: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 1 << 20,
            max_args: 1024,
            max_regexps_per_peer: 4096,
            max_regexp_len: 8 << 10,
            queue_cap: 32 << 20,
        }
    }
}
