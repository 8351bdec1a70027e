//! A compiled Ivy regexp: the linear `regex` engine when it can, the
//! backtracking `fancy_regex` engine (with a step budget) when it must.

use super::prefix::literal_prefix;
use super::translate::{Translated, translate};

/// Compiled-program size limit of the linear engine, in bytes (`size_limit`).
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Lazy-DFA cache limit of the linear engine, in bytes (`dfa_size_limit`).
pub const REGEX_DFA_SIZE_LIMIT: usize = 1 << 20;
/// Step budget of one search with the backtracking engine (patterns with
/// look-around, backreferences, possessive or atomic parts). A search that
/// runs out of it (a few milliseconds) counts as no match: a hostile pattern
/// cannot stall the sender. Each start position tried costs steps too, so
/// such a pattern without a leading `^` may miss a match that starts several
/// hundred KiB into a message.
pub const BACKTRACK_LIMIT: usize = 1_000_000;
/// Instruction limit of a backtracking program (`max_prog_size`).
pub const BACKTRACK_PROG_LIMIT: usize = 100_000;

/// A regexp that neither engine accepts, with ivy-c-like (PCRE) text and offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Byte offset in the source (PCRE's `erroffset`), sent as the Error id.
    pub offset: i32,
    /// PCRE-style message, e.g. `missing )`.
    pub message: String,
}

#[derive(Debug)]
enum Engine {
    Linear(regex::bytes::Regex),
    Backtrack(fancy_regex::Regex),
}

/// A compiled Ivy (PCRE-style) regexp: case-sensitive, unanchored, on bytes.
#[derive(Debug)]
pub struct Pattern {
    engine: Engine,
    prefix: Option<Box<[u8]>>,
    groups: usize,
}

fn error(source: &[u8], offset: Option<usize>, message: String) -> CompileError {
    let offset = offset.unwrap_or(source.len());
    CompileError { offset: i32::try_from(offset).unwrap_or(i32::MAX), message }
}

fn backtracking(t: &Translated, source: &[u8]) -> Result<fancy_regex::Regex, CompileError> {
    fancy_regex::RegexBuilder::new(&t.pattern)
        .bytes_mode(fancy_regex::BytesMode::Ascii)
        .backtrack_limit(BACKTRACK_LIMIT)
        .max_prog_size(BACKTRACK_PROG_LIMIT)
        .delegate_size_limit(REGEX_SIZE_LIMIT)
        .delegate_dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            fancy_regex::Error::ParseError(at, kind) => error(source, t.origin.get(at).copied(), kind.to_string()),
            fancy_regex::Error::CompileError(c) => match *c {
                fancy_regex::CompileError::InnerError(inner) if inner.size_limit().is_some() => {
                    error(source, None, "regular expression is too large".into())
                }
                other => error(source, None, other.to_string()),
            },
            other => error(source, None, other.to_string()),
        })
}

impl Pattern {
    /// Compile an Ivy (PCRE-style) regexp given as raw bytes (NOT interval-expanded here).
    pub fn compile(source: &[u8]) -> Result<Pattern, CompileError> {
        let t = translate(source)?;
        let linear = if t.needs_backtracking {
            None
        } else {
            let built = regex::bytes::RegexBuilder::new(&t.pattern)
                .unicode(false)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
                .build();
            match built {
                Ok(re) => Some(re),
                Err(regex::Error::CompiledTooBig(_)) => {
                    return Err(error(source, None, "regular expression is too large".into()));
                }
                // Look-around, backreferences…: the backtracker may take it.
                Err(_) => None,
            }
        };
        let engine = match linear {
            Some(re) => Engine::Linear(re),
            None => Engine::Backtrack(backtracking(&t, source)?),
        };
        let groups = match &engine {
            Engine::Linear(re) => re.captures_len(),
            Engine::Backtrack(re) => re.captures_len(),
        }
        .saturating_sub(1);
        let prefix = literal_prefix(&t).map(Vec::into_boxed_slice);
        Ok(Pattern { engine, prefix, groups })
    }

    /// The anchored literal prefix, if the pattern certainly only matches messages starting with it.
    pub fn literal_prefix(&self) -> Option<&[u8]> {
        self.prefix.as_deref()
    }

    /// Whether the backtracking engine (with its [`BACKTRACK_LIMIT`]) runs this pattern.
    pub fn is_backtracking(&self) -> bool {
        matches!(self.engine, Engine::Backtrack(_))
    }

    /// Unanchored search. On a match, clears `out`, pushes argv per §5.3 and returns true; otherwise false.
    ///
    /// `message` is matched whole, as bytes (stopping at a NUL, as ivy-c
    /// does, is the caller's business).
    /// argv is groups 1..=k, k being the highest group that took part; groups
    /// before it that did not take part are empty. A repeated group gives its
    /// last iteration (and, as in PCRE, an inner group keeps its value from an
    /// earlier iteration of the enclosing group).
    pub fn captures<'m>(&self, message: &'m [u8], out: &mut Vec<&'m [u8]>) -> bool {
        if self.groups == 0 {
            let hit = self.is_match(message);
            if hit {
                out.clear();
            }
            return hit;
        }
        let mut spans: Vec<Option<(usize, usize)>> = Vec::with_capacity(self.groups);
        match &self.engine {
            Engine::Linear(re) => {
                let mut locs = re.capture_locations();
                if re.captures_read(&mut locs, message).is_none() {
                    return false;
                }
                spans.extend((1..=self.groups).map(|g| locs.get(g)));
            }
            Engine::Backtrack(re) => {
                let Ok(Some(caps)) = re.captures(message) else {
                    return false;
                };
                spans.extend((1..=self.groups).map(|g| caps.get(g).map(|m| (m.start(), m.end()))));
            }
        }
        let k = spans.iter().rposition(Option::is_some).map_or(0, |p| p + 1);
        out.clear();
        out.extend(spans.iter().take(k).map(|s| s.and_then(|(a, b)| message.get(a..b)).unwrap_or_default()));
        true
    }

    /// Whether the pattern matches anywhere in `message`.
    pub fn is_match(&self, message: &[u8]) -> bool {
        match &self.engine {
            Engine::Linear(re) => re.is_match(message),
            Engine::Backtrack(re) => re.is_match(message).unwrap_or(false),
        }
    }

    /// Number of capture groups (excluding group 0).
    pub fn group_count(&self) -> usize {
        self.groups
    }
}
