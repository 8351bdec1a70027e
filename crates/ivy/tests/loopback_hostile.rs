//! Hostile input against a running agent X that also serves a well-behaved agent Y:
//! every malformed form of §2/§3 and every limit gets the documented answer (the
//! bad-format reply, Bye and close; or the line is ignored) and Y keeps being served.

use ivy_testkit as common;

use common::*;
use ivy::{AppEvent, BindEvent, Limits};
use std::cell::Cell;
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

const MAX_LINE: usize = 256;
const MAX_ARGS: usize = 8;
const MAX_REGEXPS: usize = 4;
const MAX_REGEXP_LEN: usize = 64;

/// X's bindings: 0 for Y's traffic, 1 for the raw peers' Msg lines.
const X_BINDINGS: [(i32, &str); 2] = [(0, "^fromy (\\d+)$"), (1, "^raw (.*)$")];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    App(AppEvent, Vec<u8>),
    Bind(BindEvent, i32, Vec<u8>),
    Direct(i32, Vec<u8>),
}

struct Fix {
    x: Running,
    y: Running,
    bus_port: u16,
    /// What X's binding 0 receives (from Y).
    from_y: Receiver<Vec<Vec<u8>>>,
    /// What X's binding 1 receives (from raw peers).
    raw_msgs: Receiver<Vec<Vec<u8>>>,
    /// What Y's `^good (\d+)$` receives (from X).
    goods: Receiver<Vec<Vec<u8>>>,
    /// X's application, bind and direct events.
    events: Receiver<Ev>,
    round: Cell<u32>,
}

fn fix() -> Fix {
    let x = agent("X", None);
    x.set_limits(Limits {
        max_line: MAX_LINE,
        max_args: MAX_ARGS,
        max_regexps_per_peer: MAX_REGEXPS,
        max_regexp_len: MAX_REGEXP_LEN,
        ..Limits::default()
    });
    let from_y = forward(&x, X_BINDINGS[0].1);
    let raw_msgs = forward(&x, X_BINDINGS[1].1);
    let (etx, events) = mpsc::channel();
    let e = etx.clone();
    x.on_application(move |bus, peer, event| {
        let _ = e.send(Ev::App(event, bus.peer_name(peer).unwrap_or_default()));
    });
    let e = etx.clone();
    x.on_bind_change(move |_, _, id, re, event| {
        let _ = e.send(Ev::Bind(event, id, re.to_vec()));
    });
    x.on_direct(move |_, _, id, text| {
        let _ = etx.send(Ev::Direct(id, text.to_vec()));
    });

    let y = agent("Y", None);
    let goods = forward(&y, "^good (\\d+)$");
    let Connected { x, y, port: bus_port, .. } = start_connected(x, y);
    let f = Fix { x, y, bus_port, from_y, raw_msgs, goods, events, round: Cell::new(0) };
    // X has Y's subscription once Y's handshake is processed.
    assert_eq!(f.next_event(), Ev::Bind(BindEvent::Added, 0, b"^good (\\d+)$".to_vec()));
    assert_eq!(f.next_event(), Ev::App(AppEvent::Connected, b"Y".to_vec()));
    f.served();
    f
}

impl Fix {
    #[track_caller]
    fn next_event(&self) -> Ev {
        recv(&self.events, "an event of X")
    }

    /// Y and X still exchange messages both ways, nothing lost, nothing extra; X's
    /// only remaining peer is Y.
    #[track_caller]
    fn served(&self) {
        self.served_with_peers(1);
    }

    /// [`Fix::served`] while X has `peers` peers (Y and raw peers still connected).
    #[track_caller]
    fn served_with_peers(&self, peers: usize) {
        let k = self.round.get() + 1;
        self.round.set(k);
        wait_peers(&self.x, peers);
        assert_eq!(self.x.send(format!("good {k}").as_bytes()), Ok(1));
        assert_eq!(recv(&self.goods, "Y's message from X"), strs(&[&k.to_string()]));
        assert_eq!(self.y.send(format!("fromy {k}").as_bytes()), Ok(1));
        assert_eq!(recv(&self.from_y, "X's message from Y"), strs(&[&k.to_string()]));
        assert_no_recv(&self.goods, 5, "extra message at Y");
    }

