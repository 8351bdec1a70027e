//! The committed C headers (`include/Ivy/*.h`) must be exactly what build.rs
//! makes of them now: their hand-written C with, between their
//! `/* BEGIN cbindgen` and `/* END cbindgen */` lines, what cbindgen generates
//! from `src/` and `cbindgen.toml` (build.rs writes that fresh set to
//! `$OUT_DIR/include/Ivy`). To update the generated regions:
//! `IVY_UPDATE_HEADERS=1 cargo build`, then commit `include/Ivy`.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

fn header_names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".h"))
        .collect()
}

#[test]
fn committed_headers_are_up_to_date() {
    let fresh = Path::new(env!("OUT_DIR")).join("include").join("Ivy");
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("include").join("Ivy");
    let fresh_names = header_names(&fresh);
    let committed_names = header_names(&committed);
    assert_eq!(
        fresh_names, committed_names,
        "the set of headers differs; run `IVY_UPDATE_HEADERS=1 cargo build` and commit include/Ivy"
    );
    let stale: Vec<&String> =
        fresh_names.iter().filter(|n| fs::read(fresh.join(n)).ok() != fs::read(committed.join(n)).ok()).collect();
    assert!(
        stale.is_empty(),
        "include/Ivy is out of date for {stale:?}; run `IVY_UPDATE_HEADERS=1 cargo build` and commit include/Ivy"
    );
}

#[test]
fn every_ivy_c_header_is_there() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("include").join("Ivy");
    let names = header_names(&committed);
    for h in [
        "ivy.h",
        "ivyloop.h",
        "ivychannel.h",
        "timer.h",
        "ivybind.h",
        "version.h",
        "ivyglibloop.h",
        "ivysocket.h",
        "ivybuffer.h",
        "ivydebug.h",
        "list.h",
    ] {
        assert!(names.contains(h), "include/Ivy/{h} is missing");
    }
}
