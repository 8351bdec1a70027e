//! The named scenarios: what agents each one starts, how a run is checked, and the
//! figures it yields (one `Metrics` map per run).

use crate::orch::{Agent, Impl, results, spawn};
use crate::util::{Fields, FieldsExt, now_ns, proc_status, proc_wakeups};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Figures of one run, by name.
pub(crate) type Metrics = BTreeMap<String, f64>;

/// Run-wide settings.
pub(crate) struct Ctx {
    pub verbose: bool,
    /// Seconds allowed to one run (roles get a few more, then kill themselves).
    pub timeout: u64,
    pub port: Cell<u32>,
    pub messages: u64,
    pub py_messages: u64,
    pub idle_secs: f64,
    pub c: Option<Impl>,
    pub py: Option<Impl>,
}

impl Ctx {
    /// A fresh private bus per run (never 2010).
    fn bus(&self) -> String {
        let p = self.port.get();
        self.port.set(if p >= 60000 { 20000 } else { p + 1 });
        format!("127.255.255.255:{p}")
    }

    fn deadline(&self) -> Instant {
        Instant::now() + Duration::from_secs(self.timeout)
    }

    fn role_timeout(&self) -> String {
        (self.timeout + 5).to_string()
    }
}

/// One sender, `subs` subscribers.
#[derive(Clone, Debug)]
pub(crate) struct Throughput {
    pub sender: Impl,
    pub sub: Impl,
    pub subs: usize,
    pub count: u64,
    pub size: usize,
    pub regexps: u64,
    /// `thread` (send loop on its own thread) or `loop` (from loop callbacks).
    pub mode: &'static str,
}

/// What a scenario runs.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Throughput(Throughput),
    Raw {
        size: usize,
        count: u64,
    },
    Rtt {
        imp: Impl,
        count: u64,
    },
    Idle(Impl),
    Mesh {
        imp: Impl,
        agents: usize,
    },
    /// ivy-python against ours, 1 → 1, 20 B: the four pairings side by side.
    Python {
        py: Impl,
        count: u64,
    },
}

/// A bound a figure must meet.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub metric: &'static str,
    /// True: figure ≥ value; false: figure ≤ value.
    pub at_least: bool,
    pub value: f64,
    pub text: &'static str,
}

#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub name: String,
    pub kind: Kind,
    pub targets: Vec<Target>,
}

const fn ge(metric: &'static str, value: f64, text: &'static str) -> Target {
    Target { metric, at_least: true, value, text }
}
const fn le(metric: &'static str, value: f64, text: &'static str) -> Target {
    Target { metric, at_least: false, value, text }
}

fn tp(sender: &Impl, sub: &Impl, subs: usize, count: u64, size: usize, regexps: u64, mode: &'static str) -> Kind {
    Kind::Throughput(Throughput { sender: sender.clone(), sub: sub.clone(), subs, count, size, regexps, mode })
}

