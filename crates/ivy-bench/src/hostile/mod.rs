//! `ivy-bench --hostile`: attacks against an agent (ours, or ivy-python's with
//! `--victim-python PY`), each on a fresh victim process, with the well-behaved
//! peer GOOD connected throughout. For each attack it prints whether the victim
//! survived (still running, GOOD never dropped), its resident memory before,
//! at its peak and after the attackers left, and GOOD's worst round trips and
//! counts. The goals (docs/LIMITS.md): GOOD never waits over 50 ms, never
//! dropped; peak RSS under 256 MB; RSS back within 2 MB of its level before.
//!
//! ```text
//! ivy-bench --hostile [--attack NAME[,NAME...]] [--victim-python PY] [--port-base P]
//! ```

mod attacks;
mod good;
mod victim;

pub(crate) use victim::role as victim_role;

use good::{Good, GoodReport, RoundTrips};
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use victim::{Kind, Victim};

/// How long GOOD runs before an attack, so that the victim's memory settles.
const WARM_UP: Duration = Duration::from_secs(1);
/// How long after the attackers left the final memory is read.
const SETTLE: Duration = Duration::from_secs(2);
/// Goals of issue 14.
const STALL_GOAL: Duration = Duration::from_millis(50);
const PEAK_GOAL_KB: u64 = 256 << 10;
const BACK_GOAL_KB: u64 = 2 << 10;

/// One attack's figures.
struct Row {
    attack: &'static str,
    victim: &'static str,
    survived: bool,
    base_kb: u64,
    peak_kb: u64,
    final_kb: u64,
    good: GoodReport,
    error: Option<String>,
}

/// Runs the attacks named in `argv` (all by default); exit status 1 if one failed to run.
pub(crate) fn main(argv: &[String]) -> std::process::ExitCode {
    let mut names: Vec<String> = Vec::new();
    let mut kinds = vec![Kind::Rust];
    let mut port = 30000 + std::process::id() % 20000;
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        let value = it.next().cloned().unwrap_or_default();
        match a.as_str() {
            "--attack" => names = value.split(',').map(str::to_string).collect(),
            "--victim-python" => kinds.push(Kind::Python(value.into())),
            "--port-base" => port = value.parse().unwrap_or(port),
            _ => {
                eprintln!("usage: ivy-bench --hostile [--attack NAME,...] [--victim-python PY] [--port-base P]");
                return std::process::ExitCode::from(2);
            }
        }
    }
    raise_descriptor_limit();
    let catalogue = attacks::catalogue();
    let chosen: Vec<_> = catalogue.iter().filter(|a| names.is_empty() || names.iter().any(|n| n == a.name)).collect();
    for a in &chosen {
        eprintln!("{:<18} {}", a.name, a.what);
    }
    let mut rows = Vec::new();
    for attack in &chosen {
        for kind in &kinds {
            port = if port == 2009 || port >= 60000 { 30000 } else { port + 1 };
            let row = run_one(attack, kind, port as u16);
            eprintln!("{}", line(&row));
            rows.push(row);
        }
    }
    print!("{}", table(&rows));
    if rows.iter().any(|r| r.error.is_some()) {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

/// One attack on a fresh victim.
fn run_one(attack: &attacks::Attack, kind: &Kind, bus_port: u16) -> Row {
    let mut row = Row {
        attack: attack.name,
        victim: kind.name(),
        survived: false,
        base_kb: 0,
        peak_kb: 0,
        final_kb: 0,
        good: GoodReport::default(),
        error: None,
    };
    let mut victim = match Victim::spawn(kind, bus_port) {
        Ok(v) => v,
        Err(e) => {
            row.error = Some(e);
            return row;
        }
    };
    let mut good = match Good::join(bus_port, Duration::from_secs(10)) {
        Ok(g) => g,
        Err(e) => {
            row.error = Some(e);
            return row;
        }
    };
    if let Err(e) = good.start(attack.filler) {
        row.error = Some(e);
        return row;
    }
    std::thread::sleep(WARM_UP);
    row.base_kb = victim.rss_kb();
    victim.reset_peak();
    let started = Instant::now();
    if let Err(e) = attack.run(good.victim_port) {
        row.error = Some(e);
    }
    std::thread::sleep(SETTLE);
    row.peak_kb = victim.peak_kb();
    row.final_kb = victim.rss_kb();
    row.good = good.finish(Duration::from_millis(500));
    row.survived = victim.alive() && !row.good.dropped;
    eprintln!("  ({} s)", started.elapsed().as_secs());
    row
}

fn mb(kb: u64) -> String {
    format!("{:.1}", kb as f64 / 1024.0)
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// GOOD's worst wait (ms) and its answered/sent count, for one kind of request.
fn trips(t: &RoundTrips) -> [String; 2] {
    [ms(t.worst), format!("{}/{}", t.answered, t.sent)]
}

/// A row's memory figures (MB): before, at the peak, after.
fn memory(r: &Row) -> [String; 3] {
    [mb(r.base_kb), mb(r.peak_kb), mb(r.final_kb)]
}

/// One line of progress for a row.
fn line(r: &Row) -> String {
    let [base, peak, after] = memory(r);
    let [ping, pongs] = trips(&r.good.pings);
    let [echo, echoes] = trips(&r.good.echoes);
    let error = r.error.as_ref().map(|e| format!(" error: {e}")).unwrap_or_default();
    format!(
        "{} vs {}: survived {}, RSS {base} -> peak {peak} -> {after} MB, ping worst {ping} ms ({pongs}), echo worst {echo} ms ({echoes}){error}",
        r.attack, r.victim, r.survived
    )
}

/// The goals a row missed: "met" when none.
fn goals(r: &Row) -> String {
    let g = &r.good;
    let mut missed = Vec::new();
    if !r.survived {
        missed.push("survive");
    }
    if g.pings.worst.max(g.echoes.worst) > STALL_GOAL {
        missed.push("50 ms");
    }
    if r.peak_kb > PEAK_GOAL_KB {
        missed.push("256 MB");
    }
    if r.final_kb > r.base_kb + BACK_GOAL_KB {
        missed.push("back within 2 MB");
    }
    if missed.is_empty() { "met".to_string() } else { format!("missed: {}", missed.join(", ")) }
}

/// The Markdown table of every row, goals checked.
fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| attack | victim | survived | RSS before (MB) | peak (MB) | after (MB) | GOOD's worst ping (ms) | pongs | worst echo (ms) | echoes | goals |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let survived = if r.survived { "yes" } else { "no" };
        let mut cells = vec![r.attack.to_string(), r.victim.to_string(), survived.to_string()];
        cells.extend(memory(r));
        cells.extend(trips(&r.good.pings));
        cells.extend(trips(&r.good.echoes));
        cells.push(goals(r));
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// Attacks open hundreds of connections: the soft limit of descriptors is
/// raised to the hard one.
fn raise_descriptor_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the rlimit we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: setrlimit reads the rlimit we own.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    }
}
