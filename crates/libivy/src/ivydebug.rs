//! `Ivy/ivydebug.h`: the `TRACE` / `TRACE_IF` macros, which print to stderr
//! when `DEBUG` is defined. C written by hand in `include/Ivy/ivydebug.h`:
//! nothing of it comes from Rust.
