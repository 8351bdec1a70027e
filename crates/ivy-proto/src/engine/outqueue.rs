//! Bytes waiting to be written to one peer: whole lines only, bounded, with the
//! congestion state ivy-c reports (§7) but without its torn-prefix defect.

/// What happened to a line handed to [`OutQueue::push_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    Queued,
    /// Dropped whole because the queue is at its cap.
    Full,
}

/// What becomes of a line that does not fit under a peer's queue cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Dropped, and FifoFull reported (the user's sends).
    Report,
    /// Dropped silently (the ready message, replies, Bye).
    Drop,
    /// Queued anyway: our own AddRegexp and DelRegexp. Dropping one would leave
    /// the peer matching a stale set of our subscriptions for good; there are
    /// only as many as the application binds.
    Keep,
}

/// A peer's outgoing byte queue.
#[derive(Debug, Default)]
pub struct OutQueue {
    buf: Vec<u8>,
    head: usize,
    cap: usize,
    congested: bool,
}

/// Memory kept after a drain; a queue that grew past [`SHRINK_ABOVE`] gives the rest
/// back (a gap between the two, so that steady bursts do not shrink and regrow).
const KEEP_CAPACITY: usize = 64 << 10;
const SHRINK_ABOVE: usize = 4 * KEEP_CAPACITY;

impl OutQueue {
    pub fn new(cap: usize) -> Self {
        OutQueue { cap, ..Default::default() }
    }

    /// Appends one or more whole lines written by `write`; if the result would exceed
    /// the cap, everything `write` added is removed again and `Full` is returned.
    pub fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Push {
        self.push(true, write)
    }

    /// Appends whole lines past the cap too (see [`WhenFull::Keep`]).
    pub fn push_uncapped(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        self.push(false, write);
    }

    fn push(&mut self, capped: bool, write: impl FnOnce(&mut Vec<u8>)) -> Push {
        let before = self.buf.len();
        write(&mut self.buf);
        if capped && self.buf.len() - self.head > self.cap {
            self.buf.truncate(before);
            return Push::Full;
        }
        Push::Queued
    }

    /// The bytes still to write.
    pub fn pending(&self) -> &[u8] {
        self.buf.get(self.head..).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.head >= self.buf.len()
    }

    /// Marks `n` bytes as written.
    pub fn consume(&mut self, n: usize) {
        self.head = (self.head + n).min(self.buf.len());
        if self.is_empty() {
            self.buf.clear();
            self.head = 0;
            if self.buf.capacity() > SHRINK_ABOVE {
                self.buf.shrink_to(KEEP_CAPACITY);
            }
        } else if self.head > self.buf.len() / 2 && self.head > KEEP_CAPACITY {
            self.buf.drain(..self.head);
            self.head = 0;
        }
    }

    /// Records that the socket refused some bytes; true when this starts a congestion.
    pub fn note_blocked(&mut self) -> bool {
        !std::mem::replace(&mut self.congested, true)
    }

    /// After a write: true when a congestion just ended (queue drained).
    pub fn note_drained(&mut self) -> bool {
        if self.congested && self.is_empty() {
            self.congested = false;
            return true;
        }
        false
    }

    pub fn is_congested(&self) -> bool {
        self.congested
    }

    pub fn set_cap(&mut self, cap: usize) {
        self.cap = cap;
    }

    /// Bytes of memory held.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_whole_lines_past_cap() {
        let mut q = OutQueue::new(10);
        assert_eq!(q.push_with(|b| b.extend_from_slice(b"2 0\x02ab\n")), Push::Queued);
        assert_eq!(q.push_with(|b| b.extend_from_slice(b"2 0\x02cd\n")), Push::Full);
        assert_eq!(q.pending(), b"2 0\x02ab\n");
        q.consume(3);
        assert_eq!(q.pending(), b"\x02ab\n");
        assert_eq!(q.push_with(|b| b.extend_from_slice(b"x\n")), Push::Queued);
        assert_eq!(q.pending(), b"\x02ab\nx\n");
        q.push_uncapped(|b| b.extend_from_slice(b"1 0\x02long regexp\n"));
        assert_eq!(q.pending(), b"\x02ab\nx\n1 0\x02long regexp\n");
        assert_eq!(q.push_with(|b| b.extend_from_slice(b"y\n")), Push::Full);
    }

    #[test]
    fn congestion_starts_once_and_ends_on_drain() {
        let mut q = OutQueue::new(100);
        q.push_with(|b| b.extend_from_slice(b"abc\n"));
        assert!(q.note_blocked());
        assert!(!q.note_blocked());
        assert!(!q.note_drained());
        q.consume(4);
        assert!(q.note_drained());
        assert!(!q.note_drained());
        assert!(!q.is_congested());
    }
}
