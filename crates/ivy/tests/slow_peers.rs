//! Slow and dead peers (spec §7, DESIGN §5 "congestion"):
//! - a subscriber that stops reading: the sender never blocks, never tears a frame,
//!   drops whole lines past the queue cap, reports Congestion once, FifoFull once
//!   per dropped line and Decongestion once after draining, and another subscriber
//!   gets every message;
//! - a peer whose host vanishes without FIN: detected by TCP keepalive (idle
//!   connection) or by the driver's check of silent hosts (data waiting for it,
//!   its window open or shut) within [`Liveness::detection_time`] plus slack, and
//!   reported as Disconnected. The vanished host is a network namespace this
//!   test creates (root and iproute2 needed: the test fails without them), whose
//!   link we cut;
//! - a peer whose window stays shut while its kernel answers is slow, not dead:
//!   kept for several detection times, and served once it reads again.

use ivy_testkit as common;

use common::*;
use ivy::{AppEvent, Limits, Liveness, PeerId};
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// X's queue cap for the slow subscriber.
const QUEUE_CAP: usize = 1 << 20;
/// Messages X sends, and the length of each.
const MESSAGES: usize = 400;
const MSG_LEN: usize = 64 << 10;

/// The message with sequence number `i`: `msg I ` then filler up to MSG_LEN bytes.
fn message(i: usize) -> Vec<u8> {
    let mut m = format!("msg {i} ").into_bytes();
    m.resize(MSG_LEN, b'a' + (i % 26) as u8);
    m
}

/// The largest send buffer the kernel may grow a TCP socket to (tcp_wmem max).
fn max_send_buffer() -> usize {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|t| t.split_whitespace().nth(2).and_then(|v| v.parse().ok()))
        .unwrap_or(4 << 20)
}

/// Application events of one bus, with their peer, in order.
fn events(bus: &ivy::Bus) -> EventLog {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    bus.on_application(move |_, peer, event| l.lock().expect("lock").push((peer, event)));
    log
}

fn count(log: &Mutex<Vec<(PeerId, AppEvent)>>, peer: PeerId, event: AppEvent) -> usize {
    log.lock().expect("lock").iter().filter(|&&(p, e)| p == peer && e == event).count()
}

/// Application events of one bus, shared with the test.
type EventLog = Arc<Mutex<Vec<(PeerId, AppEvent)>>>;

/// X, its queue capped at [`QUEUE_CAP`], with its application events, and a
/// channel that gets a unit for each `sync` message X receives.
fn capped_x() -> (ivy::Bus, EventLog, Receiver<()>) {
    let x = agent("X", None);
    x.set_limits(Limits { queue_cap: QUEUE_CAP, ..Limits::default() });
    let log = events(&x);
    let (sync_tx, synced) = mpsc::channel();
    x.bind(b"^sync$", move |_, _, _| {
        let _ = sync_tx.send(());
    });
    (x, log, synced)
}

/// A reader of what `raw` receives, each read bounded by [`TIMEOUT`].
fn reader(raw: &Raw) -> BufReader<TcpStream> {
    raw.stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    BufReader::new(raw.stream.try_clone().expect("clone"))
}

/// A raw peer of `x` named SLOW with a 4 KiB receive buffer, subscribed to
/// `regexp`; it reads nothing unless the test reads it.
fn slow_subscriber(x: &Running, regexp: &str) -> (Raw, PeerId) {
    let sock = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).expect("socket");
    sock.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let addr: SocketAddr = ([127, 0, 0, 1], x.port()).into();
    sock.connect(&addr.into()).expect("connect");
    let mut slow = Raw::new(sock.into());
    slow.read_handshake();
    slow.send(format!("6 1\x02SLOW\n1 0\x02{regexp}\n5 0\x02\n").as_bytes());
    slow.ping_pong(1);
    let id = x.peer_by_name(b"SLOW").expect("SLOW listed");
    (slow, id)
}

