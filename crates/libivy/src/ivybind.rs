//! `Ivy/ivybind.h`: the regexp layer, usable on its own (ivyprobe compiles a
//! regexp with it before binding). Regexps follow the bus dialect (DESIGN §4).
//! The filter functions share their word list with `IvySetFilter`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_char, c_int};

use once_cell::sync::Lazy;
use parking_lot::Mutex;

use super::{_binding, bytes, c_stderr, c_stdout, cstring, global, handle_addr, handle_ptr};
use crate::boundary::boundary;
use ivy_proto::pattern::Pattern;

/// A compiled regexp, as returned by `IvyBindingCompile`.
pub type IvyBinding = *mut _binding;

/// A compiled pattern and the capture spans (offset, length) of its last
/// successful `IvyBindingExec`.
struct Compiled {
    pattern: Pattern,
    spans: Vec<(usize, usize)>,
}

struct Table {
    next: u64,
    map: HashMap<u64, Compiled>,
}

static BINDINGS: Lazy<Mutex<Table>> = Lazy::new(|| Mutex::new(Table { next: 1, map: HashMap::new() }));

thread_local! {
    static ERR_MSG: RefCell<std::ffi::CString> = RefCell::new(std::ffi::CString::default());
}

/// The number of filter words.
#[unsafe(no_mangle)]
pub extern "C" fn IvyBindingGetFilterCount() -> c_int {
    boundary!(c_int::try_from(global().filter.lock().words.len()).unwrap_or(c_int::MAX))
}

/// Adds each of the `argc` words of `argv` to the filter list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyBindingSetFilter(argc: c_int, argv: *mut *const c_char) {
    // SAFETY: same contract as IvySetFilter.
    unsafe { super::ivy::IvySetFilter(argc, argv) }
}

/// Adds one filter word (NULL: nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyBindingAddFilter(argv: *const c_char) {
    // SAFETY: same contract as IvyAddFilter.
    unsafe { super::ivy::IvyAddFilter(argv) }
}

/// Removes every filter word equal to `arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyBindingRemoveFilter(arg: *const c_char) {
    // SAFETY: same contract as IvyRemoveFilter.
    unsafe { super::ivy::IvyRemoveFilter(arg) }
}

/// 1 if a peer regexp `expression` passes the filter (§5.6), else 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyBindingFilter(expression: *const c_char) -> c_int {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string.
        match unsafe { bytes(expression) } {
            Some(e) => c_int::from(global().filter.lock().filter.accepts(e)),
            None => 1,
        }
    })
}

/// Warns on stderr when filters are set and `message` is none of the words
/// (ivy-c calls it for a message that matched no peer).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyBindindFilterCheck(message: *const c_char) {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string.
        let Some(m) = (unsafe { bytes(message) }) else { return };
        let f = global().filter.lock();
        if !f.words.is_empty() && !f.words.iter().any(|w| w == m) {
            c_stderr(&format!(
                " *** WARNING *** message '{}' not sent due to missing keyword in filter table!!!\n",
                String::from_utf8_lossy(m)
            ));
        }
    })
}

/// Compiles `expression`; NULL on error, with `*erroffset` and `*errmessage`
/// set (the message is library-owned, per thread) and the error printed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyBindingCompile(
    expression: *const c_char,
    erroffset: *mut c_int,
    errmessage: *mut *const c_char,
) -> IvyBinding {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string.
        let Some(e) = (unsafe { bytes(expression) }) else {
            return std::ptr::null_mut();
        };
        match Pattern::compile(e) {
            Ok(pattern) => {
                let mut t = BINDINGS.lock();
                let id = t.next;
                t.next += 1;
                t.map.insert(id, Compiled { pattern, spans: Vec::new() });
                handle_ptr(id)
            }
            Err(err) => {
                c_stdout(&format!("Error compiling '{}', {}\n", String::from_utf8_lossy(e), err.message));
                let msg = ERR_MSG.with(|m| {
                    let mut m = m.borrow_mut();
                    *m = cstring(err.message.as_bytes());
                    m.as_ptr()
                });
                if !erroffset.is_null() {
                    // SAFETY: non-NULL, writable per the module contract.
                    unsafe { *erroffset = err.offset }
                }
                if !errmessage.is_null() {
                    // SAFETY: non-NULL, writable per the module contract.
                    unsafe { *errmessage = msg }
                }
                std::ptr::null_mut()
            }
        }
    })
}

/// Frees a compiled regexp (NULL or already freed: nothing).
#[unsafe(no_mangle)]
pub extern "C" fn IvyBindingFree(_bind: IvyBinding) {
    boundary!({
        BINDINGS.lock().map.remove(&handle_addr(_bind));
    })
}

/// Runs the regexp on `message`: 0 for no match, else 1 + the number of
/// captured groups (as PCRE's return code), remembered for `IvyBindingMatch`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyBindingExec(_bind: IvyBinding, message: *const c_char) -> c_int {
    boundary!({
        // SAFETY: NULL or a NUL-terminated string.
        let Some(m) = (unsafe { bytes(message) }) else { return 0 };
        let mut t = BINDINGS.lock();
        let Some(c) = t.map.get_mut(&handle_addr(_bind)) else { return 0 };
        let mut caps: Vec<&[u8]> = Vec::new();
        if !c.pattern.captures(m, &mut caps) {
            c.spans.clear();
            return 0;
        }
        let base = m.as_ptr().addr();
        let end = base + m.len();
        c.spans = caps
            .iter()
            .map(|s| {
                let a = s.as_ptr().addr();
                if a >= base && a + s.len() <= end { (a - base, s.len()) } else { (0, 0) }
            })
            .collect();
        c_int::try_from(c.spans.len() + 1).unwrap_or(c_int::MAX)
    })
}

/// Gives capture `argnum` (1 = first group; 0 = the whole message) of the last
/// `IvyBindingExec` on `message`: `*arg` points into `message`, `*arglen` is
/// its length. Out of range: `*arg` = `message`, `*arglen` = 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IvyBindingMatch(
    _bind: IvyBinding,
    message: *const c_char,
    argnum: c_int,
    arglen: *mut c_int,
    arg: *mut *const c_char,
) {
    boundary!({
        if message.is_null() {
            return;
        }
        // SAFETY: non-NULL and NUL-terminated (module contract).
        let total = unsafe { bytes(message) }.map_or(0, <[u8]>::len);
        let (off, len) = {
            let t = BINDINGS.lock();
            let span = t.map.get(&handle_addr(_bind)).and_then(|c| match usize::try_from(argnum) {
                Ok(0) => None,
                Ok(n) => c.spans.get(n - 1).copied(),
                Err(_) => None,
            });
            match (span, argnum) {
                (Some(s), _) => s,
                (None, 0) => (0, total),
                (None, _) => (0, 0),
            }
        };
        // Spans from an Exec on another message must stay inside this one.
        let off = off.min(total);
        let len = len.min(total - off);
        if !arglen.is_null() {
            // SAFETY: non-NULL, writable per the module contract.
            unsafe { *arglen = c_int::try_from(len).unwrap_or(c_int::MAX) }
        }
        if !arg.is_null() {
            // SAFETY: `off` <= strlen(message), so the result points into the
            // string or at its NUL; `arg` is writable.
            unsafe { *arg = message.add(off) }
        }
    })
}

/// Forgets the filter words.
#[unsafe(no_mangle)]
pub extern "C" fn IvyBindingTerminate() {
    super::ivy::IvyTerminate()
}
