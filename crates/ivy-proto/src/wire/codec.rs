//! The TCP line codec (spec §2, §3): one message per line, `TYPE SP ID STX PARAMS LF`.

use super::scan::scan_int;

/// Start of text: ends the `TYPE ID` header; the params follow the first one.
pub const STX: u8 = 0x02;
/// End of text: follows each argument of a `Msg`.
pub const ETX: u8 = 0x03;
/// Line feed: ends every line.
pub const LF: u8 = b'\n';

/// The message types of protocol 3 (spec §3), with their wire codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum MsgType {
    /// The peer is leaving.
    Bye = 0,
    /// Subscribe: id = subscription id, params = regexp.
    AddRegexp = 1,
    /// A match: id = receiver's subscription id, params = captures, each + ETX.
    Msg = 2,
    /// Error report: free id and text.
    Error = 3,
    /// Unsubscribe: id = subscription id.
    DelRegexp = 4,
    /// End of the handshake.
    EndRegexp = 5,
    /// Start of the handshake: id = TCP listening port, params = app name.
    StartRegexp = 6,
    /// Direct message: free id, raw text.
    DirectMsg = 7,
    /// Ask the peer to quit.
    Die = 8,
    /// Ping: id = sequence number.
    Ping = 9,
    /// Answer to a ping: id = the echoed ping id.
    Pong = 10,
}

impl MsgType {
    /// The type for a wire code, or None for an unknown code.
    pub fn from_code(code: i32) -> Option<MsgType> {
        Some(match code {
            0 => MsgType::Bye,
            1 => MsgType::AddRegexp,
            2 => MsgType::Msg,
            3 => MsgType::Error,
            4 => MsgType::DelRegexp,
            5 => MsgType::EndRegexp,
            6 => MsgType::StartRegexp,
            7 => MsgType::DirectMsg,
            8 => MsgType::Die,
            9 => MsgType::Ping,
            10 => MsgType::Pong,
            _ => return None,
        })
    }

    /// The wire code.
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// Writes `value` in decimal (printf `%d` style) at the end of `buf`, which
/// must have room for it (20 bytes take any `i64`); returns its length.
fn format_decimal(buf: &mut [u8], value: i64) -> usize {
    let mut n = value.unsigned_abs();
    let mut len = 0;
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        len += 1;
        if n == 0 {
            break;
        }
    }
    if value < 0
        && let Some(at) = buf.len().checked_sub(len + 1)
        && let Some(slot) = buf.get_mut(at)
    {
        *slot = b'-';
        len += 1;
    }
    len
}

/// Appends `value` in decimal (printf `%d` style), without allocating besides `out`.
/// Out of line, so that [`push_int`]'s one-digit path stays small enough to inline.
#[inline(never)]
pub fn push_decimal(out: &mut Vec<u8>, value: i64) {
    let mut buf = [0u8; 20];
    let len = format_decimal(&mut buf, value);
    out.extend_from_slice(buf.get(buf.len() - len..).unwrap_or_default());
}

/// Appends `value` in decimal; a single digit (every type code but Pong's, the
/// usual ids) as one byte, which costs less than formatting.
#[inline]
fn push_int(out: &mut Vec<u8>, value: i32) {
    match u8::try_from(value) {
        Ok(digit @ 0..=9) => out.push(b'0' + digit),
        _ => push_decimal(out, value.into()),
    }
}

/// Appends `"<code> <id>\x02"`.
fn push_header(out: &mut Vec<u8>, code: i32, id: i32) {
    push_int(out, code);
    out.push(b' ');
    push_int(out, id);
    out.push(STX);
}

/// Appends `"<code> <id>\x02<params>\n"` to out (itoa-style formatting, no allocation
/// besides out). `params` is sent raw: the caller must keep LF out of it.
pub fn encode_line(out: &mut Vec<u8>, kind: MsgType, id: i32, params: &[u8]) {
    out.reserve(params.len() + 24);
    push_header(out, kind.code(), id);
    out.extend_from_slice(params);
    out.push(LF);
}

/// A parsed line (without its LF). `code` is the raw type number (may be unknown, e.g. 42).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// Raw message type code; see [`MsgType::from_code`].
    pub code: i32,
    /// The id field.
    pub id: i32,
    /// Everything after the first STX.
    pub params: &'a [u8],
}

