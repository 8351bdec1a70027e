//! The Ivy regexp dialect (protocol §5.3–§5.6) on arbitrary patterns and messages:
//! [`expand_intervals`], [`Pattern::compile`] (translation, linear engine,
//! backtracking fallback), [`Pattern::captures`], the literal prefix and its
//! [`PrefixIndex`], and [`Filter::accepts`].
//!
//! Input layout: `pattern \0 message \0 word \0 word ...`.
//!
//! No panic; an error's offset is inside the pattern; argv has at most one entry per
//! group and every entry is a slice of the message; a match implies the message
//! starts with the pattern's literal prefix and the index lists the pattern as a
//! candidate; `captures` and `is_match` agree (linear engine); text without an
//! interval token is not changed by the expansion.
#![no_main]

use ivy_proto::pattern::{Filter, MAX_EXPANDED_LEN, Pattern, PrefixIndex, expand_intervals};
use libfuzzer_sys::fuzz_target;

fn within(arg: &[u8], message: &[u8]) -> bool {
    let (a, m) = (arg.as_ptr() as usize, message.as_ptr() as usize);
    arg.is_empty() || (a >= m && a + arg.len() <= m + message.len())
}

fn check(source: &[u8], message: &[u8]) {
    let pattern = match Pattern::compile(source) {
        Ok(p) => p,
        Err(e) => {
            let offset = usize::try_from(e.offset).expect("offset >= 0");
            assert!(offset <= source.len(), "offset {offset} past the pattern ({})", source.len());
            assert!(!e.message.is_empty());
            return;
        }
    };
    let mut argv = vec![&b"stale"[..]];
    let hit = pattern.captures(message, &mut argv);
    if hit {
        assert!(argv.len() <= pattern.group_count(), "{} args for {} groups", argv.len(), pattern.group_count());
        assert!(argv.iter().all(|a| within(a, message)), "argv outside the message");
        if let Some(prefix) = pattern.literal_prefix() {
            assert!(message.starts_with(prefix), "match without the literal prefix {prefix:?}");
        }
    }
    if !pattern.is_backtracking() {
        assert_eq!(pattern.is_match(message), hit, "is_match and captures disagree");
    }
    let mut index = PrefixIndex::default();
    index.insert(7, pattern.literal_prefix());
    index.insert(9, Some(b"zz"));
    let mut candidates = Vec::new();
    index.candidates(message, &mut candidates);
    if hit {
        assert!(candidates.contains(&7), "a matching pattern is not a candidate");
    }
    assert!(candidates.windows(2).all(|w| w[0] < w[1]));
    index.remove(7);
    index.remove(9);
    assert!(index.is_empty());
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let source = parts.next().unwrap_or_default();
    let message = parts.next().unwrap_or_default();
    let words: Vec<&[u8]> = parts.collect();

    let expanded = expand_intervals(source);
    if !source.windows(3).any(|w| w == b"(?I") {
        assert_eq!(expanded, source, "changed without an interval token");
    }
    assert!(expanded.len() <= MAX_EXPANDED_LEN.max(source.len()), "expansion too long");
    check(source, message);
    if expanded != source {
        check(&expanded, message);
    }

    let mut filter = Filter::default();
    assert!(filter.accepts(source), "an empty filter accepts everything");
    for w in &words {
        filter.add(w);
    }
    let accepted = filter.accepts(source);
    if !source.starts_with(b"^") {
        assert!(accepted, "only ^WORD regexps are filtered");
    }
    for w in &words {
        filter.remove(w);
    }
    assert!(filter.is_empty());
});
