//! Compiles every `bpf/**/*.bpf.c` of the repository with clang into `OUT_DIR`, and generates
//! the table of objects that `src/lib.rs` embeds.
//!
//! The compiler is `$HIKE_CLANG`, else the first of `clang-19`, `clang-18`, … `clang` found on
//! `PATH` (BPF ISA v4 needs clang 18 or newer). libbpf's BPF headers come from libbpf-sys
//! (`DEP_BPF_INCLUDE`), so they match the libbpf that loads the objects.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../..").canonicalize().unwrap();
    let bpf = root.join("bpf");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let libbpf_include = PathBuf::from(
        env::var("DEP_BPF_INCLUDE").expect("libbpf-sys exports its include directory"),
    );
    let clang = find_clang();

    println!("cargo:rerun-if-changed={}", bpf.display());
    println!("cargo:rerun-if-env-changed=HIKE_CLANG");

    let mut sources = Vec::new();
    collect(&bpf, &mut sources);
    sources.sort();

    let mut table = String::from("/// Every object, by name (the source file name without `.bpf.c`).\npub static OBJECTS: &[Object] = &[\n");
    let mut seen = std::collections::BTreeSet::new();
    for src in &sources {
        let name = src
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches(".bpf.c")
            .to_string();
        assert!(
            seen.insert(name.clone()),
            "two BPF sources are named `{name}`: names must be unique"
        );
        let obj = out.join(format!("{name}.bpf.o"));
        let arch_include = format!(
            "/usr/include/{}-linux-gnu",
            env::var("CARGO_CFG_TARGET_ARCH").unwrap()
        );
        let output = Command::new(&clang)
            .args([
                "-O2", "-g", "-target", "bpf", "-mcpu=v4", "-Wall", "-Werror",
            ])
            .arg("-I")
            .arg(bpf.join("include"))
            .arg("-I")
            .arg(&libbpf_include)
            .arg("-I")
            .arg(arch_include)
            .arg("-c")
            .arg(src)
            .arg("-o")
            .arg(&obj)
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{clang}`: {e} (run `make deps`)"));
        if !output.status.success() {
            panic!(
                "clang failed on {}:\n{}{}",
                src.display(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let rel = src.strip_prefix(&root).unwrap().display().to_string();
        writeln!(
            table,
            "    Object {{ name: {name:?}, source: {rel:?}, bytes: include_bytes!({:?}) }},",
            obj.display().to_string()
        )
        .unwrap();
    }
    table.push_str("];\n");
    fs::write(out.join("objects.rs"), table).unwrap();
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.to_str().is_some_and(|p| p.ends_with(".bpf.c")) {
            out.push(path);
        }
    }
}

fn find_clang() -> String {
    if let Ok(clang) = env::var("HIKE_CLANG") {
        return clang;
    }
    for candidate in ["clang-19", "clang-20", "clang-18", "clang"] {
        if Command::new(candidate)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return candidate.to_string();
        }
    }
    panic!("no clang found: install clang-19 (`make deps`) or set HIKE_CLANG");
}