#[test]
fn subscriber_that_stops_reading() {
    // X's events are delivered in order: once X got Y's `sync`, every event queued
    // before it (FifoFull ...) has been delivered.
    let (x, log, synced) = capped_x();
    let y = agent("Y", None);
    let (tx, at_y) = mpsc::channel();
    y.bind(b"^msg (\\d+) ", move |_, _, args| {
        let _ = tx.send(String::from_utf8_lossy(args[0]).into_owned());
    });
    let y_apps = app_events(&y);
    let port = bus_port();
    let x = Running::start(x, port);
    let y = Running::start(y, port);
    next_app_event(&y_apps, AppEvent::Connected);

    // The slow subscriber: a small receive window, `(.*)`, then it stops reading.
    let (slow, slow_id) = slow_subscriber(&x, "(.*)");

    // The sender never blocks.
    let mut longest = Duration::ZERO;
    let mut lines = 0;
    for i in 0..MESSAGES {
        let t = Instant::now();
        lines += x.send(&message(i)).expect("sent");
        longest = longest.max(t.elapsed());
    }
    assert_eq!(lines, 2 * MESSAGES, "every message matched both subscribers (dropped lines count)");
    assert!(longest < Duration::from_millis(50), "a send took {longest:?}");
    // Y got everything, in order, while SLOW was stuck.
    for i in 0..MESSAGES {
        assert_eq!(recv(&at_y, "Y's message"), i.to_string());
    }
    assert_eq!(y.send(b"sync"), Ok(1));
    recv(&synced, "X's sync");
    assert_eq!(count(&log, slow_id, AppEvent::Congestion), 1, "Congestion once");
    let dropped = count(&log, slow_id, AppEvent::FifoFull);
    assert!(dropped > 0, "the queue never filled up");
    assert_eq!(count(&log, slow_id, AppEvent::Decongestion), 0);

    // SLOW reads again: whole lines only, in order, none but the dropped ones missing.
    let mut reader = reader(&slow);
    let mut delivered = 0;
    let mut bytes = 0;
    let mut last = None;
    while delivered + dropped < MESSAGES {
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line).expect("a line from X");
        let head = show(&line[..line.len().min(40)]);
        let body = line.strip_prefix(b"2 0\x02").and_then(|l| l.strip_suffix(b"\x03\n"));
        let body = body.unwrap_or_else(|| panic!("torn or foreign line {head} ({} bytes)", line.len()));
        let seq: usize = String::from_utf8_lossy(&body[4..body.len().min(12)])
            .split(' ')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no sequence in {head}"));
        assert_eq!(body, message(seq), "line {seq} altered");
        assert!(last.is_none_or(|l| seq > l), "{seq} after {last:?}");
        last = Some(seq);
        delivered += 1;
        bytes += line.len();
    }
    // What was not dropped went through a queue of at most QUEUE_CAP bytes plus the
    // kernel's buffers (X's send buffer, SLOW's small receive buffer).
    let bound = QUEUE_CAP + max_send_buffer() + 64 * 1024 + 2 * (MSG_LEN + 16);
    assert!(bytes <= bound, "{bytes} bytes delivered after the stall, more than cap + kernel buffers ({bound})");
    eprintln!(
        "slowest send {longest:?}; {dropped} lines dropped, {delivered} delivered ({bytes} bytes) after the stall"
    );
    wait_until("Decongestion", || count(&log, slow_id, AppEvent::Decongestion) == 1);
    assert_eq!(count(&log, slow_id, AppEvent::Congestion), 1);
    assert_eq!(count(&log, slow_id, AppEvent::FifoFull), dropped, "FifoFull once per dropped line");

    // After the drain, the next line arrives whole (no prefix left over, §7).
    assert_eq!(x.send(b"msg 999999 after"), Ok(2));
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).expect("the line after");
    assert_bytes(&line, b"2 0\x02msg 999999 after\x03\n");
    assert_eq!(recv(&at_y, "Y's last message"), "999999");
    drop(y);
}

