//! The Ivy agents of the scenarios, each run as its own process by the orchestrator
//! (`ivy-bench --role NAME --key value ...`). Each prints one `IVYBENCH role=...`
//! result line on stdout at the end (or `error=...` and a non-zero exit).
//!
//! Flow control, identical in the Rust, C and Python roles: subscriber `I` sends
//! `ack I COUNT` every `--ack` messages (and on every connection, `COUNT` possibly
//! 0, which tells the sender it is subscribed); the sender keeps at most `--window`
//! messages beyond the slowest acknowledgement, so no queue ever overflows and
//! nothing is dropped. Every message body carries its sequence number; subscribers
//! check the order and sum a checksum of the bodies.

use crate::args::Args;
use crate::util::{Bodies, Line, emit_event, hash64, now_ns, parse_u64, put_digits};
use ivy::{AppEvent, Bus, PeerId};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar};
use std::time::Duration;

/// Kills the process after `secs` seconds with an error result line.
pub(crate) fn watchdog(role: &'static str, secs: u64) {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(secs));
        Line::new(role).kv("error", format!("timeout-after-{secs}s")).emit();
        std::process::exit(3);
    });
}

/// Watches standard input: any input calls `on_input`, its end (the orchestrator
/// closes it) stops `bus`.
pub(crate) fn stop_on_stdin_eof(bus: &Bus, on_input: impl Fn(&Bus) + Send + 'static) {
    let b = bus.clone();
    bus.event_loop().add_channel(
        0,
        Box::new(move |lp, id, fd| {
            let mut buf = [0u8; 256];
            // SAFETY: reads into a buffer we own.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                lp.remove_channel(id);
                b.stop();
            } else {
                on_input(&b);
            }
        }),
        None,
        None,
    );
}

/// Joins the bus at `spec` and runs its loop until the bus stops.
pub(crate) fn join_and_run(bus: &Bus, spec: &str) -> Result<(), String> {
    bus.start(Some(spec)).map_err(|e| format!("start: {e}"))?;
    bus.run();
    Ok(())
}

/// Reads standard input up to the first LF (unbuffered: the loop watches fd 0 later).
fn read_stdin_line() -> String {
    let mut out = Vec::new();
    loop {
        let mut b = 0u8;
        // SAFETY: reads one byte into `b`.
        let n = unsafe { libc::read(0, (&mut b as *mut u8).cast(), 1) };
        if n <= 0 || b == b'\n' {
            return String::from_utf8_lossy(&out).into_owned();
        }
        out.push(b);
    }
}

struct SubState {
    count: u64,
    checksum: u64,
    t_first: u64,
    t_last: u64,
    errors: u64,
    done: bool,
}

/// `sub --bus B --index I --count N --regexps R --ack A`: binds `^topicNNNN (.*)` for
/// NNNN in 0..R; only the last one (`topic{R-1}`) is sent to.
pub(crate) fn subscriber(a: &Args) -> Result<(), String> {
    let bus_spec = a.str("bus")?.to_string();
    let index = a.u64("index")?;
    let count = a.u64("count")?;
    let regexps = a.u64_or("regexps", 1)?.max(1);
    let ack = a.u64_or("ack", 1024)?.max(1);
    watchdog("sub", a.u64_or("timeout", 60)?);

    let bus = Bus::new(format!("bench-sub-{index}").as_bytes(), None);
    let st = Arc::new(Mutex::new(SubState { count: 0, checksum: 0, t_first: 0, t_last: 0, errors: 0, done: false }));
    for r in 0..regexps {
        let re = format!("^topic{r:04} (.*)");
        let st = st.clone();
        if r + 1 < regexps {
            bus.bind(re.as_bytes(), move |_, _, _| st.lock().errors += 1);
            continue;
        }
        bus.bind(re.as_bytes(), move |bus, _, args| {
            let mut s = st.lock();
            if s.done {
                return;
            }
            // The clock only for the first and the last message: it would cost as
            // much as the rest of this callback.
            let now = if s.count == 0 || s.count + 1 == count { now_ns() } else { 0 };
            let Some(body) = args.first() else {
                s.errors += 1;
                return;
            };
            if parse_u64(body.get(..10).unwrap_or_default()) != Some(s.count) {
                s.errors += 1;
            }
            if s.count == 0 {
                s.t_first = now;
            }
            s.count += 1;
            if now != 0 {
                s.t_last = now;
            }
            s.checksum = s.checksum.wrapping_add(hash64(body));
            let c = s.count;
            if c == count {
                s.done = true;
            }
            drop(s);
            if c % ack == 0 || c == count {
                let _ = bus.send(format!("ack {index} {c}").as_bytes());
            }
            if c == count {
                bus.stop();
            }
        });
    }
    let st2 = st.clone();
    bus.on_application(move |bus, _, ev| {
        if ev == AppEvent::Connected {
            let c = st2.lock().count;
            let _ = bus.send(format!("ack {index} {c}").as_bytes());
        }
    });
    join_and_run(&bus, &bus_spec)?;
    let s = st.lock();
    let mut line = Line::new("sub");
    line.kv("index", index)
        .kv("count", s.count)
        .kv("checksum", format!("{:016x}", s.checksum))
        .kv("errors", s.errors)
        .kv("t_first", s.t_first)
        .kv("t_last", s.t_last);
    line.emit_with_rusage();
    Ok(())
}

