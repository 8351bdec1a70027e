//! `ivyprobe`: joins an Ivy bus, prints what happens on it and sends what it reads.
//!
//! ```text
//! ivyprobe [-b BUS] [-n NAME] [-s] [-c WORD,WORD...] [-v] [-h] [REGEXP...]
//! ```
//!
//! - `-b BUS`: the bus (default: `IVYBUS`, then `127.255.255.255:2010`);
//! - `-n NAME`: our application name (default `IVYPROBE`); the ready message is
//!   `NAME Ready`;
//! - `-s`: show the peers' bind / unbind events;
//! - `-c WORD,WORD`: filter words (peers' `^WORD` regexps must name one of them);
//! - `-v`: print the version, then go on; `-h`: print the usage and exit;
//! - every other argument is a regexp to bind.
//!
//! Standard input is read line by line on the loop thread; end of input quits.
//! Commands: `.help`, `.quit`, `.bind RE`, `.unbind ID`, `.direct APP ID MSG`,
//! `.die APP`, `.ping APP`, `.where APP`, `.who`, `.showbind`. Any other line
//! (an empty one included) is sent as a message.
//!
//! # Output
//!
//! One line per event, flushed as soon as it is written (stdout may be a pipe).
//! Texts from the bus are written raw between single quotes (quotes inside are not
//! escaped). `NAME` is the peer's application name.
//!
//! Events from the bus:
//! - `NAME connected from HOST` / `NAME disconnected`;
//! - `NAME congestion` / `NAME decongestion` / `NAME fifo full`;
//! - `NAME sent [ID] 'arg1' 'arg2'`: a message matched our binding `ID`; one quoted
//!   argument per capture (none for a regexp without groups);
//! - `NAME direct [ID] 'MSG'`: a direct message;
//! - `NAME pong N us`: the round trip of our last ping (negative: an older ping);
//! - `NAME die received`: a peer asked us to die; we leave the bus and exit 0;
//! - with `-s`: `NAME bind [ID] 'RE'`, `NAME unbind [ID] 'RE'`,
//!   `NAME filtered [ID] 'RE'`, `NAME change [ID] 'RE'`.
//!
//! Answers to our own input start with `-> `:
//! - `-> Sent to N peer(s)` after sending a line;
//! - `-> bound [ID] 'RE'`, `-> bad regexp 'RE' at offset N: WHY`,
//!   `-> unbound [ID]`, `-> no binding [ID]`;
//! - `-> direct sent to APP`, `-> die sent to APP`, `-> ping sent to APP`,
//!   `-> no application APP`;
//! - `-> APP on HOST` (`.where`, one line per peer of that name);
//! - `-> N peer(s): 'A' 'B'` (`.who`);
//! - `-> N binding(s)` then `-> [ID] 'RE'` per binding (`.showbind`);
//! - `-> usage: ...` for a command with bad arguments, `-> unknown command: .X`.
//!
//! # Start-up
//!
//! The C runtime calls our own `main`, not std's wrapper: the wrapper looks for the
//! main thread's stack guard by reading `/proc/self/maps` through libc's stdio and
//! `sscanf`, which leaves about 380 KiB of libc resident for the life of the process.
//! What else the wrapper does is kept: SIGPIPE is ignored (a closed stdout gives
//! write errors, not death) and a panic exits with status 101. Only its
//! stack-overflow message is lost: an overflow still kills the process (SIGSEGV).

#![no_main]

use ivy::regexp::{Pattern, expand_intervals};
use ivy::{AppEvent, BindEvent, BindingId, Bus, ChannelId, Environment, PeerId, PrintLogger, SendError, Stream};
use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

const USAGE: &str = "usage: ivyprobe [-b BUS] [-n NAME] [-s] [-c WORD,WORD...] [-v] [-h] [REGEXP...]\n\
  -b BUS   bus to join (default: $IVYBUS, then 127.255.255.255:2010)\n\
  -n NAME  application name (default IVYPROBE)\n\
  -s       show the peers' bind and unbind events\n\
  -c WORDS filter words, comma separated\n\
  -v       print the version\n\
  -h       print this help";

const HELP: &[&str] = &[
    "-> commands:",
    "->   .help               this help",
    "->   .quit               leave the bus and exit",
    "->   .bind RE            subscribe to RE",
    "->   .unbind ID          remove our binding ID",
    "->   .direct APP ID MSG  send a direct message",
    "->   .die APP            ask APP to die",
    "->   .ping APP           ping APP",
    "->   .where APP          host of APP",
    "->   .who                peers on the bus",
    "->   .showbind           our bindings",
    "->   anything else is sent as a message",
];

