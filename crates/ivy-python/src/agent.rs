//! `ivy._ivy.Agent`: one agent on a bus, as the Python layers (`ivy.ivy`,
//! `ivy.std_api`, `ivy.Bus`) use it. Its loop runs on a thread of its own from
//! `start` to `stop` (or an obeyed Die); every method may be called from any
//! thread and from inside any callback.

use crate::adapter::Core;
use crate::state::{Slot, State};
use crate::{events, gil, text, timers};
use parking_lot::Mutex;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use std::sync::Arc;
use std::thread::{self, JoinHandle, ThreadId};

/// `[(id, regexp)]`, as Python gets a list of subscriptions.
type Regexps<'py> = Vec<(i32, Bound<'py, PyAny>)>;

/// The thread running an agent's loop.
struct Runner {
    handle: JoinHandle<()>,
    id: ThreadId,
}

/// One agent on an Ivy bus (the native core of `ivy.ivy.IvyServer` and `ivy.Bus`).
#[pyclass(module = "ivy._ivy", frozen, weakref)]
pub struct Agent {
    core: Core,
    state: Arc<State>,
    timers: Arc<Mutex<timers::Timers>>,
    runner: Mutex<Option<Runner>>,
}

fn optional_bytes<'py>(value: Option<&Bound<'py, PyAny>>) -> PyResult<Option<Bound<'py, PyBytes>>> {
    value.map(text::to_bytes).transpose()
}

