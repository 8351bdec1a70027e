//! The agent-wide budgets against the sans-IO engine: the work of a loop turn
//! (a flood of subscriptions, the teardown of a peer that held thousands), the
//! peers' line buffers, their output queues, and the texts of their regexps.
//! Bytes in, exact counts out; turns are run by hand, as the driver runs them.

use super::budget::line_cost;
use super::work::{TURN_WORK, compile_cost};
use super::*;
use crate::pattern::Pattern;
use crate::testing::{self, drain_output, events, feed};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

const BAD: &[u8] = b"3 3\x02bad format request expected 'type id ...'\n0 0\x02\n";

fn engine(limits: Limits) -> Engine {
    let mut e = Engine::new(b"X", None);
    e.set_limits(limits);
    e.set_local(7777, b"1:2:7777");
    e
}

/// An accepted peer that sent its handshake (`name`, no regexp); output cleared.
fn peer(e: &mut Engine, name: &str) -> PeerId {
    let port = 40000 + e.peers().len() as u16;
    let remote = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    let p = e.handle_connected(remote, remote, None);
    feed(e, p, format!("6 {port}\x02{name}\n5 0\x02\n").as_bytes());
    drain_output(e, p);
    events(e);
    p
}

/// Reads `bytes` into the peer as the driver does in one turn: until they are
/// all in, or its lines wait; returns how many went in.
fn read_until_waiting(e: &mut Engine, p: PeerId, bytes: &[u8]) -> usize {
    let mut given = 0;
    while given < bytes.len() && !e.input_waits(p) {
        let Some(room) = e.input_room(p) else { break };
        let n = room.len().min(bytes.len() - given);
        room[..n].copy_from_slice(&bytes[given..given + n]);
        e.handle_input(p, n);
        given += n;
    }
    given
}

fn bind_events(e: &mut Engine) -> usize {
    events(e).iter().filter(|ev| matches!(ev, Event::Bind { .. })).count()
}

/// AddRegexp lines of `texts`, ids from 0.
fn subscriptions(texts: &[String]) -> Vec<u8> {
    texts.iter().enumerate().flat_map(|(i, t)| format!("1 {i}\x02{t}\n").into_bytes()).collect()
}

/// How many of `texts`' AddRegexp lines a turn with nothing spent yet takes:
/// lines are taken while the turn's work is not spent, each costing its line
/// and its compile.
fn taken_in_one_turn(texts: &[String]) -> usize {
    let mut spent = 0;
    let mut taken = 0;
    for (i, text) in texts.iter().enumerate() {
        if spent >= TURN_WORK {
            break;
        }
        let memory = Pattern::compile(text.as_bytes()).ok().map(|p| p.memory_usage());
        spent += line_cost(format!("1 {i}\x02{text}").len()) + compile_cost(memory);
        taken += 1;
    }
    taken
}

