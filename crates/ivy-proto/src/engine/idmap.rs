//! Hash maps keyed by the library's own ids (peer ids, binding ids, the
//! dictionary's keys), looked up on every message: one multiplication per key
//! instead of SipHash. The keys stored are issued by the library, never chosen
//! by a peer, so no defence against colliding keys is needed.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`IdHasher`].
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// The hasher of [`IdMap`].
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

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
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_i32(&mut self, n: i32) {
        self.write_u32(n as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::PeerId;

    #[test]
    fn spreads_consecutive_ids() {
        let mut m: IdMap<PeerId, usize> = IdMap::default();
        for i in 0..10_000 {
            m.insert(PeerId(i), i as usize);
        }
        assert!((0..10_000).all(|i| m.get(&PeerId(i)) == Some(&(i as usize))));
        let mut b: IdMap<i32, ()> = IdMap::default();
        b.extend((-500..500).map(|i| (i, ())));
        assert_eq!(b.len(), 1000);
        let hash = |i: i32| {
            let mut h = IdHasher::default();
            h.write_i32(i);
            h.finish()
        };
        assert_ne!(hash(1) >> 57, hash(2) >> 57, "the top bits (hashbrown's tags) differ");
    }
}
