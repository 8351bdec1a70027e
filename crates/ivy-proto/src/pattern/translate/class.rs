//! Character classes, rebuilt item by item.

use super::{CompileError, Tr, UNSUPPORTED, err, hex};

/// A class shorthand, in a class or out of one.
#[derive(Clone, Copy)]
pub(super) enum Set {
    /// `\d`, `\D`, `\s`, `\S`, `\w`, `\W`, `\h`, `\H`, `\v` or `\V`.
    Escape(u8),
    /// `[:name:]` (index in [`POSIX_CLASSES`]), negated for `[:^name:]`.
    Posix(usize, bool),
}

/// A character-class item, with the offset PCRE blames for a bad range.
pub(super) enum Item {
    /// A byte; a character (code point) in the Unicode version.
    Byte(u32, usize),
    /// `\Z`, `\A`…: a literal byte in a class, but never a range end.
    Special(u32, usize),
    Set(Set, usize),
    Hyphen,
    Range(u32, u32),
}

const POSIX_CLASSES: &[&[u8]] = &[
    b"alnum", b"alpha", b"ascii", b"blank", b"cntrl", b"digit", b"graph", b"lower", b"print", b"punct", b"space",
    b"upper", b"word", b"xdigit",
];

/// Bits `lo..=hi` of an ASCII mask (nothing above 0x7F).
const fn mask(lo: u32, hi: u32) -> u128 {
    let hi = if hi > 0x7f { 0x7f } else { hi };
    if lo > hi { 0 } else { (u128::MAX >> (127 - hi)) & (u128::MAX << lo) }
}

const ASCII: u128 = u128::MAX;
const DIGIT: u128 = mask(0x30, 0x39);
const UPPER: u128 = mask(0x41, 0x5a);
const LOWER: u128 = mask(0x61, 0x7a);
const WORD: u128 = DIGIT | UPPER | LOWER | mask(0x5f, 0x5f);
/// `\s` and `[:space:]`: TAB, LF, VT, FF, CR, space.
const SPACE: u128 = mask(0x09, 0x0d) | mask(0x20, 0x20);
const MAX_CHAR: u32 = 0x10_ffff;

/// The ASCII meaning of a POSIX class (PCRE's and `regex`'s).
fn posix_mask(name: &[u8]) -> u128 {
    match name {
        b"alnum" => DIGIT | UPPER | LOWER,
        b"alpha" => UPPER | LOWER,
        b"ascii" => ASCII,
        b"blank" => mask(0x09, 0x09) | mask(0x20, 0x20),
        b"cntrl" => mask(0, 0x1f) | mask(0x7f, 0x7f),
        b"digit" => DIGIT,
        b"graph" => mask(0x21, 0x7e),
        b"lower" => LOWER,
        b"print" => mask(0x20, 0x7e),
        b"punct" => mask(0x21, 0x2f) | mask(0x3a, 0x40) | mask(0x5b, 0x60) | mask(0x7b, 0x7e),
        b"space" => SPACE,
        b"upper" => UPPER,
        b"word" => WORD,
        b"xdigit" => DIGIT | mask(0x41, 0x46) | mask(0x61, 0x66),
        _ => 0,
    }
}

/// ASCII case folding (the only one PCRE does on bytes).
fn fold(m: u128) -> u128 {
    m | ((m & UPPER) << 32) | ((m & LOWER) >> 32)
}

