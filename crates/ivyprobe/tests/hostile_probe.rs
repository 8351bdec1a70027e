//! Hostile peers against a real agent process: `ivyprobe` on a private bus, with its
//! default [`ivy::Limits`], attacked over loopback while a well-behaved raw peer
//! ("GOOD") stays connected to it.
//!
//! Every case checks
//! - the documented answer (bad-format reply + Bye + close, an Error reply, or the
//!   input ignored);
//! - that GOOD loses no message, both ways (`Victim::served`);
//! - that the agent's resident memory (VmRSS of the child, read from `/proc`)
//!   returns to its baseline, within [`RSS_SLACK_KB`], and that it holds exactly as
//!   many file descriptors as before.
//!
//! The agent runs as a child process so that its memory is its own: the RSS of this
//! test process moves with every other test running in parallel. The child runs with
//! glibc's caches turned off ([`MALLOC_TUNABLES`]), so that memory the library frees
//! goes back to the system at once and VmRSS shows what the library keeps, not what
//! malloc caches.

use ivy_testkit as common;

use common::{BAD_FORMAT, MALFORMED_LINES, Process, RawListener, TIMEOUT, bus_port, send_datagram, show};
use ivy::Limits;
use std::collections::HashSet;
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// Default limits of the agent, as documented in docs/LIMITS.md (checked against
/// `ivy::Limits::default()` by `defaults_are_the_library_defaults`).
const MAX_LINE: usize = 1 << 20;
const MAX_ARGS: usize = 1024;
const MAX_REGEXPS: usize = 4096;
const MAX_REGEXP_LEN: usize = 8 << 10;
/// How far above its baseline the agent's RSS may stay after an attack.
const RSS_SLACK_KB: u64 = 1024;
/// The child's allocator gives freed memory back at once: no dynamic mmap threshold,
/// heap trimmed past 128 KiB free at its top, no fastbins or thread cache (which
/// keep freed chunks apart, unmerged, so that the heap cannot shrink).
const MALLOC_TUNABLES: &str = "glibc.malloc.mmap_threshold=65536:glibc.malloc.trim_threshold=131072:\
                               glibc.malloc.mxfast=0:glibc.malloc.tcache_count=0";
/// The agent's binding.
const VICTIM_RE: &str = "^raw (.*)$";

type Raw = common::Raw;

/// What the agent prints, one line at a time (bytes: names and texts from the bus
/// are printed raw).
struct Output {
    lines: Receiver<Vec<u8>>,
}

impl Output {
    /// The next line printed within `timeout`, without its LF.
    fn next(&self, timeout: Duration) -> Option<Vec<u8>> {
        let mut line = self.lines.recv_timeout(timeout).ok()?;
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        Some(line)
    }

    /// Waits for a printed line satisfying `pred`, skipping others except GOOD's
    /// messages: one of those out of turn is a lost or extra message.
    #[track_caller]
    fn expect(&self, what: &str, pred: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.next(left).unwrap_or_else(|| panic!("agent printed no line {what}"));
            if pred(&line) {
                return line;
            }
            assert!(!line.starts_with(b"GOOD sent"), "unexpected {} while waiting for {what}", show(&line));
        }
    }

    #[track_caller]
    fn line(&self, exact: &[u8]) -> Vec<u8> {
        self.expect(&show(exact), |l| l == exact)
    }

    #[track_caller]
    fn prefix(&self, prefix: &[u8]) -> Vec<u8> {
        self.expect(&format!("starting {}", show(prefix)), |l| l.starts_with(prefix))
    }

    /// Checks that no line satisfying `pred` comes for `ms` milliseconds.
    #[track_caller]
    fn none_for(&self, ms: u64, what: &str, pred: impl Fn(&[u8]) -> bool) {
        let deadline = Instant::now() + Duration::from_millis(ms);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left) {
                Some(line) => assert!(!pred(&line), "unexpected {what}: {}", show(&line)),
                None => return,
            }
        }
    }
}

/// One `ivyprobe` (named VICTIM, bound to `^raw (.*)$`) and the well-behaved raw peer
/// GOOD (subscribed to `^good (.*)$`) it is connected to.
struct Victim {
    process: Process,
    out: Output,
    /// The agent's TCP port.
    port: u16,
    bus_port: u16,
    good: Raw,
    round: u32,
    baseline: Usage,
}

/// What the agent holds.
#[derive(Debug, Clone, Copy)]
struct Usage {
    rss_kb: u64,
    fds: usize,
}

fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field} in status"));
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("a number of kB")
}

/// The lines `stream` gives, read on a thread of their own.
fn lines_of(stream: impl std::io::Read + Send + 'static) -> Output {
    let (tx, lines) = mpsc::channel();
    common::send_lines(stream, tx);
    Output { lines }
}

impl Victim {
    /// Starts the agent on a private bus and connects GOOD to it through a hello.
    fn spawn() -> Victim {
        Victim::spawn_with(Command::new(env!("CARGO_BIN_EXE_ivyprobe")), Stdio::inherit())
    }

    /// [`Victim::spawn`], and a raw peer connected to the agent.
    fn with_peer() -> (Victim, Raw) {
        let v = Victim::spawn();
        let raw = v.connect();
        (v, raw)
    }

    /// [`Victim::spawn`] allowed at most `max_fds` descriptors (RLIMIT_NOFILE, set
    /// by a shell in the child only), with its diagnostics on (`IVY_LOG`): the
    /// agent and the lines of its standard error.
    fn spawn_with_fd_limit(max_fds: u32) -> (Victim, Output) {
        let mut sh = Command::new("sh");
        sh.args(["-c", &format!("ulimit -n {max_fds} && exec \"$0\" \"$@\""), env!("CARGO_BIN_EXE_ivyprobe")]);
        sh.env("IVY_LOG", "1");
        let mut v = Victim::spawn_with(sh, Stdio::piped());
        let stderr = v.process.child.stderr.take().expect("stderr");
        (v, lines_of(stderr))
    }

    /// Runs `command` (ivyprobe, or what runs it) with the agent's arguments.
    fn spawn_with(mut command: Command, stderr: Stdio) -> Victim {
        let bus_port = bus_port();
        command.args(["-b", &format!("127.255.255.255:{bus_port}"), "-n", "VICTIM", VICTIM_RE]);
        command.env("GLIBC_TUNABLES", MALLOC_TUNABLES).env_remove("IVY_ALLOW").env_remove("IVY_IGNORE_DIE");
        // Killed and reaped however the setting up ends.
        let mut process = Process::spawn(&mut command, stderr);
        let out = lines_of(process.child.stdout.take().expect("stdout"));
        out.line(format!("-> bound [0] '{VICTIM_RE}'").as_bytes());
        // GOOD announces itself until the agent (whose UDP socket may not be bound
        // yet) connects to it.
        let listener = RawListener::new();
        let deadline = Instant::now() + TIMEOUT;
        let mut good = loop {
            listener.hello(bus_port, "1:1:1", "GOOD");
            if let Some(raw) = listener.accept_within(Duration::from_millis(100)) {
                break raw;
            }
            assert!(Instant::now() < deadline, "the agent never connected to GOOD");
        };
        let hs = good.read_handshake();
        let port = parse_start_port(&hs);
        common::assert_bytes(&hs, &common::handshake(port, "VICTIM", &[(0, VICTIM_RE)]));
        good.send(&common::handshake(listener.port, "GOOD", &[(0, "^good (.*)$")]));
        out.prefix(b"GOOD connected from ");
        let mut v = Victim { process, out, port, bus_port, good, round: 0, baseline: Usage { rss_kb: 0, fds: 0 } };
        v.served();
        v.baseline = v.usage();
        v
    }

    fn pid(&self) -> u32 {
        self.process.child.id()
    }

    fn usage(&self) -> Usage {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", self.pid())).expect("read /proc/PID/fd").count();
        Usage { rss_kb: status_field(self.pid(), "VmRSS:"), fds }
    }

    /// Peak RSS since the last [`Victim::reset_peak`].
    fn peak_kb(&self) -> u64 {
        status_field(self.pid(), "VmHWM:")
    }

