//! Embeds what the catalog needs at run time and cannot find beside an installed binary: the
//! standard package manifests (`bpf/programs/*/package.toml`, `bpf/loaders/*/package.toml`)
//! and the headers a user package is compiled with (the SDK, `bpf/include/**`, and libbpf's
//! BPF headers from libbpf-sys, `DEP_BPF_INCLUDE`).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let bpf = manifest.join("../../bpf").canonicalize().unwrap();
    let libbpf_include = PathBuf::from(
        env::var("DEP_BPF_INCLUDE").expect("libbpf-sys exports its include directory"),
    );
    println!("cargo:rerun-if-changed={}", bpf.join("programs").display());
    println!("cargo:rerun-if-changed={}", bpf.join("loaders").display());
    println!("cargo:rerun-if-changed={}", bpf.join("include").display());

    let mut out = String::new();
    out.push_str("/// `(kind, package, manifest text)` of every standard package.\n");
    out.push_str("pub static MANIFESTS: &[(&str, &str, &str)] = &[\n");
    for kind in ["programs", "loaders"] {
        let mut dirs: Vec<PathBuf> = fs::read_dir(bpf.join(kind))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("package.toml").is_file())
            .collect();
        dirs.sort();
        for dir in dirs {
            let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
            let path = dir.join("package.toml");
            println!("cargo:rerun-if-changed={}", path.display());
            writeln!(
                out,
                "    ({kind:?}, {name:?}, include_str!({:?})),",
                path.display().to_string()
            )
            .unwrap();
        }
    }
    out.push_str("];\n\n");

    out.push_str("/// `(path under the include directory, bytes)` of every header.\n");
    out.push_str("pub static HEADERS: &[(&str, &[u8])] = &[\n");
    let mut headers = Vec::new();
    collect(&bpf.join("include"), &bpf.join("include"), &mut headers);
    collect(&libbpf_include, &libbpf_include, &mut headers);
    headers.sort();
    headers.dedup_by(|a, b| a.0 == b.0);
    for (rel, path) in headers {
        writeln!(
            out,
            "    ({rel:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = PathBuf::from(env::var("OUT_DIR").unwrap()).join("embedded.rs");
    fs::write(dest, out).unwrap();
}

/// Every `*.h` under `dir`, as (path relative to `root`, path).
fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "h") {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            out.push((rel, path));
        }
    }
}
