//! A compiled Ivy regexp: the linear `regex` engine when it can, the
//! backtracking `fancy_regex` engine (with a step budget) when it must.
//!
//! Matching is on bytes, as ivy-c's PCRE does, except on a message that is
//! valid UTF-8 and not all ASCII: there a second, Unicode version of the
//! pattern runs on the text, so that `.` or `[^…]` take a whole character and
//! no capture ends inside one (an ivy-python subscriber's handler dies on a
//! Msg that is not UTF-8). It keeps every other byte meaning (ASCII `\d`,
//! `\w`, `\s`, `\b`, POSIX classes, ASCII-only `(?i)`); see
//! [`super::translate::translate_unicode`]. A pattern whose literal bytes are
//! not UTF-8 has no such version and always matches bytes.
//!
//! The usual Ivy subscription, `^LITERAL(.*)` (or `^LITERAL`, with or without
//! a final `$`), runs no regex at all: see [`LiteralShape`].

use super::cost::{Weight, weight};
use super::prefix::{literal_prefix, literal_shape};
use super::translate::{Translated, translate, translate_unicode};
use crate::wire::{LF, find_byte};
use regex_automata::util::{captures::Captures, syntax};
use regex_automata::{Anchored, Input, MatchKind, meta};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Compiled-program size limit of the linear engine (and of each part the
/// backtracking engine hands to it), in bytes (`size_limit`): about 10 000
/// states, enough for the longest regexp a peer may send (8 KiB) written as
/// a literal. What a peer's regexps may add up to is bounded separately
/// (`engine::Limits::max_states_per_peer`).
pub const REGEX_SIZE_LIMIT: usize = 320 << 10;
/// Lazy-DFA cache limit of the linear engine, in bytes (`dfa_size_limit`):
/// what one pattern's cache may grow to once it has run.
pub const REGEX_DFA_SIZE_LIMIT: usize = 256 << 10;
/// What a pattern's search cache (see [`CaptureSlots`]) may keep between
/// searches: a search that grows it past this drops it, so that a pattern
/// whose lazy DFA blows up holds its memory only while it runs.
pub const CACHE_KEEP: usize = 16 << 10;
/// Step budget of one search with the backtracking engine (patterns with
/// look-around, backreferences, possessive or atomic parts). A search that
/// runs out of it (a few milliseconds) counts as no match: a hostile pattern
/// cannot stall the sender. Each start position tried costs steps too, so
/// such a pattern without a leading `^` may miss a match that starts a few
/// KiB into a message. A peer holds at most
/// [`crate::engine::Limits::max_backtracking_per_peer`] such patterns.
pub const BACKTRACK_LIMIT: usize = 125_000;
/// Instruction limit of a backtracking program (`max_prog_size`).
pub const BACKTRACK_PROG_LIMIT: usize = 10_000;

/// A regexp that neither engine accepts, with ivy-c-like (PCRE) text and offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Byte offset in the source (PCRE's `erroffset`), sent as the Error id.
    pub offset: i32,
    /// PCRE-style message, e.g. `missing )`.
    pub message: String,
}

/// How a pattern runs.
#[derive(Debug)]
enum Matcher {
    /// A [`LiteralShape`]: no engine is built (neither memory nor compile time).
    Shape(LiteralShape),
    Engine(Engine),
}

/// A compiled version of a pattern: on bytes, or (the Unicode version) on text.
#[derive(Debug)]
enum Engine {
    Linear(meta::Regex),
    Backtrack(fancy_regex::Regex),
}

/// The Unicode version's source, compiled on the first message that needs
/// it (`None` inside if it does not compile: the byte version runs instead).
#[derive(Debug)]
struct Unicode {
    pattern: Box<str>,
    engine: OnceLock<Option<Engine>>,
}

/// A pattern that is a literal anchored at the start, then optionally `(.*)`,
/// then optionally a final `$` (`^LITERAL`, `^LITERAL$`, `^LITERAL(.*)`,
/// `^LITERAL(.*)$`): matched without running a regex. Found by
/// [`literal_shape`] on the byte translation, so only when certain.
///
/// `.` takes any byte but LF, so `(.*)` is the rest of the message up to its
/// first LF. In a valid UTF-8 message that is whole characters (the literal
/// is whole characters whenever a Unicode version exists, see the module
/// doc), which is what the Unicode version would capture too. `$` (PCRE's
/// "end, or before a final LF") holds when nothing but an optional final LF
/// is left.
#[derive(Debug)]
pub(crate) struct LiteralShape {
    /// The bytes the message must start with.
    pub literal: Box<[u8]>,
    /// Followed by `(.*)`, the only group.
    pub rest: bool,
    /// Ends with `$` (or `\Z`).
    pub end: bool,
}

