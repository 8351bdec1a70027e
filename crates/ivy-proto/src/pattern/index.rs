//! Index of patterns by anchored literal prefix, so that a message only runs
//! the patterns that can match it (DESIGN §4).

use super::prefix::MAX_PREFIX_LEN;
use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};

/// The keys of [`PrefixHasher`], drawn at random for each index.
#[derive(Debug, Clone)]
struct PrefixHashKeys {
    seed: u64,
    key: u64,
}

impl Default for PrefixHashKeys {
    fn default() -> Self {
        let random = RandomState::new();
        PrefixHashKeys { seed: random.hash_one(1_u8), key: random.hash_one(2_u8) }
    }
}

impl BuildHasher for PrefixHashKeys {
    type Hasher = PrefixHasher;

    fn build_hasher(&self) -> PrefixHasher {
        PrefixHasher { state: self.seed, key: self.key }
    }
}

/// The hash of the prefix index, run on every message: a few folded
/// multiplications, as in aHash's fallback hasher, instead of SipHash (about
/// 150 instructions less per message). Prefixes come from peers, so the keys
/// are random and secret for each index: a peer cannot aim at colliding
/// prefixes to slow the index down without knowing them.
struct PrefixHasher {
    state: u64,
    key: u64,
}

/// The 128-bit product of `a` and `b`, folded to 64 bits.
fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

impl PrefixHasher {
    fn mix(&mut self, word: u64) {
        self.state = folded_multiply(self.state ^ word, 0x5851_f42d_4c95_7f2d);
    }
}

impl Hasher for PrefixHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.mix(u64::from_le_bytes(word.try_into().unwrap_or_default()));
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            // The tail as a little-endian word padded with zeros, without a copy.
            self.mix(tail.iter().rev().fold(0, |word, &b| word << 8 | u64::from(b)));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        let rotation = (self.state & 63) as u32;
        folded_multiply(self.state, self.key).rotate_left(rotation)
    }
}

/// Patterns keyed by caller-chosen `u64` keys, indexed by literal prefix.
///
/// A pattern with a prefix is a candidate only for messages starting with it;
/// one without is always a candidate. A lookup costs one hash probe per
/// distinct prefix length in the index.
#[derive(Debug, Default)]
pub struct PrefixIndex {
    /// Prefix → keys with that prefix, ascending.
    by_prefix: HashMap<Box<[u8]>, Vec<u64>, PrefixHashKeys>,
    /// (prefix length, number of distinct prefixes of that length), by length.
    lengths: Vec<(usize, usize)>,
    /// Keys without a prefix, ascending.
    always: Vec<u64>,
    /// Key → its prefix, for removal.
    entries: HashMap<u64, Option<Box<[u8]>>>,
}

/// Gives a table's room back once it holds less than a quarter of it (after a
/// burst of subscriptions left), so that its peak capacity is not kept.
pub(crate) fn shrink_if_sparse<K: Eq + Hash, V, S: BuildHasher>(map: &mut HashMap<K, V, S>) {
    if map.capacity() > SPARSE_ABOVE && map.len() < map.capacity() / 4 {
        map.shrink_to_fit();
    }
}

/// Tables up to this capacity keep it (see [`shrink_if_sparse`]).
const SPARSE_ABOVE: usize = 64;

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
                    match self.lengths.binary_search_by_key(&p.len(), |&(len, _)| len) {
                        Ok(at) => self.lengths[at].1 += 1,
                        Err(at) => self.lengths.insert(at, (p.len(), 1)),
                    }
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
                    if let Ok(at) = self.lengths.binary_search_by_key(&p.len(), |&(len, _)| len) {
                        self.lengths[at].1 -= 1;
                        if self.lengths[at].1 == 0 {
                            self.lengths.remove(at);
                        }
                    }
                }
            }
        }
        shrink_if_sparse(&mut self.entries);
        shrink_if_sparse(&mut self.by_prefix);
        if self.always.capacity() > SPARSE_ABOVE && self.always.len() < self.always.capacity() / 4 {
            self.always.shrink_to_fit();
        }
    }

    /// Clears `out` and fills it with the keys (ascending) of every pattern that may match `message`.
    pub fn candidates(&self, message: &[u8], out: &mut Vec<u64>) {
        out.clear();
        let mut runs = usize::from(!self.always.is_empty());
        out.extend_from_slice(&self.always);
        for &(len, _) in &self.lengths {
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
