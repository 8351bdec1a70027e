use crate::pattern::Filter;

#[test]
fn hello_foo_lists_case_31() {
    let mut f = Filter::default();
    assert!(f.is_empty() && f.accepts(b"^anything"));
    f.add(b"hello");
    f.add(b"foo");
    for ok in ["^hello (.*)", "^hel", "^fo", "bar", "^(hello|bar)", "^ hello"] {
        assert!(f.accepts(ok.as_bytes()), "{ok}");
    }
    for filtered in ["^hellothere", "^bar", "^foo-bar x", "^Hello", "^hello_world"] {
        assert!(!f.accepts(filtered.as_bytes()), "{filtered}");
    }
    f.add(b"foo");
    f.remove(b"foo");
    assert_eq!(f.words(), &[b"hello".to_vec()]);
    assert!(!f.accepts(b"^fo"));
}