impl LiteralShape {
    /// The span of `(.*)` (empty at the end of the literal without it) on a match.
    fn run(&self, message: &[u8]) -> Option<(usize, usize)> {
        let tail = message.strip_prefix(&*self.literal)?;
        let start = self.literal.len();
        let len = if self.rest { find_byte(tail, LF).unwrap_or(tail.len()) } else { 0 };
        // `$` after the capture: the end, or a final LF.
        if self.end && !matches!(tail.get(len..), Some([] | [b'\n'])) {
            return None;
        }
        Some((start, start + len))
    }
}

/// The linear engine's cache and capture storage for one pattern and version.
#[derive(Debug)]
struct Scratch {
    /// The [`Pattern::id`] they were made for.
    owner: u64,
    cache: meta::Cache,
    caps: Captures,
}

/// Search state kept between searches of one pattern (the linear engine's
/// cache and captures), so that a match allocates nothing (see
/// [`Pattern::capture_spans`]). Kept by its owner, not inside the pattern, so
/// that its memory is visible and bounded ([`CACHE_KEEP`]).
#[derive(Debug, Default)]
pub struct CaptureSlots {
    // Boxed: a cache is over a kilobyte even when unused, and slots live in tables.
    bytes: Option<Box<Scratch>>,
    text: Option<Box<Scratch>>,
}

impl CaptureSlots {
    /// Heap bytes the caches hold now (at most about [`CACHE_KEEP`] per version between searches).
    pub fn memory_usage(&self) -> usize {
        [&self.bytes, &self.text].into_iter().flatten().map(|s| s.cache.memory_usage()).sum()
    }
}

/// Source of [`Pattern::id`].
static NEXT_PATTERN_ID: AtomicU64 = AtomicU64::new(0);

/// The linear engine with the byte (`unicode` false) or text meaning, and our limits.
fn linear(pattern: &str, unicode: bool) -> Result<meta::Regex, Box<meta::BuildError>> {
    let config = meta::Config::new()
        .match_kind(MatchKind::LeftmostFirst)
        .utf8_empty(unicode)
        .nfa_size_limit(Some(REGEX_SIZE_LIMIT))
        .hybrid_cache_capacity(REGEX_DFA_SIZE_LIMIT);
    let syntax = syntax::Config::new().unicode(unicode).utf8(unicode);
    meta::Builder::new().configure(config).syntax(syntax).build(pattern).map_err(Box::new)
}

/// What a linear search runs on: the bytes (or the text's), and whether only a
/// match at their start counts.
#[derive(Clone, Copy)]
struct Hay<'h> {
    text: &'h [u8],
    anchored: bool,
}

/// One search of `re` on `hay` with `scratch` (made anew if it belongs to
/// another pattern); on a match, the spans of groups 1..=`groups` go to
/// `spans` as [`push_spans`] does. A cache grown past [`CACHE_KEEP`] is dropped.
fn linear_search(
    re: &meta::Regex,
    owner: u64,
    hay: Hay<'_>,
    scratch: &mut Option<Box<Scratch>>,
    groups: usize,
    spans: &mut Vec<Option<(usize, usize)>>,
) -> bool {
    if scratch.as_ref().is_none_or(|s| s.owner != owner) {
        *scratch = Some(Box::new(Scratch { owner, cache: re.create_cache(), caps: re.create_captures() }));
    }
    let Some(s) = scratch.as_mut() else { return false };
    let anchored = if hay.anchored { Anchored::Yes } else { Anchored::No };
    let input = Input::new(hay.text).anchored(anchored);
    let hit = if groups == 0 {
        re.is_match_with(&mut s.cache, &input)
    } else {
        re.search_captures_with(&mut s.cache, &input, &mut s.caps);
        s.caps.is_match()
    };
    if hit {
        push_spans(spans, (1..=groups).map(|g| s.caps.get_group(g).map(|m| (m.start, m.end))));
    }
    if s.cache.memory_usage() > CACHE_KEEP {
        *scratch = None;
    }
    hit
}

/// A match of the backtracking engine, on text or on bytes.
trait Span {
    fn span(&self) -> (usize, usize);
}

