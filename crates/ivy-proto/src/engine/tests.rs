//! Golden transcripts of spec §11 against the sans-IO engine: bytes in, exact bytes
//! and events out. No sockets, no clock, no sleeps.

use super::*;
use crate::wire;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

const ZERO: Duration = Duration::ZERO;
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const BAD: &[u8] = b"3 3\x02bad format request expected 'type id ...'\n0 0\x02\n";

// ---------------------------------------------------------------------------------
// Harness

fn addr(port: u16) -> SocketAddr {
    SocketAddr::new(LOCALHOST, port)
}

/// The agent under test: "CTEST", listening on 7777.
fn engine_with(ready: Option<&[u8]>) -> Engine {
    let mut e = Engine::new(b"CTEST", ready);
    e.set_local(7777, b"1:2:7777");
    e
}

fn engine() -> Engine {
    engine_with(None)
}

/// The agent under test with `limits`.
fn engine_under(limits: Limits) -> Engine {
    let mut e = engine();
    e.set_limits(limits);
    e
}

/// The host whose hellos the tests send, from its bus port 2010.
const HELLO_HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9));

/// Where [`HELLO_HOST`]'s hellos come from.
fn hello_from() -> SocketAddr {
    SocketAddr::new(HELLO_HOST, 2010)
}

/// A port of [`HELLO_HOST`].
fn at(port: u16) -> SocketAddr {
    SocketAddr::new(HELLO_HOST, port)
}

/// An accepted connection from a distinct local port; our handshake is discarded.
fn raw_peer(e: &mut Engine) -> PeerId {
    let port = 40000 + e.peers().len() as u16;
    let p = e.handle_connected(addr(port), addr(7777), None);
    take_out(e, p);
    p
}

/// Everything queued for the peer, marked as written.
fn take_out(e: &mut Engine, p: PeerId) -> Vec<u8> {
    testing::drain_output(e, p)
}

#[track_caller]
fn expect_out(e: &mut Engine, p: PeerId, want: &[u8]) {
    let got = take_out(e, p);
    assert_eq!(got.escape_ascii().to_string(), want.escape_ascii().to_string());
}

use crate::testing::{self, actions, events, feed, notices};

fn app(peer: PeerId, event: AppEvent) -> Event {
    Event::App { peer, event }
}

fn bind_ev(peer: PeerId, id: i32, regexp: &[u8], event: BindEvent) -> Event {
    Event::Bind { peer, id, regexp: regexp.to_vec(), event }
}

fn msg_ev(peer: PeerId, binding: i32, params: &[u8]) -> Event {
    Event::Msg { peer, binding, params: params.to_vec() }
}

/// A connected RAW peer (announcing 9999) that subscribed `subs`; events and output cleared.
fn raw_with(e: &mut Engine, subs: &[(i32, &str)]) -> PeerId {
    let p = raw_peer(e);
    let mut hs = b"6 9999\x02RAW\n".to_vec();
    for (id, re) in subs {
        hs.extend_from_slice(format!("1 {id}\x02{re}\n").as_bytes());
    }
    hs.extend_from_slice(b"5 0\x02\n");
    feed(e, p, &hs);
    take_out(e, p);
    events(e);
    p
}

/// The engine of [`engine`] with a RAW peer that subscribed `subs`.
fn subscribed(subs: &[(i32, &str)]) -> (Engine, PeerId) {
    let mut e = engine();
    let p = raw_with(&mut e, subs);
    (e, p)
}

/// The engine, bound to `binding` (our binding 0), with a RAW peer that
/// subscribed `subs`.
fn bound(binding: &[u8], subs: &[(i32, &str)]) -> (Engine, PeerId) {
    let mut e = engine();
    e.bind(binding);
    let p = raw_with(&mut e, subs);
    (e, p)
}

/// We send `message`: `count` lines routed, `wire` queued for `p`.
#[track_caller]
fn expect_sent(e: &mut Engine, p: PeerId, message: &[u8], count: usize, wire: &[u8]) {
    assert_eq!(e.send_msg(message), Ok(count), "routed count of {}", message.escape_ascii());
    expect_out(e, p, wire);
}

/// `p` sends `input`; `reply` is what we queue for it in return.
#[track_caller]
fn expect_reply(e: &mut Engine, p: PeerId, input: &[u8], reply: &[u8]) {
    feed(e, p, input);
    expect_out(e, p, reply);
}

/// No event for the user, no action on sockets.
#[track_caller]
fn assert_quiet(e: &mut Engine) {
    assert!(events(e).is_empty());
    assert!(actions(e).is_empty());
}

/// Moves bytes between two engines' ends of one connection until both are quiet.
fn pump(a: &mut Engine, pa: PeerId, b: &mut Engine, pb: PeerId) {
    loop {
        let (ab, ba) = (take_out(a, pa), take_out(b, pb));
        if ab.is_empty() && ba.is_empty() {
            break;
        }
        feed(b, pb, &ab);
        feed(a, pa, &ba);
    }
}

/// An agent `name` listening on `port`, its app id `id<name>`.
fn named(name: &str, port: u16, ready: Option<&[u8]>) -> Engine {
    let mut e = Engine::new(name.as_bytes(), ready);
    e.set_local(port, format!("id{name}").as_bytes());
    e
}

/// `a` dialled `b` (listening on 8000) from port 50001; both handshakes went through.
fn linked(mut a: Engine, mut b: Engine) -> (Engine, PeerId, Engine, PeerId) {
    let pa = a.handle_connected(addr(8000), addr(50001), Some(b"B"));
    let pb = b.handle_connected(addr(50001), addr(8000), None);
    pump(&mut a, pa, &mut b, pb);
    (a, pa, b, pb)
}

/// Binds each of `regexps`, which get the ids 0, 1...
#[track_caller]
fn bind_all(e: &mut Engine, regexps: &[&[u8]]) {
    for (id, re) in (0..).zip(regexps) {
        assert_eq!(e.bind(re), BindingId(id));
    }
}

// ---------------------------------------------------------------------------------
// Handshake (§11 cases 5–9)

#[test]
fn case05_handshake_newest_binding_first() {
    let mut e = Engine::new(b"CTEST", None);
    e.set_local(38655, b"x");
    bind_all(&mut e, &[b"^first (.*)", b"second", b"(a)(b)?"]);
    let p = e.handle_connected(addr(9999), addr(40000), Some(b"RAW"));
    expect_out(&mut e, p, b"6 38655\x02CTEST\n1 2\x02(a)(b)?\n1 1\x02second\n1 0\x02^first (.*)\n5 0\x02\n");
    assert_eq!(e.peer(p).unwrap().name, b"RAW");
}

#[test]
fn case06_ready_only_to_that_peer_once() {
    let mut e = engine_with(Some(b"CTEST Ready"));
    let other = raw_peer(&mut e);
    feed(&mut e, other, b"6 9998\x02OTHER\n1 3\x02(.*)\n");
    take_out(&mut e, other);
    let p = raw_peer(&mut e);
    expect_reply(&mut e, p, b"6 9999\x02RAW\n1 8\x02(.*)\n5 0\x02\n", b"2 8\x02CTEST Ready\x03\n");
    expect_out(&mut e, other, b"");
    expect_reply(&mut e, p, b"5 0\x02\n", b"");
    let ev = events(&mut e);
    let connected = ev.iter().filter(|&x| *x == app(p, AppEvent::Connected)).count();
    assert_eq!(connected, 2);
}

#[test]
fn case07_empty_ready_is_sent_none_is_not() {
    let mut e = engine_with(Some(b""));
    let p = raw_with(&mut e, &[]);
    expect_reply(&mut e, p, b"1 0\x02(.*)\n", b"");
    let mut e = engine_with(Some(b""));
    let p = raw_peer(&mut e);
    expect_reply(&mut e, p, b"6 9999\x02RAW\n1 0\x02(.*)\n5 0\x02\n", b"2 0\x02\x03\n");

    let mut e = engine_with(None);
    let p = raw_peer(&mut e);
    expect_reply(&mut e, p, b"6 9999\x02RAW\n1 0\x02(.*)\n5 0\x02\n", b"");
}

#[test]
fn case08_add_bind_events_then_connected() {
    let mut e = engine();
    let p = raw_peer(&mut e);
    feed(&mut e, p, b"6 9999\x02RAW\n1 0\x02^a\n1 1\x02^b\n5 0\x02\n");
    assert_eq!(
        events(&mut e),
        vec![
            bind_ev(p, 0, b"^a", BindEvent::Added),
            bind_ev(p, 1, b"^b", BindEvent::Added),
            app(p, AppEvent::Connected),
        ]
    );
    assert_eq!(e.peer(p).unwrap().name, b"RAW");
    assert_eq!(e.peer_by_name(b"RAW"), Some(p));
}

