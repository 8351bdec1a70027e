//! A real agent (a `Bus` with its loop on a thread) driven over loopback by a raw
//! TCP/UDP peer written here: exact bytes of the §11 transcripts.

use ivy_testkit as common;

use common::*;
use ivy::{AppEvent, BindEvent, Bus, PeerId};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// What the agent under test reports, in order, on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    App(AppEvent, Vec<u8>),
    Bind(BindEvent, i32, Vec<u8>),
    /// (our binding id, captured args)
    Msg(i32, Vec<Vec<u8>>),
    /// (peer name, id, text)
    Direct(Vec<u8>, i32, Vec<u8>),
    /// (peer name, id)
    Die(Vec<u8>, i32),
}

fn app(event: AppEvent, name: &str) -> Ev {
    Ev::App(event, name.as_bytes().to_vec())
}

/// The agent "CTEST" of §11: binds `^first (.*)`, `second`, `(a)(b)?` in that order
/// (ids 0, 1, 2), ready message `CTEST Ready`.
struct Ctest {
    run: Running,
    events: Receiver<Ev>,
    peer_of_event: Receiver<PeerId>,
    bus_port: u16,
}

const CTEST_BINDINGS: [(i32, &str); 3] = [(0, "^first (.*)"), (1, "second"), (2, "(a)(b)?")];

fn ctest() -> Ctest {
    let bus = agent("CTEST", Some("CTEST Ready"));
    let (tx, events) = mpsc::channel();
    let (ptx, peer_of_event) = mpsc::channel();
    for (want, re) in CTEST_BINDINGS {
        let tx = tx.clone();
        let id = bus.bind(re.as_bytes(), move |_, _, args| {
            let _ = tx.send(Ev::Msg(want, owned(args)));
        });
        assert_eq!(id.id(), want);
    }
    {
        let tx = tx.clone();
        bus.on_application(move |bus, peer, event| {
            let _ = tx.send(Ev::App(event, bus.peer_name(peer).unwrap_or_default()));
            let _ = ptx.send(peer);
        });
    }
    {
        let tx = tx.clone();
        bus.on_bind_change(move |_, _, id, re, event| {
            let _ = tx.send(Ev::Bind(event, id, re.to_vec()));
        });
    }
    {
        let tx = tx.clone();
        bus.on_direct(move |bus, peer, id, text| {
            let _ = tx.send(Ev::Direct(bus.peer_name(peer).unwrap_or_default(), id, text.to_vec()));
        });
    }
    bus.on_die(move |bus, peer, id| {
        let _ = tx.send(Ev::Die(bus.peer_name(peer).unwrap_or_default(), id));
    });
    let bus_port = bus_port();
    let run = Running::start(bus, bus_port);
    Ctest { run, events, peer_of_event, bus_port }
}

impl Ctest {
    fn handshake(&self) -> Vec<u8> {
        handshake(self.run.port(), "CTEST", &CTEST_BINDINGS)
    }

    #[track_caller]
    fn next(&self) -> Ev {
        recv(&self.events, "an event of the agent")
    }

    /// A raw peer found through its hello; the agent's handshake is checked.
    #[track_caller]
    fn raw_by_hello(&self) -> Raw {
        let l = RawListener::new();
        l.hello(self.bus_port, "rawid", "RAW");
        let mut raw = l.accept();
        raw.expect(&self.handshake());
        raw
    }

    /// A raw peer through hello, then RAW's handshake `subs` (id, regexp); waits for
    /// Connected and returns RAW's PeerId. Consumes the Bind and Connected events.
    #[track_caller]
    fn raw_connected(&self, subs: &[(i32, &str)]) -> (Raw, PeerId) {
        let mut raw = self.raw_by_hello();
        let mut hs = b"6 9999\x02RAW\n".to_vec();
        for (id, re) in subs {
            hs.extend_from_slice(format!("1 {id}\x02{re}\n").as_bytes());
        }
        hs.extend_from_slice(b"5 0\x02\n");
        raw.send(&hs);
        for (id, re) in subs {
            assert_eq!(self.next(), Ev::Bind(BindEvent::Added, *id, re.as_bytes().to_vec()));
        }
        assert_eq!(self.next(), app(AppEvent::Connected, "RAW"));
        let peer = recv(&self.peer_of_event, "the Connected peer");
        (raw, peer)
    }

