//! The one logging hook. Quiet by default; `IVY_LOG=1` or [`set_hook`] turns it on.

use std::sync::{LazyLock, RwLock};

type Hook = Box<dyn Fn(&str) + Send + Sync>;

static HOOK: LazyLock<RwLock<Option<Hook>>> = LazyLock::new(|| {
    let to_stderr = std::env::var_os("IVY_LOG").is_some_and(|v| !v.is_empty() && v != "0");
    RwLock::new(to_stderr.then(|| Box::new(|m: &str| eprintln!("ivy: {m}")) as Hook))
});

/// Installs (or removes, with `None`) the function that receives diagnostics.
pub fn set_hook(hook: Option<Hook>) {
    *HOOK.write().unwrap_or_else(|e| e.into_inner()) = hook;
}

/// Reports one diagnostic line; the text is built only when someone listens.
pub fn log(msg: impl FnOnce() -> String) {
    if let Some(hook) = HOOK.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        hook(&msg());
    }
}
