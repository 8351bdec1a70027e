//! Floods of peers against an agent X of this process, over loopback: the peer
//! limit (`Limits::max_peers`) and the per-turn caps on accepts and hellos
//! (docs/LIMITS.md).

use ivy_testkit as common;

use common::*;
use ivy::{AppEvent, Bus, Limits};
use std::sync::mpsc::Receiver;

use std::time::Duration;

/// Connections accepted, and datagrams read, per loop turn (`agent.rs`).
const PER_TURN: usize = 16;
/// X's binding for its peers' messages.
const X_RE: &str = "^raw (.*)$";

/// Diagnostics of the library, collected for the whole test process.
fn diagnostics() -> &'static Logs {
    logs()
}

/// Whether the library logged exactly `line`.
fn logged(line: &str) -> bool {
    diagnostics().any(|l| l == line)
}

/// X, bound to [`X_RE`], with its messages from peers and its application events.
fn x_agent(limits: Limits) -> (Bus, Receiver<Vec<Vec<u8>>>, Receiver<AppRecord>) {
    let x = agent("X", None);
    x.set_limits(limits);
    let msgs = forward(&x, X_RE);
    let events = app_events(&x);
    (x, msgs, events)
}

/// [`x_agent`]'s X, running on a private bus port.
struct RunningX {
    x: Running,
    bus_port: u16,
    msgs: Receiver<Vec<Vec<u8>>>,
    events: Receiver<AppRecord>,
}

fn running_x(limits: Limits) -> RunningX {
    let (x, msgs, events) = x_agent(limits);
    let bus_port = bus_port();
    RunningX { x: Running::start(x, bus_port), bus_port, msgs, events }
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
        assert_eq!(x.send(format!("to {name} {round}").as_bytes()), Ok(1));
        raw.expect(format!("2 0\x02{round}\x03\n").as_bytes());
        raw.send(format!("2 0\x02{name} {round}\x03\n").as_bytes());
        assert_eq!(recv(msgs, "a message from a peer"), strs(&[&format!("{name} {round}")]));
    }
}

