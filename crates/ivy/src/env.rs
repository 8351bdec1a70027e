//! The environment variables ivy-c's users set, read in this one place: by the C
//! library and the probe, not by [`Bus`], whose behaviour depends only on its calls.
//!
//! | variable | effect |
//! |---|---|
//! | `IVYBUS=net,net:port` | the bus when none is given |
//! | `IVY_LOG=1` | diagnostics (the logger's debug level) |
//! | `IVY_QUIET=1` | no printed lines at all (ivy-c's included) |
//! | `IVY_ALLOW=net,net` | only these hosts may join |
//! | `IVY_IGNORE_DIE=1` | a peer's Die runs the die callback and nothing else |
//! | `IVY_DEBUG_BINARY` (set) | messages with bytes outside 0x20..0x80 are refused |

use crate::{Bus, DiePolicy};
use ivy_proto::engine::{AllowList, AllowListError};
use std::ffi::OsString;

/// What the environment asks of an agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    /// `IVYBUS`: the bus to join when the program names none.
    pub bus: Option<String>,
    /// `IVY_LOG`: log diagnostics, not only the lines ivy-c prints.
    pub log: bool,
    /// `IVY_QUIET`: print nothing.
    pub quiet: bool,
    /// `IVY_ALLOW`, parsed.
    pub allow: Option<Result<AllowList, AllowListError>>,
    /// `IVY_IGNORE_DIE`.
    pub ignore_die: bool,
    /// `IVY_DEBUG_BINARY`.
    pub debug_binary: bool,
}

/// Whether a variable is set to something other than "" or "0".
fn on(value: Option<OsString>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

impl Environment {
    /// Reads the process's environment.
    pub fn read() -> Environment {
        Environment::from_lookup(|name| std::env::var_os(name))
    }

    /// Reads the variables through `lookup` (the process's environment, or a test's).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Environment {
        let text = |name| lookup(name).map(|v| v.to_string_lossy().into_owned());
        Environment {
            bus: text("IVYBUS").filter(|b| !b.is_empty()),
            log: on(lookup("IVY_LOG")),
            quiet: on(lookup("IVY_QUIET")),
            allow: text("IVY_ALLOW").map(|list| AllowList::parse(&list)),
            ignore_die: on(lookup("IVY_IGNORE_DIE")),
            debug_binary: lookup("IVY_DEBUG_BINARY").is_some(),
        }
    }

    /// The bus to join: the program's when it names one, else `IVYBUS`'s (else
    /// [`Bus::start`]'s default).
    pub fn bus_or<'a>(&'a self, given: Option<&'a str>) -> Option<&'a str> {
        given.filter(|b| !b.is_empty()).or(self.bus.as_deref())
    }

    /// Applies the policies (allow-list, Die, debug-binary) to `bus`; a bad
    /// `IVY_ALLOW` is logged and ignored.
    pub fn apply(&self, bus: &Bus) {
        match &self.allow {
            Some(Ok(allow)) => bus.set_allow_list(allow.clone()),
            Some(Err(e)) => log::warn!(target: "ivy", "IVY_ALLOW ignored: {e}"),
            None => {}
        }
        if self.ignore_die {
            bus.set_die_policy(DiePolicy::Ignore);
        }
        if self.debug_binary {
            bus.set_debug_binary(true);
        }
    }

    /// The most detailed level to log: debug with `IVY_LOG`, nothing with `IVY_QUIET`,
    /// else the lines ivy-c prints (info).
    pub fn log_level(&self) -> log::LevelFilter {
        match (self.quiet, self.log) {
            (true, _) => log::LevelFilter::Off,
            (false, true) => log::LevelFilter::Debug,
            (false, false) => log::LevelFilter::Info,
        }
    }
}

/// Where a logged line goes: ivy-c prints its notices on stdout and its warnings
/// on stderr; diagnostics go to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The standard output.
    Stdout,
    /// The standard error.
    Stderr,
}

/// A logger for programs that print as ivy-c does: each record is one line,
/// info on stdout, the rest on stderr, written by `print` (the C library prints
/// through C's stdio, so that its lines keep their place among the program's).
pub struct PrintLogger {
    print: fn(Stream, &str),
}

impl PrintLogger {
    /// Installs it as the process's logger at `level` (see
    /// [`Environment::log_level`]); false when a logger was already installed.
    pub fn install(level: log::LevelFilter, print: fn(Stream, &str)) -> bool {
        let logger: &'static PrintLogger = Box::leak(Box::new(PrintLogger { print }));
        let installed = log::set_logger(logger).is_ok();
        if installed {
            log::set_max_level(level);
        }
        installed
    }
}

impl log::Log for PrintLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let stream = if record.level() == log::Level::Info { Stream::Stdout } else { Stream::Stderr };
        (self.print)(stream, &format!("{}\n", record.args()));
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> Environment {
        let map: HashMap<String, OsString> = vars.iter().map(|(k, v)| (k.to_string(), OsString::from(v))).collect();
        Environment::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn variables_and_their_defaults() {
        assert_eq!(env(&[]), Environment::default());
        let e = env(&[
            ("IVYBUS", "10.0.0:2345"),
            ("IVY_LOG", "1"),
            ("IVY_IGNORE_DIE", "yes"),
            ("IVY_DEBUG_BINARY", ""),
            ("IVY_ALLOW", "127.0.0.0/8"),
        ]);
        assert_eq!(e.bus.as_deref(), Some("10.0.0:2345"));
        assert!(e.log && e.ignore_die && e.debug_binary && !e.quiet);
        assert_eq!(e.allow, Some(AllowList::parse("127.0.0.0/8")));
        assert_eq!(e.log_level(), log::LevelFilter::Debug);
        let off = env(&[("IVY_LOG", "0"), ("IVY_IGNORE_DIE", ""), ("IVYBUS", ""), ("IVY_QUIET", "1")]);
        assert!(!off.log && !off.ignore_die && off.bus.is_none());
        assert_eq!(off.log_level(), log::LevelFilter::Off);
        assert!(env(&[("IVY_ALLOW", "300.1.1.1")]).allow.is_some_and(|a| a.is_err()));
    }

    #[test]
    fn the_program_s_bus_comes_first() {
        let e = env(&[("IVYBUS", "127:3000")]);
        assert_eq!(e.bus_or(Some("127:4000")), Some("127:4000"));
        assert_eq!(e.bus_or(Some("")), Some("127:3000"));
        assert_eq!(e.bus_or(None), Some("127:3000"));
        assert_eq!(env(&[]).bus_or(None), None);
    }
}
