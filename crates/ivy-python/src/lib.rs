//! `ivy._ivy`, the native part of the Python package `ivy`: an agent on the
//! ivy-rs engine, whose loop runs on a thread of its own and calls Python
//! callbacks with the GIL (see `python/ivy/` for the Python API built on it).

mod adapter;
mod agent;
mod events;
mod gil;
mod peers;
mod state;
mod text;
mod timers;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _ivy(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<agent::Agent>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
