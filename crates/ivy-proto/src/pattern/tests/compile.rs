use super::{argv, strs};
use crate::pattern::{CompileError, Pattern};
use std::time::{Duration, Instant};

fn error(pattern: &[u8]) -> CompileError {
    Pattern::compile(pattern).err().unwrap_or_else(|| panic!("{pattern:?} compiled"))
}

#[test]
fn unanchored_search_case_12() {
    assert_eq!(argv(b"world", b"hello world"), strs(&[]));
    assert_eq!(argv(b"^world", b"hello world"), None);
    assert_eq!(argv(b"World", b"hello world"), None, "case-sensitive");
}

#[test]
fn routing_example_case_11() {
    assert_eq!(argv(b"^hello (.*)", b"hello world"), strs(&["world"]));
    assert_eq!(argv(b"hello", b"hello world"), strs(&[]));
    assert_eq!(argv(b"(.*)", b"hello world"), strs(&["hello world"]));
}

#[test]
fn optional_groups_case_13_and_15() {
    let p = b"^a(b)?(c)?(d)?";
    assert_eq!(argv(p, b"a"), strs(&[]));
    assert_eq!(argv(p, b"ab"), strs(&["b"]));
    assert_eq!(argv(p, b"ac"), strs(&["", "c"]));
    assert_eq!(argv(p, b"ad"), strs(&["", "", "d"]));
    assert_eq!(argv(p, b"abcd"), strs(&["b", "c", "d"]));
    assert_eq!(Pattern::compile(p).map(|p| p.group_count()), Ok(3));
}

#[test]
fn nested_and_repeated_groups_case_14() {
    // The linear engine keeps an inner group's value from an earlier
    // iteration, exactly like PCRE.
    assert_eq!(argv(b"^(x(y)?)+$", b"xyxy"), strs(&["xy", "y"]));
    assert_eq!(argv(b"^(x(y)?)+$", b"xyx"), strs(&["x", "y"]));
    assert_eq!(argv(b"^(?:x(y)?)+$", b"xyx"), strs(&["y"]));
    assert_eq!(argv(b"(?<first>a)(?P<second>b)(?'third'c)", b"abc"), strs(&["a", "b", "c"]));
    assert_eq!(argv(b"(?:a)(b)", b"ab"), strs(&["b"]));
}

#[test]
fn etx_and_empty_message_cases_16_17() {
    assert_eq!(argv(b"(.*)", b""), strs(&[""]));
    assert_eq!(argv(b"(.*)", b"a\x03b"), strs(&["a\x03b"]));
}

#[test]
fn newlines_case_18() {
    assert_eq!(argv(b"(.*)", b"nl1\nline2"), strs(&["nl1"]));
    assert_eq!(argv(b"(?s)^nl(.*)", b"nl1\nline2"), strs(&["1\nline2"]));
    // PCRE's `$`: end, or before a final LF.
    assert_eq!(argv(b"^(.*)$", b"abc\n"), strs(&["abc"]));
    assert_eq!(argv(b"^(abc$)", b"abc\n"), strs(&["abc"]));
    assert_eq!(argv(b"^abc\\Z", b"abc\n"), strs(&[]));
    assert_eq!(argv(b"^abc$", b"abc\nx"), None);
    assert_eq!(argv(b"^abc\\z", b"abc\n"), None);
    assert_eq!(argv(b"(?m)^b$", b"a\nb\nc"), strs(&[]));
}

