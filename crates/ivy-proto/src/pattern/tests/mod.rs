//! Tests of the pattern layer (protocol §5.3–5.6, §11).

mod compile;
mod filter;
mod index;
mod interval;
mod shape;
mod unicode;

use super::Pattern;

/// argv of `pattern` on `message`, or `None` without a match.
fn argv(pattern: &[u8], message: &[u8]) -> Option<Vec<Vec<u8>>> {
    let p = Pattern::compile(pattern).unwrap_or_else(|e| panic!("{pattern:?}: {e:?}"));
    let mut out = vec![b"stale".as_slice()];
    p.captures(message, &mut out).then(|| out.iter().map(|a| a.to_vec()).collect())
}

fn strs(v: &[&str]) -> Option<Vec<Vec<u8>>> {
    Some(v.iter().map(|s| s.as_bytes().to_vec()).collect())
}

/// Tiny deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
}
