//! Build script of the C border.
//!
//! 1. Generates the C headers (`Ivy/*.h`) with cbindgen, one per `[[ivy_header]]`
//!    table of `cbindgen.toml`, into `$OUT_DIR/include/Ivy/`. With
//!    `IVY_UPDATE_HEADERS=1` it also writes them to `include/Ivy/` (the
//!    committed copies; `tests/headers.rs` checks that they are up to date).
//! 2. Compiles `csrc/ivy_shim.c` (the variadic functions) against those headers
//!    and links it into the crate.
//! 3. Links the binaries with the Rust toolchain's lld and
//!    `link/symbol-order.txt` (written by `scripts/gen-symbol-order`), so that
//!    the functions an agent runs come first in `.text`: the kernel maps code
//!    64 KiB around each page touched, and an idle agent then keeps a few such
//!    blocks resident instead of a dozen. Only when a test program links so.
//! 4. Links the binaries with packed relative relocations (`-z
//!    pack-relative-relocs`, glibc 2.36 and later) when a test program linked
//!    so runs here: the loader then reads and writes about 170 KiB less at
//!    start-up, which an idle agent keeps resident.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=csrc");
    println!("cargo:rerun-if-env-changed=IVY_UPDATE_HEADERS");

    let include = out.join("include");
    let gen_dir = include.join("Ivy");
    fs::create_dir_all(&gen_dir).expect("create $OUT_DIR/include/Ivy");
    let headers = generate_headers(&root, &gen_dir);

    if env::var_os("IVY_UPDATE_HEADERS").is_some_and(|v| !v.is_empty() && v != "0") {
        let committed = root.join("include").join("Ivy");
        fs::create_dir_all(&committed).expect("create include/Ivy");
        for (name, text) in &headers {
            let dest = committed.join(name);
            if fs::read(&dest).ok().as_deref() != Some(text.as_slice()) {
                fs::write(&dest, text).expect("write include/Ivy header");
            }
        }
    }

    cc::Build::new()
        .file(root.join("csrc").join("ivy_shim.c"))
        .include(&include)
        .std("c11")
        .warnings(true)
        .extra_warnings(true)
        .compile("ivy_shim");

    // (A path that does not exist would make cargo run this script every time.)
    if root.join(SYMBOL_ORDER).exists() {
        println!("cargo:rerun-if-changed={SYMBOL_ORDER}");
    }
    let mut link_args = ordered_code_args(&root).filter(|args| links_and_runs(&out, args)).unwrap_or_default();
    link_args.push(PACK_RELOCATIONS.to_owned());
    if !links_and_runs(&out, &link_args) {
        link_args.pop();
    }
    for arg in link_args {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}

const PACK_RELOCATIONS: &str = "-Wl,-z,pack-relative-relocs";
const SYMBOL_ORDER: &str = "link/symbol-order.txt";

/// The C compiler's arguments to link with the lld of the Rust toolchain that
/// builds us, in the order of [`SYMBOL_ORDER`]; `None` without that lld.
fn ordered_code_args(root: &Path) -> Option<Vec<String>> {
    let rustc = env::var("RUSTC").ok()?;
    let sysroot = Command::new(rustc).args(["--print", "sysroot"]).output().ok()?.stdout;
    let host = env::var("HOST").ok()?;
    let lld_dir =
        Path::new(std::str::from_utf8(&sysroot).ok()?.trim()).join("lib/rustlib").join(host).join("bin/gcc-ld");
    let order = root.join(SYMBOL_ORDER);
    (lld_dir.join("ld.lld").exists() && order.exists()).then(|| {
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

/// Runs cbindgen for every `[[ivy_header]]` of `cbindgen.toml`; returns the
/// (file name, contents) pairs, also written to `dir`.
fn generate_headers(root: &Path, dir: &Path) -> Vec<(String, Vec<u8>)> {
    let text = fs::read_to_string(root.join("cbindgen.toml")).expect("read cbindgen.toml");
    let mut table: toml::Table = text.parse().expect("parse cbindgen.toml");
    let specs = match table.remove("ivy_header") {
        Some(toml::Value::Array(a)) => a,
        _ => panic!("cbindgen.toml: no [[ivy_header]] tables"),
    };
    let base: cbindgen::Config =
        toml::Value::Table(table).try_into().expect("cbindgen.toml: invalid cbindgen settings");

    let mut result = Vec::new();
    for spec in specs {
        let spec = spec.as_table().expect("[[ivy_header]] must be a table");
        let name = str_field(spec, "name").expect("[[ivy_header]] needs name");
        let source = str_field(spec, "source").expect("[[ivy_header]] needs source");
        let mut config = base.clone();
        // The include guard is written by hand around everything, trailer
        // included (cbindgen would put the trailer after its own guard).
        let guard = str_field(spec, "guard").expect("[[ivy_header]] needs guard");
        config.include_guard = None;
        config.header = Some(format!("{}\n\n#ifndef {guard}\n#define {guard}", base.header.as_deref().unwrap_or("")));
        config.includes = list_field(spec, "includes");
        config.sys_includes = list_field(spec, "sys_includes");
        config.after_includes = str_field(spec, "after_includes");
        config.trailer = Some(format!("{}\n\n#endif /* {guard} */", str_field(spec, "trailer").unwrap_or_default()));
        config.export.include = list_field(spec, "export_include");
        config.export.exclude = list_field(spec, "export_exclude");
        let bindings = cbindgen::Builder::new()
            .with_config(config)
            .with_src(root.join(&source))
            .generate()
            .unwrap_or_else(|e| panic!("cbindgen failed on {source}: {e}"));
        let mut bytes = Vec::new();
        bindings.write(&mut bytes);
        fs::write(dir.join(&name), &bytes).expect("write generated header");
        result.push((name, bytes));
    }
    result
}

fn str_field(t: &toml::Table, key: &str) -> Option<String> {
    t.get(key).and_then(|v| v.as_str()).map(str::to_owned)
}

fn list_field(t: &toml::Table, key: &str) -> Vec<String> {
    t.get(key)
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}
