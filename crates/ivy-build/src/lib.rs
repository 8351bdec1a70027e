//! What the build scripts of the agents' binaries (`ivyprobe`, `ivy-bench`) share:
//! link options that keep an idle agent's resident memory small.
//!
//! 1. The toolchain's lld with `link/symbol-order.txt` (written by
//!    `scripts/gen-symbol-order`), so that the functions an agent runs come first
//!    in `.text`: the kernel maps code 64 KiB around each page touched, and an idle
//!    agent then keeps a few such blocks resident instead of a dozen. The file
//!    holds mangled names, which depend on the compiler: it applies only with the
//!    rustc that wrote it (its first line says which); with another one the build
//!    goes on without it and says so.
//! 2. Packed relative relocations (`-z pack-relative-relocs`, glibc 2.36 and
//!    later): the loader then reads and writes about 170 KiB less at start-up,
//!    which an idle agent keeps resident.
//!
//! Each only when a test program linked so runs on this machine.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const PACK_RELOCATIONS: &str = "-Wl,-z,pack-relative-relocs";
/// The order file, relative to the workspace root.
const SYMBOL_ORDER: &str = "link/symbol-order.txt";

/// Prints the `cargo:rustc-link-arg-bins` lines of the calling package's build
/// script (its manifest directory is two levels under the workspace root).
pub fn link_bins_compactly() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let order = manifest.join("../..").join(SYMBOL_ORDER);
    // (A path that does not exist would make cargo run the script every time.)
    if order.exists() {
        println!("cargo:rerun-if-changed={}", order.display());
    }
    let mut args = ordered_code_args(&order).filter(|args| links_and_runs(&out, args)).unwrap_or_default();
    args.push(PACK_RELOCATIONS.to_owned());
    if !links_and_runs(&out, &args) {
        args.pop();
    }
    for arg in args {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}

/// The rustc version line (`rustc 1.95.0 (...)`) of the compiler building us.
fn rustc_version() -> Option<String> {
    let out = Command::new(env::var("RUSTC").ok()?).arg("--version").output().ok()?;
    Some(String::from_utf8(out.stdout).ok()?.trim().to_owned())
}

/// Whether the order file was written with the rustc building us.
fn order_matches_toolchain(order: &Path) -> bool {
    let Ok(text) = fs::read_to_string(order) else { return false };
    let (Some(first), Some(version)) = (text.lines().next(), rustc_version()) else { return false };
    let matches = first.contains(&format!("with {version}."));
    if !matches {
        println!(
            "cargo:warning={SYMBOL_ORDER} was written with another rustc than {version}: \
             code laid out by default (run scripts/gen-symbol-order)"
        );
    }
    matches
}

/// The C compiler's arguments to link with the lld of the Rust toolchain that
/// builds us, in the order of `order`; `None` without that lld or that order.
fn ordered_code_args(order: &Path) -> Option<Vec<String>> {
    let rustc = env::var("RUSTC").ok()?;
    let sysroot = Command::new(rustc).args(["--print", "sysroot"]).output().ok()?.stdout;
    let host = env::var("HOST").ok()?;
    let lld_dir =
        Path::new(std::str::from_utf8(&sysroot).ok()?.trim()).join("lib/rustlib").join(host).join("bin/gcc-ld");
    (lld_dir.join("ld.lld").exists() && order_matches_toolchain(order)).then(|| {
        vec![
            format!("-B{}", lld_dir.display()),
            "-fuse-ld=lld".to_owned(),
            format!("-Wl,--symbol-ordering-file={}", order.display()),
            "-Wl,--no-warn-symbol-ordering".to_owned(),
        ]
    })
}

/// Whether a C program linked with `args` builds and runs on this machine (so
/// never when cross-compiling, nor with an older linker or C library).
fn links_and_runs(out: &Path, args: &[String]) -> bool {
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") || env::var("HOST") != env::var("TARGET") {
        return false;
    }
    let (source, program) = (out.join("link_check.c"), out.join("link_check"));
    if fs::write(&source, "int main(void) { return 0; }\n").is_err() {
        return false;
    }
    let mut link = cc::Build::new().cargo_metadata(false).get_compiler().to_command();
    link.arg(&source).args(args).arg("-o").arg(&program);
    link.status().is_ok_and(|s| s.success()) && Command::new(&program).status().is_ok_and(|s| s.success())
}