/// ivy-c's header parse: scanf "%d %d" semantics (leading whitespace incl. tabs and a
/// sign allowed before each int; anything between the second int and the FIRST STX
/// ignored, e.g. `2 0x\x02..` gives id 0 and `  2   0  junk\x02spaced\x03` works), plus the
/// first STX anywhere in the line. params = everything after the first STX. Returns None
/// (= "bad format") if fewer than two ints parse or there is no STX; an empty line is
/// bad. Integer overflow: saturate to i32::MIN/MAX. Input excludes the LF. CR is NOT
/// stripped. A NUL byte is kept (ivy-c would truncate the line there).
pub fn parse_line(line: &[u8]) -> Option<Line<'_>> {
    let (code, rest) = scan_int(line)?;
    let (id, rest) = scan_int(rest)?;
    // What the two ints took holds no STX: the line's first one is in the rest.
    let stx = rest.iter().position(|&b| b == STX)?;
    let params = rest.get(stx + 1..)?;
    Some(Line { code, id, params })
}

/// The fields of Msg params, split on ETX per §2, without allocating: empty fields
/// kept, no final empty field after the last ETX, a missing trailing ETX tolerated.
/// `a\x03\x03b\x03` gives `a`, ``, `b`; `a\x03b` gives `a`, `b`; `` gives nothing;
/// `\x03` gives one empty field.
pub fn args(params: &[u8]) -> Args<'_> {
    let rest = (!params.is_empty()).then(|| params.strip_suffix(&[ETX]).unwrap_or(params));
    Args { rest }
}