#[test]
fn a_flood_of_subscriptions_is_spread_over_turns_and_others_are_answered_meanwhile() {
    let mut e = engine(Limits::default());
    let (flood, good) = (peer(&mut e, "FLOOD"), peer(&mut e, "GOOD"));
    let texts: Vec<String> = (0..2000).map(|i| format!("(.*a){{19}}(?:|z{i})")).collect();
    e.handle_turn();
    let bytes = subscriptions(&texts);
    let given = read_until_waiting(&mut e, flood, &bytes);
    // The turn's work is spent: the rest of the flood waits, unread or buffered.
    // Bytes received count too (a unit per 64): a line or two fewer.
    let first = bind_events(&mut e);
    let most = taken_in_one_turn(&texts);
    assert!((most - 2..=most).contains(&first), "{first} compiles in one turn, {most} without the reads");
    assert!(first < texts.len() / 4, "{first} compiles in one turn");
    assert!(e.input_waits(flood) && e.work_waits());
    // A well-behaved peer is answered in the same turn.
    feed(&mut e, good, b"9 7\x02\n");
    assert_eq!(drain_output(&mut e, good), b"10 7\x02\n");
    // A compile of its own waits for a turn with work left; the peers that
    // wait take turns at having the turn's work first: GOOD's comes within two.
    read_until_waiting(&mut e, good, b"1 0\x02^good (.*)$\n");
    assert!(e.input_waits(good));
    assert_eq!(bind_events(&mut e), 0);
    let mut turns = 0;
    let mut total = first;
    let mut given = given;
    let mut good_at = None;
    while given < bytes.len() || e.work_waits() {
        e.handle_turn();
        turns += 1;
        if good_at.is_none() && !e.input_waits(good) {
            good_at = Some(turns);
        }
        given += read_until_waiting(&mut e, flood, &bytes[given..]);
        let taken = bind_events(&mut e);
        assert!(taken < texts.len() / 4, "{taken} in one turn");
        total += taken;
        assert!(turns < 1000);
    }
    assert!(good_at.is_some_and(|t| t <= 2), "GOOD's compile at turn {good_at:?}");
    // Every line is taken in the end, none twice, over many turns.
    assert_eq!(total, texts.len() + 1);
    assert_eq!(e.peer_regexps(flood).map(|r| r.len()), Some(texts.len()));
    assert!(turns >= 8, "{turns} turns");
}

/// Runs turns until no work waits, taking the garbage at the end of each as
/// the driver does; returns the turns run and what was handed out.
fn settle_taking_garbage(e: &mut Engine) -> (usize, Vec<Garbage>) {
    let mut handed = Vec::new();
    let mut turns = 0;
    while e.work_waits() {
        e.handle_turn();
        turns += 1;
        handed.extend(e.take_garbage());
    }
    (turns, handed)
}

/// An engine where three FLOOD peers subscribed 2000 costly regexps each
/// (compiled, none searched) after GOOD's one, under `limits`: more than a
/// turn's teardown. Returns them and what their regexps hold.
fn flooded(limits: Limits) -> (Engine, Vec<PeerId>, usize) {
    let mut e = engine(limits);
    let good = peer(&mut e, "GOOD");
    feed(&mut e, good, b"1 0\x02^good (.*)$\n");
    let good_memory = e.dict.memory().0;
    let floods: Vec<PeerId> = (0..3).map(|_| peer(&mut e, "FLOOD")).collect();
    for (n, &flood) in floods.iter().enumerate() {
        let texts: Vec<String> = (0..2000).map(|i| format!("(.*a){{19}}(?:|z{n}_{i})")).collect();
        feed(&mut e, flood, &subscriptions(&texts));
        assert_eq!(e.peer_regexps(flood).map(|r| r.len()), Some(texts.len()));
    }
    events(&mut e);
    let held = e.dict.memory().0 - good_memory;
    (e, floods, held)
}

/// Closes `peers`, as their connections end.
fn close_all(e: &mut Engine, peers: &[PeerId]) {
    for &p in peers {
        e.handle_closed(p);
    }
}

#[test]
fn peers_that_held_thousands_of_regexps_are_torn_down_in_slices() {
    // A garbage bound past all they hold (by default: see the next test).
    let limits = Limits { max_pattern_memory: GARBAGE_PART * (64 << 20), ..Limits::default() };
    let (mut e, floods, held) = flooded(limits);
    let good_memory = e.dict.memory().0 - held;
    assert!(held > 6000 * 1000);
    assert!(e.take_garbage().is_none(), "nothing dropped, nobody closed");
    close_all(&mut e, &floods);
    let gone = floods.iter().map(|&peer| Event::App { peer, event: AppEvent::Disconnected });
    assert_eq!(events(&mut e), gone.collect::<Vec<_>>());
    // Nothing more goes to them, though their regexps are still being dropped.
    assert_eq!(e.send_msg(b"zz aaaaaaaaaaaaaaaaaaaaa z0_5"), Ok(0));
    let cached = e.dict.memory().2;
    assert!(cached > 0, "searched, their caches kept");
    assert!(e.work_waits());
    let (turns, handed) = settle_taking_garbage(&mut e);
    assert!(turns > 1, "{turns} turns");
    assert_eq!(e.dict.memory().0, good_memory, "only GOOD's regexp is left");
    assert!(e.dict.memory().1 < 64, "the tables shrank");
    // Not freed in the engine: handed out once, when the teardown is done.
    let [garbage] = &handed[..] else { panic!("{} hand-outs", handed.len()) };
    assert!(garbage.settles());
    assert_eq!(garbage.bytes(), held + cached, "the patterns, their texts and caches");
    assert!(e.take_garbage().is_none());
    assert_eq!(e.send_msg(b"good 1"), Ok(1));
}

