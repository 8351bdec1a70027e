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
///
/// Invariant: `read <= scan <= data.len()`; `data[read..scan]` holds no LF.
/// `Default` uses [`DEFAULT_MAX_LINE`].
#[derive(Debug)]
pub struct LineBuffer {
    data: Vec<u8>,
    read: usize,
    scan: usize,
    max_line: usize,
}

impl Default for LineBuffer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINE)
    }
}

impl LineBuffer {
    /// An empty buffer accepting lines of at most `max_line` bytes (excluding the LF).
    pub fn new(max_line: usize) -> Self {
        LineBuffer { data: Vec::new(), read: 0, scan: 0, max_line }
    }

    /// Appends received bytes. Amortised O(n): the consumed prefix is dropped only when
    /// it is at least as large as the pending bytes, never per line. That drop (like
    /// [`Self::compact`]) invalidates ranges returned earlier.
    pub fn push(&mut self, data: &[u8]) {
        if self.read > 0 && self.read >= self.pending() {
            self.drop_consumed();
        }
        self.data.extend_from_slice(data);
    }

    /// Takes the next complete line (without its LF) and returns its byte range into
    /// `self.data()`; Ok(None) when no full line is buffered; Err(LineTooLong) when more
    /// than max_line bytes are buffered without an LF, or a complete line is longer than
    /// max_line (the error then repeats on every call). Bytes already scanned are not
    /// scanned again.
    pub fn take_line(&mut self) -> Result<Option<Range<usize>>, LineTooLong> {
        let unscanned = self.data.get(self.scan..).unwrap_or_default();
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
                self.scan = self.data.len();
                if self.pending() > self.max_line { Err(LineTooLong) } else { Ok(None) }
            }
        }
    }

    /// The buffer, including the consumed prefix that returned ranges point into.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Drops consumed bytes (call after a batch of take_line); ranges returned earlier
    /// become invalid. Shrinks the allocation when it grew past [`SHRINK_ABOVE`] and
    /// little is pending, so one huge line does not pin memory forever.
    pub fn compact(&mut self) {
        self.drop_consumed();
        if self.data.capacity() > SHRINK_ABOVE && self.data.len() <= SHRINK_ABOVE / 4 {
            self.data.shrink_to(self.data.len().max(SHRUNK_CAPACITY));
        }
    }

    /// Bytes buffered and not yet taken.
    pub fn pending(&self) -> usize {
        self.data.len() - self.read
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
        self.data.drain(..self.read);
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
            buf.push(a);
            drain(&mut buf, &mut got).unwrap();
            buf.push(b);
            drain(&mut buf, &mut got).unwrap();
            assert_eq!(got, expected(), "cut at {cut}");
            assert_eq!(buf.pending(), 4);
        }
    }

    #[test]
    fn byte_by_byte_without_compact() {
        let mut buf = LineBuffer::new(64);
        let mut got = Vec::new();
        for &b in STREAM {
            buf.push(&[b]);
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
        buf.push(&stream);
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
        buf.push(b"0 0\x02\n2 0\x02after bye\x03\n9 5\x02\n");
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
        buf.push(b"0123456789");
        assert_eq!(buf.take_line(), Ok(None));
        buf.push(b"\n");
        assert_eq!(buf.take_line(), Ok(Some(0..10)));
        buf.push(b"0123456789a");
        assert_eq!(buf.take_line(), Err(LineTooLong));
        assert_eq!(buf.take_line(), Err(LineTooLong));
        // Complete but too long, with a valid line after it.
        let mut buf = LineBuffer::new(10);
        buf.push(b"ok\n0123456789a\nok\n");
        assert_eq!(buf.take_line(), Ok(Some(0..2)));
        assert_eq!(buf.take_line(), Err(LineTooLong));
        assert_eq!(buf.take_line(), Err(LineTooLong));
        // max_line 0 still accepts empty lines.
        let mut buf = LineBuffer::new(0);
        buf.push(b"\n\n");
        assert_eq!(buf.take_line(), Ok(Some(0..0)));
        assert_eq!(buf.take_line(), Ok(Some(1..1)));
        assert_eq!(buf.take_line(), Ok(None));
    }

    #[test]
    fn memory_shrinks_after_a_huge_line() {
        let mut buf = LineBuffer::new(4 << 20);
        let huge = vec![b'x'; 2 << 20];
        for chunk in huge.chunks(4096) {
            buf.push(chunk);
            assert_eq!(buf.take_line(), Ok(None));
        }
        buf.push(b"\n2 1\x02tail");
        assert_eq!(buf.take_line(), Ok(Some(0..2 << 20)));
        assert!(buf.capacity() >= 2 << 20);
        buf.compact();
        assert!(buf.capacity() <= SHRINK_ABOVE, "capacity {}", buf.capacity());
        assert_eq!(buf.data(), b"2 1\x02tail");
        buf.push(b"\n");
        assert_eq!(buf.take_line(), Ok(Some(0..8)));
    }
}
