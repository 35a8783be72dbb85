//! Embeds the standard package manifests (`bpf/programs/*/package.toml`,
//! `bpf/loaders/*/package.toml`), which the catalog needs at run time and cannot find beside an
//! installed binary. (The headers a user package is compiled with come with the standard
//! objects, from `hike-bpf`.)

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let bpf = manifest.join("../../bpf").canonicalize().unwrap();
    println!("cargo:rerun-if-changed={}", bpf.join("programs").display());
    println!("cargo:rerun-if-changed={}", bpf.join("loaders").display());

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
    out.push_str("];\n");
    let dest = PathBuf::from(env::var("OUT_DIR").unwrap()).join("embedded.rs");
    fs::write(dest, out).unwrap();
}
