//! The event loop on its own, without any bus: timers with ivy-c's semantics (§8.4,
//! §11 case 43), user channels with deferred removal (§8.2), before/after hooks
//! (§8.3), stop and reset_stop.

use ivy_testkit as common;

use common::*;
use ivy::{EventLoop, TimerId};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A loop running on a background thread; dropping it stops and joins it (bounded).
struct LoopThread {
    lp: EventLoop,
    handle: Option<JoinHandle<()>>,
}

impl LoopThread {
    fn spawn(lp: &EventLoop) -> LoopThread {
        let l = lp.clone();
        LoopThread { lp: lp.clone(), handle: Some(std::thread::spawn(move || l.run())) }
    }

    fn finished(&self) -> bool {
        self.handle.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Whether `run()` returns within `d`.
    fn returns_within(&mut self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        while !self.finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let done = self.finished();
        if done && let Some(h) = self.handle.take() {
            h.join().expect("loop thread panicked");
        }
        done
    }
}

impl Drop for LoopThread {
    fn drop(&mut self) {
        self.lp.stop();
        if !self.returns_within(TIMEOUT) && !std::thread::panicking() {
            panic!("loop did not return after stop()");
        }
    }
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

fn bump(c: &AtomicUsize) {
    c.fetch_add(1, Ordering::SeqCst);
}

fn count(c: &AtomicUsize) -> usize {
    c.load(Ordering::SeqCst)
}

/// A timer (ivy-c's `count` and period) whose firings are counted in the returned
/// counter; each firing, once counted, runs `then` with the loop, the timer and
/// how many firings came before it.
fn counted_timer(
    lp: &EventLoop,
    count: i32,
    period_ms: i64,
    then: impl Fn(&EventLoop, TimerId, usize) + Send + 'static,
) -> (Arc<AtomicUsize>, TimerId) {
    let n = counter();
    let c = n.clone();
    let id = lp.add_timer(count, period_ms, Box::new(move |lp, id, _| then(lp, id, c.fetch_add(1, Ordering::SeqCst))));
    (n, id)
}

/// A [`counted_timer`] that does nothing more.
fn plain_timer(lp: &EventLoop, count: i32, period_ms: i64) -> (Arc<AtomicUsize>, TimerId) {
    counted_timer(lp, count, period_ms, |_, _, _| {})
}

/// Waits until `n` counts `times` firings; `settle_ms` later it still counts `times`.
#[track_caller]
fn assert_fires(n: &AtomicUsize, times: usize, settle_ms: u64) {
    wait_until(&format!("{times} firings"), || count(n) >= times);
    std::thread::sleep(Duration::from_millis(settle_ms));
    assert_eq!(count(n), times);
}

// ---------------------------------------------------------------- timers

#[test]
fn timer_count_three_fires_three_times() {
    let lp = EventLoop::new();
    let (n, _) = plain_timer(&lp, 3, 3);
    let _t = LoopThread::spawn(&lp);
    assert_fires(&n, 3, 60);
    assert_eq!(lp.next_timeout(), None, "the finished timer is gone");
}

#[test]
fn timer_count_zero_and_loop_fire_forever() {
    for c0 in [0, -1] {
        let lp = EventLoop::new();
        let (n, id) = plain_timer(&lp, c0, 2);
        let _t = LoopThread::spawn(&lp);
        wait_until("5 firings", || count(&n) >= 5);
        lp.remove_timer(id);
        let after = count(&n);
        std::thread::sleep(Duration::from_millis(40));
        // A firing already under way when remove was called may still finish.
        assert!(count(&n) <= after + 1, "count {c0}: fired after removal");
        assert_eq!(lp.next_timeout(), None);
    }
}

#[test]
fn timer_modify_inside_callback_does_not_consume_a_count() {
    let lp = EventLoop::new();
    let (n, _) = counted_timer(&lp, 2, 3, |lp, id, before| {
        if before < 3 {
            lp.modify_timer(id, 3);
        }
    });
    let _t = LoopThread::spawn(&lp);
    assert_fires(&n, 5, 60);
}

#[test]
fn timer_remove_inside_callback_stops_it() {
    let lp = EventLoop::new();
    let (n, _) = counted_timer(&lp, 0, 2, |lp, id, before| {
        if before == 1 {
            lp.remove_timer(id);
            // Removing twice is harmless.
            lp.remove_timer(id);
        }
    });
    let _t = LoopThread::spawn(&lp);
    assert_fires(&n, 2, 40);
}

#[test]
fn timers_fire_newest_first_within_one_scan() {
    let lp = EventLoop::new();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        let o = order.clone();
        ids.push(lp.add_timer(1, 1, Box::new(move |_, id, late| o.lock().unwrap().push((name, id, late)))));
    }
    std::thread::sleep(Duration::from_millis(15));
    lp.scan_timers();
    let got = order.lock().unwrap().clone();
    let names: Vec<&str> = got.iter().map(|g| g.0).collect();
    assert_eq!(names, ["c", "b", "a"]);
    let got_ids: Vec<TimerId> = got.iter().map(|g| g.1).collect();
    assert_eq!(got_ids, [ids[2], ids[1], ids[0]]);
    for (name, _, late) in &got {
        assert!(*late >= 10, "timer {name}: lateness {late} ms, slept 15");
    }
    // One-shot timers: a second scan fires nothing.
    std::thread::sleep(Duration::from_millis(5));
    lp.scan_timers();
    assert_eq!(order.lock().unwrap().len(), 3);
}

#[test]
fn timer_removed_by_another_in_the_same_scan_does_not_fire() {
    let lp = EventLoop::new();
    let fired = Arc::new(Mutex::new(Vec::new()));
    let f = fired.clone();
    let older = lp.add_timer(1, 1, Box::new(move |_, _, _| f.lock().unwrap().push("older")));
    let f = fired.clone();
    lp.add_timer(
        1,
        1,
        Box::new(move |lp, _, _| {
            f.lock().unwrap().push("newer");
            lp.remove_timer(older);
        }),
    );
    std::thread::sleep(Duration::from_millis(10));
    lp.scan_timers();
    std::thread::sleep(Duration::from_millis(5));
    lp.scan_timers();
    assert_eq!(*fired.lock().unwrap(), ["newer"]);
    assert_eq!(lp.next_timeout(), None);
}

#[test]
fn next_timeout_and_run_once_without_timer_scan() {
    let lp = EventLoop::new();
    assert_eq!(lp.next_timeout(), None);
    let (n, id) = plain_timer(&lp, 1, 1000);
    let t = lp.next_timeout().expect("a timer");
    assert!(t <= Duration::from_millis(1000) && t > Duration::from_millis(900), "{t:?}");
    lp.modify_timer(id, 1);
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(lp.next_timeout(), Some(Duration::ZERO), "overdue");
    // IvyIdle: no timer scan.
    lp.run_once();
    assert_eq!(count(&n), 0);
    lp.scan_timers();
    assert_eq!(count(&n), 1);
}

// ---------------------------------------------------------------- channels

/// A channel on one end of a socket pair; the read handler appends what it reads to
/// the returned buffer (and records EOF as the string "<eof>").
struct Chan {
    id: ivy::ChannelId,
    peer: UnixStream,
    data: Arc<Mutex<Vec<u8>>>,
    reads: Arc<AtomicUsize>,
    deletes: Arc<AtomicUsize>,
    writes: Arc<AtomicUsize>,
    _ours: UnixStream,
}

fn chan(lp: &EventLoop, remove_on_read: bool) -> Chan {
    let (ours, peer) = UnixStream::pair().expect("socketpair");
    ours.set_nonblocking(true).expect("nonblocking");
    let (data, reads, deletes, writes) = (Arc::new(Mutex::new(Vec::new())), counter(), counter(), counter());
    let mut reader = ours.try_clone().expect("clone");
    let our_fd = ours.as_raw_fd();
    let (d, r) = (data.clone(), reads.clone());
    let read = Box::new(move |lp: &EventLoop, id, fd| {
        assert_eq!(fd, our_fd);
        r.fetch_add(1, Ordering::SeqCst);
        let mut buf = [0u8; 256];
        match reader.read(&mut buf) {
            Ok(0) => d.lock().unwrap().extend_from_slice(b"<eof>"),
            Ok(k) => d.lock().unwrap().extend_from_slice(&buf[..k]),
            Err(_) => {}
        }
        if remove_on_read {
            lp.remove_channel(id);
        }
    });
    let w = writes.clone();
    let write = Box::new(move |_: &EventLoop, _, _| bump(&w));
    let del = deletes.clone();
    let delete = Box::new(move || bump(&del));
    let id = lp.add_channel(ours.as_raw_fd(), read, Some(write), Some(delete));
    Chan { id, peer, data, reads, deletes, writes, _ours: ours }
}

#[test]
fn channel_read_handler_runs_when_data_arrives() {
    let lp = EventLoop::new();
    let mut ch = chan(&lp, false);
    lp.run_once();
    assert_eq!(count(&ch.reads), 0, "nothing to read yet");
    ch.peer.write_all(b"hello").expect("write");
    lp.run_once();
    assert_eq!(count(&ch.reads), 1);
    assert_eq!(*ch.data.lock().unwrap(), b"hello");
    ch.peer.write_all(b" again").expect("write");
    lp.run_once();
    assert_eq!(*ch.data.lock().unwrap(), b"hello again");
    // EOF shows as readable.
    ch.peer.shutdown(std::net::Shutdown::Write).expect("shutdown");
    lp.run_once();
    assert_eq!(*ch.data.lock().unwrap(), b"hello again<eof>");
    assert_eq!(count(&ch.deletes), 0);
    assert_eq!(count(&ch.writes), 0, "no writable watch was set");
}

#[test]
fn channel_removal_is_deferred_and_delete_runs_once() {
    let lp = EventLoop::new();
    let mut ch = chan(&lp, false);
    ch.peer.write_all(b"x").expect("write");
    lp.remove_channel(ch.id);
    assert_eq!(count(&ch.deletes), 0, "removal is deferred to the next iteration");
    lp.run_once();
    assert_eq!(count(&ch.deletes), 1);
    assert_eq!(count(&ch.reads), 0, "a removed channel is not read");
    lp.remove_channel(ch.id);
    ch.peer.write_all(b"y").expect("write");
    lp.run_once();
    lp.run_once();
    assert_eq!(count(&ch.deletes), 1, "delete handler called once");
    assert_eq!(count(&ch.reads), 0);
}

#[test]
fn channel_removed_from_its_read_handler() {
    let lp = EventLoop::new();
    let mut ch = chan(&lp, true);
    ch.peer.write_all(b"ab").expect("write");
    lp.run_once();
    assert_eq!(count(&ch.reads), 1);
    assert_eq!(count(&ch.deletes), 0, "deferred to the start of the next iteration");
    ch.peer.write_all(b"cd").expect("write");
    lp.run_once();
    assert_eq!(count(&ch.deletes), 1);
    assert_eq!(count(&ch.reads), 1, "no read after removal");
    lp.run_once();
    assert_eq!(count(&ch.deletes), 1);
}

#[test]
fn channel_writable_watch_calls_write_handler() {
    let lp = EventLoop::new();
    let ch = chan(&lp, false);
    lp.run_once();
    assert_eq!(count(&ch.writes), 0);
    lp.set_channel_writable(ch.id, true);
    lp.run_once();
    assert_eq!(count(&ch.writes), 1);
    lp.run_once();
    assert_eq!(count(&ch.writes), 2);
    lp.set_channel_writable(ch.id, false);
    lp.run_once();
    assert_eq!(count(&ch.writes), 2);
    assert_eq!(count(&ch.reads), 0);
}

#[test]
fn channel_on_running_loop_from_other_thread() {
    // The loop sleeps in poll with no timer; adding a channel from another thread and
    // writing to it must wake it.
    let lp = EventLoop::new();
    let _t = LoopThread::spawn(&lp);
    std::thread::sleep(Duration::from_millis(20));
    let mut ch = chan(&lp, false);
    ch.peer.write_all(b"wake").expect("write");
    wait_until("the read handler", || *ch.data.lock().unwrap() == b"wake");
    lp.remove_channel(ch.id);
    wait_until("the delete handler", || count(&ch.deletes) == 1);
}

// ---------------------------------------------------------------- hooks

#[test]
fn hooks_run_around_each_poll() {
    let lp = EventLoop::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (b, a) = (log.clone(), log.clone());
    lp.set_before_hook(Some(Box::new(move || b.lock().unwrap().push("before"))));
    lp.set_after_hook(Some(Box::new(move || a.lock().unwrap().push("after"))));
    for _ in 0..3 {
        lp.run_once();
    }
    assert_eq!(*log.lock().unwrap(), ["before", "after"].repeat(3));

    // While running: a timer makes a few iterations; the hooks strictly alternate.
    log.lock().unwrap().clear();
    let (n, _) = plain_timer(&lp, 3, 2);
    let mut t = LoopThread::spawn(&lp);
    wait_until("3 firings", || count(&n) == 3);
    lp.stop();
    assert!(t.returns_within(TIMEOUT));
    let lp_log = log.clone();
    let log = log.lock().unwrap();
    assert!(log.len() >= 6, "{log:?}");
    for pair in log.chunks(2) {
        assert_eq!(pair, ["before", "after"]);
    }

    drop(log);

    // Hooks can be removed.
    lp.set_before_hook(None);
    lp.set_after_hook(None);
    let len = log_len(&lp_log);
    lp.reset_stop();
    lp.run_once();
    assert_eq!(log_len(&lp_log), len);
}

fn log_len(log: &Mutex<Vec<&str>>) -> usize {
    log.lock().unwrap().len()
}

// ---------------------------------------------------------------- stop

#[test]
fn stop_from_another_thread_returns_run_promptly() {
    let lp = EventLoop::new();
    let mut t = LoopThread::spawn(&lp);
    std::thread::sleep(Duration::from_millis(50));
    assert!(!t.finished(), "run() returned without stop");
    let at = Instant::now();
    lp.stop();
    assert!(t.returns_within(Duration::from_secs(2)), "run() did not return after stop()");
    assert!(at.elapsed() < Duration::from_millis(500), "took {:?}", at.elapsed());
    assert!(lp.is_stopped());
}

#[test]
fn run_returns_at_once_until_reset_stop() {
    let lp = EventLoop::new();
    lp.stop();
    let mut t = LoopThread::spawn(&lp);
    assert!(t.returns_within(Duration::from_secs(2)), "run() should return at once after stop()");
    assert!(LoopThread::spawn(&lp).returns_within(Duration::from_secs(2)), "still stopped");
    lp.reset_stop();
    assert!(!lp.is_stopped());
    let mut t = LoopThread::spawn(&lp);
    std::thread::sleep(Duration::from_millis(100));
    assert!(!t.finished(), "run() returned after reset_stop()");
    lp.stop();
    assert!(t.returns_within(Duration::from_secs(2)));
}

#[test]
fn stop_from_timer_callback() {
    let lp = EventLoop::new();
    let (n, _) = counted_timer(&lp, 0, 2, |lp, _, before| {
        if before == 2 {
            lp.stop();
        }
    });
    let mut t = LoopThread::spawn(&lp);
    assert!(t.returns_within(TIMEOUT));
    assert_eq!(count(&n), 3);
}

#[test]
fn a_panic_out_of_run_leaves_the_loop_not_running() {
    let lp = EventLoop::new();
    lp.add_timer(1, 0, Box::new(|_, _, _| panic!("a timer's panic")));
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lp.run()));
    assert!(unwound.is_err(), "the timer's panic unwinds out of run");
    assert!(!lp.is_driven(), "no thread is inside run any more");
    assert!(!lp.on_loop_thread());
}