#[test]
fn connected_without_start_regexp() {
    let mut e = engine();
    let p = raw_peer(&mut e);
    feed(&mut e, p, b"5 0\x02\n");
    assert_eq!(events(&mut e), vec![app(p, AppEvent::Connected)]);
    assert_eq!(e.peer(p).unwrap().name, b" 127.0.0.1:40000");
}

#[test]
fn dirty_lists_peers_with_output() {
    let (mut e, p) = subscribed(&[(0, "(.*)")]);
    let q = raw_peer(&mut e);
    let mut dirty = Vec::new();
    e.poll_dirty(&mut dirty);
    assert_eq!(e.send_msg(b"x"), Ok(1));
    e.poll_dirty(&mut dirty);
    assert_eq!(dirty, vec![p]);
    feed(&mut e, q, b"\n");
    e.poll_dirty(&mut dirty);
    assert_eq!(dirty, vec![q]);
    e.poll_dirty(&mut dirty);
    assert!(dirty.is_empty());
}

#[test]
fn case09_send_before_end_regexp() {
    let mut e = engine();
    let p = raw_peer(&mut e);
    feed(&mut e, p, b"6 9999\x02RAW\n1 4\x02(.*)\n");
    expect_sent(&mut e, p, b"early", 1, b"2 4\x02early\x03\n");
}

#[test]
fn two_engines_full_handshake() {
    let mut b = named("B", 8000, None);
    b.bind(b"^(.*) ready$");
    let (mut a, pa, mut b, pb) = linked(named("A", 7000, Some(b"A ready")), b);
    assert_eq!(a.peer(pa).unwrap().name, b"B");
    assert_eq!(b.peer(pb).unwrap().name, b"A");
    assert_eq!(events(&mut b), vec![app(pb, AppEvent::Connected), msg_ev(pb, 0, b"A\x03")]);
    assert_eq!(events(&mut a), vec![bind_ev(pa, 0, b"^(.*) ready$", BindEvent::Added), app(pa, AppEvent::Connected)]);
}

// ---------------------------------------------------------------------------------
// Routing (§11 cases 11–20)

