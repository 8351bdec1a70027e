//! The wire layer: pure codecs over bytes, with no sockets, clock or threads.
//!
//! - [`codec`]: the TCP line format `TYPE SP ID STX PARAMS LF` and the message types
//!   (spec §2, §3);
//! - [`lines`]: bounded reassembly of a TCP byte stream into lines;
//! - [`hello`]: the UDP discovery datagram (spec §1.1, §1.4);
//! - [`bus`]: the bus string `networks:port` (spec §1.2);
//! - [`find`]: fast search and count of a byte in long lines.
//!
//! Every parser here takes hostile peer input: none of them panics, and every limit is
//! a documented `pub const` or a caller-supplied bound.

pub mod bus;
pub mod codec;
pub mod find;
pub mod hello;
pub mod lines;
mod scan;

pub use bus::*;
pub use codec::*;
pub use find::{count_byte, find_byte};
pub use hello::*;
pub use lines::*;
