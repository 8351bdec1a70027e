//! Writing to a peer. The bytes the engine queued are taken out of it (lent, see
//! [`Engine::take_output`]) and written without the driver's lock, so that other
//! threads go on queueing while the system call runs: a burst of sends from one
//! thread while another writes leaves in few large writes. One thread at a time
//! writes to a peer; one that finds another writing leaves the bytes to it, and
//! that writer takes them before it stops.

use super::Core;
use crate::runtime::sys;
use ivy_proto::engine::PeerId;
use parking_lot::MutexGuard;
use std::io;
use std::os::fd::AsRawFd;

/// What is being written to one peer.
#[derive(Debug, Default)]
pub(super) struct Output {
    /// Bytes taken from the engine; those before `pos` are written.
    buf: Vec<u8>,
    pos: usize,
    /// A thread writes right now, without the lock (it took `buf` along).
    writing: bool,
    /// The socket refused bytes: the rest waits for writability.
    blocked: bool,
    /// Our side of the connection is shut down (it drains): nothing more is written.
    shut: bool,
    /// What a writer off the loop's thread left for the loop to do, since only
    /// the loop's thread may change what its loop watches.
    for_loop: Option<LoopTask>,
}

/// See [`Output::for_loop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoopTask {
    /// Watch the socket for writability.
    WatchWritable,
    /// The socket failed: drop the peer.
    Drop,
}

/// Where a write stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wrote {
    /// Everything queued was written, or nothing could be: the peer is gone,
    /// blocked (the loop waits for writability), or another thread writes to it.
    Done,
    /// Written off the loop's thread, which left a task for the loop.
    NeedsLoop,
}

impl Output {
    /// Whether a thread is writing to the peer right now.
    pub(super) fn is_writing(&self) -> bool {
        self.writing
    }

    /// Whether a writer left a task for the loop.
    pub(super) fn needs_loop(&self) -> bool {
        self.for_loop.is_some()
    }

    /// Whether the socket refused bytes, which wait for writability.
    pub(super) fn is_blocked(&self) -> bool {
        self.blocked
    }

    /// The socket became writable again.
    pub(super) fn unblock(&mut self) {
        self.blocked = false;
    }

    /// Nothing more is written: what was not, goes.
    pub(super) fn shut(&mut self) {
        self.shut = true;
        self.blocked = false;
        self.buf.clear();
        self.pos = 0;
    }
}

/// Writes what is queued for peer `id` until done or the socket is full, with the
/// lock `core` released during each system call. `on_loop`: the caller runs on the
/// loop's thread and may change what the loop watches.
pub(super) fn write_peer(core: &mut MutexGuard<'_, Core>, id: PeerId, on_loop: bool) -> Wrote {
    loop {
        let Core { engine, sockets, .. } = &mut **core;
        let Some(peer) = sockets.peer_mut(id) else { return Wrote::Done };
        let out = &mut peer.out;
        if out.writing || out.blocked || out.shut {
            return Wrote::Done;
        }
        if out.pos >= out.buf.len() {
            out.pos = 0;
            engine.take_output(id, &mut out.buf);
            if out.buf.is_empty() {
                if on_loop && peer.stream.set_writable(false).is_err() {
                    sockets.drop_peer(engine, id);
                }
                return Wrote::Done;
            }
        }
        let sock = peer.stream.shared();
        let buf = std::mem::take(&mut out.buf);
        let pos = out.pos;
        out.writing = true;
        let sent = MutexGuard::unlocked(core, || sys::send(sock.as_raw_fd(), buf.get(pos..).unwrap_or_default()));
        // The connection may have been dropped meanwhile: its descriptor closes with
        // this last reference, and the bytes go with it.
        drop(sock);
        let Core { engine, sockets, .. } = &mut **core;
        let Some(peer) = sockets.peer_mut(id) else { return Wrote::Done };
        let out = &mut peer.out;
        out.writing = false;
        out.buf = buf;
        let task = match sent {
            Ok(n) => {
                out.pos += n;
                engine.handle_written(id, n, false);
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                out.blocked = true;
                engine.handle_written(id, 0, true);
                LoopTask::WatchWritable
            }
            Err(_) => LoopTask::Drop,
        };
        if !on_loop {
            out.for_loop = Some(task);
            return Wrote::NeedsLoop;
        }
        run_task(core, id, task);
        return Wrote::Done;
    }
}

/// Does on the loop's thread what writers elsewhere left for it.
pub(super) fn run_loop_tasks(core: &mut Core, peers: &[PeerId]) {
    for &id in peers {
        let task = core.sockets.peer_mut(id).and_then(|p| p.out.for_loop.take());
        if let Some(task) = task {
            run_task(core, id, task);
        }
    }
}

fn run_task(core: &mut Core, id: PeerId, task: LoopTask) {
    let Core { engine, sockets, .. } = core;
    let Some(peer) = sockets.peer_mut(id) else { return };
    let watched = match task {
        // Still blocked: a writer may have finished the job meanwhile.
        LoopTask::WatchWritable => !peer.out.blocked || peer.stream.set_writable(true).is_ok(),
        LoopTask::Drop => false,
    };
    if !watched {
        sockets.drop_peer(engine, id);
    }
}