/// Command-line options.
#[derive(Default)]
struct Options {
    bus: Option<String>,
    name: Option<String>,
    show_binds: bool,
    filters: Vec<String>,
    regexps: Vec<String>,
}

/// Exit statuses.
const SUCCESS: i32 = 0;
const FAILURE: i32 = 1;
/// The status std gives a process whose `main` panicked.
const PANICKED: i32 = 101;

/// What the command line asks for.
enum Parsed {
    Run(Options),
    Exit(i32),
}

/// Prints a logged line (the library's).
fn print(stream: Stream, line: &str) {
    match stream {
        Stream::Stdout => out(&[line.trim_end_matches('\n').as_bytes()]),
        Stream::Stderr => eprint!("{line}"),
    }
}

/// Writes one line to stdout and flushes it.
fn out(parts: &[&[u8]]) {
    let mut stdout = io::stdout().lock();
    for part in parts {
        let _ = stdout.write_all(part);
    }
    let _ = stdout.write_all(b"\n");
    let _ = stdout.flush();
}

/// Writes one text line to stdout and flushes it.
fn say(line: &str) {
    out(&[line.as_bytes()]);
}

/// `' 'a' 'b'`: each argument raw between single quotes, space separated.
fn quoted(args: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::new();
    for a in args {
        v.extend_from_slice(b" '");
        v.extend_from_slice(a);
        v.push(b'\'');
    }
    v
}