/// Acknowledgements of every subscriber, shared between the loop and the sending thread.
struct Flow {
    acks: std::sync::Mutex<Vec<i64>>,
    cv: Condvar,
    /// Smallest acknowledged count (-1 until every subscriber said hello).
    min: AtomicI64,
    fifo_full: AtomicU64,
    congestion: AtomicU64,
    disconnected: AtomicU64,
}

impl Flow {
    fn new(subs: usize) -> Flow {
        Flow {
            acks: std::sync::Mutex::new(vec![-1; subs]),
            cv: Condvar::new(),
            min: AtomicI64::new(-1),
            fifo_full: AtomicU64::new(0),
            congestion: AtomicU64::new(0),
            disconnected: AtomicU64::new(0),
        }
    }

    /// Records `ack I C`; returns the new minimum.
    fn ack(&self, index: usize, count: i64) -> i64 {
        let mut acks = self.acks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = acks.get_mut(index) {
            *a = (*a).max(count);
        }
        let min = acks.iter().copied().min().unwrap_or(-1);
        self.min.store(min, Ordering::Release);
        drop(acks);
        self.cv.notify_all();
        min
    }

    /// Blocks until the minimum acknowledgement reaches `want` (or the deadline passes).
    fn wait_min(&self, want: i64, deadline: u64) -> Result<(), String> {
        let mut acks = self.acks.lock().unwrap_or_else(|e| e.into_inner());
        while self.min.load(Ordering::Acquire) < want {
            if now_ns() > deadline {
                return Err(format!("acks stuck at {} (want {want}): {acks:?}", self.min.load(Ordering::Acquire)));
            }
            acks = self.cv.wait_timeout(acks, Duration::from_millis(50)).unwrap_or_else(|e| e.into_inner()).0;
        }
        Ok(())
    }
}

/// What the sender measured.
#[derive(Default)]
struct SendStats {
    sent: u64,
    matched: u64,
    checksum: u64,
    t_start: u64,
    t_sent: u64,
    t_acked: u64,
    stalls: u64,
}

/// Parameters of one sending run.
#[derive(Clone)]
struct SendPlan {
    count: u64,
    window: i64,
    topic: Vec<u8>,
    size: usize,
    batch: u64,
}

impl SendPlan {
    fn message(&self) -> Vec<u8> {
        let mut m = self.topic.clone();
        m.push(b' ');
        m.resize(self.size.max(m.len() + 10), b' ');
        m
    }
}

