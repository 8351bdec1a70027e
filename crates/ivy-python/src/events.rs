//! Bus events to Python: each bus callback takes the GIL (kept for the rest of the
//! loop turn, see `gil`), finds the peer's client object and calls the Python
//! callback. A message calls its binding's callable directly, `cb(client, *groups)`:
//! the only Python code run per message is the application's.

use crate::adapter::{Core, Link, Peer, PeerBind, View};
use crate::gil;
use crate::state::{Slot, State};
use crate::text;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyTuple};
use std::sync::Arc;

/// Connects the bus's event callbacks to `state`'s Python callbacks.
pub(crate) fn install(core: &Core, state: &Arc<State>) {
    let st = state.clone();
    core.on_link(move |view, peer, link| {
        gil::with_gil(|py| on_link(py, &st, view, peer, link));
    });
    let st = state.clone();
    core.on_peer_bind(move |view, peer, id, regexp, what| {
        gil::with_gil(|py| on_peer_bind(py, &st, view, peer, id, regexp, what));
    });
    let st = state.clone();
    core.on_die(move |view, peer, id| gil::with_gil(|py| on_die(py, &st, view, peer, id)).unwrap_or(true));
    let st = state.clone();
    core.on_direct(move |view, peer, id, msg| {
        gil::with_gil(|py| {
            st.fire(py, Slot::Direct, || {
                PyTuple::new(py, [st.client(py, view, peer)?, id.into_pyobject(py)?.into_any(), text::to_str(py, msg)?])
            });
        });
    });
    let st = state.clone();
    core.on_pong(move |view, peer, micros| {
        gil::with_gil(|py| {
            st.fire(py, Slot::Pong, || {
                PyTuple::new(py, [st.client(py, view, peer)?, micros.into_pyobject(py)?.into_any()])
            });
        });
    });
}

fn on_link(py: Python<'_>, st: &State, view: &View<'_>, peer: Peer, link: Link) {
    // Our own leaving (stop, or a Die obeyed) reports no Disconnected: the engine
    // tells of the peers that leave, not of the links we close.
    let client = match st.client(py, view, peer) {
        Ok(client) => client,
        Err(err) => return st.report(py, "client factory", err),
    };
    if link == Link::Connected {
        st.peers().set_connected(peer);
        // The handshake named the peer: its final name.
        if let Some(name) = view.peer_name(peer)
            && let Err(err) = text::to_str(py, &name).and_then(|n| client.setattr("agent_name", n))
        {
            st.report(py, "client name", err);
        }
    }
    let event = link as i32;
    st.fire(py, Slot::Link, || PyTuple::new(py, [client.clone(), event.into_pyobject(py)?.into_any()]));
    if link == Link::Disconnected {
        let gone = st.peers().remove(peer);
        drop(gone);
    }
}

fn on_peer_bind(py: Python<'_>, st: &State, view: &View<'_>, peer: Peer, id: i32, regexp: &[u8], what: PeerBind) {
    let client = match st.client(py, view, peer) {
        Ok(client) => client,
        Err(err) => return st.report(py, "client factory", err),
    };
    let shown = st.peers().on_bind(peer, id, regexp, what);
    let event = what as i32;
    st.fire(py, Slot::PeerBind, || {
        PyTuple::new(
            py,
            [client, event.into_pyobject(py)?.into_any(), id.into_pyobject(py)?.into_any(), text::to_str(py, &shown)?],
        )
    });
}

/// Whether to leave the bus: yes unless the die callback returns `False`.
fn on_die(py: Python<'_>, st: &State, view: &View<'_>, peer: Peer, id: i32) -> bool {
    let answer =
        st.fire(py, Slot::Die, || PyTuple::new(py, [st.client(py, view, peer)?, id.into_pyobject(py)?.into_any()]));
    answer.is_none_or(|a| !a.bind(py).is(PyBool::new(py, false)))
}

/// The bus callback of a binding: `cb(client, *groups)`.
pub(crate) fn message_handler(
    state: &Arc<State>,
    cb: Py<PyAny>,
) -> impl Fn(&View<'_>, Peer, &[&[u8]]) + Send + Sync + 'static {
    let st = state.clone();
    move |view, peer, args| {
        gil::with_gil(|py| {
            let call = || -> PyResult<()> {
                let client = st.client(py, view, peer)?;
                let mut groups = Ok(());
                // An exact-size iterator: the tuple is filled in place, no vector.
                let items = (0..args.len() + 1).map(|i| match i.checked_sub(1).and_then(|i| args.get(i)) {
                    None => client.clone(),
                    Some(arg) => text::to_str(py, arg).unwrap_or_else(|e| {
                        groups = Err(e);
                        py.None().into_bound(py)
                    }),
                });
                let tuple = PyTuple::new(py, items)?;
                groups?;
                cb.bind(py).call1(tuple)?;
                Ok(())
            };
            if let Err(err) = call() {
                st.report(py, "message callback", err);
            }
        });
    }
}