    /// Resets the peak RSS to the current RSS.
    fn reset_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").expect("reset VmHWM");
    }

    /// Writes one line to the agent's standard input (a message to send, or a command).
    fn input(&mut self, line: &[u8]) {
        self.process.write_line(line).expect("write stdin");
    }

    /// GOOD and the agent still exchange messages both ways, in order, none lost or
    /// extra.
    #[track_caller]
    fn served(&mut self) {
        self.round += 1;
        let k = self.round;
        self.input(format!("good {k}").as_bytes());
        self.out.line(b"-> Sent to 1 peer(s)");
        self.good.expect(format!("2 0\x02{k}\x03\n").as_bytes());
        self.good.send(format!("2 0\x02g{k}\x03\n").as_bytes());
        self.out.line(format!("GOOD sent [0] 'g{k}'").as_bytes());
        self.good.ping_pong(k as i32);
    }

    /// After an attack: GOOD is served, the agent lists only GOOD, and its memory and
    /// descriptors are back to the baseline.
    #[track_caller]
    fn back_to_baseline(&mut self, what: &str) {
        self.back_within(what, RSS_SLACK_KB);
    }

    /// [`Victim::back_to_baseline`] with `slack_kb` of RSS allowed over the baseline.
    #[track_caller]
    fn back_within(&mut self, what: &str, slack_kb: u64) {
        self.served();
        let deadline = Instant::now() + TIMEOUT;
        let base = self.baseline;
        loop {
            let now = self.usage();
            if now.fds == base.fds && now.rss_kb <= base.rss_kb + slack_kb {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: the agent holds {now:?}, baseline {base:?} (+{slack_kb} kB allowed)"
            );
            thread::sleep(Duration::from_millis(20));
        }
        self.input(b".who");
        self.out.line(b"-> 1 peer(s): 'GOOD'");
        self.served();
    }

    /// A raw connection to the agent, its handshake checked.
    #[track_caller]
    fn connect(&self) -> Raw {
        let mut raw = Raw::connect(self.port);
        raw.expect(&common::handshake(self.port, "VICTIM", &[(0, VICTIM_RE)]));
        raw
    }

    /// A raw peer's handshake as `name`, with no subscription; the agent prints
    /// its connection.
    #[track_caller]
    fn introduce(&self, raw: &mut Raw, name: &[u8]) {
        raw.send(&[b"6 1\x02", name, b"\n5 0\x02\n"].concat());
        self.out.prefix(&[name, b" connected from "].concat());
    }

    /// `raw`, which the agent calls `name`, hangs up; the agent prints it.
    #[track_caller]
    fn hang_up(&self, raw: Raw, name: &[u8]) {
        drop(raw);
        self.expect_disconnected(name);
    }

    /// The agent's name for a raw peer that sent no StartRegexp.
    fn anon(raw: &Raw) -> Vec<u8> {
        format!(" 127.0.0.1:{}", raw.local_port()).into_bytes()
    }

    #[track_caller]
    fn expect_disconnected(&self, name: &[u8]) {
        let mut want = name.to_vec();
        want.extend_from_slice(b" disconnected");
        self.out.line(&want);
    }

    /// Sends `bytes` on a fresh connection, expects the bad-format reply and the close.
    #[track_caller]
    fn rejects(&mut self, bytes: &[u8]) {
        let mut raw = self.connect();
        // The agent may close before reading everything: ignore write errors.
        let _ = raw.stream.write_all(bytes);
        raw.expect(BAD_FORMAT);
        raw.expect_closed();
        self.expect_disconnected(&Self::anon(&raw));
    }
}

/// The port of a handshake's StartRegexp (`6 PORT\x02NAME\n...`).
fn parse_start_port(hs: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(hs);
    let rest = text.strip_prefix("6 ").expect("StartRegexp first");
    rest.split('\x02').next().and_then(|p| p.parse().ok()).expect("a port")
}

/// Writes `total` bytes of `fill` in 64 KiB chunks until done or the connection
/// fails; returns how many bytes were written.
fn stream_until_error(mut stream: TcpStream, total: usize, fill: u8) -> usize {
    let chunk = vec![fill; 64 << 10];
    let mut sent = 0;
    stream.set_write_timeout(Some(TIMEOUT)).expect("write timeout");
    while sent < total {
        match stream.write(&chunk[..chunk.len().min(total - sent)]) {
            Ok(0) | Err(_) => break,
            Ok(n) => sent += n,
        }
    }
    sent
}

#[test]
fn defaults_are_the_library_defaults() {
    let d = ivy::Limits::default();
    assert_eq!(
        (d.max_line, d.max_args, d.max_regexps_per_peer, d.max_regexp_len),
        (MAX_LINE, MAX_ARGS, MAX_REGEXPS, MAX_REGEXP_LEN)
    );
}

