//! What a socket-layer connection could not write yet, with the congestion
//! states of ivy-c's socket layer (ivy-protocol.md §7): while nothing waits a
//! send goes straight to the socket; what the socket does not take waits here,
//! up to [`FIFO_CAP`] bytes, and is written when the socket becomes writable.
//! A send is whole or dropped whole (ivy-c can leave half of one).

use std::collections::VecDeque;
use std::io::{self, ErrorKind};

use crate::ivysocket::SendState;

/// The most bytes that may wait (ivy-c's 32 MiB).
pub(crate) const FIFO_CAP: usize = 32 << 20;

/// What [`Fifo::flush`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flush {
    /// Nothing waits any more: the connection is decongested.
    Drained,
    /// Some bytes still wait for the socket.
    Pending,
    /// The socket failed.
    Failed,
}

/// The bytes waiting for one connection.
#[derive(Debug)]
pub(crate) struct Fifo {
    waiting: VecDeque<u8>,
    cap: usize,
    /// A send was dropped for lack of room: later ones are dropped too until
    /// some bytes are written.
    full: bool,
}

impl Fifo {
    /// An empty queue holding at most `cap` bytes.
    pub(crate) fn new(cap: usize) -> Fifo {
        Fifo { waiting: VecDeque::new(), cap, full: false }
    }

    /// Sends `parts` back to back as one whole: through `write` (a
    /// non-blocking socket write) while nothing waits, else queued.
    pub(crate) fn send(&mut self, parts: &[&[u8]], mut write: impl FnMut(&[u8]) -> io::Result<usize>) -> SendState {
        if !self.waiting.is_empty() {
            let total: usize = parts.iter().map(|p| p.len()).sum();
            if self.full || self.waiting.len() + total > self.cap {
                self.full = true;
                return SendState::SendStateFifoFull;
            }
            parts.iter().for_each(|p| self.waiting.extend(p.iter()));
            return SendState::SendStillCongestion;
        }
        let mut started = false;
        for (i, part) in parts.iter().enumerate() {
            let mut rest = *part;
            while !rest.is_empty() {
                match write(rest) {
                    Ok(n) if n > 0 => {
                        rest = rest.get(n..).unwrap_or_default();
                        started = true;
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) if !started && e.kind() != ErrorKind::WouldBlock => return SendState::SendError,
                    // The socket takes no more (or failed midway): the rest waits,
                    // so that the peer never sees a torn send.
                    _ => {
                        self.waiting.extend(rest.iter());
                        parts.iter().skip(i + 1).for_each(|p| self.waiting.extend(p.iter()));
                        return SendState::SendStateChangeToCongestion;
                    }
                }
            }
        }
        SendState::SendOk
    }

    /// Writes what waits through `write`, as far as the socket takes it.
    pub(crate) fn flush(&mut self, mut write: impl FnMut(&[u8]) -> io::Result<usize>) -> Flush {
        while !self.waiting.is_empty() {
            let (front, _) = self.waiting.as_slices();
            match write(front) {
                Ok(n) if n > 0 => {
                    self.waiting.drain(..n.min(front.len()));
                    self.full = false;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Flush::Pending,
                _ => return Flush::Failed,
            }
        }
        self.waiting = VecDeque::new();
        Flush::Drained
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes `room` more bytes, then would block.
    struct Socket {
        got: Vec<u8>,
        room: usize,
    }

    impl Socket {
        fn new(room: usize) -> Socket {
            Socket { got: Vec::new(), room }
        }
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(ErrorKind::WouldBlock.into());
            }
            let n = b.len().min(self.room);
            self.got.extend_from_slice(&b[..n]);
            self.room -= n;
            Ok(n)
        }
    }

    #[test]
    fn a_send_the_socket_takes_is_ok_and_nothing_waits() {
        let (mut f, mut s) = (Fifo::new(100), Socket::new(100));
        assert_eq!(f.send(&[b"2 1\x02", b"body\n"], |b| s.write(b)), SendState::SendOk);
        assert_eq!(s.got, b"2 1\x02body\n");
        assert!(f.waiting.is_empty());
    }

    #[test]
    fn a_partial_write_congests_then_sends_queue_until_the_cap_and_drop_whole() {
        let (mut f, mut s) = (Fifo::new(10), Socket::new(3));
        assert_eq!(f.send(&[b"ab", b"cdef"], |b| s.write(b)), SendState::SendStateChangeToCongestion);
        assert_eq!(s.got, b"abc");
        assert!(!f.waiting.is_empty());
        assert_eq!(f.send(&[b"gh"], |b| s.write(b)), SendState::SendStillCongestion);
        // def + gh waiting = 5; 6 more would pass the cap of 10.
        assert_eq!(f.send(&[b"123", b"456"], |b| s.write(b)), SendState::SendStateFifoFull);
        // Once full, everything is dropped until bytes drain, even what would fit.
        assert_eq!(f.send(&[b"i"], |b| s.write(b)), SendState::SendStateFifoFull);
        s.room = 2;
        assert_eq!(f.flush(|b| s.write(b)), Flush::Pending);
        assert_eq!(f.send(&[b"j"], |b| s.write(b)), SendState::SendStillCongestion);
        s.room = 100;
        assert_eq!(f.flush(|b| s.write(b)), Flush::Drained);
        assert!(f.waiting.is_empty());
        assert_eq!(s.got, b"abcdefghj", "whole sends in order, the dropped ones absent");
        assert_eq!(f.send(&[b"k"], |b| s.write(b)), SendState::SendOk);
    }

    #[test]
    fn a_socket_that_takes_nothing_congests_with_the_whole_send_waiting() {
        let (mut f, mut s) = (Fifo::new(10), Socket::new(0));
        assert_eq!(f.send(&[b"abc"], |b| s.write(b)), SendState::SendStateChangeToCongestion);
        s.room = 10;
        assert_eq!(f.flush(|b| s.write(b)), Flush::Drained);
        assert_eq!(s.got, b"abc");
    }

    #[test]
    fn an_error_before_any_byte_is_a_send_error_and_nothing_waits() {
        let mut f = Fifo::new(10);
        let state = f.send(&[b"abc", b"def"], |_| Err(ErrorKind::BrokenPipe.into()));
        assert_eq!(state, SendState::SendError);
        assert!(f.waiting.is_empty());
    }

    #[test]
    fn a_failing_socket_fails_the_flush() {
        let (mut f, mut s) = (Fifo::new(10), Socket::new(0));
        f.send(&[b"abc"], |b| s.write(b));
        assert_eq!(f.flush(|_| Err(ErrorKind::ConnectionReset.into())), Flush::Failed);
    }
}
