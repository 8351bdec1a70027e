//! Character semantics on valid UTF-8 messages: no capture ends inside a
//! character (ivy-python's handler dies on such a Msg), while the byte
//! meaning of everything else is kept.

use super::{Rng, argv, strs};
use crate::pattern::{Pattern, PrefixIndex, Subject};

fn compile(pattern: &[u8]) -> Pattern {
    Pattern::compile(pattern).unwrap_or_else(|e| panic!("{pattern:?}: {e:?}"))
}

#[test]
fn dot_takes_a_whole_character() {
    assert_eq!(argv(b"^(.)(.*)$", "é€ x".as_bytes()), strs(&["é", "€ x"]));
    assert_eq!(argv(b"^caf(.)$", "café".as_bytes()), strs(&["é"]));
    assert_eq!(argv(b"^(..)", "😀é".as_bytes()), strs(&["😀é"]));
    assert_eq!(argv(b"^.$", "€".as_bytes()), strs(&[]));
    assert_eq!(argv(b"(?s)^(.)", "\u{85}".as_bytes()), strs(&["\u{85}"]));
    assert_eq!(argv(b"^(\\C)", "é".as_bytes()), strs(&["é"]));
    assert_eq!(argv(b"^(\\N)", "é".as_bytes()), strs(&["é"]));
    // The same through a Subject checked once, and through is_match.
    let p = compile(b"^(.)(.*)$");
    let mut out = Vec::new();
    let subject = Subject::new("é€ x".as_bytes());
    assert!(subject.is_text());
    assert!(p.captures_subject(subject, &mut out));
    assert_eq!(out, ["é".as_bytes(), "€ x".as_bytes()]);
    assert!(compile(b"^.$").is_match("é".as_bytes()));
    assert!(!compile(b"^.$").is_match(b"\xc3\xa9\xff"));
}

#[test]
fn bytes_that_are_not_utf8_keep_byte_semantics() {
    assert_eq!(argv(b"(.)", b"\xe9t\xe9"), Some(vec![b"\xe9".to_vec()]));
    assert_eq!(argv(b"^(.)(.)", b"\xc3\xa9\xff"), Some(vec![b"\xc3".to_vec(), b"\xa9".to_vec()]));
    assert!(!Subject::new(b"\xe9t\xe9").is_text());
    assert!(!Subject::new(b"plain ascii").is_text());
    // A Latin-1 byte in the pattern: no character reading, bytes only.
    let latin1 = compile(b"^caf\xe9(.*)");
    assert!(!latin1.has_text_version());
    assert_eq!(argv(b"^caf\xe9(.*)", b"caf\xe9 x"), strs(&[" x"]));
    assert_eq!(argv(b"^caf\xe9(.*)", "café x".as_bytes()), None);
    assert_eq!(argv(b"^caf\\xe9(.*)", b"caf\xe9 x"), strs(&[" x"]));
    assert_eq!(argv(b"^caf\\xe9(.*)", "café x".as_bytes()), None);
    assert!(!compile(b"[\\xe9](.)").has_text_version());
    assert!(!compile(b"\\xc3(.)\\xa9").has_text_version(), "a construct inside a character");
}

#[test]
fn literal_characters_in_the_pattern() {
    assert_eq!(argv("(.)é(.)".as_bytes(), "aéb".as_bytes()), strs(&["a", "b"]));
    assert_eq!(argv("^(.*)é(.*)$".as_bytes(), "café au lait".as_bytes()), strs(&["caf", " au lait"]));
    assert_eq!(argv("^caf(é)(.)".as_bytes(), "café€".as_bytes()), strs(&["é", "€"]));
    // Byte escapes that spell a character are that character.
    assert_eq!(argv(b"^caf\\xc3\\xa9(.)", "caféà".as_bytes()), strs(&["à"]));
    assert_eq!(argv(b"^\\Q\xc3\xa9\\E(.)", "éà".as_bytes()), strs(&["à"]));
    // A quantifier repeats the whole character, as in PCRE's UTF-8 mode and Python.
    assert_eq!(argv("^(é+)(.*)".as_bytes(), "ééx".as_bytes()), strs(&["éé", "x"]));
    assert_eq!(argv("^a(é?)(.)".as_bytes(), "aè".as_bytes()), strs(&["", "è"]));
    // In extended mode a literal U+00A0 is not white space to skip.
    assert_eq!(argv("(?x)^a\u{a0}(.)".as_bytes(), "a\u{a0}é".as_bytes()), strs(&["é"]));
    assert_eq!(argv("(?x)^a\u{a0}(.)".as_bytes(), "aé".as_bytes()), None);
}

