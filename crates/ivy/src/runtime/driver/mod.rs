//! The bus driver: everything that drives one bus, and the one place that decides
//! when its sockets are read and written. The [`crate::Bus`] handle calls it from
//! any thread; its loop back-end calls it on the loop's thread.
//!
//! - Reads happen on the loop's thread, when the back-end reports readiness
//!   ([`Driver::ready`]); what they produce is delivered to the callbacks at once.
//! - A call from a callback (inside a turn of this driver) queues; the turn writes
//!   everything when its callbacks are done, or earlier once [`PIPELINE`] bytes wait.
//! - A call from any other thread writes at once when the bus has been quiet for
//!   [`BURST_WINDOW`]: a lone message pays no wake-up. Within a burst it hands the
//!   writing to the loop, woken once, which writes whatever accumulated meanwhile
//!   (up to [`SELF_FLUSH`] bytes per peer, past which the caller writes itself).
//!   Writes run without the lock (`output.rs`), so a sending thread keeps queueing
//!   while the loop writes.
//! - What only the loop's thread may do (open and close connections, change what
//!   the loop watches) waits for the loop's turn.
//! - Timers of its own (the listener's back-off) go on the loop's timers.

mod callbacks;
mod delivery;
mod liveness;
mod output;
mod sockets;

pub(crate) use callbacks::Callbacks;
pub use sockets::{ACCEPT_BACKOFF, DATAGRAM_BUFFER};

use super::backend::{MakeSocketLoop, Readiness, SocketEvents, SocketLoop};
use super::event_loop::{EventLoop, Source};
use super::net::Liveness;
use super::reclaim::reclaim;
use super::thread::Runner;
use delivery::Scratch;
use ivy_proto::engine::{Action, Engine, PeerId, Severity};
use ivy_proto::wire::BusSpec;
use output::{Wrote, write_peer};
use parking_lot::{Mutex, MutexGuard, RwLock};
use sockets::{Listening, Sockets};
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Past this many queued bytes, a turn writes before its callbacks are done, so
/// that the peer starts reading while a callback still sends.
const PIPELINE: usize = 64 << 10;
/// A send from outside the loop writes at once unless a write happened this
/// recently: then it is part of a burst, which the loop writes in batches.
const BURST_WINDOW: Duration = Duration::from_micros(50);
/// Past this many bytes queued per peer, a thread that handed a burst to the loop
/// writes itself (the loop is late).
const SELF_FLUSH: usize = 16 << 10;

/// What to do when a peer sends Die.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DiePolicy {
    /// Run the die callback, then leave the bus (Bye to every peer, close), so
    /// that [`crate::Bus::run`] returns (ivy-c, minus its `exit`).
    #[default]
    Obey,
    /// Run the die callback and otherwise ignore the request.
    Ignore,
}

/// The state behind the driver's lock.
struct Core {
    engine: Engine,
    sockets: Sockets,
    /// Peers with output to write (reused from one flush to the next).
    dirty: Vec<PeerId>,
    /// Closes and drains put off while another thread writes to the peer.
    deferred: Vec<Action>,
    /// A writer off the loop's thread left tasks for the loop.
    loop_tasks: bool,
}

/// One bus's driver.
pub(crate) struct Driver {
    core: Mutex<Core>,
    lp: EventLoop,
    callbacks: RwLock<Callbacks>,
    die_policy: Mutex<DiePolicy>,
    /// A call may have left work (events, output, actions) for the next turn.
    turn_due: AtomicBool,
    /// A thread outside the loop handed a burst to the loop and woke it.
    flush_scheduled: AtomicBool,
    /// The bus left (stopped, or obeyed a Die) and was not started again.
    stopped: AtomicBool,
    /// The thread inside a turn of this driver (readiness, or the loop's turn).
    turn: Runner,
    /// When the last write happened, in ns on the loop's clock.
    last_write: AtomicU64,
    /// A check for vanished hosts is armed (`liveness.rs`).
    liveness_due: AtomicBool,
    /// What a delivery reuses from one turn to the next.
    scratch: Mutex<Scratch>,
    this: Weak<Driver>,
}

