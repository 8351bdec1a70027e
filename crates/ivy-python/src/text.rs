//! Text between Python and the bus. The bus carries bytes; Python sees `str`.
//! Bytes decode as UTF-8 with `surrogateescape`, so text that is not UTF-8 (Latin-1
//! from a C agent) reaches Python without an error and goes back out unchanged.

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

const UTF8: &std::ffi::CStr = c"utf-8";
const ERRORS: &std::ffi::CStr = c"surrogateescape";

/// A Python `str` holding `bytes` (UTF-8, undecodable bytes as lone surrogates).
pub(crate) fn to_str<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let len = ffi::Py_ssize_t::try_from(bytes.len())?;
    // SAFETY: a valid buffer of `len` bytes and NUL-terminated names; the result
    // is a new reference or NULL with an exception set.
    unsafe {
        let ptr = ffi::PyUnicode_DecodeUTF8(bytes.as_ptr().cast(), len, ERRORS.as_ptr());
        Bound::from_owned_ptr_or_err(py, ptr)
    }
}

/// The bytes to put on the bus for a `str` (UTF-8, lone surrogates back to the
/// bytes they stand for) or a `bytes` object.
pub(crate) fn to_bytes<'py>(value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(bytes.clone());
    }
    if value.is_instance_of::<PyString>() {
        // SAFETY: `value` is a str; the result is a new reference or NULL with an
        // exception set.
        let encoded = unsafe {
            let ptr = ffi::PyUnicode_AsEncodedString(value.as_ptr(), UTF8.as_ptr(), ERRORS.as_ptr());
            Bound::from_owned_ptr_or_err(value.py(), ptr)?
        };
        return Ok(encoded.cast_into::<PyBytes>()?);
    }
    let kind = value.get_type().name()?;
    Err(PyTypeError::new_err(format!("expected str or bytes, not {kind}")))
}
