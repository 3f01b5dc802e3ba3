//! Embeds the demo page (`../www`, including the generated wasm package in `www/pkg` when it
//! exists) into the `switchyard` binary, as a table of (URL path, bytes) in
//! `$OUT_DIR/www.rs`. Cargo reruns this when anything under `www/` changes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let www = manifest.join("..").join("www");
    let mut files = Vec::new();
    if www.is_dir() {
        println!("cargo::rerun-if-changed={}", www.display());
        collect(&www, "", &mut files);
    }
    files.sort();
    let mut out = String::from(
        "/// The files of `www/` when the binary was built: URL path and contents.\n\
         pub(crate) static EMBEDDED: &[(&str, &[u8])] = &[\n",
    );
    for (url, path) in &files {
        writeln!(out, "    ({url:?}, include_bytes!({:?})),", path.display()).expect("to a String");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo")).join("www.rs");
    fs::write(dest, out).expect("OUT_DIR is writable");
}

/// Every regular file under `dir`, skipping hidden names (`www/pkg/.gitignore`).
fn collect(dir: &Path, prefix: &str, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let url = format!("{prefix}/{name}");
        if path.is_dir() {
            collect(&path, &url, files);
        } else if path.is_file() {
            let absolute = fs::canonicalize(&path).unwrap_or(path);
            files.push((url, absolute));
        }
    }
}