#[test]
fn bytes_case_19() {
    let msg = b"caf\xc3\xa9\xff\x01";
    assert_eq!(argv(b"(.*)", msg), Some(vec![msg.to_vec()]));
    assert_eq!(argv(b"^caf\xc3\xa9(.)", msg), Some(vec![b"\xff".to_vec()]));
    assert_eq!(argv(b"([\xe9\xff]+)", msg), Some(vec![b"\xff".to_vec()]));
    assert_eq!(argv(b"([\xc3\xa9]+)", msg), Some(vec![b"\xc3\xa9".to_vec()]));
    assert_eq!(argv(b"^caf(..)", msg), Some(vec![b"\xc3\xa9".to_vec()]));
    assert_eq!(argv(b"(\\w+)", b"\xe9t\xe9"), strs(&["t"]), "\\w is ASCII");
    assert_eq!(argv(b"\\xff(\\x01)", msg), Some(vec![b"\x01".to_vec()]));
    assert_eq!(argv(b"(\\d+)", b"\xd9\xa3 42"), strs(&["42"]), "\\d is ASCII");
    assert_eq!(argv(b"(?i)(CAF)", b"caf"), strs(&["caf"]));
    // Look-around forces the backtracker, which must see bytes too.
    assert_eq!(argv(b"(\xe9)(?!x)", b"\xe9x\xe9"), Some(vec![b"\xe9".to_vec()]));
}

#[test]
fn compile_errors_case_28() {
    let e = |offset, message: &str| CompileError { offset, message: message.into() };
    assert_eq!(error(b"foo(bar"), e(7, "missing )"));
    // A quantifier with nothing to repeat: the offset of that quantifier.
    for (pattern, offset) in [(&b"*"[..], 0), (b"a**", 2), (b"(+)", 1), (b"a|?", 2)] {
        assert_eq!(error(pattern), e(offset, "nothing to repeat"), "{}", pattern.escape_ascii());
    }
    assert_eq!(error(b"[z"), e(2, "missing terminating ] for character class"));
    assert_eq!(error(b"a)"), e(1, "unmatched parentheses"));
    assert_eq!(error(b"abc\\"), e(4, "\\ at end of pattern"));
    assert_eq!(error(b"[z-a]"), e(3, "range out of order in character class"));
    assert_eq!(error(b"a{3,2}"), e(5, "numbers out of order in {} quantifier"));
    assert_eq!(error(b"[[:foo:]]"), e(3, "unknown POSIX class name"));
    assert_eq!(error(b"(?#abc"), e(6, "missing ) after comment"));
    // Engine errors keep the engine's text.
    assert_eq!(error(b"(?z)"), e(2, "unrecognized character after (? or (?-"));
    assert!(!error(b"\\p{L}").message.contains("large"));
}

#[test]
fn pcre_syntax_translations() {
    assert_eq!(argv(b"a{", b"a{"), strs(&[]), "{{ that is not a repeat is literal");
    assert_eq!(argv(b"x{,3}", b"x{,3}"), strs(&[]));
    assert_eq!(argv(b"^(a{2,3})", b"aaaa"), strs(&["aaa"]));
    assert_eq!(argv(b"\\Q(a|b)*\\E(c)", b"(a|b)*c"), strs(&["c"]));
    assert_eq!(argv(b"[]a]+", b"]a]"), strs(&[]));
    assert_eq!(argv(b"^([]a]+)", b"]a]b"), strs(&["]a]"]));
    assert_eq!(argv(b"^([^]a]+)", b"bc]"), strs(&["bc"]));
    assert_eq!(argv(b"^([a-]+)", b"a-a-b"), strs(&["a-a-"]));
    assert_eq!(argv(b"^([\\d-z]+)", b"1-z2y"), strs(&["1-z2"]));
    assert_eq!(argv(b"^([[a&&b~]+)", b"[a&&b~c"), strs(&["[a&&b~"]));
    assert_eq!(argv(b"^([[:digit:][:^alpha:]]+)", b"1-2a"), strs(&["1-2"]));
    assert_eq!(argv(b"^a(?#comment)b", b"ab"), strs(&[]));
    assert_eq!(argv(b"\\<(b)\\>", b"a<b>"), strs(&["b"]));
    assert_eq!(argv(b"\\e\\cA\\x1\\0101", b"\x1b\x01\x01\x081"), strs(&[]));
    assert_eq!(argv(b"\\x{41}", b"A"), strs(&[]));
    assert_eq!(argv(b"(\\h+)\\v", b"a \t\xa0\r"), Some(vec![b" \t\xa0".to_vec()]));
    assert_eq!(argv(b"a\\Rb", b"a\r\nb"), strs(&[]));
    assert_eq!(argv(b"^\\Gab", b"ab"), strs(&[]));
    assert_eq!(argv(b"\\ia", b"ia"), strs(&[]), "unknown escapes are literal in PCRE 1");
    assert_eq!(argv(b"(?x) a b # comment (\n (c)", b"abc"), strs(&["c"]));
    assert_eq!(argv(b"(?x)[ ]", b" "), strs(&[]));
    assert_eq!(argv(b"(?i:A)a", b"aa"), strs(&[]));
    assert_eq!(argv(b"(?i:A)a", b"aA"), None);
    assert!(Pattern::compile(b"\\x{100}").is_err());
    assert!(Pattern::compile(b"\\u0041").is_err());
}