    /// A raw peer connected to X's TCP port, X's handshake checked.
    #[track_caller]
    fn raw(&self) -> Raw {
        let mut raw = Raw::connect(self.x.port());
        raw.expect(&handshake(self.x.port(), "X", &X_BINDINGS));
        raw
    }

    /// Sends `line` from a fresh raw peer and checks X's bad-format answer and close.
    #[track_caller]
    fn rejects(&self, line: &[u8]) {
        let mut raw = self.raw();
        raw.send(line);
        assert_eq!(self.cut(&mut raw), raw_name(&raw));
        self.served();
    }

    /// A fresh raw peer sends `line`, within the limits: X takes it (the ping
    /// after it is answered).
    #[track_caller]
    fn accepts(&self, line: &[u8]) -> Raw {
        let mut raw = self.raw();
        raw.send(line);
        raw.ping_pong(1);
        raw
    }

    /// `raw` sends `line`, past a limit: X cuts it, and still serves Y.
    #[track_caller]
    fn cuts(&self, mut raw: Raw, line: &[u8]) {
        raw.send(line);
        self.cut(&mut raw);
        self.served();
    }

    /// X answers `raw` with the bad-format reply and closes it; returns the name
    /// of the peer X reports gone.
    #[track_caller]
    fn cut(&self, raw: &mut Raw) -> Vec<u8> {
        raw.expect(BAD_FORMAT);
        raw.expect_eof();
        self.next_disconnected()
    }

    /// Skips X's events until a Disconnected; returns the peer's name.
    #[track_caller]
    fn next_disconnected(&self) -> Vec<u8> {
        loop {
            if let Ev::App(AppEvent::Disconnected, name) = self.next_event() {
                return name;
            }
        }
    }
}

/// X's name for a raw peer that sent no StartRegexp.
fn raw_name(raw: &Raw) -> Vec<u8> {
    format!(" 127.0.0.1:{}", raw.local_port()).into_bytes()
}

#[test]
fn malformed_lines_get_bad_format_reply() {
    let f = fix();
    let more: [&[u8]; 4] = [b"2 1 foo\n", b"x 1\x02y\n", b"\xff\xfe 0\x02x\n", b"2 \xff\x02x\n"];
    for line in MALFORMED_LINES.iter().chain(&more) {
        f.rejects(line);
    }
}

#[test]
fn lines_after_a_bad_one_are_ignored() {
    let f = fix();
    let mut raw = f.raw();
    raw.send(b"6 1\x02R\n5 0\x02\nxx\n9 1\x02\n2 1\x02raw never\x03\n");
    assert_eq!(f.next_event(), Ev::App(AppEvent::Connected, b"R".to_vec()));
    assert_eq!(f.cut(&mut raw), b"R");
    assert_no_recv(&f.raw_msgs, 20, "Msg after a bad line");
    f.served();
}

#[test]
fn line_length_limit() {
    let f = fix();
    // Exactly max_line bytes (LF excluded): accepted.
    let arg = "a".repeat(MAX_LINE - 5);
    let line = format!("2 1\x02{arg}\x03\n");
    assert_eq!(line.len(), MAX_LINE + 1);
    let raw = f.accepts(line.as_bytes());
    assert_eq!(recv(&f.raw_msgs, "the longest line"), strs(&[&arg]));
    drop(raw);
    f.next_disconnected();
    f.served();
    // One byte more: rejected.
    f.rejects(format!("2 1\x02{arg}a\x03\n").as_bytes());
    // More than max_line bytes and no LF at all: rejected without waiting for the LF.
    f.rejects(&vec![b'z'; MAX_LINE + 10]);
    // A long line split over several writes (the last one crosses the limit).
    let mut raw = f.raw();
    for _ in 0..3 {
        raw.send(&[b'q'; 100]);
        std::thread::sleep(Duration::from_millis(2));
    }
    raw.expect(BAD_FORMAT);
    raw.expect_closed();
    f.next_disconnected();
    f.served();
    assert_no_recv(&f.raw_msgs, 10, "message");
}

