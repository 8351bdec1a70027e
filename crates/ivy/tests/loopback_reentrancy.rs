//! Re-entrancy: from inside callbacks an agent sends, binds, unbinds (its own binding
//! too), changes, adds and removes timers, queries peers and stops; another agent
//! observes the effects on the wire.

use ivy_testkit as common;

use common::*;
use ivy::{AppEvent, BindEvent, BindingId, Bus, TimerId};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// X (the agent under test) and Y (the observer) on a private bus; returns once Y
/// has X's subscriptions, with what `setup_y` gave.
#[track_caller]
fn xy<T>(setup_x: impl FnOnce(&Bus), setup_y: impl FnOnce(&Bus) -> T) -> (Connected, T) {
    let x = agent("X", None);
    setup_x(&x);
    let y = agent("Y", None);
    let got = setup_y(&y);
    let both = start_connected(x, y);
    assert_eq!(both.seen, b"X");
    (both, got)
}

/// Y's bind-change events: (event, id, regexp).
type BindEvents = Receiver<(BindEvent, i32, Vec<u8>)>;

fn bind_events(bus: &Bus) -> BindEvents {
    let (tx, rx) = mpsc::channel();
    bus.on_bind_change(move |_, _, id, re, event| {
        let _ = tx.send((event, id, re.to_vec()));
    });
    rx
}

/// The captures of each call of a binding, in order.
type Calls = Arc<Mutex<Vec<Vec<Vec<u8>>>>>;

/// X with one binding, of `re`: each call adds its captures to the returned
/// [`Calls`], then runs `then` with the binding's own id and the number of calls
/// so far. Y watches X's subscriptions.
#[track_caller]
fn x_recording(
    re: &'static [u8],
    then: impl Fn(&Bus, BindingId, usize) + Send + Sync + 'static,
) -> (Connected, Calls, BindEvents) {
    let calls = Calls::default();
    let c = calls.clone();
    let own = Arc::new(OnceLock::new());
    let o = own.clone();
    let (both, y_binds) = xy(
        |x| {
            let id = x.bind(re, move |bus, _, args| {
                let n = {
                    let mut c = c.lock().unwrap();
                    c.push(owned(args));
                    c.len()
                };
                then(bus, *o.get().expect("id set"), n);
            });
            own.set(id).expect("once");
        },
        bind_events,
    );
    (both, calls, y_binds)
}

#[test]
fn send_from_message_callback() {
    let counts = Arc::new(Mutex::new(Vec::new()));
    let c = counts.clone();
    let (Connected { x: _x, y, .. }, pongs) = xy(
        |x| {
            x.bind(b"^ping (\\d+)$", move |bus, peer, args| {
                let n = bus.send(format!("pong {}", show(args[0])).as_bytes());
                // Queries work inside callbacks too.
                assert_eq!(bus.peer_name(peer).as_deref(), Some(&b"Y"[..]));
                assert_eq!(bus.peers(), vec![peer]);
                c.lock().unwrap().push(n);
            });
        },
        |y| forward(y, "^pong (\\d+)$"),
    );
    for i in 1..=20 {
        assert_eq!(y.send(format!("ping {i}").as_bytes()), Ok(1));
    }
    for i in 1..=20 {
        assert_eq!(recv(&pongs, "pong"), strs(&[&i.to_string()]));
    }
    assert_eq!(*counts.lock().unwrap(), vec![Ok(1); 20]);
}

#[test]
fn bind_from_message_callback() {
    let (tx, got) = mpsc::channel();
    let (Connected { x: _x, y, .. }, y_binds) = xy(
        |x| {
            x.bind(b"^bind (\\S+)$", move |bus, _, args| {
                let word = String::from_utf8_lossy(args[0]).into_owned();
                let tx = tx.clone();
                let id = bus.bind(format!("^{word} (.*)$").as_bytes(), move |_, _, args| {
                    let _ = tx.send(owned(args));
                });
                assert_eq!(id.id(), 1);
            });
        },
        bind_events,
    );
    assert_eq!(recv(&y_binds, "X's first binding"), (BindEvent::Added, 0, b"^bind (\\S+)$".to_vec()));
    assert_eq!(y.send(b"bind foo"), Ok(1));
    assert_eq!(recv(&y_binds, "the new binding"), (BindEvent::Added, 1, b"^foo (.*)$".to_vec()));
    assert_eq!(y.send(b"foo bar baz"), Ok(1));
    assert_eq!(recv(&got, "message for the new binding"), strs(&["bar baz"]));
}