impl Span for fancy_regex::Match<'_> {
    fn span(&self) -> (usize, usize) {
        (self.start(), self.end())
    }
}

impl Span for fancy_regex::MatchBytes<'_> {
    fn span(&self) -> (usize, usize) {
        (self.start(), self.end())
    }
}

/// One search of a backtracking `re` on `hay` (bytes or text, as `re` was
/// built); spans as [`linear_search`]. A search past its budget is no match.
fn backtrack_search<S>(
    re: &fancy_regex::Regex,
    hay: &S,
    anchored: bool,
    groups: usize,
    spans: &mut Vec<Option<(usize, usize)>>,
) -> bool
where
    S: fancy_regex::Input + ?Sized,
    for<'t> S::Match<'t>: Span,
{
    if groups == 0 && !anchored {
        let hit = re.is_match(hay).unwrap_or(false);
        if hit {
            spans.clear();
        }
        return hit;
    }
    let Ok(Some(caps)) = re.captures(hay) else {
        return false;
    };
    // The leftmost match starts at 0 whenever a match there exists, with the
    // captures it would have: anchoring is a check of where it starts.
    if anchored && caps.get(0).is_none_or(|m| m.span().0 != 0) {
        return false;
    }
    push_spans(spans, (1..=groups).map(|g| caps.get(g).map(|m| m.span())));
    true
}

/// A compiled Ivy (PCRE-style) regexp: case-sensitive, unanchored, on bytes
/// (on characters for a UTF-8 message, see the module doc).
#[derive(Debug)]
pub struct Pattern {
    matcher: Matcher,
    prefix: Option<Box<[u8]>>,
    groups: usize,
    /// Only when it can match a UTF-8 message differently from the engine.
    unicode: Option<Box<Unicode>>,
    /// See [`Pattern::states`].
    states: u64,
    /// See [`Pattern::may_be_quadratic`].
    quadratic: bool,
    /// Unique in the process: tells whose [`CaptureSlots`] are whose.
    id: u64,
}

/// A message, checked once for UTF-8, to match against any number of patterns.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'m> {
    bytes: &'m [u8],
    /// The message as text, when valid UTF-8 and not all ASCII: the only
    /// messages that the Unicode version of a pattern runs on.
    text: Option<&'m str>,
    /// Only a match that starts at the message's start counts (ivy-python's `re.match`).
    anchored: bool,
}

impl<'m> Subject<'m> {
    /// Checks `message` (a few ns for a short one).
    pub fn new(message: &'m [u8]) -> Subject<'m> {
        let text = if message.is_ascii() { None } else { std::str::from_utf8(message).ok() };
        Subject { bytes: message, text, anchored: false }
    }

    /// The message.
    pub fn bytes(&self) -> &'m [u8] {
        self.bytes
    }

    /// The message, not checked: for patterns that do not [`Pattern::reads_text`].
    pub fn bytes_only(message: &'m [u8]) -> Subject<'m> {
        Subject { bytes: message, text: None, anchored: false }
    }

    /// The same message, where only a match that starts at its start counts.
    pub fn anchored(self) -> Subject<'m> {
        Subject { anchored: true, ..self }
    }

    /// Whether the message is valid UTF-8 with at least one non-ASCII
    /// character, so that patterns match it character by character.
    pub(crate) fn is_text(&self) -> bool {
        self.text.is_some()
    }
}

fn error(source: &[u8], offset: Option<usize>, message: String) -> CompileError {
    let offset = offset.unwrap_or(source.len());
    CompileError { offset: i32::try_from(offset).unwrap_or(i32::MAX), message }
}

/// The backtracking engine with the byte (`unicode` false) or text meaning, and our limits.
fn fancy(pattern: &str, unicode: bool) -> Result<fancy_regex::Regex, fancy_regex::Error> {
    let mode = if unicode { fancy_regex::BytesMode::Unicode } else { fancy_regex::BytesMode::Ascii };
    fancy_regex::RegexBuilder::new(pattern)
        .bytes_mode(mode)
        .backtrack_limit(BACKTRACK_LIMIT)
        .max_prog_size(BACKTRACK_PROG_LIMIT)
        .delegate_size_limit(REGEX_SIZE_LIMIT)
        .delegate_dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .build()
}

/// PCRE's error for a pattern past the size limits (offset: the pattern's length).
fn too_large(source: &[u8]) -> CompileError {
    error(source, None, "regular expression is too large".into())
}

