//! Adaptive spinning. After a wait that reported I/O, the next wait first polls with
//! a zero timeout for a short window (a reply often comes within microseconds), and
//! only then sleeps. A wait that reported nothing (a timer, a wake-up from another
//! thread, the end of a spin) arms no spin, so an idle loop never wakes up.

use std::io;
use std::time::{Duration, Instant};

/// The environment variable that sets the window of a new loop, in µs (0: off).
pub const ENV: &str = "IVY_SPIN_US";

/// The window when [`ENV`] is unset or unreadable.
pub const DEFAULT_WINDOW: Duration = Duration::from_micros(50);

/// The window given by `value` (of [`ENV`]), in µs; [`DEFAULT_WINDOW`] without one.
pub fn window_from(value: Option<&str>) -> Duration {
    value.and_then(|v| v.trim().parse().ok()).map_or(DEFAULT_WINDOW, Duration::from_micros)
}

/// Whether the coming wait may spin: armed by a wait that reported I/O, used up by
/// the next wait.
#[derive(Debug, Default)]
pub struct Spin {
    armed: bool,
}

impl Spin {
    /// Records whether the last wait reported I/O.
    pub fn record(&mut self, activity: bool) {
        self.armed = activity;
    }

    /// How long the coming wait may spin: `window`, cut to the wait's `timeout`
    /// (`None`: no timer), and zero unless armed. Disarms.
    pub fn take(&mut self, window: Duration, timeout: Option<Duration>) -> Duration {
        if !std::mem::take(&mut self.armed) {
            return Duration::ZERO;
        }
        timeout.map_or(window, |t| t.min(window))
    }
}

/// Calls `poll` (a zero-timeout wait that tells whether something is ready) until it
/// reports something or `now` reaches `until`; at least once. Yields the CPU between
/// polls: a peer that runs on the same CPU must get to answer.
pub fn until_ready(
    until: Instant,
    mut now: impl FnMut() -> Instant,
    mut poll: impl FnMut() -> io::Result<bool>,
) -> io::Result<bool> {
    loop {
        if poll()? {
            return Ok(true);
        }
        if now() >= until {
            return Ok(false);
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    const W: Duration = Duration::from_micros(50);

    #[test]
    fn spins_only_after_activity_and_once_per_activity() {
        let mut s = Spin::default();
        assert_eq!(s.take(W, None), Duration::ZERO);
        s.record(true);
        assert_eq!(s.take(W, None), W);
        // The spin found nothing: the next wait sleeps at once.
        assert_eq!(s.take(W, None), Duration::ZERO);
        s.record(true);
        s.record(false);
        assert_eq!(s.take(W, None), Duration::ZERO);
    }

    #[test]
    fn a_timer_cuts_the_window_and_zero_disables() {
        let mut s = Spin::default();
        s.record(true);
        assert_eq!(s.take(W, Some(Duration::from_micros(20))), Duration::from_micros(20));
        s.record(true);
        assert_eq!(s.take(W, Some(Duration::from_millis(5))), W);
        s.record(true);
        assert_eq!(s.take(Duration::ZERO, None), Duration::ZERO);
    }

    #[test]
    fn the_window_comes_from_the_environment_value() {
        assert_eq!(window_from(None), DEFAULT_WINDOW);
        assert_eq!(window_from(Some("0")), Duration::ZERO);
        assert_eq!(window_from(Some(" 20 ")), Duration::from_micros(20));
        assert_eq!(window_from(Some("-3")), DEFAULT_WINDOW);
        assert_eq!(window_from(Some("lots")), DEFAULT_WINDOW);
    }

    /// A clock that advances 10 µs per reading.
    fn ticking(start: Instant) -> impl FnMut() -> Instant {
        let t = Cell::new(start);
        move || {
            t.set(t.get() + Duration::from_micros(10));
            t.get()
        }
    }

    /// A poll that counts its calls and reports something ready at call `ready_at`.
    fn counting(polls: &Cell<u32>, ready_at: u32) -> impl FnMut() -> io::Result<bool> + '_ {
        move || {
            polls.set(polls.get() + 1);
            Ok(polls.get() == ready_at)
        }
    }

    #[test]
    fn spinning_stops_at_the_end_of_the_window() {
        let start = Instant::now();
        let polls = Cell::new(0);
        assert!(!until_ready(start + Duration::from_micros(35), ticking(start), counting(&polls, 0)).unwrap());
        assert_eq!(polls.get(), 4);
    }

    #[test]
    fn spinning_stops_when_something_is_ready() {
        let start = Instant::now();
        let polls = Cell::new(0);
        assert!(until_ready(start + W, ticking(start), counting(&polls, 2)).unwrap());
        assert_eq!(polls.get(), 2);
        // A window already over still polls once.
        assert!(until_ready(start, ticking(start), || Ok(true)).unwrap());
        let err = until_ready(start + W, ticking(start), || Err(io::Error::other("x")));
        assert!(err.is_err());
    }
}
