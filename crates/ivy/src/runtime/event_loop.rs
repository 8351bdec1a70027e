//! The event loop: sources (the buses), user channels, timers, before/after hooks and
//! a wake-up fd. Every method may be called from any thread and from any callback;
//! callbacks run on the thread inside [`EventLoop::run`], never under the loop's lock.
//!
//! The wake-up fd and the sources' sockets stay registered in one epoll set
//! ([`EpollSockets`]), so a turn of the loop costs one `epoll_wait` whatever the
//! number of descriptors. User channels are the application's descriptors: it may
//! close them before their deferred removal, or share their open file, which would
//! leave a persistent registration behind. They are therefore polled afresh each turn
//! with `poll`, together with the epoll fd, and only while there are any.
//!
//! A program that runs a loop of its own drives this one through one descriptor
//! ([`EventLoop::pollable_fd`]: the epoll set, where a timerfd then stands for the
//! timers) and [`EventLoop::dispatch`].

use super::backend::{self, EpollSockets, Readiness, SocketLoop, WAKER_KEY};
use super::channels::{ChannelFn, Channels, DeleteFn, Handler};
use super::ids::{ChannelId, TimerId};
use super::sys::{self, Epoll, Events, POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, TimerFd, Waker};
use super::thread::Runner;
use super::timers::{TimerFn, Timers};
use parking_lot::Mutex;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Ready events taken per wait; more stay pending (level-triggered) for the next turn.
const EVENTS_PER_WAIT: usize = 256;

/// The key of the timerfd that stands for the timers when another loop drives
/// this one (source 0, like the wake-up fd).
const TIMER_KEY: u64 = 1;

/// Something with file descriptors of its own for the loop to watch (a bus's
/// driver). It registers them through the [`EpollSockets`] it got from
/// [`EventLoop::epoll_sockets`].
pub(crate) trait Source: Send + Sync {
    /// Its descriptor `fd` is ready. May be stale: the descriptor may have been
    /// closed, or its number reused, earlier in the same turn.
    fn ready(&self, fd: RawFd, readiness: Readiness);
    /// Called once per iteration, after readiness: deliver what is pending.
    fn turn(&self);
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
    /// (source id, source), in the order they were added.
    sources: Vec<(u32, Arc<dyn Source>)>,
    /// Changes whenever `sources` does, so that a turn copies the list only then.
    sources_version: u64,
    /// Last source id handed out (0 is the wake-up fd's).
    last_source: u32,
}

struct Inner {
    state: Mutex<State>,
    stop: AtomicBool,
    /// A channel was marked removed since the last turn (saves a lock per turn).
    removals: AtomicBool,
    /// A before or after hook was ever set (saves two locks per turn until then).
    hooks: AtomicBool,
    /// There may be timers: set when one is added, cleared when a scan finds none
    /// left (both under the state's lock), so that a turn without timers takes no
    /// lock to scan them.
    timers: AtomicBool,
    /// See [`EventLoop::want_turn`].
    turn_wanted: AtomicBool,
    waker: Waker,
    epoll: Arc<Epoll>,
    /// Made by [`EventLoop::pollable_fd`]: the timers' deadline, in the epoll set.
    timer_fd: OnceLock<TimerFd>,
    epoch: Instant,
    /// The thread inside `run` or `dispatch`: the loop's thread. Marked until a
    /// callback's panic unwinds out of the loop too, which otherwise would leave
    /// sends from this thread waiting for a loop that no longer runs.
    runner: Runner,
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

/// How an iteration waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    /// Until a descriptor is ready or the nearest timer is due (`run`).
    Block,
    /// Not at all; due timers fire (`dispatch`).
    DueOnly,
    /// Not at all; no timer fires (`run_once`, ivy-c's IvyIdle).
    NoTimers,
}

/// Buffers reused from one iteration to the next, so that a turn of the loop
/// allocates nothing once warmed up.
struct Scratch {
    events: Events,
    /// With user channels: the epoll fd, then one entry per channel.
    fds: Vec<sys::pollfd>,
    /// The channel of each entry of `fds` after the first.
    channels: Vec<ChannelId>,
    sources: Vec<(u32, Arc<dyn Source>)>,
    /// The [`State::sources_version`] that `sources` copies.
    sources_version: Option<u64>,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            events: Events::with_capacity(EVENTS_PER_WAIT),
            fds: Vec::new(),
            channels: Vec::new(),
            sources: Vec::new(),
            sources_version: None,
        }
    }
}

