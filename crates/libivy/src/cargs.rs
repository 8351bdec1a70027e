//! The strings handed to C callbacks: writable NUL-terminated copies and their
//! `argv` array, in per-thread storage reused from one call to the next, so
//! that a delivery allocates nothing once the storage has grown to its size.
//!
//! A callback may run the loop, which delivers again on the same thread while
//! the outer `argv` is still in use: each [`CArgs`] uses a frame of its own,
//! the first free one of the thread's stack of frames, so nested deliveries
//! use other frames (the stack holds as many as the deepest nesting seen).
//! The frames stay in place, so a delivery moves no frame in or out.

use std::cell::RefCell;
use std::ffi::{c_char, c_int};

/// Frames whose text grew past this size are not kept (one huge message must
/// not pin its size for the life of the thread).
const KEEP_TEXT: usize = 64 << 10;

/// One set of copies: the texts back to back, each with its NUL; `argv`
/// points into `text` once filled.
#[derive(Default)]
struct Frame {
    text: Vec<u8>,
    argv: Vec<*mut c_char>,
    /// A live [`CArgs`] uses it.
    busy: bool,
}

/// The thread's frames; those below `top` may be in use (nested deliveries
/// above outer ones), the others are free.
struct Frames {
    frames: Vec<Frame>,
    top: usize,
}

thread_local! {
    static FRAMES: RefCell<Frames> = const { RefCell::new(Frames { frames: Vec::new(), top: 0 }) };
}

/// NUL-terminated copies of some byte strings, with an `argv` array (the
/// copies, then NULL) that C may write through. Valid until dropped.
pub(crate) struct CArgs {
    frame: usize,
    argc: c_int,
    argv: *mut *mut c_char,
}

impl CArgs {
    /// Copies `args`. A NUL inside one simply ends that string for C.
    pub(crate) fn new(args: &[&[u8]]) -> CArgs {
        FRAMES.with(|f| {
            let mut f = f.borrow_mut();
            let index = f.top;
            if f.frames.len() == index {
                f.frames.push(Frame::default());
            }
            f.top += 1;
            let frame = &mut f.frames[index];
            frame.busy = true;
            frame.text.clear();
            frame.text.reserve(args.iter().map(|a| a.len() + 1).sum());
            for a in args {
                frame.text.extend_from_slice(a);
                frame.text.push(0);
            }
            // The text is complete: its buffer no longer moves.
            let base = frame.text.as_mut_ptr();
            let mut start = 0;
            frame.argv.clear();
            for a in args {
                // `wrapping_add` stays inside the allocation: start < text.len().
                frame.argv.push(base.wrapping_add(start).cast::<c_char>());
                start += a.len() + 1;
            }
            frame.argv.push(std::ptr::null_mut());
            CArgs {
                frame: index,
                argc: c_int::try_from(args.len()).unwrap_or(c_int::MAX),
                argv: frame.argv.as_mut_ptr(),
            }
        })
    }

    /// A copy of one string.
    pub(crate) fn one(text: &[u8]) -> CArgs {
        CArgs::new(&[text])
    }

    /// The number of strings, as C's `argc`.
    pub(crate) fn argc(&self) -> c_int {
        self.argc
    }

    /// The strings then NULL; C may write through it and into the strings.
    pub(crate) fn argv(&mut self) -> *mut *mut c_char {
        self.argv
    }

    /// The first string (the only one of a [`CArgs::one`]); NULL when none.
    pub(crate) fn first(&mut self) -> *mut c_char {
        // SAFETY: `argv` points to `argc` pointers then NULL, in this CArgs's
        // frame, which no other CArgs uses while this one lives.
        unsafe { *self.argv }
    }
}

impl Drop for CArgs {
    fn drop(&mut self) {
        // Nothing to give back once the thread's storage is gone.
        let _ = FRAMES.try_with(|f| {
            let mut f = f.borrow_mut();
            if let Some(frame) = f.frames.get_mut(self.frame) {
                frame.busy = false;
                if frame.text.capacity() > KEEP_TEXT {
                    *frame = Frame::default();
                }
            }
            while f.top > 0 && !f.frames[f.top - 1].busy {
                f.top -= 1;
            }
        });
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

    fn free_frames() -> usize {
        FRAMES.with(|f| {
            let f = f.borrow();
            f.frames.iter().filter(|fr| !fr.busy).count()
        })
    }

    #[test]
    fn a_frame_is_reused_and_a_nested_one_is_another() {
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
        drop(CArgs::one(&vec![b'x'; KEEP_TEXT + 1]));
        assert_eq!(FRAMES.with(|f| f.borrow().frames[0].text.capacity()), 0);
        drop(CArgs::one(b"small"));
        assert!(FRAMES.with(|f| f.borrow().frames[0].text.capacity()) >= 6);
    }

    #[test]
    fn frames_dropped_out_of_order_are_not_reused_while_alive() {
        let a = CArgs::one(b"a");
        let mut b = CArgs::one(b"b");
        drop(a);
        let mut c = CArgs::one(b"c");
        assert_ne!(c.first(), b.first());
        assert_eq!(read(&mut b), [b"b".to_vec()]);
        drop(b);
        drop(c);
        assert_eq!(FRAMES.with(|f| f.borrow().top), 0);
        assert_eq!(free_frames(), FRAMES.with(|f| f.borrow().frames.len()));
    }
}
