//! PCRE (ivy-c dialect: libpcre 8.x, options 0, no UTF-8) → `regex`-crate syntax.
//!
//! The output is plain ASCII that `regex::bytes` (Unicode off) and
//! `fancy_regex` (`BytesMode::Ascii`) read exactly as PCRE reads the source:
//! bytes ≥ 0x80 and control bytes become `\xHH`, classes are rebuilt item by
//! item, a `{` that is not a counted repeat is escaped, `\Q…\E` and `(?#…)`
//! are resolved, PCRE-only escapes are expanded, and `$`/`\Z` keep PCRE's
//! "end, or before a final LF" meaning. The pass also finds the usual PCRE
//! compile errors and reports them with PCRE's text and offset.
//!
//! Checked against libpcre 8.39 on ~10^5 random patterns: same matches, same
//! captures and (all but a few exotic cases) the same error text and offset.
//! Known divergences, all rare in Ivy subscriptions:
//! - a `$`/`\Z` ending a top-level branch consumes a final LF (only group 0,
//!   which Ivy never sends, sees it);
//! - multi-line `^` also matches after a final LF;
//! - a loop whose last iteration matched the empty string, like `(a|)*`,
//!   keeps the capture of the previous iteration (PCRE reports it empty);
//! - rejected: quantified look-arounds, branch reset `(?|`, verbs `(*…)`,
//!   callouts, forward named references, `\p`/`\P` (no Unicode tables on bytes);
//! - accepted: variable-length look-behind.
//!
//! [`translate_unicode`] writes a second version of the same pattern, run on
//! messages that are valid UTF-8 (and not plain ASCII), so that no capture
//! ends inside a character (ivy-python's handler dies on such a Msg). It is
//! for `regex::Regex` and `fancy_regex` on `&str`, Unicode mode on: `.`,
//! negated classes and `\D`, `\S`, `\W`, `\H`, `\V`, `\N`, `\R`, `\C` take whole
//! characters; everything else keeps the byte meaning: `\d`, `\w`, `\s`, `\b`
//! and POSIX classes are ASCII (written as explicit ASCII classes), `(?i)`
//! folds ASCII letters only (never `k` to U+212A KELVIN SIGN, nor `é` to `É`).
//! Literal bytes ≥ 0x80 (raw or escaped) must form UTF-8 characters, which
//! then count as one atom (`é+` repeats `é`, as in PCRE's UTF-8 mode and
//! Python); `\xA0` (`\h`) and `\x85` (`\v`, `\R`) mean U+00A0 and U+0085.

mod class;
mod escape;

use super::CompileError;

/// Largest count PCRE accepts in a `{n,m}` quantifier.
pub const MAX_REPEAT_COUNT: u32 = 65_535;

/// Result of [`translate`].
#[derive(Debug)]
pub(crate) struct Translated {
    /// The pattern in `regex`-crate syntax (pure ASCII in the byte version).
    pub pattern: String,
    /// `origin[j]`: offset in the source of the construct that produced byte `j`.
    pub origin: Vec<usize>,
    /// Uses something only the backtracking engine does right (possessive
    /// quantifiers, backreferences, atomic groups, recursion…).
    pub needs_backtracking: bool,
    /// Has a `|` outside every group.
    pub top_level_alternation: bool,
    /// Turns on extended mode (`x`) somewhere.
    pub extended: bool,
    /// Unicode version only: something in it may match a UTF-8 message
    /// differently from the byte version (`.`, a negated class, a non-ASCII
    /// literal…). Without it, every atom matches ASCII only and both versions
    /// give the same captures.
    pub differs: bool,
}

#[derive(Clone, Copy, Default)]
struct Flags {
    multiline: bool,
    extended: bool,
    caseless: bool,
}