#[test]
fn regexps_per_peer_limit() {
    let f = fix();
    let mut raw = f.accepts(&handshake_subscribing(9999, "R", numbered_regexps(MAX_REGEXPS)));
    for (id, re) in numbered_regexps(MAX_REGEXPS) {
        assert_eq!(f.next_event(), Ev::Bind(BindEvent::Added, id, re.into_bytes()));
    }
    assert_eq!(f.next_event(), Ev::App(AppEvent::Connected, b"R".to_vec()));
    assert_eq!(f.x.send(b"r2 x"), Ok(1));
    raw.expect(b"2 2\x02x\x03\n");
    // Re-using an id replaces (DESIGN §5): still within the limit.
    raw.send(b"1 0\x02^other$\n");
    raw.ping_pong(2);
    assert_eq!(f.next_event(), Ev::Bind(BindEvent::Changed, 0, b"^other$".to_vec()));
    // One more id: over the limit.
    raw.send(b"1 99\x02^r99$\n");
    assert_eq!(f.cut(&mut raw), b"R");
    // The dropped peer's subscriptions are gone.
    assert_eq!(f.x.send(b"r2 x"), Ok(0));
    f.served();
}

#[test]
fn regexp_length_limit() {
    let f = fix();
    let longest = format!("^{}", "l".repeat(MAX_REGEXP_LEN - 1));
    let raw = f.accepts(format!("1 5\x02{longest}\n").as_bytes());
    assert_eq!(f.next_event(), Ev::Bind(BindEvent::Added, 5, longest.clone().into_bytes()));
    f.cuts(raw, format!("1 6\x02{longest}l\n").as_bytes());
}

#[test]
fn args_per_msg_limit() {
    let f = fix();
    let raw = f.accepts(format!("2 1\x02{}\n", "a\x03".repeat(MAX_ARGS)).as_bytes());
    assert_eq!(recv(&f.raw_msgs, "max_args arguments"), vec![b"a".to_vec(); MAX_ARGS]);
    f.cuts(raw, format!("2 1\x02{}\n", "a\x03".repeat(MAX_ARGS + 1)).as_bytes());
    assert_no_recv(&f.raw_msgs, 10, "message");
}

#[test]
fn args_limit_counts_a_last_field_without_etx() {
    // `a\x03b` is two fields (§2): MAX_ARGS ETX plus a final field is MAX_ARGS + 1
    // arguments, over the limit like any other such Msg.
    let f = fix();
    f.rejects(format!("2 1\x02{}last\n", "a\x03".repeat(MAX_ARGS)).as_bytes());
}

#[test]
fn invalid_utf8_everywhere() {
    let f = fix();
    // A hello with invalid UTF-8 in its id and name, to both agents (a unicast hello
    // would reach only one of the two sockets sharing the bus port, §1.3).
    let l = RawListener::new();
    let mut hello = format!("3 {} id", l.port).into_bytes();
    hello.extend_from_slice(b"\xff N\xffame\n");
    send_broadcast(f.bus_port, &hello);
    let (mut c1, mut c2) = (l.accept(), l.accept());
    let (h1, h2) = (c1.read_handshake(), c2.read_handshake());
    let x_hs = handshake(f.x.port(), "X", &X_BINDINGS);
    let y_hs = handshake(f.y.port(), "Y", &[(0, "^good (\\d+)$")]);
    let (mut raw, _from_y) = if h1 == x_hs { (c1, c2) } else { (c2, c1) };
    let mut hs = [h1, h2];
    hs.sort();
    let mut want = [x_hs, y_hs];
    want.sort();
    assert_eq!(hs, want, "the handshakes of X and Y");
    wait_until("X to list the peer", || f.x.peers().len() == 2);
    assert!(f.x.peer_by_name(b"N\xffame").is_some());
    wait_until("Y to list the peer", || f.y.peer_by_name(b"N\xffame").is_some());

    raw.send(b"6 9999\x02R\xffAW\n1 1\x02^\xe9t\xe9 (.*)$\n5 0\x02\n");
    assert_eq!(f.next_event(), Ev::Bind(BindEvent::Added, 1, b"^\xe9t\xe9 (.*)$".to_vec()));
    assert_eq!(f.next_event(), Ev::App(AppEvent::Connected, b"R\xffAW".to_vec()));
    let peer = f.x.peer_by_name(b"R\xffAW").expect("peer by its non-UTF-8 name");
    assert_eq!(f.x.peer_regexps(peer), Some(vec![b"^\xe9t\xe9 (.*)$".to_vec()]));

    assert_eq!(f.x.send(b"\xe9t\xe9 caf\xff\xfe"), Ok(1));
    raw.expect(b"2 1\x02caf\xff\xfe\x03\n");
    raw.send(b"2 1\x02\xff\x03\xc3\x28\x03\n");
    assert_eq!(recv(&f.raw_msgs, "non-UTF-8 args"), vec![b"\xff".to_vec(), b"\xc3\x28".to_vec()]);
    raw.send(b"7 5\x02\xff\xfe\n3 1\x02\xff\n42 1\x02\xff\n");
    assert_eq!(f.next_event(), Ev::Direct(5, b"\xff\xfe".to_vec()));
    raw.send(b"4 1\x02\xff\n");
    assert_eq!(f.next_event(), Ev::Bind(BindEvent::Removed, 1, b"\xff".to_vec()));
    assert!(f.x.send_direct(peer, 9, b"\x80\x81").is_ok());
    raw.expect(b"7 9\x02\x80\x81\n");
    raw.ping_pong(1);
    f.served_with_peers(2);
    assert_no_recv(&f.events, 10, "event");
}