#[test]
fn classes_take_whole_characters() {
    assert_eq!(argv(b"([^a])", "é".as_bytes()), strs(&["é"]));
    assert_eq!(argv("^([^é]+)".as_bytes(), "aàéb".as_bytes()), strs(&["aà"]));
    assert_eq!(argv("([à-é]+)".as_bytes(), "xèéy".as_bytes()), strs(&["èé"]));
    assert_eq!(argv("([€é]+)".as_bytes(), "a€éb".as_bytes()), strs(&["€é"]));
    assert_eq!(argv(b"([^\\x00-\\x7f]+)", "aé€b".as_bytes()), strs(&["é€"]));
    assert_eq!(argv(b"(\\W)", "aé".as_bytes()), strs(&["é"]));
    assert_eq!(argv(b"(\\S+)", "é€ x".as_bytes()), strs(&["é€"]));
    assert_eq!(argv(b"^(\\D)", "é1".as_bytes()), strs(&["é"]));
    assert_eq!(argv(b"([[:^alpha:]]+)", "aé1b".as_bytes()), strs(&["é1"]));
    assert_eq!(argv(b"([\\W\\d]+)", "aé1b".as_bytes()), strs(&["é1"]));
    // `\h` and `\v` hold the characters U+00A0 and U+0085, never a continuation byte.
    assert_eq!(argv(b"(\\h)", "a\u{a0}b".as_bytes()), strs(&["\u{a0}"]));
    assert_eq!(argv(b"(\\h)(.)", "à".as_bytes()), None);
    assert_eq!(argv(b"(\\H)", "à".as_bytes()), strs(&["à"]));
    assert_eq!(argv(b"(\\v)(.)", "\u{85}x".as_bytes()), strs(&["\u{85}", "x"]));
    assert_eq!(argv(b"(\\V)", "\u{105}".as_bytes()), strs(&["\u{105}"]));
    assert_eq!(argv(b"a\\R(.)", "a\u{85}é".as_bytes()), strs(&["é"]));
}

#[test]
fn ascii_meanings_are_kept() {
    assert_eq!(argv(b"(\\w+)", "héllo".as_bytes()), strs(&["h"]));
    assert_eq!(argv(b"(.)(\\w+)", "éllo".as_bytes()), strs(&["é", "llo"]));
    assert_eq!(argv(b"^(.)(\\d+)", "٣42".as_bytes()), strs(&["٣", "42"]));
    assert_eq!(argv(b"^(.)(\\s)", "a\u{a0} ".as_bytes()), None);
    assert_eq!(argv(b"^(.)([[:alpha:]]+)", "ééa".as_bytes()), None);
    assert_eq!(argv(b"^(.)([[:alpha:]]+)", "éab".as_bytes()), strs(&["é", "ab"]));
    assert_eq!(argv(b"(.)\\b(\\w+)", "éa".as_bytes()), strs(&["é", "a"]));
    assert_eq!(argv(b"^(.)\\B(.)", "éa".as_bytes()), None);
    assert_eq!(argv(b"^(.)\\B(.)", "é€".as_bytes()), strs(&["é", "€"]));
    // `(?i)` folds ASCII letters only: not `k` with U+212A, `s` with U+017F, `é` with `É`.
    assert_eq!(argv(b"(?i)^(.)(k)", "aK".as_bytes()), strs(&["a", "K"]));
    assert_eq!(argv(b"(?i)^(.)(k)", "a\u{212a}".as_bytes()), None);
    assert_eq!(argv(b"(?i)^(.)(s)", "a\u{17f}".as_bytes()), None);
    assert_eq!(argv("(?i)^(.)(é)".as_bytes(), "aÉ".as_bytes()), None);
    assert_eq!(argv("(?i)^(.)(é)".as_bytes(), "aé".as_bytes()), strs(&["a", "é"]));
    assert_eq!(argv(b"(?i)^([^k])", "\u{212a}".as_bytes()), strs(&["\u{212a}"]));
    assert_eq!(argv(b"(?i)^([^k])", "K".as_bytes()), None);
    assert_eq!(argv(b"(?i)^(.)([a-z]+)", "éSK\u{212a}".as_bytes()), strs(&["é", "SK"]));
    assert_eq!(argv(b"(?i)^(.)(\\w+)", "é\u{212a}".as_bytes()), None);
    assert_eq!(argv(b"^(.)(?i:A)a", "éAa".as_bytes()), strs(&["é"]));
    assert_eq!(argv(b"^(.)(?i:A)a", "éAA".as_bytes()), None);
    // Case-sensitive by default.
    assert_eq!(argv(b"^(.)(A)", "éa".as_bytes()), None);
}

