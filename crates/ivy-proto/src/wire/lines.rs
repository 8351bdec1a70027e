//! Reassembly of a TCP byte stream into LF-terminated lines, with a bounded line length.

use super::codec::LF;
use std::fmt;
use std::ops::Range;

/// Default longest accepted line: 1 MiB, excluding the LF.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;
/// [`LineBuffer::compact`] gives memory back when the allocation grew past this size
/// and at most a quarter of it is still pending.
pub const SHRINK_ABOVE: usize = 64 * 1024;
/// Capacity kept (at least) when [`LineBuffer::compact`] shrinks the allocation.
pub const SHRUNK_CAPACITY: usize = 4096;
/// Least room [`LineBuffer::spare`] offers to receive into.
pub const MIN_ROOM: usize = 4096;

/// A line exceeded the buffer's maximum length; the caller should drop the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooLong;

impl fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("line too long")
    }
}

impl std::error::Error for LineTooLong {}

/// Accumulates received bytes and hands out complete lines as ranges into [`Self::data`].
/// Bytes are received in place ([`Self::spare`], then [`Self::filled`]), which saves a
/// copy.
///
/// Invariant: `read <= scan <= end <= data.len()`; `data[..end]` was received (the
/// rest is initialised room); `data[read..scan]` holds no LF.
/// `Default` uses [`DEFAULT_MAX_LINE`].
#[derive(Debug)]
pub struct LineBuffer {
    data: Vec<u8>,
    end: usize,
    read: usize,
    scan: usize,
    max_line: usize,
    /// The last receive filled all the room offered: offer twice as much next time.
    grow: bool,
}

impl Default for LineBuffer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINE)
    }
}

impl LineBuffer {
    /// An empty buffer accepting lines of at most `max_line` bytes (excluding the LF).
    pub fn new(max_line: usize) -> Self {
        LineBuffer { data: Vec::new(), end: 0, read: 0, scan: 0, max_line, grow: false }
    }

    /// Room to receive into, after the buffered bytes (the consumed prefix is dropped
    /// first): at least [`MIN_ROOM`]; as much as the buffer holds, up to
    /// [`SHRINK_ABOVE`], when the last receive filled all it was offered; and the
    /// allocation up to [`SHRINK_ABOVE`]. The buffer then holds
    /// [`Self::room_size`] bytes. Report what was written with [`Self::filled`].
    /// Invalidates ranges returned earlier.
    #[inline]
    pub fn spare(&mut self) -> &mut [u8] {
        let size = self.room_size();
        if size > self.data.len() {
            self.data.resize(size, 0);
        }
        self.data.get_mut(self.end..).unwrap_or_default()
    }

    /// What the buffer will hold ([`Self::held`]) once [`Self::spare`] offers its
    /// room; drops the consumed prefix.
    pub fn room_size(&mut self) -> usize {
        if self.read > 0 {
            self.drop_consumed();
        }
        let len = self.data.len();
        // Doubled up to SHRINK_ABOVE while receives fill it; past that (a long
        // line), SHRINK_ABOVE more at a time.
        let (grown, room) = match self.grow {
            true if self.end + MIN_ROOM > SHRINK_ABOVE => (len, SHRINK_ABOVE),
            true => ((2 * len).min(SHRINK_ABOVE), MIN_ROOM),
            false => (len, MIN_ROOM),
        };
        // Capacity already allocated is offered too, up to SHRINK_ABOVE: beyond
        // it, the pages of a large allocation are touched only as bytes come.
        (self.end + room).max(grown).max(self.data.capacity().min(SHRINK_ABOVE))
    }

    /// Bytes of memory the buffer holds in use (received, or offered as room).
    pub fn held(&self) -> usize {
        self.data.len()
    }

    /// Puts back the line last taken, whose range starts at `start`: the next
    /// [`Self::take_line`] returns it again.
    pub fn unread(&mut self, start: usize) {
        if start <= self.read {
            self.read = start;
            self.scan = start;
        }
    }

    /// `n` bytes were received into the room given by [`Self::spare`].
    pub fn filled(&mut self, n: usize) {
        let room = self.data.len() - self.end;
        self.end += n.min(room);
        self.grow = n >= room;
    }

    /// Takes the next complete line (without its LF) and returns its byte range into
    /// `self.data()`; Ok(None) when no full line is buffered; Err(LineTooLong) when more
    /// than max_line bytes are buffered without an LF, or a complete line is longer than
    /// max_line (the error then repeats on every call). Bytes already scanned are not
    /// scanned again.
    pub fn take_line(&mut self) -> Result<Option<Range<usize>>, LineTooLong> {
        let unscanned = self.data.get(self.scan..self.end).unwrap_or_default();
        match super::find_byte(unscanned, LF) {
            Some(offset) => {
                let end = self.scan + offset;
                if end - self.read > self.max_line {
                    self.scan = end;
                    return Err(LineTooLong);
                }
                let line = self.read..end;
                self.read = end + 1;
                self.scan = self.read;
                Ok(Some(line))
            }
            None => {
                self.scan = self.end;
                if self.pending() > self.max_line { Err(LineTooLong) } else { Ok(None) }
            }
        }
    }