impl EventLoop {
    /// A new loop. Panics only if the OS refuses an eventfd or an epoll set (out of
    /// descriptors).
    pub fn new() -> EventLoop {
        let fail = |what: &str, e: std::io::Error| -> ! { panic!("ivy: cannot create the loop's {what}: {e}") };
        let waker = Waker::new().unwrap_or_else(|e| fail("eventfd", e));
        let epoll = Epoll::new().unwrap_or_else(|e| fail("epoll set", e));
        epoll.add(waker.fd(), POLLIN, WAKER_KEY).unwrap_or_else(|e| fail("epoll set", e));
        let inner = Inner {
            state: Mutex::new(State::default()),
            stop: AtomicBool::new(false),
            removals: AtomicBool::new(false),
            hooks: AtomicBool::new(false),
            timers: AtomicBool::new(false),
            turn_wanted: AtomicBool::new(false),
            waker,
            epoll: Arc::new(epoll),
            timer_fd: OnceLock::new(),
            epoch: Instant::now(),
            runner: Runner::default(),
        };
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
        self.run_while(|| true);
    }

    /// Runs until [`EventLoop::stop`] or until `go_on` says no (asked before each
    /// iteration); returns at once if stop was called and not reset.
    pub fn run_while(&self, go_on: impl Fn() -> bool) {
        {
            let _running = self.inner.runner.enter();
            let mut scratch = Scratch::default();
            while !self.is_stopped() && go_on() {
                if self.iterate(Wait::Block, &mut scratch).is_err() {
                    break;
                }
            }
        }
        // What other threads handed to the loop while it was stopping.
        let sources = self.inner.state.lock().sources.clone();
        for (_, source) in sources {
            source.turn();
        }
    }

    /// Whether a thread runs the loop ([`EventLoop::run`]), or another loop drives it
    /// ([`EventLoop::pollable_fd`]).
    pub fn is_driven(&self) -> bool {
        self.inner.runner.is_running() || self.inner.timer_fd.get().is_some()
    }

    /// Whether the calling thread is the one inside [`EventLoop::run`] or
    /// [`EventLoop::dispatch`].
    pub fn on_loop_thread(&self) -> bool {
        self.inner.runner.is_this_thread()
    }

    /// The descriptor through which a loop the program owns drives this one: when
    /// it is readable, call [`EventLoop::dispatch`]. It stays the same for the
    /// loop's life; the sockets of the buses on this loop, their wake-ups and the
    /// loop's timers all make it readable. User channels are not part of it (a
    /// program with its own loop watches its descriptors itself).
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// let lp = ivy::EventLoop::new();
    /// let bus = ivy::Bus::with_loop(&lp, b"Watcher", None);
    /// bus.bind(b"^tick (.*)", |_, _, args| println!("tick {:?}", args));
    /// bus.start(Some("127.255.255.255:2345"))?;
    /// let mut fds = [libc::pollfd { fd: lp.pollable_fd()?, events: libc::POLLIN, revents: 0 }];
    /// loop {
    ///     // The program's own loop: here poll(2), with its own descriptors beside ours.
    ///     unsafe { libc::poll(fds.as_mut_ptr(), 1, -1) };
    ///     lp.dispatch();
    /// }
    /// # }
    /// ```
    pub fn pollable_fd(&self) -> std::io::Result<RawFd> {
        if self.inner.timer_fd.get().is_some() {
            return Ok(self.inner.epoll.fd());
        }
        let timer_fd = TimerFd::new()?;
        self.inner.epoll.add(timer_fd.fd(), POLLIN, TIMER_KEY)?;
        if self.inner.timer_fd.set(timer_fd).is_ok() {
            self.arm_timer_fd();
        }
        Ok(self.inner.epoll.fd())
    }

    /// Does what is due without waiting (for a loop the program owns, see
    /// [`EventLoop::pollable_fd`]): deferred removals, ready descriptors, due
    /// timers, the buses' turns. Call it from the thread that runs that loop.
    pub fn dispatch(&self) {
        let _running = self.inner.runner.enter();
        let _ = self.iterate(Wait::DueOnly, &mut Scratch::default());
        self.arm_timer_fd();
    }

    /// Sets the timerfd (when there is one) to the nearest timer.
    fn arm_timer_fd(&self) {
        let Some(fd) = self.inner.timer_fd.get() else { return };
        let next = self.next_timeout();
        if let Err(e) = fd.set(next) {
            log::warn!(target: "ivy", "timerfd: {e}");
        }
    }

