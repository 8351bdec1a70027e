use super::Rng;
use crate::pattern::{Pattern, PrefixIndex};

/// A random small pattern, biased towards `^literal…` forms.
fn random_pattern(rng: &mut Rng) -> Vec<u8> {
    const ATOMS: &[&str] = &["a", "b", "c", "ab", ".", "[ab]", "\\.", "(a|b)", "(c)", "\\d", "1", "x"];
    const QUANTS: &[&str] = &["", "", "", "?", "*", "+", "{2}"];
    let mut p = String::new();
    if rng.below(4) != 0 {
        p.push('^');
    }
    if rng.below(2) == 0 {
        p.push_str(["a", "b", "ab", "x1"][rng.below(4)]);
    }
    for _ in 0..1 + rng.below(4) {
        p.push_str(ATOMS[rng.below(ATOMS.len())]);
        p.push_str(QUANTS[rng.below(QUANTS.len())]);
    }
    match rng.below(8) {
        0 => p.push_str("|b"),
        1 => p.insert_str(usize::from(p.starts_with('^')), "(?i)"),
        2 => p.push('$'),
        _ => {}
    }
    p.into_bytes()
}

fn random_message(rng: &mut Rng) -> Vec<u8> {
    const BYTES: &[u8] = b"abcABx1.";
    (0..rng.below(7)).map(|_| BYTES[rng.below(BYTES.len())]).collect()
}

#[test]
fn randomised_cross_check_against_brute_force() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut index = PrefixIndex::default();
    let mut live: Vec<(u64, Pattern)> = Vec::new();
    let (mut with_prefix, mut hits) = (0, 0);
    let mut out = Vec::new();
    for key in 0..400_u64 {
        let source = random_pattern(&mut rng);
        let Ok(p) = Pattern::compile(&source) else {
            continue;
        };
        with_prefix += usize::from(p.literal_prefix().is_some());
        index.insert(key, p.literal_prefix());
        live.push((key, p));
        if rng.below(5) == 0 {
            let (gone, _) = live.remove(rng.below(live.len()));
            index.remove(gone);
        }
    }
    assert_eq!(index.len(), live.len());
    assert!(with_prefix > 100, "the generator must exercise the index ({with_prefix})");
    for _ in 0..600 {
        let msg = random_message(&mut rng);
        index.candidates(&msg, &mut out);
        assert!(out.windows(2).all(|w| w[0] < w[1]), "ascending: {out:?}");
        for (key, p) in &live {
            if p.is_match(&msg) {
                hits += 1;
                assert!(out.binary_search(key).is_ok(), "key {key} hidden for {msg:?}");
                if let Some(prefix) = p.literal_prefix() {
                    assert!(msg.starts_with(prefix));
                }
            }
        }
    }
    assert!(hits > 1000, "messages must match often ({hits})");
}

#[test]
fn thousand_topics() {
    let mut index = PrefixIndex::default();
    let mut out = Vec::new();
    for n in 0..1000_u64 {
        let p = Pattern::compile(format!("^topic{n:04} (.*)").as_bytes()).expect("compiles");
        index.insert(n, p.literal_prefix());
    }
    index.insert(1000, None);
    index.candidates(b"topic0042 hello", &mut out);
    assert_eq!(out, [42, 1000]);
    index.candidates(b"topic004", &mut out);
    assert_eq!(out, [1000]);
    index.remove(1000);
    index.remove(42);
    index.candidates(b"topic0042 hello", &mut out);
    assert!(out.is_empty());
    assert_eq!(index.len(), 999);
}

#[test]
fn insert_remove_edge_cases() {
    let mut index = PrefixIndex::default();
    let mut out = Vec::new();
    assert!(index.is_empty());
    index.insert(5, Some(b"ab"));
    index.insert(3, Some(b"a"));
    index.insert(4, Some(b""));
    index.insert(9, Some(b"ab"));
    index.candidates(b"abc", &mut out);
    assert_eq!(out, [3, 4, 5, 9]);
    index.insert(9, Some(b"x")); // re-insert replaces
    index.candidates(b"abc", &mut out);
    assert_eq!(out, [3, 4, 5]);
    index.remove(5);
    index.remove(77);
    index.candidates(b"abc", &mut out);
    assert_eq!(out, [3, 4]);
    let long = [b'z'; 100];
    index.insert(10, Some(&long));
    index.candidates(&long, &mut out);
    assert_eq!(out, [4, 10]);
    assert_eq!(index.len(), 4);
}
