//! The Ivy software bus in Rust: a [`Bus`] is one agent on a bus, driven by an
//! [`EventLoop`] (its own, one shared with other buses, or one that a loop of the
//! program drives: [`EventLoop::pollable_fd`]).
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! let bus = ivy::Bus::new(b"MyAgent", Some(b"MyAgent Ready"));
//! bus.bind(b"^hello (.*)", |bus, peer, args| {
//!     println!("{:?} says {:?}", bus.peer_name(peer), args);
//! });
//! bus.start(Some("127.255.255.255:2010"))?;
//! bus.run(); // or on a thread of its own: every Bus method is thread-safe
//! # Ok(())
//! # }
//! ```
//!
//! The crate sits on `ivy-proto`, the sans-IO protocol core; `§N` in the docs
//! points to `docs/ivy-protocol.md`.

mod bus;
mod env;
mod runtime;

pub use bus::Bus;
pub use env::{Environment, PrintLogger, Stream};
pub use ivy_proto::engine::{
    AllowList, AllowListError, AppEvent, BindEvent, BindingId, Limits, Matching, Notice, PeerId, SendError, Severity,
    UnknownBinding,
};
pub use runtime::{
    ACCEPT_BACKOFF, ChannelFn, ChannelId, DATAGRAM_BUFFER, DIAL_TIMEOUT, DeleteFn, DiePolicy, EventLoop, Liveness,
    MakeSocketLoop, Readiness, SocketEvents, SocketLoop, TimerFn, TimerId, host_name,
};

/// The Ivy regexp dialect, for programs that check a regexp before binding it
/// (as ivy-c's probe does).
pub mod regexp {
    pub use ivy_proto::pattern::{CompileError, Pattern, expand_intervals};
}