/// A routing case: (case, RAW's subscriptions, message, lines routed, RAW's bytes).
type Routing = (&'static str, &'static [(i32, &'static str)], &'static [u8], usize, &'static [u8]);

/// §11 cases 11, 12, 15, 16 and 17: RAW subscribed `subs`; sending `message`
/// routes `count` lines, and `wire` is what RAW gets.
#[test]
fn cases_11_12_15_16_17_routing() {
    let cases: [Routing; 5] = [
        (
            "11, one line per matching subscription",
            &[(5, "^hello (.*)"), (7, "hello"), (8, "(.*)")],
            b"hello world",
            3,
            b"2 5\x02world\x03\n2 7\x02\n2 8\x02hello world\x03\n",
        ),
        ("12, unanchored matching", &[(0, "world")], b"hello world", 1, b"2 0\x02\n"),
        (
            "15, same text, two ids, newest first",
            &[(1, "^a(b)?(c)?(d)?"), (2, "^a(b)?(c)?(d)?")],
            b"a",
            2,
            b"2 2\x02\n2 1\x02\n",
        ),
        ("16, empty message", &[(0, "(.*)")], b"", 1, b"2 0\x02\x03\n"),
        ("17, ETX inside the message", &[(0, "(.*)")], b"a\x03b", 1, b"2 0\x02a\x03b\x03\n"),
    ];
    for (case, subs, message, count, wire) in cases {
        let (mut e, p) = subscribed(subs);
        assert_eq!(e.send_msg(message), Ok(count), "case {case}");
        assert_eq!(take_out(&mut e, p).escape_ascii().to_string(), wire.escape_ascii().to_string(), "case {case}");
    }
}

#[test]
fn case13_optional_groups() {
    let (mut e, p) = subscribed(&[(1, "^a(b)?(c)?(d)?")]);
    let cases: [(&[u8], &[u8]); 5] = [
        (b"a", b"2 1\x02\n"),
        (b"ab", b"2 1\x02b\x03\n"),
        (b"ac", b"2 1\x02\x03c\x03\n"),
        (b"ad", b"2 1\x02\x03\x03d\x03\n"),
        (b"abcd", b"2 1\x02b\x03c\x03d\x03\n"),
    ];
    for (message, line) in cases {
        expect_sent(&mut e, p, message, 1, line);
    }
}

#[test]
fn case14_nested_and_repeated_groups() {
    let (mut e, p) = subscribed(&[(0, "^(x(y)?)+$")]);
    expect_sent(&mut e, p, b"xyxy", 1, b"2 0\x02xy\x03y\x03\n");
    expect_sent(&mut e, p, b"xyx", 1, b"2 0\x02x\x03y\x03\n");
}

#[test]
fn case18_lf_inside_message_never_on_the_wire() {
    let (mut e, p) = subscribed(&[(0, "(.*)")]);
    expect_sent(&mut e, p, b"nl1\nline2", 1, b"2 0\x02nl1\x03\n");

    let (mut e, p) = subscribed(&[(2, "(?s)^nl(.*)")]);
    notices(&mut e);
    expect_sent(&mut e, p, b"nl1\nline2", 0, b"");
    assert_eq!(notices(&mut e), vec![Notice::LineFeedRefused { what: "a captured argument" }]);
    // The peer is still served afterwards.
    expect_sent(&mut e, p, b"nl2", 1, b"2 2\x022\x03\n");
}

#[test]
fn lf_in_own_name_regexp_or_text_never_on_the_wire() {
    let mut e = Engine::new(b"two\nlines", None);
    e.set_local(7777, b"x");
    bind_all(&mut e, &[b"^a\nb", b"^ok"]);
    let p = e.handle_connected(addr(9999), addr(40000), None);
    expect_out(&mut e, p, b"6 7777\x02two lines\n1 1\x02^ok\n5 0\x02\n");
    assert_eq!(e.bind(b"x\ny"), BindingId(2));
    expect_out(&mut e, p, b"");
    assert_eq!(e.send_error(p, 1, b"x\ny"), Err(SendError::LineFeed));
    assert_eq!(e.send_direct(p, 1, b"x\ny"), Err(SendError::LineFeed));
    expect_out(&mut e, p, b"");
    let refused = |what| Notice::LineFeedRefused { what };
    let ours = refused("a regexp of ours");
    let want = [ours.clone(), ours, refused("an Error's text"), refused("a direct message")];
    assert_eq!(notices(&mut e), want);
    // A change to a text that cannot be sent withdraws the old one from peers.
    assert!(e.change(BindingId(1), b"^o\nk").is_ok());
    expect_out(&mut e, p, b"4 1\x02\n");
}

#[test]
fn case19_high_bytes_verbatim_debug_binary_refuses() {
    let (mut e, p) = subscribed(&[(0, "(.*)")]);
    expect_sent(&mut e, p, b"caf\xc3\xa9\xff\x01", 1, b"2 0\x02caf\xc3\xa9\xff\x01\x03\n");
    e.set_debug_binary(true);
    notices(&mut e);
    for bad in [&b"caf\xc3\xa9"[..], b"a\x01", b"\xff", b"tab\there"] {
        assert_eq!(e.send_msg(bad), Err(SendError::Binary));
        assert_eq!(notices(&mut e), [Notice::BinaryRefused]);
    }
    expect_out(&mut e, p, b"");
    expect_sent(&mut e, p, b"plain ascii ~", 1, b"2 0\x02plain ascii ~\x03\n");
}

#[test]
fn case20_long_lines() {
    let (mut e, p) = subscribed(&[(0, "(.*)")]);
    let big = vec![b'x'; 100_000];
    assert_eq!(e.send_msg(&big), Ok(1));
    let out = take_out(&mut e, p);
    assert_eq!(out.len(), 100_006);
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
    assert!(out.starts_with(b"2 0\x02xxx") && out.ends_with(b"x\x03\n"));

    // Receiving a 20000-byte line in 1000-byte pieces.
    e.bind(b"(.*)");
    let mut line = b"2 0\x02".to_vec();
    line.resize(19_999, b'y');
    line.extend_from_slice(b"\x03\n");
    assert_eq!(line.len(), 20_001);
    for chunk in line.chunks(1000) {
        feed(&mut e, p, chunk);
    }
    let ev = events(&mut e);
    assert_eq!(ev.len(), 1);
    let Event::Msg { binding: 0, params, .. } = &ev[0] else { panic!("{ev:?}") };
    assert_eq!(params.len(), 19_996);
    assert!(actions(&mut e).is_empty());
}

// ---------------------------------------------------------------------------------
// Receiving (§11 cases 22–27)

#[test]
fn case22_msg_splitting() {
    let (mut e, p) = bound(b"^x", &[]);
    // (line, argv); the event carries the params raw: what follows "2 0\x02".
    let cases: [(&[u8], &[&[u8]]); 5] = [
        (b"2 0\x02a\x03\x03b\x03\n", &[b"a", b"", b"b"]),
        (b"2 0\x02a\x03b\n", &[b"a", b"b"]),
        (b"2 0\x02\n", &[]),
        (b"2 0\x02\x03\n", &[b""]),
        (b"2 0\x02abc\x03\r\n", &[b"abc", b"\r"]),
    ];
    for (line, argv) in cases {
        feed(&mut e, p, line);
        let params = &line[4..line.len() - 1];
        assert_eq!(events(&mut e), vec![msg_ev(p, 0, params)]);
        assert_eq!(wire::args(params).collect::<Vec<_>>(), argv);
    }
    expect_out(&mut e, p, b"");
}

/// §11 cases 23 and 26: a Msg for an id we never bound, lines of unknown
/// types: ignored, and the connection kept (the ping after them is answered).
#[test]
fn case23_26_unknown_msg_ids_and_types_ignored() {
    let cases: [(&[u8], &[u8]); 2] =
        [(b"2 5\x02hello\x03\n9 1\x02\n", b"10 1\x02\n"), (b"42 1\x02x\n-1 0\x02\n9 3\x02\n", b"10 3\x02\n")];
    for (lines, pong) in cases {
        let (mut e, p) = bound(b"^x", &[]);
        expect_reply(&mut e, p, lines, pong);
        assert_quiet(&mut e);
    }
}

#[test]
fn case24_header_leniency() {
    let (mut e, p) = bound(b"^x", &[]);
    feed(&mut e, p, b"  2   0  junk\x02spaced\x03\n2 0x\x02hexish\x03\n");
    assert_eq!(events(&mut e), vec![msg_ev(p, 0, b"spaced\x03"), msg_ev(p, 0, b"hexish\x03")]);
    assert!(actions(&mut e).is_empty());
}

#[test]
fn case25_bad_format_reply_close_then_ignore() {
    for bad_line in [&b"\n"[..], b"2 1 foo\n", b"hello\x02\n", b"2\x02x\n"] {
        let (mut e, p) = bound(b"(.*)", &[(0, "(.*)")]);
        expect_reply(&mut e, p, bad_line, BAD);
        assert_eq!(actions(&mut e), vec![Action::Close(p)]);
        // Lines after the bad one, in the same segment or later, are ignored.
        expect_reply(&mut e, p, b"9 1\x02\n2 0\x02x\x03\n", b"");
        assert_quiet(&mut e);
        e.handle_closed(p);
        assert_eq!(events(&mut e), vec![app(p, AppEvent::Disconnected)]);
        assert_eq!(e.send_msg(b"x"), Ok(0));
    }
    // Lines after a bad one in the same segment.
    let (mut e, p) = subscribed(&[]);
    expect_reply(&mut e, p, b"\n9 1\x02\n", BAD);
}

#[test]
fn case27_bye_then_more_lines_in_one_segment() {
    let (mut e, p) = bound(b"(.*)", &[]);
    feed(&mut e, p, b"0 0\x02\n2 0\x02after bye\x03\n9 5\x02\n");
    assert_eq!(events(&mut e), vec![msg_ev(p, 0, b"after bye\x03")]);
    expect_out(&mut e, p, b"10 5\x02\n");
    assert_eq!(actions(&mut e), vec![Action::Close(p)]);
    expect_reply(&mut e, p, b"9 6\x02\n", b"");
    e.handle_closed(p);
    assert_eq!(events(&mut e), vec![app(p, AppEvent::Disconnected)]);
}

// ---------------------------------------------------------------------------------
// Peer subscriptions (§11 cases 28–31)

#[test]
fn case28_invalid_regexp_error_and_kept() {
    let (mut e, p) = subscribed(&[]);
    expect_reply(&mut e, p, b"1 10\x02foo(bar\n", b"3 7\x02Error compiling 'foo(bar', missing )\n");
    assert_eq!(events(&mut e), vec![bind_ev(p, 10, b"foo(bar", BindEvent::Added)]);
    assert_eq!(e.peer_regexps(p), Some(vec![b"foo(bar".to_vec()]));
    for m in [&b"foo(bar"[..], b"foobar", b"", b"foo"] {
        assert_eq!(e.send_msg(m), Ok(0));
    }
    expect_out(&mut e, p, b"");
    assert!(actions(&mut e).is_empty());
}

#[test]
fn case28_compile_error_texts() {
    let (mut e, p) = subscribed(&[]);
    expect_reply(&mut e, p, b"1 1\x02*\n", b"3 0\x02Error compiling '*', nothing to repeat\n");
    expect_reply(
        &mut e,
        p,
        b"1 2\x02[z\n",
        b"3 2\x02Error compiling '[z', missing terminating ] for character class\n",
    );
}

#[test]
fn case29_same_id_new_text_replaces() {
    let (mut e, p) = subscribed(&[(1, "^old")]);
    expect_sent(&mut e, p, b"old", 1, b"2 1\x02\n");

    feed(&mut e, p, b"1 1\x02^new\n");
    assert_eq!(events(&mut e), vec![bind_ev(p, 1, b"^new", BindEvent::Changed)]);
    assert_eq!(e.peer_regexps(p), Some(vec![b"^new".to_vec()]));
    assert_eq!(e.send_msg(b"old"), Ok(0));
    expect_sent(&mut e, p, b"new", 1, b"2 1\x02\n");

    // Identical re-send: Changed, and still one delivery.
    feed(&mut e, p, b"1 1\x02^new\n");
    assert_eq!(events(&mut e), vec![bind_ev(p, 1, b"^new", BindEvent::Changed)]);
    assert_eq!(e.peer_regexps(p), Some(vec![b"^new".to_vec()]));
    expect_sent(&mut e, p, b"new", 1, b"2 1\x02\n");
    expect_out(&mut e, p, b"");
}

#[test]
fn case29_replace_keeps_other_subscribers_of_old_text() {
    let (mut e, p) = subscribed(&[(1, "^old"), (2, "^old")]);
    feed(&mut e, p, b"1 1\x02^new\n");
    events(&mut e);
    expect_sent(&mut e, p, b"old", 1, b"2 2\x02\n");
}

#[test]
fn case30_del_regexp() {
    let (mut e, p) = subscribed(&[(1, "^a"), (2, "^b"), (3, "^c")]);
    feed(&mut e, p, b"4 1\x02\n");
    assert_eq!(events(&mut e), vec![bind_ev(p, 1, b"", BindEvent::Removed)]);
    feed(&mut e, p, b"4 2\x02some text\n");
    assert_eq!(events(&mut e), vec![bind_ev(p, 2, b"some text", BindEvent::Removed)]);
    feed(&mut e, p, b"4 77\x02\n4 1\x02\n");
    assert!(events(&mut e).is_empty());
    assert_eq!(e.peer_regexps(p), Some(vec![b"^c".to_vec()]));
    assert_eq!(e.send_msg(b"a"), Ok(0));
    assert_eq!(e.send_msg(b"b"), Ok(0));
    expect_sent(&mut e, p, b"c", 1, b"2 3\x02\n");
    assert!(actions(&mut e).is_empty());
}

#[test]
fn case31_filters() {
    let mut e = engine();
    e.filter_mut().add(b"hello");
    e.filter_mut().add(b"foo");
    let p = raw_with(&mut e, &[]);
    let accepted = ["^hello (.*)", "^hel", "^fo", "bar", "^(hello|bar)", "^ hello"];
    let filtered = ["^hellothere", "^bar", "^foo-bar x", "^Hello", "^hello_world"];
    for (i, re) in accepted.iter().enumerate() {
        feed(&mut e, p, format!("1 {i}\x02{re}\n").as_bytes());
        let want = bind_ev(p, i as i32, re.as_bytes(), BindEvent::Added);
        assert_eq!(events(&mut e), vec![want]);
    }
    for (i, re) in filtered.iter().enumerate() {
        let id = 10 + i as i32;
        feed(&mut e, p, format!("1 {id}\x02{re}\n").as_bytes());
        let want = bind_ev(p, id, re.as_bytes(), BindEvent::Filtered);
        assert_eq!(events(&mut e), vec![want]);
    }
    let listed = e.peer_regexps(p).unwrap();
    assert_eq!(listed.len(), accepted.len());
    for m in ["hellothere", "bar", "foo-bar x", "Hello", "hello_world"] {
        assert!(e.send_msg(m.as_bytes()).is_ok());
    }
    let out = take_out(&mut e, p);
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let l = wire::parse_line(line).unwrap();
        assert!(l.id < 10, "filtered regexp matched: {}", line.escape_ascii());
    }
    assert!(actions(&mut e).is_empty());
}

// ---------------------------------------------------------------------------------
// Own subscriptions (§11 cases 32–33)

#[test]
fn case32_own_bind_change_unbind() {
    let (mut e, p) = subscribed(&[]);
    assert_eq!(e.bind(b"^a (.*)"), BindingId(0));
    expect_out(&mut e, p, b"1 0\x02^a (.*)\n");
    assert!(e.change(BindingId(0), b"^b").is_ok());
    expect_out(&mut e, p, b"1 0\x02^b\n");
    assert!(e.unbind(BindingId(0)).is_ok());
    expect_out(&mut e, p, b"4 0\x02\n");
    assert!(e.unbind(BindingId(0)).is_err());
    assert!(e.change(BindingId(0), b"^z").is_err());
    expect_out(&mut e, p, b"");
    assert_eq!(e.bind(b"^c"), BindingId(1));
    expect_out(&mut e, p, b"1 1\x02^c\n");
    // A Msg for the removed binding is not delivered.
    feed(&mut e, p, b"2 0\x02\n2 1\x02\n");
    assert_eq!(events(&mut e), vec![msg_ev(p, 1, b"")]);
}

#[test]
fn case33_interval_expansion_sent() {
    let (mut e, p) = subscribed(&[]);
    e.bind(b"^val=(?I5#5i)$");
    expect_out(&mut e, p, b"1 0\x02^val=(?:5)(?![\\d.])$\n");
    e.bind(b"(?I5#5)");
    expect_out(&mut e, p, b"1 1\x02(?:5(?:\\.\\d+)?)(?![\\d.])\n");
    e.bind(b"x=(?I20#25i)");
    expect_out(&mut e, p, b"1 2\x02x=(?:(?:2[0-4])|(?:25))(?![\\d.])\n");
}

#[test]
fn case33_interval_matches_at_the_sender() {
    let mut a = named("A", 7000, None);
    a.bind(b"^val=((?I1#5i))$");
    let (mut a, pa, mut b, pb) = linked(a, named("B", 8000, None));
    events(&mut a);
    assert_eq!(b.send_msg(b"val=3"), Ok(1));
    assert_eq!(b.send_msg(b"val=6"), Ok(0));
    assert_eq!(b.send_msg(b"val=35"), Ok(0));
    pump(&mut a, pa, &mut b, pb);
    assert_eq!(events(&mut a), vec![msg_ev(pa, 0, b"3\x03")]);
}

// ---------------------------------------------------------------------------------
// Control messages (§11 cases 34–38)

#[test]
fn case34_ping_answered() {
    let (mut e, p) = subscribed(&[]);
    expect_reply(&mut e, p, b"9 42\x02\n9 -5\x02junk\n", b"10 42\x02\n10 -5\x02\n");
    assert!(events(&mut e).is_empty());
}

#[test]
fn case35_ping_pong_round_trips() {
    let ms = Duration::from_millis;
    let (mut e, p) = subscribed(&[]);
    let pong = |sent_at, latest| Event::Pong { peer: p, sent_at, latest };
    assert!(e.ping(p, ms(1000)).is_ok());
    assert!(e.ping(p, ms(1100)).is_ok());
    expect_out(&mut e, p, b"9 1\x02\n9 2\x02\n");
    feed(&mut e, p, b"10 1\x02\n");
    assert_eq!(events(&mut e), vec![pong(ms(1100), false)]);
    feed(&mut e, p, b"10 2\x02\n");
    assert!(events(&mut e).is_empty(), "the ping's time was taken by the first Pong");
    assert!(e.ping(p, ms(2000)).is_ok());
    expect_out(&mut e, p, b"9 3\x02\n");
    feed(&mut e, p, b"10 3\x02\n");
    assert_eq!(events(&mut e), vec![pong(ms(2000), true)]);
}

#[test]
fn case36_direct_messages() {
    let (mut e, p) = subscribed(&[]);
    feed(&mut e, p, b"7 12\x02hello\x03there\x03\n");
    let text = b"hello\x03there\x03".to_vec();
    assert_eq!(events(&mut e), vec![Event::Direct { peer: p, id: 12, text }]);
    assert!(e.send_direct(p, 33, b"hi\x03there").is_ok());
    expect_out(&mut e, p, b"7 33\x02hi\x03there\n");
    assert!(e.send_direct(p, 34, b"two\nlines").is_err());
    expect_out(&mut e, p, b"");
}

#[test]
fn case37_errors() {
    let (mut e, p) = subscribed(&[]);
    assert!(e.send_error(p, 44, b"oops").is_ok());
    expect_out(&mut e, p, b"3 44\x02oops\n");
    feed(&mut e, p, b"3 5\x02some error\n");
    assert_quiet(&mut e);
    expect_out(&mut e, p, b"");
}

#[test]
fn case38_die() {
    let mut e = engine();
    let q = raw_peer(&mut e);
    let p = raw_with(&mut e, &[]);
    assert!(e.send_die(p, 0, b"").is_ok());
    expect_out(&mut e, p, b"8 0\x02\n");
    feed(&mut e, p, b"8 7\x02whatever\n");
    assert_eq!(events(&mut e), vec![Event::Die { peer: p, id: 7 }]);
    // Obeying is the driver's call: leave() says Bye to every peer and closes them.
    e.leave();
    expect_out(&mut e, p, b"0 0\x02\n");
    expect_out(&mut e, q, b"0 0\x02\n");
    assert_eq!(actions(&mut e), vec![Action::Close(p), Action::Close(q)]);
}

// ---------------------------------------------------------------------------------
// Congestion (§11 case 41) and listings (case 42)

#[test]
fn case41_congestion_whole_lines() {
    let mut e = engine_under(Limits { queue_cap: 100, ..Limits::default() });
    let p = raw_with(&mut e, &[(0, "(.*)")]);
    let mut delivered = Vec::new();
    // Each message makes a 10-byte line: "2 0\x02mNNN\x03\n".
    assert_eq!(e.send_msg(b"m000"), Ok(1));
    let mut first = Vec::new();
    e.take_output(p, &mut first);
    delivered.extend_from_slice(&first[..3]);
    e.handle_written(p, 3, true);
    e.handle_written(p, 0, true);
    assert_eq!(events(&mut e), vec![app(p, AppEvent::Congestion)]);
    for i in 1..=12 {
        assert_eq!(e.send_msg(format!("m{i:03}").as_bytes()), Ok(1));
    }
    // The 7 bytes still lent count: 7 + 9 * 10 = 97 bytes fit; the last three
    // messages are dropped whole.
    assert_eq!(events(&mut e), vec![app(p, AppEvent::FifoFull); 3]);
    assert_eq!(testing::output_len(&e, p), 97);
    delivered.extend_from_slice(&first[3..]);
    e.handle_written(p, 7, false);
    let mut second = Vec::new();
    e.take_output(p, &mut second);
    assert_eq!(second.len(), 90);
    delivered.extend_from_slice(&second[..50]);
    e.handle_written(p, 50, false);
    assert!(events(&mut e).is_empty());
    delivered.extend_from_slice(&second[50..]);
    e.handle_written(p, 40, false);
    assert_eq!(events(&mut e), vec![app(p, AppEvent::Decongestion)]);
    assert_eq!(e.send_msg(b"m013"), Ok(1));
    delivered.extend(take_out(&mut e, p));
    assert!(events(&mut e).is_empty());

    let mut want = Vec::new();
    for i in (0..=9).chain([13]) {
        want.extend_from_slice(format!("2 0\x02m{i:03}\x03\n").as_bytes());
    }
    assert_eq!(delivered.escape_ascii().to_string(), want.escape_ascii().to_string());
}

#[test]
fn case41_fifo_full_counts_and_other_peers() {
    let mut e = engine_under(Limits { queue_cap: 20, ..Limits::default() });
    let p = raw_with(&mut e, &[(0, "(.*)"), (1, "^m")]);
    let q = raw_peer(&mut e);
    feed(&mut e, q, b"1 0\x02(.*)\n");
    e.handle_written(p, 0, true);
    events(&mut e);
    // m000 gives p 10 + 5 bytes. m001's 10-byte line is dropped (and reported), its
    // 5-byte line still fits: lines are kept or dropped one by one, whole. q, which
    // reads, gets everything.
    for (i, len) in [(0, 15), (1, 20), (2, 20)] {
        assert_eq!(e.send_msg(format!("m00{i}").as_bytes()), Ok(3));
        assert_eq!(testing::output_len(&e, p), len);
        expect_out(&mut e, q, format!("2 0\x02m00{i}\x03\n").as_bytes());
    }
    let ev = events(&mut e);
    assert_eq!(ev, vec![app(p, AppEvent::FifoFull); 3]);
    expect_out(&mut e, p, b"2 0\x02m000\x03\n2 1\x02\n2 1\x02\n");
}

#[test]
fn full_queue_keeps_our_subscription_changes() {
    let mut e = engine_under(Limits { queue_cap: 20, ..Limits::default() });
    let p = raw_with(&mut e, &[(0, "(.*)")]);
    e.handle_written(p, 0, true);
    events(&mut e);
    assert_eq!(e.send_msg(b"m000000000"), Ok(1));
    assert_eq!(e.send_msg(b"m000000001"), Ok(1));
    assert_eq!(events(&mut e), vec![app(p, AppEvent::FifoFull)]);
    // Past the cap, but a lost AddRegexp or DelRegexp would leave p matching a
    // stale set of our subscriptions for good: they are queued all the same.
    let id = e.bind(b"^a long subscription (.*)");
    assert!(e.unbind(id).is_ok());
    assert!(events(&mut e).is_empty());
    let want = format!("2 0\x02m000000000\x03\n1 {id}\x02^a long subscription (.*)\n4 {id}\x02\n");
    expect_out(&mut e, p, want.as_bytes());
}

#[test]
fn case42_listings_newest_first() {
    let mut e = engine();
    let first = raw_peer(&mut e);
    let p = raw_with(&mut e, &[(0, "a"), (1, "b"), (2, "c")]);
    let rx: Vec<Vec<u8>> = ["c", "b", "a"].iter().map(|s| s.as_bytes().to_vec()).collect();
    assert_eq!(e.peer_regexps(p), Some(rx));
    assert_eq!(e.peer_regexps(first), Some(vec![]));
    assert_eq!(e.peers(), vec![p, first]);
    assert_eq!(e.peer_by_name(b"RAW"), Some(p));
    assert_eq!(e.peer_by_name(b"nobody"), None);
}

// ---------------------------------------------------------------------------------
// Duplicate connections (§1.6, DESIGN §5)

/// One step of two agents' simultaneous connect: an end of a connection opens,
/// or the bytes one end queued on a connection arrive at the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Connection `k`'s end at agent `a` (0 or 1) opens.
    Open(usize, usize),
    /// What agent `a` queued on connection `k` arrives at the other agent.
    Deliver(usize, usize),
}

/// Two agents, 0 (A) and 1 (B), on 127.0.0.1, and the two connections of a
/// simultaneous connect between them: connection k was dialled by agent k, from
/// ephemeral port 50001 + k. Bytes an end queued are in flight until delivered;
/// what the engines ask of sockets is carried out at once, as the driver does.
struct Pair {
    ports: [u16; 2],
    agents: [Engine; 2],
    /// `ends[a][k]`: agent a's end of connection k, while open.
    ends: [[Option<PeerId>; 2]; 2],
    /// `shut[a][k]`: agent a sends nothing more on connection k (it drains, or
    /// closed): the other end reads EOF after what is in flight.
    shut: [[bool; 2]; 2],
    /// `eof[a][k]`: agent a read that EOF.
    eof: [[bool; 2]; 2],
    /// Connection k was closed at once by one end ([`Action::Close`]): the
    /// other end, opened later, reads EOF.
    gone: [bool; 2],
    /// Per agent: the connections reported connected, the `x` received, and
    /// the number of each `x` sent and counted for a peer.
    reported: [Vec<PeerId>; 2],
    received: [Vec<Vec<u8>>; 2],
    counted: [Vec<usize>; 2],
    sent: usize,
}

impl Pair {
    const X_LINE: &[u8] = b"2 0\x02";

    fn new(ports: [u16; 2]) -> Pair {
        let agents = ports.map(|port| {
            let mut e = Engine::new(format!("P{port}").as_bytes(), None);
            e.set_local(port, port.to_string().as_bytes());
            e.bind(b"^x(.*)");
            e
        });
        Pair {
            ports,
            agents,
            ends: [[None; 2]; 2],
            shut: [[false; 2]; 2],
            eof: [[false; 2]; 2],
            gone: [false; 2],
            reported: [vec![], vec![]],
            received: [vec![], vec![]],
            counted: [vec![], vec![]],
            sent: 0,
        }
    }

    fn open(&mut self, k: usize, a: usize) {
        let other = 1 - k;
        let id = if a == k {
            let name = format!("P{}", self.ports[other]);
            self.agents[a].handle_connected(addr(self.ports[other]), addr(50001 + k as u16), Some(name.as_bytes()))
        } else {
            self.agents[a].handle_connected(addr(50001 + k as u16), addr(self.ports[a]), None)
        };
        self.ends[a][k] = Some(id);
        if self.gone[k] {
            self.ends[a][k] = None;
            self.agents[a].handle_closed(id);
        }
    }

    /// What agent `a` queued on connection `k` arrives, and the EOF after it if
    /// `a` shut its side. Whether anything but an `x` moved.
    fn deliver(&mut self, k: usize, a: usize) -> bool {
        let b = 1 - a;
        let (Some(from), Some(to)) = (self.ends[a][k], self.ends[b][k]) else { return false };
        let bytes = take_out(&mut self.agents[a], from);
        feed(&mut self.agents[b], to, &bytes);
        let mut moved = !bytes.split(|&c| c == b'\n').all(|line| line.is_empty() || line.starts_with(Self::X_LINE));
        if self.shut[a][k] && !self.eof[b][k] {
            self.eof[b][k] = true;
            self.read_eof(k, b);
            moved = true;
        }
        moved
    }

    /// Agent `x` reads EOF on connection `k`: it closes its side if it had not
    /// (what it queued is in flight), and the connection is done for it.
    fn read_eof(&mut self, k: usize, x: usize) {
        self.shut[x][k] = true;
        self.deliver(k, x);
        if let Some(p) = self.ends[x][k].take() {
            self.agents[x].handle_closed(p);
        }
    }

    /// Carries out the closes and drains the agents asked for.
    fn act(&mut self) -> bool {
        let mut acted = false;
        for a in 0..2 {
            for action in actions(&mut self.agents[a]) {
                let (Action::Close(id) | Action::Drain(id)) = action else { panic!("{action:?}") };
                let Some(k) = (0..2).find(|&k| self.ends[a][k] == Some(id)) else { continue };
                acted = true;
                self.shut[a][k] = true;
                if let Action::Close(_) = action {
                    // Its input is dropped with it: the other end reads the rest, then EOF.
                    self.gone[k] = true;
                    self.deliver(k, a);
                    if let Some(p) = self.ends[a][k].take() {
                        self.agents[a].handle_closed(p);
                    }
                }
            }
        }
        acted
    }

    /// After every move: what arrived is received, and each agent sends a
    /// numbered `x`, counted for at most one peer.
    fn check(&mut self) {
        self.receive();
        for a in 0..2 {
            self.sent += 1;
            let count = self.agents[a].send_msg(format!("x{}", self.sent).as_bytes()).unwrap_or(0);
            assert!(count <= 1, "a message counted twice");
            if count == 1 {
                self.counted[a].push(self.sent);
            }
        }
    }

    /// Events are delivered (a Disconnected reaps its record, as the driver
    /// does): each agent has at most one link reported connected, and no `x`
    /// arrives twice.
    fn receive(&mut self) {
        for a in 0..2 {
            let e = &mut self.agents[a];
            for event in events(e) {
                match event {
                    Event::App { peer, event: AppEvent::Connected } => self.reported[a].push(peer),
                    Event::App { peer, event: AppEvent::Disconnected } => {
                        self.reported[a].retain(|&p| p != peer);
                        e.reap(peer);
                    }
                    Event::Msg { params, .. } => {
                        assert!(!self.received[a].contains(&params), "{} arrived twice", params.escape_ascii());
                        self.received[a].push(params);
                    }
                    _ => {}
                }
            }
            assert!(self.reported[a].len() <= 1, "two links reported connected: {:?}", self.reported[a]);
        }
    }

    /// Moves bytes until both agents are quiet.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            for k in 0..2 {
                for a in 0..2 {
                    moved |= self.deliver(k, a);
                }
            }
            moved |= self.act();
            if !moved {
                self.receive();
                return;
            }
            self.check();
        }
    }
}

