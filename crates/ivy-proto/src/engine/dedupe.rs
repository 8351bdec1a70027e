//! Two connections to one agent (§1.6): which one goes, so that both ends keep
//! the same link and no one can kick a peer off by claiming its identity.
//!
//! A connection we dialled reached the listening port a hello named: only that
//! agent holds it, so its identity is proven. An accepted connection's identity
//! is the port its StartRegexp announces: anyone on the same host can claim it.
//! So:
//! - a dialled and an accepted connection to the same agent (a simultaneous
//!   connect: each agent dialled the other on its hello) keep the link dialled
//!   by the agent whose address (IP, listening port) is lower. The lower end
//!   drops its accepted one, which only duplicates a proven link. The higher
//!   end drops its own dial while that dial is in handshake, which serves
//!   peers that do not dedupe (ivy-c, ivy-python). Once the dial works, a
//!   claim never ends it: the claimed connection goes on standby (neither
//!   listed, reported connected nor sent messages), and takes over when the
//!   dial closes, as the lower end, if it is ours, has it do.
//! - a connection dropped that way drains: it is told why and sent nothing
//!   more, its side is shut down, and what the other agent sent on it before
//!   it learnt is still read and delivered, until that agent closes it. So a
//!   message goes on one link only and none is lost; only around the switch
//!   may two messages of one agent, one on each link, swap.
//! - two accepted connections claiming one agent: the later claim is closed,
//!   never the connection that claimed it first.

use super::{AppEvent, Engine, Event, Notice, PeerId, WhenFull};
use crate::wire::{self, MsgType};

/// The Error a dropped duplicate gets before it is closed (ivy-c's words).
const ALREADY_CONNECTED: &[u8] = b"Application already connected";

/// What the duplicate check decides for a second connection to one agent.
enum Duplicate {
    /// One of a dialled and an accepted connection goes, drained.
    Drain(PeerId),
    /// The later of two claims goes at once.
    Close(PeerId),
    /// This claimed connection waits for the working link to go.
    Standby(PeerId),
}

impl Engine {
    /// Now that `id`'s agent is known (its StartRegexp, or our dial completed),
    /// drops the connection that duplicates another one to the same agent, if
    /// any, or puts the claim on standby. Returns whether `id` was closed.
    pub(super) fn drop_duplicate(&mut self, id: PeerId) -> bool {
        let (loser, closed) = match self.duplicate_of(id) {
            None => return false,
            Some(Duplicate::Standby(claim)) => {
                if let Some(peer) = self.peers.get_mut(claim) {
                    peer.standby = true;
                }
                return false;
            }
            Some(Duplicate::Drain(loser)) => (loser, false),
            Some(Duplicate::Close(loser)) => (loser, true),
        };
        self.queue(loser, WhenFull::Drop, |b| wire::encode_line(b, MsgType::Error, 0, ALREADY_CONNECTED));
        if closed {
            self.request_close(loser);
        } else {
            self.drain(loser);
        }
        self.notices.push_back(Notice::AlreadyConnected { peer: loser });
        closed && loser == id
    }

    /// `gone`, a link to an agent, closed: that agent's connection on standby,
    /// if any, takes over, and is reported connected if its handshake is done.
    pub(super) fn promote_standby(&mut self, gone: PeerId) {
        let Some(gone) = self.peers.get(gone) else { return };
        let (ip, port) = (gone.remote.ip(), gone.agent_port());
        let Some(id) = self.peers.iter().find_map(|(id, p)| {
            (p.standby && p.is_open() && p.remote.ip() == ip && p.agent_port() == port).then_some(id)
        }) else {
            return;
        };
        let Some(peer) = self.peers.get_mut(id) else { return };
        peer.standby = false;
        if peer.ready_sent {
            self.events.push_back(Event::App { peer: id, event: AppEvent::Connected });
        }
    }

    /// What to do when `id` and another open connection reach the same agent
    /// (same IP, same listening port): see the module's documentation.
    fn duplicate_of(&self, id: PeerId) -> Option<Duplicate> {
        let me = self.peers.get(id)?;
        let port = me.agent_port()?;
        let (other, them) = self.peers.iter().find(|(o, p)| {
            *o != id && p.is_open() && p.remote.ip() == me.remote.ip() && p.agent_port() == Some(port)
        })?;
        let (dial, accepted) = match (me.dialled, them.dialled) {
            (true, false) => ((id, me), other),
            (false, true) => ((other, them), id),
            // Two claims (or, defensively, two dials): the later one goes.
            _ => return Some(Duplicate::Close(id)),
        };
        let ours = (dial.1.local.ip(), self.tcp_port);
        let theirs = (dial.1.remote.ip(), dial.1.remote.port());
        Some(if ours < theirs {
            Duplicate::Drain(accepted)
        } else if dial.1.in_handshake() {
            Duplicate::Drain(dial.0)
        } else {
            Duplicate::Standby(accepted)
        })
    }
}
