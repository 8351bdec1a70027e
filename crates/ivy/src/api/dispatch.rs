//! The bus as a source of the loop: socket readiness goes to the agent, then the
//! engine's events go to the user's callbacks, one at a time and with no lock held.

use super::callbacks::Callbacks;
use super::{Bus, Shared};
use crate::runtime::agent::{ACCEPT_BACKOFF, Agent};
use crate::runtime::{EventLoop, Source};
use ivy_proto::engine::{AppEvent, DiePolicy, Event};
use ivy_proto::wire;
use parking_lot::{Mutex, MutexGuard};
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

pub struct BusSource {
    shared: Weak<Shared>,
    scratch: Mutex<Scratch>,
}

/// What a delivery reuses from one turn to the next, so that it allocates nothing.
#[derive(Default)]
struct Scratch {
    /// The events being delivered (its allocation and the engine's take turns).
    batch: VecDeque<Event>,
    /// Buffers of delivered Msgs, handed back to the engine under its lock.
    spent: Vec<Vec<u8>>,
}

impl BusSource {
    pub fn new(bus: &Bus) -> Self {
        BusSource { shared: std::sync::Arc::downgrade(&bus.shared), scratch: Mutex::default() }
    }

    fn bus(&self) -> Option<Bus> {
        self.shared.upgrade().map(|shared| Bus { shared })
    }

    /// Delivers with the reusable scratch, or with a fresh one when a callback runs
    /// the loop again from inside a delivery (IvyIdle). With the agent still
    /// `locked`, its events start the (empty) batch under that lock, which saves
    /// taking it once more.
    fn deliver(&self, bus: &Bus, mut locked: Option<MutexGuard<'_, Agent>>) {
        let mut scratch = self.scratch.try_lock();
        if let (Some(agent), Some(scratch)) = (&mut locked, &mut scratch)
            && scratch.batch.is_empty()
        {
            agent.engine.take_events(&mut scratch.batch);
        }
        drop(locked);
        match scratch {
            Some(mut scratch) => deliver_events(bus, &mut scratch),
            None => deliver_events(bus, &mut Nested(bus, Scratch::default()).1),
        }
    }
}

/// The scratch of a delivery nested in another one (a callback running the loop
/// again): when a callback's panic ends that delivery early, the events it had
/// not delivered go back to the engine, ahead of newer ones, instead of being lost
/// with it. (The reusable scratch keeps its own leftovers for the next turn.)
struct Nested<'b>(&'b Bus, Scratch);

impl Drop for Nested<'_> {
    fn drop(&mut self) {
        if !self.1.batch.is_empty() {
            self.0.shared.agent.lock().engine.requeue(&mut self.1.batch);
        }
    }
}

impl Source for BusSource {
    fn ready(&self, lp: &EventLoop, fd: RawFd, revents: i16) {
        if let Some(bus) = self.bus() {
            let mut agent = bus.shared.agent.lock();
            agent.ready(fd, revents, &|| lp.now());
            let paused = agent.take_listener_pause();
            self.deliver(&bus, Some(agent));
            if paused {
                resume_listener_later(lp, Arc::downgrade(&bus.shared));
            }
        }
    }

    fn turn(&self, _lp: &EventLoop) {
        if let Some(bus) = self.bus().filter(|bus| bus.shared.turn_due.load(Ordering::SeqCst)) {
            self.deliver(&bus, None);
        }
    }

    fn alive(&self) -> bool {
        self.shared.strong_count() > 0
    }
}

/// Has the bus's listener, paused by the agent, watched again after
/// [`ACCEPT_BACKOFF`] (and paused again if it must).
fn resume_listener_later(lp: &EventLoop, shared: Weak<Shared>) {
    let ms = ACCEPT_BACKOFF.as_millis() as i64;
    lp.add_timer(
        1,
        ms,
        Box::new(move |lp, _, _| {
            let Some(strong) = shared.upgrade() else { return };
            let watched = strong.agent.lock().resume_listener();
            if !watched {
                resume_listener_later(lp, shared.clone());
            }
        }),
    );
}

/// Delivers every pending event (callbacks may queue more, delivered too), then
/// writes out everything queued meanwhile, by callbacks or by other threads. Events
/// left in the batch by a callback that panicked go first, being the oldest.
fn deliver_events(bus: &Bus, scratch: &mut Scratch) {
    let _delivering = Delivering::new(bus);
    let Scratch { batch, spent } = scratch;
    loop {
        while let Some(event) = batch.pop_front() {
            spent.extend(deliver(bus, event));
        }
        let mut agent = bus.shared.agent.lock();
        for buf in spent.drain(..) {
            agent.engine.recycle(buf);
        }
        agent.engine.take_events(batch);
        if batch.is_empty() {
            bus.shared.flush_scheduled.store(false, Ordering::Release);
            agent.flush();
            if !agent.engine.has_events() {
                bus.shared.turn_due.store(false, Ordering::Release);
                return;
            }
        }
    }
}