#[test]
fn max_peers_refuses_new_peers_until_one_leaves() {
    diagnostics();
    let RunningX { x, bus_port, msgs, events } = running_x(Limits { max_peers: 3, ..Limits::default() });
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

/// A started X whose loop does not run: the test turns it with `run_once`.
fn x_turned_by_hand() -> (Bus, u16) {
    let (x, _, _) = x_agent(Limits::default());
    let bus_port = bus_port();
    x.start(Some(&bus_addr(bus_port))).expect("start X");
    // X's own hello, back on its bus socket.
    x.event_loop().run_once();
    (x, bus_port)
}

/// Turns X's loop until `count` reaches `total` (at most 20 turns); returns how
/// much each turn added to it.
fn turns_until(x: &Bus, total: usize, mut count: impl FnMut() -> usize) -> Vec<usize> {
    let mut taken = Vec::new();
    let mut before = count();
    for _ in 0..20 {
        if before == total {
            break;
        }
        x.event_loop().run_once();
        std::thread::sleep(Duration::from_millis(20));
        let now = count();
        taken.push(now - before);
        before = now;
    }
    taken
}

#[test]
fn accepts_per_turn_are_capped() {
    let (x, _) = x_turned_by_hand();
    let port = x.tcp_port().expect("port");
    let total = 2 * PER_TURN + 8;
    let _conns: Vec<Raw> = (0..total).map(|_| Raw::connect(port)).collect();
    std::thread::sleep(Duration::from_millis(50));
    let taken = turns_until(&x, total, || x.peers().len());
    assert_eq!(taken, [PER_TURN, PER_TURN, 8], "connections accepted per turn");
    x.stop();
}

#[test]
fn hellos_per_turn_are_capped() {
    let (x, bus_port) = x_turned_by_hand();
    let total = 2 * PER_TURN + 8;
    let listeners: Vec<RawListener> = (0..total).map(|_| RawListener::new()).collect();
    for (i, l) in listeners.iter().enumerate() {
        l.hello(bus_port, &format!("9:{i}:9"), &format!("H{i}"));
    }
    let mut dialled = Vec::new();
    let taken = turns_until(&x, total, || {
        dialled.extend(listeners.iter().filter_map(|l| l.accept_within(Duration::ZERO)));
        dialled.len()
    });
    assert_eq!(taken, [PER_TURN, PER_TURN, 8], "hellos taken per turn");
    x.stop();
}

/// A datagram of `SCRATCH` bytes or more may have been cut short: it is ignored
/// whole, even when its first line is a valid hello (none is that long). One a
/// byte shorter is read.
#[test]
fn datagrams_longer_than_any_hello_are_ignored() {
    use ivy::DATAGRAM_BUFFER as SCRATCH;
    diagnostics();
    let RunningX { x, bus_port, .. } = running_x(Limits::default());
    let l = RawListener::new();
    let padded = |len: usize| {
        let mut d = format!("3 {} long:1:1 LONG\n", l.port).into_bytes();
        d.resize(len, b'x');
        d
    };
    send_datagram(bus_port, &padded(SCRATCH));
    assert!(l.accept_within(Duration::from_millis(300)).is_none(), "X dialled on a datagram past its buffer");
    let why = format!("ignored: {SCRATCH} bytes or more");
    let ignored = diagnostics().any(|m| m.starts_with("datagram from ") && m.ends_with(&why));
    assert!(ignored, "the datagram ignored is logged");
    send_datagram(bus_port, &padded(SCRATCH - 1));
    let mut raw = l.accept();
    raw.expect(&handshake(x.port(), "X", &[(0, X_RE)]));
}

/// A listener whose accept queue is full: the SYNs sent to it are dropped, and a
/// connect to it hangs (until given up).
struct Blackhole {
    _listener: socket2::Socket,
    _filler: std::net::TcpStream,
    port: u16,
}

impl Blackhole {
    fn new() -> Blackhole {
        use socket2::{Domain, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        s.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into()).expect("bind");
        s.listen(0).expect("listen");
        let port = s.local_addr().ok().and_then(|a| a.as_socket()).expect("port").port();
        // Backlog 0 still takes one connection: this one fills the queue.
        let filler = std::net::TcpStream::connect(("127.0.0.1", port)).expect("filler");
        Blackhole { _listener: s, _filler: filler, port }
    }
}

/// Hellos naming ports that never answer make X dial at most half of `max_peers`
/// at once, so incoming connections still find a place; each connect is given up
/// after `DIAL_TIMEOUT`, and then a hello is dialled again.
#[test]
fn hanging_dials_are_capped_and_given_up() {
    use ivy::DIAL_TIMEOUT;
    use std::time::Instant;
    diagnostics();
    let RunningX { x, bus_port, events, .. } = running_x(Limits { max_peers: 4, ..Limits::default() });
    let port = x.port();
    let holes = [Blackhole::new(), Blackhole::new()];
    let started = Instant::now();
    for (i, h) in holes.iter().enumerate() {
        send_datagram(bus_port, format!("3 {} hole:{i}:1 H{i}\n", h.port).as_bytes());
    }
    // Two connects hang: a third hello is ignored, incoming connections are taken.
    let late = RawListener::new();
    late.hello(bus_port, "5:5:5", "LATE");
    assert!(late.accept_within(Duration::from_millis(300)).is_none(), "X dialled past half of max_peers");
    let refused = format!("hello from 127.0.0.1:{} ignored: 2 connects under way, at most 2 (1 refused)", late.port);
    assert!(logged(&refused), "the refusal is logged");
    let _a = join(Raw::connect(port), port, "A", &events);
    let _b = join(Raw::connect(port), port, "B", &events);
    // Both hanging connects are given up after DIAL_TIMEOUT (not after the ~127 s
    // of the system's SYN retries).
    let given_up =
        |h: &Blackhole| diagnostics().any(|l| l.starts_with(&format!("SocketConnectAddr error 127.0.0.1:{}:", h.port)));
    let deadline = started + DIAL_TIMEOUT + Duration::from_secs(3);
    while !holes.iter().all(given_up) {
        assert!(Instant::now() < deadline, "hanging connects not given up after {DIAL_TIMEOUT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(started.elapsed() >= DIAL_TIMEOUT - Duration::from_millis(500), "given up too soon");
    late.hello(bus_port, "5:5:5", "LATE");
    let mut raw = late.accept();
    raw.expect(&handshake(port, "X", &[(0, X_RE)]));
}

#[test]
fn a_flood_of_subscriptions_does_not_hold_up_other_peers() {
    // 2 000 costly regexps (60 states each) take about 0.1 s to compile
    // optimised, seconds in a debug build: X compiles them a turn's work at a
    // time (`TURN_WORK`), so that a ping GOOD sends once the flood is under way
    // is answered before the ping the flood sent after its regexps.
    let RunningX { x, events, .. } = running_x(Limits::default());
    let port = x.port();
    let mut good = join(Raw::connect(port), port, "GOOD", &events);
    let mut flood = Raw::connect(port);
    flood.expect(&handshake(port, "X", &[(0, X_RE)]));
    let regexps = (0..2000).map(|i| (i, format!("(.*a){{19}}(?:|z{i})")));
    flood.send(&[handshake_subscribing(2, "FLOOD", regexps), b"9 1\x02\n".to_vec()].concat());
    std::thread::sleep(Duration::from_millis(20));
    good.ping_pong(7);
    flood.expect_quiet(1);
    // The flood is served in the end: every regexp kept (no Error), then its Pong.
    flood.expect(b"10 1\x02\n");
    assert_eq!(next_app_event(&events, AppEvent::Connected).1, b"FLOOD");
    good.ping_pong(8);
}
