//! How many peer connections the engine holds, against [`super::Limits::max_peers`]:
//! peers whose connection is open or closing, and connections being dialled.

use super::{Engine, Notice, TurnedAway};
use std::net::{IpAddr, SocketAddr};

/// Peers counted against [`super::Limits::max_peers`], and how many were turned away.
#[derive(Debug, Default)]
pub(super) struct Admission {
    /// Peers whose connection is still held (open or closing).
    held: usize,
    refused: u64,
}

impl Admission {
    pub(super) fn opened(&mut self) {
        self.held += 1;
    }

    pub(super) fn closed(&mut self) {
        self.held = self.held.saturating_sub(1);
    }
}

impl Engine {
    /// Whether to keep a connection just accepted from `remote`: its host is on
    /// the allow-list and one more peer fits under [`super::Limits::max_peers`].
    /// A refusal is noticed.
    pub fn admit(&mut self, remote: SocketAddr) -> bool {
        self.allows(remote.ip()) && self.room_for_peer(TurnedAway::Connection(remote))
    }

    /// Whether the host `ip` may join (hellos followed, connections kept); a
    /// refusal is noticed.
    pub(super) fn allows(&mut self, ip: IpAddr) -> bool {
        let allowed = self.allow.allows(ip);
        if !allowed {
            self.notices.push_back(Notice::NotAllowed { from: ip });
        }
        allowed
    }

    /// Whether one more peer connection (accepted, or to be dialled) fits under
    /// [`super::Limits::max_peers`]; a refusal of `who` is counted and noticed.
    fn room_for_peer(&mut self, who: TurnedAway) -> bool {
        let held = self.admission.held + self.connecting.len();
        let max = self.limits.max_peers;
        held < max || self.refuse(who, "peer connections held, max_peers is", held, max)
    }

    /// Whether a hello may make us dial `addr`: fewer connects under way than half
    /// of [`super::Limits::max_peers`] (rounded up), and room for one more peer.
    /// Anyone can send hellos, from any address, naming ports that never answer:
    /// the other half of the places stays for incoming connections while such
    /// connects hang (the runtime gives each up after a few seconds).
    pub(super) fn room_to_dial(&mut self, addr: SocketAddr) -> bool {
        let dialling = self.connecting.len();
        let max = self.limits.max_peers.div_ceil(2);
        let who = TurnedAway::Hello(addr);
        if dialling < max {
            self.room_for_peer(who)
        } else {
            self.refuse(who, "connects under way, at most", dialling, max)
        }
    }

    /// Counts a refusal and notices it; always false.
    fn refuse(&mut self, turned_away: TurnedAway, limit: &'static str, held: usize, max: usize) -> bool {
        self.admission.refused += 1;
        let refused = self.admission.refused;
        self.notices.push_back(Notice::NoRoom { turned_away, limit, held, max, refused });
        false
    }
}
