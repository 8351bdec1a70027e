//! Anchored literal prefix of a translated pattern (`^abc…`), for [`super::PrefixIndex`],
//! and the patterns that are nothing but such a literal and a final `(.*)`.
//!
//! Conservative: any doubt gives `None` ("always a candidate", "run the
//! engine"), since a wrong prefix or shape would hide or change matches.

use super::compile::LiteralShape;
use super::translate::Translated;

/// Longest prefix kept; a shorter prefix is still a valid necessary condition.
pub const MAX_PREFIX_LEN: usize = 32;

fn hex_digit(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// One literal at the start of `p` (translator output), written to `buf`:
/// its byte count there and its length in `p`. A literal is one byte, or a
/// whole character (a quantifier after it repeats it) in the Unicode version.
fn literal_at(p: &[u8], buf: &mut [u8; 4]) -> Option<(usize, usize)> {
    match p {
        [b'\\', b'x', h, l, ..] => {
            buf[0] = hex_digit(*h)? * 16 + hex_digit(*l)?;
            Some((1, 4))
        }
        [b'\\', c, ..] if c.is_ascii_punctuation() => {
            buf[0] = *c;
            Some((1, 2))
        }
        [b'\\', ..] => None,
        [lead @ 0x80..=0xff, ..] => {
            let n = match lead {
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            let c = std::str::from_utf8(p.get(..n)?).ok()?.chars().next()?;
            Some((c.encode_utf8(buf).len(), n))
        }
        [c, ..] if b".^$|()[]{}*+?#".contains(c) || !c.is_ascii_graphic() => None,
        [c, ..] => {
            buf[0] = *c;
            Some((1, 1))
        }
        [] => None,
    }
}

/// The bytes every match must start the message with, if known and non-empty.
pub(crate) fn literal_prefix(t: &Translated) -> Option<Vec<u8>> {
    if t.top_level_alternation || t.extended {
        return None;
    }
    let mut rest = t.pattern.as_bytes().strip_prefix(b"^")?;
    let mut out = Vec::new();
    let mut buf = [0; 4];
    while out.len() < MAX_PREFIX_LEN {
        let Some((n, len)) = literal_at(rest, &mut buf) else {
            break;
        };
        rest = rest.get(len..).unwrap_or_default();
        match rest.first() {
            Some(b'*' | b'?' | b'{') => break,
            Some(b'+') => {
                out.extend_from_slice(buf.get(..n).unwrap_or_default());
                break;
            }
            _ => out.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
    }
    out.truncate(MAX_PREFIX_LEN);
    (!out.is_empty()).then_some(out)
}

/// The [`LiteralShape`] of a byte translation, if it certainly is one:
/// `^`, literals none of which is quantified, then nothing, `(.*)`, the
/// translation of a final `$`, or both; or just `(.*)`. Nothing else (no
/// flag, group or alternative) may appear.
pub(crate) fn literal_shape(t: &Translated) -> Option<LiteralShape> {
    /// What the translator writes for `$` or `\Z` ending the pattern.
    const END: &[u8] = br"(?:\n?\z)";
    const REST: &[u8] = b"(.*)";
    if t.top_level_alternation || t.extended || t.needs_backtracking {
        return None;
    }
    let whole = t.pattern.as_bytes();
    if whole == REST {
        // Unanchored, but a match at the start always exists and is leftmost.
        return Some(LiteralShape { literal: Box::default(), rest: true, end: false });
    }
    let mut p = whole.strip_prefix(b"^")?;
    let mut literal = Vec::new();
    let mut buf = [0; 4];
    while let Some((n, len)) = literal_at(p, &mut buf) {
        p = p.get(len..).unwrap_or_default();
        if matches!(p.first(), Some(b'*' | b'+' | b'?' | b'{')) {
            return None;
        }
        literal.extend_from_slice(buf.get(..n)?);
    }
    let (rest, p) = match p.strip_prefix(REST) {
        Some(after) => (true, after),
        None => (false, p),
    };
    let end = match p {
        [] => false,
        _ if p == END => true,
        _ => return None,
    };
    Some(LiteralShape { literal: literal.into_boxed_slice(), rest, end })
}
