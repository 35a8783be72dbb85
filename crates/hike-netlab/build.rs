//! Compiles `bpf/netlab_traffic.bpf.c` with clang into `OUT_DIR`; `src/traffic.rs` embeds it.
//!
//! The compiler and flags are those of `hike-bpf` (`$HIKE_CLANG`, else the first of
//! `clang-19`, `clang-20`, `clang-18`, `clang` on `PATH`); libbpf's BPF headers come from
//! libbpf-sys (`DEP_BPF_INCLUDE`), so they match the libbpf that loads the object. The traffic
//! programs live here rather than in `bpf/` because they are no part of HIKe: they only make
//! and count the packets that a lab sends through it.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let src = manifest.join("bpf/netlab_traffic.bpf.c");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("netlab_traffic.bpf.o");
    let libbpf_include = PathBuf::from(
        env::var("DEP_BPF_INCLUDE").expect("libbpf-sys exports its include directory"),
    );
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-env-changed=HIKE_CLANG");
    let clang = find_clang();
    let arch_include = format!(
        "/usr/include/{}-linux-gnu",
        env::var("CARGO_CFG_TARGET_ARCH").unwrap()
    );
    let output = Command::new(&clang)
        .args([
            "-O2", "-g", "-target", "bpf", "-mcpu=v4", "-Wall", "-Werror",
        ])
        .arg("-I")
        .arg(&libbpf_include)
        .arg("-I")
        .arg(arch_include)
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(&out)
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
