//! One record per connection, in a slab whose generations make stale ids harmless.

use super::limits::Limits;
use super::outqueue::OutQueue;
use super::types::PeerId;
use super::work::PeerWork;
use crate::wire::LineBuffer;
use std::net::SocketAddr;
use std::time::Duration;

/// Where a peer's life stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// Connected: input is read, output queued.
    Open,
    /// Dropped as a duplicate (`dedupe.rs`): told so, sent nothing more, and its
    /// `Disconnected` reported; its messages are still read and delivered until
    /// the other end closes, so that none sent before it learnt is lost.
    Draining,
    /// A close was requested: input is ignored, queued output is still flushed.
    Closing,
    /// The connection is gone; the record waits for [`super::Engine::reap`].
    Dead,
}

/// What we know of one connection.
#[derive(Debug)]
pub struct Peer {
    /// Its name: from the hello that made us dial, or " host:port" for an accepted
    /// connection, then from its StartRegexp.
    pub(crate) name: Vec<u8>,
    pub(crate) remote: SocketAddr,
    pub(crate) local: SocketAddr,
    /// The TCP port the peer announced in StartRegexp.
    pub(crate) announced_port: Option<u16>,
    /// We opened this connection, to the port a hello named (`remote`): a
    /// listening port only its agent can hold, so the identity is proven.
    pub(crate) dialled: bool,
    /// The application id of the hello that made us dial it (empty for an
    /// accepted connection, which had no hello).
    pub(crate) app_id: Vec<u8>,
    /// The peer's subscriptions in arrival order (C lists them newest first).
    pub(crate) regexps: Vec<(i32, Vec<u8>)>,
    pub(crate) input: LineBuffer,
    pub(crate) out: OutQueue,
    /// What it spent in the current turn (`work.rs`).
    pub(crate) work: PeerWork,
    /// Its lines wait for another turn: it is not read meanwhile.
    pub(crate) waits: bool,
    pub(crate) ready_sent: bool,
    /// A second connection from an agent we already have a working link with
    /// (`dedupe.rs`): kept open and read, but sent no message, neither listed
    /// nor reported connected, until that link goes and this one takes over.
    pub(crate) standby: bool,
    /// Its `Disconnected` was delivered while it drained: the record goes as
    /// soon as the connection closes.
    pub(crate) reaped: bool,
    pub(crate) ping_seq: i32,
    pub(crate) ping_sent_at: Option<Duration>,
    /// Closed because we leave the bus ([`super::Engine::leave`]).
    pub(crate) left: bool,
    pub(crate) state: PeerState,
    /// Connection order, for newest-first listings.
    pub(crate) seq: u64,
}

impl Peer {
    /// A connection just opened from `remote` to `local`, named `name`, accepted
    /// (not dialled, no app id), with buffers bounded by `limits`.
    pub(super) fn new(name: Vec<u8>, remote: SocketAddr, local: SocketAddr, limits: &Limits) -> Peer {
        Peer {
            name,
            remote,
            local,
            announced_port: None,
            dialled: false,
            app_id: Vec::new(),
            regexps: Vec::new(),
            input: LineBuffer::new(limits.max_line),
            out: OutQueue::new(limits.queue_cap),
            work: PeerWork::default(),
            waits: false,
            ready_sent: false,
            standby: false,
            reaped: false,
            ping_seq: 0,
            ping_sent_at: None,
            left: false,
            state: PeerState::Open,
            seq: 0,
        }
    }

    /// Its name (see the field).
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// The application id its hello announced (empty when it connected to us).
    pub fn app_id(&self) -> &[u8] {
        &self.app_id
    }

    /// Its address as we see it.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// Connected, and neither draining, closing nor gone.
    pub fn is_open(&self) -> bool {
        self.state == PeerState::Open
    }

    /// Whether its `Disconnected` was delivered while it drains ([`super::Engine::reap`]).
    pub fn is_reaped(&self) -> bool {
        self.reaped
    }

    /// Whether its input is read and handled: open, or draining.
    pub(crate) fn is_read(&self) -> bool {
        matches!(self.state, PeerState::Open | PeerState::Draining)
    }

    /// The listening port of the agent at the other end: the one we dialled,
    /// else the one it announced (a claim anyone can make).
    pub fn agent_port(&self) -> Option<u16> {
        if self.dialled { Some(self.remote.port()) } else { self.announced_port }
    }

    /// Whether its handshake is still under way: no EndRegexp received yet.
    pub fn in_handshake(&self) -> bool {
        !self.ready_sent
    }
}

#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    peer: Option<Peer>,
}

/// The slab of peers.
#[derive(Debug, Default)]
pub(super) struct PeerTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
    next_seq: u64,
}

fn split(id: PeerId) -> (usize, u32) {
    ((id.0 & 0xffff_ffff) as usize, (id.0 >> 32) as u32)
}

impl PeerTable {
    /// Stores a peer (its `seq` is assigned here) and returns its new id.
    pub(super) fn insert(&mut self, mut peer: Peer) -> PeerId {
        self.next_seq += 1;
        peer.seq = self.next_seq;
        let index = match self.free.pop() {
            Some(i) => i as usize,
            None => {
                self.slots.push(Slot::default());
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[index];
        slot.generation = slot.generation.wrapping_add(1).max(1);
        slot.peer = Some(peer);
        PeerId(u64::from(slot.generation) << 32 | index as u64)
    }

    pub(super) fn get(&self, id: PeerId) -> Option<&Peer> {
        let (index, generation) = split(id);
        let slot = self.slots.get(index)?;
        (slot.generation == generation).then_some(slot.peer.as_ref()).flatten()
    }

    pub(super) fn get_mut(&mut self, id: PeerId) -> Option<&mut Peer> {
        let (index, generation) = split(id);
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation {
            return None;
        }
        slot.peer.as_mut()
    }

    pub(super) fn remove(&mut self, id: PeerId) -> Option<Peer> {
        let (index, generation) = split(id);
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation {
            return None;
        }
        let peer = slot.peer.take()?;
        self.free.push(index as u32);
        Some(peer)
    }

    /// Every peer with its id, in slot order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (PeerId, &Peer)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            let id = PeerId(u64::from(s.generation) << 32 | i as u64);
            s.peer.as_ref().map(|p| (id, p))
        })
    }

    /// Ids of every peer, newest connection first.
    pub(super) fn newest_first(&self) -> Vec<PeerId> {
        let mut v: Vec<(u64, PeerId)> = self.iter().map(|(id, p)| (p.seq, id)).collect();
        v.sort_unstable_by_key(|&(seq, _)| std::cmp::Reverse(seq));
        v.into_iter().map(|(_, id)| id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> Peer {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        Peer::new(b"p".to_vec(), a, a, &Limits { max_line: 100, queue_cap: 100, ..Limits::default() })
    }

    #[test]
    fn stale_ids_resolve_to_nothing() {
        let mut t = PeerTable::default();
        let a = t.insert(peer());
        assert!(t.remove(a).is_some());
        let b = t.insert(peer());
        assert_ne!(a, b);
        assert!(t.get(a).is_none());
        assert!(t.get(b).is_some());
        assert_eq!(t.newest_first(), vec![b]);
        assert!(PeerId::from_raw(0).is_none());
    }
}