#[test]
fn stream_without_lf_is_cut_at_max_line() {
    let mut v = Victim::spawn();
    v.reset_peak();
    let mut raw = v.connect();
    // Just under the limit: the agent holds a partial line and serves GOOD meanwhile.
    raw.send(&vec![b'x'; MAX_LINE - 4096]);
    v.served();
    // Then 100 MB more: the agent answers at the limit and drops the connection.
    let writer = {
        let stream = raw.stream.try_clone().expect("clone");
        thread::spawn(move || stream_until_error(stream, 100 << 20, b'x'))
    };
    raw.expect(BAD_FORMAT);
    raw.expect_closed();
    let sent = writer.join().expect("writer");
    // What the agent read before cutting, plus what the two socket buffers held.
    assert!(sent < 32 << 20, "{sent} bytes were accepted after the limit");
    v.expect_disconnected(&Victim::anon(&raw));
    let peak = v.peak_kb();
    let grew = peak.saturating_sub(v.baseline.rss_kb);
    assert!(grew < 8 << 10, "peak RSS {peak} kB, {grew} kB over the baseline, for a {MAX_LINE}-byte line limit");
    v.back_to_baseline("after a 100 MB stream without LF");
}

/// RSS kept after a peer with [`MAX_REGEXPS`] regexps left: the subscription tables
/// (hash maps of the dictionary and its prefix index) keep their peak capacity, about
/// 600 bytes per regexp slot; the compiled regexps themselves (about 10 kB each) are
/// freed. Later floods reuse that room: the RSS does not grow from one to the next.
const REGEXP_TABLES_SLACK_KB: u64 = 4 << 10;

#[test]
fn ten_thousand_regexps_cut_at_the_limit() {
    let mut v = Victim::spawn();
    for round in 0..3 {
        let mut raw = v.connect();
        let flood = common::handshake_subscribing(1, &format!("FLOOD{round}"), common::numbered_regexps(10_000));
        // The agent may close before reading everything: ignore write errors.
        let _ = raw.stream.write_all(&flood);
        raw.expect(BAD_FORMAT);
        raw.expect_closed();
        v.expect_disconnected(format!("FLOOD{round}").as_bytes());
        // The MAX_REGEXPS accepted ones went with the peer.
        v.input(b"r7 x");
        v.out.line(b"-> Sent to 0 peer(s)");
        v.back_within("after 10 000 AddRegexp", REGEXP_TABLES_SLACK_KB);
        if round == 0 {
            // From now on, no growth at all.
            v.baseline = v.usage();
        }
    }

    // Exactly the limit is fine.
    let mut raw = v.connect();
    raw.send(&common::handshake_subscribing(1, "MANY", common::numbered_regexps(MAX_REGEXPS)));
    v.out.prefix(b"MANY connected from ");
    v.input(format!("r{} last", MAX_REGEXPS - 1).as_bytes());
    v.out.line(b"-> Sent to 1 peer(s)");
    raw.expect(format!("2 {}\x02last\x03\n", MAX_REGEXPS - 1).as_bytes());
    v.hang_up(raw, b"MANY");
    v.back_to_baseline("after 4096 regexps, after the floods");
}

#[test]
fn long_regexps() {
    let mut v = Victim::spawn();
    // The longest accepted regexp, matched against a message as long.
    let longest = format!("^{}$", "l".repeat(MAX_REGEXP_LEN - 2));
    let mut raw = v.connect();
    raw.send(format!("1 5\x02{longest}\n").as_bytes());
    raw.ping_pong(1);
    v.input("l".repeat(MAX_REGEXP_LEN - 2).as_bytes());
    v.out.line(b"-> Sent to 1 peer(s)");
    raw.expect(b"2 5\x02\n");
    // Short enough, but too large once compiled: an Error reply, the connection stays.
    let huge = "(?:a{1000}){1000}";
    raw.send(format!("1 6\x02{huge}\n").as_bytes());
    raw.expect(format!("3 {}\x02Error compiling '{huge}', regular expression is too large\n", huge.len()).as_bytes());
    raw.ping_pong(2);
    let name = Victim::anon(&raw);
    v.hang_up(raw, &name);
    v.back_to_baseline("after long regexps");

    // One byte over the limit, and a 1 MB one: bad format, disconnected.
    v.rejects(format!("1 7\x02^{}l$\n", "l".repeat(MAX_REGEXP_LEN - 2)).as_bytes());
    v.rejects(format!("1 8\x02{}\n", "(a)".repeat((MAX_LINE - 16) / 3)).as_bytes());
    v.back_to_baseline("after too long regexps");
}