/// Sorted, merged copy of `ranges`.
fn normalize(mut ranges: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    ranges.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// The code points ≥ 0x80 outside the normalized `ranges` (all ≥ 0x80).
fn complement(ranges: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out = Vec::with_capacity(ranges.len() + 1);
    let mut next = 0x80;
    for &(lo, hi) in ranges {
        if lo > next {
            out.push((next, lo - 1));
        }
        next = hi.saturating_add(1);
    }
    if next <= MAX_CHAR {
        out.push((next, MAX_CHAR));
    }
    out
}

/// Unicode version of a shorthand: its ASCII part and its part ≥ 0x80.
fn set_chars(set: Set, caseless: bool) -> (u128, Vec<(u32, u32)>) {
    let (ascii, high, negated) = match set {
        Set::Escape(e) => {
            let (ascii, high): (u128, &[(u32, u32)]) = match e.to_ascii_lowercase() {
                b'd' => (DIGIT, &[]),
                b's' => (SPACE, &[]),
                b'w' => (WORD, &[]),
                // PCRE's Latin-1 bytes 0xA0 and 0x85 read as the characters U+00A0 and U+0085.
                b'h' => (mask(0x09, 0x09) | mask(0x20, 0x20), &[(0xa0, 0xa0)]),
                _ => (mask(0x0a, 0x0d), &[(0x85, 0x85)]),
            };
            (ascii, high.to_vec(), e.is_ascii_uppercase())
        }
        Set::Posix(i, negated) => {
            let ascii = posix_mask(POSIX_CLASSES.get(i).copied().unwrap_or_default());
            // As `regex` does: folded before it is negated.
            (if caseless { fold(ascii) } else { ascii }, Vec::new(), negated)
        }
    };
    if negated { (!ascii, complement(&high)) } else { (ascii, high) }
}

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
    /// Unicode version of a class: every character spelled `\x{…}`, folded
    /// here for `(?i)` (ASCII only) and shielded from the engine's own folding.
    pub(super) fn class_text(&mut self, items: &[Item], negated: bool) -> String {
        let (mut ascii, mut high) = (0_u128, Vec::new());
        for item in items {
            match *item {
                Item::Byte(c, _) => {
                    ascii |= mask(c, c);
                    if c >= 0x80 {
                        high.push((c, c));
                    }
                }
                Item::Special(b, _) => ascii |= mask(b, b),
                Item::Hyphen => ascii |= mask(0x2d, 0x2d),
                Item::Range(lo, hi) => {
                    ascii |= mask(lo, hi);
                    if hi >= 0x80 {
                        high.push((lo.max(0x80), hi));
                    }
                }
                Item::Set(set, _) => {
                    let (a, h) = set_chars(set, self.flags.caseless);
                    ascii |= a;
                    high.extend(h);
                }
            }
        }
        if self.flags.caseless {
            ascii = fold(ascii);
        }
        let mut high = normalize(high);
        if negated {
            ascii = !ascii;
            high = complement(&high);
        }
        self.t.differs |= !high.is_empty();
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for c in 0..0x80 {
            if ascii & mask(c, c) != 0 {
                match ranges.last_mut() {
                    Some(last) if last.1 + 1 == c => last.1 = c,
                    _ => ranges.push((c, c)),
                }
            }
        }
        ranges.extend(high);
        let mut text = String::from("[");
        for (lo, hi) in ranges {
            // Surrogates are no characters: `\x{D800}` would not parse.
            let lo = if (0xd800..=0xdfff).contains(&lo) { 0xe000 } else { lo };
            let hi = if (0xd800..=0xdfff).contains(&hi) { 0xd7ff } else { hi };
            match hi.checked_sub(lo) {
                None => {}
                Some(0) => text.push_str(&format!("\\x{{{lo:X}}}")),
                Some(_) => text.push_str(&format!("\\x{{{lo:X}}}-\\x{{{hi:X}}}")),
            }
        }
        if text.len() == 1 {
            text.push_str("^\\x{0}-\\x{10FFFF}");
        }
        text.push(']');
        if self.flags.caseless { format!("(?-i:{text})") } else { text }
    }

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
                    Some(Item::Byte(c.into(), pos))
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
                    Some(Item::Byte(c.into(), pos))
                }
            };
            let Some(mut item) = item else { continue };
            first = false;
            if self.unicode {
                // Bytes ≥ 0x80 must spell characters, each one item.
                match item {
                    Item::Byte(b, at) if b >= 0x80 || !self.pending.is_empty() => {
                        let byte = u8::try_from(b).ok().filter(|&b| b >= 0x80);
                        match byte.map(|b| self.push_utf8(b)) {
                            Some(Some(c)) => item = Item::Byte(c.into(), at),
                            Some(None) if !self.broken => continue,
                            _ => {
                                self.broken = true;
                                return Ok(());
                            }
                        }
                    }
                    _ if !self.pending.is_empty() => {
                        self.broken = true;
                        return Ok(());
                    }
                    _ => {}
                }
            }
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
        if !self.pending.is_empty() {
            self.broken = true;
            return Ok(());
        }
        if self.unicode {
            let text = self.class_text(&items, negated);
            self.emit(&text, open);
            self.can_repeat = true;
            return Ok(());
        }
        let mut text = String::from(if negated { "[^" } else { "[" });
        for item in &items {
            match item {
                Item::Byte(b, _) | Item::Special(b, _) => text.push_str(&hex(*b)),
                Item::Set(s, _) => text.push_str(&byte_set(*s)),
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
            return Ok(Some(Item::Byte(b.into(), self.i - 1)));
        }
        let Some(e) = self.at(1) else {
            return Err(err(self.src.len(), "\\ at end of pattern"));
        };
        self.i += 2;
        match e {
            b'd' | b'D' | b's' | b'S' | b'w' | b'W' | b'h' | b'H' | b'v' | b'V' => {
                Ok(Some(Item::Set(Set::Escape(e), pos + 1)))
            }
            b'N' if range_end => Err(err(pos + 1, "invalid range in character class")),
            b'N' => Err(err(pos + 1, "\\N is not supported in a class")),
            b'A' | b'B' | b'C' | b'G' | b'K' | b'R' | b'X' | b'Z' | b'z' => Ok(Some(Item::Special(e.into(), pos + 1))),
            b'p' | b'P' => Err(err(pos + 1, "\\p and \\P are not supported on byte subjects")),
            b'u' | b'U' | b'l' | b'L' => Err(err(pos + 1, UNSUPPORTED)),
            // PCRE 1: any other escaped character stands for itself.
            _ => Ok(Some(Item::Byte(e.into(), pos + 1))),
        }
    }

    /// `[:name:]` (or `[.x.]`, `[=x=]`) inside a class at `self.i`; `None`
    /// if it is not one (then `[` is an ordinary byte).
    fn posix_class(&mut self) -> Result<Option<Item>, CompileError> {
        let start = self.i;
        let kind = self.at(1).unwrap_or_default();
        let Some(end) = posix_end(self.rest(2), kind) else {
            self.i += 1;
            return Ok(Some(Item::Byte(b'['.into(), start)));
        };
        if kind != b':' {
            return Err(err(start, "POSIX collating elements are not supported"));
        }
        let name = self.rest(2).get(..end).unwrap_or_default();
        let negated = name.first() == Some(&b'^');
        let index = POSIX_CLASSES.iter().position(|&c| c == name.get(usize::from(negated)..).unwrap_or_default());
        let index = index.ok_or_else(|| err(start + 2, "unknown POSIX class name"))?;
        self.i = start + 2 + end + 2;
        Ok(Some(Item::Set(Set::Posix(index, negated), start)))
    }
}

/// Byte version of a shorthand inside a class.
fn byte_set(set: Set) -> String {
    match set {
        Set::Escape(b'h') => r"\x09\x20\xA0".into(),
        Set::Escape(b'H') => r"[^\x09\x20\xA0]".into(),
        Set::Escape(b'v') => r"\x0A-\x0D\x85".into(),
        Set::Escape(b'V') => r"[^\x0A-\x0D\x85]".into(),
        Set::Escape(e) => format!("\\{}", e as char),
        Set::Posix(i, negated) => {
            let name = String::from_utf8_lossy(POSIX_CLASSES.get(i).copied().unwrap_or_default());
            format!("[:{}{name}:]", if negated { "^" } else { "" })
        }
    }
}
