//! The peers' subscriptions, keyed by exact regexp text: each distinct text is
//! compiled once and run once per message, whoever subscribed it (§5.1).

use super::types::PeerId;
use crate::pattern::{CompileError, Pattern, PrefixIndex};
use std::collections::HashMap;

/// One distinct regexp text and who subscribed it.
#[derive(Debug)]
struct Entry {
    compiled: Result<Pattern, CompileError>,
    /// (peer, subscription id), newest first.
    subs: Vec<(PeerId, i32)>,
}

/// Every peer subscription, iterated in insertion order of the texts.
#[derive(Debug, Default)]
pub struct Dictionary {
    entries: HashMap<u64, Entry>,
    by_text: HashMap<Vec<u8>, u64>,
    index: PrefixIndex,
    next_key: u64,
    candidates: Vec<u64>,
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
        let entry = Entry { compiled, subs: Vec::new() };
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
    /// `deliver(args, subscribers)` with the argv of §5.3, in dictionary order.
    pub fn for_each_match(&mut self, message: &[u8], mut deliver: impl FnMut(&[&[u8]], &[(PeerId, i32)])) {
        let mut candidates = std::mem::take(&mut self.candidates);
        self.index.candidates(message, &mut candidates);
        let mut args = Vec::new();
        // Checked for UTF-8 once, for every candidate.
        let subject = crate::pattern::Subject::new(message);
        for key in &candidates {
            let Some(Entry { compiled: Ok(pattern), subs, .. }) = self.entries.get(key) else {
                continue;
            };
            if pattern.captures_subject(subject, &mut args) {
                deliver(&args, subs);
            }
        }
        self.candidates = candidates;
    }
}