fn name_of(bus: &Bus, peer: PeerId) -> Vec<u8> {
    bus.peer_name(peer).unwrap_or_else(|| b"?".to_vec())
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Parsed {
    let mut opts = Options::default();
    while let Some(arg) = args.next() {
        if arg == "--" {
            opts.regexps.extend(args.by_ref());
            break;
        }
        if !arg.starts_with('-') || arg.len() == 1 {
            opts.regexps.push(arg);
            continue;
        }
        let Some((flag, inline)) = arg.split_at_checked(2) else {
            eprintln!("ivyprobe: unknown option {arg}\n{USAGE}");
            return Parsed::Exit(FAILURE);
        };
        let mut value = || {
            if inline.is_empty() { args.next() } else { Some(inline.to_string()) }
        };
        match flag {
            "-b" | "-n" | "-c" => {
                let Some(v) = value() else {
                    eprintln!("ivyprobe: option {flag} needs a value\n{USAGE}");
                    return Parsed::Exit(FAILURE);
                };
                match flag {
                    "-b" => opts.bus = Some(v),
                    "-n" => opts.name = Some(v),
                    _ => opts.filters.extend(v.split(',').filter(|w| !w.is_empty()).map(str::to_string)),
                }
            }
            "-s" if inline.is_empty() => opts.show_binds = true,
            "-v" if inline.is_empty() => say(&format!("ivyprobe (ivy-rs) {}", env!("CARGO_PKG_VERSION"))),
            "-h" if inline.is_empty() => {
                say(USAGE);
                return Parsed::Exit(SUCCESS);
            }
            _ => {
                eprintln!("ivyprobe: unknown option {arg}\n{USAGE}");
                return Parsed::Exit(FAILURE);
            }
        }
    }
    Parsed::Run(opts)
}

/// Subscribes to `regexp` after compiling it locally (interval regexps expanded
/// first, as the bus does before sending); prints the result.
fn bind(bus: &Bus, regexp: &[u8]) {
    if let Err(e) = Pattern::compile(&expand_intervals(regexp)) {
        let why = format!(" at offset {}: {}", e.offset, e.message);
        return out(&[b"-> bad regexp", &quoted(&[regexp]), why.as_bytes()]);
    }
    let slot = Arc::new(AtomicI32::new(-1));
    let seen = slot.clone();
    let id = bus.bind(regexp, move |bus, peer, args| {
        let tag = format!(" sent [{}]", seen.load(Ordering::Relaxed));
        out(&[&name_of(bus, peer), tag.as_bytes(), &quoted(args)]);
    });
    slot.store(id.id(), Ordering::Relaxed);
    out(&[format!("-> bound [{}]", id.id()).as_bytes(), &quoted(&[regexp])]);
}

fn on_app_event(bus: &Bus, peer: PeerId, event: AppEvent) {
    let name = name_of(bus, peer);
    let text = match event {
        AppEvent::Connected => {
            let host = bus.peer_host(peer).unwrap_or_else(|| "?".to_string());
            format!(" connected from {host}")
        }
        AppEvent::Disconnected => " disconnected".to_string(),
        AppEvent::Congestion => " congestion".to_string(),
        AppEvent::Decongestion => " decongestion".to_string(),
        AppEvent::FifoFull => " fifo full".to_string(),
    };
    out(&[&name, text.as_bytes()]);
}

fn on_bind_event(bus: &Bus, peer: PeerId, id: i32, regexp: &[u8], event: BindEvent) {
    let verb = match event {
        BindEvent::Added => "bind",
        BindEvent::Removed => "unbind",
        BindEvent::Filtered => "filtered",
        BindEvent::Changed => "change",
    };
    let head = format!(" {verb} [{id}]");
    out(&[&name_of(bus, peer), head.as_bytes(), &quoted(&[regexp])]);
}

/// Installs the callbacks that print what the bus tells us.
fn install_callbacks(bus: &Bus, show_binds: bool) {
    bus.on_application(on_app_event);
    if show_binds {
        bus.on_bind_change(on_bind_event);
    }
    bus.on_direct(|bus, peer, id, text| {
        out(&[&name_of(bus, peer), format!(" direct [{id}]").as_bytes(), &quoted(&[text])]);
    });
    bus.on_pong(|bus, peer, micros| {
        out(&[&name_of(bus, peer), format!(" pong {micros} us").as_bytes()]);
    });
    bus.on_die(|bus, peer, _id| {
        out(&[&name_of(bus, peer), b" die received"]);
    });
}

/// The newest peer called `app`, or a `-> no application` line.
fn find_peer(bus: &Bus, app: &[u8]) -> Option<PeerId> {
    let peer = bus.peer_by_name(app);
    if peer.is_none() {
        out(&[b"-> no application ", app]);
    }
    peer
}

fn cmd_unbind(bus: &Bus, arg: &[u8]) {
    match std::str::from_utf8(arg.trim_ascii()).ok().and_then(|a| a.parse::<i32>().ok()) {
        Some(id) if bus.unbind(BindingId::from_id(id)).is_ok() => say(&format!("-> unbound [{id}]")),
        Some(id) => say(&format!("-> no binding [{id}]")),
        None => say("-> usage: .unbind ID"),
    }
}

/// `.direct APP ID MSG`: the name and the message are taken as raw bytes.
fn cmd_direct(bus: &Bus, arg: &[u8]) {
    let mut it = arg.splitn(3, |&b| b == b' ');
    let (Some(app), Some(id), msg) = (it.next(), it.next(), it.next().unwrap_or_default()) else {
        return say("-> usage: .direct APP ID MSG");
    };
    let Some(id) = std::str::from_utf8(id).ok().and_then(|i| i.parse::<i32>().ok()) else {
        return say("-> usage: .direct APP ID MSG");
    };
    if let Some(peer) = find_peer(bus, app) {
        sent(bus.send_direct(peer, id, msg), "direct", app);
    }
}

fn cmd_die(bus: &Bus, app: &[u8]) {
    if let Some(peer) = find_peer(bus, app) {
        sent(bus.send_die(peer, 0, b""), "die", app);
    }
}

fn cmd_ping(bus: &Bus, app: &[u8]) {
    if let Some(peer) = find_peer(bus, app) {
        sent(bus.ping(peer), "ping", app);
    }
}

/// `-> WHAT sent to APP`, or why not.
fn sent(result: Result<(), SendError>, what: &str, app: &[u8]) {
    match result {
        Ok(()) => out(&[b"-> ", what.as_bytes(), b" sent to ", app]),
        Err(e) => out(&[b"-> ", what.as_bytes(), b" not sent to ", app, b": ", e.to_string().as_bytes()]),
    }
}

fn cmd_where(bus: &Bus, app: &[u8]) {
    let mut found = false;
    for peer in bus.peers() {
        if bus.peer_name(peer).as_deref() == Some(app) {
            found = true;
            let host = bus.peer_host(peer).unwrap_or_else(|| "?".to_string());
            out(&[b"-> ", app, b" on ", host.as_bytes()]);
        }
    }
    if !found {
        out(&[b"-> no application ", app]);
    }
}

fn cmd_who(bus: &Bus) {
    let names: Vec<Vec<u8>> = bus.peers().into_iter().filter_map(|p| bus.peer_name(p)).collect();
    let refs: Vec<&[u8]> = names.iter().map(Vec::as_slice).collect();
    out(&[format!("-> {} peer(s):", refs.len()).as_bytes(), &quoted(&refs)]);
}

fn cmd_showbind(bus: &Bus) {
    let mut list = bus.bindings();
    list.sort_by_key(|(id, _)| id.id());
    say(&format!("-> {} binding(s)", list.len()));
    for (id, regexp) in list {
        out(&[format!("-> [{}]", id.id()).as_bytes(), &quoted(&[&regexp])]);
    }
}

/// Runs a `.command` line (`line` starts with '.'); arguments stay raw bytes.
fn command(bus: &Bus, line: &[u8]) {
    let (cmd, arg) = match line.iter().position(|&b| b == b' ') {
        Some(at) => (&line[..at], &line[at + 1..]),
        None => (line, &b""[..]),
    };
    let needs_app = |f: fn(&Bus, &[u8])| {
        let app = arg.trim_ascii();
        if app.is_empty() { out(&[b"-> usage: ", cmd, b" APP"]) } else { f(bus, app) }
    };
    match cmd {
        b".help" => HELP.iter().for_each(|l| say(l)),
        b".quit" => bus.stop(),
        b".bind" if !arg.is_empty() => bind(bus, arg),
        b".bind" => say("-> usage: .bind RE"),
        b".unbind" => cmd_unbind(bus, arg),
        b".direct" => cmd_direct(bus, arg),
        b".die" => needs_app(cmd_die),
        b".ping" => needs_app(cmd_ping),
        b".where" => needs_app(cmd_where),
        b".who" => cmd_who(bus),
        b".showbind" => cmd_showbind(bus),
        _ => out(&[b"-> unknown command: ", cmd]),
    }
}

/// Handles one input line (without its LF).
fn handle_line(bus: &Bus, line: &[u8]) {
    if line.first() == Some(&b'.') {
        command(bus, line);
    } else {
        match bus.send(line) {
            Ok(n) => say(&format!("-> Sent to {n} peer(s)")),
            Err(e) => say(&format!("-> not sent: {e}")),
        }
    }
}

/// Reads what stdin has now, runs every complete line; at end of input, runs the
/// last partial line and leaves the bus.
fn read_stdin(bus: &Bus, input: &mut File, pending: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    let n = match input.read(&mut buf) {
        Ok(n) => n,
        Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock) => return,
        Err(e) => {
            eprintln!("ivyprobe: stdin: {e}");
            0
        }
    };
    if n == 0 {
        if !pending.is_empty() {
            handle_line(bus, &std::mem::take(pending));
        }
        bus.stop();
        return;
    }
    pending.extend_from_slice(&buf[..n]);
    while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = pending.drain(..=pos).collect();
        handle_line(bus, &line[..pos]);
    }
}