fn backtracking(t: &Translated, source: &[u8]) -> Result<fancy_regex::Regex, CompileError> {
    fancy(&t.pattern, false).map_err(|e| match e {
        fancy_regex::Error::ParseError(at, kind) => error(source, t.origin.get(at).copied(), kind.to_string()),
        fancy_regex::Error::CompileError(c) => match *c {
            fancy_regex::CompileError::InnerError(inner) if inner.size_limit().is_some() => too_large(source),
            other => error(source, None, other.to_string()),
        },
        other => error(source, None, other.to_string()),
    })
}

#[cfg(test)]
impl<'m> Subject<'m> {
    /// `text` matched as text even if it is all ASCII (tests compare both versions).
    pub(crate) fn text_for_tests(text: &'m str) -> Subject<'m> {
        Subject { bytes: text.as_bytes(), text: Some(text), anchored: false }
    }
}

/// Longest common prefix of two literal prefixes.
fn common_prefix(a: Option<Vec<u8>>, b: Option<Vec<u8>>) -> Option<Vec<u8>> {
    let (mut a, b) = (a?, b?);
    let n = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    a.truncate(n);
    (n > 0).then_some(a)
}

/// Compiles the Unicode version, with the byte version's limits and engine
/// kind; `None` if it does not compile or disagrees on the group count.
fn compile_text(pattern: &str, backtracking: bool, groups: usize) -> Option<Engine> {
    let engine = if backtracking {
        Engine::Backtrack(fancy(pattern, true).ok()?)
    } else {
        Engine::Linear(linear(pattern, true).ok()?)
    };
    (engine.captures_len() == groups + 1).then_some(engine)
}

/// What the backtracking engine, which keeps no count of its memory, is
/// reckoned to hold per state of its pattern ([`Pattern::states`]).
pub const BACKTRACK_BYTES_PER_STATE: usize = 64;

impl Engine {
    /// Heap bytes it holds: the linear engine's own count; for the backtracking
    /// engine, [`BACKTRACK_BYTES_PER_STATE`] per state of `states`.
    fn memory_usage(&self, states: u64) -> usize {
        match self {
            Engine::Linear(re) => re.memory_usage(),
            Engine::Backtrack(_) => {
                usize::try_from(states).unwrap_or(usize::MAX).saturating_mul(BACKTRACK_BYTES_PER_STATE)
            }
        }
    }

    /// Number of groups, group 0 included.
    fn captures_len(&self) -> usize {
        match self {
            Engine::Linear(re) => re.captures_len(),
            Engine::Backtrack(re) => re.captures_len(),
        }
    }
}

/// Clears `spans` and pushes those of groups 1..=k, k being the highest group that took part.
fn push_spans(spans: &mut Vec<Option<(usize, usize)>>, groups: impl Iterator<Item = Option<(usize, usize)>>) {
    spans.clear();
    spans.extend(groups);
    let k = spans.iter().rposition(Option::is_some).map_or(0, |p| p + 1);
    spans.truncate(k);
}

impl Pattern {
    /// Compile an Ivy (PCRE-style) regexp given as raw bytes (NOT interval-expanded here).
    pub fn compile(source: &[u8]) -> Result<Pattern, CompileError> {
        Pattern::compile_with(source, true)
    }

    /// [`Pattern::compile`], with the engines even for a [`LiteralShape`] (tests compare both).
    #[cfg(test)]
    pub(crate) fn compile_without_shape(source: &[u8]) -> Result<Pattern, CompileError> {
        Pattern::compile_with(source, false)
    }