#[test]
fn unbind_own_binding_from_its_callback() {
    let (Connected { x, y, .. }, calls, y_binds) = x_recording(b"^once (.*)$", |bus, id, _| {
        assert!(bus.unbind(id).is_ok());
        // A second unbind of the same id is a no-op.
        assert!(bus.unbind(id).is_err());
    });
    assert_eq!(recv(&y_binds, "X's binding"), (BindEvent::Added, 0, b"^once (.*)$".to_vec()));
    // Two messages back to back: the second one may already be on its way when the
    // callback unbinds; it must not reach the callback.
    assert_eq!(y.send(b"once a"), Ok(1));
    let _ = y.send(b"once b");
    assert_eq!(recv(&y_binds, "the DelRegexp"), (BindEvent::Removed, 0, Vec::new()));
    assert_eq!(y.send(b"once c"), Ok(0));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(*calls.lock().unwrap(), vec![strs(&["a"])]);
    assert!(x.bindings().is_empty());
}

#[test]
fn unbind_other_binding_from_callback() {
    let victim_calls = Arc::new(Mutex::new(0));
    let (Connected { x: _x, y, .. }, y_binds) = xy(
        |x| {
            let vc = victim_calls.clone();
            let victim = x.bind(b"^victim$", move |_, _, _| *vc.lock().unwrap() += 1);
            x.bind(b"^kill$", move |bus, _, _| {
                assert!(bus.unbind(victim).is_ok());
            });
        },
        bind_events,
    );
    recv(&y_binds, "binding 0");
    recv(&y_binds, "binding 1");
    assert_eq!(y.send(b"victim"), Ok(1));
    assert_eq!(y.send(b"kill"), Ok(1));
    assert_eq!(recv(&y_binds, "the DelRegexp"), (BindEvent::Removed, 0, Vec::new()));
    assert_eq!(y.send(b"victim"), Ok(0));
    wait_until("the victim's one call", || *victim_calls.lock().unwrap() == 1);
}

#[test]
fn change_from_message_callback() {
    let (Connected { x, y, .. }, calls, y_binds) = x_recording(b"^old (.*)$", |bus, id, calls| {
        if calls == 1 {
            assert!(bus.change(id, b"^new (.*)$").is_ok());
        }
    });
    assert_eq!(recv(&y_binds, "X's binding"), (BindEvent::Added, 0, b"^old (.*)$".to_vec()));
    assert_eq!(y.send(b"old 1"), Ok(1));
    assert_eq!(recv(&y_binds, "the change"), (BindEvent::Changed, 0, b"^new (.*)$".to_vec()));
    assert_eq!(y.send(b"old 2"), Ok(0));
    assert_eq!(y.send(b"new 3"), Ok(1));
    wait_until("two calls", || calls.lock().unwrap().len() == 2);
    assert_eq!(*calls.lock().unwrap(), vec![strs(&["1"]), strs(&["3"])]);
    assert_eq!(x.bindings(), vec![(BindingId::from_id(0), b"^new (.*)$".to_vec())]);
}

#[test]
fn timers_from_callbacks() {
    // X: `^after (\d+)$` adds a one-shot timer that sends "fired N"; a repeating timer
    // (count 0) sends "tick"; `^untick$` removes it from inside a message callback.
    let ticker: Arc<OnceLock<TimerId>> = Arc::new(OnceLock::new());
    let (Connected { x, y, .. }, (fired, ticks)) = xy(
        |x| {
            x.bind(b"^after (\\d+)$", |bus, _, args| {
                let n = String::from_utf8_lossy(args[0]).into_owned();
                let b = bus.clone();
                bus.event_loop().add_timer(
                    1,
                    5,
                    Box::new(move |_, _, _| {
                        assert_eq!(b.send(format!("fired {n}").as_bytes()), Ok(1));
                    }),
                );
            });
            let t = ticker.clone();
            x.bind(b"^untick$", move |bus, _, _| {
                bus.event_loop().remove_timer(*t.get().expect("ticker"));
            });
        },
        |y| (forward(y, "^fired (\\d+)$"), forward(y, "^tick$")),
    );
    let b = x.bus.clone();
    let id = x.event_loop().add_timer(
        0,
        5,
        Box::new(move |_, _, _| {
            let _ = b.send(b"tick");
        }),
    );
    ticker.set(id).expect("once");

    for i in 1..=3 {
        assert_eq!(y.send(format!("after {i}").as_bytes()), Ok(1));
        assert_eq!(recv(&fired, "a one-shot timer's message"), strs(&[&i.to_string()]));
    }
    assert_no_recv(&fired, 50, "second firing of a one-shot timer");
    for _ in 0..3 {
        recv(&ticks, "tick");
    }
    assert_eq!(y.send(b"untick"), Ok(1));
    // Ticks already on the wire may still arrive; then they stop for good.
    let deadline = std::time::Instant::now() + TIMEOUT;
    while ticks.recv_timeout(Duration::from_millis(150)).is_ok() {
        assert!(std::time::Instant::now() < deadline, "ticks never stopped");
    }
    assert_no_recv(&ticks, 100, "tick after removal");
}