/// Every scenario `all` runs, in order; `--scenario` picks by name or group.
pub(crate) fn catalogue(ctx: &Ctx) -> Vec<(Vec<&'static str>, Spec)> {
    let r = Impl::Rust;
    let n = ctx.messages;
    let spec = |name: &str, kind: Kind, targets: Vec<Target>| Spec { name: name.to_string(), kind, targets };
    let mut out = vec![
        (vec!["raw-tcp"], spec("raw-tcp-24B", Kind::Raw { size: 24, count: n * 20 }, vec![])),
        (vec!["raw-tcp"], spec("raw-tcp-1KiB", Kind::Raw { size: 1024, count: n * 2 }, vec![])),
        (
            vec!["1to1-20B", "sweep-subscribers", "sweep-regexps"],
            spec("1to1-20B", tp(&r, &r, 1, n, 20, 1, "thread"), vec![ge("msgs_per_s", 2e6, "≥ 2 000 000 msgs/s")]),
        ),
        (vec!["1to1-20B-loop"], spec("1to1-20B-loop", tp(&r, &r, 1, n, 20, 1, "loop"), vec![])),
        (
            vec!["1to1-1KiB"],
            spec("1to1-1KiB", tp(&r, &r, 1, n / 2, 1024, 1, "thread"), vec![ge("msgs_per_s", 7e5, "≥ 700 000 msgs/s")]),
        ),
        (vec!["1to1-1KiB-loop"], spec("1to1-1KiB-loop", tp(&r, &r, 1, n / 2, 1024, 1, "loop"), vec![])),
        (vec!["sweep-subscribers"], spec("subs-2", tp(&r, &r, 2, n, 20, 1, "thread"), vec![])),
        (vec!["sweep-subscribers"], spec("subs-5", tp(&r, &r, 5, n / 2, 20, 1, "thread"), vec![])),
        (
            vec!["1to10-20B", "sweep-subscribers"],
            spec(
                "1to10-20B",
                tp(&r, &r, 10, n / 4, 20, 1, "thread"),
                vec![ge("deliveries_per_s", 1.5e6, "≥ 1 500 000 deliveries/s")],
            ),
        ),
        (vec!["sweep-regexps"], spec("regexps-10", tp(&r, &r, 1, n, 20, 10, "thread"), vec![])),
        (vec!["sweep-regexps"], spec("regexps-100", tp(&r, &r, 1, n, 20, 100, "thread"), vec![])),
        (
            vec!["regexps-1000", "sweep-regexps"],
            spec(
                "regexps-1000",
                tp(&r, &r, 1, n, 20, 1000, "thread"),
                vec![ge("msgs_per_s", 1e6, "≥ 1 000 000 msgs/s")],
            ),
        ),
        (
            vec!["rtt"],
            spec("rtt", Kind::Rtt { imp: r.clone(), count: 20_000 }, vec![le("p50_ratio", 1.1, "p50 ≤ 1.1 × raw TCP")]),
        ),
        (
            vec!["idle"],
            spec(
                "idle",
                Kind::Idle(r.clone()),
                vec![le("rss_kb", 2441.0, "≤ 2.5 MB RSS"), le("wakeups", 0.0, "no wake-ups")],
            ),
        ),
        (
            vec!["mesh-50"],
            spec(
                "mesh-50",
                Kind::Mesh { imp: r.clone(), agents: 50 },
                vec![le("mesh_s", 0.1, "full mesh ≤ 0.1 s"), le("duplicates", 0.0, "no duplicate link")],
            ),
        ),
    ];
    if let Some(py) = &ctx.py {
        out.push((
            vec!["python"],
            spec("python-1to1-20B", Kind::Python { py: py.clone(), count: ctx.py_messages }, vec![]),
        ));
    }
    if let Some(c) = &ctx.c {
        let c_specs = [
            ("c:1to1-20B", tp(c, c, 1, n, 20, 1, "loop")),
            ("c:1to1-1KiB", tp(c, c, 1, n / 2, 1024, 1, "loop")),
            ("c:subs-2", tp(c, c, 2, n, 20, 1, "loop")),
            ("c:subs-5", tp(c, c, 5, n / 2, 20, 1, "loop")),
            ("c:1to10-20B", tp(c, c, 10, n / 4, 20, 1, "loop")),
            ("c:regexps-10", tp(c, c, 1, n, 20, 10, "loop")),
            ("c:regexps-100", tp(c, c, 1, n, 20, 100, "loop")),
            ("c:regexps-1000", tp(c, c, 1, n, 20, 1000, "loop")),
            ("c:rtt", Kind::Rtt { imp: c.clone(), count: 20_000 }),
            ("c:idle", Kind::Idle(c.clone())),
            ("c:mesh-50", Kind::Mesh { imp: c.clone(), agents: 50 }),
        ];
        for (name, kind) in c_specs {
            out.push((vec!["c"], spec(name, kind, vec![])));
        }
    }
    out
}

