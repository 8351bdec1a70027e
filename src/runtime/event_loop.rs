//! The poll loop: sources (the buses), user channels, timers, before/after hooks and
//! a wake-up fd. Every method may be called from any thread and from any callback;
//! callbacks run on the thread inside [`EventLoop::run`], never under the loop's lock.

use super::channels::{ChannelFn, Channels, DeleteFn, Handler};
use super::ids::{ChannelId, TimerId};
use super::sys::{self, POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, Waker};
use super::timers::{TimerFn, Timers};
use parking_lot::Mutex;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Something with file descriptors of its own for the loop to watch (a bus).
pub trait Source: Send + Sync {
    /// Pushes (fd, poll events, token) for every descriptor to watch now.
    fn interests(&self, out: &mut Vec<(RawFd, i16, u64)>);
    /// One of them is ready.
    fn ready(&self, lp: &EventLoop, token: u64, revents: i16);
    /// Called once per iteration, after readiness: deliver what is pending.
    fn turn(&self, lp: &EventLoop);
    /// False once the owner is gone; the loop then forgets the source.
    fn alive(&self) -> bool;
}

type Hook = Box<dyn FnMut() + Send>;

#[derive(Default)]
struct State {
    timers: Timers,
    channels: Channels,
    before: Option<Hook>,
    after: Option<Hook>,
    sources: Vec<Arc<dyn Source>>,
    stop: bool,
}

struct Inner {
    state: Mutex<State>,
    waker: Waker,
    epoch: Instant,
    /// The thread inside `run` (see [`thread_tag`]), 0 when none.
    runner: AtomicU64,
}

/// A small non-zero number naming the calling thread.
fn thread_tag() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local!(static TAG: u64 = NEXT.fetch_add(1, Ordering::Relaxed));
    TAG.with(|t| *t)
}

/// An event loop. Cheap to clone (all clones are the same loop); `Send + Sync`.
#[derive(Clone)]
pub struct EventLoop {
    inner: Arc<Inner>,
}

impl Default for EventLoop {
    fn default() -> Self {
        Self::new()
    }
}

/// What a pollfd entry stands for.
#[derive(Clone, Copy)]
enum Target {
    Waker,
    Channel(ChannelId),
    /// (index into [`Scratch::sources`], the source's token)
    Source(usize, u64),
}

/// Buffers reused from one iteration to the next, so that a turn of the loop
/// allocates nothing once warmed up.
#[derive(Default)]
struct Scratch {
    fds: Vec<sys::pollfd>,
    targets: Vec<Target>,
    sources: Vec<Arc<dyn Source>>,
    wanted: Vec<(RawFd, i16, u64)>,
}

impl EventLoop {
    /// A new loop. Panics only if the OS refuses an eventfd (out of descriptors).
    pub fn new() -> EventLoop {
        let waker = Waker::new().unwrap_or_else(|e| panic!("ivy: cannot create the loop's eventfd: {e}"));
        let inner =
            Inner { state: Mutex::new(State::default()), waker, epoch: Instant::now(), runner: AtomicU64::new(0) };
        EventLoop { inner: Arc::new(inner) }
    }

    /// Time on the loop's monotonic clock.
    pub fn now(&self) -> Duration {
        self.inner.epoch.elapsed()
    }

    /// Wakes the loop if it sleeps in poll.
    pub fn wake(&self) {
        self.inner.waker.wake();
    }

    /// Runs until [`EventLoop::stop`]; returns at once if stop was called and not reset.
    pub fn run(&self) {
        let outer = self.inner.runner.swap(thread_tag(), Ordering::SeqCst);
        let mut scratch = Scratch::default();
        while !self.inner.state.lock().stop {
            if self.iterate(true, &mut scratch).is_err() {
                break;
            }
        }
        self.inner.runner.store(outer, Ordering::SeqCst);
        // What other threads handed to the loop while it was stopping.
        let sources = self.inner.state.lock().sources.clone();
        for source in sources {
            source.turn(self);
        }
    }

