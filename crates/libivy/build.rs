//! Build script of the C border.
//!
//! 1. Generates the C headers with cbindgen, one per `[[ivy_header]]` table of
//!    `cbindgen.toml`, with the hand-written C of `csrc/headers/` spliced in: the
//!    public ones (`Ivy/*.h`) into `$OUT_DIR/include/Ivy/`, the private one of the
//!    shim (`ivy_shim.h`) into `$OUT_DIR/include/`. With `IVY_UPDATE_HEADERS=1`
//!    it also writes the public ones to `include/Ivy/` (the committed copies;
//!    `tests/headers.rs` checks that they are up to date).
//! 2. Compiles `csrc/ivy_shim.c` (the variadic functions) and
//!    `csrc/ivy_channel.c` (the weak loop functions of ivychannel.h, and the
//!    library's calls of them) against those headers and links them into the
//!    crate. Position-independent, and without -fno-semantic-interposition:
//!    in libivy.so, the library's calls of the loop functions must go through
//!    their dynamic symbols, which a program's own definitions interpose.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=csrc");
    println!("cargo:rerun-if-env-changed=IVY_UPDATE_HEADERS");

    let include = out.join("include");
    fs::create_dir_all(include.join("Ivy")).expect("create $OUT_DIR/include/Ivy");
    let public = generate_headers(&root, &include);

    if env::var_os("IVY_UPDATE_HEADERS").is_some_and(|v| !v.is_empty() && v != "0") {
        let committed = root.join("include").join("Ivy");
        fs::create_dir_all(&committed).expect("create include/Ivy");
        for (name, text) in &public {
            let dest = committed.join(name);
            if fs::read(&dest).ok().as_deref() != Some(text.as_slice()) {
                fs::write(&dest, text).expect("write include/Ivy header");
            }
        }
    }

    cc::Build::new()
        .file(root.join("csrc").join("ivy_shim.c"))
        .file(root.join("csrc").join("ivy_channel.c"))
        .include(&include)
        .pic(true)
        .std("c11")
        .warnings(true)
        .extra_warnings(true)
        .compile("ivy_shim");
}

/// Runs cbindgen for every `[[ivy_header]]` of `cbindgen.toml`, writing each
/// header under `include` (the public ones in its `Ivy/`); returns the
/// (file name, contents) pairs of the public ones.
fn generate_headers(root: &Path, include: &Path) -> Vec<(String, Vec<u8>)> {
    let text = fs::read_to_string(root.join("cbindgen.toml")).expect("read cbindgen.toml");
    let mut table: toml::Table = text.parse().expect("parse cbindgen.toml");
    let specs = match table.remove("ivy_header") {
        Some(toml::Value::Array(a)) => a,
        _ => panic!("cbindgen.toml: no [[ivy_header]] tables"),
    };
    let base: cbindgen::Config =
        toml::Value::Table(table).try_into().expect("cbindgen.toml: invalid cbindgen settings");
    let parts = root.join("csrc").join("headers");
    let banner = part(&parts, "banner.h").expect("csrc/headers/banner.h");

    let mut public = Vec::new();
    for spec in specs {
        let spec = spec.as_table().expect("[[ivy_header]] must be a table");
        let name = str_field(spec, "name").expect("[[ivy_header]] needs name");
        let source = str_field(spec, "source").expect("[[ivy_header]] needs source");
        let stem = name.strip_suffix(".h").expect("[[ivy_header]] name must end in .h");
        let mut config = base.clone();
        // The include guard is written by hand around everything, trailer
        // included (cbindgen would put the trailer after its own guard).
        let guard = str_field(spec, "guard").expect("[[ivy_header]] needs guard");
        config.include_guard = None;
        config.header = Some(format!("{banner}\n\n#ifndef {guard}\n#define {guard}"));
        config.includes = list_field(spec, "includes");
        config.sys_includes = list_field(spec, "sys_includes");
        config.after_includes = part(&parts, &format!("{stem}-prelude.h"));
        let trailer = part(&parts, &format!("{stem}-trailer.h")).unwrap_or_default();
        config.trailer = Some(format!("{trailer}\n\n#endif /* {guard} */"));
        config.export.include = list_field(spec, "export_include");
        config.export.exclude = list_field(spec, "export_exclude");
        let bindings = cbindgen::Builder::new()
            .with_config(config)
            .with_src(root.join(&source))
            .generate()
            .unwrap_or_else(|e| panic!("cbindgen failed on {source}: {e}"));
        let mut bytes = Vec::new();
        bindings.write(&mut bytes);
        let private = spec.get("private").and_then(toml::Value::as_bool).unwrap_or(false);
        let dir = if private { include.to_path_buf() } else { include.join("Ivy") };
        fs::write(dir.join(&name), &bytes).expect("write generated header");
        if !private {
            public.push((name, bytes));
        }
    }
    public
}

/// The hand-written C of `csrc/headers/NAME`, without its final newline, if
/// the file exists.
fn part(dir: &Path, name: &str) -> Option<String> {
    let text = fs::read_to_string(dir.join(name)).ok()?;
    Some(text.strip_suffix('\n').unwrap_or(&text).to_owned())
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