/// Parameters shown with a scenario (and used by the plots).
pub(crate) fn params(kind: &Kind) -> Vec<(&'static str, String)> {
    match kind {
        Kind::Throughput(t) => vec![
            ("kind", "throughput".into()),
            ("sender", t.sender.label().into()),
            ("subscriber", t.sub.label().into()),
            ("subs", t.subs.to_string()),
            ("regexps", t.regexps.to_string()),
            ("size", t.size.to_string()),
            ("messages", t.count.to_string()),
            ("mode", t.mode.into()),
        ],
        Kind::Raw { size, count } => {
            vec![("kind", "raw-tcp".into()), ("size", size.to_string()), ("messages", count.to_string())]
        }
        Kind::Rtt { imp, count } => {
            vec![("kind", "rtt".into()), ("impl", imp.label().into()), ("messages", count.to_string())]
        }
        Kind::Idle(imp) => vec![("kind", "idle".into()), ("impl", imp.label().into())],
        Kind::Mesh { imp, agents } => {
            vec![("kind", "mesh".into()), ("impl", imp.label().into()), ("agents", agents.to_string())]
        }
        Kind::Python { count, .. } => vec![("kind", "python".into()), ("messages", count.to_string())],
    }
}

pub(crate) fn run(ctx: &Ctx, kind: &Kind) -> Result<Metrics, String> {
    match kind {
        Kind::Throughput(t) => throughput(ctx, t),
        Kind::Raw { size, count } => raw(ctx, *size, *count),
        Kind::Rtt { imp, count } => rtt(ctx, imp, *count),
        Kind::Idle(imp) => idle(ctx, imp),
        Kind::Mesh { imp, agents } => mesh(ctx, imp, *agents),
        Kind::Python { py, count } => python(ctx, py, *count),
    }
}

/// Messages in flight beyond the slowest acknowledgement: about 4 MiB of lines.
fn window(size: usize) -> u64 {
    ((4 << 20) / (size as u64 + 8)).clamp(256, 65536)
}

fn throughput(ctx: &Ctx, t: &Throughput) -> Result<Metrics, String> {
    let bus = ctx.bus();
    let deadline = ctx.deadline();
    let w = window(t.size);
    let ack = (w / 8).max(1);
    let mut subs = Vec::new();
    for i in 0..t.subs {
        let args = [
            ("bus", bus.clone()),
            ("index", i.to_string()),
            ("count", t.count.to_string()),
            ("regexps", t.regexps.to_string()),
            ("ack", ack.to_string()),
            ("timeout", ctx.role_timeout()),
        ];
        subs.push(spawn(&t.sub, "sub", &args, &format!("sub-{i}"), ctx.verbose)?);
    }
    let args = [
        ("bus", bus.clone()),
        ("subs", t.subs.to_string()),
        ("count", t.count.to_string()),
        ("size", t.size.to_string()),
        ("regexps", t.regexps.to_string()),
        ("window", w.to_string()),
        ("mode", t.mode.to_string()),
        ("timeout", ctx.role_timeout()),
    ];
    let mut sender = vec![spawn(&t.sender, "send", &args, "sender", ctx.verbose)?];
    let s = results(&mut sender, deadline)?.remove(0);
    let r = results(&mut subs, deadline)?;
    check_throughput(t, &s, &r)?;

    let t_start = s.u("t_start")?;
    let t_last = r.iter().map(|f| f.u("t_last")).collect::<Result<Vec<_>, _>>()?.into_iter().max().unwrap_or(0);
    let elapsed = (t_last.saturating_sub(t_start)) as f64 / 1e9;
    let n = t.count as f64;
    let sub_cpu = r.iter().map(FieldsExt::cpu_s).fold(0.0, f64::max);
    let sub_rss = r.iter().map(|f| f.num("maxrss_kb").unwrap_or(0.0)).fold(0.0, f64::max);
    let mut m = Metrics::new();
    m.insert("elapsed_s".into(), elapsed);
    m.insert("msgs_per_s".into(), n / elapsed);
    m.insert("deliveries_per_s".into(), n * t.subs as f64 / elapsed);
    let t_sent = s.u("t_sent")?;
    m.insert("send_calls_per_s".into(), n / ((t_sent.saturating_sub(t_start)) as f64 / 1e9));
    m.insert("send_cpu_s".into(), s.cpu_s());
    m.insert("send_cpu_us_per_msg".into(), s.cpu_s() * 1e6 / n);
    m.insert("sub_cpu_s".into(), sub_cpu);
    m.insert("sub_cpu_us_per_msg".into(), sub_cpu * 1e6 / n);
    m.insert("send_rss_kb".into(), s.num("maxrss_kb")?);
    m.insert("sub_rss_kb".into(), sub_rss);
    m.insert("send_sys_pct".into(), 100.0 * s.num("cpu_sys_us")? / 1e6 / s.cpu_s());
    let sub0 = &r[0];
    m.insert("sub_sys_pct".into(), 100.0 * sub0.num("cpu_sys_us")? / 1e6 / sub0.cpu_s());
    let switches = |f: &Fields| f.num("vcsw").unwrap_or(f64::NAN) + f.num("ivcsw").unwrap_or(f64::NAN);
    m.insert("sub_switches_per_msg".into(), switches(sub0) / n);
    m.insert("send_switches_per_msg".into(), switches(&s) / n);
    m.insert("stalls".into(), s.num("stalls")?);
    m.insert("congestion".into(), s.num("congestion").unwrap_or(0.0));
    Ok(m)
}

