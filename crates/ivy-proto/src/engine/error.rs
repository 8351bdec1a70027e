//! Why a call of the engine's user did nothing.

use thiserror::Error;

/// Why a message or a control line was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SendError {
    /// No such peer, or its connection is closing or gone.
    #[error("no such peer, or it is not connected")]
    NoPeer,
    /// The text holds a line feed, which no line can carry.
    #[error("the text holds a line feed, which no line can carry")]
    LineFeed,
    /// The peer's queue is at its cap (`Limits::queue_cap`): the line was dropped.
    #[error("the peer's queue is full")]
    QueueFull,
    /// Bytes outside 0x20..0x80 while debug-binary is on.
    #[error("binary bytes refused (debug-binary is on)")]
    Binary,
    /// A ping with no pong callback to report the answer.
    #[error("no pong callback to report the answer")]
    NoPongCallback,
}

/// A subscription id that is not (or no longer) one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("no such binding")]
pub struct UnknownBinding;