/// The driver as a source of its [`EventLoop`].
struct LoopSource(Weak<Driver>);

impl Source for LoopSource {
    fn ready(&self, fd: RawFd, readiness: Readiness) {
        if let Some(driver) = self.0.upgrade() {
            driver.ready(fd, readiness);
        }
    }

    fn turn(&self) {
        if let Some(driver) = self.0.upgrade() {
            driver.turn();
        }
    }

    fn alive(&self) -> bool {
        self.0.strong_count() > 0
    }
}

impl Driver {
    /// A driver of the agent `engine` on the loop `lp`; its sockets are watched
    /// by the loop's epoll set, or by what `sockets` makes.
    pub(crate) fn new(lp: &EventLoop, engine: Engine, sockets: Option<MakeSocketLoop>) -> Arc<Driver> {
        let (source_id, epoll) = lp.epoll_sockets();
        let driver = Arc::new_cyclic(|this: &Weak<Driver>| {
            let watcher: Arc<dyn SocketLoop> = match sockets {
                Some(make) => make(SocketEvents::new(this.clone())),
                None => epoll,
            };
            let core = Core {
                engine,
                sockets: Sockets::new(watcher),
                dirty: Vec::new(),
                deferred: Vec::new(),
                loop_tasks: false,
            };
            Driver {
                core: Mutex::new(core),
                lp: lp.clone(),
                callbacks: RwLock::default(),
                die_policy: Mutex::default(),
                turn_due: AtomicBool::new(false),
                flush_scheduled: AtomicBool::new(false),
                stopped: AtomicBool::new(false),
                turn: Runner::default(),
                last_write: AtomicU64::new(0),
                liveness_due: AtomicBool::new(false),
                scratch: Mutex::default(),
                this: this.clone(),
            }
        });
        lp.add_source(source_id, Arc::new(LoopSource(Arc::downgrade(&driver))));
        driver
    }

    pub(crate) fn event_loop(&self) -> &EventLoop {
        &self.lp
    }

    pub(crate) fn callbacks(&self) -> &RwLock<Callbacks> {
        &self.callbacks
    }

    pub(crate) fn set_die_policy(&self, policy: DiePolicy) {
        *self.die_policy.lock() = policy;
    }

