//! The TCP line decoder (protocol §2, §3) on arbitrary bytes cut in arbitrary chunks.
//!
//! Input layout: byte 0 picks the maximum line length, bytes 1..9 seed the chunk
//! sizes, the rest is the stream a peer sends.
//!
//! 1. [`LineBuffer`] + [`parse_line`] + [`args`]: no panic; every line is within
//!    `max_line` and holds no LF; the lines do not depend on how the stream was cut
//!    (compared with the whole stream received at once); the buffer's memory stays
//!    bounded by the line limit and the chunk size.
//! 2. The whole input path of one peer, as the driver takes it (subscriptions compiled,
//!    Msg delivered, pings answered, limits enforced), then two messages routed
//!    through whatever the peer subscribed: no panic, the peer's memory stays
//!    bounded, a closed peer is gone.
#![no_main]

use ivy_proto::engine::{Engine, Event, Limits};
use ivy_proto::testing::{actions, events, feed, peer_memory, receive};
use ivy_proto::wire::{LF, LineBuffer, LineTooLong, MIN_ROOM, args, parse_line};
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;

/// Chunk sizes from a small xorshift generator: 1..=MAX_CHUNK bytes each.
struct Chunks {
    state: u64,
}

const MAX_CHUNK: usize = 97;

impl Chunks {
    fn next(&mut self) -> usize {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        1 + (self.state % MAX_CHUNK as u64) as usize
    }

    fn split<'a>(&mut self, mut data: &'a [u8]) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        while !data.is_empty() {
            let (a, b) = data.split_at(self.next().min(data.len()));
            out.push(a);
            data = b;
        }
        out
    }
}

/// Lines of a LineBuffer fed `chunks`, until the end or the first LineTooLong.
/// With `chunked`, also checks the memory bound that holds when pushes are small.
fn decode(chunks: &[&[u8]], max_line: usize, chunked: bool) -> (Vec<Vec<u8>>, Result<(), LineTooLong>) {
    let mut buf = LineBuffer::new(max_line);
    let mut lines = Vec::new();
    for chunk in chunks {
        receive(&mut buf, chunk);
        loop {
            match buf.take_line() {
                Ok(Some(range)) => {
                    let line = buf.data().get(range).expect("range inside the buffer");
                    assert!(line.len() <= max_line, "line over max_line");
                    assert!(!line.contains(&LF), "LF inside a line");
                    if let Some(parsed) = parse_line(line) {
                        assert!(parsed.params.len() < line.len());
                        let fields: Vec<&[u8]> = args(parsed.params).collect();
                        let total: usize = fields.iter().map(|a| a.len()).sum();
                        assert!(total + fields.len().saturating_sub(1) <= parsed.params.len());
                    }
                    lines.push(line.to_vec());
                }
                Ok(None) => break,
                Err(e) => return (lines, Err(e)),
            }
        }
        buf.compact();
        // Pending bytes hold no LF and at most max_line of them; the allocation is
        // bounded by the room a receive is offered on top of that (at least
        // MIN_ROOM), doubled at most once by the vector's growth.
        assert!(buf.pending() <= max_line, "pending {} over {max_line}", buf.pending());
        assert!(
            !chunked || buf.capacity() <= 2 * (max_line + MAX_CHUNK + MIN_ROOM),
            "capacity {} for max_line {max_line}",
            buf.capacity()
        );
    }
    (lines, Ok(()))
}

fn engine_input(chunks: &[&[u8]], max_line: usize) {
    let limits = Limits {
        max_line,
        max_args: 16,
        max_regexps_per_peer: 8,
        max_regexp_len: 256,
        max_states_per_peer: 2048,
        max_backtracking_per_peer: 2,
        queue_cap: 16 << 10,
        max_peers: 4,
        max_pattern_memory: 1 << 20,
        max_input_memory: 1 << 20,
        max_output_memory: 1 << 20,
    };
    let mut engine = Engine::new(b"FUZZ", Some(b"FUZZ Ready"));
    engine.set_limits(limits);
    engine.set_local(4000, b"1:2:4000");
    engine.bind(b"^(.*)$");
    engine.bind(b"^cmd (\\w+) (\\d+)");
    engine.bind(b"(?I-10#10)");
    let remote: SocketAddr = ([127, 0, 0, 1], 40000).into();
    let local: SocketAddr = ([127, 0, 0, 1], 4000).into();
    let peer = engine.handle_connected(remote, local, None);
    let bound = 4 * (max_line + MAX_CHUNK) + 2 * limits.queue_cap + (64 << 10);
    for chunk in chunks {
        feed(&mut engine, peer, chunk);
        let mem = peer_memory(&engine, peer);
        assert!(mem <= bound, "peer holds {mem} bytes (bound {bound})");
        for event in events(&mut engine) {
            if let Event::Msg { params, .. } = event {
                assert!(args(&params).count() <= limits.max_args);
            }
        }
        actions(&mut engine);
    }
    // Route messages through whatever the peer subscribed (short ones: a pattern
    // that spends its whole backtracking budget takes seconds under ASan; the
    // `pattern` target covers matching).
    for msg in [&b"cmd go 12"[..], b"\xff\xfe a\x03b"] {
        let _ = engine.send_msg(msg);
        let mem = peer_memory(&engine, peer);
        assert!(mem <= bound, "peer holds {mem} bytes after sends (bound {bound})");
    }
    events(&mut engine);
    engine.handle_closed(peer);
    engine.reap(peer);
    assert!(engine.peers().is_empty());
}

fuzz_target!(|data: &[u8]| {
    let Some((&limit, rest)) = data.split_first() else { return };
    let Some((seed, stream)) = rest.split_at_checked(8) else { return };
    let max_line = 16 + usize::from(limit) * 8;
    let seed = u64::from_le_bytes(seed.try_into().unwrap_or_default()) | 1;
    let chunks = Chunks { state: seed }.split(stream);

    let (lines, result) = decode(&chunks, max_line, true);
    let (whole, whole_result) = decode(&[stream], max_line, false);
    // However the stream was cut, the same lines come out before any error, and an
    // over-long line is an error either way.
    assert_eq!(result.is_err(), whole_result.is_err(), "error depends on chunking");
    assert_eq!(lines, whole, "lines depend on chunking");
    let mut again = Vec::new();
    for l in &lines {
        again.extend_from_slice(l);
        again.push(LF);
    }
    assert!(stream.starts_with(&again), "lines are not the stream's prefix");

    engine_input(&chunks, max_line);
});