    /// Whether some thread is inside [`EventLoop::run`].
    pub fn is_running(&self) -> bool {
        self.inner.runner.load(Ordering::SeqCst) != 0
    }

    /// Whether the calling thread is the one inside [`EventLoop::run`].
    pub fn on_loop_thread(&self) -> bool {
        self.inner.runner.load(Ordering::SeqCst) == thread_tag()
    }

    /// Makes `run` return after the current iteration; any thread.
    pub fn stop(&self) {
        self.inner.state.lock().stop = true;
        self.wake();
    }

    /// Clears the stop flag so that `run` runs again.
    pub fn reset_stop(&self) {
        self.inner.state.lock().stop = false;
    }

    pub fn is_stopped(&self) -> bool {
        self.inner.state.lock().stop
    }

    /// One non-blocking pass (IvyIdle): removals, a zero-timeout poll and its
    /// handlers, no timer scan.
    pub fn run_once(&self) {
        let _ = self.iterate(false, &mut Scratch::default());
    }

    /// Registers a source; the loop holds it until it is no longer alive.
    pub fn add_source(&self, source: Arc<dyn Source>) {
        self.inner.state.lock().sources.push(source);
        self.wake();
    }

    fn iterate(&self, blocking: bool, scratch: &mut Scratch) -> std::io::Result<()> {
        self.run_removals();
        self.run_hook(|s| &mut s.before);
        let timeout = self.prepare(blocking, scratch);
        let polled = sys::poll(&mut scratch.fds, timeout);
        self.run_hook(|s| &mut s.after);
        if let Err(e) = polled {
            crate::engine::diag::log(|| format!("poll: {e}"));
            return Err(e);
        }
        if blocking {
            self.scan_timers();
        }
        for (fd, target) in scratch.fds.iter().zip(scratch.targets.iter()) {
            if fd.revents != 0 {
                self.dispatch(target, fd.revents, &scratch.sources);
            }
        }
        for source in &scratch.sources {
            source.turn(self);
        }
        Ok(())
    }

    /// Fills `scratch` with what to poll; returns the poll timeout.
    fn prepare(&self, blocking: bool, scratch: &mut Scratch) -> Option<Duration> {
        let Scratch { fds, targets, sources, wanted } = scratch;
        fds.clear();
        targets.clear();
        sources.clear();
        fds.push(sys::entry(self.inner.waker.fd(), POLLIN));
        targets.push(Target::Waker);
        let timeout = {
            let mut st = self.inner.state.lock();
            st.sources.retain(|s| s.alive());
            sources.extend(st.sources.iter().cloned());
            for (id, fd, writable) in st.channels.interests() {
                fds.push(sys::entry(fd, if writable { POLLIN | POLLOUT } else { POLLIN }));
                targets.push(Target::Channel(id));
            }
            if blocking { st.timers.next_timeout(self.now()) } else { Some(Duration::ZERO) }
        };
        for (index, source) in sources.iter().enumerate() {
            wanted.clear();
            source.interests(wanted);
            for &(fd, events, token) in wanted.iter() {
                fds.push(sys::entry(fd, events));
                targets.push(Target::Source(index, token));
            }
        }
        timeout
    }

    fn dispatch(&self, target: &Target, revents: i16, sources: &[Arc<dyn Source>]) {
        match target {
            Target::Waker => self.inner.waker.drain(),
            Target::Source(index, token) => {
                if let Some(source) = sources.get(*index) {
                    source.ready(self, *token, revents);
                }
            }
            Target::Channel(id) => {
                if revents & POLLNVAL != 0 {
                    self.remove_channel(*id);
                } else if revents & POLLERR != 0 && revents & POLLIN == 0 {
                    self.call_delete(*id);
                }
                if revents & (POLLIN | POLLHUP) != 0 {
                    self.call_channel(*id, Handler::Read);
                }
                if revents & POLLOUT != 0 {
                    self.call_channel(*id, Handler::Write);
                }
            }
        }
    }

