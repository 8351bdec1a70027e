//! Build script of the C border.
//!
//! 1. Writes the C headers. A header's hand-written C (banner, include guard,
//!    includes, macros, variadic prototypes, its own `extern "C"` wrapper) is
//!    in the header itself: the committed `include/Ivy/NAME.h`, or, for the
//!    private header of the shim (no committed copy), the template
//!    `csrc/NAME.in`. For each `[[ivy_header]]` table of `cbindgen.toml`,
//!    cbindgen's declarations of the Rust file it names replace what stands
//!    between the header's `/* BEGIN cbindgen` and `/* END cbindgen */` lines.
//!    The public headers go to `$OUT_DIR/include/Ivy/` (with those that have
//!    no table, all hand-written, copied as they are), the private one
//!    (`ivy_shim.h`) to `$OUT_DIR/include/`. With `IVY_UPDATE_HEADERS=1` the
//!    public ones are also written back to `include/Ivy/` (`tests/headers.rs`
//!    checks that the committed ones are up to date).
//! 2. Compiles `csrc/ivy_shim.c` (the variadic functions) and
//!    `csrc/ivy_channel.c` (the weak loop functions of ivychannel.h, and the
//!    library's calls of them) against those headers and links them into the
//!    crate. Position-independent, and without -fno-semantic-interposition:
//!    in libivy.so, the library's calls of the loop functions must go through
//!    their dynamic symbols, which a program's own definitions interpose.

use std::collections::BTreeSet;
use std::env;
use std::fs;
use std::path::{Path, PathBuf};