    /// The buffer, including the consumed prefix that returned ranges point into.
    pub fn data(&self) -> &[u8] {
        self.data.get(..self.end).unwrap_or_default()
    }

    /// Drops consumed bytes (call after a batch of take_line); ranges returned earlier
    /// become invalid. Shrinks the allocation when it grew past [`SHRINK_ABOVE`] and
    /// little is pending, so one huge line does not pin memory forever.
    pub fn compact(&mut self) {
        self.drop_consumed();
        if self.data.capacity() > SHRINK_ABOVE && self.end <= SHRINK_ABOVE / 4 {
            self.data.truncate(self.end.max(SHRUNK_CAPACITY));
            self.data.shrink_to_fit();
        }
    }

    /// Bytes buffered and not yet taken.
    pub fn pending(&self) -> usize {
        self.end - self.read
    }

    /// Bytes of memory held by the buffer.
    pub fn capacity(&self) -> usize {
        self.data.capacity()
    }

    /// The longest accepted line, excluding the LF.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    fn drop_consumed(&mut self) {
        // Usually every line was taken: nothing to move.
        if self.read < self.end {
            self.data.copy_within(self.read..self.end, 0);
        }
        self.end -= self.read;
        self.scan -= self.read;
        self.read = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::codec::{MsgType, parse_line};

    /// Takes every complete line, copying it out; compacts at the end.
    fn drain(buf: &mut LineBuffer, into: &mut Vec<Vec<u8>>) -> Result<(), LineTooLong> {
        while let Some(range) = buf.take_line()? {
            into.push(buf.data().get(range).unwrap_or_default().to_vec());
        }
        buf.compact();
        Ok(())
    }

    use crate::testing::receive;

    const STREAM: &[u8] = b"6 9999\x02RAW\n1 0\x02(.*)\n\n5 0\x02\n2 0\x02a\x03\r\nlast";

    fn expected() -> Vec<Vec<u8>> {
        let lines: [&[u8]; 5] = [b"6 9999\x02RAW", b"1 0\x02(.*)", b"", b"5 0\x02", b"2 0\x02a\x03\r"];
        lines.iter().map(|l| l.to_vec()).collect()
    }

    #[test]
    fn split_at_every_boundary() {
        for cut in 0..=STREAM.len() {
            let (a, b) = STREAM.split_at(cut);
            let mut buf = LineBuffer::new(64);
            let mut got = Vec::new();
            receive(&mut buf, a);
            drain(&mut buf, &mut got).unwrap();
            receive(&mut buf, b);
            drain(&mut buf, &mut got).unwrap();
            assert_eq!(got, expected(), "cut at {cut}");
            assert_eq!(buf.pending(), 4);
            assert_eq!(buf.data(), b"last");
        }
    }

    #[test]
    fn byte_by_byte_without_compact() {
        let mut buf = LineBuffer::new(64);
        let mut got = Vec::new();
        for &b in STREAM {
            receive(&mut buf, &[b]);
            while let Some(r) = buf.take_line().unwrap() {
                got.push(buf.data()[r].to_vec());
            }
        }
        assert_eq!(got, expected());
        assert_eq!(buf.pending(), 4);
        assert!(buf.data().len() < 16, "push compacts the consumed prefix");
    }

    #[test]
    fn many_lines_in_one_push() {
        let mut stream = Vec::new();
        for i in 0..1000 {
            crate::wire::codec::encode_line(&mut stream, MsgType::Ping, i, b"");
        }
        let mut buf = LineBuffer::default();
        receive(&mut buf, &stream);
        let mut got = Vec::new();
        drain(&mut buf, &mut got).unwrap();
        assert_eq!(got.len(), 1000);
        assert_eq!(parse_line(&got[999]).map(|l| l.id), Some(999));
        assert_eq!(buf.pending(), 0);
    }

    #[test]
    fn bye_then_more_lines_in_one_segment() {
        // §11 case 27 (parse part): every line of the segment is still parsed.
        let mut buf = LineBuffer::default();
        receive(&mut buf, b"0 0\x02\n2 0\x02after bye\x03\n9 5\x02\n");
        let mut got = Vec::new();
        drain(&mut buf, &mut got).unwrap();
        let parsed: Vec<_> = got
            .iter()
            .map(|l| parse_line(l).map(|l| (crate::wire::MsgType::from_code(l.code), l.id, l.params.to_vec())))
            .collect();
        assert_eq!(
            parsed,
            vec![
                Some((Some(MsgType::Bye), 0, vec![])),
                Some((Some(MsgType::Msg), 0, b"after bye\x03".to_vec())),
                Some((Some(MsgType::Ping), 5, vec![])),
            ]
        );
    }

