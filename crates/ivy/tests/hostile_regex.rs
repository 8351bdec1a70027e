//! Hostile subscriptions: a raw peer subscribes regexps that make a backtracking
//! engine explode, while our agent X (in this process) sends 100 KB messages. Every
//! send must return promptly (DESIGN §4: the linear `regex` crate where it can, the
//! backtracking fallback with a step budget where it must), the hostile peer's
//! frames stay whole, and a well-behaved agent Y keeps getting every message.
//!
//! A send costs at most one backtracking budget ([`ivy::pattern::BACKTRACK_LIMIT`]
//! steps) per backtracking pattern. How long a budget takes depends on the build
//! (about 25 ms optimised, ten times more in a debug build): the bounds below are
//! calibrated on the spot by timing one exhausted budget, so that they hold on any
//! machine and profile, and are also checked against an absolute bound in optimised
//! builds.

use ivy_testkit as common;

use common::*;
use ivy::Limits;
use ivy_proto::engine::{LINE_BYTES_PER_UNIT, MESSAGE_WORK, QUADRATIC_MAX_MESSAGE, SEARCH_BASE};
use ivy_proto::pattern::Pattern;
use std::net::TcpStream;
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Message length of every test.
const LEN: usize = 100_000;

/// X, a good agent Y subscribed to X's `^good (\d+)$`, and a hostile raw peer.
struct Fix {
    x: Running,
    _y: Running,
    goods: Receiver<Vec<Vec<u8>>>,
    hostile: Raw,
    /// What the hostile peer reads, once it subscribed.
    hostile_lines: Option<(Receiver<Vec<u8>>, JoinHandle<()>)>,
    /// Msg lines X sent to the hostile peer.
    to_hostile: usize,
    round: u32,
}

fn fix() -> Fix {
    let y = agent("Y", None);
    let goods = forward(&y, "^good (\\d+)$");
    let Connected { x, y, .. } = start_connected(agent("X", None), y);
    let mut hostile = Raw::connect(x.port());
    hostile.read_handshake();
    Fix { x, _y: y, goods, hostile, hostile_lines: None, to_hostile: 0, round: 0 }
}

/// The lines a peer receives, read on a thread until EOF (a last line without LF
/// comes out as it is).
fn drain(stream: TcpStream) -> (Receiver<Vec<u8>>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    (rx, send_lines(stream, tx))
}

impl Fix {
    /// The hostile peer subscribes `patterns` (ids from 0); checked with a ping.
    /// Returns the lines X sent back before the pong (Error replies).
    fn subscribe(&mut self, patterns: &[&str]) -> Vec<Vec<u8>> {
        self.hostile.send(&[handshake_subscribing(1, "HOSTILE", (0..).zip(patterns)), b"9 1\x02\n".to_vec()].concat());
        let replies = std::iter::repeat_with(|| self.hostile.read_line()).take_while(|l| l != b"10 1\x02\n").collect();
        self.hostile_lines = Some(drain(self.hostile.stream.try_clone().expect("clone")));
        replies
    }

    /// Y gets X's next message (the hostile peer may get it too).
    #[track_caller]
    fn served(&mut self) {
        self.round += 1;
        let k = self.round;
        let n = self.x.send(format!("good {k}").as_bytes()).expect("sent");
        assert!(n >= 1, "Y's subscription is gone");
        self.to_hostile += n - 1;
        assert_eq!(recv(&self.goods, "Y's message"), strs(&[&k.to_string()]));
    }

    /// Sends each message, timing each send; returns the longest and the total.
    fn timed_sends(&mut self, messages: &[Vec<u8>]) -> (Duration, Duration) {
        let mut longest = Duration::ZERO;
        let start = Instant::now();
        for m in messages {
            let t = Instant::now();
            self.to_hostile += self.x.send(m).expect("sent");
            longest = longest.max(t.elapsed());
            self.served();
        }
        (longest, start.elapsed())
    }