    /// RAW's connection ends (EOF); the agent reports RAW gone and lists no peer.
    #[track_caller]
    fn expect_gone(&self, raw: &mut Raw) {
        raw.expect_eof();
        assert_eq!(self.next(), app(AppEvent::Disconnected, "RAW"));
        wait_peers(&self.run, 0);
    }
}

/// [`ctest`] with RAW connected through its hello, subscribed to nothing.
#[track_caller]
fn ctest_with_raw() -> (Ctest, Raw, PeerId) {
    let ct = ctest();
    let (raw, peer) = ct.raw_connected(&[]);
    (ct, raw, peer)
}

/// §11 case 5, 6 and 8: handshake bytes, ready message to RAW only, event order,
/// second EndRegexp.
#[test]
fn handshake_then_ready_message() {
    let ct = ctest();
    let l = RawListener::new();
    l.hello(ct.bus_port, "rawid", "RAW");
    let mut raw = l.accept();
    let want = format!("6 {}\x02CTEST\n1 2\x02(a)(b)?\n1 1\x02second\n1 0\x02^first (.*)\n5 0\x02\n", ct.run.port());
    raw.expect(want.as_bytes());
    raw.send(b"6 9999\x02RAW\n1 8\x02(.*)\n5 0\x02\n");
    raw.expect(b"2 8\x02CTEST Ready\x03\n");
    assert_eq!(ct.next(), Ev::Bind(BindEvent::Added, 8, b"(.*)".to_vec()));
    assert_eq!(ct.next(), app(AppEvent::Connected, "RAW"));
    raw.expect_quiet(100);

    // A second EndRegexp: Connected again, no second ready message.
    raw.send(b"5 0\x02\n");
    assert_eq!(ct.next(), app(AppEvent::Connected, "RAW"));
    raw.expect_quiet(150);

    let peers = ct.run.peers();
    assert_eq!(peers.len(), 1);
    assert_eq!(ct.run.peer_name(peers[0]).as_deref(), Some(&b"RAW"[..]));
    assert_eq!(ct.run.peer_regexps(peers[0]), Some(vec![b"(.*)".to_vec()]));
    assert_eq!(ct.run.peer_by_name(b"RAW"), Some(peers[0]));
}

/// §11 case 11: three subscriptions match, in subscription order, return 3.
#[test]
fn routing_three_matches() {
    let ct = ctest();
    let mut raw = ct.raw_by_hello();
    raw.send(b"6 9999\x02RAW\n1 5\x02^hello (.*)\n1 7\x02hello\n1 8\x02(.*)\n5 0\x02\n");
    raw.expect(b"2 8\x02CTEST Ready\x03\n");
    assert_eq!(ct.run.send(b"hello world"), Ok(3));
    raw.expect(b"2 5\x02world\x03\n2 7\x02\n2 8\x02hello world\x03\n");
    // Nothing matches: nothing sent, count 0.
    raw.send(b"4 8\x02\n");
    raw.ping_pong(1);
    assert_eq!(ct.run.send(b"goodbye"), Ok(0));
    raw.expect_quiet(100);
}