#[test]
fn invalid_regexps_get_exact_error_replies() {
    let (mut v, mut raw) = Victim::with_peer();
    // §3, verified against ivy-c: Error id = PCRE error offset; the connection stays.
    for (i, (re, reply)) in [
        ("foo(bar", &b"3 7\x02Error compiling 'foo(bar', missing )\n"[..]),
        ("*", b"3 0\x02Error compiling '*', nothing to repeat\n"),
        ("[z", b"3 2\x02Error compiling '[z', missing terminating ] for character class\n"),
        ("a**", b"3 2\x02Error compiling 'a**', nothing to repeat\n"),
        ("(+)", b"3 1\x02Error compiling '(+)', nothing to repeat\n"),
        ("(?#abc", b"3 6\x02Error compiling '(?#abc', missing ) after comment\n"),
        ("\\x{zz}", b"3 3\x02Error compiling '\\x{zz}', non-hex character in \\x{} (closing brace missing?)\n"),
    ]
    .into_iter()
    .enumerate()
    {
        raw.send(format!("1 {i}\x02{re}\n").as_bytes());
        raw.expect(reply);
        raw.ping_pong(i as i32);
    }
    // Invalid UTF-8 and an invalid regexp together: the text is echoed raw.
    raw.send(b"1 20\x02\xff(\n");
    raw.expect(b"3 2\x02Error compiling '\xff(', missing )\n");
    // The broken ones never match; a good one still does.
    raw.send(b"1 21\x02^ok$\n");
    raw.ping_pong(99);
    v.input(b"ok");
    v.out.line(b"-> Sent to 1 peer(s)");
    raw.expect(b"2 21\x02\n");
    let name = Victim::anon(&raw);
    v.hang_up(raw, &name);
    v.back_to_baseline("after invalid regexps");
}

#[test]
fn msg_with_thousands_of_args() {
    let (mut v, mut raw) = Victim::with_peer();
    // MAX_ARGS arguments: delivered.
    raw.send(format!("6 1\x02ARGS\n5 0\x02\n2 0\x02{}\n", "a\x03".repeat(MAX_ARGS)).as_bytes());
    let printed = v.out.prefix(b"ARGS sent [0]");
    assert_eq!(printed, [&b"ARGS sent [0]"[..], &b" 'a'".repeat(MAX_ARGS)].concat());
    raw.ping_pong(1);
    v.hang_up(raw, b"ARGS");
    // One more, thousands more, and 200 000 empty ones: bad format, disconnected.
    v.rejects(format!("2 0\x02{}\n", "a\x03".repeat(MAX_ARGS + 1)).as_bytes());
    v.rejects(format!("2 0\x02{}\n", "b\x03".repeat(5000)).as_bytes());
    v.rejects(format!("2 0\x02{}\n", "\x03".repeat(200_000)).as_bytes());
    v.out.none_for(20, "delivery of a rejected Msg", |l| l.contains(&b'\''));
    v.back_to_baseline("after Msg with thousands of arguments");
}

#[test]
fn malformed_and_oversize_hellos_are_ignored() {
    let mut v = Victim::spawn();
    let l = RawListener::new();
    let p = l.port;
    let mut datagrams: Vec<Vec<u8>> = vec![
        format!("3 {p} {} long-id\n", "i".repeat(129)).into_bytes(),
        format!("3 {p} id {}\n", "n".repeat(2049)).into_bytes(),
        // 60 KB and the largest UDP payload, one hello each.
        format!("3 {p} id {}\n", "n".repeat(60_000)).into_bytes(),
        format!("3 {p} {}", "i".repeat(65_507 - 8)).into_bytes(),
        format!("4 {p} id v4\n").into_bytes(),
        format!("2 {p} id v2\n").into_bytes(),
        format!("3 {} id bigport\n", u32::from(p) + 65536).into_bytes(),
        format!("3 -{p} id negative\n").into_bytes(),
        format!("x {p} id\n").into_bytes(),
        b"3\n".to_vec(),
        b"".to_vec(),
        b"\n\n\n".to_vec(),
        b"3 x y z\n".repeat(8000),
    ];
    // 60 KB of pseudo-random bytes, no LF in the way of a hello to `p`.
    let mut x: u32 = 12345;
    datagrams.push(
        (0..60_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect(),
    );
    for d in &datagrams {
        send_datagram(v.bus_port, d);
    }
    // None of them made the agent connect to `p`...
    v.served();
    assert!(l.accept_within(Duration::from_millis(200)).is_none(), "the agent connected on a bad hello");
    // ... but a good hello still does, glued to nothing that came before.
    send_datagram(v.bus_port, format!("3 {p} late:1 LATE\n").as_bytes());
    let mut raw = l.accept();
    raw.expect(&common::handshake(v.port, "VICTIM", &[(0, VICTIM_RE)]));
    v.introduce(&mut raw, b"LATE");
    v.hang_up(raw, b"LATE");
    v.back_to_baseline("after bad hellos");
}

/// TCP ports listening on this host now (IPv4 and IPv6), from `/proc/net/tcp*`.
fn listening_ports() -> HashSet<u16> {
    let mut ports = HashSet::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else { continue };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(&"0A")) = (fields.get(1), fields.get(3)) else { continue };
            if let Some(port) = local.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok()) {
                ports.insert(port);
            }
        }
    }
    ports
}