    fn compile_with(source: &[u8], shapes: bool) -> Result<Pattern, CompileError> {
        let t = translate(source)?;
        let id = NEXT_PATTERN_ID.fetch_add(1, Ordering::Relaxed);
        if shapes && let Some(shape) = literal_shape(&t) {
            // `^`, the literal, `(` and `.*`.
            let states = u64::try_from(shape.literal.len()).unwrap_or(u64::MAX).saturating_add(3);
            let prefix = literal_prefix(&t).map(Vec::into_boxed_slice);
            let groups = usize::from(shape.rest);
            let matcher = Matcher::Shape(shape);
            return Ok(Pattern { matcher, prefix, groups, unicode: None, states, quadratic: false, id });
        }
        let linear = if t.needs_backtracking {
            None
        } else {
            match linear(&t.pattern, false) {
                Ok(re) => Some(re),
                Err(e) if e.size_limit().is_some() => {
                    return Err(too_large(source));
                }
                // Look-around, backreferences…: the backtracker may take it.
                Err(_) => None,
            }
        };
        let engine = match linear {
            Some(re) => Engine::Linear(re),
            None => Engine::Backtrack(backtracking(&t, source)?),
        };
        let groups = engine.captures_len().saturating_sub(1);
        let backtracking = matches!(engine, Engine::Backtrack(_));
        let text = translate_unicode(source, backtracking).filter(|u| u.differs);
        let mut prefix = literal_prefix(&t);
        if let Some(u) = &text {
            // `^é?x`: `\xC3` starts every byte match, not every text match.
            prefix = common_prefix(prefix, literal_prefix(u));
        }
        let unicode = text.map(|u| Box::new(Unicode { pattern: u.pattern.into_boxed_str(), engine: OnceLock::new() }));
        // Both engines read the translation, so it parses; if not, the most the size limit allows.
        let max = Weight { units: REGEX_SIZE_LIMIT as u64, long_lookaround: backtracking };
        let weight = weight(&t.pattern).unwrap_or(max);
        let quadratic = backtracking && (t.needs_backtracking || weight.long_lookaround);
        let prefix = prefix.map(Vec::into_boxed_slice);
        let states = weight.units;
        Ok(Pattern { matcher: Matcher::Engine(engine), prefix, groups, unicode, states, quadratic, id })
    }

    /// The compiled Unicode version, compiling it on first use.
    fn text_engine(&self) -> Option<&Engine> {
        let u = self.unicode.as_deref()?;
        u.engine.get_or_init(|| compile_text(&u.pattern, self.is_backtracking(), self.groups)).as_ref()
    }

    /// The anchored literal prefix, if the pattern certainly only matches messages starting with it.
    pub fn literal_prefix(&self) -> Option<&[u8]> {
        self.prefix.as_deref()
    }

    /// Whether the backtracking engine (with its [`BACKTRACK_LIMIT`]) runs this pattern.
    pub fn is_backtracking(&self) -> bool {
        matches!(self.matcher, Matcher::Engine(Engine::Backtrack(_)))
    }

    /// Unanchored search. On a match, clears `out`, pushes argv per §5.3 and returns true; otherwise false.
    ///
    /// `message` is matched whole, as bytes, or as characters if it is valid
    /// UTF-8 (stopping at a NUL, as ivy-c does, is the caller's business).
    /// argv is groups 1..=k, k being the highest group that took part; groups
    /// before it that did not take part are empty. A repeated group gives its
    /// last iteration (and, as in PCRE, an inner group keeps its value from an
    /// earlier iteration of the enclosing group).
    ///
    /// To run many patterns on one message, check it once with
    /// [`Subject::new`] and call [`Pattern::captures_subject`].
    pub fn captures<'m>(&self, message: &'m [u8], out: &mut Vec<&'m [u8]>) -> bool {
        if !self.reads_text() {
            return self.captures_subject(Subject::bytes_only(message), out);
        }
        self.captures_subject(Subject::new(message), out)
    }