#[test]
fn ignored_lines_keep_the_connection() {
    let f = fix();
    let mut raw = f.raw();
    // Unknown type, unknown Msg id, Error, DelRegexp of an unknown id, a Pong with no
    // ping, a Msg with no args: all ignored or logged; the connection stays.
    raw.send(b"42 1\x02x\n2 99\x02lost\x03\n3 1\x02err\n4 77\x02\n10 3\x02\n-1 -1\x02\n");
    raw.ping_pong(5);
    assert_no_recv(&f.events, 20, "event");
    assert_no_recv(&f.raw_msgs, 1, "message");
    f.served_with_peers(2);
    raw.ping_pong(6);
}

#[test]
fn line_split_at_every_byte() {
    let f = fix();
    let mut raw = f.raw();
    let input = b"6 9999\x02SPLIT\n1 3\x02^split (.*)$\n5 0\x02\n9 77\x02\n2 1\x02split\x03msg\x03\n7 4\x02dir\n";
    for b in input {
        raw.send(&[*b]);
        std::thread::sleep(Duration::from_micros(300));
    }
    raw.expect(b"10 77\x02\n");
    assert_eq!(f.next_event(), Ev::Bind(BindEvent::Added, 3, b"^split (.*)$".to_vec()));
    assert_eq!(f.next_event(), Ev::App(AppEvent::Connected, b"SPLIT".to_vec()));
    assert_eq!(recv(&f.raw_msgs, "split Msg"), strs(&["split", "msg"]));
    assert_eq!(f.next_event(), Ev::Direct(4, b"dir".to_vec()));
    assert_eq!(f.x.send(b"split it"), Ok(1));
    raw.expect(b"2 3\x02it\x03\n");
    // A bad line split at every byte is still bad.
    for b in b"2 1 nostx\n" {
        raw.send(&[*b]);
        std::thread::sleep(Duration::from_micros(300));
    }
    assert_eq!(f.cut(&mut raw), b"SPLIT");
    f.served();
}

#[test]
fn many_hostile_peers_at_once() {
    let f = fix();
    let hostile: Vec<Vec<u8>> = vec![
        b"garbage\n".to_vec(),
        vec![b'z'; MAX_LINE + 1],
        format!("2 1\x02{}\n", "a\x03".repeat(MAX_ARGS + 1)).into_bytes(),
        format!("1 1\x02{}\n", "r".repeat(MAX_REGEXP_LEN + 1)).into_bytes(),
        b"\n".to_vec(),
    ];
    let mut raws: Vec<Raw> = hostile.iter().map(|_| f.raw()).collect();
    for (raw, line) in raws.iter_mut().zip(&hostile) {
        raw.send(line);
    }
    for raw in &mut raws {
        f.cut(raw);
    }
    f.served();
}
