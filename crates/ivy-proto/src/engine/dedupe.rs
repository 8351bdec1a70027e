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
//!   end drops its own dial only while that dial is in handshake (so a claim
//!   never ends a link that works), which serves peers that do not dedupe
//!   (ivy-c, ivy-python); a peer of ours at the lower end drops that same
//!   connection.
//! - two accepted connections claiming one agent: the later claim goes, never
//!   the connection that claimed it first.

use super::{Engine, Notice, PeerId, WhenFull};
use crate::wire::{self, MsgType};

/// The Error a dropped duplicate gets before it is closed (ivy-c's words).
const ALREADY_CONNECTED: &[u8] = b"Application already connected";

impl Engine {
    /// Now that `id`'s agent is known (its StartRegexp, or our dial completed),
    /// drops the connection that duplicates another one to the same agent, if
    /// any; returns the one dropped.
    pub(super) fn drop_duplicate(&mut self, id: PeerId) -> Option<PeerId> {
        let loser = self.duplicate_to_drop(id)?;
        self.queue(loser, WhenFull::Drop, |b| wire::encode_line(b, MsgType::Error, 0, ALREADY_CONNECTED));
        self.request_close(loser);
        self.notices.push_back(Notice::AlreadyConnected { peer: loser });
        Some(loser)
    }

    /// The connection to drop when `id` and another open one reach the same
    /// agent (same IP, same listening port): see the module's documentation.
    fn duplicate_to_drop(&self, id: PeerId) -> Option<PeerId> {
        let me = self.peers.get(id)?;
        let port = me.agent_port()?;
        let (other, them) = self.peers.iter().find(|(o, p)| {
            *o != id && p.is_open() && p.remote.ip() == me.remote.ip() && p.agent_port() == Some(port)
        })?;
        let (dial, accepted) = match (me.dialled, them.dialled) {
            (true, false) => ((id, me), other),
            (false, true) => ((other, them), id),
            // Two claims (or, defensively, two dials): the later one goes.
            _ => return Some(id),
        };
        let ours = (dial.1.local.ip(), self.tcp_port);
        let theirs = (dial.1.remote.ip(), dial.1.remote.port());
        if ours < theirs {
            Some(accepted)
        } else if dial.1.in_handshake() {
            Some(dial.0)
        } else {
            None
        }
    }
}