/// Runs `steps` of a simultaneous connect between agents listening on `ports`,
/// then moves bytes until both are quiet (see [`Pair`]). Every `x` an agent
/// counted for a peer reaches the other agent exactly once. Returns, per agent,
/// the connections still open, each checked to be the one reported connected
/// and the only one listed, and to carry a last `x` exactly once.
fn simultaneous(ports: [u16; 2], steps: &[Step]) -> [Vec<usize>; 2] {
    let mut pair = Pair::new(ports);
    for &step in steps {
        match step {
            Step::Open(k, a) => pair.open(k, a),
            Step::Deliver(k, a) => {
                pair.deliver(k, a);
            }
        }
        pair.act();
        pair.check();
    }
    pair.settle();
    for a in 0..2 {
        assert_eq!(pair.agents[a].send_msg(b"xlast"), Ok(1), "agent {a}: {ports:?} {steps:?}");
        pair.counted[a].push(0);
    }
    pair.settle();
    for a in 0..2 {
        for &n in &pair.counted[a] {
            let x = if n == 0 { b"last\x03".to_vec() } else { format!("{n}\x03").into_bytes() };
            assert!(pair.received[1 - a].contains(&x), "agent {a}'s x{n} lost: {ports:?} {steps:?}");
        }
        let open: Vec<PeerId> = pair.ends[a].iter().flatten().copied().collect();
        assert_eq!(pair.reported[a], open, "agent {a}: reported connected, {ports:?} {steps:?}");
        assert_eq!(pair.agents[a].peers(), open, "agent {a}: listed");
    }
    [0, 1].map(|a| (0..2).filter(|&k| pair.ends[a][k].is_some()).collect())
}