    /// [`Pattern::captures`] on a message already checked for UTF-8.
    pub fn captures_subject<'m>(&self, subject: Subject<'m>, out: &mut Vec<&'m [u8]>) -> bool {
        let mut spans = Vec::new();
        if !self.capture_spans(subject, &mut CaptureSlots::default(), &mut spans) {
            return false;
        }
        out.clear();
        out.extend(spans.iter().map(|s| s.and_then(|(a, b)| subject.bytes.get(a..b)).unwrap_or_default()));
        true
    }

    /// [`Pattern::captures_subject`] giving the byte spans of argv (`None`:
    /// a group before the last one that did not take part, an empty argument)
    /// in `spans`, which is cleared first and left as is without a match.
    /// `slots` keeps the engine's cache and capture storage from one call to
    /// the next: give each pattern slots of its own (slots made for another
    /// pattern are made anew).
    pub fn capture_spans(
        &self,
        subject: Subject<'_>,
        slots: &mut CaptureSlots,
        spans: &mut Vec<Option<(usize, usize)>>,
    ) -> bool {
        let engine = match &self.matcher {
            Matcher::Engine(engine) => engine,
            Matcher::Shape(shape) => {
                let Some(span) = shape.run(subject.bytes) else { return false };
                spans.clear();
                spans.extend(shape.rest.then_some(Some(span)));
                return true;
            }
        };
        let groups = self.groups;
        if let Some(text) = subject.text
            && let Some(engine) = self.text_engine()
        {
            let hay = Hay { text: text.as_bytes(), anchored: subject.anchored };
            return match engine {
                Engine::Linear(re) => linear_search(re, self.id, hay, &mut slots.text, groups, spans),
                Engine::Backtrack(re) => backtrack_search(re, text, subject.anchored, groups, spans),
            };
        }
        let hay = Hay { text: subject.bytes, anchored: subject.anchored };
        match engine {
            Engine::Linear(re) => linear_search(re, self.id, hay, &mut slots.bytes, groups, spans),
            Engine::Backtrack(re) => backtrack_search(re, subject.bytes, subject.anchored, groups, spans),
        }
    }

    /// Heap bytes the compiled pattern holds, as its engines count them (see
    /// `Engine::memory_usage`), its text version included once compiled; not
    /// its search caches, which its owner keeps ([`CaptureSlots::memory_usage`]).
    pub fn memory_usage(&self) -> usize {
        let main = match &self.matcher {
            Matcher::Shape(shape) => shape.literal.len(),
            Matcher::Engine(engine) => engine.memory_usage(self.states),
        };
        let text = self.unicode.as_deref().and_then(|u| u.engine.get()).and_then(Option::as_ref);
        let prefix = self.prefix.as_ref().map_or(0, |p| p.len());
        main + prefix + text.map_or(0, |e| e.memory_usage(self.states))
    }

    /// About how many engine states the pattern compiles to (see [`super::cost`]).
    pub fn states(&self) -> u64 {
        self.states
    }

    /// At most about how many steps a search costs per message byte: its
    /// [`Pattern::states`], or 0 for a [`LiteralShape`], which runs no engine.
    pub fn cost_per_byte(&self) -> u64 {
        if self.has_literal_shape() { 0 } else { self.states }
    }

    /// Whether a search may cost more than linear time in the message: the
    /// backtracking engine with a look-around that scans far, or with
    /// backreferences, possessive or atomic parts (from each start position it
    /// may scan the rest of the message, steps its budget does not count). A
    /// pattern that only needs short look-arounds, as interval expansions do,
    /// is not.
    pub fn may_be_quadratic(&self) -> bool {
        self.quadratic
    }

    /// Whether no argument of a match can hold LF (known for some patterns only).
    pub fn captures_exclude_lf(&self) -> bool {
        self.has_literal_shape()
    }

    /// Whether this pattern reads a [`Subject`]'s text: without it, a
    /// subject made by [`Subject::bytes_only`] gives the same result.
    pub fn reads_text(&self) -> bool {
        self.unicode.is_some()
    }

    /// Whether the pattern matches anywhere in `message` (as characters if it is valid UTF-8).
    pub fn is_match(&self, message: &[u8]) -> bool {
        if !self.reads_text() {
            return self.is_match_subject(Subject::bytes_only(message));
        }
        self.is_match_subject(Subject::new(message))
    }

    /// [`Pattern::is_match`] on a message already checked for UTF-8.
    pub fn is_match_subject(&self, subject: Subject<'_>) -> bool {
        let engine = match &self.matcher {
            Matcher::Engine(engine) => engine,
            Matcher::Shape(shape) => return shape.run(subject.bytes).is_some(),
        };
        if let Some(text) = subject.text
            && let Some(engine) = self.text_engine()
        {
            return match engine {
                Engine::Linear(re) => re.is_match(text),
                Engine::Backtrack(re) => re.is_match(text).unwrap_or(false),
            };
        }
        let message = subject.bytes;
        match engine {
            Engine::Linear(re) => re.is_match(message),
            Engine::Backtrack(re) => re.is_match(message).unwrap_or(false),
        }
    }

    /// Whether the pattern runs as a [`LiteralShape`], without a regex engine.
    pub(crate) fn has_literal_shape(&self) -> bool {
        matches!(self.matcher, Matcher::Shape(_))
    }

    /// Whether a Unicode version exists (it runs on non-ASCII UTF-8 messages).
    #[cfg(test)]
    pub(crate) fn has_text_version(&self) -> bool {
        self.unicode.is_some()
    }

    /// Number of capture groups (excluding group 0).
    pub fn group_count(&self) -> usize {
        self.groups
    }
}