#[test]
fn timer_callback_modifies_and_removes_itself_and_binds() {
    // A timer of X binds from its own callback, then removes itself on its 3rd firing.
    let (Connected { x, y: _y, .. }, y_binds) = xy(|_| {}, bind_events);
    let fired = Arc::new(Mutex::new(0));
    let f = fired.clone();
    let b = x.bus.clone();
    x.event_loop().add_timer(
        0,
        5,
        Box::new(move |lp, id, _| {
            let mut n = f.lock().unwrap();
            *n += 1;
            b.bind(format!("^timer{n}$").as_bytes(), |_, _, _| {});
            if *n == 1 {
                lp.modify_timer(id, 10);
            }
            if *n == 3 {
                lp.remove_timer(id);
            }
        }),
    );
    for i in 1..=3 {
        assert_eq!(recv(&y_binds, "binding from timer"), (BindEvent::Added, i - 1, format!("^timer{i}$").into_bytes()));
    }
    assert_no_recv(&y_binds, 100, "binding after the timer removed itself");
    assert_eq!(*fired.lock().unwrap(), 3);
}

#[test]
fn stop_from_message_callback() {
    let (Connected { mut x, y, y_apps, .. }, ()) = xy(
        |x| {
            x.bind(b"^quit$", |bus, _, _| bus.stop());
        },
        |_| {},
    );
    assert_eq!(y.send(b"quit"), Ok(1));
    x.wait_finished();
    let (_, name) = next_app_event(&y_apps, AppEvent::Disconnected);
    assert_eq!(name, b"X");
    wait_peers(&y, 0);
}

#[test]
fn send_from_application_and_direct_callbacks() {
    // X greets each connected peer with a direct message and answers direct messages
    // with a direct message and a routed one.
    let (dtx, directs) = mpsc::channel();
    let (Connected { x: _x, y, .. }, echoes) = xy(
        |x| {
            x.on_application(|bus, peer, event| {
                if event == AppEvent::Connected {
                    let name = bus.peer_name(peer).unwrap_or_default();
                    let mut text = b"welcome ".to_vec();
                    text.extend_from_slice(&name);
                    assert!(bus.send_direct(peer, 1, &text).is_ok());
                }
            });
            x.on_direct(|bus, peer, id, text| {
                assert!(bus.send_direct(peer, id + 1, text).is_ok());
                let mut msg = b"echo ".to_vec();
                msg.extend_from_slice(text);
                assert_eq!(bus.send(&msg), Ok(1));
            });
        },
        |y| {
            y.on_direct(move |bus, peer, id, text| {
                let _ = dtx.send((bus.peer_name(peer).unwrap_or_default(), id, text.to_vec()));
            });
            forward(y, "^echo (.*)$")
        },
    );
    assert_eq!(recv(&directs, "welcome"), (b"X".to_vec(), 1, b"welcome Y".to_vec()));
    let x_peer = y.peer_by_name(b"X").expect("X listed");
    assert!(y.send_direct(x_peer, 41, b"hi").is_ok());
    assert_eq!(recv(&directs, "direct reply"), (b"X".to_vec(), 42, b"hi".to_vec()));
    assert_eq!(recv(&echoes, "echo"), strs(&["hi"]));
}