#[test]
fn backtracking_fallback() {
    let p = Pattern::compile(b"^a(?!b)").expect("look-ahead");
    assert!(p.is_backtracking());
    assert!(p.is_match(b"ac") && p.is_match(b"a") && !p.is_match(b"ab"));
    assert_eq!(argv(b"(a)\\1", b"xaa"), strs(&["a"]));
    assert_eq!(argv(b"(a)\\1", b"xab"), None);
    assert_eq!(argv(b"(?<n>a)\\k<n>(b)", b"aab"), strs(&["a", "b"]));
    assert_eq!(argv(b"(a)(b)\\g{-1}", b"abb"), strs(&["a", "b"]));
    assert_eq!(argv(b"(?<=x)(y)", b"ayxy"), strs(&["y"]));
    assert_eq!(argv(b"a*+a", b"aaa"), None, "possessive");
    assert_eq!(argv(b"(?>a*)(a?)", b"aa"), strs(&[""]), "atomic");
    assert!(!Pattern::compile(b"^(a)$").map(|p| p.is_backtracking()).unwrap_or(true));
}

#[test]
fn catastrophic_patterns_return_promptly() {
    let mut msg = vec![b'a'; 30];
    msg.push(b'b');
    for pattern in [&b"(a+)+$"[..], b"(a+)+$\\1", b"^(a|aa)+(?=c)", b"(x+x+)+y(?!z)"] {
        let p = Pattern::compile(pattern).expect("compiles");
        let start = Instant::now();
        assert!(!p.is_match(&msg), "{pattern:?}");
        let mut out = Vec::new();
        assert!(!p.captures(&msg, &mut out));
        assert!(start.elapsed() < Duration::from_secs(5), "{pattern:?} took {:?}", start.elapsed());
    }
}

#[test]
fn size_limits() {
    let e = error(b"(((a{100}){100}){100})");
    assert_eq!(e.message, "regular expression is too large");
    assert!(Pattern::compile(b"a{65536}").is_err());
}

#[test]
fn literal_prefixes() {
    let prefix = |p: &[u8]| Pattern::compile(p).expect("compiles").literal_prefix().map(<[u8]>::to_vec);
    let some = |s: &[u8]| Some(s.to_vec());
    assert_eq!(prefix(b"^topic0001 (.*)"), some(b"topic0001 "));
    assert_eq!(prefix(b"^ab?c"), some(b"a"));
    assert_eq!(prefix(b"^abc*"), some(b"ab"));
    assert_eq!(prefix(b"^ab+"), some(b"ab"));
    assert_eq!(prefix(b"^ab{2}"), some(b"a"));
    assert_eq!(prefix(b"^a\\.b"), some(b"a.b"));
    assert_eq!(prefix(b"^caf\xc3\xa9"), some(b"caf\xc3\xa9"));
    assert_eq!(prefix(b"^\\Qa|b\\E"), some(b"a|b"));
    assert_eq!(prefix(b"^ab(c|d)"), some(b"ab"));
    assert_eq!(prefix(b"^abc(?i)d"), some(b"abc"));
    for none in [&b"^abc|x"[..], b"^(?i)abc", b"abc", b"^.abc", b"^\\dabc", b"(?x)^a b", b"^a?", b"^[a]"] {
        assert_eq!(prefix(none), None, "{none:?}");
    }
}