/// §11 case 12, 13, 16, 17: unanchored matching, optional groups, empty message, ETX.
#[test]
fn routing_captures() {
    let ct = ctest();
    let (mut raw, _) = ct.raw_connected(&[(0, "world"), (1, "^a(b)?(c)?(d)?"), (2, "^e=(.*)$")]);
    assert_eq!(ct.run.send(b"hello world"), Ok(1));
    raw.expect(b"2 0\x02\n");
    for (msg, want) in [
        (&b"a"[..], &b"2 1\x02\n"[..]),
        (b"ab", b"2 1\x02b\x03\n"),
        (b"ac", b"2 1\x02\x03c\x03\n"),
        (b"ad", b"2 1\x02\x03\x03d\x03\n"),
        (b"abcd", b"2 1\x02b\x03c\x03d\x03\n"),
        (b"e=", b"2 2\x02\x03\n"),
        (b"e=a\x03b", b"2 2\x02a\x03b\x03\n"),
        (b"e=caf\xc3\xa9\xff\x01", b"2 2\x02caf\xc3\xa9\xff\x01\x03\n"),
    ] {
        assert_eq!(ct.run.send(msg), Ok(1), "send {}", show(msg));
        raw.expect(want);
    }
    raw.expect_quiet(50);
}

/// §11 case 22 and 24: Msg splitting and header leniency on the receiving agent.
#[test]
fn receiving_msg_splitting() {
    let (ct, mut raw, _) = ctest_with_raw();
    raw.send(b"2 0\x02a\x03\x03b\x03\n");
    assert_eq!(ct.next(), Ev::Msg(0, strs(&["a", "", "b"])));
    raw.send(b"2 0\x02a\x03b\n");
    assert_eq!(ct.next(), Ev::Msg(0, strs(&["a", "b"])));
    raw.send(b"2 1\x02\n");
    assert_eq!(ct.next(), Ev::Msg(1, vec![]));
    raw.send(b"2 2\x02\x03\n");
    assert_eq!(ct.next(), Ev::Msg(2, strs(&[""])));
    raw.send(b"2 0\x02abc\x03\r\n");
    assert_eq!(ct.next(), Ev::Msg(0, strs(&["abc", "\r"])));
    raw.send(b"  2   0  junk\x02spaced\x03\n2 0x\x02hexish\x03\n");
    assert_eq!(ct.next(), Ev::Msg(0, strs(&["spaced"])));
    assert_eq!(ct.next(), Ev::Msg(0, strs(&["hexish"])));
    // §11 case 23 and 26: unknown Msg id, unknown type: ignored, connection kept.
    raw.send(b"2 99\x02lost\x03\n42 1\x02x\n");
    raw.ping_pong(3);
    assert_no_recv(&ct.events, 50, "event");
}

/// §11 case 25: an empty line gets the bad-format reply, Bye, close, Disconnected.
#[test]
fn bad_format_empty_line() {
    let ct = ctest();
    let (mut raw, peer) = ct.raw_connected(&[(8, "(.*)")]);
    raw.expect(b"2 8\x02CTEST Ready\x03\n");
    raw.send(b"\n");
    raw.expect(BAD_FORMAT);
    ct.expect_gone(&mut raw);
    assert_eq!(recv(&ct.peer_of_event, "Disconnected peer"), peer);
    // The agent has forgotten RAW's subscriptions.
    assert_eq!(ct.run.send(b"anything"), Ok(0));
}

/// §11 case 25: a line without STX.
#[test]
fn bad_format_no_stx() {
    let (ct, mut raw, _) = ctest_with_raw();
    raw.send(b"2 1 foo\n");
    raw.expect(BAD_FORMAT);
    ct.expect_gone(&mut raw);
}

/// §11 case 27: lines after a Bye in the same segment are still processed.
#[test]
fn bye_then_more_lines() {
    let (ct, mut raw, _) = ctest_with_raw();
    raw.send(b"0 0\x02\n2 0\x02after bye\x03\n9 5\x02\n");
    raw.expect(b"10 5\x02\n");
    assert_eq!(ct.next(), Ev::Msg(0, strs(&["after bye"])));
    ct.expect_gone(&mut raw);
}

/// §11 case 34: Ping is answered with Pong, echoing the id.
#[test]
fn ping_gets_pong() {
    let (_ct, mut raw, _) = ctest_with_raw();
    raw.ping_pong(42);
    raw.send(b"9 -5\x02junk\n");
    raw.expect(b"10 -5\x02\n");
    raw.expect_quiet(50);
}