    /// Reads the engine (a query: nothing to write or deliver afterwards).
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Engine) -> R) -> R {
        f(&self.core.lock().engine)
    }

    /// Runs `f` on the engine (a send, a binding...), then has what it queued
    /// written and delivered as the module's documentation says.
    pub(crate) fn with_engine<R>(&self, f: impl FnOnce(&mut Engine) -> R) -> R {
        let mut core = self.core.lock();
        let r = f(&mut core.engine);
        self.after_call(core);
        r
    }

    /// Keepalive settings for connections opened from now on.
    pub(crate) fn set_liveness(&self, liveness: Option<Liveness>) {
        self.core.lock().sockets.set_liveness(liveness);
    }

    pub(crate) fn is_started(&self) -> bool {
        self.core.lock().sockets.is_started()
    }

    pub(crate) fn tcp_port(&self) -> Option<u16> {
        self.core.lock().sockets.tcp_port()
    }

    /// Joins the bus `spec`: the listener, the bus socket, the hellos.
    pub(crate) fn start(&self, spec: &BusSpec) -> io::Result<()> {
        let mut core = self.core.lock();
        let Core { engine, sockets, .. } = &mut *core;
        sockets.start(engine, spec)?;
        self.stopped.store(false, Ordering::SeqCst);
        log_notices(&mut core.engine);
        drop(core);
        self.lp.wake();
        Ok(())
    }

    /// Leaves the bus: Bye to every peer, written out, connections and sockets
    /// closed; the application hears of no disconnection for it. [`crate::Bus::run`]
    /// then returns.
    pub(crate) fn stop(&self) {
        let mut core = self.core.lock();
        core.engine.leave();
        self.write_dirty(&mut core, true);
        self.run_actions(&mut core);
        let Core { engine, sockets, .. } = &mut *core;
        sockets.stop(engine);
        log_notices(&mut core.engine);
        // What our peers' regexps held (a teardown still under way stays in
        // the engine, freed with it or in the turns of a next start).
        let garbage = core.engine.take_garbage();
        self.stopped.store(true, Ordering::SeqCst);
        drop(core);
        self.lp.wake();
        if let Some(garbage) = garbage {
            reclaim(garbage);
        }
    }

    /// Whether the bus left since it last joined.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// A watched descriptor is ready: read, accept or write, then deliver.
    pub(crate) fn ready(&self, fd: RawFd, readiness: Readiness) {
        let _turn = self.turn.enter();
        let mut core = self.core.lock();
        let Core { engine, sockets, .. } = &mut *core;
        match sockets.peer_of(fd) {
            Some(id) if readiness.writable => {
                if let Some(peer) = sockets.peer_mut(id) {
                    peer.out.unblock();
                }
                write_peer(&mut core, id, true);
                let Core { engine, sockets, .. } = &mut *core;
                sockets.ready(engine, fd, readiness);
            }
            _ => {
                if sockets.ready(engine, fd, readiness) == Some(Listening::Paused) {
                    self.resume_listener_later();
                }
            }
        }
        self.service(&mut core);
        self.deliver(Some(core));
    }

    /// The loop's turn: what calls from other threads left to do, and the
    /// engine's work that waited for another turn ([`Engine::handle_turn`]).
    fn turn(&self) {
        if !self.turn_due.load(Ordering::SeqCst) {
            return;
        }
        let _turn = self.turn.enter();
        let mut core = self.core.lock();
        core.engine.handle_turn();
        self.service(&mut core);
        self.deliver(Some(core));
    }

    /// On the loop's thread: what writers elsewhere left, the engine's actions,
    /// the writes. Notices are logged.
    fn service(&self, core: &mut MutexGuard<'_, Core>) {
        if std::mem::take(&mut core.loop_tasks) {
            let mut peers = Vec::new();
            core.sockets.peers_needing_loop(&mut peers);
            output::run_loop_tasks(core, &peers);
        }
        self.flush_scheduled.store(false, Ordering::SeqCst);
        self.run_actions(core);
        self.write_dirty(core, true);
        log_notices(&mut core.engine);
    }

    /// Opens, closes and drains connections as the engine asked (a close or a
    /// drain after what is queued for the peer is written); a close or a drain
    /// waits while another thread writes to that peer.
    fn run_actions(&self, core: &mut MutexGuard<'_, Core>) {
        let deferred = std::mem::take(&mut core.deferred);
        let actions: Vec<_> = deferred.into_iter().chain(std::iter::from_fn(|| core.engine.poll_action())).collect();
        for action in actions {
            if let Action::Close(id) | Action::Drain(id) = action {
                write_peer(core, id, true);
            }
            let Core { engine, sockets, deferred, .. } = &mut **core;
            if !sockets.act(engine, &action) {
                deferred.push(action);
                self.turn_due.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Writes to every peer with new output.
    fn write_dirty(&self, core: &mut MutexGuard<'_, Core>, on_loop: bool) {
        if core.engine.unflushed().1 == 0 {
            return;
        }
        let mut dirty = std::mem::take(&mut core.dirty);
        core.engine.poll_dirty(&mut dirty);
        for &id in &dirty {
            if write_peer(core, id, on_loop) == Wrote::NeedsLoop {
                core.loop_tasks = true;
            }
        }
        core.dirty = dirty;
        self.last_write.store(self.now_ns(), Ordering::Relaxed);
        self.watch_liveness(core.sockets.liveness());
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.lp.now().as_nanos()).unwrap_or(u64::MAX)
    }

    /// After a call of the API: who writes what it queued, and whether the loop
    /// must wake (see the module's documentation).
    fn after_call(&self, mut core: MutexGuard<'_, Core>) {
        log_notices(&mut core.engine);
        // SeqCst, against the loop's exit: it clears its runner mark then reads
        // this flag, while a caller sets this flag then reads the mark.
        self.turn_due.store(true, Ordering::SeqCst);
        if self.turn.is_this_thread() {
            if core.engine.unflushed().0 >= PIPELINE {
                self.write_dirty(&mut core, true);
            }
            return;
        }
        if self.lp.on_loop_thread() {
            // A hook, a channel's or a timer's handler: the loop's turn follows.
            self.lp.want_turn();
            return;
        }
        if !self.lp.is_driven() {
            // Nobody runs the loop: do now what can be done without it.
            self.run_actions(&mut core);
            self.write_dirty(&mut core, true);
            return;
        }
        if self.hand_to_loop(&core) {
            if !self.flush_scheduled.swap(true, Ordering::SeqCst) {
                drop(core);
                self.lp.wake();
            }
            return;
        }
        self.write_dirty(&mut core, false);
        // What only the loop's turn does: events to deliver (a Congestion the write
        // found), connections to open or close, tasks a write left. The loop may
        // have cleared `turn_due` while this thread wrote without the lock: set it
        // again, under the lock, before the wake-up.
        let wake =
            core.engine.has_actions() || core.engine.has_events() || core.loop_tasks || !core.deferred.is_empty();
        if wake {
            self.turn_due.store(true, Ordering::SeqCst);
        }
        drop(core);
        if wake {
            self.lp.wake();
        }
    }

    /// Whether a call outside the loop leaves its output to the loop: within a
    /// burst, while the loop keeps up.
    fn hand_to_loop(&self, core: &Core) -> bool {
        let (bytes, peers) = core.engine.unflushed();
        if peers == 0 || bytes >= SELF_FLUSH * peers {
            return false;
        }
        // The clock is read only when no burst is known yet.
        self.flush_scheduled.load(Ordering::SeqCst)
            || self.now_ns().saturating_sub(self.last_write.load(Ordering::Relaxed)) < BURST_WINDOW.as_nanos() as u64
    }

    /// Has the listener, paused for lack of descriptors, watched again after
    /// [`ACCEPT_BACKOFF`] (and again later if it cannot be yet).
    fn resume_listener_later(&self) {
        let this = self.this.clone();
        let ms = ACCEPT_BACKOFF.as_millis() as i64;
        self.lp.add_timer(
            1,
            ms,
            Box::new(move |_, _, _| {
                let Some(driver) = this.upgrade() else { return };
                if !driver.core.lock().sockets.resume_listener() {
                    driver.resume_listener_later();
                }
            }),
        );
    }

    /// Runs the loop until this bus leaves (or the loop is stopped).
    pub(crate) fn run(&self) {
        self.lp.run_while(|| !self.is_stopped());
    }

    /// A handle on this driver for the callbacks (none once the bus is dropped).
    fn bus(&self) -> Option<crate::Bus> {
        self.this.upgrade().map(crate::Bus::from_driver)
    }

    /// Forgets a peer whose Disconnected was delivered (what it held goes back
    /// to the system once its teardown is done: see `delivery.rs` and `reclaim.rs`).
    fn reap(&self, peer: PeerId) {
        self.core.lock().engine.reap(peer);
    }

    /// The die policy, after the die callback ran.
    fn obey_die(&self) {
        if *self.die_policy.lock() == DiePolicy::Obey {
            self.stop();
        }
    }
}

/// Logs the engine's notices: ivy-c's printed lines at info (stdout) and warn
/// (stderr), the rest at debug. The logger runs under the driver's lock: it must
/// not call the bus. Inline: after most calls there is none.
#[inline]
fn log_notices(engine: &mut Engine) {
    while let Some(notice) = engine.poll_notice() {
        let level = match notice.severity() {
            Severity::Info => log::Level::Info,
            Severity::Warning => log::Level::Warn,
            Severity::Detail => log::Level::Debug,
        };
        log::log!(target: "ivy", level, "{notice}");
    }
}