/// Watches stdin from the bus's loop (a duplicate of fd 0 read raw, unbuffered).
fn watch_stdin(bus: &Bus) -> io::Result<ChannelId> {
    let mut input = File::from(io::stdin().as_fd().try_clone_to_owned()?);
    let mut pending = Vec::new();
    let handle = bus.clone();
    let lp = bus.event_loop();
    let id = lp.add_channel(
        0,
        Box::new(move |lp, channel, _fd| {
            read_stdin(&handle, &mut input, &mut pending);
            if !handle.is_started() {
                lp.remove_channel(channel);
            }
        }),
        None,
        None,
    );
    Ok(id)
}

fn run() -> i32 {
    let opts = match parse_args(std::env::args().skip(1)) {
        Parsed::Run(opts) => opts,
        Parsed::Exit(code) => return code,
    };
    let env = Environment::read();
    PrintLogger::install(env.log_level(), print);
    let name = opts.name.unwrap_or_else(|| "IVYPROBE".to_string());
    let ready = format!("{name} Ready");
    let bus = Bus::new(name.as_bytes(), Some(ready.as_bytes()));
    env.apply(&bus);
    install_callbacks(&bus, opts.show_binds);
    for word in &opts.filters {
        bus.add_filter(word.as_bytes());
    }
    for regexp in &opts.regexps {
        bind(&bus, regexp.as_bytes());
    }
    let stdin = match watch_stdin(&bus) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("ivyprobe: cannot watch stdin: {e}");
            return FAILURE;
        }
    };
    if let Err(e) = bus.start(env.bus_or(opts.bus.as_deref())) {
        eprintln!("ivyprobe: cannot join the bus: {e}");
        return FAILURE;
    }
    bus.run();
    // The stdin handler holds the bus, which holds the loop that holds the
    // handler: removed (at the loop's next pass), it lets both go.
    let lp = bus.event_loop();
    lp.remove_channel(stdin);
    lp.run_once();
    SUCCESS
}

/// The process entry point (see "Start-up" above).
// SAFETY: `no_main` leaves this the only `main` symbol; the C runtime calls it once,
// on the main thread, with the C signature `int main(int, char **)`. The arguments
// are not used: std reads them itself when the program is loaded.
#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // SAFETY: sets the disposition of SIGPIPE to SIG_IGN, as std's own start-up
    // does; no handler runs, and no other thread exists yet.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    std::panic::catch_unwind(run).unwrap_or(PANICKED)
}
