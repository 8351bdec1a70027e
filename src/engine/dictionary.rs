//! The peers' subscriptions, keyed by exact regexp text: each distinct text is
//! compiled once and run once per message, whoever subscribed it (§5.1).

use super::types::PeerId;
use crate::pattern::{CaptureSlots, CompileError, Pattern, PrefixIndex, Subject};
use crate::wire::{ETX, LF};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// One distinct regexp text and who subscribed it.
#[derive(Debug)]
struct Entry {
    compiled: Result<Pattern, CompileError>,
    /// (peer, subscription id), newest first.
    subs: Vec<(PeerId, i32)>,
    /// The pattern's capture storage, reused from one message to the next.
    slots: CaptureSlots,
}

/// Hasher of the dictionary's own keys (a counter, never bytes from a peer):
/// one multiplication instead of SipHash on every message.
#[derive(Debug, Default, Clone, Copy)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

/// Every peer subscription, iterated in insertion order of the texts.
#[derive(Debug, Default)]
pub struct Dictionary {
    entries: HashMap<u64, Entry, BuildHasherDefault<KeyHasher>>,
    by_text: HashMap<Vec<u8>, u64>,
    index: PrefixIndex,
    next_key: u64,
    /// Scratch of [`Dictionary::for_each_match`], kept to save allocations.
    candidates: Vec<u64>,
    spans: Vec<Option<(usize, usize)>>,
    params: Vec<u8>,
}

impl Dictionary {
    /// Adds (peer, id) under `text`, compiling the text if it is new. Returns the
    /// compile error when the text cannot be compiled: the subscription is kept
    /// (listed, never matching), as ivy-c does.
    pub fn subscribe(&mut self, peer: PeerId, id: i32, text: &[u8]) -> Option<CompileError> {
        let key = match self.by_text.get(text) {
            Some(&key) => key,
            None => self.insert_text(text),
        };
        let entry = self.entries.get_mut(&key)?;
        entry.subs.insert(0, (peer, id));
        entry.compiled.as_ref().err().cloned()
    }

    fn insert_text(&mut self, text: &[u8]) -> u64 {
        self.next_key += 1;
        let key = self.next_key;
        let compiled = Pattern::compile(text);
        let prefix = compiled.as_ref().ok().and_then(|p| p.literal_prefix());
        self.index.insert(key, prefix);
        self.by_text.insert(text.to_vec(), key);
        let entry = Entry { compiled, subs: Vec::new(), slots: CaptureSlots::default() };
        self.entries.insert(key, entry);
        key
    }

    /// Removes every (peer, id) pair under `text`; drops the text when nobody is left.
    pub fn unsubscribe(&mut self, peer: PeerId, id: i32, text: &[u8]) {
        let Some(&key) = self.by_text.get(text) else { return };
        let Some(entry) = self.entries.get_mut(&key) else { return };
        entry.subs.retain(|&(p, i)| p != peer || i != id);
        if entry.subs.is_empty() {
            self.entries.remove(&key);
            self.by_text.remove(text);
            self.index.remove(key);
        }
    }

    /// Runs every candidate text against `message`; for each match calls
    /// `deliver(params, subscribers)` in dictionary order, `params` being the
    /// params of the Msg line (the argv of §5.3, each argument followed by ETX),
    /// or `None` when an argument holds LF (no line can carry it).
    pub fn for_each_match(&mut self, message: &[u8], mut deliver: impl FnMut(Option<&[u8]>, &[(PeerId, i32)])) {
        let mut candidates = std::mem::take(&mut self.candidates);
        self.index.candidates(message, &mut candidates);
        // Checked for UTF-8 once, on the first candidate that needs it.
        let mut checked = None;
        for key in &candidates {
            let Some(Entry { compiled: Ok(pattern), subs, slots }) = self.entries.get_mut(key) else {
                continue;
            };
            let subject = if pattern.reads_text() {
                *checked.get_or_insert_with(|| Subject::new(message))
            } else {
                Subject::bytes_only(message)
            };
            if !pattern.capture_spans(subject, slots, &mut self.spans) {
                continue;
            }
            self.params.clear();
            let check_lf = !pattern.captures_exclude_lf();
            let mut lf = false;
            for span in &self.spans {
                let arg = span.and_then(|(a, b)| message.get(a..b)).unwrap_or_default();
                lf |= check_lf && arg.contains(&LF);
                self.params.extend_from_slice(arg);
                self.params.push(ETX);
            }
            deliver((!lf).then_some(&self.params), subs);
        }
        self.candidates = candidates;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The params (or None) and the subscribers of one match.
    type Match = (Option<Vec<u8>>, Vec<(PeerId, i32)>);

    /// Every match, in order.
    fn matches(d: &mut Dictionary, message: &[u8]) -> Vec<Match> {
        let mut out = Vec::new();
        d.for_each_match(message, |params, subs| out.push((params.map(<[u8]>::to_vec), subs.to_vec())));
        out
    }

    #[test]
    fn params_are_argv_with_etx_in_dictionary_order() {
        let (a, b) = (PeerId(1), PeerId(2));
        let mut d = Dictionary::default();
        assert!(d.subscribe(a, 0, b"^topic (.*)").is_none());
        assert!(d.subscribe(b, 5, b"^(t)(x)?(o)(.*)$").is_none());
        assert!(d.subscribe(b, 6, b"^topic (.*)").is_none());
        assert!(d.subscribe(a, 1, b"(?s)^topic (.*)").is_none());
        assert!(d.subscribe(a, 2, b"pic").is_none());
        assert!(d.subscribe(a, 3, b"(").is_some());
        let want = |p: &[u8], subs: &[(PeerId, i32)]| (Some(p.to_vec()), subs.to_vec());
        assert_eq!(
            matches(&mut d, b"topic x\x03y"),
            vec![
                want(b"x\x03y\x03", &[(b, 6), (a, 0)]),
                want(b"t\x03\x03o\x03pic x\x03y\x03", &[(b, 5)]),
                want(b"x\x03y\x03", &[(a, 1)]),
                want(b"", &[(a, 2)]),
            ]
        );
        // An argument holding LF cannot go on a line.
        assert_eq!(
            matches(&mut d, b"topic x\ny"),
            vec![want(b"x\x03", &[(b, 6), (a, 0)]), (None, vec![(a, 1)]), want(b"", &[(a, 2)])]
        );
        // Whole characters on UTF-8 messages, the same slots reused.
        assert_eq!(matches(&mut d, "tépi".as_bytes()), vec![]);
        assert_eq!(
            matches(&mut d, "topic é".as_bytes()),
            vec![
                want("é\x03".as_bytes(), &[(b, 6), (a, 0)]),
                want("t\x03\x03o\x03pic é\x03".as_bytes(), &[(b, 5)]),
                want("é\x03".as_bytes(), &[(a, 1)]),
                want(b"", &[(a, 2)]),
            ]
        );
        d.unsubscribe(b, 6, b"^topic (.*)");
        d.unsubscribe(a, 0, b"^topic (.*)");
        assert_eq!(matches(&mut d, b"topic").len(), 2);
    }
}
