//! `Ivy/ivydebug.h`: the `TRACE` / `TRACE_IF` macros (raw block in
//! `cbindgen.toml`: they print to stderr when `DEBUG` is defined).