/// `send --bus B --subs K --count N --size S --regexps R --window W --mode thread|loop`.
pub(crate) fn sender(a: &Args) -> Result<(), String> {
    let bus_spec = a.str("bus")?.to_string();
    let subs = a.u64("subs")? as usize;
    let regexps = a.u64_or("regexps", 1)?.max(1);
    let plan = SendPlan {
        count: a.u64("count")?,
        window: a.u64_or("window", 65536)? as i64,
        topic: format!("topic{:04}", regexps - 1).into_bytes(),
        size: a.u64_or("size", 20)? as usize,
        batch: a.u64_or("batch", 4096)?.max(1),
    };
    let mode = a.str_or("mode", "thread").to_string();
    let timeout = a.u64_or("timeout", 60)?;
    watchdog("send", timeout);
    let deadline = now_ns() + timeout * 1_000_000_000;

    let bus = Bus::new(b"bench-sender", None);
    let flow = Arc::new(Flow::new(subs));
    let stats = Arc::new(Mutex::new(SendStats::default()));
    let f2 = flow.clone();
    bus.on_application(move |_, _, ev| match ev {
        AppEvent::FifoFull => _ = f2.fifo_full.fetch_add(1, Ordering::Relaxed),
        AppEvent::Congestion => _ = f2.congestion.fetch_add(1, Ordering::Relaxed),
        AppEvent::Disconnected => _ = f2.disconnected.fetch_add(1, Ordering::Relaxed),
        _ => {}
    });
    let in_loop = mode == "loop";
    let (f3, s3, p3) = (flow.clone(), stats.clone(), plan.clone());
    let msg = Arc::new(Mutex::new(plan.message()));
    bus.bind(b"^ack ([0-9]+) ([0-9]+)", move |bus, _, args| {
        let (Some(i), Some(c)) = (args.first().and_then(|s| parse_u64(s)), args.get(1).and_then(|s| parse_u64(s)))
        else {
            return;
        };
        let min = f3.ack(i as usize, c as i64);
        if !in_loop {
            return;
        }
        if min == p3.count as i64 {
            s3.lock().t_acked = now_ns();
            bus.stop();
        } else if min >= 0 {
            pump(bus, &f3, &s3, &p3, &msg);
        }
    });
    bus.start(Some(&bus_spec)).map_err(|e| format!("start: {e}"))?;
    if in_loop {
        bus.run();
    } else {
        let looper = {
            let b = bus.clone();
            std::thread::spawn(move || b.run())
        };
        let r = send_from_thread(&bus, &flow, &stats, &plan, deadline);
        bus.stop();
        let _ = looper.join();
        r?;
    }
    let s = stats.lock();
    let mut line = Line::new("send");
    line.kv("mode", &mode)
        .kv("sent", s.sent)
        .kv("matched", s.matched)
        .kv("checksum", format!("{:016x}", s.checksum))
        .kv("t_start", s.t_start)
        .kv("t_sent", s.t_sent)
        .kv("t_acked", s.t_acked)
        .kv("stalls", s.stalls)
        .kv("fifo_full", flow.fifo_full.load(Ordering::Relaxed))
        .kv("congestion", flow.congestion.load(Ordering::Relaxed))
        .kv("disconnected", flow.disconnected.load(Ordering::Relaxed));
    line.emit_with_rusage();
    Ok(())
}

/// The natural use of the Rust API: a tight loop of `send` on a thread of its own
/// while the loop runs on another.
fn send_from_thread(
    bus: &Bus,
    flow: &Flow,
    stats: &Mutex<SendStats>,
    plan: &SendPlan,
    deadline: u64,
) -> Result<(), String> {
    flow.wait_min(0, deadline)?;
    let mut m = plan.message();
    let off = plan.topic.len() + 1;
    let bodies = Bodies::new(m.len());
    let (mut matched, mut checksum, mut stalls) = (0u64, 0u64, 0u64);
    let t_start = now_ns();
    for seq in 0..plan.count {
        if seq as i64 - flow.min.load(Ordering::Acquire) >= plan.window {
            stalls += 1;
            flow.wait_min(seq as i64 - plan.window + 1, deadline)?;
        }
        let body = &mut m[off..];
        bodies.fill(body, seq);
        checksum = checksum.wrapping_add(hash64(body));
        matched += bus.send(&m).unwrap_or(0) as u64;
    }
    let t_sent = now_ns();
    *stats.lock() = SendStats { sent: plan.count, matched, checksum, t_start, t_sent, t_acked: 0, stalls };
    flow.wait_min(plan.count as i64, deadline)?;
    stats.lock().t_acked = now_ns();
    Ok(())
}

/// The in-loop variant: sends from callbacks on the loop thread, `batch` messages at
/// a time, resumed by a zero-delay timer or by the next acknowledgement.
fn pump(bus: &Bus, flow: &Arc<Flow>, stats: &Arc<Mutex<SendStats>>, plan: &SendPlan, msg: &Arc<Mutex<Vec<u8>>>) {
    let mut s = stats.lock();
    if s.sent >= plan.count {
        return;
    }
    if s.sent == 0 && s.t_start == 0 {
        s.t_start = now_ns();
    }
    let mut m = msg.lock();
    let off = plan.topic.len() + 1;
    let bodies = Bodies::new(m.len());
    let min = flow.min.load(Ordering::Acquire);
    let mut n = 0;
    while s.sent < plan.count && (s.sent as i64) - min < plan.window && n < plan.batch {
        let body = &mut m[off..];
        bodies.fill(body, s.sent);
        s.checksum = s.checksum.wrapping_add(hash64(body));
        s.matched += bus.send(&m).unwrap_or(0) as u64;
        s.sent += 1;
        n += 1;
    }
    if s.sent == plan.count {
        s.t_sent = now_ns();
    } else if n == plan.batch {
        let (b, f, st, p, mm) = (bus.clone(), flow.clone(), stats.clone(), plan.clone(), msg.clone());
        bus.event_loop().add_timer(1, 0, Box::new(move |_, _, _| pump(&b, &f, &st, &p, &mm)));
    } else {
        s.stalls += 1;
    }
}

