//! The literal-shape fast path (`^LITERAL(.*)$`…, matched without a regex
//! run) must give exactly what the regex engines give.

use super::{Rng, argv, strs};
use crate::pattern::{Pattern, Subject};

fn compile(pattern: &[u8]) -> Pattern {
    Pattern::compile(pattern).unwrap_or_else(|e| panic!("{pattern:?}: {e:?}"))
}

#[test]
fn shapes_are_found_only_when_certain() {
    let shaped: &[&[u8]] = &[
        b"^topic0000 (.*)",
        b"^hello (.*)$",
        b"^hello (.*)\\Z",
        b"^a\\.b\\(c\\)\\[d\\] (.*)",
        b"^\\x41\\x{42}\\Q.*\\E(.*)",
        b"^tab\\there(.*)",
        "^é€ (.*)".as_bytes(),
        b"^\xff\xc3 (.*)",
        b"^(.*)",
        b"^(.*)$",
        b"(.*)",
        b"^abc",
        b"^abc$",
        b"^",
        b"^$",
        b"^a(?#comment)b(.*)",
    ];
    for p in shaped {
        assert!(compile(p).has_literal_shape(), "{:?} has a literal shape", p.escape_ascii().to_string());
    }
    let general: &[&[u8]] = &[
        b"topic (.*)",
        b"(.*)$",
        b"(.*)x",
        b"^a*(.*)",
        b"^ab?(.*)",
        b"^ab+(.*)",
        b"^ab{2}(.*)",
        b"^a(.*?)",
        b"^a(.*)+",
        b"^a(.*)b",
        b"^a(.+)",
        b"^a(.)*",
        b"^a((.*))",
        b"^(a)(.*)",
        b"^a(?:.*)",
        b"^a(?<n>.*)",
        b"^a(.*)$$",
        b"^a(.*)\\z",
        b"^a(.*)\\n",
        b"^a$(.*)",
        b"^a(.*)|b",
        b"^a|b(.*)",
        b"(?i)^a(.*)",
        b"^(?i)a(.*)",
        b"^a(?i)(.*)",
        b"(?s)^a(.*)",
        b"^a(?s:(.*))",
        b"(?m)^a(.*)$",
        b"(?x)^a (.*)",
        b"^a\\d(.*)",
        b"^a[b](.*)",
        b"^a\\b(.*)",
        b"^a(.*)(?=x)",
        b"^a(.*+)",
        b"^a(?>.*)",
        b"^\\Aa(.*)",
    ];
    for p in general {
        if let Ok(c) = Pattern::compile(p) {
            assert!(!c.has_literal_shape(), "{:?} has no literal shape", p.escape_ascii().to_string());
        }
    }
}

#[test]
fn shapes_capture_the_rest_of_the_line() {
    assert_eq!(argv(b"^topic0000 (.*)", b"topic0000 0000012345"), strs(&["0000012345"]));
    assert_eq!(argv(b"^topic0000 (.*)", b"topic0000 "), strs(&[""]));
    assert_eq!(argv(b"^topic0000 (.*)", b"topic0000"), None);
    assert_eq!(argv(b"^topic0000 (.*)", b"xtopic0000 a"), None);
    assert_eq!(argv(b"^a (.*)", b"a b\nc"), strs(&["b"]));
    assert_eq!(argv(b"^a (.*)$", b"a b\nc"), None);
    assert_eq!(argv(b"^a (.*)$", b"a b\n"), strs(&["b"]));
    assert_eq!(argv(b"^a (.*)$", b"a b\n\n"), None);
    assert_eq!(argv(b"^a (.*)$", b"a \n"), strs(&[""]));
    assert_eq!(argv(b"^a$", b"a\n"), strs(&[]));
    assert_eq!(argv(b"^a$", b"ab"), None);
    assert_eq!(argv(b"^a", b"ab"), strs(&[]));
    assert_eq!(argv(b"(.*)", b"\nx"), strs(&[""]));
    assert_eq!(argv("^é (.*)".as_bytes(), "é ça\u{a0}€".as_bytes()), strs(&["ça\u{a0}€"]));
    assert_eq!(argv(b"^\xc3 (.*)", b"\xc3 \xa9"), Some(vec![b"\xa9".to_vec()]));
    let long: Vec<u8> = [&b"t "[..], &[b'x'; 1000], b"\n", &[b'y'; 100]].concat();
    assert_eq!(argv(b"^t (.*)", &long), Some(vec![vec![b'x'; 1000]]));
}

