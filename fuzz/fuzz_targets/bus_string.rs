//! The bus string (protocol §1.2) on arbitrary text: [`parse_bus`] with an
//! argument and an `IVYBUS` value, either absent.
//!
//! No panic; the port is never 0 (2010 stands in); IPv6 mode has exactly one
//! target; every element of the list ends up either a target or a bad element;
//! parsing is deterministic.
#![no_main]

use ivy_proto::wire::{DEFAULT_PORT, parse_bus};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Byte 0: which of the two strings are present; then `bus \0 env`.
    let Some((&flags, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let (bus, env) = text.split_once('\0').unwrap_or((&text, ""));
    let bus = (flags & 1 != 0).then_some(bus);
    let env = (flags & 2 != 0).then_some(env);
    let spec = parse_bus(bus, env);
    assert_ne!(spec.port, 0);
    if spec.ipv6 {
        assert_eq!(spec.targets.len(), 1);
        assert!(spec.targets[0].is_ipv6());
        assert!(spec.bad_elements.is_empty());
    } else {
        assert!(spec.targets.iter().all(|t| t.is_ipv4()));
        assert!(!spec.targets.is_empty() || !spec.bad_elements.is_empty());
    }
    assert!(spec.multicast_groups().len() <= spec.targets.len());
    assert_eq!(parse_bus(bus, env), spec, "deterministic");
    // With neither string, the compiled default.
    if bus.is_none_or(str::is_empty) && env.is_none_or(str::is_empty) {
        assert_eq!(spec.port, DEFAULT_PORT);
    }
});
