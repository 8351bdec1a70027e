use crate::pattern::{MAX_EXPANDED_LEN, Pattern, expand_intervals};

fn expanded(source: &str) -> String {
    String::from_utf8(expand_intervals(source.as_bytes())).expect("ASCII")
}

#[test]
fn reference_expansions() {
    let cases = [
        ("(?I1#5i)", r"(?:(?:[1-4])|(?:5))(?![\d.])"),
        ("(?I1#5)", r"(?:(?:[1-4](?:\.\d+)?)|(?:5(?:\.0+)?))(?![\d.])"),
        ("(?I1#5f)", r"(?:(?:[1-4](?:\.\d+)?)|(?:5(?:\.0+)?))(?![\d.])"),
        ("(?I0#10i)", r"(?:(?:0)|(?:[1-9])|(?:10))(?![\d.])"),
        ("(?I20#25i)", r"(?:(?:2[0-4])|(?:25))(?![\d.])"),
        ("(?I0#255i)", r"(?:(?:0)|(?:[1-9])|(?:[1-9]\d)|(?:1\d{2})|(?:2[0-4]\d)|(?:25[0-4])|(?:255))(?![\d.])"),
        (
            "(?I123#4567i)",
            r"(?:(?:12[3-9])|(?:1[3-9]\d)|(?:[2-9]\d{2})|(?:[1-3]\d{3})|(?:4[0-4]\d{2})|(?:45[0-5]\d)|(?:456[0-6])|(?:4567))(?![\d.])",
        ),
        ("(?I-5#0i)", r"(?:(?:0)|(?:-0)|-(?:(?:[1-4])|(?:5)))(?![\d.])"),
        ("(?I-1#1i)", r"(?:(?:(?:(?:0)|(?:-0)|-(?:1))(?![\d.])|(?:(?:0)|1)(?![\d.])))(?![\d.])"),
        ("(?I5#5i)", r"(?:5)(?![\d.])"),
        ("(?I5#5)", r"(?:5(?:\.\d+)?)(?![\d.])"),
        ("(?I25#20i)", r"(?:(?:2[0-4])|(?:25))(?![\d.])"),
        ("(?I-10#-5i)", r"(?:-(?:(?:[5-9])|(?:10)))(?![\d.])"),
        ("(?I20#25ijunk)", r"(?:(?:2[0-4])|(?:25))(?![\d.])"),
    ];
    for (token, want) in cases {
        assert_eq!(expanded(token), want, "{token}");
    }
    assert_eq!(expanded("^val=(?I5#5i)$"), r"^val=(?:5)(?![\d.])$", "case 33");
    assert_eq!(expanded("a(?I1#2i)b(?I3#3i)c"), r"a(?:(?:1)|(?:2))(?![\d.])b(?:3)(?![\d.])c");
}

#[test]
fn unparsable_tokens_are_left_alone() {
    for s in ["(?I1#5", "(?Ix#5)", "(?I1-5)", "(?I1#)", "(?I99999999999#1)", "plain", "", "(?I"] {
        assert_eq!(expanded(s), s);
    }
    assert_eq!(expanded("(?Iz)(?I1#2i)"), r"(?Iz)(?:(?:1)|(?:2))(?![\d.])");
}

#[test]
fn bounded_output() {
    let many = "(?I-2000000000#2000000000)".repeat(200);
    assert_eq!(expanded(&many), many);
    let one = expanded("(?I-2000000000#2000000000)");
    assert!(one.len() < MAX_EXPANDED_LEN && one.len() > 100);
    let big = "x".repeat(MAX_EXPANDED_LEN + 10);
    assert_eq!(expanded(&big), big);
}

/// The decimal text of `half / 2`, e.g. -7 → "-3.5".
fn half_text(half: i64) -> String {
    let sign = if half < 0 { "-" } else { "" };
    let abs = half.unsigned_abs();
    if abs.is_multiple_of(2) { format!("{sign}{}", abs / 2) } else { format!("{sign}{}.5", abs / 2) }
}

#[test]
fn expansions_match_exactly_their_range() {
    let ranges = [
        (1, 5),
        (0, 10),
        (20, 25),
        (0, 255),
        (123, 4567),
        (-5, 0),
        (-1, 1),
        (-10, -5),
        (-37, 12),
        (-120, -99),
        (7, 8),
        (0, 1),
        (-1, 0),
        (99, 1001),
        (5, 5),
        (-3, -3),
        (0, 0),
    ];
    for (min, max) in ranges {
        for integers in [true, false] {
            let flag = if integers { "i" } else { "" };
            let source = expand_intervals(format!("^(?I{min}#{max}{flag})$").as_bytes());
            let p = Pattern::compile(&source).expect("expansion compiles");
            let unanchored = Pattern::compile(&expand_intervals(format!("=(?I{min}#{max}{flag})").as_bytes()))
                .expect("expansion compiles");
            for n in min - 20..=max + 20 {
                let text = n.to_string();
                assert_eq!(p.is_match(text.as_bytes()), (min..=max).contains(&n), "[{min},{max}]{flag} {text}");
                let embedded = format!("x={text} y");
                assert_eq!(unanchored.is_match(embedded.as_bytes()), (min..=max).contains(&n), "{embedded}");
            }
            for half in 2 * (min - 20)..=2 * (max + 20) {
                if half % 2 == 0 || (min == max && !integers) {
                    continue; // the single-value form accepts any decimals (reference)
                }
                let text = half_text(half);
                let inside = !integers && 2 * min <= half && half <= 2 * max;
                assert_eq!(p.is_match(text.as_bytes()), inside, "[{min},{max}]{flag} {text}");
            }
            if !integers && min != max {
                // Only `.0…` is allowed past the bound of largest magnitude.
                let outer = if max > 0 || min == 0 { max } else { min };
                assert!(p.is_match(format!("{outer}.000").as_bytes()));
                assert!(!p.is_match(format!("{outer}.001").as_bytes()));
            }
        }
    }
}