    /// Makes `run` return after the current iteration; any thread.
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.wake();
    }

    /// Clears the stop flag so that `run` runs again.
    pub fn reset_stop(&self) {
        self.inner.stop.store(false, Ordering::SeqCst);
    }

    /// Whether [`EventLoop::stop`] was called and not reset.
    pub fn is_stopped(&self) -> bool {
        self.inner.stop.load(Ordering::SeqCst)
    }

    /// One non-blocking pass (IvyIdle): removals, a zero-timeout poll and its
    /// handlers, no timer scan.
    pub fn run_once(&self) {
        let _ = self.iterate(Wait::NoTimers, &mut Scratch::default());
    }

    /// A new source id, and the epoll sockets through which that source registers
    /// its descriptors; then hand the source itself to [`EventLoop::add_source`].
    pub(crate) fn epoll_sockets(&self) -> (u32, Arc<dyn SocketLoop>) {
        let mut st = self.inner.state.lock();
        st.last_source = st.last_source.checked_add(1).unwrap_or(1);
        let sockets = EpollSockets::new(self.inner.epoll.clone(), st.last_source);
        (st.last_source, Arc::new(sockets))
    }

    /// Registers `source`, whose descriptors (if any) are in the epoll set under
    /// `id`; the loop holds it until it is no longer alive.
    pub(crate) fn add_source(&self, id: u32, source: Arc<dyn Source>) {
        let mut st = self.inner.state.lock();
        st.sources.push((id, source));
        st.sources_version += 1;
        drop(st);
        self.wake();
    }

    fn iterate(&self, wait: Wait, scratch: &mut Scratch) -> std::io::Result<()> {
        self.run_removals();
        self.run_hook(|s| &mut s.before);
        let timeout = self.prepare(wait, scratch);
        let waited = self.wait(timeout, scratch);
        self.run_hook(|s| &mut s.after);
        if let Err(e) = waited {
            log::warn!(target: "ivy", "poll: {e}");
            return Err(e);
        }
        if wait != Wait::NoTimers {
            self.scan_timers();
        }
        for (key, revents) in scratch.events.iter() {
            self.dispatch_key(key, revents, &scratch.sources);
        }
        for (fd, &id) in scratch.fds.iter().skip(1).zip(scratch.channels.iter()) {
            if fd.revents != 0 {
                self.dispatch_channel(id, fd.revents);
            }
        }
        self.inner.turn_wanted.store(false, Ordering::Release);
        for (_, source) in &scratch.sources {
            source.turn();
        }
        Ok(())
    }

    /// Has the sources' turns run before the loop sleeps again; for the loop
    /// thread, when it queued work outside a turn (in a hook, a channel's
    /// handler, a timer) that only a turn completes.
    pub fn want_turn(&self) {
        self.inner.turn_wanted.store(true, Ordering::Release);
    }

    /// Fills `scratch` with the sources and the channels to poll; returns the timeout.
    fn prepare(&self, wait: Wait, scratch: &mut Scratch) -> Option<Duration> {
        scratch.fds.clear();
        scratch.channels.clear();
        let mut st = self.inner.state.lock();
        if st.sources.iter().any(|(_, s)| !s.alive()) {
            st.sources.retain(|(_, s)| s.alive());
            st.sources_version += 1;
        }
        if scratch.sources_version != Some(st.sources_version) {
            scratch.sources.clone_from(&st.sources);
            scratch.sources_version = Some(st.sources_version);
        }
        for (id, fd, writable) in st.channels.interests() {
            if scratch.fds.is_empty() {
                scratch.fds.push(sys::entry(self.inner.epoll.fd(), POLLIN));
            }
            scratch.fds.push(sys::entry(fd, if writable { POLLIN | POLLOUT } else { POLLIN }));
            scratch.channels.push(id);
        }
        match wait {
            _ if self.inner.turn_wanted.load(Ordering::Acquire) => Some(Duration::ZERO),
            Wait::Block if st.timers.is_empty() => None,
            Wait::Block => st.timers.next_timeout(self.now()),
            Wait::DueOnly | Wait::NoTimers => Some(Duration::ZERO),
        }
    }

    /// Sleeps until a descriptor is ready or `timeout` passes: in epoll_wait alone,
    /// or with user channels in poll (the epoll fd among them), then epoll_wait.
    fn wait(&self, timeout: Option<Duration>, scratch: &mut Scratch) -> std::io::Result<()> {
        let epoll = &self.inner.epoll;
        if scratch.fds.is_empty() {
            return epoll.wait(&mut scratch.events, timeout).map(drop);
        }
        sys::poll(&mut scratch.fds, timeout)?;
        if scratch.fds.first().is_some_and(|f| f.revents != 0) {
            return epoll.wait(&mut scratch.events, Some(Duration::ZERO)).map(drop);
        }
        scratch.events.clear();
        Ok(())
    }

    fn dispatch_key(&self, key: u64, revents: i16, sources: &[(u32, Arc<dyn Source>)]) {
        match key {
            WAKER_KEY => self.inner.waker.drain(),
            TIMER_KEY => {
                if let Some(fd) = self.inner.timer_fd.get() {
                    fd.drain();
                }
            }
            _ => {
                let (id, fd) = backend::split(key);
                if let Some((_, source)) = sources.iter().find(|(s, _)| *s == id) {
                    source.ready(fd, Readiness::from_poll(revents));
                }
            }
        }
    }

    fn dispatch_channel(&self, id: ChannelId, revents: i16) {
        if revents & POLLNVAL != 0 {
            self.remove_channel(id);
        } else if revents & POLLERR != 0 && revents & POLLIN == 0 {
            self.call_delete(id);
        }
        if revents & (POLLIN | POLLHUP) != 0 {
            self.call_channel(id, Handler::Read);
        }
        if revents & POLLOUT != 0 {
            self.call_channel(id, Handler::Write);
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
        if !self.inner.removals.swap(false, Ordering::AcqRel) {
            return;
        }
        let gone = self.inner.state.lock().channels.take_removed();
        for mut ch in gone {
            if let Some(f) = ch.delete.as_mut() {
                f();
            }
        }
    }

    fn run_hook(&self, which: fn(&mut State) -> &mut Option<Hook>) {
        if !self.inner.hooks.load(Ordering::Acquire) {
            return;
        }
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
        let mut st = self.inner.state.lock();
        let id = st.timers.add(self.now(), count, period_ms, cb);
        self.inner.timers.store(true, Ordering::Release);
        drop(st);
        self.timers_changed();
        id
    }

    /// Has the loop (or the loop that drives it) see the new nearest timer.
    fn timers_changed(&self) {
        if self.on_loop_thread() {
            // The end of this iteration (or dispatch) looks at the timers again.
            self.want_turn();
        } else {
            self.wake();
        }
        self.arm_timer_fd();
    }

    /// New period, next firing `period_ms` from now; from inside the timer's own
    /// callback the current firing does not count.
    pub fn modify_timer(&self, id: TimerId, period_ms: i64) {
        self.inner.state.lock().timers.modify(self.now(), id, period_ms);
        self.timers_changed();
    }

    /// Removes a timer; safe from any callback, a stale id is ignored.
    pub fn remove_timer(&self, id: TimerId) {
        self.inner.state.lock().timers.remove(id);
    }

    /// Time until the nearest timer; `None` without timers (TimerGetSmallestTimeout).
    pub fn next_timeout(&self) -> Option<Duration> {
        self.inner.state.lock().timers.next_timeout(self.now())
    }

    /// Fires every due timer, newest first (TimerScan). Inline: most turns have no
    /// timer and stop at the flag.
    #[inline]
    pub fn scan_timers(&self) {
        if self.inner.timers.load(Ordering::Acquire) {
            self.fire_due_timers();
        }
    }

    fn fire_due_timers(&self) {
        let (due, now) = {
            let st = self.inner.state.lock();
            if st.timers.is_empty() {
                self.inner.timers.store(false, Ordering::Release);
                return;
            }
            let now = self.now();
            (st.timers.due(now), now)
        };
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
        self.inner.removals.store(true, Ordering::Release);
        self.wake();
    }

    /// Has the channel's write handler called whenever its descriptor is writable, or no longer.
    pub fn set_channel_writable(&self, id: ChannelId, on: bool) {
        self.inner.state.lock().channels.set_writable(id, on);
        self.wake();
    }

    /// Runs `hook` before each poll (replaces the previous one).
    pub fn set_before_hook(&self, hook: Option<Hook>) {
        self.inner.state.lock().before = hook;
        self.inner.hooks.store(true, Ordering::Release);
    }

    /// Runs `hook` after each poll (replaces the previous one).
    pub fn set_after_hook(&self, hook: Option<Hook>) {
        self.inner.state.lock().after = hook;
        self.inner.hooks.store(true, Ordering::Release);
    }
}