#[test]
fn hello_flood_to_closed_ports() {
    let mut v = Victim::spawn();
    // 2000 ports below the ephemeral range that nobody listens on.
    let busy = listening_ports();
    let closed: Vec<u16> = (3000..20000).filter(|p| !busy.contains(p)).take(2000).collect();
    assert_eq!(closed.len(), 2000);
    // Several hellos per datagram (§1.4: each is processed), 100 per datagram.
    for (n, ports) in closed.chunks(100).enumerate() {
        let mut d = Vec::new();
        for (i, port) in ports.iter().enumerate() {
            d.extend_from_slice(format!("3 {port} flood:{n}:{i} FLOOD{n}.{i}\n").as_bytes());
        }
        send_datagram(v.bus_port, &d);
    }
    // The agent still answers a good hello (repeated: the first may find it busy).
    let l = RawListener::new();
    let deadline = Instant::now() + TIMEOUT;
    let mut raw = loop {
        send_datagram(v.bus_port, format!("3 {} after:1 AFTER\n", l.port).as_bytes());
        if let Some(raw) = l.accept_within(Duration::from_millis(200)) {
            break raw;
        }
        assert!(Instant::now() < deadline, "the agent no longer answers hellos");
    };
    raw.expect(&common::handshake(v.port, "VICTIM", &[(0, VICTIM_RE)]));
    v.introduce(&mut raw, b"AFTER");
    v.served();
    // Every failed connect gave its descriptor back.
    let base = v.baseline.fds;
    common::wait_until("the failed connects' descriptors to close", || v.usage().fds == base + 1);
    v.hang_up(raw, b"AFTER");
    v.back_to_baseline("after a hello flood to closed ports");
}

#[test]
fn connect_disconnect_cycles() {
    let mut v = Victim::spawn();
    // 40 rounds of 50 connections open at once, closed three different ways.
    for round in 0..40 {
        let mut conns: Vec<TcpStream> =
            (0..50).map(|_| TcpStream::connect(("127.0.0.1", v.port)).expect("connect to the agent")).collect();
        for (i, c) in conns.iter_mut().enumerate() {
            match i % 3 {
                // A whole handshake, then an orderly close.
                0 => {
                    let _ = c.write_all(format!("6 1\x02C{round}.{i}\n5 0\x02\n").as_bytes());
                }
                // Half a line.
                1 => {
                    let _ = c.write_all(b"2 0\x02half");
                }
                // Nothing at all (and the agent's handshake unread: a reset).
                _ => {}
            }
        }
        drop(conns);
        if round % 10 == 9 {
            v.served();
        }
    }
    v.back_to_baseline("after 2000 connect/disconnect cycles");
}

/// CPU time the process `pid` used so far, in clock ticks (user + system).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // Fields after the command name, which is in parentheses: state is the first,
    // utime and stime the 12th and 13th.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<u64> = after_name.split_whitespace().skip(11).take(2).filter_map(|f| f.parse().ok()).collect();
    assert_eq!(fields.len(), 2, "utime and stime in {stat}");
    fields.iter().sum()
}

/// The lowest descriptor number the process `pid` has free (the one it gets next).
fn lowest_free_fd(pid: u32) -> u32 {
    let open: HashSet<u32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/PID/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    (0..).find(|n| !open.contains(n)).unwrap_or(u32::MAX)
}

