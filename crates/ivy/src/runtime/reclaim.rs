//! Freeing the compiled patterns the engine hands out ([`Garbage`]), and giving
//! the memory back to the system.
//!
//! glibc keeps the last chunks a thread freed (up to 7 per size class) in that
//! thread's cache, where `malloc_trim` sees them in use: after the loop's thread
//! freed a teardown of tens of thousands of patterns, those chunks pinned about
//! 450 otherwise free pages (1.8 MB). Nothing flushes a thread's cache but its
//! exit. So a large batch is dropped on a short-lived thread, and the memory is
//! given back once that thread has exited: a detached reclaimer thread spawns
//! the dropper, joins it, then trims, while the loop goes on. One reclaimer at
//! a time, for the whole process (the allocator is the process's): what comes
//! meanwhile waits in its lane, and a trim asked for meanwhile comes after the
//! drops before it.

use super::sys;
use ivy_proto::engine::Garbage;
use parking_lot::Mutex;

/// Garbage under this is dropped on the caller's thread when no larger batch
/// went to a thread since the last trim: it leaves few cached chunks, and a
/// thread would cost more.
const INLINE_MAX: usize = 1 << 20;

/// Garbage waiting for a busy reclaimer past this is freed by the caller: a
/// reclaimer starved of CPU must not let garbage pile up.
const WAITING_MAX: usize = 16 << 20;

/// glibc's thread cache (2.26 and later, defaults): 64 bins, for requests of
/// 24 + 16 × bin bytes, of up to 7 chunks each.
const CACHE_BINS: usize = 64;
const CACHE_CHUNKS: usize = 7;

/// What waits for the reclaimer.
struct Lane {
    /// A reclaimer thread runs (or the caller stands in for it).
    busy: bool,
    batch: Vec<Garbage>,
    /// Chunks taken out of the loop thread's cache ([`take_cached_chunks`]),
    /// freed with the batch.
    chunks: Vec<Vec<u8>>,
    /// Memory goes back to the system after the batch.
    trim: bool,
    /// Garbage went to a thread since the last trim.
    large: bool,
}

static LANE: Mutex<Lane> =
    Mutex::new(Lane { busy: false, batch: Vec::new(), chunks: Vec::new(), trim: false, large: false });

/// Frees `garbage`. A batch from a large teardown goes to a thread of its own,
/// and so does everything after it until the engine settles; then the chunks
/// the calling (loop's) thread keeps cached go too, and memory goes back to the
/// system once that thread has exited. A small batch is freed here (then
/// memory goes back at once if the engine settled), and so is one that finds
/// [`WAITING_MAX`] waiting already. Never waits for a thread.
pub(super) fn reclaim(garbage: Garbage) {
    let mut lane = LANE.lock();
    lane.large |= garbage.bytes() >= INLINE_MAX;
    if !lane.busy && !lane.large {
        drop(lane);
        free_inline(garbage);
        return;
    }
    if garbage.settles() {
        lane.trim = true;
        lane.large = false;
        lane.chunks.extend(take_cached_chunks());
    }
    let waiting: usize = lane.batch.iter().map(Garbage::bytes).sum();
    let mut here = Some(garbage);
    if waiting <= WAITING_MAX {
        lane.batch.extend(here.take());
    }
    let start = !std::mem::replace(&mut lane.busy, true);
    drop(lane);
    drop(here);
    if start && let Err(e) = sys::spawn_without_signals("ivy-reclaim", || work_through(drop_on_a_thread)) {
        log::debug!(target: "ivy", "no reclaimer thread ({e}): freeing on the loop's thread");
        work_through(drop);
    }
}

/// The chunks the calling thread's allocator cache holds: a request of each
/// cached size, as many times as a bin holds, is served from the cache first
/// and empties it. Freed by another thread, they go back to the heap, and so do
/// the pages they held (after a teardown, pages otherwise free: some 450 pages,
/// 1.8 MB, pinned until this thread would have asked for those sizes again).
fn take_cached_chunks() -> Vec<Vec<u8>> {
    // Sized at once: growing it would free small buffers into the cache.
    let mut chunks = Vec::with_capacity(CACHE_BINS * CACHE_CHUNKS);
    for size in (0..CACHE_BINS).map(|bin| 24 + 16 * bin) {
        chunks.extend((0..CACHE_CHUNKS).map(|_| Vec::with_capacity(size)));
    }
    chunks
}

/// Drops `garbage` here, then gives memory back if the engine settled.
fn free_inline(garbage: Garbage) {
    let settles = garbage.settles();
    drop(garbage);
    if settles {
        sys::give_back_memory();
    }
}

/// Frees the lane's batches with `free` until it is empty, each followed by a
/// trim when one was asked for; then the lane is free for the next reclaimer.
fn work_through(free: fn(Batch)) {
    loop {
        let mut lane = LANE.lock();
        if lane.batch.is_empty() && !lane.trim {
            lane.busy = false;
            return;
        }
        let batch = (std::mem::take(&mut lane.batch), std::mem::take(&mut lane.chunks));
        let trim = std::mem::take(&mut lane.trim);
        drop(lane);
        free(batch);
        if trim {
            sys::give_back_memory();
        }
    }
}

/// Garbage and cached chunks freed together.
type Batch = (Vec<Garbage>, Vec<Vec<u8>>);

/// Drops `batch` on a thread of its own and waits until that thread has exited
/// (its cache of freed chunks is then flushed). A failed spawn drops the batch
/// here, with the closure that held it.
fn drop_on_a_thread(batch: Batch) {
    match sys::spawn_without_signals("ivy-drop", move || drop(batch)) {
        Ok(dropper) => {
            if dropper.join().is_err() {
                log::debug!(target: "ivy", "the garbage dropper panicked");
            }
        }
        Err(e) => log::debug!(target: "ivy", "no dropper thread ({e}): garbage freed by the reclaimer"),
    }
}
