//! The GIL on the loop thread: taken by the first callback of a loop turn and kept
//! for the rest of it, so that a turn delivering thousands of messages takes it
//! once; given back before the loop waits (and when the loop ends), so that Python
//! threads run while the bus is idle.

use pyo3::Python;
use pyo3::ffi;
use std::cell::Cell;

thread_local! {
    /// The outermost `PyGILState_Ensure` of the current turn, on the loop thread.
    static HELD: Cell<Option<ffi::PyGILState_STATE>> = const { Cell::new(None) };
}

/// Runs `f` with the GIL, which stays held by this thread until [`release`].
/// Returns `None`, running nothing, when the interpreter is gone or shutting down.
pub(crate) fn with_gil<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> Option<R> {
    HELD.with(|held| {
        // SAFETY: Py_IsInitialized may be called at any time; Ensure is then the
        // outermost one of this thread (it returns "unlocked"), undone by `release`.
        if held.get().is_none() && unsafe { ffi::Py_IsInitialized() } != 0 {
            held.set(Some(unsafe { ffi::PyGILState_Ensure() }));
        }
    });
    // Nested in the Ensure above: takes and gives back nothing.
    Python::try_attach(f)
}

/// Gives back the GIL kept by [`with_gil`], if this thread keeps it.
pub(crate) fn release() {
    if let Some(state) = HELD.with(Cell::take) {
        // SAFETY: pairs the Ensure made by `with_gil` on this same thread.
        unsafe { ffi::PyGILState_Release(state) };
    }
}