#[test]
fn out_of_descriptors_pauses_accept() {
    const MAX_FDS: u32 = 24;
    const FAILED: &[u8] = b"accept: Too many open files (os error 24): not accepting for 100 ms";
    let (mut v, diag) = Victim::spawn_with_fd_limit(MAX_FDS);
    // More connections than the agent has descriptors: the last ones stay in the
    // listen backlog, and the listener readable.
    let mut conns: Vec<Raw> =
        (0..MAX_FDS).map(|_| Raw::new(TcpStream::connect(("127.0.0.1", v.port)).expect("connect"))).collect();
    common::wait_until("the agent to run out of descriptors", || lowest_free_fd(v.pid()) == MAX_FDS);
    // While descriptors lack, accept is tried again every 100 ms or so, and the
    // loop sleeps in between: a handful of failures in a second, not millions,
    // and almost no CPU time.
    while diag.lines.try_recv().is_ok() {}
    let ticks = cpu_ticks(v.pid());
    let second = Instant::now() + Duration::from_secs(1);
    let mut failures = 0;
    while let Some(line) = diag.next(second.saturating_duration_since(Instant::now())) {
        failures += usize::from(line == FAILED);
    }
    let ticks = cpu_ticks(v.pid()) - ticks;
    assert!(ticks <= 20, "{ticks} ticks of CPU in 1 s");
    assert!((3..=15).contains(&failures), "{failures} failed accepts in 1 s");
    v.served();
    // Descriptors freed: the connection that waited is accepted and served.
    let mut waiting = conns.pop().expect("a connection");
    drop(conns);
    waiting.expect(&common::handshake(v.port, "VICTIM", &[(0, VICTIM_RE)]));
    waiting.ping_pong(1);
    drop(waiting);
    v.back_to_baseline("after running out of descriptors");
}

#[test]
fn silent_peers_do_not_block_others() {
    let mut v = Victim::spawn();
    // Connect, never speak, never read.
    let silent: Vec<TcpStream> =
        (0..20).map(|_| TcpStream::connect(("127.0.0.1", v.port)).expect("connect to the agent")).collect();
    for _ in 0..5 {
        v.served();
    }
    v.input(b".who");
    let who = v.out.prefix(b"-> 21 peer(s):");
    assert!(who.windows(6).any(|w| w == b"'GOOD'"), "{}", show(&who));
    drop(silent);
    for _ in 0..20 {
        v.out.prefix(b" 127.0.0.1:");
    }
    v.back_to_baseline("after silent peers");
}

#[test]
fn half_close_is_a_disconnect() {
    let (mut v, mut raw) = Victim::with_peer();
    // Lines before the FIN are processed, then the agent closes its side too.
    raw.send(b"6 1\x02HALF\n5 0\x02\n2 0\x02before eof\x03\n");
    raw.stream.shutdown(Shutdown::Write).expect("shutdown");
    v.out.prefix(b"HALF connected from ");
    v.out.line(b"HALF sent [0] 'before eof'");
    v.expect_disconnected(b"HALF");
    raw.expect_eof();
    // A partial last line before the FIN is dropped, not delivered.
    let mut raw = v.connect();
    raw.send(b"6 1\x02PART\n5 0\x02\n2 0\x02partial\x03");
    raw.stream.shutdown(Shutdown::Write).expect("shutdown");
    v.out.prefix(b"PART connected from ");
    v.expect_disconnected(b"PART");
    raw.expect_eof();
    v.out.none_for(20, "delivery of a partial line", |l| l.starts_with(b"PART sent"));
    v.back_to_baseline("after half-closed peers");
}

#[test]
fn invalid_utf8_everywhere() {
    let mut v = Victim::spawn();
    // A hello with invalid UTF-8 in its id and name.
    let l = RawListener::new();
    send_datagram(v.bus_port, &[format!("3 {} id", l.port).as_bytes(), b"\xff \xc3\x28N\xffame\n"].concat());
    let mut raw = l.accept();
    raw.expect(&common::handshake(v.port, "VICTIM", &[(0, VICTIM_RE)]));
    // StartRegexp, AddRegexp, Msg, DirectMsg, Error, unknown type: bytes ≥ 0x80 everywhere.
    raw.send(b"6 9999\x02R\xffAW\n1 1\x02^\xe9t\xe9 (.*)$\n5 0\x02\n");
    v.out.prefix(b"R\xffAW connected from ");
    v.input(b"\xe9t\xe9 caf\xff\xfe");
    v.out.line(b"-> Sent to 1 peer(s)");
    raw.expect(b"2 1\x02caf\xff\xfe\x03\n");
    raw.send(b"2 0\x02\xff\x03\xc3\x28\x03\n7 5\x02\xfe\xff\n3 1\x02\xff\n42 1\x02\xff\n");
    v.out.line(b"R\xffAW sent [0] '\xff' '\xc3\x28'");
    v.out.line(b"R\xffAW direct [5] '\xfe\xff'");
    raw.ping_pong(1);
    v.hang_up(raw, b"R\xffAW");
    // Invalid UTF-8 in an otherwise bad line: the usual answer.
    v.rejects(b"\xff\xfe 0\x02x\n");
    v.back_to_baseline("after invalid UTF-8");
}