/// No loss hidden by speed: every subscriber got every message, in order, with the
/// sender's checksum; the sender matched each message once per subscriber.
fn check_throughput(t: &Throughput, s: &Fields, subs: &[Fields]) -> Result<(), String> {
    let want = t.count;
    if s.u("sent")? != want {
        return Err(format!("sender sent {} of {want}", s.s("sent")));
    }
    if s.u("matched")? != want * t.subs as u64 {
        return Err(format!("sender matched {} lines, want {}", s.s("matched"), want * t.subs as u64));
    }
    if s.u("fifo_full").unwrap_or(0) != 0 {
        return Err(format!("sender reported {} fifo-full events", s.s("fifo_full")));
    }
    for f in subs {
        if f.u("count")? != want || f.u("errors")? != 0 || f.s("checksum") != s.s("checksum") {
            return Err(format!(
                "subscriber {}: count {} (want {want}), errors {}, checksum {} (sender {})",
                f.s("index"),
                f.s("count"),
                f.s("errors"),
                f.s("checksum"),
                s.s("checksum")
            ));
        }
    }
    Ok(())
}

/// Runs a raw TCP pair of Rust roles: the server `server` (with `server_args`),
/// then the client `client` with `client_args` and the port the server printed
/// (its `IVYBENCH-PORT P` line). Their result lines: (client's, server's).
fn run_raw_pair(
    ctx: &Ctx,
    deadline: Instant,
    (server, server_args): (&str, &[(&str, String)]),
    (client, client_args): (&str, &[(&str, String)]),
) -> Result<(Fields, Fields), String> {
    let mut server = spawn(&Impl::Rust, server, server_args, server, ctx.verbose)?;
    let line = server.wait_line("IVYBENCH-PORT", deadline)?;
    let port = line.split_whitespace().nth(1).unwrap_or_default().to_string();
    let args: Vec<(&str, String)> = [("port", port)].into_iter().chain(client_args.iter().cloned()).collect();
    let mut client = spawn(&Impl::Rust, client, &args, client, ctx.verbose)?;
    let client_result = client.result(deadline)?;
    Ok((client_result, server.result(deadline)?))
}