fn regexps(py: Python<'_>, list: Vec<(i32, Vec<u8>)>) -> PyResult<Regexps<'_>> {
    list.into_iter().map(|(id, re)| Ok((id, text::to_str(py, &re)?))).collect()
}

fn slot_named(name: &str) -> PyResult<Slot> {
    Ok(match name {
        "link" => Slot::Link,
        "peer_bind" => Slot::PeerBind,
        "die" => Slot::Die,
        "direct" => Slot::Direct,
        "pong" => Slot::Pong,
        "terminated" => Slot::Terminated,
        _ => return Err(PyValueError::new_err(format!("no event named {name:?}"))),
    })
}

#[pymethods]
impl Agent {
    /// `Agent(name, ready, client_factory, on_error)`: `client_factory(peer, name,
    /// ip, port, app_id)` makes the object callbacks get for a peer (`app_id` is
    /// the one its hello announced, "" when it connected to us); `on_error(what,
    /// exception)` reports an exception raised by a callback. Messages are routed
    /// by ivy-c's rules until `set_matching`.
    #[new]
    #[pyo3(signature = (name, ready, client_factory, on_error))]
    fn new(
        name: &Bound<'_, PyAny>,
        ready: Option<&Bound<'_, PyAny>>,
        client_factory: Py<PyAny>,
        on_error: Py<PyAny>,
    ) -> PyResult<Self> {
        let name = text::to_bytes(name)?;
        let ready = optional_bytes(ready)?;
        let core = Core::new(name.as_bytes(), ready.as_ref().map(|r| r.as_bytes()));
        let state = Arc::new(State::new(client_factory, on_error));
        events::install(&core, &state);
        core.before_wait(gil::release);
        Ok(Agent { core, state, timers: Arc::default(), runner: Mutex::new(None) })
    }

    /// How our messages are routed: "ivy-c" (a search anywhere in the message,
    /// trailing groups that took no part omitted, on bytes) or "ivy-python"
    /// (`re.match`: anchored at the start, every group sent, "" for one that took
    /// no part, `.` a whole character on UTF-8). Takes effect at once.
    fn set_matching(&self, matching: &str) -> PyResult<()> {
        let python = match matching {
            "ivy-c" => false,
            "ivy-python" => true,
            _ => return Err(PyValueError::new_err(format!("matching is 'ivy-c' or 'ivy-python', not {matching:?}"))),
        };
        self.core.set_python_matching(python);
        Ok(())
    }

    /// New name and ready message (`None`: no ready message), for the next start.
    fn set_identity(&self, name: &Bound<'_, PyAny>, ready: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let name = text::to_bytes(name)?;
        let ready = optional_bytes(ready)?;
        self.core.set_identity(name.as_bytes(), ready.as_ref().map(|r| r.as_bytes()));
        Ok(())
    }

    /// Sets (or with `None` removes) the callback of an event: "link", "peer_bind",
    /// "die", "direct", "pong" or "terminated".
    fn on(&self, event: &str, callback: Option<Py<PyAny>>) -> PyResult<()> {
        self.state.set_slot(slot_named(event)?, callback);
        Ok(())
    }

    /// Joins the bus and starts the loop thread. Raises `RuntimeError` if running.
    #[pyo3(signature = (bus=None))]
    fn start(&self, py: Python<'_>, bus: Option<&str>) -> PyResult<()> {
        // No lock is held while the GIL is released (a thread holding the GIL may
        // be waiting for it).
        let previous = {
            let mut runner = self.runner.lock();
            if runner.as_ref().is_some_and(|r| !r.handle.is_finished()) {
                return Err(PyRuntimeError::new_err("already started"));
            }
            runner.take()
        };
        if let Some(old) = previous {
            // A panic of the old loop thread has been printed already.
            let _ = py.detach(|| old.handle.join());
        }
        py.detach(|| self.core.start(bus)).map_err(|e| PyOSError::new_err(e.to_string()))?;
        let (core, state) = (self.core.clone(), self.state.clone());
        let handle = thread::Builder::new()
            .name("ivy-loop".into())
            .spawn(move || {
                core.run();
                gil::with_gil(|py| {
                    let gone = std::mem::take(&mut *state.peers());
                    drop(gone);
                    state.fire(py, Slot::Terminated, || Ok(PyTuple::empty(py)));
                });
                gil::release();
            })
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        let id = handle.thread().id();
        *self.runner.lock() = Some(Runner { handle, id });
        Ok(())
    }

    /// Leaves the bus (Bye to every peer) and ends the loop; from another thread
    /// than the loop's, returns once the loop thread has ended.
    fn stop(&self, py: Python<'_>) {
        py.detach(|| self.core.stop());
        let old = {
            let mut runner = self.runner.lock();
            if runner.as_ref().is_some_and(|r| r.id == thread::current().id()) {
                return;
            }
            runner.take()
        };
        if let Some(old) = old {
            // A panic of the loop thread has been printed already.
            let _ = py.detach(|| old.handle.join());
        }
    }

    /// Whether the loop thread runs.
    fn is_running(&self) -> bool {
        self.runner.lock().as_ref().is_some_and(|r| !r.handle.is_finished())
    }

    /// Whether the calling thread is the loop thread.
    fn on_loop_thread(&self) -> bool {
        self.runner.lock().as_ref().is_some_and(|r| r.id == thread::current().id())
    }

    /// Our TCP port, once started.
    fn port(&self) -> Option<u16> {
        self.core.tcp_port()
    }

    /// Our application id, as the hello announces it.
    fn app_id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        text::to_str(py, &self.core.app_id())
    }

    /// Subscribes `callback(client, *groups)` to messages matching `regexp`;
    /// returns the binding id.
    fn bind(&self, regexp: &Bound<'_, PyAny>, callback: Py<PyAny>) -> PyResult<i32> {
        let regexp = text::to_bytes(regexp)?;
        Ok(self.core.bind(regexp.as_bytes(), events::message_handler(&self.state, callback)))
    }

    /// Removes a binding; returns its regexp, or `None` if there was none.
    fn unbind<'py>(&self, py: Python<'py>, id: i32) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some((_, regexp)) = self.core.bindings().into_iter().find(|(i, _)| *i == id) else { return Ok(None) };
        self.core.unbind(id);
        text::to_str(py, &regexp).map(Some)
    }

    /// Gives binding `id` a new regexp; false if there is no such binding.
    fn change(&self, id: i32, regexp: &Bound<'_, PyAny>) -> PyResult<bool> {
        let regexp = text::to_bytes(regexp)?;
        Ok(self.core.change(id, regexp.as_bytes()))
    }

    /// Our bindings, `[(id, regexp)]` by id.
    fn bindings<'py>(&self, py: Python<'py>) -> PyResult<Regexps<'py>> {
        regexps(py, self.core.bindings())
    }

    /// Sends a message; returns the number of matching subscriptions.
    fn send(&self, message: &Bound<'_, PyAny>) -> PyResult<usize> {
        Ok(self.core.send(text::to_bytes(message)?.as_bytes()))
    }

    /// Sends a message to one peer's matching subscriptions only; returns their
    /// number (0 when the peer is gone).
    fn send_to(&self, peer: u64, message: &Bound<'_, PyAny>) -> PyResult<usize> {
        Ok(self.core.send_to(peer, text::to_bytes(message)?.as_bytes()))
    }

    /// A direct message to one peer; false if the peer is gone.
    fn send_direct(&self, peer: u64, id: i32, message: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.core.send_direct(peer, id, text::to_bytes(message)?.as_bytes()))
    }

    /// An Error message to one peer; false if the peer is gone.
    fn send_error(&self, peer: u64, id: i32, message: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.core.send_error(peer, id, text::to_bytes(message)?.as_bytes()))
    }

    /// Asks a peer to die, with an id and a text; false if the peer is gone (or the
    /// text holds a line feed).
    #[pyo3(signature = (peer, id=0, message=None))]
    fn send_die(&self, peer: u64, id: i32, message: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        let text = optional_bytes(message)?;
        Ok(self.core.send_die(peer, id, text.as_ref().map_or(&[][..], |t| t.as_bytes())))
    }

    /// Pings a peer (the answer goes to the "pong" callback); false if it is gone.
    fn ping(&self, peer: u64) -> bool {
        self.core.ping(peer)
    }

    /// Peers whose handshake has ended, first seen first.
    fn peers(&self) -> Vec<u64> {
        self.state.peers().connected()
    }

    /// The client object of a peer, `None` if unknown.
    fn client(&self, py: Python<'_>, peer: u64) -> Option<Py<PyAny>> {
        self.state.peers().client(py, peer)
    }

    /// A peer's subscriptions, `[(id, regexp)]` in the order it made them; `None`
    /// once it is gone.
    fn peer_regexps<'py>(&self, py: Python<'py>, peer: u64) -> PyResult<Option<Regexps<'py>>> {
        self.core.peer_subscriptions(peer).map(|list| regexps(py, list)).transpose()
    }

    /// Adds a filter word: peers' regexps `^WORD...` must start with one (ivy-c's IvyAddFilter).
    fn add_filter(&self, word: &Bound<'_, PyAny>) -> PyResult<()> {
        self.core.add_filter(text::to_bytes(word)?.as_bytes());
        Ok(())
    }

    /// Removes a filter word.
    fn remove_filter(&self, word: &Bound<'_, PyAny>) -> PyResult<()> {
        self.core.remove_filter(text::to_bytes(word)?.as_bytes());
        Ok(())
    }

    /// A timer calling `callback()` at once, then every `delay_ms`, `count` times
    /// in all (0: forever); returns its id. It runs while the loop runs.
    fn add_timer(&self, count: u32, delay_ms: i64, callback: Py<PyAny>) -> u64 {
        timers::add(&self.core, &self.timers, &self.state, count, delay_ms, callback)
    }

    /// New delay of a timer from its next firing on; false if there is no such timer.
    fn modify_timer(&self, id: u64, delay_ms: i64) -> bool {
        timers::modify(&self.core, &self.timers, id, delay_ms)
    }

    /// Removes a timer; false if there is no such timer.
    fn remove_timer(&self, id: u64) -> bool {
        timers::remove(&self.core, &self.timers, id)
    }
}
