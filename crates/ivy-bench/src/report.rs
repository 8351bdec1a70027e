//! Runs the selected scenarios K times and reports medians: a Markdown table for
//! people, JSON for the plots.

use crate::scenarios::{Ctx, Kind, Metrics, Spec, params, run};
use crate::util::{json_num, json_str, median};
use std::fmt::Write as _;

pub(crate) struct Row {
    pub spec: Spec,
    pub runs: Vec<Metrics>,
    pub errors: Vec<String>,
}

impl Row {
    /// Median of every figure present in all successful runs.
    pub(crate) fn median(&self) -> Metrics {
        let mut out = Metrics::new();
        let Some(first) = self.runs.first() else { return out };
        for key in first.keys() {
            let mut v: Vec<f64> = self.runs.iter().filter_map(|m| m.get(key).copied()).collect();
            if v.len() == self.runs.len() {
                out.insert(key.clone(), median(&mut v));
            }
        }
        out
    }

    /// Per target: (text, Some(pass)) or None when not measured.
    fn verdicts(&self) -> Vec<(String, Option<bool>)> {
        let m = self.median();
        self.spec
            .targets
            .iter()
            .map(|t| {
                let pass = m.get(t.metric).map(|&v| if t.at_least { v >= t.value } else { v <= t.value });
                (t.text.to_string(), pass)
            })
            .collect()
    }
}

/// Runs of a scenario: K, but at most 3 for Python. The idle agent's RSS varies from
/// run to run (by about 200 KiB: which agent dials, which code pages get touched), so
/// it takes K runs and its median like the others.
fn runs_for(kind: &Kind, runs: usize) -> usize {
    match kind {
        Kind::Python { .. } => runs.min(3),
        _ => runs,
    }
}

/// Runs every scenario once per round, K rounds: a burst of noise on the machine
/// (the other core busy for a while) then spoils one run of several scenarios
/// rather than every run of one, and the medians stay fair.
pub(crate) fn run_all(ctx: &Ctx, specs: &[Spec], runs: usize) -> Vec<Row> {
    let mut rows: Vec<Row> =
        specs.iter().map(|s| Row { spec: s.clone(), runs: Vec::new(), errors: Vec::new() }).collect();
    for round in 0..runs {
        for row in rows.iter_mut() {
            let k = runs_for(&row.spec.kind, runs);
            if round >= k {
                continue;
            }
            let t0 = std::time::Instant::now();
            match run(ctx, &row.spec.kind) {
                Ok(m) => {
                    eprintln!(
                        "{:<18} run {}/{k} ({:.1} s): {}",
                        row.spec.name,
                        round + 1,
                        t0.elapsed().as_secs_f64(),
                        headline(&row.spec.kind, &m)
                    );
                    row.runs.push(m);
                }
                Err(e) => {
                    eprintln!("{:<18} run {}/{k}: FAILED: {e}", row.spec.name, round + 1);
                    row.errors.push(e);
                }
            }
        }
    }
    rows
}