    #[test]
    fn too_long_lines() {
        // Unterminated: exactly max is fine, one more byte is not.
        let mut buf = LineBuffer::new(10);
        receive(&mut buf, b"0123456789");
        assert_eq!(buf.take_line(), Ok(None));
        receive(&mut buf, b"\n");
        assert_eq!(buf.take_line(), Ok(Some(0..10)));
        receive(&mut buf, b"0123456789a");
        assert_eq!(buf.take_line(), Err(LineTooLong));
        assert_eq!(buf.take_line(), Err(LineTooLong));
        // Complete but too long, with a valid line after it.
        let mut buf = LineBuffer::new(10);
        receive(&mut buf, b"ok\n0123456789a\nok\n");
        assert_eq!(buf.take_line(), Ok(Some(0..2)));
        assert_eq!(buf.take_line(), Err(LineTooLong));
        assert_eq!(buf.take_line(), Err(LineTooLong));
        // max_line 0 still accepts empty lines.
        let mut buf = LineBuffer::new(0);
        receive(&mut buf, b"\n\n");
        assert_eq!(buf.take_line(), Ok(Some(0..0)));
        assert_eq!(buf.take_line(), Ok(Some(1..1)));
        assert_eq!(buf.take_line(), Ok(None));
    }

    #[test]
    fn room_starts_small_and_doubles_while_receives_fill_it() {
        let mut buf = LineBuffer::default();
        assert_eq!(buf.spare().len(), MIN_ROOM);
        buf.filled(10);
        let room = buf.spare().len();
        assert!((MIN_ROOM..2 * MIN_ROOM).contains(&room), "a partial receive does not double it: {room}");
        buf.filled(0);
        // A stream of complete lines that fills every room offered.
        let line = [&[b'x'; 1023][..], b"\n"].concat();
        let mut offered = Vec::new();
        for _ in 0..6 {
            let room = buf.spare();
            offered.push(room.len());
            let n = room.len();
            for (i, b) in room.iter_mut().enumerate() {
                *b = line[i % line.len()];
            }
            buf.filled(n);
            while buf.take_line().unwrap().is_some() {}
        }
        assert!(offered[0] >= room, "{offered:?}");
        // Doubled up to the threshold (less the partial line kept at the front).
        assert!(offered[1] > offered[0] && offered[2] > offered[1], "{offered:?}");
        assert!(offered.iter().all(|&r| r <= SHRINK_ABOVE), "{offered:?}");
        assert!(offered[5] >= SHRINK_ABOVE / 2, "{offered:?}");
        buf.compact();
        assert!(buf.capacity() <= SHRINK_ABOVE, "room never passes the shrink threshold");
        // Consumed bytes make room: the pending partial line moves to the front.
        let pending = buf.pending();
        assert_eq!(buf.data().len(), pending);
    }

    #[test]
    fn filled_never_claims_more_than_the_room() {
        let mut buf = LineBuffer::new(1 << 20);
        let room = buf.spare().len();
        buf.filled(room + 100);
        assert_eq!(buf.pending(), room);
        assert_eq!(buf.take_line(), Ok(None));
    }

    #[test]
    fn a_long_line_received_in_place_grows_past_the_room_then_shrinks() {
        let mut buf = LineBuffer::new(4 << 20);
        let mut line = vec![b'y'; 1 << 20];
        line.push(b'\n');
        receive(&mut buf, &line);
        assert_eq!(buf.take_line(), Ok(Some(0..1 << 20)));
        buf.compact();
        assert!(buf.capacity() <= SHRINK_ABOVE.max(SHRUNK_CAPACITY), "capacity {}", buf.capacity());
        assert_eq!(buf.pending(), 0);
    }

    #[test]
    fn memory_shrinks_after_a_huge_line() {
        let mut buf = LineBuffer::new(4 << 20);
        let huge = vec![b'x'; 2 << 20];
        for chunk in huge.chunks(4096) {
            receive(&mut buf, chunk);
            assert_eq!(buf.take_line(), Ok(None));
        }
        receive(&mut buf, b"\n2 1\x02tail");
        assert_eq!(buf.take_line(), Ok(Some(0..2 << 20)));
        assert!(buf.capacity() >= 2 << 20);
        buf.compact();
        assert!(buf.capacity() <= SHRINK_ABOVE, "capacity {}", buf.capacity());
        assert_eq!(buf.data(), b"2 1\x02tail");
        receive(&mut buf, b"\n");
        assert_eq!(buf.take_line(), Ok(Some(0..8)));
    }
}