    fn call_channel(&self, id: ChannelId, which: Handler) {
        let Some((mut f, fd)) = self.inner.state.lock().channels.take(id, which) else { return };
        f(self, id, fd);
        self.inner.state.lock().channels.put(id, which, f);
    }

    fn call_delete(&self, id: ChannelId) {
        let Some(mut f) = self.inner.state.lock().channels.take_delete(id) else { return };
        f();
        self.inner.state.lock().channels.put_delete(id, f);
    }

    fn run_removals(&self) {
        let gone = self.inner.state.lock().channels.take_removed();
        for mut ch in gone {
            if let Some(f) = ch.delete.as_mut() {
                f();
            }
        }
    }

    fn run_hook(&self, which: fn(&mut State) -> &mut Option<Hook>) {
        let Some(mut hook) = which(&mut self.inner.state.lock()).take() else { return };
        hook();
        let mut st = self.inner.state.lock();
        let slot = which(&mut st);
        if slot.is_none() {
            *slot = Some(hook);
        }
    }

    /// Adds a timer (§8.4): first firing `period_ms` from now; `count` N > 0 fires N
    /// times, 0 or negative fires forever. The callback gets (id, lateness in ms).
    pub fn add_timer(&self, count: i32, period_ms: i64, cb: TimerFn) -> TimerId {
        let id = self.inner.state.lock().timers.add(self.now(), count, period_ms, cb);
        self.wake();
        id
    }

    /// New period, next firing `period_ms` from now; from inside the timer's own
    /// callback the current firing does not count.
    pub fn modify_timer(&self, id: TimerId, period_ms: i64) {
        self.inner.state.lock().timers.modify(self.now(), id, period_ms);
        self.wake();
    }

    /// Removes a timer; safe from any callback, a stale id is ignored.
    pub fn remove_timer(&self, id: TimerId) {
        self.inner.state.lock().timers.remove(id);
    }

    /// Time until the nearest timer; `None` without timers (TimerGetSmallestTimeout).
    pub fn next_timeout(&self) -> Option<Duration> {
        self.inner.state.lock().timers.next_timeout(self.now())
    }

    /// Fires every due timer, newest first (TimerScan).
    pub fn scan_timers(&self) {
        let now = self.now();
        let due = self.inner.state.lock().timers.due(now);
        for id in due {
            let Some((mut cb, late)) = self.inner.state.lock().timers.begin(id, now) else { continue };
            cb(self, id, late);
            self.inner.state.lock().timers.end(id, now, cb);
        }
    }

    /// Watches `fd`: `read` runs when it is readable (or at EOF), `write` when it is
    /// writable and [`EventLoop::set_channel_writable`] is on, `delete` when removed.
    pub fn add_channel(
        &self,
        fd: RawFd,
        read: ChannelFn,
        write: Option<ChannelFn>,
        delete: Option<DeleteFn>,
    ) -> ChannelId {
        let id = self.inner.state.lock().channels.add(fd, read, write, delete);
        self.wake();
        id
    }

    /// Removes a channel at the start of the next iteration (its delete handler runs then).
    pub fn remove_channel(&self, id: ChannelId) {
        self.inner.state.lock().channels.mark_removed(id);
        self.wake();
    }

    pub fn set_channel_writable(&self, id: ChannelId, on: bool) {
        self.inner.state.lock().channels.set_writable(id, on);
        self.wake();
    }

    /// Runs `hook` before each poll (replaces the previous one).
    pub fn set_before_hook(&self, hook: Option<Hook>) {
        self.inner.state.lock().before = hook;
    }

    /// Runs `hook` after each poll (replaces the previous one).
    pub fn set_after_hook(&self, hook: Option<Hook>) {
        self.inner.state.lock().after = hook;
    }
}