// ---------------------------------------------------------------------------
// Vanished hosts.

/// A network namespace joined to ours by a veth pair: we are `host_ip`, the
/// namespace is `peer_ip`. Deleted on drop.
struct Netns {
    name: String,
    veth: String,
    host_ip: String,
    peer_ip: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl Netns {
    /// Creates namespace number `n` (0..4) of this process; Err when not possible
    /// (not root, no `ip`, no namespaces).
    fn create(n: u32) -> Result<Netns, String> {
        let pid = std::process::id();
        let net = (pid % 60) * 4 + n;
        let ns = Netns {
            name: format!("ivytest-{pid}-{n}"),
            veth: format!("ivyh{}", pid % 100_000 * 10 + n),
            host_ip: format!("10.77.{net}.1"),
            peer_ip: format!("10.77.{net}.2"),
        };
        let peer_veth = format!("{}p", ns.veth);
        ip(&["netns", "add", &ns.name])?;
        ip(&["link", "add", &ns.veth, "type", "veth", "peer", "name", &peer_veth, "netns", &ns.name])?;
        ip(&["addr", "add", &format!("{}/30", ns.host_ip), "dev", &ns.veth])?;
        ip(&["link", "set", &ns.veth, "up"])?;
        ip(&["-n", &ns.name, "addr", "add", &format!("{}/30", ns.peer_ip), "dev", &peer_veth])?;
        ip(&["-n", &ns.name, "link", "set", &peer_veth, "up"])?;
        ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// A TCP connection to `port` on our side, opened from inside the namespace
    /// with a receive buffer of `rcvbuf` bytes (the system's when `None`).
    fn connect(&self, port: u16, rcvbuf: Option<usize>) -> TcpStream {
        let path = format!("/var/run/netns/{}", self.name);
        let target: SocketAddr = format!("{}:{port}", self.host_ip).parse().expect("address");
        thread::spawn(move || {
            use std::os::fd::AsRawFd;
            let file = std::fs::File::open(&path).expect("open the namespace");
            // SAFETY: setns on a valid namespace fd; it only moves this short-lived thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            let sock = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).expect("socket");
            if let Some(size) = rcvbuf {
                sock.set_recv_buffer_size(size).expect("SO_RCVBUF");
            }
            sock.connect_timeout(&target.into(), TIMEOUT).expect("connect from the namespace");
            TcpStream::from(sock)
        })
        .join()
        .expect("namespace thread")
    }

    /// The link is cut: nothing goes either way, the host is gone without FIN
    /// or RST.
    fn vanish(&self) {
        ip(&["-n", &self.name, "link", "set", &format!("{}p", self.veth), "down"]).expect("cut the link");
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.veth]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Liveness of these tests: probes after 1 s of silence, every 1 s, 2 of them.
const LIVENESS: Liveness = Liveness { idle: Duration::from_secs(1), interval: Duration::from_secs(1), retries: 2 };
/// Timer granularity, retransmission back-off and loop latency.
const SLACK: Duration = Duration::from_secs(3);

/// X with a short liveness, a good peer Y, and GHOST, connected to X from a
/// namespace and subscribed to `^ghost`.
struct Ghost {
    ns: Netns,
    x: Running,
    _y: Running,
    /// GHOST's end of the connection, kept open (no FIN) until the end.
    ghost: Raw,
    /// X's id of GHOST.
    id: PeerId,
    /// X's application events.
    apps: Receiver<AppRecord>,
    /// What Y's `^good (.*)$` gets.
    at_y: Receiver<String>,
}

/// The [`Ghost`] fixture in namespace `n` (a failure without namespaces).
fn ghost_fixture(n: u32) -> Ghost {
    ghost_fixture_with(n, None)
}

/// [`ghost_fixture`] with GHOST's receive buffer of `rcvbuf` bytes.
fn ghost_fixture_with(n: u32, rcvbuf: Option<usize>) -> Ghost {
    let ns = Netns::create(n)
        .unwrap_or_else(|e| panic!("cannot create a network namespace ({e}): this test needs root and iproute2"));
    let x = agent("X", None);
    x.set_liveness(Some(LIVENESS));
    let x_apps = app_events(&x);
    let y = agent("Y", None);
    let (tx, at_y) = mpsc::channel();
    y.bind(b"^good (.*)$", move |_, _, args| {
        let _ = tx.send(String::from_utf8_lossy(args[0]).into_owned());
    });
    let port = bus_port();
    let x = Running::start(x, port);
    let y = Running::start(y, port);
    next_app_event(&x_apps, AppEvent::Connected);
    let mut ghost = Raw::new(ns.connect(x.port(), rcvbuf));
    ghost.read_handshake();
    ghost.send(b"6 1\x02GHOST\n1 0\x02^ghost (.*)$\n5 0\x02\n");
    ghost.ping_pong(1);
    let (id, name) = next_app_event(&x_apps, AppEvent::Connected);
    assert_eq!(name, b"GHOST");
    assert_eq!(x.peer_addr(id).map(|a| a.ip().to_string()), Some(ns.peer_ip.clone()));
    Ghost { ns, x, _y: y, ghost, id, apps: x_apps, at_y }
}

impl Ghost {
    /// GHOST's host vanishes (its link is cut); returns when.
    fn vanish(&self) -> Instant {
        self.ns.vanish();
        Instant::now()
    }

    /// Waits for GHOST's Disconnected, which must come within the documented
    /// detection time (plus [`SLACK`]) since `since`; returns how long it took.
    #[track_caller]
    fn detected_in_time(&self, since: Instant) -> Duration {
        let took = disconnected_after(&self.apps, self.id, since);
        eprintln!("vanished peer detected after {took:?}");
        assert!(
            took <= LIVENESS.detection_time() + SLACK,
            "detected after {took:?}, documented {:?}",
            LIVENESS.detection_time()
        );
        took
    }

    /// Y, the good peer, still gets X's `good WORD`.
    #[track_caller]
    fn good_served(&self, word: &str) {
        assert_eq!(self.x.send(format!("good {word}").as_bytes()), Ok(1));
        assert_eq!(recv(&self.at_y, "Y's message"), word);
    }
}

/// Waits for GHOST's Disconnected; returns how long it took.
fn disconnected_after(apps: &Receiver<AppRecord>, ghost: PeerId, since: Instant) -> Duration {
    let deadline = since + LIVENESS.detection_time() + SLACK + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match apps.recv_timeout(left) {
            Ok((p, _, AppEvent::Disconnected)) if p == ghost => return since.elapsed(),
            Ok(_) => {}
            Err(_) => panic!("no Disconnected for the vanished peer after {:?}", since.elapsed()),
        }
    }
}

#[test]
fn vanished_idle_peer_is_detected_by_keepalive() {
    let g = ghost_fixture(0);
    let t0 = g.vanish();
    let took = g.detected_in_time(t0);
    assert!(took >= LIVENESS.idle, "detected after {took:?}: too soon for keepalive");
    // The good peer is served throughout.
    g.good_served("after");
}

#[test]
fn vanished_peer_with_unacknowledged_data_is_detected() {
    let g = ghost_fixture(1);
    let t0 = g.vanish();
    // Data into the black hole: never acknowledged.
    for i in 0..5 {
        assert_eq!(g.x.send(format!("ghost {i}").as_bytes()), Ok(1));
        g.good_served(&i.to_string());
        thread::sleep(Duration::from_millis(100));
    }
    let took = g.detected_in_time(t0);
    assert!(took >= Duration::from_secs(1), "detected after {took:?}: too soon for a timeout");
    assert_eq!(g.x.send(b"ghost gone"), Ok(0), "the vanished peer's subscription is gone");
    g.good_served("after");
}

#[test]
fn shut_window_is_slow_not_dead_until_the_host_vanishes() {
    // GHOST (a small receive buffer) stops reading: its window shuts, its kernel
    // answers X's window probes. Kept for three detection times (TCP_USER_TIMEOUT
    // would end it after one), then its link is cut: gone within the detection time.
    let mut g = ghost_fixture_with(2, Some(4096));
    let (id, apps) = (g.id, &g.apps);
    let chunk = format!("ghost {}", "g".repeat(16 << 10));
    let mut sent = 0;
    while g.x.peer_name(id).is_some() && sent < 400 {
        assert_eq!(g.x.send(chunk.as_bytes()), Ok(1));
        sent += 1;
    }
    let (p, _) = next_app_event(apps, AppEvent::Congestion);
    assert_eq!(p, id, "the window shut");
    let kept = 3 * LIVENESS.detection_time();
    let until = Instant::now() + kept;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        if let Ok((p, _, e)) = apps.recv_timeout(left) {
            assert!(!(p == id && e == AppEvent::Disconnected), "a live peer with a shut window was dropped");
        }
    }
    g.good_served("still");
    // GHOST reads a little: what it reads is X's lines, whole.
    let line = g.ghost.read_line();
    assert_eq!(line, format!("2 0\x02{}\x03\n", &chunk[6..]).into_bytes());
    let t0 = g.vanish();
    eprintln!("shut window kept {kept:?}");
    g.detected_in_time(t0);
}

/// The liveness default docs/LIMITS.md documents is the code's.
#[test]
fn documented_liveness_default() {
    let l = Liveness::default();
    assert_eq!((l.idle, l.interval, l.retries), (Duration::from_secs(10), Duration::from_secs(5), 3));
    assert_eq!(l.detection_time(), Duration::from_secs(25));
}

/// A burst of small messages from a thread outside the loop (each handed to the
/// loop, which writes them in batches) to a subscriber that stops reading: the
/// socket fills up, Congestion is reported once, the queue fills to its cap, and
/// once the subscriber reads again every line not dropped arrives, whole and in
/// order (none is left in the queue without a writer), then Decongestion.
#[test]
fn burst_of_small_messages_to_a_subscriber_that_stops_reading() {
    const SMALL: usize = 400_000;
    // X delivers its events in order: once SLOW's `sync` reached X, every event
    // of the sends before it (FifoFull...) was delivered.
    let (x, log, synced) = capped_x();
    let port = bus_port();
    let x = Running::start(x, port);
    let (mut slow, slow_id) = slow_subscriber(&x, "^m(.*)");

    for i in 0..SMALL {
        assert_eq!(x.send(format!("m{i:07}").as_bytes()), Ok(1));
    }
    slow.send(b"2 0\x02\n");
    recv(&synced, "SLOW's sync");
    assert_eq!(count(&log, slow_id, AppEvent::Congestion), 1);
    let dropped = count(&log, slow_id, AppEvent::FifoFull);
    assert!(dropped > 0, "the queue never filled up");

    let mut reader = reader(&slow);
    let mut last = None;
    let mut delivered = 0;
    while delivered + dropped < SMALL {
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line).expect("a line");
        assert_eq!((line.len(), &line[..4], &line[11..]), (13, &b"2 0\x02"[..], &b"\x03\n"[..]), "{}", show(&line));
        let seq: usize = std::str::from_utf8(&line[4..11]).expect("digits").parse().expect("a number");
        assert!(last.is_none_or(|l| seq > l), "out of order: {seq} after {last:?}");
        last = Some(seq);
        delivered += 1;
    }
    wait_until("Decongestion", || count(&log, slow_id, AppEvent::Decongestion) == 1);
    assert_eq!(count(&log, slow_id, AppEvent::Congestion), 1);
}
