//! `Ivy/ivybuffer.h`: a growable printf buffer. `make_message` and
//! `make_message_var` are written in C (`csrc/ivy_shim.c`): they take a
//! `va_list` or `...`.

use std::ffi::{c_char, c_int};

/// A growable character buffer: `make_message` formats at `data + offset`,
/// growing `data` (malloc'd, `size` bytes) as needed, and advances `offset`.
/// Start with all fields zero; free `data` with `free()`.
#[repr(C)]
pub struct IvyBuffer {
    /// The text (malloc'd, NUL-terminated), or NULL.
    pub data: *mut c_char,
    /// Bytes allocated at `data`.
    pub size: c_int,
    /// Where the next text is written.
    pub offset: c_int,
}