/// The iterator of [`args`].
#[derive(Clone, Debug)]
pub struct Args<'a> {
    /// What is left to split; `None` once the last field was given.
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        let Some(at) = super::find_byte(rest, ETX) else {
            self.rest = None;
            return Some(rest);
        };
        self.rest = rest.get(at + 1..);
        rest.get(..at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MsgType::*;

    fn line(kind: MsgType, id: i32, params: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_line(&mut out, kind, id, params);
        out
    }

    /// A Msg line as the engine writes it: each argument followed by ETX.
    fn msg(id: i32, args: &[&[u8]]) -> Vec<u8> {
        let params: Vec<u8> = args.iter().flat_map(|a| a.iter().copied().chain([ETX])).collect();
        line(MsgType::Msg, id, &params)
    }

    fn fields(params: &[u8]) -> Vec<&[u8]> {
        args(params).collect()
    }

    #[test]
    fn codes_round_trip() {
        for code in 0..=10 {
            assert_eq!(MsgType::from_code(code).map(MsgType::code), Some(code));
        }
        assert_eq!(MsgType::from_code(11), None);
        assert_eq!(MsgType::from_code(-1), None);
    }

    #[test]
    fn encode_every_type() {
        assert_eq!(line(Bye, 0, b""), b"0 0\x02\n");
        assert_eq!(line(AddRegexp, 12, b"blah (blah)?"), b"1 12\x02blah (blah)?\n");
        assert_eq!(line(Msg, 5, b"world\x03"), b"2 5\x02world\x03\n");
        assert_eq!(line(Error, 99, b"iik"), b"3 99\x02iik\n");
        assert_eq!(line(DelRegexp, 14, b""), b"4 14\x02\n");
        assert_eq!(line(EndRegexp, 0, b""), b"5 0\x02\n");
        assert_eq!(line(StartRegexp, 9999, b"RAW"), b"6 9999\x02RAW\n");
        assert_eq!(line(DirectMsg, 72, b""), b"7 72\x02\n");
        assert_eq!(line(Die, 0, b""), b"8 0\x02\n");
        assert_eq!(line(Ping, 0, b""), b"9 0\x02\n");
        assert_eq!(line(Pong, 12, b""), b"10 12\x02\n");
        assert_eq!(msg(2, &[b""]), b"2 2\x02\x03\n");
        assert_eq!(msg(6, &[b"one", b"two"]), b"2 6\x02one\x03two\x03\n");
        assert_eq!(msg(7, &[]), b"2 7\x02\n");
    }

    #[test]
    fn encode_negative_and_extreme_ids() {
        assert_eq!(line(Pong, -5, b""), b"10 -5\x02\n");
        assert_eq!(line(Error, i32::MIN, b"x"), b"3 -2147483648\x02x\n");
        assert_eq!(msg(i32::MAX, &[b"a"]), b"2 2147483647\x02a\x03\n");
        let mut out = b"keep".to_vec();
        encode_line(&mut out, Ping, 1, b"");
        assert_eq!(out, b"keep9 1\x02\n");
        for id in [0, -1, 7, i32::MIN, i32::MAX] {
            let bytes = line(DirectMsg, id, b"p");
            let parsed = parse_line(bytes.strip_suffix(b"\n").unwrap_or_default());
            assert_eq!(parsed, Some(Line { code: 7, id, params: b"p" }));
        }
    }

    #[test]
    fn headers_and_decimals_match_printf() {
        let extremes = [i32::MIN, i32::MIN + 1, -1_000_000_000, -999_999_999, 999_999_999, 1_000_000_000, i32::MAX];
        for id in (-1100..1100).chain(extremes) {
            for kind in [Msg, Pong] {
                assert_eq!(line(kind, id, b"p"), format!("{} {id}\x02p\n", kind.code()).into_bytes());
            }
        }
        for value in [i64::MIN, i64::MIN + 1, -1, 0, 7, i64::MAX] {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, value);
            assert_eq!(out, format!("x{value}").into_bytes());
        }
    }

    #[test]
    fn parse_lines() {
        let p = |l: &'static [u8]| parse_line(l).map(|l| (l.code, l.id, l.params));
        assert_eq!(p(b"2 0\x02a\x03b"), Some((2, 0, &b"a\x03b"[..])));
        assert_eq!(p(b"2 0x\x02hexish\x03"), Some((2, 0, &b"hexish\x03"[..])));
        assert_eq!(p(b"  2   0  junk\x02spaced\x03"), Some((2, 0, &b"spaced\x03"[..])));
        assert_eq!(p(b"\t2\t-7\x02"), Some((2, -7, &b""[..])));
        assert_eq!(p(b"+9 +3\x02"), Some((9, 3, &b""[..])));
        assert_eq!(p(b"9 -5\x02junk"), Some((9, -5, &b"junk"[..])));
        assert_eq!(p(b"2 1\x02a\x02b"), Some((2, 1, &b"a\x02b"[..])));
        assert_eq!(p(b"2 0\x02abc\x03\r"), Some((2, 0, &b"abc\x03\r"[..])));
        assert_eq!(p(b"1 3\x02caf\xc3\xa9\xff"), Some((1, 3, &b"caf\xc3\xa9\xff"[..])));
        let unknown = parse_line(b"42 1\x02x");
        assert_eq!(unknown.map(|l| (l.code, MsgType::from_code(l.code))), Some((42, None)));
        assert_eq!(p(b"99999999999 -99999999999\x02"), Some((i32::MAX, i32::MIN, &b""[..])));
        for bad in [&b""[..], b"2 1 foo", b"2\x02", b"2 \x020", b"x 1\x02", b"- 1 2\x02", b"\x022 0", b" "] {
            assert_eq!(parse_line(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn split_cases() {
        let v = |x: &[&'static [u8]]| x.to_vec();
        assert_eq!(fields(b"a\x03\x03b\x03"), v(&[b"a", b"", b"b"]));
        assert_eq!(fields(b"a\x03b"), v(&[b"a", b"b"]));
        assert_eq!(fields(b""), v(&[]));
        assert_eq!(fields(b"\x03"), v(&[b""]));
        assert_eq!(fields(b"\x03\x03"), v(&[b"", b""]));
        assert_eq!(fields(b"abc\x03\r"), v(&[b"abc", b"\r"]));
        assert_eq!(fields(b"world\x03"), v(&[b"world"]));
        assert_eq!(fields(b"a\x03b\x03c"), v(&[b"a", b"b", b"c"]));
        assert_eq!(fields(&b"\x03".repeat(121)).len(), 121);
        let long = [&[b'x'; 40][..], &[ETX], &[b'y'; 1000], &[ETX], &[ETX]].concat();
        assert_eq!(fields(&long), v(&[&[b'x'; 40], &[b'y'; 1000], b""]));
    }
}
