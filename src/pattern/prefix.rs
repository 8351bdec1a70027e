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

/// One literal byte at the start of `p` (translator output) and its length.
fn literal(p: &[u8]) -> Option<(u8, usize)> {
    match p {
        [b'\\', b'x', h, l, ..] => Some((hex_digit(*h)? * 16 + hex_digit(*l)?, 4)),
        [b'\\', c, ..] if c.is_ascii_punctuation() => Some((*c, 2)),
        [b'\\', ..] => None,
        [c, ..] if b".^$|()[]{}*+?#".contains(c) || !c.is_ascii_graphic() => None,
        [c, ..] => Some((*c, 1)),
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
    while out.len() < MAX_PREFIX_LEN {
        let Some((byte, len)) = literal(rest) else {
            break;
        };
        rest = rest.get(len..).unwrap_or_default();
        match rest.first() {
            Some(b'*' | b'?' | b'{') => break,
            Some(b'+') => {
                out.push(byte);
                break;
            }
            _ => out.push(byte),
        }
    }
    (!out.is_empty()).then_some(out)
}
