//! Loop timers with ivy-c's semantics (§8.4): count N fires N times, 0 and negative
//! counts fire forever, a Modify from inside the callback does not consume a firing,
//! a Remove is safe anywhere, newest timer fires first within one scan.

use super::ids::TimerId;
use std::time::Duration;

/// A timer callback: (its id, lateness in ms).
pub type TimerFn = Box<dyn FnMut(&super::EventLoop, TimerId, u64) + Send>;

struct Timer {
    id: TimerId,
    count: i32,
    period: Duration,
    due: Duration,
    /// Taken out while the callback runs.
    callback: Option<TimerFn>,
    removed: bool,
    /// Set by a modify during the current firing.
    modified: bool,
}

/// The timer list; times are offsets on the loop's monotonic clock.
#[derive(Default)]
pub(super) struct Timers {
    list: Vec<Timer>,
    next_id: u64,
}

fn period(ms: i64) -> Duration {
    Duration::from_millis(ms.max(0) as u64)
}

impl Timers {
    pub(super) fn add(&mut self, now: Duration, count: i32, ms: i64, callback: TimerFn) -> TimerId {
        self.next_id += 1;
        let id = TimerId(self.next_id);
        let period = period(ms);
        let timer =
            Timer { id, count, period, due: now + period, callback: Some(callback), removed: false, modified: false };
        self.list.push(timer);
        id
    }

    fn find(&mut self, id: TimerId) -> Option<&mut Timer> {
        self.list.iter_mut().find(|t| t.id == id && !t.removed)
    }

    pub(super) fn modify(&mut self, now: Duration, id: TimerId, ms: i64) {
        if let Some(t) = self.find(id) {
            t.period = period(ms);
            t.due = now + t.period;
            t.modified = true;
        }
    }

    pub(super) fn remove(&mut self, id: TimerId) {
        if let Some(t) = self.find(id) {
            t.removed = true;
        }
        self.purge();
    }

    /// Drops removed timers whose callback is not running.
    fn purge(&mut self) {
        self.list.retain(|t| !(t.removed && t.callback.is_some()));
    }

    /// Whether no timer is armed.
    pub(super) fn is_empty(&self) -> bool {
        self.list.iter().all(|t| t.removed)
    }

    /// Time until the nearest firing (zero when overdue); `None` without timers.
    pub(super) fn next_timeout(&self, now: Duration) -> Option<Duration> {
        self.list.iter().filter(|t| !t.removed).map(|t| t.due.saturating_sub(now)).min()
    }

    /// Ids due at `now`, newest first.
    pub(super) fn due(&self, now: Duration) -> Vec<TimerId> {
        if !self.list.iter().any(|t| !t.removed && t.due <= now) {
            return Vec::new();
        }
        self.list.iter().rev().filter(|t| !t.removed && t.due <= now).map(|t| t.id).collect()
    }

    /// Takes the callback of a due timer to run it: (callback, lateness in ms).
    pub(super) fn begin(&mut self, id: TimerId, now: Duration) -> Option<(TimerFn, u64)> {
        let t = self.find(id).filter(|t| t.due <= now)?;
        t.modified = false;
        let late = now.saturating_sub(t.due).as_millis() as u64;
        Some((t.callback.take()?, late))
    }

    /// Puts the callback back after it ran at scan time `now` and books the next firing.
    pub(super) fn end(&mut self, id: TimerId, now: Duration, callback: TimerFn) {
        let Some(t) = self.list.iter_mut().find(|t| t.id == id) else { return };
        t.callback = Some(callback);
        if !t.removed && !t.modified {
            match t.count {
                1 => t.removed = true,
                0 => t.count = -1,
                c if c > 1 => t.count = c - 1,
                _ => {}
            }
            t.due = now + t.period;
        }
        self.purge();
    }
}
