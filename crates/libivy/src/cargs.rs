//! The strings handed to C callbacks: writable NUL-terminated copies and their
//! `argv` array, in per-thread storage reused from one call to the next, so
//! that a delivery allocates nothing once the storage has grown to its size.
//!
//! A callback may run the loop, which delivers again on the same thread while
//! the outer `argv` is still in use: each [`CArgs`] takes a frame of its own
//! from the thread's pool and gives it back when dropped, so nested deliveries
//! use other frames (the pool holds as many as the deepest nesting seen).

use std::cell::RefCell;
use std::ffi::{c_char, c_int};

/// Frames whose text grew past this size are not kept (one huge message must
/// not pin its size for the life of the thread).
const KEEP_TEXT: usize = 64 << 10;

/// One set of copies: the texts back to back, each with its NUL, and their
/// start offsets; `argv` points into `text` once filled.
#[derive(Default)]
struct Frame {
    text: Vec<u8>,
    starts: Vec<usize>,
    argv: Vec<*mut c_char>,
}

thread_local! {
    static POOL: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// NUL-terminated copies of some byte strings, with an `argv` array (the
/// copies, then NULL) that C may write through. Valid until dropped.
pub(crate) struct CArgs {
    frame: Frame,
}

impl CArgs {
    /// Copies `args`. A NUL inside one simply ends that string for C.
    pub(crate) fn new(args: &[&[u8]]) -> CArgs {
        let mut frame = POOL.with(|p| p.borrow_mut().pop()).unwrap_or_default();
        frame.text.clear();
        frame.starts.clear();
        frame.text.reserve(args.iter().map(|a| a.len() + 1).sum());
        for a in args {
            frame.starts.push(frame.text.len());
            frame.text.extend_from_slice(a);
            frame.text.push(0);
        }
        let base = frame.text.as_mut_ptr();
        frame.argv.clear();
        // `wrapping_add` stays inside the allocation: every start is < text.len().
        frame.argv.extend(frame.starts.iter().map(|&s| base.wrapping_add(s).cast::<c_char>()));
        frame.argv.push(std::ptr::null_mut());
        CArgs { frame }
    }

    /// The number of strings, as C's `argc`.
    pub(crate) fn argc(&self) -> c_int {
        c_int::try_from(self.frame.starts.len()).unwrap_or(c_int::MAX)
    }

    /// The strings then NULL; C may write through it and into the strings.
    pub(crate) fn argv(&mut self) -> *mut *mut c_char {
        self.frame.argv.as_mut_ptr()
    }

    /// The first string (the only one of a [`CArgs::one`]).
    pub(crate) fn first(&mut self) -> *mut c_char {
        self.frame.argv.first().copied().unwrap_or(std::ptr::null_mut())
    }

    /// A copy of one string.
    pub(crate) fn one(text: &[u8]) -> CArgs {
        CArgs::new(&[text])
    }
}

impl Drop for CArgs {
    fn drop(&mut self) {
        let frame = std::mem::take(&mut self.frame);
        if frame.text.capacity() <= KEEP_TEXT {
            // Nothing to keep once the thread's storage is gone.
            let _ = POOL.try_with(|p| p.borrow_mut().push(frame));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    /// The strings of `c`, read back through its argv as C would.
    fn read(c: &mut CArgs) -> Vec<Vec<u8>> {
        let argv = c.argv();
        let argc = usize::try_from(c.argc()).unwrap();
        // SAFETY: argv holds argc NUL-terminated strings then NULL (CArgs::new).
        unsafe {
            assert!((*argv.add(argc)).is_null());
            (0..argc).map(|i| CStr::from_ptr(*argv.add(i)).to_bytes().to_vec()).collect()
        }
    }

    #[test]
    fn copies_each_argument_with_its_nul_and_ends_argv_with_null() {
        let mut c = CArgs::new(&[b"hello", b"", b"world"]);
        assert_eq!(c.argc(), 3);
        assert_eq!(read(&mut c), [b"hello".to_vec(), vec![], b"world".to_vec()]);
        let mut none = CArgs::new(&[]);
        assert_eq!(none.argc(), 0);
        assert!(read(&mut none).is_empty());
        assert!(none.first().is_null());
    }

    #[test]
    fn a_nul_inside_an_argument_ends_it_for_c() {
        let mut c = CArgs::one(b"ab\0cd");
        assert_eq!(read(&mut c), [b"ab".to_vec()]);
    }

    #[test]
    fn the_strings_are_writable() {
        let mut c = CArgs::one(b"abc");
        // SAFETY: the first string has 3 bytes before its NUL.
        unsafe { *c.first() = b'x' as c_char };
        assert_eq!(read(&mut c), [b"xbc".to_vec()]);
    }

    #[test]
    fn a_frame_is_reused_and_a_nested_one_is_another() {
        POOL.with(|p| p.borrow_mut().clear());
        let first = CArgs::one(b"first").first();
        let mut again = CArgs::one(b"again");
        assert_eq!(again.first(), first, "the first frame's text, reused");
        let mut nested = CArgs::one(b"nested");
        assert_ne!(nested.first(), again.first());
        assert_eq!(read(&mut again), [b"again".to_vec()]);
        assert_eq!(read(&mut nested), [b"nested".to_vec()]);
    }

    #[test]
    fn a_huge_frame_is_not_kept() {
        POOL.with(|p| p.borrow_mut().clear());
        drop(CArgs::one(&vec![b'x'; KEEP_TEXT + 1]));
        assert_eq!(POOL.with(|p| p.borrow().len()), 0);
        drop(CArgs::one(b"small"));
        assert_eq!(POOL.with(|p| p.borrow().len()), 1);
    }
}
