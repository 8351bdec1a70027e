//! Floods of peers against an agent X of this process, over loopback: the peer
//! limit (`Limits::max_peers`, docs/LIMITS.md).

mod common;

use common::*;
use ivy::{AppEvent, Bus, Limits};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// X's binding for its peers' messages.
const X_RE: &str = "^raw (.*)$";

/// Diagnostics of the library, collected for the whole test process.
fn diagnostics() -> &'static Arc<Mutex<Vec<String>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        ivy::engine::diag::set_hook(Some(Box::new(move |m: &str| l.lock().expect("log").push(m.to_string()))));
        log
    })
}

/// Whether the library logged exactly `line`.
fn logged(line: &str) -> bool {
    diagnostics().lock().expect("log").iter().any(|l| l == line)
}

/// X, bound to [`X_RE`], with its messages from peers and its application events.
fn x_agent(limits: Limits) -> (Bus, Receiver<Vec<Vec<u8>>>, Receiver<AppRecord>) {
    let x = agent("X", None);
    x.set_limits(limits);
    let (tx, msgs) = mpsc::channel();
    x.bind(X_RE.as_bytes(), move |_, _, args| {
        let _ = tx.send(owned(args));
    });
    let events = app_events(&x);
    (x, msgs, events)
}

/// A raw peer named `name`, subscribed to `^to NAME (.*)$`, whose handshake X
/// (listening on `port`) took: X's handshake is checked, then ours is sent (its
/// port, our local one, tells the peers apart: X drops duplicates of one agent).
#[track_caller]
fn join(mut raw: Raw, port: u16, name: &str, events: &Receiver<AppRecord>) -> Raw {
    raw.expect(&handshake(port, "X", &[(0, X_RE)]));
    raw.send(&handshake(raw.local_port(), name, &[(0, &format!("^to {name} (.*)$"))]));
    assert_eq!(next_app_event(events, AppEvent::Connected).1, name.as_bytes());
    raw
}

/// Each raw peer (named by `names`) and X exchange one message both ways.
#[track_caller]
fn exchange(x: &Bus, msgs: &Receiver<Vec<Vec<u8>>>, peers: &mut [(&str, &mut Raw)], round: u32) {
    for (name, raw) in peers.iter_mut() {
        assert_eq!(x.send(format!("to {name} {round}").as_bytes()), 1);
        raw.expect(format!("2 0\x02{round}\x03\n").as_bytes());
        raw.send(format!("2 0\x02{name} {round}\x03\n").as_bytes());
        assert_eq!(recv(msgs, "a message from a peer"), strs(&[&format!("{name} {round}")]));
    }
}

#[test]
fn max_peers_refuses_new_peers_until_one_leaves() {
    diagnostics();
    let (x, msgs, events) = x_agent(Limits { max_peers: 3, ..Limits::default() });
    let bus_port = bus_port();
    let x = Running::start(x, bus_port);
    let port = x.port();
    // Two accepted peers and a dialled one: X is full.
    let mut a = join(Raw::connect(port), port, "A", &events);
    let mut b = join(Raw::connect(port), port, "B", &events);
    let c_listener = RawListener::new();
    c_listener.hello(bus_port, "3:3:3", "C");
    let mut c = join(c_listener.accept(), port, "C", &events);
    // A fourth connection is accepted and closed at once, before any byte.
    let mut refused = Raw::connect(port);
    refused.expect_eof();
    let refused_addr = format!("127.0.0.1:{}", refused.local_port());
    // A hello that would make X dial is ignored.
    let late = RawListener::new();
    late.hello(bus_port, "4:4:4", "LATE");
    assert!(late.accept_within(Duration::from_millis(300)).is_none(), "X dialled past max_peers");
    // Both refusals counted and logged.
    let held = "3 peer connections held, max_peers is 3";
    assert!(logged(&format!("connection from {refused_addr} closed: {held} (1 refused)")));
    assert!(logged(&format!("hello from 127.0.0.1:{} ignored: {held} (2 refused)", late.port)));
    // The peers held are unaffected.
    assert_eq!(peer_names(&x), [&b"A"[..], b"B", b"C"]);
    exchange(&x, &msgs, &mut [("A", &mut a), ("B", &mut b), ("C", &mut c)], 1);
    // One leaves: a new one is taken (dialled on a hello), then X is full again.
    drop(b);
    assert_eq!(next_app_event(&events, AppEvent::Disconnected).1, b"B");
    late.hello(bus_port, "4:4:4", "LATE");
    let mut late_raw = join(late.accept(), port, "LATE", &events);
    Raw::connect(port).expect_eof();
    // Another leaves: a new connection is accepted.
    drop(c);
    assert_eq!(next_app_event(&events, AppEvent::Disconnected).1, b"C");
    let mut d = join(Raw::connect(port), port, "D", &events);
    exchange(&x, &msgs, &mut [("A", &mut a), ("LATE", &mut late_raw), ("D", &mut d)], 2);
}