/// Every order of the steps of a simultaneous connect: each connection's two
/// ends open, then each end's handshake arrives, in any interleaving.
fn all_orders() -> Vec<Vec<Step>> {
    let steps =
        [0, 1].into_iter().flat_map(|k| [0, 1].map(|a| [Step::Open(k, a), Step::Deliver(k, a)])).collect::<Vec<_>>();
    let mut orders = Vec::new();
    let mut taken = [false; 4];
    fn walk(steps: &[[Step; 2]], taken: &mut [bool; 4], order: &mut Vec<Step>, orders: &mut Vec<Vec<Step>>) {
        if order.len() == 2 * steps.len() {
            orders.push(order.clone());
            return;
        }
        for (i, pair) in steps.iter().enumerate() {
            for (j, &step) in pair.iter().enumerate() {
                let ready = match step {
                    // Bytes flow once both ends of the connection are open.
                    Step::Deliver(k, _) => [0, 1].iter().all(|&a| order.contains(&Step::Open(k, a))),
                    Step::Open(..) => true,
                };
                if order.contains(&step) || (j == 1 && !taken[i]) || !ready {
                    continue;
                }
                if j == 0 {
                    taken[i] = true;
                }
                order.push(step);
                walk(steps, taken, order, orders);
                order.pop();
                if j == 0 {
                    taken[i] = false;
                }
            }
        }
    }
    walk(&steps, &mut taken, &mut Vec::new(), &mut orders);
    orders
}

