//! The memory one hostile peer makes the engine hold, measured through the library
//! ([`ivy_proto::testing::peer_memory`]: the peer's input and output buffers), with no sockets:
//! a line just under the limit, a stream past it, a queue filled to its cap and
//! drained, thousands of lines split at every byte. It goes up only to the documented
//! bounds and comes back down to a small constant.
//!
//! (`Bus` has no such accessor: the loopback suites measure the agent process's RSS
//! instead, see tests/hostile_probe.rs.)

use ivy_proto::engine::{AppEvent, Engine, Event, Limits, PeerId};
use ivy_proto::testing::{drain_output, events, feed, output_len, peer_memory};
use ivy_proto::wire::{SHRINK_ABOVE, SHRUNK_CAPACITY};
use std::net::SocketAddr;

/// What a drained output queue may keep (outqueue.rs KEEP_CAPACITY).
const KEEP_CAPACITY: usize = 64 << 10;
const BAD: &[u8] = b"3 3\x02bad format request expected 'type id ...'\n0 0\x02\n";

/// An engine with `limits` and one accepted peer whose handshake was written out.
fn engine(limits: Limits) -> (Engine, PeerId) {
    let mut e = Engine::new(b"X", None);
    e.set_limits(limits);
    e.set_local(4000, b"1:2:4000");
    let remote: SocketAddr = ([127, 0, 0, 1], 40000).into();
    let local: SocketAddr = ([127, 0, 0, 1], 4000).into();
    let p = e.handle_connected(remote, local, None);
    drain_output(&mut e, p);
    (e, p)
}

fn chunks(data: &[u8], size: usize) -> impl Iterator<Item = &[u8]> {
    data.chunks(size)
}

#[test]
fn a_line_under_the_limit_is_held_then_given_back() {
    let limits = Limits::default();
    let (mut e, p) = engine(limits);
    let base = peer_memory(&e, p);
    let mut line = b"3 1\x02".to_vec();
    line.resize(limits.max_line, b'e');
    let mut peak = 0;
    for c in chunks(&line, 64 << 10) {
        feed(&mut e, p, c);
        peak = peak.max(peer_memory(&e, p));
    }
    feed(&mut e, p, b"\n9 1\x02\n");
    assert_eq!(drain_output(&mut e, p), b"10 1\x02\n", "the long line was taken, then the ping");
    // Read 64 KiB at a time, the buffer grows by doubling: at most twice the line.
    assert!(peak <= 2 * (limits.max_line + (64 << 10)), "held {peak} bytes for a {}-byte line", limits.max_line);
    let after = peer_memory(&e, p);
    assert!(after <= base.max(SHRUNK_CAPACITY) + KEEP_CAPACITY, "kept {after} bytes (baseline {base})");
}

#[test]
fn a_stream_past_the_limit_is_cut_and_bounded() {
    let limits = Limits { max_line: 64 << 10, ..Limits::default() };
    let (mut e, p) = engine(limits);
    let chunk = vec![b'z'; 4096];
    let mut peak = 0;
    // 100 MB offered; the engine stops reading at the limit.
    for _ in 0..(100 << 20) / chunk.len() {
        feed(&mut e, p, &chunk);
        peak = peak.max(peer_memory(&e, p));
        if output_len(&e, p) > 0 {
            break;
        }
    }
    assert_eq!(drain_output(&mut e, p), BAD);
    assert!(peak <= 2 * (limits.max_line + chunk.len()), "held {peak} bytes");
    e.handle_closed(p);
    assert_eq!(peer_memory(&e, p), 0, "a closed peer holds nothing");
}

#[test]
fn queue_capped_then_drained() {
    let limits = Limits { queue_cap: 1 << 20, ..Limits::default() };
    let (mut e, p) = engine(limits);
    feed(&mut e, p, b"6 1\x02SLOW\n1 0\x02(.*)\n5 0\x02\n");
    drain_output(&mut e, p);
    let msg = vec![b'm'; 60_000];
    // The socket takes nothing: every line past the cap is dropped whole.
    let mut full = 0;
    e.handle_written(p, 0, true);
    for _ in 0..100 {
        assert_eq!(e.send_msg(&msg), Ok(1));
        assert!(output_len(&e, p) <= limits.queue_cap);
        assert!(peer_memory(&e, p) <= 2 * limits.queue_cap + (64 << 10), "held {}", peer_memory(&e, p));
    }
    for ev in events(&mut e) {
        if ev == (Event::App { peer: p, event: AppEvent::FifoFull }) {
            full += 1;
        }
    }
    let queued = output_len(&e, p) / (msg.len() + 6);
    assert_eq!(queued + full, 100, "{queued} queued + {full} FifoFull");
    // Drained: whole lines, then the queue gives its memory back.
    let out = drain_output(&mut e, p);
    assert!(out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).all(|l| l.len() == msg.len() + 5));
    assert!(peer_memory(&e, p) <= KEEP_CAPACITY + SHRINK_ABOVE, "kept {} after the drain", peer_memory(&e, p));
}

