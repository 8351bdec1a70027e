//! Index of patterns by anchored literal prefix, so that a message only runs
//! the patterns that can match it (DESIGN §4).

use super::prefix::MAX_PREFIX_LEN;
use std::collections::{BTreeMap, HashMap};

/// Patterns keyed by caller-chosen `u64` keys, indexed by literal prefix.
///
/// A pattern with a prefix is a candidate only for messages starting with it;
/// one without is always a candidate. A lookup costs one hash probe per
/// distinct prefix length in the index.
#[derive(Debug, Default)]
pub struct PrefixIndex {
    /// Prefix → keys with that prefix, ascending.
    by_prefix: HashMap<Box<[u8]>, Vec<u64>>,
    /// Prefix length → number of distinct prefixes of that length.
    lengths: BTreeMap<usize, usize>,
    /// Keys without a prefix, ascending.
    always: Vec<u64>,
    /// Key → its prefix, for removal.
    entries: HashMap<u64, Option<Box<[u8]>>>,
}

fn insert_sorted(keys: &mut Vec<u64>, key: u64) {
    if keys.last().is_none_or(|&last| last < key) {
        keys.push(key);
    } else if let Err(at) = keys.binary_search(&key) {
        keys.insert(at, key);
    }
}

fn remove_sorted(keys: &mut Vec<u64>, key: u64) {
    if let Ok(at) = keys.binary_search(&key) {
        keys.remove(at);
    }
}

impl PrefixIndex {
    /// Adds (or replaces) `key`. Prefixes longer than [`MAX_PREFIX_LEN`] are
    /// cut; an empty or absent prefix makes the key always a candidate.
    pub fn insert(&mut self, key: u64, prefix: Option<&[u8]>) {
        self.remove(key);
        let prefix = prefix.filter(|p| !p.is_empty()).map(|p| Box::<[u8]>::from(p.get(..MAX_PREFIX_LEN).unwrap_or(p)));
        match &prefix {
            None => insert_sorted(&mut self.always, key),
            Some(p) => {
                let keys = self.by_prefix.entry(p.clone()).or_insert_with(|| {
                    *self.lengths.entry(p.len()).or_default() += 1;
                    Vec::new()
                });
                insert_sorted(keys, key);
            }
        }
        self.entries.insert(key, prefix);
    }

    /// Removes `key`; unknown keys are ignored.
    pub fn remove(&mut self, key: u64) {
        match self.entries.remove(&key) {
            None => {}
            Some(None) => remove_sorted(&mut self.always, key),
            Some(Some(p)) => {
                let Some(keys) = self.by_prefix.get_mut(&p) else {
                    return;
                };
                remove_sorted(keys, key);
                if keys.is_empty() {
                    self.by_prefix.remove(&p);
                    if let Some(n) = self.lengths.get_mut(&p.len()) {
                        *n -= 1;
                        if *n == 0 {
                            self.lengths.remove(&p.len());
                        }
                    }
                }
            }
        }
    }

    /// Clears `out` and fills it with the keys (ascending) of every pattern that may match `message`.
    pub fn candidates(&self, message: &[u8], out: &mut Vec<u64>) {
        out.clear();
        let mut runs = usize::from(!self.always.is_empty());
        out.extend_from_slice(&self.always);
        for &len in self.lengths.keys() {
            let Some(head) = message.get(..len) else {
                break;
            };
            if let Some(keys) = self.by_prefix.get(head) {
                out.extend_from_slice(keys);
                runs += 1;
            }
        }
        if runs > 1 {
            out.sort_unstable();
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key is indexed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
