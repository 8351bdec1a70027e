//! Fast search and count of one byte (LF, ETX) in long lines: the receive path and
//! the literal-pattern fast path scan every byte of every message.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Inputs shorter than this are searched word by word, inline.
const SHORT: usize = 32;

/// Position of the first `needle` in `bytes`. Inline for short inputs (most
/// lines and fields): entering the vectorised search costs more than they do.
#[inline]
pub fn find_byte(bytes: &[u8], needle: u8) -> Option<usize> {
    if bytes.len() < SHORT { find_in_words(bytes, needle) } else { find_in_blocks(bytes, needle) }
}

#[inline(never)]
fn find_in_blocks(bytes: &[u8], needle: u8) -> Option<usize> {
    let mut at = 0;
    // Blocks of 32 bytes, which the compiler turns into vector compares.
    for block in bytes.chunks_exact(32) {
        if block.iter().fold(false, |seen, &b| seen | (b == needle)) {
            break;
        }
        at += 32;
    }
    find_in_words(bytes.get(at..).unwrap_or_default(), needle).map(|i| at + i)
}

/// Words of 8 bytes: `zero` is nonzero iff a byte of `w` is 0 (was the needle),
/// and its lowest set bit marks the first such byte.
#[inline(always)]
fn find_in_words(bytes: &[u8], needle: u8) -> Option<usize> {
    let pattern = LO * u64::from(needle);
    let mut at = 0;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let w = u64::from_le_bytes(word.try_into().unwrap_or_default()) ^ pattern;
        let zero = w.wrapping_sub(LO) & !w & HI;
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = words.remainder();
    tail.iter().position(|&b| b == needle).map(|i| at + i)
}

/// How many times `needle` occurs in `bytes`.
pub fn count_byte(bytes: &[u8], needle: u8) -> usize {
    let mut blocks = bytes.chunks_exact(32);
    // A block adds at most 32 to its u8 sum; the compiler vectorizes the compares.
    let whole: usize =
        (&mut blocks).map(|block| usize::from(block.iter().fold(0u8, |n, &b| n + u8::from(b == needle)))).sum();
    whole + blocks.remainder().iter().filter(|&&b| b == needle).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_occurrence_at_every_position_and_length() {
        for len in 0..100 {
            for pos in 0..=len {
                let mut v = vec![b'a'; len];
                if pos < len {
                    v[pos] = b'\n';
                    if pos + 1 < len {
                        v[pos + 1] = b'\n';
                    }
                }
                let want = (pos < len).then_some(pos);
                assert_eq!(find_byte(&v, b'\n'), want, "len {len} pos {pos}");
                assert_eq!(find_byte(&v, 0x03), None);
            }
        }
        // A byte whose neighbours borrow in the word trick must not be a false hit.
        assert_eq!(find_byte(&[0x0b, 0x0a, 0x09, 0x8a, 0x0b, 0x0b, 0x0b, 0x0b, 0x0a], 0x0a), Some(1));
        assert_eq!(find_byte(&[0x0b; 8], 0x0a), None);
        assert_eq!(find_byte(&[0x81, 0x01, 0, 0x80, 0x01, 0x01, 0x01, 0x01, 0], 0), Some(2));
    }

    #[test]
    fn counts_every_occurrence_at_every_length() {
        for len in 0..130 {
            let v: Vec<u8> = (0..len).map(|i| if i % 3 == 0 || i % 7 == 0 { 0x03 } else { b'a' }).collect();
            let want = (0..len).filter(|i| i % 3 == 0 || i % 7 == 0).count();
            assert_eq!(count_byte(&v, 0x03), want, "len {len}");
            assert_eq!(count_byte(&v, b'\n'), 0);
        }
        assert_eq!(count_byte(&[0x03; 32], 0x03), 32);
        assert_eq!(count_byte(&[0x03; 1000], 0x03), 1000);
    }
}