fn raw(ctx: &Ctx, size: usize, count: u64) -> Result<Metrics, String> {
    let deadline = ctx.deadline();
    let sink_args = [("size", size.to_string()), ("timeout", ctx.role_timeout())];
    let source_args = [("count", count.to_string()), ("size", size.to_string()), ("timeout", ctx.role_timeout())];
    let (src, snk) = run_raw_pair(ctx, deadline, ("raw-sink", &sink_args), ("raw-source", &source_args))?;
    if snk.u("count")? != count || snk.u("errors")? != 0 || snk.s("sum") != src.s("sum") {
        return Err(format!("raw sink: {snk:?} vs source {src:?}"));
    }
    let elapsed = (snk.u("t_last")? - src.u("t_start")?) as f64 / 1e9;
    let mut m = Metrics::new();
    m.insert("elapsed_s".into(), elapsed);
    m.insert("msgs_per_s".into(), count as f64 / elapsed);
    m.insert("mb_per_s".into(), (count * size as u64) as f64 / elapsed / 1e6);
    m.insert("send_cpu_s".into(), src.cpu_s());
    m.insert("sub_cpu_s".into(), snk.cpu_s());
    Ok(m)
}

fn latency_metrics(m: &mut Metrics, prefix: &str, f: &Fields) -> Result<(), String> {
    for k in ["p50", "p90", "p99", "mean", "min"] {
        m.insert(format!("{prefix}{k}_us"), f.num(&format!("{k}_ns"))? / 1e3);
    }
    Ok(())
}

/// Round trips over Ivy and, in the same run, over a raw TCP connection.
fn rtt(ctx: &Ctx, imp: &Impl, count: u64) -> Result<Metrics, String> {
    let deadline = ctx.deadline();
    let mut m = Metrics::new();
    // Raw TCP ping-pong first: blocking reads, then poll + read (an event loop's calls).
    for (prefix, poll) in [("raw_", "0"), ("rawpoll_", "1")] {
        let pong_args = [("timeout", ctx.role_timeout()), ("poll", poll.to_string())];
        let ping_args = [("count", count.to_string()), ("poll", poll.to_string()), ("timeout", ctx.role_timeout())];
        let (raw, _) = run_raw_pair(ctx, deadline, ("raw-pong", &pong_args), ("raw-ping", &ping_args))?;
        if raw.u("errors")? != 0 {
            return Err("raw ping-pong: corrupted echo".into());
        }
        latency_metrics(&mut m, prefix, &raw)?;
        m.insert(format!("{prefix}cpu_us_per_rt"), raw.cpu_s() * 1e6 / count as f64);
    }
    // Then Ivy: requester and echo agents.
    let bus = ctx.bus();
    let mut echo =
        spawn(imp, "rtt-echo", &[("bus", bus.clone()), ("timeout", ctx.role_timeout())], "echo", ctx.verbose)?;
    let args = [("bus", bus), ("count", count.to_string()), ("timeout", ctx.role_timeout())];
    let mut req = spawn(imp, "rtt-req", &args, "requester", ctx.verbose)?;
    let ivy = req.result(deadline)?;
    let echo_r = echo.result(deadline)?;
    if ivy.u("errors")? != 0 || ivy.u("count")? != count {
        return Err(format!("rtt: {ivy:?}"));
    }
    latency_metrics(&mut m, "", &ivy)?;
    m.insert("p50_ratio".into(), m["p50_us"] / m["raw_p50_us"]);
    m.insert("p50_ratio_vs_poll".into(), m["p50_us"] / m["rawpoll_p50_us"]);
    m.insert("req_cpu_us_per_rt".into(), ivy.cpu_s() * 1e6 / count as f64);
    m.insert("echo_cpu_us_per_rt".into(), echo_r.cpu_s() * 1e6 / count as f64);
    Ok(m)
}

