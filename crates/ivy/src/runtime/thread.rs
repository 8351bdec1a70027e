//! Which thread runs what: a small tag per thread, and a mark that a thread sets
//! while it runs something (a loop, a driver's turn) and that comes off even when a
//! callback's panic unwinds through it.

use std::sync::atomic::{AtomicU64, Ordering};

/// A small non-zero number naming the calling thread.
pub(super) fn thread_tag() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local!(static TAG: u64 = NEXT.fetch_add(1, Ordering::Relaxed));
    TAG.with(|t| *t)
}

/// The thread that runs something, 0 when none.
#[derive(Debug, Default)]
pub(super) struct Runner(AtomicU64);

impl Runner {
    /// Marks the calling thread as the runner until the mark is dropped, which
    /// restores the previous runner (a nested run on the same thread, or none).
    pub(super) fn enter(&self) -> Mark<'_> {
        Mark { runner: self, outer: self.0.swap(thread_tag(), Ordering::SeqCst) }
    }

    /// Whether some thread runs it.
    pub(super) fn is_running(&self) -> bool {
        self.0.load(Ordering::SeqCst) != 0
    }

    /// Whether the calling thread runs it.
    pub(super) fn is_this_thread(&self) -> bool {
        self.0.load(Ordering::SeqCst) == thread_tag()
    }
}

/// See [`Runner::enter`].
pub(super) struct Mark<'a> {
    runner: &'a Runner,
    outer: u64,
}

impl Drop for Mark<'_> {
    fn drop(&mut self) {
        self.runner.0.store(self.outer, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_nest_and_come_off() {
        let r = Runner::default();
        assert!(!r.is_running());
        {
            let _outer = r.enter();
            assert!(r.is_this_thread());
            {
                let _inner = r.enter();
                assert!(r.is_this_thread());
            }
            assert!(r.is_this_thread(), "the outer mark holds");
            std::thread::scope(|s| {
                s.spawn(|| assert!(r.is_running() && !r.is_this_thread()));
            });
        }
        assert!(!r.is_running());
        let caught = std::panic::catch_unwind(|| {
            let _m = r.enter();
            panic!("unwinds");
        });
        assert!(caught.is_err());
        assert!(!r.is_running(), "a panic takes the mark off");
    }
}
