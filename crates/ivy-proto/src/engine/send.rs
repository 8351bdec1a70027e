//! What the engine sends on its user's behalf: messages routed through the peers'
//! subscriptions (§5.1), our own subscriptions (§8.1), and the control messages (§6).

use super::{BindingId, Engine, Notice, PeerId, Push, SendError, UnknownBinding, WhenFull, queue_on};
use crate::pattern::expand_intervals;
use crate::wire::{self, LF, MsgType};
use std::time::Duration;

impl Engine {
    /// Sends `message` to every matching subscription of every peer; returns the number
    /// of Msg lines, counting those dropped at a full queue (as ivy-c).
    pub fn send_msg(&mut self, message: &[u8]) -> Result<usize, SendError> {
        self.check_binary(message)?;
        Ok(self.route(message, None, WhenFull::Report))
    }

    /// Sends `message` to the matching subscriptions of one peer only (ivy-python's
    /// `send_msg` to a client); returns the number of Msg lines.
    pub fn send_msg_to(&mut self, peer: PeerId, message: &[u8]) -> Result<usize, SendError> {
        self.check_binary(message)?;
        if !self.peers.get(peer).is_some_and(|p| p.is_open()) {
            return Err(SendError::NoPeer);
        }
        Ok(self.route(message, Some(peer), WhenFull::Report))
    }

    /// With debug-binary on, refuses a message with bytes outside 0x20..0x80.
    fn check_binary(&mut self, message: &[u8]) -> Result<(), SendError> {
        if self.debug_binary && message.iter().any(|&b| !(0x20..0x80).contains(&b)) {
            self.notices.push_back(Notice::BinaryRefused);
            return Err(SendError::Binary);
        }
        Ok(())
    }

    /// Routes a message to the subscriptions of every peer, or only of `only`.
    /// `full`: Report for the user's sends, Drop on the ready path.
    pub(super) fn route(&mut self, message: &[u8], only: Option<PeerId>, full: WhenFull) -> usize {
        let (peers, outbox, events, notices) = (&mut self.peers, &mut self.outbox, &mut self.events, &mut self.notices);
        let mut count = 0;
        self.dict.for_each_match(message, |params, subs| {
            let Some(params) = params else {
                notices.push_back(Notice::LineFeedRefused { what: "a captured argument" });
                return;
            };
            for &(id, sub) in subs.iter().filter(|(p, _)| only.is_none_or(|o| o == *p)) {
                // Closing peers get nothing, nor a connection on standby: its
                // agent has the message on the link that works (dedupe.rs).
                let Some(peer) = peers.get_mut(id).filter(|p| p.is_open() && !p.standby) else { continue };
                // The params are built once per match and copied to each subscriber.
                queue_on(peer, id, outbox, events, full, |b| wire::encode_line(b, MsgType::Msg, sub, params));
                // Lines dropped at a full queue count, as in ivy-c.
                count += 1;
            }
        });
        let refused = self.dict.refused();
        if refused > 0 {
            self.notices.push_back(Notice::SearchesRefused { count: refused, message_len: message.len() });
        }
        count
    }

    /// Subscribes to `regexp` (interval-expanded here, §5.5); tells every peer.
    pub fn bind(&mut self, regexp: &[u8]) -> BindingId {
        let id = self.next_binding;
        self.next_binding = self.next_binding.wrapping_add(1);
        self.own.insert(id, expand_intervals(regexp));
        self.announce(id);
        BindingId(id)
    }

    /// Replaces the text of our subscription `id`, keeping the id; tells every peer.
    pub fn change(&mut self, id: BindingId, regexp: &[u8]) -> Result<(), UnknownBinding> {
        let BindingId(id) = id;
        let text = self.own.get_mut(&id).ok_or(UnknownBinding)?;
        *text = expand_intervals(regexp);
        if !self.announce(id) {
            // Peers must not go on matching the old text under this id.
            self.queue_to_all(|b| wire::encode_line(b, MsgType::DelRegexp, id, b""));
        }
        Ok(())
    }

    /// Removes our subscription `id`; tells every peer.
    pub fn unbind(&mut self, id: BindingId) -> Result<(), UnknownBinding> {
        let BindingId(id) = id;
        self.own.remove(&id).ok_or(UnknownBinding)?;
        self.queue_to_all(|b| wire::encode_line(b, MsgType::DelRegexp, id, b""));
        Ok(())
    }

    /// Sends our subscription `id` to every peer; false when its text cannot go on the wire.
    fn announce(&mut self, id: i32) -> bool {
        let Some(text) = self.own.get(&id).cloned() else { return false };
        if text.contains(&LF) {
            self.notices.push_back(Notice::LineFeedRefused { what: "a regexp of ours" });
            return false;
        }
        self.queue_to_all(|b| wire::encode_line(b, MsgType::AddRegexp, id, &text));
        true
    }

    /// Queues one of our subscription changes to every peer, past a full queue too.
    fn queue_to_all(&mut self, write: impl Fn(&mut Vec<u8>)) {
        for peer in self.peers.newest_first() {
            self.queue(peer, WhenFull::Keep, &write);
        }
    }

    /// A direct message (§6.1).
    pub fn send_direct(&mut self, peer: PeerId, id: i32, text: &[u8]) -> Result<(), SendError> {
        self.send_raw(peer, MsgType::DirectMsg, id, text)
    }

    /// An Error message (§6.3).
    pub fn send_error(&mut self, peer: PeerId, id: i32, text: &[u8]) -> Result<(), SendError> {
        self.send_raw(peer, MsgType::Error, id, text)
    }

    /// Asks the peer to die (§6.2), with an id and a text (ivy-c sends 0 and none).
    pub fn send_die(&mut self, peer: PeerId, id: i32, text: &[u8]) -> Result<(), SendError> {
        self.send_raw(peer, MsgType::Die, id, text)
    }

    /// Sends the next ping of this peer (ids from 1) and remembers `now`, which
    /// its Pong event gives back.
    pub fn ping(&mut self, peer: PeerId, now: Duration) -> Result<(), SendError> {
        let p = self.peers.get_mut(peer).filter(|p| p.is_open()).ok_or(SendError::NoPeer)?;
        p.ping_seq = p.ping_seq.wrapping_add(1);
        p.ping_sent_at = Some(now);
        let seq = p.ping_seq;
        self.send_raw(peer, MsgType::Ping, seq, b"")
    }

    fn send_raw(&mut self, peer: PeerId, kind: MsgType, id: i32, text: &[u8]) -> Result<(), SendError> {
        if text.contains(&LF) {
            let what = match kind {
                MsgType::Error => "an Error's text",
                MsgType::Die => "a Die's text",
                _ => "a direct message",
            };
            self.notices.push_back(Notice::LineFeedRefused { what });
            return Err(SendError::LineFeed);
        }
        match self.queue(peer, WhenFull::Report, |b| wire::encode_line(b, kind, id, text)) {
            Some(Push::Queued) => Ok(()),
            Some(Push::Full) => Err(SendError::QueueFull),
            None => Err(SendError::NoPeer),
        }
    }
}