/// Pieces of sources: literal forms (escaped, quoted, non-ASCII, control
/// bytes), then what may follow them; near misses included.
const LITERALS: &[&[u8]] = &[
    b"a",
    b"b",
    b"ab",
    b" ",
    b"0",
    b"\\.",
    b"\\(",
    b"\\\\",
    b"\\x41",
    b"\\x{0a}",
    b"\\n",
    b"\\t",
    b"\\Q*.\\E",
    b"-",
    b"<",
    b"\xc3\xa9",
    b"\xe2\x82\xac",
    b"\xc3",
    b"\xa9",
    b"\\xc3\\xa9",
    b"\x00",
    b"\\e",
    b"}",
    b"]",
];
const TAILS: &[&[u8]] = &[
    b"",
    b"(.*)",
    b"(.*)$",
    b"(.*)\\Z",
    b"$",
    b"\\Z",
    b"(.*)\\z",
    b"(.*)$\\n",
    b"(.+)",
    b"(.*?)",
    b"(.*)a",
    b"*(.*)",
    b"?(.*)",
    b"(.*)|a",
    b"(.)",
];
const HEADS: &[&[u8]] = &[b"^", b"^", b"^", b"", b"(?i)^", b"(?s)^", b"(?m)^", b"^(?x)"];
const BYTES: &[&[u8]] =
    &[b"a", b"b", b" ", b"0", b".", b"(", b"\\", b"A", b"\n", b"\t", b"*", b"-", b"<", b"}", b"]", b"\x1b", b"\x00"];
const CHARS: &[&str] = &["é", "€", "😀", "\u{a0}", "à"];

fn random_source(rng: &mut Rng) -> Vec<u8> {
    let mut source = HEADS[rng.below(HEADS.len())].to_vec();
    for _ in 0..rng.below(5) {
        source.extend_from_slice(LITERALS[rng.below(LITERALS.len())]);
    }
    source.extend_from_slice(TAILS[rng.below(TAILS.len())]);
    source
}

/// A message that often starts with the pattern's literal bytes, then random
/// bytes: ASCII, LF, whole characters, or stray bytes of characters.
fn random_message(rng: &mut Rng, source: &[u8]) -> Vec<u8> {
    let mut msg = Vec::new();
    if rng.below(4) != 0 {
        // The source's plain bytes: often the literal itself.
        msg.extend(source.iter().copied().filter(|b| !b"^$()*?.\\|".contains(b)));
    }
    for _ in 0..rng.below(12) {
        match rng.below(6) {
            0 => msg.extend_from_slice(CHARS[rng.below(CHARS.len())].as_bytes()),
            1 => msg.push(0x80 | (rng.next() as u8 & 0x7f)),
            _ => msg.extend_from_slice(BYTES[rng.below(BYTES.len())]),
        }
    }
    if rng.below(8) == 0 {
        msg.extend(std::iter::repeat_n(b'z', rng.below(100)));
    }
    msg
}

/// Every pattern compiled with a shape gives, on any message, the argv (and
/// the match/no match) of the same pattern run by the regex engines: bytes,
/// or the Unicode version on UTF-8 messages.
#[test]
fn shapes_agree_with_the_engines() {
    let mut rng = Rng(0x5eed_0f5a_a9e5);
    let (mut shaped, mut hits, mut text_hits) = (0, 0, 0);
    for _ in 0..8_000 {
        let source = random_source(&mut rng);
        let Ok(fast) = Pattern::compile(&source) else { continue };
        if !fast.has_literal_shape() {
            continue;
        }
        shaped += 1;
        let slow = Pattern::compile_without_shape(&source).expect("compiles");
        assert!(!slow.has_literal_shape());
        for _ in 0..12 {
            let msg = random_message(&mut rng, &source);
            let (mut a, mut b) = (vec![&b"stale"[..]], vec![&b"stale"[..]]);
            let hit = fast.captures(&msg, &mut a);
            assert_eq!(
                (hit, &a),
                (slow.captures(&msg, &mut b), &b),
                "{} on {}",
                source.escape_ascii(),
                msg.escape_ascii()
            );
            assert_eq!(hit, slow.is_match(&msg));
            assert_eq!(hit, fast.is_match(&msg));
            // With the message read as text (as the dictionary may give it).
            if let Ok(text) = std::str::from_utf8(&msg) {
                let subject = Subject::text_for_tests(text);
                let (mut a, mut b) = (Vec::new(), Vec::new());
                let hit = fast.captures_subject(subject, &mut a);
                assert_eq!((hit, &a), (slow.captures_subject(subject, &mut b), &b), "{source:?} on {text:?}");
                text_hits += usize::from(hit && !text.is_ascii());
            }
            hits += usize::from(hit);
        }
    }
    assert!(shaped > 1_000 && hits > 3_000 && text_hits > 300, "{shaped} shapes, {hits} matches, {text_hits} on text");
}