/// RSS and wake-ups of an idle agent connected to one idle peer.
fn idle(ctx: &Ctx, imp: &Impl) -> Result<Metrics, String> {
    let deadline = ctx.deadline();
    let bus = ctx.bus();
    let mut a = spawn(imp, "idle", &[("bus", bus.clone()), ("index", "0".into())], "idle-0", ctx.verbose)?;
    let mut b = spawn(imp, "idle", &[("bus", bus), ("index", "1".into())], "idle-1", ctx.verbose)?;
    a.wait_line("IVYBENCH-EVENT", deadline)?;
    b.wait_line("IVYBENCH-EVENT", deadline)?;
    std::thread::sleep(Duration::from_millis(300));
    let pid = a.pid();
    let (sw0, ticks0) = proc_wakeups(pid).ok_or("cannot read /proc of the idle agent")?;
    std::thread::sleep(Duration::from_secs_f64(ctx.idle_secs));
    let (sw1, ticks1) = proc_wakeups(pid).ok_or("cannot read /proc of the idle agent")?;
    let (rss, hwm, threads, anon, file) = proc_status(pid).ok_or("cannot read /proc status")?;
    a.close_stdin();
    b.close_stdin();
    let ra = a.result(deadline)?;
    b.result(deadline)?;
    let mut m = Metrics::new();
    m.insert("rss_kb".into(), rss as f64);
    m.insert("hwm_kb".into(), hwm as f64);
    m.insert("threads".into(), threads as f64);
    m.insert("rss_anon_kb".into(), anon as f64);
    m.insert("rss_file_kb".into(), file as f64);
    m.insert("wakeups".into(), (sw1 - sw0) as f64);
    m.insert("window_s".into(), ctx.idle_secs);
    m.insert("cpu_ticks".into(), (ticks1 - ticks0) as f64);
    m.insert("maxrss_kb".into(), ra.num("maxrss_kb")?);
    Ok(m)
}

