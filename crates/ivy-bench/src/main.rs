//! `ivy-bench`: the benchmark suite of issue 6. Every agent runs in a process of its
//! own: this binary re-executes itself with a hidden `--role NAME` (or runs the roles
//! of the C benchmark binary, or of the ivy-python script) and reads one result line
//! from each.
//!
//! ```text
//! ivy-bench [--scenario NAME[,NAME...]|all] [--messages N] [--runs K] [--json]
//!           [--port-base P] [--timeout S] [--python PY] [--c-bench PATH] [--list] [-v]
//! ivy-bench --hostile [--attack NAME[,NAME...]] [--victim-python PY] [--port-base P]
//! ```
//!
//! Scenarios: `raw-tcp`, `1to1-20B`, `1to1-20B-loop`, `1to1-1KiB`, `1to10-20B`,
//! `regexps-1000`, `rtt`, `idle`, `mesh-50`, the groups `sweep-subscribers`,
//! `sweep-regexps`, `python` (ivy-python 4.0 from a venv) and `c` (the C API
//! benchmark, `--c-bench`), or any single name printed by `--list`.
//! Each figure is the median of K runs. With `--json` the report goes to stderr and
//! JSON to stdout. Exit status 1 when a run failed (lost, reordered or corrupted
//! messages, a timeout); missed targets are reported, not fatal.

mod args;
mod hostile;
mod orch;
mod raw;
mod report;
mod roles;
mod scenarios;
mod util;

use orch::Impl;
use scenarios::{Ctx, catalogue};
use std::cell::Cell;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: ivy-bench [--scenario NAME[,NAME...]|all] [--messages N] [--runs K] [--json]\n\
  [--port-base P] [--timeout S] [--py-messages N] [--idle-secs S] [--python PY|none]\n\
  [--c-bench PATH] [--list] [-v]\n\
       ivy-bench --hostile [--attack NAME,...] [--victim-python PY] [--port-base P]";

fn run_role(role: &str, rest: &[String]) -> ExitCode {
    let r = args::Args::parse(rest).and_then(|a| match role {
        "sub" => roles::subscriber(&a),
        "send" => roles::sender(&a),
        "rtt-req" => roles::rtt_requester(&a),
        "rtt-echo" => roles::rtt_echo(&a),
        "idle" => roles::idle(&a),
        "mesh" => roles::mesh(&a),
        "raw-sink" => raw::sink(&a),
        "raw-source" => raw::source(&a),
        "raw-pong" => raw::pong(&a),
        "raw-ping" => raw::ping(&a),
        "victim" => hostile::victim_role(&a),
        _ => Err(format!("unknown role {role}")),
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            util::Line::new(role).kv("error", e.replace(char::is_whitespace, "_")).emit();
            ExitCode::from(2)
        }
    }
}

/// The Python interpreter of the venv with ivy-python 4.0, if one exists.
fn find_python(root: &std::path::Path) -> Option<PathBuf> {
    ["target/pyenv/bin/python", "target/bench-pyenv/bin/python"].iter().map(|p| root.join(p)).find(|p| p.exists())
}

struct Options {
    scenarios: Vec<String>,
    runs: usize,
    json: bool,
    list: bool,
    ctx: Ctx,
}

fn parse_options(argv: &[String]) -> Result<Options, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut o = Options {
        scenarios: vec!["all".into()],
        runs: 3,
        json: false,
        list: false,
        ctx: Ctx {
            verbose: false,
            timeout: 60,
            port: Cell::new(20000 + std::process::id() % 30000),
            messages: 300_000,
            py_messages: 20_000,
            idle_secs: 3.0,
            c: None,
            py: None,
        },
    };
    let mut python = find_python(&root).map(|p| p.to_string_lossy().into_owned());
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().ok_or_else(|| format!("{a} needs a value"));
        let num = |v: String| v.parse::<u64>().map_err(|_| format!("bad number {v}"));
        match a.as_str() {
            "--scenario" => o.scenarios = val()?.split(',').map(str::to_string).collect(),
            "--messages" => o.ctx.messages = num(val()?)?.max(100),
            "--py-messages" => o.ctx.py_messages = num(val()?)?.max(100),
            "--runs" => o.runs = num(val()?)?.max(1) as usize,
            "--port-base" => {
                let p = num(val()?)?;
                if p == 2010 || !(1024..=60000).contains(&p) {
                    return Err("--port-base must be within 1024..60000 and not 2010".into());
                }
                o.ctx.port.set(p as u32);
            }
            "--timeout" => o.ctx.timeout = num(val()?)?.max(1),
            "--idle-secs" => o.ctx.idle_secs = val()?.parse().map_err(|_| "bad --idle-secs")?,
            "--python" => python = Some(val()?).filter(|p| p != "none"),
            "--c-bench" => o.ctx.c = Some(Impl::C(PathBuf::from(val()?))),
            "--json" => o.json = true,
            "--list" => o.list = true,
            "-v" | "--verbose" => o.ctx.verbose = true,
            _ => return Err(format!("unknown option {a}\n{USAGE}")),
        }
    }
    if o.ctx.port.get() == 2010 {
        o.ctx.port.set(2011);
    }
    o.ctx.py = python.map(|py| Impl::Python(PathBuf::from(py), root.join("bench/ivy_py_role.py")));
    Ok(o)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("--role") {
        let Some(role) = argv.get(1) else { return ExitCode::from(2) };
        return run_role(role, &argv[2..]);
    }
    if argv.first().map(String::as_str) == Some("--hostile") {
        return hostile::main(&argv[1..]);
    }
    if argv.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let o = match parse_options(&argv) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let cat = catalogue(&o.ctx);
    if o.list {
        for (groups, spec) in &cat {
            println!("{:<18} groups: {}", spec.name, groups.join(", "));
        }
        return ExitCode::SUCCESS;
    }
    let wanted = |groups: &[&str], name: &str| {
        o.scenarios.iter().any(|s| s == "all" || s == name || groups.contains(&s.as_str()))
    };
    let specs: Vec<_> = cat.into_iter().filter(|(g, s)| wanted(g, &s.name)).map(|(_, s)| s).collect();
    if specs.is_empty() {
        eprintln!("no scenario matches {:?} (see --list)", o.scenarios);
        return ExitCode::from(2);
    }
    if o.scenarios.iter().any(|s| s == "all" || s == "python") && o.ctx.py.is_none() {
        eprintln!("note: no ivy-python venv (target/pyenv or target/bench-pyenv): python comparison skipped");
    }
    let rows = report::run_all(&o.ctx, &specs, o.runs);
    let table = report::table(&rows);
    if o.json {
        eprint!("{table}");
        println!("{}", report::json(&o.ctx, &rows, o.runs));
    } else {
        print!("{table}");
    }
    if rows.iter().any(|r| !r.errors.is_empty()) { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
