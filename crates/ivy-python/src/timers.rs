//! ivy-python's timers, on the agent's loop: the callback runs at once, then every
//! `delay_ms`; a count of N runs it N times, 0 forever. Ids are ours (from 1), so
//! that a timer keeps its id while the loop timer under it is re-armed.

use crate::adapter::{Core, Timers as LoopTimers};
use crate::gil;
use crate::state::State;
use parking_lot::Mutex;
use pyo3::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

struct Entry {
    /// The loop timer under it (0 until the loop has handed its id back).
    loop_id: u64,
    /// Firings left; 0 forever.
    remaining: u32,
    delay_ms: i64,
    /// The first, immediate firing has happened: the loop timer runs at `delay_ms`.
    started: bool,
}

/// An agent's timers.
#[derive(Default)]
pub(crate) struct Timers {
    last: u64,
    entries: HashMap<u64, Entry>,
}

impl Timers {
    /// Books the end of a firing of timer `id` (loop timer `loop_id`).
    fn fired(&mut self, lp: &LoopTimers<'_>, id: u64, loop_id: u64) {
        let Some(e) = self.entries.get_mut(&id) else { return lp.remove(loop_id) };
        if e.remaining > 0 {
            e.remaining -= 1;
            if e.remaining == 0 {
                self.entries.remove(&id);
                return lp.remove(loop_id);
            }
        }
        if !e.started {
            e.started = true;
            lp.modify(loop_id, e.delay_ms);
        }
    }
}

/// Adds a timer calling `cb()`; returns its id.
pub(crate) fn add(
    core: &Core,
    timers: &Arc<Mutex<Timers>>,
    state: &Arc<State>,
    count: u32,
    delay_ms: i64,
    cb: Py<PyAny>,
) -> u64 {
    let id = {
        let mut t = timers.lock();
        t.last += 1;
        let id = t.last;
        t.entries.insert(id, Entry { loop_id: 0, remaining: count, delay_ms: delay_ms.max(0), started: false });
        id
    };
    let (tm, st) = (timers.clone(), state.clone());
    let loop_id = core.add_timer(0, move |lp, loop_id| {
        if !tm.lock().entries.contains_key(&id) {
            return lp.remove(loop_id);
        }
        gil::with_gil(|py| {
            if let Err(err) = cb.bind(py).call0() {
                st.report(py, "timer callback", err);
            }
        });
        tm.lock().fired(lp, id, loop_id);
    });
    if let Some(e) = timers.lock().entries.get_mut(&id) {
        e.loop_id = loop_id;
    }
    id
}

/// New delay of timer `id`, from its next firing on; false if there is no such timer.
pub(crate) fn modify(core: &Core, timers: &Mutex<Timers>, id: u64, delay_ms: i64) -> bool {
    let mut t = timers.lock();
    let Some(e) = t.entries.get_mut(&id) else { return false };
    e.delay_ms = delay_ms.max(0);
    if e.started {
        core.timers().modify(e.loop_id, e.delay_ms);
    }
    true
}

/// Removes timer `id`; false if there is no such timer.
pub(crate) fn remove(core: &Core, timers: &Mutex<Timers>, id: u64) -> bool {
    let Some(e) = timers.lock().entries.remove(&id) else { return false };
    core.timers().remove(e.loop_id);
    true
}