/// §11 case 35: our pings count from 1; a stale Pong gives a negative round trip.
#[test]
fn ping_from_agent() {
    let ct = ctest();
    let (tx, pongs) = mpsc::channel();
    ct.run.on_pong(move |_, _, micros| {
        let _ = tx.send(micros);
    });
    let (mut raw, peer) = ct.raw_connected(&[]);
    assert!(ct.run.ping(peer).is_ok());
    assert!(ct.run.ping(peer).is_ok());
    raw.expect(b"9 1\x02\n9 2\x02\n");
    raw.send(b"10 1\x02\n");
    assert!(recv(&pongs, "pong 1") < 0, "an answer to an older ping reads negative");
    raw.send(b"10 2\x02\n");
    raw.ping_pong(77);
    assert_no_recv(&pongs, 50, "pong");
    assert!(ct.run.ping(peer).is_ok());
    raw.expect(b"9 3\x02\n");
    raw.send(b"10 3\x02\n");
    assert!(recv(&pongs, "pong 3") > 0, "the answer to the last ping reads positive");
}

/// §11 case 36 and 37: direct messages both ways, error out.
#[test]
fn direct_both_ways() {
    let (ct, mut raw, peer) = ctest_with_raw();
    raw.send(b"7 12\x02hello\x03there\x03\n");
    assert_eq!(ct.next(), Ev::Direct(b"RAW".to_vec(), 12, b"hello\x03there\x03".to_vec()));
    assert!(ct.run.send_direct(peer, 33, b"hi\x03there").is_ok());
    raw.expect(b"7 33\x02hi\x03there\n");
    assert!(ct.run.send_error(peer, 44, b"oops").is_ok());
    raw.expect(b"3 44\x02oops\n");
    // A received Error is only logged.
    raw.send(b"3 5\x02some error\n");
    raw.ping_pong(1);
    assert_no_recv(&ct.events, 50, "event");
    // An LF would break framing: refused, nothing sent.
    assert!(ct.run.send_direct(peer, 1, b"a\nb").is_err());
    raw.expect_quiet(50);
}

/// §11 case 38: Die: the callback, Bye to the peer, close, and `run()` returns.
/// Our own leaving tells the application of no disconnection (as ivy-c).
#[test]
fn die_from_peer() {
    let (mut ct, mut raw, _) = ctest_with_raw();
    raw.send(b"8 7\x02whatever\n");
    assert_eq!(ct.next(), Ev::Die(b"RAW".to_vec(), 7));
    raw.expect(b"0 0\x02\n");
    raw.expect_eof();
    ct.run.wait_finished();
    assert_no_recv(&ct.events, 100, "event after our own leaving");
}

/// §11 case 38, the other way: our Die request.
#[test]
fn die_to_peer() {
    let (ct, mut raw, peer) = ctest_with_raw();
    assert!(ct.run.send_die(peer, 0, b"").is_ok());
    raw.expect(b"8 0\x02\n");
}

/// §11 case 39 (with DESIGN §5's Bye): `stop()` ends `run()`, peers see the agent leave.
#[test]
fn stop_closes_connections() {
    let (mut ct, mut raw, _) = ctest_with_raw();
    ct.run.stop_and_join();
    raw.expect(b"0 0\x02\n");
    raw.expect_eof();
    assert_no_recv(&ct.events, 100, "event after our own leaving");
    assert!(ct.run.peers().is_empty(), "the peers we left are forgotten");
}

/// §11 case 4 and 10: a peer connecting to the agent's TCP port gets the handshake at
/// once; its name is " host:port" until its StartRegexp.
#[test]
fn accept_path() {
    let ct = ctest();
    let mut raw = Raw::connect(ct.run.port());
    raw.expect(&ct.handshake());
    let peers = ct.run.peers();
    assert_eq!(peers.len(), 1);
    let want = format!(" 127.0.0.1:{}", raw.local_port());
    assert_eq!(ct.run.peer_name(peers[0]), Some(want.into_bytes()));
    raw.send(b"6 9999\x02RAW\n5 0\x02\n");
    assert_eq!(ct.next(), app(AppEvent::Connected, "RAW"));
    assert_eq!(ct.run.peer_name(peers[0]).as_deref(), Some(&b"RAW"[..]));
    // No subscription: no ready message.
    raw.expect_quiet(100);
}

