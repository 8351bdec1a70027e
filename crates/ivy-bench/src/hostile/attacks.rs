//! The attacks, each by raw TCP peers against the victim's port: floods of
//! subscriptions (costly, invalid, past the per-peer limit), long lines,
//! partial lines from as many peers as the victim holds, connection and ping
//! floods, costly patterns while messages flow. Each attack leaves once done:
//! every connection it opened is closed when it returns.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

/// One attack: its name, what it does, and what GOOD's messages carry meanwhile.
pub(crate) struct Attack {
    pub(crate) name: &'static str,
    pub(crate) what: &'static str,
    /// Bytes of filler in each of GOOD's messages (the victim's echoes are
    /// matched against the attackers' patterns).
    pub(crate) filler: usize,
    run: fn(u16) -> Result<(), String>,
}

impl Attack {
    /// Runs the attack against the victim listening on `port`.
    pub(crate) fn run(&self, port: u16) -> Result<(), String> {
        (self.run)(port)
    }
}

/// Peers an agent holds at most by default (`Limits::max_peers`), GOOD included.
const MAX_PEERS: usize = 512;
/// How long attackers stay connected once their bytes are written.
const HOLD: Duration = Duration::from_secs(2);
/// Threads writing the attackers' bytes.
const WRITERS: usize = 8;

pub(crate) fn catalogue() -> Vec<Attack> {
    vec![
        Attack {
            name: "subscribe-flood",
            what: "20 peers subscribe 4096 costly regexps each `(.*a){19}(?:|zN)`, then leave at once",
            filler: 0,
            run: |port| flood(port, 20, 4096, |p, i| format!("(.*a){{19}}(?:|z{p}_{i})")),
        },
        Attack {
            name: "regexps-100k",
            what: "1 peer sends 100 000 AddRegexp `^rN (.*)$`",
            filler: 0,
            run: |port| flood(port, 1, 100_000, |_, i| format!("^r{i} (.*)$")),
        },
        Attack {
            name: "invalid-regexps",
            what: "10 peers send 4096 invalid 8 KB regexps each, never reading the Error replies",
            filler: 0,
            run: |port| flood(port, 10, 4096, |p, i| format!("({p}_{i}{}", "x".repeat(8000))),
        },
        Attack {
            name: "costly-search",
            what: "10 peers hold 2000 costly regexps each while GOOD's 4 KB messages are echoed through them",
            filler: 4096,
            run: |port| flood(port, 10, 2000, |p, i| format!("(.*a){{19}}(?:|z{p}_{i})")),
        },
        Attack {
            name: "max-peers-regexps",
            what: "511 peers (max_peers with GOOD) subscribe 100 costly regexps each",
            filler: 0,
            run: |port| flood(port, MAX_PEERS - 1, 100, |p, i| format!("(.*a){{19}}(?:|z{p}_{i})")),
        },
        Attack {
            name: "partial-lines",
            what: "511 peers each hold a line of 1 MiB - 1 KB without LF",
            filler: 0,
            run: |port| streams(port, MAX_PEERS - 1, (1 << 20) - 1000),
        },
        Attack {
            name: "lines-10MB",
            what: "20 peers each send a 10 MB line",
            filler: 0,
            run: |port| streams(port, 20, 10 << 20),
        },
        Attack {
            name: "connections-600",
            what: "600 connections at once, each with a handshake, then closed",
            filler: 0,
            run: |port| streams(port, 600, 0),
        },
        Attack {
            name: "ping-flood",
            what: "50 peers send 2 MB of pings each and never read the Pongs",
            filler: 0,
            run: |port| {
                let pings: Vec<u8> = (0..300_000).flat_map(|i| format!("9 {i}\x02\n").into_bytes()).collect();
                attack(port, 50, |_| pings.clone())
            },
        },
    ]
}

/// `peers` peers, each with a handshake whose subscriptions are `count`
/// regexps `text(peer, i)`.
fn flood(port: u16, peers: usize, count: usize, text: fn(usize, usize) -> String) -> Result<(), String> {
    attack(port, peers, |p| {
        let mut bytes = format!("6 {}\x02FLOOD{p}\n", p + 1).into_bytes();
        for i in 0..count {
            bytes.extend_from_slice(format!("1 {i}\x02{}\n", text(p, i)).as_bytes());
        }
        bytes.extend_from_slice(b"5 0\x02\n");
        bytes
    })
}

/// `peers` peers, each with a handshake then `len` bytes without LF.
fn streams(port: u16, peers: usize, len: usize) -> Result<(), String> {
    attack(port, peers, |p| {
        let mut bytes = format!("6 {}\x02LINE{p}\n5 0\x02\n", p + 1).into_bytes();
        bytes.resize(bytes.len() + len, b'x');
        bytes
    })
}

/// Opens `peers` connections, writes `bytes(peer)` on each (on a few threads at
/// the lowest priority, each write given up after a while: the victim may stop
/// reading or close),
/// holds them [`HOLD`], then closes them all at once.
fn attack(port: u16, peers: usize, bytes: impl Fn(usize) -> Vec<u8> + Sync) -> Result<(), String> {
    let mut conns = Vec::with_capacity(peers);
    for _ in 0..peers {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(c) => conns.push(c),
            Err(e) => return Err(format!("connect: {e}")),
        }
    }
    let per_thread = peers.div_ceil(WRITERS).max(1);
    std::thread::scope(|s| {
        for (t, chunk) in conns.chunks_mut(per_thread).enumerate() {
            let bytes = &bytes;
            s.spawn(move || {
                lowest_priority();
                for (k, conn) in chunk.iter_mut().enumerate() {
                    let _ = conn.set_write_timeout(Some(Duration::from_secs(20)));
                    let _ = conn.write_all(&bytes(t * per_thread + k));
                }
            });
        }
    });
    std::thread::sleep(HOLD);
    drop(conns);
    Ok(())
}

/// Runs the calling thread at the lowest priority (nice 19): the attackers
/// share the machine's cores with the victim and GOOD, and on a real bus they
/// would run on hosts of their own.
fn lowest_priority() {
    // SAFETY: setpriority has no pointer arguments; on Linux, `who` 0 with
    // PRIO_PROCESS is the calling thread.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
}
