//! ivy-c's interval-regexp extension `(?Imin#max[flag])` (protocol §5.5): the
//! intended expansion, without the 3.15 loop bug.
//!
//! `(?I20#25i)` becomes `(?:(?:2[0-4])|(?:25))(?![\d.])`: a non-capturing
//! alternation of digit ranges closed by a negative look-ahead. Flag `i` means
//! integers only; anything else also allows decimals (`(?:\.\d+)?`, and only
//! `(?:\.0+)?` on the upper bound). Both-negative ranges, which ivy-c cannot
//! generate, give `-` followed by the positive range of the magnitudes.

use std::collections::BTreeSet;

/// Longest expansion produced; an input that would expand past it is left unchanged.
pub const MAX_EXPANDED_LEN: usize = 64 * 1024;

const TOKEN: &[u8] = b"(?I";
const LOOKAHEAD: &str = r"(?![\d.])";

/// §5.5: expands every `(?Imin#max[flag])` token; returns the input unchanged (copied) where none.
pub fn expand_intervals(source: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(source.len());
    let mut rest = source;
    while let Some(pos) = rest.windows(TOKEN.len()).position(|w| w == TOKEN) {
        let (before, token) = rest.split_at(pos);
        out.extend_from_slice(before);
        match parse_token(token) {
            Some((min, max, integers, len)) => {
                out.extend_from_slice(expand(min, max, integers).as_bytes());
                rest = token.get(len..).unwrap_or_default();
            }
            None => {
                out.extend_from_slice(TOKEN);
                rest = token.get(TOKEN.len()..).unwrap_or_default();
            }
        }
        if out.len() > MAX_EXPANDED_LEN {
            return source.to_vec();
        }
    }
    out.extend_from_slice(rest);
    if out.len() > MAX_EXPANDED_LEN && out.len() > source.len() {
        return source.to_vec();
    }
    out
}

/// `(?Imin#max<flag>…)` → (min, max, integers only, token length up to its `)`).
fn parse_token(token: &[u8]) -> Option<(i64, i64, bool, usize)> {
    let mut at = TOKEN.len();
    let int = |at: &mut usize| -> Option<i64> {
        let s = token.get(*at..)?;
        let sign = usize::from(matches!(s.first(), Some(b'-' | b'+')));
        let digits = s.iter().skip(sign).take_while(|b| b.is_ascii_digit()).count();
        let text = std::str::from_utf8(s.get(..sign + digits)?).ok()?;
        *at += sign + digits;
        // scanf("%d"): an int.
        text.parse::<i32>().ok().map(i64::from)
    };
    let min = int(&mut at)?;
    (token.get(at) == Some(&b'#')).then_some(())?;
    at += 1;
    let max = int(&mut at)?;
    let integers = *token.get(at)? == b'i';
    let close = at + token.get(at..)?.iter().position(|&b| b == b')')?;
    Some((min, max, integers, close + 1))
}

struct Parts {
    /// After any value but the upper bound.
    decimal: &'static str,
    /// After the upper bound.
    bound: &'static str,
}

/// The replacement text for one token.
fn expand(min: i64, max: i64, integers: bool) -> String {
    let (min, max) = if min > max { (max, min) } else { (min, max) };
    let parts =
        if integers { Parts { decimal: "", bound: "" } } else { Parts { decimal: r"(?:\.\d+)?", bound: r"(?:\.0+)?" } };
    if min == max {
        return wrap(&format!("{min}{}", parts.decimal));
    }
    wrap(&body(min, max, &parts))
}

fn wrap(body: &str) -> String {
    format!("(?:{body}){LOOKAHEAD}")
}

/// Alternation for min < max.
fn body(min: i64, max: i64, p: &Parts) -> String {
    if min < 0 && max > 0 {
        format!("(?:{}|{})", wrap(&body(min, 0, p)), wrap(&body(0, max, p)))
    } else if max == 0 {
        format!("(?:0{})|(?:-0{})|-(?:{})", p.bound, p.decimal, positive(1, -min, p))
    } else if max < 0 {
        format!("-(?:{})", positive(-max, -min, p))
    } else if min == 0 {
        format!("(?:0{})|{}", p.decimal, positive(1, max, p))
    } else {
        positive(min, max, p)
    }
}

/// Alternation for 1 <= lo <= hi: pieces for [lo, hi-1], then hi itself.
fn positive(lo: i64, hi: i64, p: &Parts) -> String {
    if lo >= hi {
        return format!("{hi}{}", p.bound);
    }
    let mut out = String::new();
    let mut start = lo;
    for stop in stops(lo, hi - 1) {
        out.push_str(&format!("(?:{}{})|", digits_range(start, stop), p.decimal));
        start = stop + 1;
    }
    out.push_str(&format!("(?:{hi}{})", p.bound));
    out
}

/// Splits [lo, hi] (lo >= 1) into ranges of equal digit count of the form
/// `prefix [a-b] \d{n}`; returns each range's upper end, ascending.
fn stops(lo: i64, hi: i64) -> BTreeSet<i64> {
    let mut stops = BTreeSet::from([hi]);
    let mut k = 1;
    while let Some(p) = 10_i64.checked_pow(k) {
        let stop = lo - lo % p + p - 1; // lo with its last k digits set to 9
        if stop >= hi {
            break;
        }
        stops.insert(stop);
        k += 1;
    }
    let mut k = 1;
    while let Some(p) = 10_i64.checked_pow(k) {
        let stop = (hi + 1) - (hi + 1) % p - 1; // hi+1 with its last k digits zeroed, minus 1
        if stop <= lo || stop > hi {
            break;
        }
        stops.insert(stop);
        k += 1;
    }
    stops
}

/// `123`..`129` → `12[3-9]`; `100`..`199` → `1\d{2}`. Same digit count.
fn digits_range(a: i64, b: i64) -> String {
    let (a, b) = (a.to_string(), b.to_string());
    let mut out = String::new();
    let mut any = 0;
    let flush = |out: &mut String, any: &mut usize| {
        match *any {
            0 => {}
            1 => out.push_str(r"\d"),
            n => out.push_str(&format!(r"\d{{{n}}}")),
        }
        *any = 0;
    };
    for (x, y) in a.chars().zip(b.chars()) {
        if x == y {
            flush(&mut out, &mut any);
            out.push(x);
        } else if (x, y) == ('0', '9') {
            any += 1;
        } else {
            flush(&mut out, &mut any);
            out.push_str(&format!("[{x}-{y}]"));
        }
    }
    flush(&mut out, &mut any);
    out
}