#[test]
fn simultaneous_connect_keeps_the_link_the_lower_agent_dialled() {
    let orders = all_orders();
    assert!(orders.len() > 1000, "{} orders", orders.len());
    // A listens on 7777; B on 6000 (lower: B's dial stays) or 9000 (A's dial stays).
    for (b_port, kept) in [(6000, 1), (9000, 0)] {
        for order in &orders {
            let open = simultaneous([7777, b_port], order);
            assert_eq!(open, [vec![kept], vec![kept]], "B on {b_port}, {order:?}");
        }
    }
}

/// A peer B (announcing 6000) whose handshake went through on a connection A
/// (listening on `port`) dialled; then an accepted connection from B's host,
/// from `claim_from` (its ephemeral port), claims B's port 6000.
fn claim_against_dialled(port: u16, claim_from: u16) -> (Engine, PeerId, PeerId) {
    let mut e = Engine::new(b"A", None);
    e.set_local(port, b"a");
    let b = e.handle_connected(addr(6000), addr(50001), Some(b"B"));
    feed(&mut e, b, b"6 6000\x02B\n5 0\x02\n");
    take_out(&mut e, b);
    let claim = e.handle_connected(addr(claim_from), addr(port), None);
    take_out(&mut e, claim);
    feed(&mut e, claim, b"6 6000\x02B\n5 0\x02\n");
    (e, b, claim)
}

#[test]
fn a_claim_never_drops_a_link_that_works() {
    // Issue 14: an attacker on B's host, from a low port, claims B's port.
    // Above B: the link to B stays; the claimant waits on standby, unlisted,
    // unreported and sent no message.
    let (mut e, b, claim) = claim_against_dialled(7777, 1024);
    expect_out(&mut e, b, b"");
    expect_out(&mut e, claim, b"");
    assert!(actions(&mut e).is_empty());
    assert!(notices(&mut e).is_empty());
    expect_reply(&mut e, b, b"9 1\x02\n", b"10 1\x02\n");
    expect_reply(&mut e, claim, b"9 1\x02\n", b"10 1\x02\n");
    feed(&mut e, b, b"1 0\x02^x\n");
    feed(&mut e, claim, b"1 0\x02^x\n");
    assert!(!events(&mut e).contains(&app(claim, AppEvent::Connected)));
    assert_eq!(e.peers(), vec![b]);
    expect_sent(&mut e, b, b"x", 1, b"2 0\x02\n");
    expect_out(&mut e, claim, b"");
    // Should the link to B go, the claim takes over.
    e.handle_closed(b);
    assert_eq!(events(&mut e), vec![app(b, AppEvent::Disconnected), app(claim, AppEvent::Connected)]);
    e.reap(b);
    assert_eq!(e.peers(), vec![claim]);
    expect_sent(&mut e, claim, b"x", 1, b"2 0\x02\n");
    // Below B: the claimant merely duplicates a proven link, and drains.
    let (mut e, b, claim) = claim_against_dialled(5000, 1024);
    expect_out(&mut e, claim, b"3 0\x02Application already connected\n");
    assert_eq!(actions(&mut e), vec![Action::Drain(claim)]);
    assert_eq!(notices(&mut e), vec![Notice::AlreadyConnected { peer: claim }]);
    expect_reply(&mut e, b, b"9 1\x02\n", b"10 1\x02\n");
}

#[test]
fn a_draining_connection_delivers_what_its_agent_sent_until_it_closes() {
    let (mut e, b, claim) = claim_against_dialled(5000, 1024);
    let bound = e.bind(b"^x(.*)");
    take_out(&mut e, b);
    take_out(&mut e, claim);
    assert_eq!(events(&mut e), vec![app(b, AppEvent::Connected), app(claim, AppEvent::Disconnected)]);
    assert_eq!(e.peers(), vec![b]);
    // Reaped when its Disconnected is delivered: the record stays while it drains.
    e.reap(claim);
    assert!(e.peer(claim).is_some());
    // What its agent sent is delivered; what asks for an answer or a
    // subscription is not heeded; nothing goes to it.
    feed(&mut e, claim, b"9 1\x02\n1 0\x02(.*)\n2 0\x02one\x03\n7 3\x02direct\n");
    expect_out(&mut e, claim, b"");
    assert_eq!(
        events(&mut e),
        vec![
            Event::Msg { peer: claim, binding: bound.0, params: b"one\x03".to_vec() },
            Event::Direct { peer: claim, id: 3, text: b"direct".to_vec() },
        ]
    );
    assert_eq!(e.send_msg(b"x"), Ok(0));
    expect_out(&mut e, claim, b"");
    // Its close reports nothing more, and frees the record.
    e.handle_closed(claim);
    assert!(events(&mut e).is_empty());
    assert!(e.peer(claim).is_none());
}

