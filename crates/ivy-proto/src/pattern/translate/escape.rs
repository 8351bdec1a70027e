//! Escapes outside classes, byte escapes and backreferences.

use super::class::{Item, Set};
use super::{CompileError, NON_EXISTENT, Tr, UNSUPPORTED, ZERO_REFERENCE, err};

/// ASCII word boundary (`\b`) for `fancy_regex` on text, which has no `(?-u:\b)`.
const ASCII_BOUNDARY: &str = r"(?-i:(?<=[0-9A-Za-z_])(?![0-9A-Za-z_])|(?<![0-9A-Za-z_])(?=[0-9A-Za-z_]))";
/// ASCII non-boundary (`\B`) for `fancy_regex` on text.
const ASCII_NON_BOUNDARY: &str = r"(?-i:(?<=[0-9A-Za-z_])(?=[0-9A-Za-z_])|(?<![0-9A-Za-z_])(?![0-9A-Za-z_]))";

impl Tr<'_> {
    /// Escapes that stand for one byte, in and out of classes: `\xHH`,
    /// `\x{…}`, `\o{…}`, `\cX`, octal, `\e`, `\a`, `\f`, `\n`, `\r`, `\t`
    /// (and `\b` in a class). `self.i` is at the backslash and moves past it.
    pub(super) fn byte_escape(&mut self, in_class: bool) -> Result<Option<u8>, CompileError> {
        let Some(c) = self.at(1) else { return Ok(None) };
        let simple = match c {
            b'e' => Some(0x1b),
            b'a' => Some(0x07),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'b' if in_class => Some(0x08),
            _ => None,
        };
        if let Some(b) = simple {
            self.i += 2;
            return Ok(Some(b));
        }
        let at = self.i + 2;
        let rest = self.rest(2);
        let count = |pred: fn(&u8) -> bool, skip: usize| rest.iter().skip(skip).take_while(|b| pred(b)).count();
        let number = |from: usize, n: usize, radix: u32| {
            let digits = std::str::from_utf8(rest.get(from..from + n).unwrap_or_default()).unwrap_or("");
            if n == 0 { Some(0) } else { u32::from_str_radix(digits, radix).ok() }
        };
        let octal = |b: &u8| (b'0'..=b'7').contains(b);
        let (value, len) = match c {
            b'x' | b'o' if rest.first() == Some(&b'{') => {
                let (digit, what): (fn(&u8) -> bool, _) = if c == b'x' {
                    (u8::is_ascii_hexdigit, "non-hex character in \\x{} (closing brace missing?)")
                } else {
                    (octal, "non-octal character in \\o{} (closing brace missing?)")
                };
                let n = count(digit, 1);
                if n == 0 || rest.get(n + 1) != Some(&b'}') {
                    return Err(err(at + 1 + n, what));
                }
                (number(1, n, if c == b'x' { 16 } else { 8 }), n + 2)
            }
            b'o' => return Err(err(self.i + 1, "missing opening brace after \\o")),
            b'x' => {
                let n = count(u8::is_ascii_hexdigit, 0).min(2);
                (number(0, n, 16), n)
            }
            b'0'..=b'7' if c == b'0' || in_class => {
                let n = count(octal, 0).min(2);
                let digits = std::str::from_utf8(self.src.get(at - 1..at + n).unwrap_or_default()).unwrap_or("");
                let value = u32::from_str_radix(digits, 8).ok();
                if value.is_none_or(|v| v > 0xff) {
                    return Err(err(at + n - 1, "octal value is greater than \\377 in 8-bit non-UTF-8 mode"));
                }
                (value, n)
            }
            b'c' => match rest.first() {
                None => return Err(err(at, "\\c at end of pattern")),
                Some(x) if !x.is_ascii() => {
                    return Err(err(at, "\\c must be followed by an ASCII character"));
                }
                Some(x) => (Some(u32::from(x.to_ascii_uppercase() ^ 0x40)), 1),
            },
            _ => return Ok(None),
        };
        let byte = value.and_then(|v| u8::try_from(v).ok());
        let byte = byte.ok_or_else(|| err(at + len - 1, "character value in \\x{} or \\o{} is too large"))?;
        self.i = at + len;
        Ok(Some(byte))
    }

    /// An escape outside a class; `self.i` is at the backslash.
    pub(super) fn escape(&mut self) -> Result<(), CompileError> {
        let start = self.i;
        if let Some(b) = self.byte_escape(false)? {
            self.literal(b, start);
            return Ok(());
        }
        let Some(c) = self.at(1) else {
            return Err(err(self.src.len(), "\\ at end of pattern"));
        };
        if self.unicode
            && let Some((text, atom)) = self.unicode_escape(c)?
        {
            self.token(&text, 2, atom);
            return Ok(());
        }
        let simple = match c {
            b'd' | b'D' | b's' | b'S' | b'w' | b'W' => Some((format!("\\{}", c as char), true)),
            b'b' | b'B' | b'A' | b'z' => Some((format!("\\{}", c as char), false)),
            b'G' => Some((r"\A".into(), false)),
            b'h' => Some((r"[\x09\x20\xA0]".into(), true)),
            b'H' => Some((r"[^\x09\x20\xA0]".into(), true)),
            b'v' => Some((r"[\x0A-\x0D\x85]".into(), true)),
            b'V' => Some((r"[^\x0A-\x0D\x85]".into(), true)),
            b'R' => Some((r"(?:\x0D\x0A|[\x0A-\x0D\x85])".into(), true)),
            b'C' => Some(("(?s:.)".into(), true)),
            b'N' if self.at(2) != Some(b'{') || self.counted_repeat(self.i + 2)?.is_some() => {
                Some((r"[^\x0A]".into(), true))
            }
            _ => None,
        };
        if let Some((text, atom)) = simple {
            self.token(&text, 2, atom);
            return Ok(());
        }
        match c {
            b'Z' => self.dollar(false, 2),
            b'E' => self.i += 2,
            b'Q' => {
                self.i += 2;
                while let Some(b) = self.at(0) {
                    if b == b'\\' && self.at(1) == Some(b'E') {
                        self.i += 2;
                        break;
                    }
                    self.literal(b, self.i);
                    self.i += 1;
                }
            }
            b'1'..=b'9' => self.numbered_escape()?,
            b'g' => self.g_reference()?,
            b'k' => {
                let close = match self.at(2) {
                    Some(b'<') => b'>',
                    Some(b'\'') => b'\'',
                    Some(b'{') => b'}',
                    _ => {
                        return Err(err(start + 1, "\\k is not followed by a braced, angle-bracketed, or quoted name"));
                    }
                };
                let text = self.reference_name(3, close)?;
                self.emit(&text, start);
                self.can_repeat = true;
            }
            b'K' | b'X' | b'p' | b'P' => {
                self.t.needs_backtracking = true;
                let n = if self.at(2) == Some(b'{') {
                    self.rest(2).iter().position(|&b| b == b'}').map_or(0, |p| p + 1)
                } else {
                    0
                };
                let text = format!("\\{}", String::from_utf8_lossy(self.rest(1).get(..1 + n).unwrap_or_default()));
                self.token(&text, 2 + n, c != b'K');
            }
            b'u' | b'U' | b'l' | b'L' | b'N' => {
                return Err(err(start + 1, UNSUPPORTED));
            }
            // PCRE 1: any other escaped character stands for itself.
            _ => {
                self.literal(c, start);
                self.i += 2;
            }
        }
        Ok(())
    }

    /// Unicode version of the escapes whose byte version does not fit a
    /// text engine in Unicode mode; `None` for the others.
    fn unicode_escape(&mut self, c: u8) -> Result<Option<(String, bool)>, CompileError> {
        let text = match c {
            b'd' | b'D' | b's' | b'S' | b'w' | b'W' | b'h' | b'H' | b'v' | b'V' => {
                self.class_text(&[Item::Set(Set::Escape(c), 0)], false)
            }
            b'N' if self.at(2) != Some(b'{') || self.counted_repeat(self.i + 2)?.is_some() => {
                self.class_text(&[Item::Byte(0x0a, 0)], true)
            }
            b'R' => format!(r"(?:\r\n|{})", self.class_text(&[Item::Range(0x0a, 0x0d), Item::Byte(0x85, 0)], false)),
            b'C' => {
                self.t.differs = true;
                "(?s:.)".into()
            }
            b'b' | b'B' if !self.backtracking => return Ok(Some((format!(r"(?-u:\{})", c as char), false))),
            b'b' => return Ok(Some((ASCII_BOUNDARY.into(), false))),
            b'B' => return Ok(Some((ASCII_NON_BOUNDARY.into(), false))),
            // Unicode tables or grapheme clusters: no byte meaning to keep.
            b'X' | b'p' | b'P' => {
                self.broken = true;
                return Ok(None);
            }
            _ => return Ok(None),
        };
        Ok(Some((text, true)))
    }

    /// `\1`…: a backreference, or else `\8`/`\9` literally or an octal byte.
    fn numbered_escape(&mut self) -> Result<(), CompileError> {
        let start = self.i;
        let digits = self.rest(1).iter().take_while(|b| b.is_ascii_digit()).count();
        let text = std::str::from_utf8(self.rest(1).get(..digits).unwrap_or_default()).unwrap_or("");
        let n = text.parse::<usize>().unwrap_or(usize::MAX);
        if n < 8 || n <= self.captures {
            self.max_backref = self.max_backref.max(n);
            self.t.needs_backtracking = true;
            self.token(&format!(r"(?:\{n})"), 1 + digits, true);
            return Ok(());
        }
        let first = self.at(1).unwrap_or(b'0');
        if first >= b'8' {
            self.literal(first, start);
            self.i += 2;
            return Ok(());
        }
        let n = self.rest(1).iter().take(3).take_while(|b| (b'0'..=b'7').contains(b)).count();
        let digits = std::str::from_utf8(self.rest(1).get(..n).unwrap_or_default()).unwrap_or("");
        let value = u8::try_from(u32::from_str_radix(digits, 8).unwrap_or(u32::MAX));
        let value = value.map_err(|_| err(start + n, "octal value is greater than \\377 in 8-bit non-UTF-8 mode"))?;
        self.literal(value, start);
        self.i += 1 + n;
        Ok(())
    }

    /// `\gN`, `\g{N}`, `\g{-N}`, `\g{name}`; `\g<…>` subroutine calls go to the backtracker.
    fn g_reference(&mut self) -> Result<(), CompileError> {
        let start = self.i;
        let close = match self.at(2) {
            Some(b'<') => Some(b'>'),
            Some(b'\'') => Some(b'\''),
            _ => None,
        };
        if let Some(close) = close {
            let n = self.rest(3).iter().position(|&b| b == close).map_or(0, |p| p + 1);
            let text = format!("\\{}", String::from_utf8_lossy(self.rest(1).get(..2 + n).unwrap_or_default()));
            self.t.needs_backtracking = true;
            self.token(&text, 3 + n, true);
            return Ok(());
        }
        let braced = usize::from(self.at(2) == Some(b'{'));
        let body = self.rest(2 + braced);
        let sign = usize::from(matches!(body.first(), Some(b'-' | b'+')));
        let digits = body.iter().skip(sign).take_while(|b| b.is_ascii_digit()).count();
        if braced == 1 && sign + digits == 0 {
            let text = self.reference_name(3, b'}')?;
            self.emit(&text, start);
            self.can_repeat = true;
            return Ok(());
        }
        let len = 2 + braced + sign + digits + braced;
        let last = start + len - 1;
        if digits == 0 || (braced == 1 && body.get(sign + digits) != Some(&b'}')) {
            return Err(err(start + 1, ZERO_REFERENCE));
        }
        let text = std::str::from_utf8(body.get(sign..sign + digits).unwrap_or_default()).unwrap_or("");
        let n = text.parse::<usize>().unwrap_or(usize::MAX);
        let n = match body.first() {
            Some(b'-') if n > self.captures => return Err(err(last, NON_EXISTENT)),
            Some(b'-') => self.captures + 1 - n,
            _ => n,
        };
        if n == 0 {
            return Err(err(last, ZERO_REFERENCE));
        }
        self.max_backref = self.max_backref.max(n);
        self.t.needs_backtracking = true;
        self.token(&format!(r"(?:\{n})"), len, true);
        Ok(())
    }
}