#[test]
fn backtracking_patterns_read_characters_too() {
    assert_eq!(argv(b"^(.)(?!x)(.)", "é€".as_bytes()), strs(&["é", "€"]));
    assert_eq!(argv(b"(.)\\1", "aéé".as_bytes()), strs(&["é"]));
    assert_eq!(argv(b"(?<=\xc3\xa9)(.)", "aé€".as_bytes()), strs(&["€"]));
    assert_eq!(argv(b"(.)\\b(\\w+)(?=x)", "éax".as_bytes()), strs(&["é", "a"]));
    assert_eq!(argv(b"^(.)\\B(.)(?=x)", "éax".as_bytes()), None);
    assert_eq!(argv(b"^(.)\\B(.)(?=x)", "é€x".as_bytes()), strs(&["é", "€"]));
    assert_eq!(argv(b"(?i)^(.)(k)(?=x)", "a\u{212a}x".as_bytes()), None);
    assert_eq!(argv(b"(?i)^(.)(k)(?=x)", "aKx".as_bytes()), strs(&["a", "K"]));
    assert_eq!(argv(b"^(.)(\\w)(?=x)", "éax".as_bytes()), strs(&["é", "a"]));
    assert_eq!(argv(b"^([^a]++)(.)", "é€a".as_bytes()), strs(&["é€", "a"]));
}

#[test]
fn literal_prefixes_hold_for_both_readings() {
    let prefix = |p: &[u8]| compile(p).literal_prefix().map(<[u8]>::to_vec);
    assert_eq!(prefix("^é+(.)".as_bytes()), Some("é".as_bytes().to_vec()));
    assert_eq!(prefix("^café (.)".as_bytes()), Some("café ".as_bytes().to_vec()));
    // The byte reading needs 0xC3 first, the character reading does not.
    assert_eq!(prefix("^é?x(.)".as_bytes()), None);
    assert_eq!(prefix("^aé{2}x(.)".as_bytes()), Some(b"a".to_vec()));
    let mut index = PrefixIndex::default();
    index.insert(1, compile("^é?x(.)".as_bytes()).literal_prefix());
    let mut keys = Vec::new();
    index.candidates("xé".as_bytes(), &mut keys);
    assert_eq!(keys, [1]);
    assert_eq!(argv("^é?x(.)".as_bytes(), "xé".as_bytes()), strs(&["é"]));
}

/// What random patterns mix between their atoms: groups (twice as likely as
/// the other tokens), quantifiers, anchors, alternation and a look-ahead.
const STRUCTURE: &[&str] = &["(", "(", ")", ")", "*", "+", "?", "{2}", "^", "$", "|", "(?=.)"];

/// One to eight of `tokens`, drawn at random.
fn random_pattern(rng: &mut Rng, tokens: &[&str]) -> String {
    (0..1 + rng.below(8)).map(|_| tokens[rng.below(tokens.len())]).collect()
}

/// Random patterns of valid UTF-8 on random UTF-8 messages: every capture
/// is valid UTF-8.
#[test]
fn captures_of_utf8_messages_are_utf8() {
    const ATOMS: &[&str] =
        &[".", ".", "[^a]", "\\W", "\\S", "\\D", "\\w", "\\H", "\\N", "[^\\d]", "é", "€", "[é€]", "[à-é]", "a", " "];
    const MORE: &[&str] = &["\\b", "\\B", "(?i)", "\\1", "[[:^alpha:]]"];
    let tokens = [ATOMS, STRUCTURE, MORE].concat();
    const CHARS: &[&str] = &["a", "é", "€", "😀", " ", "x", "1", "\u{a0}", "à", "K"];
    let mut rng = Rng(7);
    let (mut tried, mut hits) = (0, 0);
    for _ in 0..5_000 {
        let source = random_pattern(&mut rng, &tokens);
        let Ok(p) = Pattern::compile(source.as_bytes()) else { continue };
        tried += 1;
        for _ in 0..4 {
            let msg: String = (0..rng.below(8)).map(|_| CHARS[rng.below(CHARS.len())]).collect();
            let mut out = Vec::new();
            if p.captures(msg.as_bytes(), &mut out) {
                hits += 1;
                for arg in &out {
                    assert!(std::str::from_utf8(arg).is_ok(), "{source:?} on {msg:?} gave {out:?}");
                }
            }
        }
    }
    assert!(tried > 1_000 && hits > 1_000, "{tried} patterns, {hits} matches");
}

