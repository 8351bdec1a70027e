//! Anchored literal prefix of a translated pattern (`^abc…`), for [`super::PrefixIndex`].
//!
//! Conservative: any doubt gives `None` ("always a candidate"), since an index
//! built on a wrong prefix would hide matches.

use super::translate::Translated;

/// Longest prefix kept; a shorter prefix is still a valid necessary condition.
pub const MAX_PREFIX_LEN: usize = 32;

fn hex_digit(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// One literal at the start of `p` (translator output), written to `buf`:
/// its byte count there and its length in `p`. A literal is one byte, or a
/// whole character (a quantifier after it repeats it) in the Unicode version.
fn literal(p: &[u8], buf: &mut [u8; 4]) -> Option<(usize, usize)> {
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
        let Some((n, len)) = literal(rest, &mut buf) else {
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
