//! `Bus::send` from several threads while the loop runs: every frame arrives intact
//! and counted; a receiver that binds and unbinds meanwhile never sees a torn frame.

use ivy_testkit as common;

use common::*;
use ivy::Bus;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const THREADS: usize = 4;
const PER_THREAD: usize = 5000;

/// The message thread `t` sends as number `seq`: its padding length depends on seq so
/// that a frame glued to, or cut from, another one cannot pass the check.
fn message(t: usize, seq: usize) -> String {
    format!("t{t} s{seq} {}", "x".repeat(seq % 61 + 1))
}

const PATTERN: &[u8] = b"^t(\\d+) s(\\d+) (x+)$";

/// Checks one received argv against [`message`]; returns (thread, seq).
fn check(args: &[&[u8]]) -> Result<(usize, usize), String> {
    let bad = || format!("corrupted frame: {:?}", args.iter().map(|a| show(a)).collect::<Vec<_>>());
    if args.len() != 3 {
        return Err(bad());
    }
    let num = |a: &[u8]| std::str::from_utf8(a).ok().and_then(|s| s.parse::<usize>().ok());
    let (Some(t), Some(seq)) = (num(args[0]), num(args[1])) else { return Err(bad()) };
    if t >= THREADS || seq >= PER_THREAD || args[2].len() != seq % 61 + 1 {
        return Err(bad());
    }
    Ok((t, seq))
}

/// What the receiver saw: per-thread bitmaps of sequence numbers, duplicates, errors.
#[derive(Default)]
struct Seen {
    got: Vec<Vec<bool>>,
    total: usize,
    duplicates: usize,
    errors: Vec<String>,
}

impl Seen {
    fn new() -> Seen {
        Seen { got: vec![vec![false; PER_THREAD]; THREADS], ..Seen::default() }
    }

    fn record(&mut self, args: &[&[u8]]) {
        match check(args) {
            Ok((t, seq)) => {
                self.total += 1;
                if std::mem::replace(&mut self.got[t][seq], true) {
                    self.duplicates += 1;
                }
            }
            Err(e) => self.errors.push(e),
        }
    }

    fn missing(&self) -> usize {
        self.got.iter().flatten().filter(|&&b| !b).count()
    }
}

/// A sender and a receiver connected on a private bus; the receiver's permanent
/// binding records what it gets in the returned [`Seen`].
fn pair() -> (Running, Running, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::new()));
    let s = seen.clone();
    let receiver = agent("receiver", None);
    receiver.bind(PATTERN, move |_, _, args| s.lock().record(args));
    let Connected { x: receiver, y: sender, .. } = start_connected(receiver, agent("sender", None));
    (sender, receiver, seen)
}

/// Waits for every message of every thread; checks each arrived once, intact.
#[track_caller]
fn assert_each_once(seen: &Mutex<Seen>, what: &str) {
    wait_until(what, || {
        let s = seen.lock();
        s.total + s.errors.len() >= THREADS * PER_THREAD
    });
    std::thread::sleep(std::time::Duration::from_millis(50));
    let s = seen.lock();
    assert!(s.errors.is_empty(), "{} bad frames, first: {}", s.errors.len(), s.errors[0]);
    assert_eq!(s.duplicates, 0);
    assert_eq!(s.missing(), 0);
    assert_eq!(s.total, THREADS * PER_THREAD);
}

/// Runs THREADS threads each sending PER_THREAD messages; returns the routed counts.
fn send_from_threads(sender: &Bus) -> Vec<usize> {
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let bus = sender.clone();
            std::thread::spawn(move || {
                (0..PER_THREAD).map(|seq| bus.send(message(t, seq).as_bytes()).expect("sent")).sum::<usize>()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().expect("sender thread")).collect()
}

#[test]
fn four_threads_send_while_loop_runs() {
    let (sender, _receiver, seen) = pair();
    let counts = send_from_threads(&sender);
    assert_eq!(counts, vec![PER_THREAD; THREADS], "each send routed to exactly one subscription");
    assert_each_once(&seen, "every message to arrive");
}

#[test]
fn receiver_binds_and_unbinds_while_senders_send() {
    // A permanent binding must see every message exactly once; a second binding on the
    // same text comes and goes from another thread and must only see intact frames.
    let churn_errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let churn_hits = Arc::new(AtomicUsize::new(0));
    let (sender, receiver, seen) = pair();

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churner = {
        let (bus, stop, errors, hits) = (receiver.bus.clone(), stop.clone(), churn_errors.clone(), churn_hits.clone());
        std::thread::spawn(move || {
            let mut rounds = 0usize;
            while !stop.load(Ordering::Relaxed) && rounds < 100_000 {
                let (errors, hits) = (errors.clone(), hits.clone());
                let id = bus.bind(PATTERN, move |_, _, args| match check(args) {
                    Ok(_) => {
                        hits.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => errors.lock().push(e),
                });
                std::thread::sleep(std::time::Duration::from_micros(200));
                assert!(bus.unbind(id).is_ok());
                rounds += 1;
            }
            rounds
        })
    };
    let counts = send_from_threads(&sender);
    stop.store(true, Ordering::Relaxed);
    let rounds = churner.join().expect("churn thread");
    assert!(rounds > 0);
    let total: usize = counts.iter().sum();
    assert!(total >= THREADS * PER_THREAD, "routed {total}");

    assert_each_once(&seen, "every message to reach the permanent binding");
    let errors = churn_errors.lock();
    assert!(errors.is_empty(), "churn binding got bad frames: {}", errors[0]);
    // The churning binding can only have received what was routed to it.
    assert!(churn_hits.load(Ordering::Relaxed) <= total - THREADS * PER_THREAD);
    // Once the churn stopped, only the permanent binding remains on both sides.
    assert_eq!(receiver.bindings().len(), 1);
    wait_until("the sender to see one subscription", || {
        sender.peers().first().and_then(|p| sender.peer_regexps(*p)).map(|r| r.len()) == Some(1)
    });
}
