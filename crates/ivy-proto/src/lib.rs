//! The sans-IO core of the Ivy software bus (protocol 3).
//!
//! Layers, from the bottom up (each only uses the ones below it):
//! - [`wire`]: pure codecs over bytes (lines, hello datagrams, bus strings);
//! - [`pattern`]: the Ivy regexp dialect, interval expansion, filters, prefix index;
//! - [`engine`]: the agent's protocol state (peers, handshake, routing, congestion).

pub mod engine;
pub mod pattern;
pub mod wire;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