fn rate(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn get(m: &Metrics, k: &str) -> f64 {
    m.get(k).copied().unwrap_or(f64::NAN)
}

/// The main figures of a run, in one line.
pub(crate) fn headline(kind: &Kind, m: &Metrics) -> String {
    let g = |k: &str| get(m, k);
    match kind {
        Kind::Throughput(t) if t.subs > 1 => {
            format!("{}msgs/s, {}deliveries/s", rate(g("msgs_per_s")), rate(g("deliveries_per_s")))
        }
        Kind::Throughput(_) => format!("{}msgs/s", rate(g("msgs_per_s"))),
        Kind::Raw { .. } => format!("{}lines/s ({:.0} MB/s)", rate(g("msgs_per_s")), g("mb_per_s")),
        Kind::Rtt { .. } => format!(
            "p50 {:.1} µs, p90 {:.1}, p99 {:.1}; raw TCP p50 {:.1} µs (×{:.2}), with poll {:.1} µs (×{:.2})",
            g("p50_us"),
            g("p90_us"),
            g("p99_us"),
            g("raw_p50_us"),
            g("p50_ratio"),
            g("rawpoll_p50_us"),
            g("p50_ratio_vs_poll")
        ),
        Kind::Idle(_) => format!(
            "RSS {:.0} KiB, {:.0} wake-ups in {:.0} s, {:.0} thread(s)",
            g("rss_kb"),
            g("wakeups"),
            g("window_s"),
            g("threads")
        ),
        Kind::Mesh { .. } => format!(
            "full mesh in {:.3} s (median agent {:.3} s), {:.0} duplicate link(s)",
            g("mesh_s"),
            g("mesh_median_s"),
            g("duplicates")
        ),
        Kind::Python { .. } => format!(
            "ours→ours {}, py→ours {}, ours→py {}, py→py {} msgs/s",
            rate(g("rust_rust_msgs_per_s")),
            rate(g("py_rust_msgs_per_s")),
            rate(g("rust_py_msgs_per_s")),
            rate(g("py_py_msgs_per_s"))
        ),
    }
}

/// Secondary figures: CPU, memory, ratios.
fn details(kind: &Kind, m: &Metrics) -> String {
    let g = |k: &str| get(m, k);
    match kind {
        Kind::Throughput(_) => format!(
            "CPU µs/msg: send {:.2} ({:.0}% sys), recv {:.2} ({:.0}% sys); context switches/msg: send {:.2}, recv {:.2}; send() calls {}/s; max RSS send {:.1} / sub {:.1} MiB",
            g("send_cpu_us_per_msg"),
            g("send_sys_pct"),
            g("sub_cpu_us_per_msg"),
            g("sub_sys_pct"),
            g("send_switches_per_msg"),
            g("sub_switches_per_msg"),
            rate(g("send_calls_per_s")),
            g("send_rss_kb") / 1024.0,
            g("sub_rss_kb") / 1024.0
        ),
        Kind::Raw { .. } => format!("CPU s: source {:.2}, sink {:.2}", g("send_cpu_s"), g("sub_cpu_s")),
        Kind::Rtt { .. } => format!(
            "CPU µs per round trip: requester {:.1}, echo {:.1}, raw client {:.1} (with poll {:.1})",
            g("req_cpu_us_per_rt"),
            g("echo_cpu_us_per_rt"),
            g("raw_cpu_us_per_rt"),
            g("rawpoll_cpu_us_per_rt")
        ),
        Kind::Idle(_) => format!(
            "RSS = {:.0} KiB anonymous + {:.0} KiB file-backed (code, libc); max RSS {:.0} KiB; CPU ticks in window {:.0}",
            g("rss_anon_kb"),
            g("rss_file_kb"),
            g("maxrss_kb"),
            g("cpu_ticks")
        ),
        Kind::Mesh { .. } => format!(
            "start skew {:.3} s, extra connects {:.0}, transient duplicates {:.0}, CPU {:.3} s/agent, RSS {:.1} MiB",
            g("start_skew_s"),
            g("extra_connects"),
            g("duplicates_seen"),
            g("cpu_s_mean"),
            g("rss_kb_max") / 1024.0
        ),
        Kind::Python { .. } => format!(
            "ours÷python: as sender ×{:.1}, as subscriber ×{:.1}, both ×{:.1}",
            g("ratio_rust_over_py_rust"),
            g("ratio_rust_over_rust_py"),
            g("ratio_rust_over_py_py")
        ),
    }
}

pub(crate) fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("\n| scenario | result (median) | details | target | status |\n|---|---|---|---|---|\n");
    for r in rows {
        let m = r.median();
        let (result, det) = if r.runs.is_empty() {
            ("FAILED".to_string(), r.errors.first().cloned().unwrap_or_default())
        } else {
            (headline(&r.spec.kind, &m), details(&r.spec.kind, &m))
        };
        let v = r.verdicts();
        let target = v.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join("; ");
        let status = if !r.errors.is_empty() {
            format!("FAIL ({}/{} runs)", r.errors.len(), r.errors.len() + r.runs.len())
        } else if v.is_empty() {
            "-".into()
        } else if v.iter().all(|(_, p)| *p == Some(true)) {
            "met".into()
        } else {
            "missed".into()
        };
        let _ = writeln!(out, "| {} | {} | {} | {} | {} |", r.spec.name, result, det, target, status);
    }
    out
}

fn metrics_json(m: &Metrics) -> String {
    let items: Vec<String> = m.iter().map(|(k, v)| format!("{}: {}", json_str(k), json_num(*v))).collect();
    format!("{{{}}}", items.join(", "))
}

fn machine_json() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_string()))
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{{\"nproc\": {nproc}, \"cpu\": {}, \"kernel\": {}}}", json_str(&cpu), json_str(kernel.trim()))
}

pub(crate) fn json(ctx: &Ctx, rows: &[Row], runs: usize) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{{\n  \"machine\": {},\n  \"runs\": {runs},\n  \"messages\": {},\n  \"rows\": [",
        machine_json(),
        ctx.messages
    );
    for (i, r) in rows.iter().enumerate() {
        let params: Vec<String> =
            params(&r.spec.kind).iter().map(|(k, v)| format!("{}: {}", json_str(k), json_str(v))).collect();
        let targets: Vec<String> = r
            .spec
            .targets
            .iter()
            .zip(r.verdicts())
            .map(|(t, (_, pass))| {
                format!(
                    "{{\"metric\": {}, \"at_least\": {}, \"value\": {}, \"text\": {}, \"pass\": {}}}",
                    json_str(t.metric),
                    t.at_least,
                    json_num(t.value),
                    json_str(t.text),
                    pass.map_or("null".into(), |p| p.to_string())
                )
            })
            .collect();
        let runs: Vec<String> = r.runs.iter().map(metrics_json).collect();
        let errors: Vec<String> = r.errors.iter().map(|e| json_str(e)).collect();
        let _ = write!(
            out,
            "{}\n    {{\"name\": {}, \"params\": {{{}}}, \"median\": {}, \"headline\": {}, \"targets\": [{}], \"runs\": [{}], \"errors\": [{}]}}",
            if i == 0 { "" } else { "," },
            json_str(&r.spec.name),
            params.join(", "),
            metrics_json(&r.median()),
            json_str(&if r.runs.is_empty() { String::new() } else { headline(&r.spec.kind, &r.median()) }),
            targets.join(", "),
            runs.join(", "),
            errors.join(", ")
        );
    }
    out.push_str("\n  ]\n}");
    out
}