#[test]
fn hostile_patterns_never_panic() {
    const BYTES: &[u8] = b"^$.|()[]{}*+?\\-:#<>=!'PQEZzbBdxcgk019aAI,~&^\n \xe9\xff";
    let mut rng = super::Rng(42);
    for _ in 0..20_000 {
        let source: Vec<u8> = (0..rng.below(14)).map(|_| BYTES[rng.below(BYTES.len())]).collect();
        let expanded = crate::pattern::expand_intervals(&source);
        if let Ok(p) = Pattern::compile(&expanded) {
            for _ in 0..4 {
                let mut out = Vec::new();
                let msg: Vec<u8> = (0..rng.below(10)).map(|_| BYTES[rng.below(BYTES.len())]).collect();
                if p.captures(&msg, &mut out) {
                    assert!(out.len() <= p.group_count());
                }
            }
        }
    }
}

#[test]
fn odd_classes() {
    assert_eq!(argv(b"a[^\\x00-\\xff]?b", b"ab"), strs(&[]));
    assert_eq!(argv(b"^([%--]+)", b"%+-."), strs(&["%+-"]));
    assert_eq!(argv(b"^([\\Q]-\\E]+)", b"]-]x"), strs(&["]-]"]));
    assert_eq!(argv(b"^([\\Z]+)", b"ZZz"), strs(&["ZZ"]));
    assert_eq!(error(b"[a-\\d]"), CompileError { offset: 4, message: "invalid range in character class".into() });
}

#[test]
fn shareable_between_threads() {
    fn check<T: Send + Sync>() {}
    check::<Pattern>();
    check::<crate::pattern::PrefixIndex>();
    check::<crate::pattern::Filter>();
}

#[test]
fn search_caches_are_kept_small() {
    use crate::pattern::{CACHE_KEEP, CaptureSlots, Subject};
    // Its lazy DFA meets a new state at almost every byte of random a/b text: the
    // cache grows to hundreds of KiB during one search of 100 KB.
    let blowup = Pattern::compile(b"([ab]*a[ab]{12})").expect("compiles");
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let message: Vec<u8> = (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x & 1 == 0 { b'a' } else { b'b' }
        })
        .collect();
    let (mut slots, mut spans) = (CaptureSlots::default(), Vec::new());
    for _ in 0..3 {
        assert!(blowup.capture_spans(Subject::bytes_only(&message), &mut slots, &mut spans));
        assert_eq!(spans.len(), 1);
        assert!(slots.memory_usage() <= CACHE_KEEP, "kept {}", slots.memory_usage());
    }
    // A usual pattern keeps its cache from one search to the next.
    let usual = Pattern::compile(b"^(\\S*) GPS (\\S*) (.*)$").expect("compiles");
    let mut kept = CaptureSlots::default();
    assert!(usual.capture_spans(Subject::bytes_only(b"ac1 GPS 3 4 5"), &mut kept, &mut spans));
    assert!(kept.memory_usage() > 0);
    assert_eq!(spans, vec![Some((0, 3)), Some((8, 9)), Some((10, 13))]);
    // Slots made for another pattern are made anew, not misused.
    assert!(blowup.capture_spans(Subject::bytes_only(b"xxabbbbbbbbbbbbb"), &mut kept, &mut spans));
    assert_eq!(spans, vec![Some((2, 15))]);
    assert!(usual.capture_spans(Subject::bytes_only(b"b GPS c d"), &mut kept, &mut spans));
    assert_eq!(spans, vec![Some((0, 1)), Some((6, 7)), Some((8, 9))]);
}

#[test]
fn capture_slots_are_small_until_used() {
    // The dictionary keeps one per distinct regexp, in its table.
    assert!(std::mem::size_of::<crate::pattern::CaptureSlots>() <= 16);
}
