//! What the engine asks of its driver: events for the user, actions for the runtime.

use super::types::{AppEvent, BindEvent, PeerId};
use std::net::SocketAddr;
use std::time::Duration;

/// Something to deliver to the user's callbacks, in order, on the loop thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A connection event; after `Disconnected` is delivered the driver calls
    /// [`super::Engine::reap`] so the peer stays listed during the callback.
    App {
        /// The peer.
        peer: PeerId,
        /// What happened.
        event: AppEvent,
    },
    /// A peer's subscription changed.
    Bind {
        /// The peer.
        peer: PeerId,
        /// Its subscription id.
        id: i32,
        /// The regexp as ivy-c reports it (§4.4).
        regexp: Vec<u8>,
        /// What happened.
        event: BindEvent,
    },
    /// A Msg for one of our bindings.
    Msg {
        /// The sender.
        peer: PeerId,
        /// Our binding's wire id.
        binding: i32,
        /// The raw ETX-separated arguments ([`crate::wire::args`] splits them).
        params: Vec<u8>,
    },
    /// A direct message.
    Direct {
        /// The sender.
        peer: PeerId,
        /// Its id.
        id: i32,
        /// Its text, raw (ETX kept).
        text: Vec<u8>,
    },
    /// The peer asks us to die.
    Die {
        /// The peer.
        peer: PeerId,
        /// The Die's id.
        id: i32,
    },
    /// A Pong.
    Pong {
        /// The peer.
        peer: PeerId,
        /// When the ping it answers was sent (the `now` given to [`super::Engine::ping`]).
        sent_at: Duration,
        /// Whether its id is the last ping's (§6.4).
        latest: bool,
    },
}

/// The round trip of a Pong in µs as ivy-c reports it (§6.4): `now` minus the
/// ping's `sent_at`, negative when the Pong does not answer the latest ping. Whole
/// seconds count up to 2 000; the value is at least 1 µs either way, so that the
/// sign always tells.
pub fn pong_micros(sent_at: Duration, now: Duration, latest: bool) -> i32 {
    let rtt = now.saturating_sub(sent_at);
    let micros = rtt.as_secs().min(2000) * 1_000_000 + u64::from(rtt.subsec_micros());
    let micros = i32::try_from(micros.max(1)).unwrap_or(i32::MAX);
    if latest { micros } else { -micros }
}

/// Something the runtime must do with sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a connection (the hello of a newcomer).
    Connect {
        /// Where the newcomer listens.
        addr: SocketAddr,
        /// The name its hello gave.
        name: Vec<u8>,
    },
    /// Flush what is queued for the peer, then close its connection.
    Close(PeerId),
    /// Flush what is queued for the peer, then end our side of its connection
    /// (shut it down for writing) and go on reading it: report its close with
    /// [`super::Engine::handle_closed`] once the peer closed too.
    Drain(PeerId),
}

/// Emptied buffers of delivered Msg events, reused for the next ones: at most
/// [`SparePool::MAX_BUFFERS`] buffers holding [`SparePool::MAX_BYTES`] together, enough
/// for the Msgs of one turn of the loop (16 reads of up to 64 KiB).
#[derive(Debug, Default)]
pub(super) struct SparePool {
    buffers: Vec<Vec<u8>>,
    /// Capacity of `buffers`, summed.
    bytes: usize,
}

impl SparePool {
    pub(super) const MAX_BUFFERS: usize = 4096;
    pub(super) const MAX_BYTES: usize = 1 << 20;

    /// An empty buffer: a kept one if any.
    pub(super) fn take(&mut self) -> Vec<u8> {
        let buf = self.buffers.pop().unwrap_or_default();
        self.bytes = self.bytes.saturating_sub(buf.capacity());
        buf
    }

    /// Keeps `buf` (emptied) for reuse, unless the pool is full.
    pub(super) fn give(&mut self, mut buf: Vec<u8>) {
        let bytes = self.bytes + buf.capacity();
        if self.buffers.len() < Self::MAX_BUFFERS && bytes <= Self::MAX_BYTES {
            buf.clear();
            self.buffers.push(buf);
            self.bytes = bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pong_round_trips_keep_their_sign() {
        let at = |ms| Duration::from_millis(ms);
        assert_eq!(pong_micros(at(5), at(7), true), 2000);
        assert_eq!(pong_micros(at(5), at(7), false), -2000);
        // No time measured: still 1 µs, so that a stale Pong reads negative.
        assert_eq!(pong_micros(at(5), at(5), true), 1);
        assert_eq!(pong_micros(at(5), at(5), false), -1);
        assert_eq!(pong_micros(at(9), at(5), false), -1);
        assert_eq!(pong_micros(at(1000), Duration::from_micros(1_250_123), true), 250_123);
        // Whole seconds count up to 2 000.
        assert_eq!(pong_micros(Duration::from_secs(10), Duration::from_micros(3_010_500_000), true), 2_000_500_000);
    }

    #[test]
    fn spare_pool_reuses_within_its_budget() {
        let mut pool = SparePool::default();
        assert_eq!(pool.take().capacity(), 0);
        pool.give(Vec::with_capacity(100));
        pool.give(b"abc".to_vec());
        let buf = pool.take();
        assert!(buf.is_empty() && buf.capacity() >= 3);
        assert_eq!(pool.take().capacity(), 100);
        assert_eq!((pool.buffers.len(), pool.bytes), (0, 0));
        // The byte budget: a buffer that would pass it is dropped.
        pool.give(Vec::with_capacity(SparePool::MAX_BYTES));
        pool.give(Vec::with_capacity(1));
        assert_eq!(pool.buffers.len(), 1);
        assert_eq!(pool.bytes, SparePool::MAX_BYTES);
        // The count budget.
        let mut pool = SparePool::default();
        for _ in 0..SparePool::MAX_BUFFERS + 10 {
            pool.give(Vec::with_capacity(8));
        }
        assert_eq!(pool.buffers.len(), SparePool::MAX_BUFFERS);
    }
}