/// `agents` agents join at once; time until every one sees all the others.
fn mesh(ctx: &Ctx, imp: &Impl, agents: usize) -> Result<Metrics, String> {
    let deadline = ctx.deadline();
    let bus = ctx.bus();
    let mut all: Vec<Agent> = Vec::new();
    for i in 0..agents {
        let args = [
            ("bus", bus.clone()),
            ("index", i.to_string()),
            ("agents", agents.to_string()),
            ("timeout", ctx.role_timeout()),
        ];
        all.push(spawn(imp, "mesh", &args, &format!("mesh-{i}"), ctx.verbose)?);
    }
    for a in &mut all {
        a.wait_line("IVYBENCH-ARMED", deadline)?;
    }
    let t_go = now_ns();
    for a in &mut all {
        a.write_stdin("go\n")?;
    }
    // A full mesh takes well under a second; wait at most 10 s, then report who
    // misses whom.
    let full_deadline = deadline.min(Instant::now() + Duration::from_secs(10));
    let mut fulls: Vec<u64> = Vec::new();
    let mut not_full = Vec::new();
    for a in &mut all {
        match a.wait_line("IVYBENCH-FULL", full_deadline) {
            Ok(line) => {
                let t = line.split_whitespace().find_map(|kv| kv.strip_prefix("t_full=")).and_then(|v| v.parse().ok());
                fulls.push(t.ok_or(format!("bad line {line}"))?);
            }
            Err(_) => not_full.push(a.label.clone()),
        }
    }
    // Let duplicates (if any) show, then take every agent's peer list while all
    // are still up, and only then let them go.
    std::thread::sleep(Duration::from_millis(300));
    for a in &mut all {
        a.write_stdin("report\n")?;
    }
    let mut r = Vec::new();
    for a in &mut all {
        let line = a.wait_line("IVYBENCH ", deadline)?;
        r.push(crate::util::parse_line(&line).ok_or(format!("bad line {line}"))?);
    }
    for a in &mut all {
        a.close_stdin();
    }
    for a in &mut all {
        a.wait_exit(deadline)?;
    }
    if !not_full.is_empty() {
        let mut links: Vec<(usize, usize)> = Vec::new();
        for f in &r {
            let me: usize = f.s("index").parse().unwrap_or(0);
            for other in f.s("missing").split(',').filter_map(|v| v.parse::<usize>().ok()) {
                links.push((me.min(other), me.max(other)));
            }
        }
        links.sort_unstable();
        let reported = links.len();
        links.dedup();
        // A link missing on both sides is reported twice.
        let one_sided = 2 * links.len() - reported;
        let shown: Vec<String> = links.iter().take(8).map(|(a, b)| format!("{a}-{b}")).collect();
        let unready: Vec<String> = r
            .iter()
            .filter(|f| f.s("unready") != "-" && !f.s("unready").is_empty())
            .map(|f| format!("{} lists {} without a Connected event", f.s("index"), f.s("unready")))
            .collect();
        return Err(format!(
            "{} of {agents} agents never saw the full mesh within 10 s: {}; {} missing link(s) ({} missing on one side only) {}{}; disconnect events {} (for peers never connected: {})",
            not_full.len(),
            unready.join("; "),
            links.len(),
            one_sided,
            shown.join(" "),
            if links.len() > 8 { " ..." } else { "" },
            r.iter().map(|f| f.num("disconnected_events").unwrap_or(0.0)).sum::<f64>(),
            r.iter().map(|f| f.num("orphan_disconnects").unwrap_or(0.0)).sum::<f64>()
        ));
    }
    fulls.sort_unstable();
    let sum = |k: &str| r.iter().map(|f| f.num(k).unwrap_or(f64::NAN)).sum::<f64>();
    let mut m = Metrics::new();
    m.insert("mesh_s".into(), (fulls[fulls.len() - 1] - t_go) as f64 / 1e9);
    m.insert("mesh_median_s".into(), (fulls[fulls.len() / 2] - t_go) as f64 / 1e9);
    m.insert("duplicates".into(), sum("duplicates"));
    m.insert("duplicates_seen".into(), sum("max_dup_seen"));
    m.insert("peers_min".into(), r.iter().map(|f| f.num("peers").unwrap_or(0.0)).fold(f64::INFINITY, f64::min));
    m.insert("extra_connects".into(), sum("connected_events") - (agents * (agents - 1)) as f64);
    m.insert("disconnects".into(), sum("disconnected_events"));
    m.insert("orphan_disconnects".into(), r.iter().map(|f| f.num("orphan_disconnects").unwrap_or(0.0)).sum());
    let starts = r.iter().map(|f| f.u("t_start").unwrap_or(t_go)).max().unwrap_or(t_go);
    m.insert("start_skew_s".into(), (starts.saturating_sub(t_go)) as f64 / 1e9);
    m.insert("cpu_s_mean".into(), r.iter().map(FieldsExt::cpu_s).sum::<f64>() / agents as f64);
    m.insert("rss_kb_max".into(), r.iter().map(|f| f.num("maxrss_kb").unwrap_or(0.0)).fold(0.0, f64::max));
    Ok(m)
}

/// 1 → 1, 20 B, same message count: ours → ours, python → ours, ours → python,
/// python → python, one after the other in the same run.
fn python(ctx: &Ctx, py: &Impl, count: u64) -> Result<Metrics, String> {
    let r = Impl::Rust;
    let mut m = Metrics::new();
    for (key, s, sub) in [("rust_rust", &r, &r), ("py_rust", py, &r), ("rust_py", &r, py), ("py_py", py, py)] {
        let t =
            Throughput { sender: s.clone(), sub: sub.clone(), subs: 1, count, size: 20, regexps: 1, mode: "thread" };
        let x = throughput(ctx, &t).map_err(|e| format!("{key}: {e}"))?;
        m.insert(format!("{key}_msgs_per_s"), x["msgs_per_s"]);
        m.insert(format!("{key}_send_cpu_us_per_msg"), x["send_cpu_us_per_msg"]);
        m.insert(format!("{key}_sub_cpu_us_per_msg"), x["sub_cpu_us_per_msg"]);
    }
    for k in ["py_rust", "rust_py", "py_py"] {
        m.insert(format!("ratio_rust_over_{k}"), m["rust_rust_msgs_per_s"] / m[&format!("{k}_msgs_per_s")]);
    }
    Ok(m)
}
