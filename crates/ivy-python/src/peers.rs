//! The peers as ivy-python shows them: in the order they were first seen, each with
//! one client object for its whole life (so that callbacks get the same object)
//! and whether its handshake has ended. Their subscriptions are the engine's
//! (`Core::peer_subscriptions`); only the text of each is kept here, to report the
//! regexp a peer removes (the wire's DelRegexp carries none).

use crate::adapter::{Peer, PeerBind};
use pyo3::prelude::*;
use std::collections::HashMap;

struct Entry {
    client: Py<PyAny>,
    /// The peer's handshake has ended (ivy-python's "initialised").
    connected: bool,
    /// The text of each of the peer's subscriptions, by id, as its events told.
    texts: HashMap<i32, Vec<u8>>,
}

/// Every peer this agent knows of. Holds no lock itself: the owner wraps it in one,
/// never held while Python code runs.
#[derive(Default)]
pub(crate) struct Peers {
    entries: HashMap<Peer, Entry>,
    /// First-seen order.
    order: Vec<Peer>,
}

impl Peers {
    /// The client object of `peer`, if it has one.
    pub(crate) fn client(&self, py: Python<'_>, peer: Peer) -> Option<Py<PyAny>> {
        self.entries.get(&peer).map(|e| e.client.clone_ref(py))
    }

    /// Records `client` as the object of `peer`; keeps the first one if two threads
    /// raced to make it. Returns the one kept.
    pub(crate) fn insert(&mut self, py: Python<'_>, peer: Peer, client: Py<PyAny>) -> Py<PyAny> {
        let entry = self.entries.entry(peer).or_insert_with(|| {
            self.order.push(peer);
            Entry { client, connected: false, texts: HashMap::new() }
        });
        entry.client.clone_ref(py)
    }

    pub(crate) fn set_connected(&mut self, peer: Peer) {
        if let Some(e) = self.entries.get_mut(&peer) {
            e.connected = true;
        }
    }

    /// Forgets a peer (after its Disconnected callback); returns its client object,
    /// for the caller to drop once the lock is released (dropping may run Python code).
    pub(crate) fn remove(&mut self, peer: Peer) -> Option<Py<PyAny>> {
        let entry = self.entries.remove(&peer)?;
        self.order.retain(|&p| p != peer);
        Some(entry.client)
    }

    /// Connected peers, first seen first.
    pub(crate) fn connected(&self) -> Vec<Peer> {
        self.order.iter().copied().filter(|p| self.entries.get(p).is_some_and(|e| e.connected)).collect()
    }

    /// Notes a subscription event of `peer`. Returns the regexp to report: for a
    /// removal, the text that was removed (the event carries the DelRegexp's, "").
    pub(crate) fn on_bind(&mut self, peer: Peer, id: i32, regexp: &[u8], what: PeerBind) -> Vec<u8> {
        let Some(e) = self.entries.get_mut(&peer) else { return regexp.to_vec() };
        match what {
            PeerBind::Added | PeerBind::Changed => {
                e.texts.insert(id, regexp.to_vec());
            }
            PeerBind::Removed => {
                if let Some(old) = e.texts.remove(&id) {
                    return old;
                }
            }
            PeerBind::Filtered => {}
        }
        regexp.to_vec()
    }
}