/// On ASCII text the Unicode version must give exactly the byte version's
/// result (ASCII messages run the byte version; this checks the translation).
#[test]
fn both_versions_agree_on_ascii() {
    const ATOMS: &[&str] = &[
        ".",
        "[^a]",
        "[^k]",
        "\\W",
        "\\S",
        "\\D",
        "\\w",
        "\\s",
        "\\d",
        "\\h",
        "\\H",
        "\\v",
        "\\V",
        "\\N",
        "\\R",
        "\\C",
        "[^\\d]",
        "[a-f]",
        "[^A-Z_]",
        "[[:alpha:]]",
        "[[:^lower:]]",
        "[[:upper:][:^punct:]]",
        "[\\W\\d]",
        "k",
        "s",
        "S",
        "K",
        "a",
        "B",
        " ",
        "\n",
    ];
    const MORE: &[&str] =
        &["(?<!a)", "\\b", "\\B", "(?i)", "(?-i)", "(?i:", "(?s)", "(?m)", "\\1", "[^\\x00-\\x7f]", "\\x{41}"];
    let tokens = [ATOMS, STRUCTURE, MORE].concat();
    const CHARS: &[u8] = b"aAkKsSB_1 \n\t-xZ.\x0b\x7f";
    let mut rng = Rng(11);
    let (mut tried, mut hits) = (0, 0);
    for _ in 0..5_000 {
        let source = random_pattern(&mut rng, &tokens);
        let Ok(p) = Pattern::compile(source.as_bytes()) else { continue };
        if !p.has_text_version() {
            continue;
        }
        tried += 1;
        for _ in 0..6 {
            let msg: Vec<u8> = (0..rng.below(8)).map(|_| CHARS[rng.below(CHARS.len())]).collect();
            let text = std::str::from_utf8(&msg).unwrap_or_default();
            let (mut by_bytes, mut by_text) = (Vec::new(), Vec::new());
            let a = p.captures(&msg, &mut by_bytes);
            let b = p.captures_subject(Subject::text_for_tests(text), &mut by_text);
            assert_eq!(a, b, "{source:?} on {text:?}");
            if a {
                hits += 1;
                assert_eq!(by_bytes, by_text, "{source:?} on {text:?}");
            }
        }
    }
    assert!(tried > 1_000 && hits > 1_000, "{tried} patterns, {hits} matches");
}

/// Hostile sources mixing PCRE syntax, whole characters and stray bytes of
/// characters: compiling never panics, and a pattern with a Unicode version
/// never splits a character of a UTF-8 message.
#[test]
fn hostile_utf8_patterns_never_split_characters() {
    const TOKENS: &[&[u8]] = &[
        b"^",
        b"$",
        b".",
        b"|",
        b"(",
        b")",
        b"[",
        b"]",
        b"{",
        b"}",
        b"*",
        b"+",
        b"?",
        b"\\",
        b"-",
        b":",
        b"#",
        b"<",
        b"=",
        b"!",
        b"'",
        b"P",
        b"Q",
        b"E",
        b"x",
        b"c",
        b"1",
        b"a",
        b"^",
        b"\n",
        b" ",
        b"\\x{c3}",
        b"\\xa9",
        b"\\Q",
        b"\\E",
        b"(?x)",
        b"(?i)",
        b"[:^alpha:]",
        "é".as_bytes(),
        "€".as_bytes(),
        "\u{a0}".as_bytes(),
        b"\xc3",
        b"\xa9",
        b"\xe2\x82",
        b"\\N",
        b"\\h",
        b"\\R",
        b"\\W",
    ];
    const CHARS: &[&str] = &["a", "é", "€", "\u{a0}", " ", "x", "\n", "Ã", "©"];
    let mut rng = Rng(99);
    for _ in 0..10_000 {
        let source: Vec<u8> =
            (0..rng.below(10)).flat_map(|_| TOKENS[rng.below(TOKENS.len())].iter().copied()).collect();
        let Ok(p) = Pattern::compile(&crate::pattern::expand_intervals(&source)) else { continue };
        for _ in 0..3 {
            let msg: String = (0..rng.below(8)).map(|_| CHARS[rng.below(CHARS.len())]).collect();
            let mut out = Vec::new();
            if p.captures(msg.as_bytes(), &mut out) && p.has_text_version() {
                assert!(out.iter().all(|a| std::str::from_utf8(a).is_ok()), "{source:?} on {msg:?}: {out:?}");
            }
        }
    }
}