#[test]
fn a_later_claim_goes_never_the_first() {
    let mut e = engine();
    // B connected to us first; an attacker from a lower port claims B's port after.
    let b = e.handle_connected(addr(50001), addr(7777), None);
    let claim = e.handle_connected(addr(1024), addr(7777), None);
    for (p, name) in [(b, "B"), (claim, "X")] {
        take_out(&mut e, p);
        feed(&mut e, p, format!("6 6000\x02{name}\n5 0\x02\n").as_bytes());
    }
    expect_out(&mut e, b, b"");
    expect_out(&mut e, claim, b"3 0\x02Application already connected\n");
    assert_eq!(actions(&mut e), vec![Action::Close(claim)]);
    // Its further input is ignored; B still works.
    feed(&mut e, claim, b"9 1\x02\n");
    feed(&mut e, b, b"9 1\x02\n");
    expect_out(&mut e, claim, b"");
    expect_out(&mut e, b, b"10 1\x02\n");
}

#[test]
fn the_higher_end_drops_its_dial_only_in_handshake() {
    // A (7777) dialled B (6000); B's own dial to A announces 6000 before B's
    // handshake on A's dial arrived: A drops its dial, as B (lower) does.
    let mut e = engine();
    let dial = e.handle_connected(addr(6000), addr(50001), Some(b"B"));
    take_out(&mut e, dial);
    let accepted = e.handle_connected(addr(50002), addr(7777), None);
    take_out(&mut e, accepted);
    feed(&mut e, accepted, b"6 6000\x02B\n5 0\x02\n");
    expect_out(&mut e, dial, b"3 0\x02Application already connected\n");
    expect_out(&mut e, accepted, b"");
    assert_eq!(actions(&mut e), vec![Action::Drain(dial)]);
    // A dial that completes after B's accepted connection announced itself.
    let mut e = engine();
    let accepted = e.handle_connected(addr(50002), addr(7777), None);
    feed(&mut e, accepted, b"6 6000\x02B\n5 0\x02\n");
    take_out(&mut e, accepted);
    let dial = e.handle_connected(addr(6000), addr(50001), Some(b"B"));
    expect_out(&mut e, dial, b"6 7777\x02CTEST\n5 0\x02\n3 0\x02Application already connected\n");
    assert_eq!(actions(&mut e), vec![Action::Drain(dial)]);
}

#[test]
fn no_dedupe_for_different_agents() {
    let mut e = engine();
    let p = e.handle_connected(addr(6000), addr(50001), None);
    let q = e.handle_connected(addr(6001), addr(50002), None);
    let r = e.handle_connected(SocketAddr::from(([127, 0, 0, 2], 6000)), addr(50003), None);
    for (x, port) in [(p, 6000), (q, 6001), (r, 6000)] {
        take_out(&mut e, x);
        expect_reply(&mut e, x, format!("6 {port}\x02PEER\n").as_bytes(), b"");
    }
    assert!(actions(&mut e).is_empty());
}

// ---------------------------------------------------------------------------------
// Hellos (§1.4, §11 case 3)

#[test]
fn hello_handling() {
    let mut e = engine();
    e.handle_datagram(hello_from(), b"2 4000 id name\n");
    e.handle_datagram(hello_from(), b"3\n");
    assert!(actions(&mut e).is_empty());
    e.handle_datagram(hello_from(), b"3 4000\n");
    assert_eq!(actions(&mut e), vec![Action::Connect { addr: at(4000), name: vec![] }]);
    e.handle_datagram(hello_from(), b"3 4001 1:2:7777 CTEST\n");
    assert!(actions(&mut e).is_empty());
    e.handle_datagram(hello_from(), b"3 4002 a Agent A\n3 4003 b B\n");
    assert_eq!(
        actions(&mut e),
        vec![
            Action::Connect { addr: at(4002), name: b"Agent A".to_vec() },
            Action::Connect { addr: at(4003), name: b"B".to_vec() },
        ]
    );
    // The same address again: already under way, then connected.
    e.handle_datagram(hello_from(), b"3 4000 x X\n");
    assert!(actions(&mut e).is_empty());
    let p = e.handle_connected(at(4002), addr(50000), Some(b"Agent A"));
    e.handle_datagram(hello_from(), b"3 4002 a Agent A\n");
    assert!(actions(&mut e).is_empty());
    assert_eq!(e.peer(p).unwrap().name, b"Agent A");
    // A failed connect may be retried on the next hello.
    e.handle_connect_failed(at(4003));
    e.handle_datagram(hello_from(), b"3 4003 b B\n");
    assert_eq!(actions(&mut e), vec![Action::Connect { addr: at(4003), name: b"B".to_vec() }]);
    // The same port on another host is another agent.
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10));
    e.handle_datagram(SocketAddr::new(other, 2010), b"3 4000\tt\tT\n");
    let addr = SocketAddr::new(other, 4000);
    assert_eq!(actions(&mut e), vec![Action::Connect { addr, name: b"T".to_vec() }]);
}

// ---------------------------------------------------------------------------------
// Limits (DESIGN §5): the offender is dropped, the others are served.

/// An engine with `limits`, a victim peer and a bystander subscribed to `(.*)`.
fn limited(limits: Limits) -> (Engine, PeerId, PeerId) {
    let mut e = engine_under(limits);
    e.bind(b"(.*)");
    let bystander = raw_with(&mut e, &[(0, "(.*)")]);
    let p = raw_peer(&mut e);
    feed(&mut e, p, b"6 9998\x02BIG\n");
    (e, p, bystander)
}

#[track_caller]
fn assert_dropped(e: &mut Engine, p: PeerId, bystander: PeerId) {
    expect_out(e, p, BAD);
    assert_eq!(actions(e), vec![Action::Close(p)]);
    feed(e, p, b"9 1\x02\n");
    expect_out(e, p, b"");
    assert_eq!(e.send_msg(b"hi"), Ok(1));
    expect_out(e, bystander, b"2 0\x02hi\x03\n");
    feed(e, bystander, b"9 2\x02\n2 0\x02ok\x03\n");
    expect_out(e, bystander, b"10 2\x02\n");
    assert!(events(e).contains(&msg_ev(bystander, 0, b"ok\x03")));
}

/// The victim sends `line`, past a limit: no event, and it is dropped.
#[track_caller]
fn assert_cut(e: &mut Engine, p: PeerId, bystander: PeerId, line: &[u8]) {
    feed(e, p, line);
    assert!(events(e).is_empty());
    assert_dropped(e, p, bystander);
}

#[test]
fn limit_line_too_long() {
    let limits = Limits { max_line: 64, ..Limits::default() };
    let (mut e, p, b) = limited(limits);
    let mut ok = b"2 0\x02".to_vec();
    ok.resize(64, b'a');
    ok.push(b'\n');
    feed(&mut e, p, &ok);
    assert_eq!(events(&mut e).len(), 1);
    expect_out(&mut e, p, b"");
    feed(&mut e, p, &[b'a'; 65]);
    assert_dropped(&mut e, p, b);

    let (mut e, p, b) = limited(limits);
    let mut long = vec![b'a'; 65];
    long.push(b'\n');
    feed(&mut e, p, &long);
    assert_dropped(&mut e, p, b);
}

#[test]
fn limit_too_many_args() {
    let (mut e, p, b) = limited(Limits { max_args: 2, ..Limits::default() });
    feed(&mut e, p, b"2 0\x02a\x03b\x03\n");
    assert_eq!(events(&mut e), vec![msg_ev(p, 0, b"a\x03b\x03")]);
    assert_cut(&mut e, p, b, b"2 0\x02a\x03b\x03c\x03\n");
}

#[test]
fn limit_too_many_args_without_trailing_etx() {
    // `a\x03b\x03c` is three fields (§2), like `a\x03b\x03c\x03`.
    let (mut e, p, b) = limited(Limits { max_args: 2, ..Limits::default() });
    assert_cut(&mut e, p, b, b"2 0\x02a\x03b\x03c\n");
}

#[test]
fn limit_too_many_regexps() {
    let (mut e, p, b) = limited(Limits { max_regexps_per_peer: 2, ..Limits::default() });
    expect_reply(&mut e, p, b"1 0\x02^a\n1 1\x02^b\n1 1\x02^c\n", b"");
    assert_eq!(events(&mut e).len(), 3);
    assert_cut(&mut e, p, b, b"1 2\x02^d\n");
}

