//! A hasher for maps keyed by handles the library hands out itself (peer ids): one
//! multiply instead of SipHash. No peer chooses these keys, so there is no
//! collision flooding to defend against.

use std::hash::{BuildHasherDefault, Hasher};

/// A multiplicative hash (Fx-style); see the module doc for where it may be used.
#[derive(Default)]
pub struct IdHasher(u64);

const K: u64 = 0x517c_c1b7_2722_0a95;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(K);
    }
}

/// A `HashMap` of library-issued ids with [`IdHasher`].
pub type IdMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    fn hash(value: impl Hash) -> u64 {
        BuildHasherDefault::<IdHasher>::default().hash_one(value)
    }

    #[test]
    fn ids_hash_apart_and_maps_work() {
        assert_ne!(hash(1u64), hash(2u64));
        assert_ne!(hash(1u64 << 32), hash(1u64));
        assert_eq!(hash(7u64), hash(7u64));
        assert_ne!(hash([1u8, 2]), hash([2u8, 1]));
        let mut m: IdMap<u64, i32> = IdMap::default();
        for i in 0..1000u64 {
            m.insert(i << 32 | i, i as i32);
        }
        assert_eq!(m.get(&(5 << 32 | 5)), Some(&5));
        assert_eq!(m.len(), 1000);
    }
}