struct Tr<'a> {
    src: &'a [u8],
    i: usize,
    t: Translated,
    /// Flags to restore at each open group's `)`.
    frames: Vec<Flags>,
    flags: Flags,
    can_repeat: bool,
    captures: usize,
    names: Vec<Vec<u8>>,
    /// Named references and where PCRE blames them if the name is unknown.
    named_refs: Vec<(Vec<u8>, usize)>,
    max_backref: usize,
    /// Writing the Unicode version ([`translate_unicode`]).
    unicode: bool,
    /// Unicode version for `fancy_regex` (no `(?-u:\b)` there).
    backtracking: bool,
    /// Unicode version: bytes ≥ 0x80 of a character not yet complete.
    pending: Vec<u8>,
    /// Unicode version: the pattern has no character reading (invalid UTF-8,
    /// a lone byte escape, a construct split inside a character…).
    broken: bool,
}

const NON_EXISTENT: &str = "reference to non-existent subpattern";
const ZERO_REFERENCE: &str = "a numbered reference must not be zero";
const UNSUPPORTED: &str = "PCRE does not support \\L, \\l, \\N{name}, \\U, or \\u";

fn err(offset: usize, message: &str) -> CompileError {
    CompileError { offset: i32::try_from(offset).unwrap_or(i32::MAX), message: message.to_owned() }
}

/// `\xHH`: valid for any byte, in a class or outside one.
fn hex(b: impl Into<u32>) -> String {
    format!("\\x{:02X}", b.into())
}

fn is_name_byte(b: &u8) -> bool {
    b.is_ascii_alphanumeric() || *b == b'_'
}

fn translator(src: &[u8], unicode: bool, backtracking: bool) -> Tr<'_> {
    Tr {
        src,
        i: 0,
        t: Translated {
            pattern: String::with_capacity(src.len() + 8),
            origin: Vec::with_capacity(src.len() + 8),
            needs_backtracking: false,
            top_level_alternation: false,
            extended: false,
            differs: false,
        },
        frames: Vec::new(),
        flags: Flags::default(),
        can_repeat: false,
        captures: 0,
        names: Vec::new(),
        named_refs: Vec::new(),
        max_backref: 0,
        unicode,
        backtracking,
        pending: Vec::new(),
        broken: false,
    }
}

/// Translates `src`, or reports the PCRE error it would get.
pub(crate) fn translate(src: &[u8]) -> Result<Translated, CompileError> {
    let mut tr = translator(src, false, false);
    tr.run()?;
    Ok(tr.t)
}

/// The Unicode version of `src` (see the module doc), for `fancy_regex` if
/// `backtracking`, else for `regex`; `None` if `src` has no character reading.
/// Call it only on a source that [`translate`] accepts.
pub(crate) fn translate_unicode(src: &[u8], backtracking: bool) -> Option<Translated> {
    let mut tr = translator(src, true, backtracking);
    let done = tr.run();
    (done.is_ok() && !tr.broken && tr.pending.is_empty()).then_some(tr.t)
}