    /// Every Msg line X sent reached the hostile peer whole; returns how many.
    #[track_caller]
    fn hostile_got_whole_lines(&mut self) -> usize {
        let (rx, _) = self.hostile_lines.as_ref().expect("subscribed");
        for _ in 0..self.to_hostile {
            let l = recv(rx, "a Msg line at the hostile peer");
            let head = show(&l[..l.len().min(60)]);
            assert!(l.starts_with(b"2 ") && (l.ends_with(b"\x03\n") || l.ends_with(b"\x02\n")), "torn line {head}");
        }
        assert_no_recv(rx, 10, "line at the hostile peer");
        self.to_hostile
    }
}

fn repeat(unit: &[u8], len: usize) -> Vec<u8> {
    unit.iter().copied().cycle().take(len).collect()
}

/// Messages of `len` bytes that make backtracking engines try every split: runs
/// of one letter with a wrong last byte, and mixed words.
fn evil_messages(n: usize, len: usize) -> Vec<Vec<u8>> {
    let kinds = [
        [repeat(b"a", len - 1), b"!".to_vec()].concat(),
        repeat(b"x", len),
        repeat(b"ab xyz019_", len),
        [repeat(b"a", len - 1), b"\n".to_vec()].concat(),
    ];
    (0..n).map(|i| kinds[i % kinds.len()].clone()).collect()
}