#[test]
fn limit_regexp_too_long() {
    let (mut e, p, b) = limited(Limits { max_regexp_len: 8, ..Limits::default() });
    feed(&mut e, p, b"1 0\x0212345678\n");
    assert_eq!(events(&mut e).len(), 1);
    assert_cut(&mut e, p, b, b"1 1\x02123456789\n");
}

#[test]
fn limit_peers_counts_accepted_dialled_and_dialling() {
    let mut e = engine_under(Limits { max_peers: 3, ..Limits::default() });
    let accepted = raw_peer(&mut e);
    e.handle_datagram(hello_from(), b"3 4000 a A\n3 4001 b B\n");
    assert_eq!(actions(&mut e).len(), 2);
    let dialled = e.handle_connected(at(4000), addr(50000), Some(b"A"));
    // Full: one accepted, one dialled, one being dialled.
    assert!(!e.admit(addr(1)));
    e.handle_datagram(hello_from(), b"3 4002 c C\n");
    assert!(actions(&mut e).is_empty(), "a hello past max_peers is ignored");
    // The peers held are served as before.
    expect_reply(&mut e, accepted, b"9 1\x02\n", b"10 1\x02\n");
    // A failed connect, then a peer leaving, each make room for one.
    e.handle_connect_failed(at(4001));
    assert!(e.admit(addr(1)));
    e.handle_datagram(hello_from(), b"3 4002 c C\n");
    assert_eq!(actions(&mut e), vec![Action::Connect { addr: at(4002), name: b"C".to_vec() }]);
    assert!(!e.admit(addr(1)));
    e.handle_closed(dialled);
    assert!(e.admit(addr(1)), "a closed peer counts no more, reaped or not");
    e.handle_closed(dialled);
    assert!(e.admit(addr(1)));
    raw_peer(&mut e);
    assert!(!e.admit(addr(1)), "closing it twice freed one place only");
}

#[test]
fn limit_dials_under_way_to_half_of_max_peers() {
    let mut e = engine_under(Limits { max_peers: 4, ..Limits::default() });
    e.handle_datagram(hello_from(), b"3 4000 a A\n3 4001 b B\n3 4002 c C\n");
    assert_eq!(actions(&mut e).len(), 2, "two connects under way at most");
    // The other half of the places stays for incoming connections.
    raw_peer(&mut e);
    assert!(e.admit(addr(1)));
    raw_peer(&mut e);
    assert!(!e.admit(addr(1)));
    // A connect given up makes room for the next hello.
    e.handle_connect_failed(at(4000));
    e.handle_datagram(hello_from(), b"3 4002 c C\n");
    assert_eq!(actions(&mut e), vec![Action::Connect { addr: at(4002), name: b"C".to_vec() }]);
}

// ---------------------------------------------------------------------------------
// Stale handles

#[test]
fn stale_peer_id_after_reap_is_harmless() {
    let (mut e, p) = subscribed(&[(0, "(.*)")]);
    e.reap(p); // not dead yet: kept
    assert!(e.peer(p).is_some());
    e.handle_closed(p);
    assert_eq!(events(&mut e), vec![app(p, AppEvent::Disconnected)]);
    assert_eq!(e.send_msg(b"x"), Ok(0));
    e.reap(p);
    assert!(e.peer(p).is_none());
    let q = raw_with(&mut e, &[(0, "(.*)")]);
    assert_ne!(p, q);

    feed(&mut e, p, b"9 1\x02\n1 5\x02(.*)\n");
    e.handle_written(p, 10, true);
    e.handle_written(p, 10, false);
    assert_eq!(take_out(&mut e, p), b"");
    assert_eq!(e.send_direct(p, 1, b"x"), Err(SendError::NoPeer));
    assert_eq!(e.send_error(p, 1, b"x"), Err(SendError::NoPeer));
    assert_eq!(e.send_die(p, 0, b""), Err(SendError::NoPeer));
    assert_eq!(e.ping(p, ZERO), Err(SendError::NoPeer));
    assert_eq!(e.peer_regexps(p), None);
    e.handle_closed(p);
    e.reap(p);
    assert_quiet(&mut e);
    assert_eq!(e.peers(), vec![q]);
    // The live peer was not touched.
    expect_out(&mut e, q, b"");
    assert_eq!(e.send_msg(b"x"), Ok(1));
    expect_out(&mut e, q, b"2 0\x02x\x03\n");
}

// ---------------------------------------------------------------------------------
// Matching: bytes, as ivy-c (issue 11), or text, as ivy-python

#[test]
fn matching_is_on_bytes_as_ivy_c() {
    let (mut e, p) = subscribed(&[(0, "^dot (.)$"), (1, "^two (..)$"), (2, "^neg ([^x])")]);
    assert_eq!(e.send_msg("dot é".as_bytes()), Ok(0), "é is two bytes, . one");
    assert_eq!(e.send_msg("two é".as_bytes()), Ok(1));
    assert_eq!(e.send_msg("neg é".as_bytes()), Ok(1));
    // Captures may end inside a character, as ivy-c's do.
    expect_out(&mut e, p, b"2 1\x02\xc3\xa9\x03\n2 2\x02\xc3\x03\n");
}

#[test]
fn ivy_python_matching_takes_whole_characters_anchored_with_every_group() {
    let mut e = engine();
    e.set_matching(Matching::IvyPython);
    let subs =
        [(0, "^dot (.)$"), (1, "^two (..)$"), (2, "^neg ([^x])"), (3, "world"), (4, "(a)(b)?(c)?"), (5, "(?=p)peace")];
    let p = raw_with(&mut e, &subs);
    assert_eq!(e.send_msg("dot é".as_bytes()), Ok(1));
    assert_eq!(e.send_msg("two é".as_bytes()), Ok(0));
    expect_sent(&mut e, p, "neg é".as_bytes(), 1, "2 0\x02é\x03\n2 2\x02é\x03\n".as_bytes());
    // A message that is not UTF-8 is read as bytes.
    expect_sent(&mut e, p, b"dot \xe9", 1, b"2 0\x02\xe9\x03\n");
    // Anchored at the start (re.match), not at the end.
    assert_eq!(e.send_msg(b"hello world"), Ok(0));
    expect_sent(&mut e, p, b"world peace", 1, b"2 3\x02\n");
    // The backtracking engine too (a look-ahead).
    assert_eq!(e.send_msg(b"world peace"), Ok(1));
    expect_sent(&mut e, p, b"peace", 1, b"2 3\x02\n2 5\x02\n");
    // Every group, empty when it took no part (ivy-c omits trailing ones).
    assert_eq!(e.send_msg(b"ac"), Ok(1));
    expect_sent(&mut e, p, b"a", 1, b"2 4\x02a\x03\x03c\x03\n2 4\x02a\x03\x03\x03\n");
}

#[test]
fn a_message_to_one_peer_a_die_with_text_and_what_is_known_of_peers() {
    let (mut e, p) = subscribed(&[(3, "^m (.*)"), (1, "^x")]);
    let q = raw_peer(&mut e);
    feed(&mut e, q, b"6 9998\x02OTHER\n1 0\x02^m (.*)\n5 0\x02\n");
    take_out(&mut e, q);
    assert_eq!(e.send_msg_to(p, b"m one"), Ok(1));
    expect_out(&mut e, p, b"2 3\x02one\x03\n");
    expect_out(&mut e, q, b"");
    assert_eq!(e.send_die(q, 7, b"bye now"), Ok(()));
    expect_out(&mut e, q, b"8 7\x02bye now\n");
    assert_eq!(e.send_die(q, 7, b"two\nlines"), Err(SendError::LineFeed));
    assert_eq!(e.peer_subscriptions(p), Some(vec![(3, b"^m (.*)".to_vec()), (1, b"^x".to_vec())]));
    // An accepted peer sent no hello: no app id. A dialled one has its hello's.
    assert_eq!(e.peer(p).map(|p| p.app_id().to_vec()), Some(vec![]));
    e.handle_datagram(addr(2010), b"3 4567 9:9:4567 HELLO\n");
    assert_eq!(actions(&mut e).len(), 1);
    let d = e.handle_connected(addr(4567), addr(40999), Some(b"HELLO"));
    assert_eq!(e.peer(d).map(|p| p.app_id().to_vec()), Some(b"9:9:4567".to_vec()));
    e.handle_closed(p);
    assert_eq!(e.send_msg_to(p, b"m two"), Err(SendError::NoPeer));
}