struct RttState {
    started: bool,
    seq: u64,
    t_send: u64,
    samples: Vec<u64>,
    errors: u64,
}

/// `rtt-req --bus B --count N --warmup W`: request/reply round trips, each started
/// from the reply callback of the previous one.
pub(crate) fn rtt_requester(a: &Args) -> Result<(), String> {
    let bus_spec = a.str("bus")?.to_string();
    let count = a.u64("count")?;
    let warmup = a.u64_or("warmup", 1000)?;
    watchdog("rtt-req", a.u64_or("timeout", 60)?);
    let bus = Bus::new(b"bench-rtt-req", None);
    let st = Arc::new(Mutex::new(RttState {
        started: false,
        seq: 0,
        t_send: 0,
        samples: Vec::with_capacity(count as usize),
        errors: 0,
    }));
    let st2 = st.clone();
    bus.bind(b"^pong (.*)", move |bus, _, args| {
        let now = now_ns();
        let arg = args.first().copied().unwrap_or_default();
        let mut s = st2.lock();
        if arg == b"hello" {
            if !s.started {
                s.started = true;
                s.t_send = now_ns();
                let _ = bus.send(b"ping 0");
            }
            return;
        }
        if parse_u64(arg) != Some(s.seq) {
            s.errors += 1;
        }
        if s.seq >= warmup {
            let rtt = now - s.t_send;
            s.samples.push(rtt);
        }
        s.seq += 1;
        if s.seq < warmup + count {
            // Fixed-width digits in a reused buffer, as the raw TCP ping does.
            let mut m = *b"ping 0000000000";
            put_digits(m.get_mut(5..).unwrap_or_default(), s.seq);
            s.t_send = now_ns();
            let _ = bus.send(&m);
        } else {
            let _ = bus.send(b"ping quit");
            bus.stop();
        }
    });
    join_and_run(&bus, &bus_spec)?;
    let mut s = st.lock();
    s.samples.sort_unstable();
    let mut line = Line::new("rtt-req");
    push_latency(&mut line, &s.samples);
    line.kv("errors", s.errors);
    line.emit_with_rusage();
    Ok(())
}

/// Adds count, min, mean and percentiles (ns) of sorted samples.
pub(crate) fn push_latency(line: &mut Line, sorted: &[u64]) {
    use crate::util::percentile;
    let mean = if sorted.is_empty() { 0 } else { sorted.iter().sum::<u64>() / sorted.len() as u64 };
    line.kv("count", sorted.len())
        .kv("min_ns", sorted.first().copied().unwrap_or(0))
        .kv("mean_ns", mean)
        .kv("p50_ns", percentile(sorted, 50.0))
        .kv("p90_ns", percentile(sorted, 90.0))
        .kv("p99_ns", percentile(sorted, 99.0))
        .kv("max_ns", sorted.last().copied().unwrap_or(0));
}

/// `rtt-echo --bus B`: answers `ping X` with `pong X`; says `pong hello` to each new
/// peer; leaves on `ping quit`.
pub(crate) fn rtt_echo(a: &Args) -> Result<(), String> {
    let bus_spec = a.str("bus")?.to_string();
    watchdog("rtt-echo", a.u64_or("timeout", 60)?);
    let bus = Bus::new(b"bench-rtt-echo", None);
    let mut reply = Vec::with_capacity(64);
    let reply = Mutex::new(std::mem::take(&mut reply));
    bus.bind(b"^ping (.*)", move |bus, _, args| {
        let arg = args.first().copied().unwrap_or_default();
        if arg == b"quit" {
            bus.stop();
            return;
        }
        let mut r = reply.lock();
        r.clear();
        r.extend_from_slice(b"pong ");
        r.extend_from_slice(arg);
        let _ = bus.send(&r);
    });
    bus.on_application(|bus, _, ev| {
        if ev == AppEvent::Connected {
            let _ = bus.send(b"pong hello");
        }
    });
    join_and_run(&bus, &bus_spec)?;
    Line::new("rtt-echo").emit_with_rusage();
    Ok(())
}