/// How long one search that uses the whole backtracking budget takes here.
fn budget_time() -> Duration {
    let p = Pattern::compile(b"(a*)*\\1b").expect("compiles");
    assert!(p.is_backtracking());
    let m = repeat(b"a", LEN);
    let mut out = Vec::new();
    (0..3)
        .map(|_| {
            let t = Instant::now();
            assert!(!p.captures(&m, &mut out));
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// Catastrophic for a backtracking engine; linear for the `regex` crate.
const NESTED: &[&str] = &[
    "(a+)+$",
    "(x+x+)+y",
    "(a|a)*b",
    "((a*)*)*b",
    "(a|aa)+$",
    "^(\\w+\\s?)*$",
    "((((((((((a*)*)*)*)*)*)*)*)*)*)*b",
    "(\\w+\\s?)+!",
    "([a-z]+)*[0-9]{3}!",
    "(x+)+(y+)+z",
];

/// Back-references: only the backtracking engine takes them, with its step budget.
const BACKREFS: &[&str] = &["(a*)*\\1b", "(\\w+)*\\1x"];

#[test]
fn nested_quantifiers_do_not_stall_the_sender() {
    for p in NESTED {
        assert!(!Pattern::compile(p.as_bytes()).expect("compiles").is_backtracking(), "{p} should be linear");
    }
    let mut f = fix();
    assert_eq!(f.subscribe(NESTED), Vec::<Vec<u8>>::new());
    let (longest, total) = f.timed_sends(&evil_messages(20, LEN));
    eprintln!("20 sends of 100 KB through {} nested patterns: {total:?} (longest {longest:?})", NESTED.len());
    let bound = if cfg!(debug_assertions) { Duration::from_secs(5) } else { Duration::from_secs(2) };
    assert!(total < bound, "20 sends of 100 KB took {total:?} (longest {longest:?})");
    assert!(f.hostile_got_whole_lines() > 0, "some of the patterns match");
}

#[test]
fn backreferences_cost_at_most_their_budget() {
    for p in BACKREFS {
        assert!(Pattern::compile(p.as_bytes()).expect("compiles").is_backtracking(), "{p} should backtrack");
    }
    let budget = budget_time();
    let mut f = fix();
    assert_eq!(f.subscribe(BACKREFS), Vec::<Vec<u8>>::new());
    // The longest messages they run on: past it, they do not run at all.
    let (longest, total) = f.timed_sends(&evil_messages(20, QUADRATIC_MAX_MESSAGE));
    eprintln!("20 sends of 8 KiB through {BACKREFS:?}: {total:?} (longest {longest:?}, budget {budget:?})");
    // Each pattern may spend its budget once per message (four times, for slack: the
    // tests around run in parallel), plus the linear work.
    let per_send = budget * (4 * BACKREFS.len() as u32) + Duration::from_millis(200);
    assert!(longest < per_send, "a send took {longest:?}, one budget takes {budget:?}");
    if !cfg!(debug_assertions) {
        assert!(total < Duration::from_secs(2), "20 sends of 100 KB took {total:?}");
    }
    f.hostile_got_whole_lines();
}

#[test]
fn lookaround_is_not_quadratic() {
    // `(?=[^x]*x)a`: the backtracking budget counts backtracks, not the scan of the
    // look-ahead's body, which runs to the end of the message from every start
    // position: O(n²) steps, about 8 s per 100 KB message optimised, five minutes in
    // a debug build (`a(?=a*$)x`: four times as much). Such a pattern runs only on
    // messages up to QUADRATIC_MAX_MESSAGE; one 30 KB send shows it.
    let budget = budget_time();
    let mut f = fix();
    assert_eq!(f.subscribe(&["(?=[^x]*x)a"]), Vec::<Vec<u8>>::new());
    let msg = repeat(b"a", 30_000);
    let t = Instant::now();
    let _ = f.x.send(&msg);
    let took = t.elapsed();
    assert!(took < budget * 4 + Duration::from_millis(100), "one 30 KB send took {took:?} (budget {budget:?})");
}

#[test]
fn many_backtracking_patterns_share_one_budget() {
    // 32 distinct patterns that each spend the whole budget on a run of `a`: without
    // a cap, every message, even 300 bytes, would cost 32 budgets; with the 4096
    // regexps a peer may hold, minutes per message. A peer holds at most
    // max_backtracking_per_peer (8) of them, each with 1/8 of the old budget.
    let budget = budget_time();
    let patterns: Vec<String> = (0..32).map(|i| format!("(a*)*\\1b{i}")).collect();
    let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
    let mut f = fix();
    let errors = f.subscribe(&refs);
    let max = Limits::default().max_backtracking_per_peer;
    let want: Vec<Vec<u8>> = (max..32)
        .map(|i| {
            let text = format!("(a*)*\\1b{i}");
            format!("3 0\x02Error compiling '{text}', more than {max} regular expressions that need backtracking\n")
                .into_bytes()
        })
        .collect();
    assert_eq!(errors.iter().map(|l| show(l)).collect::<Vec<_>>(), want.iter().map(|l| show(l)).collect::<Vec<_>>());
    let msg = repeat(b"a", 300);
    let t = Instant::now();
    let _ = f.x.send(&msg);
    let took = t.elapsed();
    // At most one budget per pattern kept (twice, for slack: tests run in parallel).
    let bound = budget * (2 * max as u32) + Duration::from_millis(100);
    assert!(took < bound, "one 300-byte send took {took:?} (budget {budget:?})");
}

#[test]
fn large_linear_programs_are_bounded() {
    // 11 bytes of regexp, far below max_regexp_len: with thousands of states, the
    // captures would run the PikeVM over the whole message, about 3.5 s per 100 KB
    // message optimised (`(a?){3000}a{3000}` on `xxx…`: 7 s, without even matching).
    // Past REGEX_SIZE_LIMIT a regexp is refused; a pattern of n states runs only
    // on messages up to about MESSAGE_WORK / n bytes. One 10 KB send shows it.
    let mut f = fix();
    let kept = ["(.*a){1000}", "(.*a){300}", "(.*a){100}", "(a?){300}a{300}"];
    let errors = f.subscribe(&[&kept[..], &["(.*a){3000}", "(a?){3000}a{3000}"]].concat());
    let too_large =
        |p: &str| show(format!("3 {}\x02Error compiling '{p}', regular expression is too large\n", p.len()).as_bytes());
    let shown: Vec<String> = errors.iter().map(|l| show(l)).collect();
    assert_eq!(shown, vec![too_large("(.*a){3000}"), too_large("(a?){3000}a{3000}")]);
    let msg = repeat(b"a", 10_000);
    let t = Instant::now();
    let _ = f.x.send(&msg);
    let took = t.elapsed();
    // Only `(.*a){100}` runs: about 40 ms optimised, a second or more in a debug
    // build on a busy machine; all four would take 0.6 s optimised, 10 s debug.
    let bound = Duration::from_millis(if cfg!(debug_assertions) { 5000 } else { 250 });
    assert!(took < bound, "one 10 KB send took {took:?}");
}

/// What one search of `pattern` and its Msg line cost on a message of `len` bytes.
fn work(pattern: &str, len: usize) -> u64 {
    let p = Pattern::compile(pattern.as_bytes()).expect("compiles");
    SEARCH_BASE + p.cost_per_byte() * len as u64 + 1 + len as u64 / LINE_BYTES_PER_UNIT
}

/// 300 distinct patterns of 62 states whose captures run the PikeVM over a run
/// of `a` (on 100 KB, 80 ms each optimised: 24 s per message in all before
/// the budget counted work).
fn costly_patterns(tag: &str) -> Vec<String> {
    (0..300).map(|i| format!("(.*a){{19}}(?:|z{tag}{i:03})")).collect()
}

#[test]
fn many_small_costly_patterns_share_one_message_work() {
    // On a 1 KiB message each search may cost 62 × 1024 steps: as many run as
    // MESSAGE_WORK pays for, exactly, and on 100 KB none (each alone passes it).
    let patterns = costly_patterns("");
    let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
    let mut f = fix();
    assert_eq!(f.subscribe(&refs), Vec::<Vec<u8>>::new());
    let short = repeat(b"a", 1024);
    let (longest, total) = f.timed_sends(&[short.clone(), short, repeat(b"a", LEN)]);
    eprintln!("3 sends through 300 costly patterns: {total:?} (longest {longest:?})");
    let bound = Duration::from_secs(if cfg!(debug_assertions) { 10 } else { 1 });
    assert!(longest < bound, "a send took {longest:?}");
    let per_message = (MESSAGE_WORK / work(&patterns[0], 1024)) as usize;
    assert!((5..300).contains(&per_message), "{per_message}");
    assert_eq!(f.hostile_got_whole_lines(), 2 * per_message);
}

#[test]
fn many_costly_peers_share_one_message_work() {
    // Ten peers with 300 costly patterns each: a message still costs at most
    // MESSAGE_WORK in all (before, each peer had its own budget: ten times the
    // time), and Y, whose subscription is a literal shape, gets every message.
    let mut f = fix();
    assert_eq!(f.subscribe(&[]), Vec::<Vec<u8>>::new());
    let mut peers: Vec<(Raw, Receiver<Vec<u8>>)> = (0..10)
        .map(|k| {
            let mut raw = Raw::connect(f.x.port());
            raw.read_handshake();
            let hs = handshake_subscribing(2 + k, &format!("COSTLY{k}"), (0..).zip(costly_patterns(&k.to_string())));
            raw.send(&[hs, b"9 1\x02\n".to_vec()].concat());
            assert_eq!(raw.read_line(), b"10 1\x02\n", "no Error before the Pong");
            let (rx, _) = drain(raw.stream.try_clone().expect("clone"));
            (raw, rx)
        })
        .collect();
    let message = repeat(b"a", 1024);
    let (longest, total) = f.timed_sends(&[message.clone(), message.clone(), message]);
    eprintln!("3 sends through 10 peers of 300 costly patterns: {total:?} (longest {longest:?})");
    let bound = Duration::from_secs(if cfg!(debug_assertions) { 10 } else { 1 });
    assert!(longest < bound, "a send took {longest:?}");
    // Each peer got whole lines: its fair share of one message's work, a tenth.
    let mut lines = 0;
    for (_, rx) in &mut peers {
        while let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            assert!(l.starts_with(b"2 ") && l.ends_with(b"\x03\n"), "torn line {}", show(&l[..l.len().min(60)]));
            lines += 1;
        }
    }
    let per_peer = (MESSAGE_WORK / 10 / work(&costly_patterns("0")[0], 1024)) as usize;
    assert!(per_peer >= 1);
    assert_eq!(lines, 3 * 10 * per_peer);
}