/// How the line that opens a header's generated region starts.
const BEGIN: &str = "/* BEGIN cbindgen";
/// The line that closes it.
const END: &str = "/* END cbindgen */";

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=csrc");
    println!("cargo:rerun-if-changed=include");
    println!("cargo:rerun-if-env-changed=IVY_UPDATE_HEADERS");

    let include = out.join("include");
    fs::create_dir_all(include.join("Ivy")).expect("create $OUT_DIR/include/Ivy");
    let public = write_headers(&root, &include);

    if env::var_os("IVY_UPDATE_HEADERS").is_some_and(|v| !v.is_empty() && v != "0") {
        let committed = root.join("include").join("Ivy");
        for (name, text) in &public {
            let dest = committed.join(name);
            if fs::read_to_string(&dest).ok().as_deref() != Some(text.as_str()) {
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

/// One `[[ivy_header]]` table of `cbindgen.toml`.
struct HeaderSpec {
    /// The header's file name (`ivy.h`).
    name: String,
    /// The Rust file its declarations come from, relative to the crate.
    source: String,
    /// Never installed: its hand-written C is `csrc/NAME.in`, the result goes
    /// to `$OUT_DIR/include/` only.
    private: bool,
    /// cbindgen's `export.include` for it (items no function mentions).
    export_include: Vec<String>,
    /// cbindgen's `export.exclude` for it.
    export_exclude: Vec<String>,
}

impl HeaderSpec {
    fn from_toml(value: &toml::Value) -> HeaderSpec {
        let t = value.as_table().expect("[[ivy_header]] must be a table");
        let name = str_field(t, "name").expect("[[ivy_header]] needs name");
        let source = str_field(t, "source").unwrap_or_else(|| panic!("[[ivy_header]] {name} needs source"));
        HeaderSpec {
            private: t.get("private").and_then(toml::Value::as_bool).unwrap_or(false),
            export_include: list_field(t, "export_include"),
            export_exclude: list_field(t, "export_exclude"),
            name,
            source,
        }
    }

    /// The file that holds the header's hand-written C.
    fn template(&self, root: &Path) -> PathBuf {
        if self.private {
            root.join("csrc").join(format!("{}.in", self.name))
        } else {
            root.join("include").join("Ivy").join(&self.name)
        }
    }

    /// The first line of the generated region: where it comes from.
    fn begin_line(&self) -> String {
        let how = if self.private { "build.rs writes it" } else { "IVY_UPDATE_HEADERS=1 cargo build rewrites it" };
        format!("{BEGIN}: generated from {}; {how} */", self.source)
    }
}

/// Writes every header under `include` (the public ones in its `Ivy/`):
/// those of `cbindgen.toml` with their generated region filled in, the other
/// committed ones as they are. Returns the (file name, contents) pairs of the
/// public ones.
fn write_headers(root: &Path, include: &Path) -> Vec<(String, String)> {
    let (base, specs) = read_config(root);
    let mut public = Vec::new();
    for spec in &specs {
        let template = spec.template(root);
        let text = fs::read_to_string(&template).unwrap_or_else(|e| panic!("read {}: {e}", template.display()));
        let header = splice(&text, &spec.begin_line(), &generate(root, &base, spec), &template);
        if spec.private {
            fs::write(include.join(&spec.name), &header).expect("write private header");
        } else {
            public.push((spec.name.clone(), header));
        }
    }
    let generated: BTreeSet<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    public.extend(hand_written_headers(root, &generated));
    for (name, text) in &public {
        fs::write(include.join("Ivy").join(name), text).expect("write public header");
    }
    public
}

/// The cbindgen settings shared by every header (the top level of
/// `cbindgen.toml`) and its `[[ivy_header]]` tables.
fn read_config(root: &Path) -> (cbindgen::Config, Vec<HeaderSpec>) {
    let text = fs::read_to_string(root.join("cbindgen.toml")).expect("read cbindgen.toml");
    let mut table: toml::Table = text.parse().expect("parse cbindgen.toml");
    let specs = match table.remove("ivy_header") {
        Some(toml::Value::Array(a)) => a.iter().map(HeaderSpec::from_toml).collect(),
        _ => panic!("cbindgen.toml: no [[ivy_header]] tables"),
    };
    let base = toml::Value::Table(table).try_into().expect("cbindgen.toml: invalid cbindgen settings");
    (base, specs)
}

/// cbindgen's declarations of the spec's Rust file, without surrounding blank
/// lines.
fn generate(root: &Path, base: &cbindgen::Config, spec: &HeaderSpec) -> String {
    let mut config = base.clone();
    config.export.include = spec.export_include.clone();
    config.export.exclude = spec.export_exclude.clone();
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join(&spec.source))
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen failed on {}: {e}", spec.source));
    let mut bytes = Vec::new();
    bindings.write(&mut bytes);
    String::from_utf8(bytes).expect("cbindgen wrote UTF-8").trim_matches('\n').to_owned()
}

/// `text` with the lines from its `BEGIN` line to its `END` line replaced by
/// `begin`, `declarations` and `END`. Panics, naming `path`, unless `text` has
/// exactly one of each, in that order.
fn splice(text: &str, begin: &str, declarations: &str, path: &Path) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let at = |marker: &str| {
        let found: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].starts_with(marker)).collect();
        match found[..] {
            [i] => i,
            _ => panic!(
                "{}: needs exactly one line starting with `{marker}` (found {}): the generated declarations go \
                 between a `{BEGIN}: ... */` line and a `{END}` line",
                path.display(),
                found.len()
            ),
        }
    };
    let (first, last) = (at(BEGIN), at(END));
    assert!(first < last, "{}: `{END}` comes before `{BEGIN}`", path.display());
    let region = if declarations.is_empty() { vec![begin, END] } else { vec![begin, "", declarations, "", END] };
    let mut out: Vec<&str> = lines[..first].to_vec();
    out.extend(region);
    out.extend(&lines[last + 1..]);
    out.join("\n") + "\n"
}

/// The committed headers with no `[[ivy_header]]` table (`generated` names
/// those that have one): written by hand from end to end. Panics if one of
/// them has a generated region, which nothing would fill in.
fn hand_written_headers(root: &Path, generated: &BTreeSet<&str>) -> Vec<(String, String)> {
    let dir = root.join("include").join("Ivy");
    let mut headers = Vec::new();
    for entry in fs::read_dir(&dir).expect("read include/Ivy") {
        let name = entry.expect("read include/Ivy").file_name().to_string_lossy().into_owned();
        if !name.ends_with(".h") || generated.contains(name.as_str()) {
            continue;
        }
        let text = fs::read_to_string(dir.join(&name)).unwrap_or_else(|e| panic!("read include/Ivy/{name}: {e}"));
        assert!(
            !text.lines().any(|l| l.starts_with(BEGIN) || l.starts_with(END)),
            "include/Ivy/{name} has a generated region but no [[ivy_header]] table in cbindgen.toml"
        );
        headers.push((name, text));
    }
    headers
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
