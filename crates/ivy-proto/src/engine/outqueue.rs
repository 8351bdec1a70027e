//! Bytes waiting to be written to one peer: whole lines only, bounded, with the
//! congestion state ivy-c reports (§7) but without its torn-prefix defect.

/// What happened to a line handed to [`OutQueue::push_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Push {
    Queued,
    /// Dropped whole because the queue is at its cap.
    Full,
}

/// What becomes of a line that does not fit under a peer's queue cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WhenFull {
    /// Dropped, and FifoFull reported (the user's sends).
    Report,
    /// Dropped silently (the ready message, replies, Bye).
    Drop,
    /// Queued anyway: our own AddRegexp and DelRegexp. Dropping one would leave
    /// the peer matching a stale set of our subscriptions for good; there are
    /// only as many as the application binds.
    Keep,
}

/// A peer's outgoing byte queue. The driver takes its bytes out to write them
/// ([`OutQueue::lend`]) and says how many it wrote ([`OutQueue::settle`]); until
/// then they still count against the cap, ahead of the bytes queued meanwhile.
#[derive(Debug, Default)]
pub(crate) struct OutQueue {
    buf: Vec<u8>,
    /// Bytes lent to the driver and not yet written.
    lent: usize,
    cap: usize,
    congested: bool,
}

/// Memory kept by an empty buffer; one that grew past [`SHRINK_ABOVE`] gives the
/// rest back (a gap between the two, so that steady bursts do not shrink and regrow).
const KEEP_CAPACITY: usize = 64 << 10;
/// See [`KEEP_CAPACITY`].
const SHRINK_ABOVE: usize = 4 * KEEP_CAPACITY;

impl OutQueue {
    pub(crate) fn new(cap: usize) -> Self {
        OutQueue { cap, ..Default::default() }
    }

    /// Appends one or more whole lines written by `write`; if the result would exceed
    /// the cap, or `room` (a lower cap for this push), everything `write` added is
    /// removed again and `Full` is returned.
    pub(crate) fn push_with(&mut self, room: usize, write: impl FnOnce(&mut Vec<u8>)) -> Push {
        self.push(self.cap.min(room), write)
    }

    /// Appends whole lines past the cap too (see [`WhenFull::Keep`]).
    pub(crate) fn push_uncapped(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        self.push(usize::MAX, write);
    }

    fn push(&mut self, cap: usize, write: impl FnOnce(&mut Vec<u8>)) -> Push {
        let before = self.buf.len();
        write(&mut self.buf);
        if self.len() > cap {
            self.buf.truncate(before);
            return Push::Full;
        }
        Push::Queued
    }

    /// Bytes not yet written: lent and queued.
    pub(crate) fn len(&self) -> usize {
        self.lent + self.buf.len()
    }

    /// Bytes queued and not lent.
    pub(crate) fn queued(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Moves the queued bytes into `into` (empty, its allocation taken in
    /// exchange, so that two buffers take turns and none is allocated per
    /// write). They stay counted until [`OutQueue::settle`].
    pub(crate) fn lend(&mut self, into: &mut Vec<u8>) {
        into.clear();
        if into.capacity() > SHRINK_ABOVE {
            into.shrink_to(KEEP_CAPACITY);
        }
        std::mem::swap(&mut self.buf, into);
        self.lent += into.len();
    }

    /// `n` lent bytes were written.
    pub(crate) fn settle(&mut self, n: usize) {
        self.lent = self.lent.saturating_sub(n);
    }

    /// Records that the socket refused some bytes; true when this starts a congestion.
    pub(crate) fn note_blocked(&mut self) -> bool {
        !std::mem::replace(&mut self.congested, true)
    }

    /// After a write: true when a congestion just ended (queue drained).
    pub(crate) fn note_drained(&mut self) -> bool {
        if self.congested && self.is_empty() {
            self.congested = false;
            return true;
        }
        false
    }

    /// Bytes of memory held.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_whole_lines_past_cap_lent_bytes_included() {
        let mut q = OutQueue::new(10);
        assert_eq!(q.push_with(usize::MAX, |b| b.extend_from_slice(b"2 0\x02ab\n")), Push::Queued);
        assert_eq!(q.push_with(usize::MAX, |b| b.extend_from_slice(b"2 0\x02cd\n")), Push::Full);
        let mut lent = Vec::new();
        q.lend(&mut lent);
        assert_eq!(lent, b"2 0\x02ab\n");
        assert_eq!((q.len(), q.queued()), (7, 0));
        q.settle(3);
        assert_eq!(q.len(), 4, "\\x02ab\\n still lent");
        assert_eq!(q.push_with(usize::MAX, |b| b.extend_from_slice(b"x\n")), Push::Queued);
        q.push_uncapped(|b| b.extend_from_slice(b"1 0\x02long regexp\n"));
        assert_eq!(q.push_with(usize::MAX, |b| b.extend_from_slice(b"y\n")), Push::Full);
        let mut next = Vec::new();
        q.lend(&mut next);
        assert_eq!(next, b"x\n1 0\x02long regexp\n");
        q.settle(4 + next.len());
        assert!(q.is_empty());
    }

    #[test]
    fn lending_swaps_allocations_and_sheds_large_ones() {
        let mut q = OutQueue::new(usize::MAX);
        let mut spare = Vec::with_capacity(100);
        q.push_with(usize::MAX, |b| b.extend_from_slice(b"abc\n"));
        q.lend(&mut spare);
        assert_eq!(spare, b"abc\n");
        assert!(q.capacity() >= 100, "the spare allocation went to the queue");
        let mut big = vec![0; SHRINK_ABOVE + 1];
        q.lend(&mut big);
        assert!(big.is_empty());
        assert!(q.capacity() <= KEEP_CAPACITY, "a large spare is shrunk before the queue takes it");
    }

    #[test]
    fn congestion_starts_once_and_ends_on_drain() {
        let mut q = OutQueue::new(100);
        q.push_with(usize::MAX, |b| b.extend_from_slice(b"abc\n"));
        assert!(q.note_blocked());
        assert!(!q.note_blocked());
        assert!(!q.note_drained());
        let mut lent = Vec::new();
        q.lend(&mut lent);
        assert!(!q.note_drained(), "lent bytes are not written yet");
        q.settle(4);
        assert!(q.note_drained());
        assert!(!q.note_drained());
    }
}