#[test]
fn lines_split_at_every_byte_hold_nothing() {
    let (mut e, p) = engine(Limits::default());
    let base = peer_memory(&e, p);
    let mut stream = Vec::new();
    for i in 0..2000 {
        stream.extend_from_slice(format!("9 {i}\x02\n").as_bytes());
    }
    for b in &stream {
        feed(&mut e, p, std::slice::from_ref(b));
    }
    let pongs = drain_output(&mut e, p);
    assert_eq!(pongs.iter().filter(|&&b| b == b'\n').count(), 2000);
    assert!(peer_memory(&e, p) <= base.max(SHRUNK_CAPACITY) + KEEP_CAPACITY, "kept {}", peer_memory(&e, p));
}

/// The default docs/LIMITS.md gives the limit `name` in its table: the cell after
/// the row's `` `name`: `` description, read as `N`, `N KiB`, `N MiB` or `2^N`.
fn documented_default(name: &str) -> u64 {
    const LIMITS_MD: &str = include_str!("../../../docs/LIMITS.md");
    let row = LIMITS_MD.lines().find(|l| l.starts_with(&format!("| `{name}`:"))).expect("a row for the limit");
    let cell = row.split('|').nth(2).expect("a default column");
    let mut words = cell.split([' ', ',', '(']).filter(|w| !w.is_empty());
    let number = words.next().expect("a default");
    if let Some(exponent) = number.strip_prefix("2^") {
        return 1 << exponent.parse::<u32>().expect("a power of two");
    }
    let n: u64 = number.parse().unwrap_or_else(|_| panic!("{name}: {cell}"));
    match words.next() {
        Some("KiB") => n << 10,
        Some("MiB") => n << 20,
        _ => n,
    }
}

/// The defaults docs/LIMITS.md documents are the code's.
#[test]
fn documented_defaults() {
    use ivy_proto::pattern::*;
    use ivy_proto::wire::{DEFAULT_MAX_LINE, MAX_HELLO_ID, MAX_HELLO_NAME};
    // Every field, named: a new limit fails to build here until it is documented.
    let Limits {
        max_line,
        max_args,
        max_regexps_per_peer,
        max_regexp_len,
        max_states_per_peer,
        max_backtracking_per_peer,
        max_pattern_memory,
        max_input_memory,
        max_output_memory,
        queue_cap,
        max_peers,
    } = Limits::default();
    let sizes = [
        ("max_line", max_line),
        ("max_args", max_args),
        ("max_regexps_per_peer", max_regexps_per_peer),
        ("max_regexp_len", max_regexp_len),
        ("max_backtracking_per_peer", max_backtracking_per_peer),
        ("max_pattern_memory", max_pattern_memory),
        ("max_input_memory", max_input_memory),
        ("max_output_memory", max_output_memory),
        ("queue_cap", queue_cap),
        ("max_peers", max_peers),
    ];
    for (name, value) in sizes {
        assert_eq!(u64::try_from(value), Ok(documented_default(name)), "{name}");
    }
    assert_eq!(max_states_per_peer, documented_default("max_states_per_peer"));
    assert_eq!(DEFAULT_MAX_LINE, Limits::default().max_line);
    assert_eq!((SHRINK_ABOVE, SHRUNK_CAPACITY), (64 << 10, 4 << 10));
    assert_eq!((MAX_HELLO_ID, MAX_HELLO_NAME), (128, 2048));
    assert_eq!((REGEX_SIZE_LIMIT, REGEX_DFA_SIZE_LIMIT), (320 << 10, 256 << 10));
    assert_eq!((BACKTRACK_LIMIT, BACKTRACK_PROG_LIMIT), (125_000, 10_000));
    {
        use ivy_proto::engine::*;
        assert_eq!((QUADRATIC_MAX_MESSAGE, MESSAGE_WORK), (8 << 10, 1 << 20));
        assert_eq!((SEARCH_BASE, LINE_BYTES_PER_UNIT), (4, 64));
    }
    assert_eq!((MAX_REPEAT_COUNT, MAX_EXPANDED_LEN, MAX_PREFIX_LEN), (65_535, 64 << 10, 32));
}