/// §11 case 3: a version-2 hello is ignored; the agent still answers a good one.
#[test]
fn hello_bad_version_ignored() {
    let ct = ctest();
    let l = RawListener::new();
    send_datagram(ct.bus_port, format!("2 {} rawid RAW\n", l.port).as_bytes());
    assert!(l.accept_within(Duration::from_millis(300)).is_none(), "connected on a version-2 hello");
    l.hello(ct.bus_port, "rawid", "RAW");
    let mut raw = l.accept();
    raw.expect(&ct.handshake());
}

/// §11 case 3: two hello lines in one datagram give two connections, named after
/// their hellos until StartRegexp.
#[test]
fn hello_two_lines_two_connections() {
    let ct = ctest();
    let (a, b) = (RawListener::new(), RawListener::new());
    send_datagram(ct.bus_port, format!("3 {} ida A\n3 {} idb B\n", a.port, b.port).as_bytes());
    let mut ra = a.accept();
    let mut rb = b.accept();
    ra.expect(&ct.handshake());
    rb.expect(&ct.handshake());
    wait_peers(&ct.run, 2);
    assert_eq!(peer_names(&ct.run), vec![b"A".to_vec(), b"B".to_vec()]);
}

/// §11 case 3: a 2-field hello connects with an empty name; tabs separate fields;
/// our own id is ignored; a repeated hello does not open a second connection.
#[test]
fn hello_variants() {
    let ct = ctest();
    let own = ct.run.app_id();
    let l = RawListener::new();
    let mut hello = format!("3 {} ", l.port).into_bytes();
    hello.extend_from_slice(&own);
    hello.extend_from_slice(b" CTEST\n");
    send_datagram(ct.bus_port, &hello);
    assert!(l.accept_within(Duration::from_millis(300)).is_none(), "connected to a hello with our own id");

    send_datagram(ct.bus_port, format!("3 {}\n", l.port).as_bytes());
    let mut r1 = l.accept();
    r1.expect(&ct.handshake());
    wait_peers(&ct.run, 1);
    assert_eq!(peer_names(&ct.run), vec![Vec::new()]);
    // The same listener announced again: already connected, no second link.
    send_datagram(ct.bus_port, format!("3 {} again AGAIN\n", l.port).as_bytes());
    assert!(l.accept_within(Duration::from_millis(300)).is_none(), "duplicate connection");

    let t = RawListener::new();
    send_datagram(ct.bus_port, format!("3\t{}\ttabid\tTab Name\n", t.port).as_bytes());
    let mut r2 = t.accept();
    r2.expect(&ct.handshake());
    wait_peers(&ct.run, 2);
    assert_eq!(peer_names(&ct.run), vec![Vec::new(), b"Tab Name".to_vec()]);
}

/// Own subscriptions while connected (§11 case 32): bind, change, unbind on the wire.
#[test]
fn own_subscriptions_on_the_wire() {
    let (ct, mut raw, _) = ctest_with_raw();
    let id = ct.run.bind(b"^new (.*)", |_: &Bus, _, _| {});
    assert_eq!(id.id(), 3);
    raw.expect(b"1 3\x02^new (.*)\n");
    assert!(ct.run.change(id, b"^newer (.*)").is_ok());
    raw.expect(b"1 3\x02^newer (.*)\n");
    assert!(ct.run.unbind(id).is_ok());
    raw.expect(b"4 3\x02\n");
    let id2 = ct.run.bind(b"^v=(?I5#5i)$", |_: &Bus, _, _| {});
    assert_eq!(id2.id(), 4);
    raw.expect(b"1 4\x02^v=(?:5)(?![\\d.])$\n");
}
