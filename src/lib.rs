//! A Rust implementation of the Ivy software bus (protocol 3).
//!
//! Layers, from the bottom up (each only uses the ones below it):
//! - [`wire`]: pure codecs over bytes (lines, hello datagrams, bus strings);
//! - [`pattern`]: the Ivy regexp dialect, interval expansion, filters, prefix index;
//! - [`engine`]: the sans-IO agent (peers, handshake, routing, congestion);
//! - [`runtime`]: the poll loop, sockets, timers, channels, wake-up fd;
//! - [`api`]: the safe Rust API used by Rust programs and by the C border.

pub mod api;
pub mod engine;
pub mod ffi;
pub mod pattern;
pub mod runtime;
pub mod wire;

pub use api::*;