/// Counts a delivery in progress (see `Shared::deliveries`), until dropped, even
/// by a callback's panic, which leaves the rest of the batch to the next turn.
struct Delivering<'b>(&'b Bus);

impl<'b> Delivering<'b> {
    fn new(bus: &'b Bus) -> Self {
        bus.shared.deliveries.fetch_add(1, Ordering::AcqRel);
        Delivering(bus)
    }
}

impl Drop for Delivering<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The rest waits for the next turn, which must come before the loop sleeps.
            self.0.shared.turn_due.store(true, Ordering::SeqCst);
            self.0.shared.lp.want_turn();
        }
        self.0.shared.deliveries.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The callback `pick` chooses, cloned so that the lock is released before it runs.
fn callback<F: Clone>(bus: &Bus, pick: impl FnOnce(&Callbacks) -> Option<&F>) -> Option<F> {
    pick(&bus.shared.callbacks.read()).cloned()
}

/// Calls the callback of one event; gives back a Msg's buffer for reuse.
fn deliver(bus: &Bus, event: Event) -> Option<Vec<u8>> {
    match event {
        Event::App { peer, event } => {
            if let Some(cb) = callback(bus, |c| c.app.as_ref()) {
                cb(bus, peer, event);
            }
            if event == AppEvent::Disconnected {
                bus.shared.agent.lock().engine.reap(peer);
            }
        }
        Event::Bind { peer, id, regexp, event } => {
            if let Some(cb) = callback(bus, |c| c.bind.as_ref()) {
                cb(bus, peer, id, &regexp, event);
            }
        }
        Event::Msg { peer, binding, params } => {
            if let Some(cb) = callback(bus, |c| c.bindings.get(&binding)) {
                // The engine already refused Msgs over the argument limit.
                with_args(&params, |args| cb(bus, peer, args));
            }
            return Some(params);
        }
        Event::Direct { peer, id, text } => {
            if let Some(cb) = callback(bus, |c| c.direct.as_ref()) {
                cb(bus, peer, id, &text);
            }
        }
        Event::Pong { peer, micros } => {
            if let Some(cb) = callback(bus, |c| c.pong.as_ref()) {
                cb(bus, peer, micros);
            }
        }
        Event::Die { peer, id } => {
            if let Some(cb) = callback(bus, |c| c.die.as_ref()) {
                cb(bus, peer, id);
            }
            if *bus.shared.die_policy.lock() == DiePolicy::Obey {
                bus.stop();
            }
        }
    }
    None
}

/// Arguments held on the stack; a Msg with more takes a vector.
const STACK_ARGS: usize = 16;

/// Calls `f` with the arguments of a Msg's params, without allocating when they are few.
fn with_args(params: &[u8], f: impl FnOnce(&[&[u8]])) {
    let mut stack: [&[u8]; STACK_ARGS] = [&[]; STACK_ARGS];
    let mut fields = wire::args(params);
    let mut n = 0;
    // Zip asks `stack` first, so no field is taken past the last slot.
    for (slot, field) in stack.iter_mut().zip(&mut fields) {
        *slot = field;
        n += 1;
    }
    match fields.next() {
        None => f(stack.get(..n).unwrap_or_default()),
        Some(more) => {
            let mut all = stack.to_vec();
            all.push(more);
            all.extend(fields);
            f(&all)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collected(params: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        with_args(params, |args| out = args.iter().map(|a| a.to_vec()).collect());
        out
    }

    #[test]
    fn arguments_on_the_stack_and_beyond() {
        assert_eq!(collected(b""), Vec::<Vec<u8>>::new());
        assert_eq!(collected(b"a\x03\x03b\x03"), vec![b"a".to_vec(), vec![], b"b".to_vec()]);
        for n in [STACK_ARGS - 1, STACK_ARGS, STACK_ARGS + 1, 3 * STACK_ARGS] {
            let fields: Vec<Vec<u8>> = (0..n).map(|i| i.to_string().into_bytes()).collect();
            let params: Vec<u8> = fields.iter().flat_map(|f| f.iter().copied().chain([wire::ETX])).collect();
            assert_eq!(collected(&params), fields, "{n} arguments");
        }
    }
}
