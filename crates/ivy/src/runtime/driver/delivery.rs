//! Delivery: the engine's events go to the user's callbacks, one at a time, with no
//! lock held, on the loop's thread; then what the callbacks queued is written.

use super::callbacks::Callbacks;
use super::{Core, Driver};
use crate::Bus;
use crate::runtime::reclaim::reclaim;
use ivy_proto::engine::{AppEvent, Event, pong_micros};
use ivy_proto::wire;
use parking_lot::MutexGuard;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;

/// What a delivery reuses from one turn to the next, so that it allocates nothing.
#[derive(Default)]
pub(super) struct Scratch {
    /// The events being delivered (its allocation and the engine's take turns).
    batch: VecDeque<Event>,
    /// Buffers of delivered Msgs, handed back to the engine under its lock.
    spent: Vec<Vec<u8>>,
}

impl Driver {
    /// Delivers what the engine has for the callbacks, with the reusable scratch,
    /// or with a fresh one when a callback runs the loop again from inside a
    /// delivery (IvyIdle). With the lock still held (`locked`), the events start
    /// the (empty) batch under it, which saves taking it once more.
    pub(super) fn deliver(&self, mut locked: Option<MutexGuard<'_, Core>>) {
        let Some(bus) = self.bus() else { return };
        let mut scratch = self.scratch.try_lock();
        if let (Some(core), Some(scratch)) = (&mut locked, &mut scratch)
            && scratch.batch.is_empty()
        {
            core.engine.poll_events(&mut scratch.batch);
        }
        drop(locked);
        match scratch {
            Some(mut scratch) => self.deliver_events(&bus, &mut scratch),
            None => self.deliver_events(&bus, &mut Nested(self, Scratch::default()).1),
        }
    }

    /// Delivers every pending event (callbacks may queue more, delivered too), then
    /// writes out everything queued meanwhile, by callbacks or by other threads.
    /// Events left in the batch by a callback that panicked go first, being the
    /// oldest.
    fn deliver_events(&self, bus: &Bus, scratch: &mut Scratch) {
        let _delivering = Delivering(self);
        let Scratch { batch, spent } = scratch;
        loop {
            while let Some(event) = batch.pop_front() {
                spent.extend(self.deliver_one(bus, event));
            }
            let mut core = self.core.lock();
            for buf in spent.drain(..) {
                core.engine.recycle(buf);
            }
            core.engine.poll_events(batch);
            if batch.is_empty() {
                self.service(&mut core);
                core.engine.poll_events(batch);
                if batch.is_empty() {
                    // Under the lock, as calls set it: none is missed. Work the
                    // engine left for another turn has the loop turn again at once.
                    let waits = core.engine.work_waits();
                    self.turn_due.store(waits, Ordering::SeqCst);
                    let garbage = core.engine.take_garbage();
                    drop(core);
                    if waits {
                        self.lp.wake();
                    }
                    if let Some(garbage) = garbage {
                        reclaim(garbage);
                    }
                    return;
                }
            }
        }
    }

    /// Calls the callback of one event; gives back a Msg's buffer for reuse.
    fn deliver_one(&self, bus: &Bus, event: Event) -> Option<Vec<u8>> {
        match event {
            Event::App { peer, event } => {
                if let Some(cb) = self.callback(|c| c.app.as_ref()) {
                    cb(bus, peer, event);
                }
                if event == AppEvent::Disconnected {
                    self.reap(peer);
                }
            }
            Event::Bind { peer, id, regexp, event } => {
                if let Some(cb) = self.callback(|c| c.bind.as_ref()) {
                    cb(bus, peer, id, &regexp, event);
                }
            }
            Event::Msg { peer, binding, params } => {
                if let Some(cb) = self.callback(|c| c.bindings.get(&binding)) {
                    // The engine already refused Msgs over the argument limit.
                    with_args(&params, |args| cb(bus, peer, args));
                }
                return Some(params);
            }
            Event::Direct { peer, id, text } => {
                if let Some(cb) = self.callback(|c| c.direct.as_ref()) {
                    cb(bus, peer, id, &text);
                }
            }
            Event::Pong { peer, sent_at, latest } => {
                if let Some(cb) = self.callback(|c| c.pong.as_ref()) {
                    cb(bus, peer, pong_micros(sent_at, self.lp.now(), latest));
                }
            }
            Event::Die { peer, id } => {
                if let Some(cb) = self.callback(|c| c.die.as_ref()) {
                    cb(bus, peer, id);
                }
                self.obey_die();
            }
        }
        None
    }

    /// The callback `pick` chooses, cloned so that the lock is released before it runs.
    fn callback<F: Clone>(&self, pick: impl FnOnce(&Callbacks) -> Option<&F>) -> Option<F> {
        pick(&self.callbacks.read()).cloned()
    }
}

/// The scratch of a delivery nested in another one (a callback running the loop
/// again): when a callback's panic ends that delivery early, the events it had
/// not delivered go back to the engine, ahead of newer ones, instead of being lost
/// with it. (The reusable scratch keeps its own leftovers for the next turn.)
struct Nested<'d>(&'d Driver, Scratch);

impl Drop for Nested<'_> {
    fn drop(&mut self) {
        if !self.1.batch.is_empty() {
            self.0.core.lock().engine.requeue(&mut self.1.batch);
        }
    }
}

/// A delivery in progress; when a callback's panic unwinds through it, the rest
/// of the batch waits for the next turn, which must come before the loop sleeps.
struct Delivering<'d>(&'d Driver);

impl Drop for Delivering<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.turn_due.store(true, Ordering::SeqCst);
            self.0.lp.want_turn();
        }
    }
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
