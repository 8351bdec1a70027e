//! The panic boundary of every export: no panic unwinds into C.
//!
//! Each `extern "C"` function wraps its body in [`boundary!`]. When the body
//! panics, the panic stops there, one line on the C library's stderr names the
//! export and the panic's message, and the export returns the neutral value of
//! its C return type ([`Neutral`]: nothing, 0, NULL, `SendError`): the return
//! type decides, not each function. A panic is a bug of this library; the line
//! is what a user pastes into the report.

use std::any::Any;
use std::ffi::{c_int, c_ushort};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What an export returns when its body panicked: the neutral value of its C
/// return type.
pub(crate) trait Neutral {
    /// The value (nothing, 0, NULL...).
    fn neutral() -> Self;
}

impl Neutral for () {
    fn neutral() -> Self {}
}

impl Neutral for c_int {
    fn neutral() -> Self {
        0
    }
}

impl Neutral for c_ushort {
    fn neutral() -> Self {
        0
    }
}

impl<T> Neutral for *const T {
    fn neutral() -> Self {
        std::ptr::null()
    }
}

impl<T> Neutral for *mut T {
    fn neutral() -> Self {
        std::ptr::null_mut()
    }
}

/// Runs an export's body inside the panic boundary (see the module doc). The
/// export's name is found on a panic only, from the path of a local item.
macro_rules! boundary {
    ($body:expr) => {{
        fn here() {}
        $crate::boundary::run(|| ::std::any::type_name_of_val(&here), || $body)
    }};
}
pub(crate) use boundary;

/// [`boundary!`]'s work: `body`'s value, or on a panic the report and the
/// neutral value. `path` gives the path of an item local to the export.
pub(crate) fn run<R: Neutral>(path: impl FnOnce() -> &'static str, body: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            crate::c_stderr(&report(export_name(path()), payload.as_ref()));
            R::neutral()
        }
    }
}

/// The export's name in the path of its local item (`ivy_c::ivy::IvyStart::here`).
fn export_name(path: &str) -> &str {
    path.rsplit("::").nth(1).unwrap_or(path)
}

/// The stderr line reporting a panic stopped in `export`.
fn report(export: &str, payload: &(dyn Any + Send)) -> String {
    let why = match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => s,
        (None, Some(s)) => s.as_str(),
        (None, None) => "no message",
    };
    format!("libivy: internal error in {export} (panic: {why}); the call was abandoned\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panicking<R: Neutral>() -> R {
        boundary!(panic!("boom"))
    }

    #[test]
    fn a_panic_gives_the_neutral_value_of_the_return_type() {
        assert_eq!(panicking::<c_int>(), 0);
        assert_eq!(panicking::<c_ushort>(), 0);
        assert!(panicking::<*const u8>().is_null());
        assert!(panicking::<*mut u8>().is_null());
        panicking::<()>();
    }

    #[test]
    fn without_a_panic_the_value_passes() {
        assert_eq!(boundary!(7 as c_int), 7);
    }

    #[test]
    fn the_report_names_the_export_and_the_message() {
        fn here() {}
        let path = std::any::type_name_of_val(&here);
        assert_eq!(path, "ivy_c::boundary::tests::the_report_names_the_export_and_the_message::here");
        assert_eq!(export_name(path), "the_report_names_the_export_and_the_message");
        assert_eq!(
            report("IvyMainLoop", &"boom"),
            "libivy: internal error in IvyMainLoop (panic: boom); the call was abandoned\n"
        );
        assert_eq!(
            report("IvyStart", &String::from("bad bus")),
            "libivy: internal error in IvyStart (panic: bad bus); the call was abandoned\n"
        );
        assert_eq!(
            report("TimerScan", &42),
            "libivy: internal error in TimerScan (panic: no message); the call was abandoned\n"
        );
    }
}