/// `idle --bus B --index I`: one binding, nothing else; prints
/// `IVYBENCH-EVENT connected` on each connection; leaves at end of stdin.
pub(crate) fn idle(a: &Args) -> Result<(), String> {
    let bus_spec = a.str("bus")?.to_string();
    let index = a.u64_or("index", 0)?;
    let bus = Bus::new(format!("bench-idle-{index}").as_bytes(), None);
    bus.bind(b"^never (.*)", |_, _, _| {});
    bus.on_application(|_, _, ev| {
        if ev == AppEvent::Connected {
            emit_event("EVENT", "connected");
        }
    });
    stop_on_stdin_eof(&bus, |_| {});
    join_and_run(&bus, &bus_spec)?;
    Line::new("idle").emit_with_rusage();
    Ok(())
}

#[derive(Default)]
struct MeshState {
    t_start: u64,
    t_full: u64,
    /// Peers whose Connected event came (and no Disconnected since), with their names.
    connected: HashMap<PeerId, Vec<u8>>,
    connected_events: u64,
    disconnected_events: u64,
    /// Disconnected events for peers that never had a Connected event.
    orphan_disconnects: u64,
    max_dup: u64,
}

impl MeshState {
    fn distinct_names(&self) -> usize {
        let mut names: Vec<&Vec<u8>> = self.connected.values().collect();
        names.sort();
        names.dedup();
        names.len()
    }
}

/// `mesh --bus B --index I --agents A`: waits for a `go` line on stdin, joins, and
/// prints `IVYBENCH-FULL` once connected (Connected events) to the A-1 others; on the
/// next input line reports its peer list (duplicates are peers beyond one per name,
/// `missing` the agents it has no link with, `unready` listed peers that never got
/// their Connected event); leaves at end of stdin.
pub(crate) fn mesh(a: &Args) -> Result<(), String> {
    let bus_spec = a.str("bus")?.to_string();
    let index = a.u64("index")?;
    let agents = a.u64("agents")?;
    watchdog("mesh", a.u64_or("timeout", 60)?);
    let bus = Bus::new(format!("bench-mesh-{index:03}").as_bytes(), None);
    let st = Arc::new(Mutex::new(MeshState::default()));
    let st2 = st.clone();
    bus.on_application(move |bus, peer, ev| {
        let name = bus.peer_name(peer).unwrap_or_default();
        let mut s = st2.lock();
        match ev {
            AppEvent::Connected => {
                s.connected_events += 1;
                s.connected.insert(peer, name.clone());
                let same = s.connected.values().filter(|n| **n == name).count() as u64;
                s.max_dup = s.max_dup.max(same.saturating_sub(1));
                if s.t_full == 0 && s.distinct_names() as u64 >= agents - 1 {
                    s.t_full = now_ns();
                    emit_event("FULL", &format!("index={index} t_full={}", s.t_full));
                }
            }
            AppEvent::Disconnected => {
                s.disconnected_events += 1;
                if s.connected.remove(&peer).is_none() {
                    s.orphan_disconnects += 1;
                }
            }
            _ => {}
        }
    });
    let st3 = st.clone();
    stop_on_stdin_eof(&bus, move |bus| {
        let peers = bus.peers();
        let mut names: Vec<Vec<u8>> = peers.iter().filter_map(|&p| bus.peer_name(p)).collect();
        names.sort();
        names.dedup();
        let missing: Vec<String> = (0..agents)
            .filter(|&i| i != index && !names.contains(&format!("bench-mesh-{i:03}").into_bytes()))
            .map(|i| i.to_string())
            .collect();
        let s = st3.lock();
        let unready: Vec<String> = peers
            .iter()
            .filter(|p| !s.connected.contains_key(p))
            .map(|&p| String::from_utf8_lossy(&bus.peer_name(p).unwrap_or_default()).replace(' ', "_"))
            .collect();
        let mut line = Line::new("mesh");
        line.kv("index", index)
            .kv("t_start", s.t_start)
            .kv("t_full", s.t_full)
            .kv("peers", peers.len())
            .kv("distinct", names.len())
            .kv("duplicates", peers.len() - names.len())
            .kv("max_dup_seen", s.max_dup)
            .kv("connected_events", s.connected_events)
            .kv("disconnected_events", s.disconnected_events)
            .kv("orphan_disconnects", s.orphan_disconnects)
            .kv("missing", if missing.is_empty() { "-".into() } else { missing.join(",") })
            .kv("unready", if unready.is_empty() { "-".into() } else { unready.join(",") });
        line.emit_with_rusage();
    });
    emit_event("ARMED", &format!("index={index}"));
    let go = read_stdin_line();
    if go.trim() != "go" {
        return Err(format!("expected go, got {go:?}"));
    }
    st.lock().t_start = now_ns();
    join_and_run(&bus, &bus_spec)?;
    Ok(())
}
