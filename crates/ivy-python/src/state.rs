//! What the bus callbacks share with the Python object of an agent: the peers and
//! their client objects, the Python callbacks, and how a callback's exception is
//! reported. It holds no handle on the bus (the bus holds it, through callbacks).

use crate::adapter::{Peer, View};
use crate::peers::Peers;
use crate::text;
use parking_lot::Mutex;
use pyo3::prelude::*;

/// The Python callbacks of an agent's events (messages have one per binding).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Slot {
    /// `(client, event)`: 0 connected, 1 disconnected, 2 congestion, 3 decongestion, 4 FIFO full.
    Link,
    /// `(client, event, id, regexp)`: 0 added, 1 removed, 2 filtered, 3 changed.
    PeerBind,
    /// `(client, id)`; the agent leaves the bus unless the result is `False`.
    Die,
    /// `(client, id, text)`.
    Direct,
    /// `(client, microseconds)`.
    Pong,
    /// `()`: the agent's loop has ended (stop or die).
    Terminated,
}

const SLOTS: usize = 6;

pub(crate) struct State {
    peers: Mutex<Peers>,
    /// `factory(peer, name, ip, port, app_id)` makes the client object of a peer.
    factory: Py<PyAny>,
    /// `on_error(description, exception)` reports an exception raised by a callback.
    on_error: Py<PyAny>,
    slots: Mutex<[Option<Py<PyAny>>; SLOTS]>,
}

impl State {
    pub(crate) fn new(factory: Py<PyAny>, on_error: Py<PyAny>) -> State {
        State { peers: Mutex::default(), factory, on_error, slots: Mutex::default() }
    }

    /// The peers; never hold the lock while Python code runs.
    pub(crate) fn peers(&self) -> parking_lot::MutexGuard<'_, Peers> {
        self.peers.lock()
    }

    pub(crate) fn set_slot(&self, slot: Slot, cb: Option<Py<PyAny>>) {
        self.slots.lock()[slot as usize] = cb;
    }

    pub(crate) fn slot(&self, py: Python<'_>, slot: Slot) -> Option<Py<PyAny>> {
        self.slots.lock()[slot as usize].as_ref().map(|cb| cb.clone_ref(py))
    }

    /// The client object of `peer`, made by the factory the first time; kept
    /// until its Disconnected (a draining peer's messages after it get one of
    /// their own, or it would be kept for good).
    pub(crate) fn client<'py>(&self, py: Python<'py>, view: &View<'_>, peer: Peer) -> PyResult<Bound<'py, PyAny>> {
        if let Some(client) = self.peers.lock().client(py, peer) {
            return Ok(client.into_bound(py));
        }
        let name = text::to_str(py, &view.peer_name(peer).unwrap_or_default())?;
        let (ip, port) = view.peer_addr(peer).map(|a| (a.ip().to_string(), a.port())).unwrap_or_default();
        let app_id = text::to_str(py, &view.peer_app_id(peer).unwrap_or_default())?;
        let made = self.factory.bind(py).call1((peer, name, ip, port, app_id))?.unbind();
        if view.peer_reported_gone(peer) {
            return Ok(made.into_bound(py));
        }
        Ok(self.peers.lock().insert(py, peer, made).into_bound(py))
    }

    /// Reports an exception raised by a callback (`what` says which); the bus goes on.
    pub(crate) fn report(&self, py: Python<'_>, what: &str, err: PyErr) {
        if let Err(again) = self.on_error.bind(py).call1((what, err.value(py))) {
            err.print(py);
            again.print(py);
        }
    }

    /// Calls the callback of `slot`, if any, with `args`; reports an exception.
    /// Returns the callback's result (None without a callback or on an exception).
    pub(crate) fn fire<'py>(
        &self,
        py: Python<'py>,
        slot: Slot,
        args: impl FnOnce() -> PyResult<Bound<'py, pyo3::types::PyTuple>>,
    ) -> Option<Py<PyAny>> {
        let cb = self.slot(py, slot)?;
        match args().and_then(|args| cb.bind(py).call1(args)) {
            Ok(result) => Some(result.unbind()),
            Err(err) => {
                self.report(py, &format!("{slot:?} callback"), err);
                None
            }
        }
    }
}
