//! A bus driven by a loop of the program's own: a plain poll(2) on the descriptor
//! `EventLoop::pollable_fd` gives, and `EventLoop::dispatch` when it is readable.
//! Messages both ways, a timer of the loop, a send from another thread (a wake-up),
//! ping, a peer that leaves, and our own stop, with no thread inside `run`.

use ivy_testkit as common;

use common::*;
use ivy::{AppEvent, Bus, EventLoop};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// Polls `fd` until it is readable (at most `ms`); true if it is.
fn readable(fd: i32, ms: i32) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, for the call's duration.
    unsafe { libc::poll(&mut p, 1, ms) == 1 }
}

/// The program's loop: dispatches whenever the descriptor is readable, until
/// `done` or the deadline.
fn drive(lp: &EventLoop, fd: i32, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "the bus did not get there within {TIMEOUT:?}");
        if readable(fd, 10) {
            lp.dispatch();
        }
    }
}

#[test]
fn a_plain_poll_loop_drives_the_bus() {
    let lp = EventLoop::new();
    let bus = Bus::with_loop(&lp, b"OWN", None);
    let fd = lp.pollable_fd().expect("pollable fd");
    assert_eq!(lp.pollable_fd().expect("again"), fd, "the same descriptor for the loop's life");
    let (tx, got) = mpsc::channel();
    bus.bind(b"^to-own (.*)", move |_, _, args| {
        let _ = tx.send(args[0].to_vec());
    });
    let events = app_events(&bus);
    let port = bus_port();
    bus.start(Some(&bus_addr(port))).expect("start");

    // Another agent, on a loop run by a thread of its own.
    let other = agent("OTHER", None);
    let (otx, other_got) = mpsc::channel();
    other.bind(b"^to-other (.*)", move |_, _, args| {
        let _ = otx.send(args[0].to_vec());
    });
    let mut other_run = Running::start(other.clone(), port);
    drive(&lp, fd, || bus.peers().len() == 1 && other.peers().len() == 1);
    drive(&lp, fd, || events.try_recv().is_ok_and(|(_, _, e)| e == AppEvent::Connected));

    // A message in: read and delivered by dispatch.
    assert_eq!(other.send(b"to-own hello"), Ok(1));
    let mut message = None;
    drive(&lp, fd, || {
        message = got.try_recv().ok();
        message.is_some()
    });
    assert_eq!(message.as_deref(), Some(&b"hello"[..]));

    // A message out, from this thread (outside any dispatch).
    assert_eq!(bus.send(b"to-other out"), Ok(1));
    assert_eq!(recv(&other_got, "our message"), b"out");

    // A send from another thread: written, or handed to the loop through a wake-up.
    let sender = bus.clone();
    std::thread::spawn(move || {
        for i in 0..100 {
            let _ = sender.send(format!("to-other {i}").as_bytes());
        }
    });
    let mut seen = 0;
    drive(&lp, fd, || {
        seen += other_got.try_iter().count();
        seen == 100
    });

    // A timer of the loop fires through the descriptor (its timerfd).
    let fired = Arc::new(AtomicUsize::new(0));
    let f = fired.clone();
    lp.add_timer(3, 20, Box::new(move |_, _, _| _ = f.fetch_add(1, Ordering::SeqCst)));
    let started = Instant::now();
    drive(&lp, fd, || fired.load(Ordering::SeqCst) == 3);
    assert!(started.elapsed() >= Duration::from_millis(55), "three firings 20 ms apart");

    // Ping: the answer comes through dispatch.
    let (ptx, pongs) = mpsc::channel();
    bus.on_pong(move |_, _, micros| {
        let _ = ptx.send(micros);
    });
    let peer = bus.peer_by_name(b"OTHER").expect("OTHER");
    assert_eq!(bus.ping(peer), Ok(()));
    let mut pong = None;
    drive(&lp, fd, || {
        pong = pongs.try_recv().ok();
        pong.is_some()
    });
    assert!(pong.is_some_and(|us| us > 0));

    // The other one leaves: seen through dispatch.
    other_run.stop_and_join();
    drive(&lp, fd, || events.try_recv().is_ok_and(|(_, _, e)| e == AppEvent::Disconnected));
    assert!(bus.peers().is_empty());

    // Quiet: nothing to do, the descriptor stays unreadable.
    lp.dispatch();
    assert!(!readable(fd, 50), "an idle bus makes its descriptor readable");
    bus.stop();
    assert!(!bus.is_started());
}
