//! Character classes, rebuilt item by item.

use super::{CompileError, Tr, UNSUPPORTED, err, hex};

/// A character-class item, with the offset PCRE blames for a bad range.
enum Item {
    Byte(u8, usize),
    /// `\Z`, `\A`…: a literal byte in a class, but never a range end.
    Special(u8, usize),
    Set(String, usize),
    Hyphen,
    Range(u8, u8),
}

const POSIX_CLASSES: &[&[u8]] = &[
    b"alnum", b"alpha", b"ascii", b"blank", b"cntrl", b"digit", b"graph", b"lower", b"print", b"punct", b"space",
    b"upper", b"word", b"xdigit",
];

/// Offset of the terminator of a POSIX class body (`rest` follows `[:`), as
/// PCRE's `check_posix_syntax` finds it.
fn posix_end(rest: &[u8], kind: u8) -> Option<usize> {
    let mut j = 0;
    while let Some(&b) = rest.get(j) {
        let next = rest.get(j + 1).copied();
        if b == b'\\' && matches!(next, Some(b']' | b'\\')) {
            j += 2;
            continue;
        }
        if (b == b'[' && next == Some(kind)) || b == b']' {
            return None;
        }
        if b == kind && next == Some(b']') {
            return Some(j);
        }
        j += 1;
    }
    None
}

impl Tr<'_> {
    /// A character class; `self.i` is at `[`. Rebuilt with every byte as
    /// `\xHH`, so no engine-specific class syntax leaks through.
    pub(super) fn class(&mut self) -> Result<(), CompileError> {
        let open = self.i;
        if let Some(kind @ (b':' | b'.' | b'=')) = self.at(1)
            && posix_end(self.rest(2), kind).is_some()
        {
            return Err(err(open, "POSIX named classes are supported only within a class"));
        }
        self.i += 1;
        let negated = self.at(0) == Some(b'^');
        self.i += usize::from(negated);
        let mut items: Vec<Item> = Vec::new();
        let (mut first, mut quoted) = (true, false);
        loop {
            let pos = self.i;
            let Some(c) = self.at(0) else {
                return Err(err(self.src.len(), "missing terminating ] for character class"));
            };
            let item = match c {
                b'\\' if quoted && self.at(1) == Some(b'E') => {
                    self.i += 2;
                    quoted = false;
                    None
                }
                _ if quoted => {
                    self.i += 1;
                    Some(Item::Byte(c, pos))
                }
                b']' if !first => {
                    self.i += 1;
                    break;
                }
                b'[' if matches!(self.at(1), Some(b':' | b'.' | b'=')) => self.posix_class()?,
                b'-' if matches!(items.last(), Some(Item::Byte(..) | Item::Special(..)))
                    && self.at(1) != Some(b']') =>
                {
                    self.i += 1;
                    Some(Item::Hyphen)
                }
                b'\\' if self.at(1) == Some(b'Q') => {
                    self.i += 2;
                    quoted = true;
                    None
                }
                b'\\' if self.at(1) == Some(b'E') => {
                    self.i += 2;
                    None
                }
                b'\\' => self.class_escape(matches!(items.last(), Some(Item::Hyphen)))?,
                _ => {
                    self.i += 1;
                    Some(Item::Byte(c, pos))
                }
            };
            let Some(item) = item else { continue };
            first = false;
            if let [.., Item::Byte(lo, _) | Item::Special(lo, _), Item::Hyphen] = items.as_slice() {
                let lo = *lo;
                match item {
                    Item::Byte(hi, at) if hi < lo => {
                        return Err(err(at, "range out of order in character class"));
                    }
                    Item::Byte(hi, _) => {
                        items.truncate(items.len().saturating_sub(2));
                        items.push(Item::Range(lo, hi));
                    }
                    Item::Set(_, at) | Item::Special(_, at) => {
                        return Err(err(at, "invalid range in character class"));
                    }
                    other => items.push(other),
                }
            } else {
                items.push(item);
            }
        }
        let mut text = String::from(if negated { "[^" } else { "[" });
        for item in &items {
            match item {
                Item::Byte(b, _) | Item::Special(b, _) => text.push_str(&hex(*b)),
                Item::Set(s, _) => text.push_str(s),
                Item::Hyphen => text.push_str(&hex(b'-')),
                Item::Range(lo, hi) => text.push_str(&format!("{}-{}", hex(*lo), hex(*hi))),
            }
        }
        text.push(']');
        self.emit(&text, open);
        self.can_repeat = true;
        Ok(())
    }

    /// An escape inside a class; `self.i` is at the backslash.
    fn class_escape(&mut self, range_end: bool) -> Result<Option<Item>, CompileError> {
        let pos = self.i;
        if let Some(b) = self.byte_escape(true)? {
            return Ok(Some(Item::Byte(b, self.i - 1)));
        }
        let Some(e) = self.at(1) else {
            return Err(err(self.src.len(), "\\ at end of pattern"));
        };
        self.i += 2;
        let set = |s: &str| Ok(Some(Item::Set(s.into(), pos + 1)));
        match e {
            b'd' | b'D' | b's' | b'S' | b'w' | b'W' => set(&format!("\\{}", e as char)),
            b'h' => set(r"\x09\x20\xA0"),
            b'H' => set(r"[^\x09\x20\xA0]"),
            b'v' => set(r"\x0A-\x0D\x85"),
            b'V' => set(r"[^\x0A-\x0D\x85]"),
            b'N' if range_end => Err(err(pos + 1, "invalid range in character class")),
            b'N' => Err(err(pos + 1, "\\N is not supported in a class")),
            b'A' | b'B' | b'C' | b'G' | b'K' | b'R' | b'X' | b'Z' | b'z' => Ok(Some(Item::Special(e, pos + 1))),
            b'p' | b'P' => Err(err(pos + 1, "\\p and \\P are not supported on byte subjects")),
            b'u' | b'U' | b'l' | b'L' => Err(err(pos + 1, UNSUPPORTED)),
            // PCRE 1: any other escaped character stands for itself.
            _ => Ok(Some(Item::Byte(e, pos + 1))),
        }
    }

    /// `[:name:]` (or `[.x.]`, `[=x=]`) inside a class at `self.i`; `None`
    /// if it is not one (then `[` is an ordinary byte).
    fn posix_class(&mut self) -> Result<Option<Item>, CompileError> {
        let start = self.i;
        let kind = self.at(1).unwrap_or_default();
        let Some(end) = posix_end(self.rest(2), kind) else {
            self.i += 1;
            return Ok(Some(Item::Byte(b'[', start)));
        };
        if kind != b':' {
            return Err(err(start, "POSIX collating elements are not supported"));
        }
        let name = self.rest(2).get(..end).unwrap_or_default();
        if !POSIX_CLASSES.contains(&name.strip_prefix(b"^").unwrap_or(name)) {
            return Err(err(start + 2, "unknown POSIX class name"));
        }
        let text = format!("[:{}:]", String::from_utf8_lossy(name));
        self.i = start + 2 + end + 2;
        Ok(Some(Item::Set(text, start)))
    }
}