impl Tr<'_> {
    fn at(&self, k: usize) -> Option<u8> {
        self.src.get(self.i + k).copied()
    }

    fn rest(&self, k: usize) -> &[u8] {
        self.src.get(self.i + k..).unwrap_or_default()
    }

    fn emit(&mut self, s: &str, from: usize) {
        // Something between the bytes of a character: no character reading.
        self.broken |= !self.pending.is_empty();
        self.t.pattern.push_str(s);
        self.t.origin.extend(std::iter::repeat_n(from, s.len()));
    }

    /// A literal byte outside a class.
    fn literal(&mut self, b: u8, from: usize) {
        if self.unicode {
            self.can_repeat = true;
            if b >= 0x80 || !self.pending.is_empty() {
                return self.utf8_byte(b, from);
            }
            // Unicode simple case folding also pairs `k` with U+212A and `s` with U+017F.
            if self.flags.caseless && matches!(b, b'k' | b'K' | b's' | b'S') {
                let lower = b.to_ascii_lowercase();
                let text = format!("(?-i:[{}{}])", lower.to_ascii_uppercase() as char, lower as char);
                return self.emit(&text, from);
            }
        }
        let s = match b {
            b'.' | b'+' | b'*' | b'?' | b'(' | b')' | b'|' | b'[' | b']' | b'{' | b'}' | b'^' | b'$' | b'#' | b'&'
            | b'-' | b'~' | b'\\' => format!("\\{}", b as char),
            0x21..=0x7e => (b as char).to_string(),
            _ => hex(b),
        };
        self.emit(&s, from);
        self.can_repeat = true;
    }

    /// Unicode version: one byte of a literal character (outside a class).
    fn utf8_byte(&mut self, b: u8, from: usize) {
        if b < 0x80 {
            self.broken = true;
            return;
        }
        let Some(c) = self.push_utf8(b) else { return };
        self.t.differs = true;
        // `regex` and `fancy_regex` skip Unicode white space in extended mode; PCRE does not.
        let mut text =
            if self.flags.extended && c.is_whitespace() { format!("\\x{{{:X}}}", u32::from(c)) } else { c.to_string() };
        if self.flags.caseless {
            text = format!("(?-i:{text})");
        }
        self.emit(&text, from);
    }

    /// Unicode version: adds `b` (≥ 0x80) to the pending character and
    /// returns the character once complete; an invalid sequence breaks the
    /// translation.
    fn push_utf8(&mut self, b: u8) -> Option<char> {
        self.pending.push(b);
        match std::str::from_utf8(&self.pending) {
            Ok(s) => {
                let c = s.chars().next();
                self.pending.clear();
                c
            }
            Err(e) => {
                self.broken |= e.error_len().is_some();
                None
            }
        }
    }

    /// Emits `text` for the `len` source bytes at `self.i`.
    fn token(&mut self, text: &str, len: usize, atom: bool) {
        self.emit(text, self.i);
        self.i += len;
        self.can_repeat = atom;
    }

    fn run(&mut self) -> Result<(), CompileError> {
        while let Some(c) = self.at(0) {
            if self.broken {
                return Ok(());
            }
            match c {
                b'\\' => self.escape()?,
                b'[' => self.class()?,
                b'(' => self.open()?,
                b')' => {
                    self.flags = self.frames.pop().ok_or_else(|| err(self.i, "unmatched parentheses"))?;
                    self.token(")", 1, true);
                }
                b'|' => {
                    self.t.top_level_alternation |= self.frames.is_empty();
                    self.token("|", 1, false);
                }
                b'*' | b'+' | b'?' => self.quantifier(1)?,
                b'{' => match self.counted_repeat(self.i)? {
                    Some(len) => self.quantifier(len)?,
                    None => {
                        self.literal(c, self.i);
                        self.i += 1;
                    }
                },
                b'^' => self.token("^", 1, false),
                b'$' => self.dollar(true, 1),
                b'.' => {
                    self.t.differs |= self.unicode;
                    self.token(".", 1, true);
                }
                b'#' if self.flags.extended => {
                    while self.at(0).is_some_and(|b| b != b'\n') {
                        self.i += 1;
                    }
                }
                // Ignored by both engines too; kept so that tokens stay apart.
                b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' if self.flags.extended => {
                    let atom = self.can_repeat;
                    self.token(if c == b' ' { " " } else { "\n" }, 1, atom);
                }
                _ => {
                    self.literal(c, self.i);
                    self.i += 1;
                }
            }
        }
        if !self.frames.is_empty() {
            return Err(err(self.src.len(), "missing )"));
        }
        if let Some((_, at)) = self.named_refs.iter().find(|(name, _)| !self.names.contains(name)) {
            return Err(err(*at, NON_EXISTENT));
        }
        if self.max_backref > self.captures {
            return Err(err(self.src.len(), NON_EXISTENT));
        }
        Ok(())
    }

    /// `$` (`multiline_applies`) or `\Z`, `len` source bytes. At the end of
    /// a top-level branch it may consume the final LF (only group 0 sees it,
    /// and the linear engine can run it); elsewhere it is a look-ahead.
    fn dollar(&mut self, multiline_applies: bool, len: usize) {
        let branch_end = self.frames.is_empty() && matches!(self.at(len), None | Some(b'|'));
        let text = if multiline_applies && self.flags.multiline {
            "$"
        } else if branch_end {
            r"(?:\n?\z)"
        } else {
            r"(?=\n?\z)"
        };
        self.token(text, len, false);
    }

    /// A quantifier of `len` bytes at `self.i`, with its lazy/possessive suffix.
    fn quantifier(&mut self, len: usize) -> Result<(), CompileError> {
        if !self.can_repeat {
            return Err(err(self.i + len - 1, "nothing to repeat"));
        }
        let text = String::from_utf8_lossy(self.rest(0).get(..len).unwrap_or_default()).into_owned();
        self.token(&text, len, false);
        match self.at(0) {
            Some(b'?') => self.token("?", 1, false),
            Some(b'+') => {
                self.t.needs_backtracking = true;
                self.token("+", 1, false);
            }
            _ => {}
        }
        Ok(())
    }

    /// Length of a PCRE counted repeat `{n}`, `{n,}` or `{n,m}` at `at`.
    fn counted_repeat(&self, at: usize) -> Result<Option<usize>, CompileError> {
        let rest = self.src.get(at + 1..).unwrap_or_default();
        let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
        let (n1, after) = (digits(rest), rest.get(digits(rest)..).unwrap_or_default());
        let n2 = match after {
            _ if n1 == 0 => return Ok(None),
            [b'}', ..] => None,
            [b',', b'}', ..] => Some(0),
            [b',', more @ ..] if digits(more) > 0 && more.get(digits(more)) == Some(&b'}') => Some(digits(more)),
            _ => return Ok(None),
        };
        let len = 2 + n1 + n2.map_or(0, |n| n + 1);
        let close = at + len - 1;
        let number = |s: &[u8]| {
            let n = std::str::from_utf8(s).ok().and_then(|s| s.parse::<u32>().ok());
            n.filter(|&n| n <= MAX_REPEAT_COUNT).ok_or_else(|| err(close, "number too big in {} quantifier"))
        };
        let lo = number(rest.get(..n1).unwrap_or_default())?;
        if let Some(n2 @ 1..) = n2 {
            let hi = number(rest.get(n1 + 1..n1 + 1 + n2).unwrap_or_default())?;
            if hi < lo {
                return Err(err(close, "numbers out of order in {} quantifier"));
            }
        }
        Ok(Some(len))
    }

    fn push_group(&mut self, text: &str, len: usize) {
        self.frames.push(self.flags);
        self.token(text, len, false);
    }

    fn open(&mut self) -> Result<(), CompileError> {
        if self.at(1) != Some(b'?') {
            self.captures += 1;
            self.push_group("(", 1);
            return Ok(());
        }
        match (self.at(2), self.at(3)) {
            (Some(b'#'), _) => {
                let close = self.rest(0).iter().position(|&b| b == b')');
                self.i += close.ok_or_else(|| err(self.src.len(), "missing ) after comment"))? + 1;
            }
            (Some(b':'), _) => self.push_group("(?:", 3),
            (Some(b'>'), _) => {
                self.t.needs_backtracking = true;
                self.push_group("(?>", 3);
            }
            (Some(b'='), _) => self.push_group("(?=", 3),
            (Some(b'!'), _) => self.push_group("(?!", 3),
            (Some(b'<'), Some(b'=')) => self.push_group("(?<=", 4),
            (Some(b'<'), Some(b'!')) => self.push_group("(?<!", 4),
            (Some(b'<'), _) => self.named_group(3, b'>')?,
            (Some(b'P'), Some(b'<')) => self.named_group(4, b'>')?,
            (Some(b'\''), _) => self.named_group(3, b'\'')?,
            (Some(b'P'), Some(b'=')) => {
                let text = self.reference_name(4, b')')?;
                self.token(&text, 0, true);
            }
            (Some(b'i' | b'm' | b's' | b'x' | b'U' | b'X' | b'J' | b')'), _) => self.flag_group()?,
            (Some(b'-'), Some(d)) if !d.is_ascii_digit() => self.flag_group()?,
            (Some(b'+'), d) if !d.is_some_and(|d| d.is_ascii_digit()) => {
                return Err(err((self.i + 3).min(self.src.len()), "digit expected after (?+"));
            }
            (Some(b'R' | b'&' | b'+' | b'-' | b'0'..=b'9'), _) | (Some(b'P'), Some(b'>')) => {
                // Recursion and subroutine calls: passed whole to the backtracker.
                let len = self.rest(0).iter().position(|&b| b == b')');
                let len = len.ok_or_else(|| err(self.src.len(), "missing )"))? + 1;
                let text = String::from_utf8_lossy(self.rest(0).get(..len).unwrap_or_default()).into_owned();
                self.t.needs_backtracking = true;
                self.token(&text, len, true);
            }
            (Some(b'|' | b'(' | b'C'), _) => {
                // Branch reset, conditionals, callouts: the backtracker's business.
                self.t.needs_backtracking = true;
                self.push_group("(?", 2);
            }
            _ => {
                return Err(err((self.i + 2).min(self.src.len()), "unrecognized character after (? or (?-"));
            }
        }
        Ok(())
    }

    /// `(?<name>`, `(?P<name>` or `(?'name'`; the name starts at `self.i + skip`.
    fn named_group(&mut self, skip: usize, close: u8) -> Result<(), CompileError> {
        let start = self.i + skip;
        let rest = self.rest(skip);
        let len = rest.iter().take_while(|b| is_name_byte(b)).count();
        let name = rest.get(..len).unwrap_or_default().to_vec();
        match name.first() {
            None => return Err(err(start, "unrecognized character after (?<")),
            Some(b) if b.is_ascii_digit() => {
                return Err(err(start, "group name must start with a non-digit"));
            }
            _ if rest.get(len) != Some(&close) => {
                return Err(err(start + len, "syntax error in subpattern name (missing terminator)"));
            }
            _ if self.names.contains(&name) => {
                return Err(err(start + len, "two named subpatterns have the same name"));
            }
            _ => {}
        }
        let text = format!("(?P<{}>", String::from_utf8_lossy(&name));
        self.names.push(name);
        self.captures += 1;
        self.push_group(&text, skip + len + 1);
        Ok(())
    }

    /// A named backreference whose name starts at `self.i + skip` and ends with `close`.
    fn reference_name(&mut self, skip: usize, close: u8) -> Result<String, CompileError> {
        let rest = self.rest(skip);
        let len = rest.iter().take_while(|b| is_name_byte(b)).count();
        let start = self.i + skip;
        if len == 0 {
            return Err(err(start, "subpattern name expected"));
        }
        if rest.get(len) != Some(&close) {
            return Err(err(start + len, "syntax error in subpattern name (missing terminator)"));
        }
        let name = rest.get(..len).unwrap_or_default().to_vec();
        let text = format!(r"(?:\k<{}>)", String::from_utf8_lossy(&name));
        self.named_refs.push((name, start + len));
        self.t.needs_backtracking = true;
        self.i = start + len + 1;
        Ok(text)
    }

    /// `(?flags)` or `(?flags:`.
    fn flag_group(&mut self) -> Result<(), CompileError> {
        let rest = self.rest(2);
        let len = rest.iter().take_while(|b| b"imsxUXJ-".contains(b)).count();
        let end = rest.get(len).copied();
        if !matches!(end, Some(b')' | b':')) {
            return Err(err((self.i + 2 + len).min(self.src.len()), "unrecognized character after (? or (?-"));
        }
        let (mut on, mut off, mut negative) = (String::new(), String::new(), false);
        let mut flags = self.flags;
        for &b in rest.get(..len).unwrap_or_default() {
            match b {
                b'-' => negative = true,
                // PCRE-only flags without effect here.
                b'X' | b'J' => {}
                _ => {
                    match b {
                        b'm' => flags.multiline = !negative,
                        b'x' => flags.extended = !negative,
                        b'i' => flags.caseless = !negative,
                        _ => {}
                    }
                    if negative { &mut off } else { &mut on }.push(b as char);
                }
            }
        }
        self.t.extended |= flags.extended;
        let mut text = format!("(?{on}");
        if !off.is_empty() {
            text = format!("{text}-{off}");
        }
        if end == Some(b')') {
            let text = if text.len() > 2 { text + ")" } else { String::new() };
            self.token(&text, len + 3, false);
        } else {
            self.push_group(&(text + ":"), len + 3);
        }
        self.flags = flags;
        Ok(())
    }
}
