//! The size of a compiled pattern in engine states, and what one search may cost.
//!
//! Both engines expand counted repeats (`x{1000}` becomes a thousand states),
//! and a search costs at most about one step per state per message byte (the
//! linear engine's worst case, when its lazy DFA gives up). The weight of a
//! pattern counts those states, so that a peer's regexps can be bounded in
//! memory and a search in time before it runs: see `engine::dictionary`.

use fancy_regex::Expr;

/// Counted repeats past this maximum count as unbounded inside a look-around.
const LONG_REPEAT: usize = 64;

/// The weight of a translated pattern and whether it may cost more than linear time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Weight {
    /// About one unit per engine state: atoms and literal characters count one
    /// each, a group one more than its content, a repeat `{n,m}` m times its
    /// subject (`{n,}` n + 1 times). Saturates.
    pub units: u64,
    /// Has a look-around whose body has an unbounded (or long) repeat: the
    /// backtracking engine scans it again from every start position.
    pub long_lookaround: bool,
}

/// How many copies of its subject a repeat from `lo` to `hi` (`usize::MAX`: no bound) makes.
fn copies(lo: usize, hi: usize) -> u64 {
    let n = if hi == usize::MAX { lo.saturating_add(1) } else { hi };
    u64::try_from(n.max(1)).unwrap_or(u64::MAX)
}

fn own_units(e: &Expr) -> u64 {
    let n = match e {
        Expr::Literal { val, .. } => val.chars().count(),
        Expr::LiteralBytes { bytes } => bytes.len(),
        Expr::Concat(_) | Expr::Alt(_) | Expr::Repeat { .. } | Expr::Empty => 0,
        _ => 1,
    };
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The weight of `pattern`, in the syntax given to the engines; `None` if it does not parse.
pub(crate) fn weight(pattern: &str) -> Option<Weight> {
    let tree = Expr::parse_tree(pattern).ok()?;
    let mut w = Weight { units: 0, long_lookaround: false };
    // (node, copies of it, inside a look-around): a loop, not recursion, for deep nesting.
    let mut stack = vec![(&tree.expr, 1u64, false)];
    while let Some((e, times, in_look)) = stack.pop() {
        w.units = w.units.saturating_add(own_units(e).saturating_mul(times));
        let (times, in_look) = match e {
            Expr::Repeat { lo, hi, .. } => {
                w.long_lookaround |= in_look && *hi > LONG_REPEAT;
                (times.saturating_mul(copies(*lo, *hi)), in_look)
            }
            Expr::LookAround(..) => (times, true),
            _ => (times, in_look),
        };
        stack.extend(e.children_iter().map(|c| (c, times, in_look)));
    }
    Some(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(p: &str) -> u64 {
        weight(p).expect("parses").units
    }

    #[test]
    fn counts_states_with_repeats_multiplied() {
        assert_eq!(units("abc"), 3);
        assert_eq!(units("a*"), 1);
        assert_eq!(units("x{30000}1"), 30_001);
        assert_eq!(units("(x{10}){10}"), 10 * 11);
        assert_eq!(units("(?:a{3,}|b{2,5})"), 4 + 5);
        assert_eq!(units("((a{100}){100}){100}"), 100 + 100 * 100 + 100 * 100 * 100);
        assert_eq!(units(&format!("{}a{}", "(".repeat(5), "{65535})".repeat(5))), u64::MAX);
        assert!(units("^topic0001 (.*)") < 20);
    }

    #[test]
    fn finds_long_lookaround_bodies() {
        let long = |p: &str| weight(p).expect("parses").long_lookaround;
        assert!(long("(?=[^x]*x)a"));
        assert!(long("a(?!b{65})"));
        assert!(long("(?<=(?:ab){3,})c"));
        assert!(!long("(?![\\d.])x*"));
        assert!(!long("(?=ab{64})a+"));
        assert!(!long("(a*)*\\1b"));
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let p = format!("{}a{}", "(?:".repeat(5000), ")".repeat(5000));
        if let Some(w) = weight(&p) {
            assert!(w.units >= 1);
        }
    }
}
