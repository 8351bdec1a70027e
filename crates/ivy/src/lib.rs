//! The Ivy software bus in Rust.
//!
//! - [`runtime`]: the poll loop, sockets, timers, channels, wake-up fd;
//! - [`api`]: the safe Rust API.

pub mod api;
pub mod runtime;

pub use api::*;
pub use ivy_proto::{engine, pattern, wire};