#[test]
fn partial_lines_split_at_every_byte() {
    let (mut v, mut raw) = Victim::with_peer();
    let input = b"6 1\x02SPLIT\n1 3\x02^split (.*)$\n5 0\x02\n9 77\x02\n2 0\x02split\x03msg\x03\n7 4\x02dir\n";
    for b in input {
        raw.send(&[*b]);
        thread::sleep(Duration::from_micros(200));
    }
    raw.expect(b"10 77\x02\n");
    v.out.prefix(b"SPLIT connected from ");
    v.out.line(b"SPLIT sent [0] 'split' 'msg'");
    v.out.line(b"SPLIT direct [4] 'dir'");
    v.input(b"split it");
    v.out.line(b"-> Sent to 1 peer(s)");
    raw.expect(b"2 3\x02it\x03\n");
    // A bad line, byte by byte, is still bad.
    for b in b"2 1 nostx\n" {
        raw.send(&[*b]);
        thread::sleep(Duration::from_micros(200));
    }
    raw.expect(BAD_FORMAT);
    raw.expect_eof();
    v.expect_disconnected(b"SPLIT");
    v.back_to_baseline("after split lines");
}

#[test]
fn garbage_lines_get_bad_format_reply() {
    let mut v = Victim::spawn();
    let more: [&[u8]; 3] = [b"2 1 no stx\n", &[0xAA; 4000], b"\x02\x03\x02\x03\n"];
    for line in MALFORMED_LINES.iter().chain(&more) {
        let mut l = line.to_vec();
        if l.last() != Some(&b'\n') {
            l.push(b'\n');
        }
        v.rejects(&l);
    }
    v.back_to_baseline("after garbage lines");
}

#[test]
fn probe_commands_take_raw_bytes() {
    // ivy-c's probe passes command arguments as bytes: a peer whose name is not
    // UTF-8 can be addressed, and a direct message keeps its bytes.
    let (mut v, mut raw) = Victim::with_peer();
    v.introduce(&mut raw, b"R\xffAW");
    v.input(b".direct R\xffAW 9 \x80\x81");
    v.out.line(b"-> direct sent to R\xffAW");
    raw.expect(b"7 9\x02\x80\x81\n");
}

#[test]
fn compiled_regexps_memory_is_bounded() {
    // Each `x{30000}N` is 9 bytes, well within max_regexp_len, and would compile to
    // about 1.1 MB: 200 of them, over 200 MB for one peer; the 4096 a peer may hold,
    // 4.5 GB (and 10 s of compiling on the loop thread). They are past
    // REGEX_SIZE_LIMIT. Each `x{1500}N` is within it (about 70 kB); a peer's
    // regexps may add up to max_states_per_peer, so only the first 87 are kept.
    let v = Victim::spawn();
    v.reset_peak();
    let mut raw = v.connect();
    let regexps = (0..200).flat_map(|i| [(i, format!("x{{30000}}{i}")), (1000 + i, format!("x{{1500}}{i}"))]);
    raw.send(&common::handshake_subscribing(1, "HOG", regexps));
    v.out.prefix(b"HOG connected from ");
    raw.send(b"9 1\x02\n");
    let replies: Vec<Vec<u8>> = std::iter::repeat_with(|| raw.read_line()).take_while(|l| l != b"10 1\x02\n").collect();
    let count = |end: &[u8]| replies.iter().filter(|l| l.starts_with(b"3 ") && l.ends_with(end)).count();
    let too_large = count(b"', regular expression is too large\n");
    let budget = Limits::default().max_states_per_peer;
    let over =
        count(format!("', regular expression is too large for this peer's budget of {budget} states\n").as_bytes());
    assert_eq!((too_large, over, replies.len()), (200, 200 - 87, 200 + 113));
    let grew = v.peak_kb().saturating_sub(v.baseline.rss_kb);
    assert!(grew < 32 << 10, "one peer's 400 short regexps took {grew} kB");
}