#[test]
fn garbage_past_its_bound_is_handed_out_before_the_teardown_is_done() {
    let limits = Limits { max_pattern_memory: 64 << 20, ..Limits::default() };
    let bound = limits.max_pattern_memory / GARBAGE_PART;
    let (mut e, floods, held) = flooded(limits);
    assert!(held > 2 * bound, "{held} bytes");
    close_all(&mut e, &floods);
    let (_, handed) = settle_taking_garbage(&mut e);
    let Some((last, early)) = handed.split_last() else { panic!("nothing handed out") };
    assert!(!early.is_empty(), "a teardown of {held} bytes, handed out at its end only");
    for garbage in early {
        assert!(!garbage.settles(), "a teardown is left");
        assert!(garbage.bytes() > bound, "{} bytes, bound {bound}", garbage.bytes());
    }
    assert!(last.settles());
    assert_eq!(handed.iter().map(Garbage::bytes).sum::<usize>(), held, "all of it, once");
}

#[test]
fn line_buffers_share_one_budget() {
    // 1 MiB for all, 4 peers: a part is 256 KiB.
    let limits = Limits { max_input_memory: 1 << 20, max_peers: 4, ..Limits::default() };
    let mut e = engine(limits);
    let (a, b, c) = (peer(&mut e, "A"), peer(&mut e, "B"), peer(&mut e, "C"));
    let base = e.input_held;
    // A holds a partial line of 700 KB: under the budget.
    let partial = vec![b'x'; 700_000];
    feed(&mut e, a, &partial);
    assert_eq!(drain_output(&mut e, a), b"");
    // B's buffer may grow to its part (256 KiB), and past it while the total
    // stays within the budget; then it is cut as for a line too long.
    feed(&mut e, b, &partial);
    assert_eq!(drain_output(&mut e, b), BAD);
    assert_eq!(testing::actions(&mut e), vec![Action::Close(b)]);
    let notice = testing::notices(&mut e).into_iter().find(|n| matches!(n, Notice::LimitPassed { .. }));
    let Some(Notice::LimitPassed { limit, max, value, .. }) = notice else { panic!("no notice") };
    assert_eq!((limit, max), ("input memory of all peers", 1 << 20));
    assert!(value > 1 << 20);
    assert!(e.input_held <= (1 << 20) + (64 << 10), "{} bytes held", e.input_held);
    // C, under its part, still reads lines of up to 256 KiB.
    let mut line = vec![b'y'; 150_000];
    line.push(b'\n');
    feed(&mut e, c, &[b"9 1\x02".as_slice(), &line, b"9 2\x02\n"].concat());
    assert_eq!(drain_output(&mut e, c), b"10 1\x02\n10 2\x02\n");
    // What the peers held goes back when they leave.
    e.handle_closed(b);
    e.handle_closed(a);
    assert!(e.input_held <= base + (64 << 10), "{} bytes held, {base} before", e.input_held);
}