#[test]
fn send_from_bind_change_callback() {
    // X announces each subscription it learns about: "learned <id>".
    let (_both, learned) = xy(
        |x| {
            x.on_bind_change(|bus, _, id, _, event| {
                if event == BindEvent::Added {
                    let _ = bus.send(format!("learned {id}").as_bytes());
                }
            });
        },
        |y| forward(y, "^learned (\\d+)$"),
    );
    assert_eq!(recv(&learned, "learned"), strs(&["0"]));
}

/// X's loop sends `text` (through `arm`) at a moment outside any delivery of X; Y,
/// which never writes to X afterwards, must get it without anything else waking
/// X's loop.
fn sent_outside_a_delivery(arm: impl FnOnce(&Bus)) {
    let (Connected { x, y: _y, .. }, got) = xy(|_| {}, |y| forward(y, "^outside (.*)$"));
    // Let X's loop go to sleep first.
    std::thread::sleep(Duration::from_millis(50));
    arm(&x.bus);
    assert_eq!(recv(&got, "the message sent outside a delivery"), strs(&["done"]));
}

#[test]
fn send_from_the_before_poll_hook_is_written() {
    sent_outside_a_delivery(|x| {
        let (bus, armed) = (x.clone(), Arc::new(std::sync::atomic::AtomicBool::new(true)));
        x.event_loop().set_before_hook(Some(Box::new(move || {
            if armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
                let _ = bus.send(b"outside done");
            }
        })));
        x.event_loop().wake();
    });
}

#[test]
fn send_from_a_channel_delete_handler_is_written() {
    sent_outside_a_delivery(|x| {
        let (mine, _theirs) = std::os::unix::net::UnixStream::pair().expect("socket pair");
        let bus = x.clone();
        let lp = x.event_loop();
        let id = lp.add_channel(
            std::os::fd::AsRawFd::as_raw_fd(&mine),
            Box::new(|_, _, _| {}),
            None,
            Some(Box::new(move || {
                let _ = bus.send(b"outside done");
            })),
        );
        std::thread::sleep(Duration::from_millis(50));
        lp.remove_channel(id);
        // The delete handler has run once the channel is gone from the loop.
        std::thread::sleep(Duration::from_millis(50));
        drop(mine);
    });
}

/// A callback that runs the loop again (IvyIdle) starts a nested delivery; when a
/// callback of that nested delivery panics, the events after it are not lost: once
/// the loop runs again they are delivered, in order.
#[test]
fn events_after_a_panic_in_a_nested_delivery_are_kept() {
    let port = bus_port();
    let x = agent("X", None);
    let (in_a, go) = (mpsc::channel(), mpsc::channel::<()>());
    let (in_a_tx, go_rx) = (in_a.0, Mutex::new(go.1));
    x.bind(b"^a (.*)$", move |bus, _, _| {
        let _ = in_a_tx.send(());
        let _ = go_rx.lock().expect("go").recv_timeout(TIMEOUT);
        bus.event_loop().run_once();
    });
    x.bind(b"^b (.*)$", |_, _, _| panic!("b's callback panics"));
    let c_rx = forward(&x, "^c (.*)$");
    x.start(Some(&bus_addr(port))).expect("start X");
    let (lp_bus, panicked) = (x.clone(), mpsc::channel());
    let loop_thread = std::thread::spawn(move || {
        let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lp_bus.run()));
        let _ = panicked.0.send(first.is_err());
        lp_bus.run();
    });
    let x_port = x.tcp_port().expect("X's port");
    let mut raw = Raw::connect(x_port);
    raw.expect(&handshake(x_port, "X", &[(0, "^a (.*)$"), (1, "^b (.*)$"), (2, "^c (.*)$")]));
    raw.send(&handshake(raw.local_port(), "R", &[]));
    raw.send(b"2 0\x021\x03\n");
    recv(&in_a.1, "a's callback");
    // b and c arrive while a's callback runs: its run_once delivers them, nested.
    raw.send(b"2 1\x022\x03\n2 2\x023\x03\n");
    std::thread::sleep(Duration::from_millis(100));
    go.0.send(()).expect("go");
    assert!(recv(&panicked.1, "the loop to unwind"), "b's panic unwinds out of run");
    assert_eq!(recv(&c_rx, "c, kept and delivered once the loop runs again"), strs(&["3"]));
    x.stop();
    loop_thread.join().expect("loop thread");
}