#[test]
fn output_queues_share_one_budget() {
    // 1 MiB for all, 4 peers: a part is 256 KiB.
    let limits = Limits { max_output_memory: 1 << 20, max_peers: 4, ..Limits::default() };
    let mut e = engine(limits);
    let (a, b) = (peer(&mut e, "A"), peer(&mut e, "B"));
    for p in [a, b] {
        feed(&mut e, p, b"1 0\x02^m (.*)$\n");
    }
    events(&mut e);
    // Neither reads: their queues fill the budget, then hold no more than that.
    let message = format!("m {}", "z".repeat(1000));
    let line = format!("2 0\x02{}\x03\n", &message[2..]).len();
    let mut sent = 0;
    while e.send_msg(message.as_bytes()) == Ok(2) && events(&mut e).is_empty() {
        sent += 1;
        assert!(sent < 10_000);
    }
    // Past the budget, each queue is capped at its part, which both passed:
    // B's line of the last send (the newest subscriber goes first) still
    // fit, A's did not.
    assert_eq!(sent, ((1 << 20) + line) / (2 * line));
    assert_eq!(testing::output_len(&e, a), sent * line);
    assert_eq!(testing::output_len(&e, b), (sent + 1) * line);
    assert_eq!(e.outbox.held, (2 * sent + 1) * line);
    // A ping from a peer that does not read is answered within its part only.
    let c = peer(&mut e, "C");
    let pings: Vec<u8> = (0..100_000).flat_map(|i| format!("9 {i}\x02\n").into_bytes()).collect();
    feed(&mut e, c, &pings);
    let held = testing::output_len(&e, c);
    assert!(held <= 256 << 10 && held > (256 << 10) - 16, "{held}");
    // Written out, the room comes back.
    drain_output(&mut e, a);
    drain_output(&mut e, c);
    assert_eq!(e.outbox.held, (sent + 1) * line);
    e.handle_closed(b);
    assert_eq!(e.outbox.held, 0);
}

#[test]
fn texts_of_broken_and_refused_regexps_count_against_the_pattern_budget() {
    // Room for 64 KiB of regexps in all, 4 peers: a part is 16 KiB.
    let limits = Limits { max_pattern_memory: 64 << 10, max_peers: 4, ..Limits::default() };
    let mut e = engine(limits);
    let (hog, good) = (peer(&mut e, "HOG"), peer(&mut e, "GOOD"));
    // 8 KiB texts that do not compile: each kept (listed, answered), and counted.
    let broken = |i: usize| format!("({i}{}", "x".repeat(8 << 10).get(..(8 << 10) - 6).unwrap_or_default());
    let mut lines = Vec::new();
    for i in 0..20 {
        lines.extend_from_slice(format!("1 {i}\x02{}\n", broken(i)).as_bytes());
    }
    feed(&mut e, hog, &lines);
    let replies = drain_output(&mut e, hog);
    let replies: Vec<&[u8]> = replies.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(replies.len(), 20);
    let refused = b"', the regular expressions of all peers hold more than 65536 bytes";
    let kept = replies.iter().filter(|l| !l.ends_with(refused)).count();
    // Kept while the total is within the budget: 8 texts, the ninth passes it.
    assert_eq!(kept, 8);
    assert_eq!(e.peer_regexps(hog).map(|r| r.len()), Some(8), "refused ones are not kept");
    assert!(e.dict.memory().0 <= (64 << 10) + (8 << 10));
    // A peer under its part still gets its regexps.
    feed(&mut e, good, b"1 0\x02^good (.*)$\n");
    assert_eq!(drain_output(&mut e, good), b"");
    assert_eq!(e.send_msg(b"good x"), Ok(1));
    // Replacing a regexp by one refused (70 KB compiled): the old one goes.
    feed(&mut e, hog, b"1 3\x02x{1500}Q\n");
    assert!(drain_output(&mut e, hog).ends_with(&[refused.as_slice(), b"\n"].concat()));
    let removed = Event::Bind { peer: hog, id: 3, regexp: broken(3).into_bytes(), event: BindEvent::Removed };
    assert!(events(&mut e).contains(&removed));
    assert_eq!(e.peer_regexps(hog).map(|r| r.len()), Some(7));
}
