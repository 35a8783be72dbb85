//! The BPF toolchain: which clang compiles the project's eBPF C, and with which flags.
//!
//! Four places compile C for the BPF target, and they must agree: `hike-bpf`'s build script
//! (every `bpf/**/*.bpf.c` of the repository), `eclat-catalog` (user packages,
//! `--package-dir DIR`), `hike-cchains` (chains written in C, `.hike.c`) and `hike-fused`
//! (fused scripts). This crate is the
//! one place that says how: [`find_clang`] picks the compiler, [`flags`] gives the flags,
//! [`Warnings`] names the one way they differ (whether a warning fails the build), and
//! [`compile_command`] puts them together with a caller's include directories, source and
//! output. Each caller adds its own defines and other options, and runs the command.
//!
//! It is not a build system and embeds no headers: the SDK and libbpf headers an object is
//! compiled with come from `bpf/include` and from libbpf-sys (`hike-bpf` embeds both for
//! `eclat-catalog`; `hike-cchains` needs only its own `hike/chain.h`). It runs nothing but
//! `clang --version` (in [`find_clang`]) and depends on nothing but `thiserror`, so that
//! `hike-bpf` can use it from its build script.
//!
//! ```no_run
//! use std::path::Path;
//!
//! use hike_toolchain::{compile_command, find_clang, Warnings};
//!
//! let clang = find_clang()?;
//! let status = compile_command(
//!     &clang,
//!     Warnings::Fatal,
//!     &[Path::new("bpf/include")],
//!     Path::new("prog.bpf.c"),
//!     Path::new("prog.bpf.o"),
//! )
//! .status()?;
//! assert!(status.success());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable that names the compiler, bypassing the search.
pub const CLANG_ENV: &str = "HIKE_CLANG";

/// The compilers tried in order when [`CLANG_ENV`] is not set. BPF ISA v4 (`-mcpu=v4`) needs
/// clang 18 or newer; 19 is the version the project is tested with.
pub const CLANG_CANDIDATES: [&str; 4] = ["clang-19", "clang-20", "clang-18", "clang"];

/// The flags of every compilation, before the warning policy: optimized (the verifier needs
/// it), with BTF and line info (`-g`: the catalog reads the BTF, `hike-cchains` the line info
/// of its messages), for the BPF target with ISA v4, all warnings on.
const BASE_FLAGS: [&str; 6] = ["-O2", "-g", "-target", "bpf", "-mcpu=v4", "-Wall"];

/// [`BASE_FLAGS`] with `-Werror`.
const FATAL_FLAGS: [&str; 7] = [
    "-O2", "-g", "-target", "bpf", "-mcpu=v4", "-Wall", "-Werror",
];

/// What a compiler warning does.
///
/// The project's own objects and user packages are built with [`Warnings::Fatal`]: a warning
/// in a program that is loaded into the kernel is a bug until shown otherwise, and a user
/// package is compiled exactly like a standard one. C chains (`hike-cchains`) are built with
/// [`Warnings::Reported`]: their warnings are returned to the caller, which shows them
/// (`eclat check` prints them), and a chain with a warning still loads, as it always has;
/// making them fatal would refuse chains users already have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warnings {
    /// `-Werror`: a warning fails the compilation.
    Fatal,
    /// Warnings are printed and the object is produced.
    Reported,
}

/// The flags of a compilation (the target, optimization, debug info and warnings), without
/// include directories, source or output.
pub fn flags(warnings: Warnings) -> &'static [&'static str] {
    match warnings {
        Warnings::Fatal => &FATAL_FLAGS,
        Warnings::Reported => &BASE_FLAGS,
    }
}

/// The compilation of the eBPF C file `source` into the object `out`: `clang` with [`flags`],
/// `-I` for each of `include_dirs` in order, then `-c source -o out`. The caller adds its
/// defines (`-D…`) and other options, which clang applies wherever they stand, and runs it.
pub fn compile_command(
    clang: &Path,
    warnings: Warnings,
    include_dirs: &[&Path],
    source: &Path,
    out: &Path,
) -> Command {
    let mut cmd = Command::new(clang);
    cmd.args(flags(warnings));
    for dir in include_dirs {
        cmd.arg("-I").arg(dir);
    }
    cmd.arg("-c").arg(source).arg("-o").arg(out);
    cmd
}

/// The directory of the C library's architecture-specific headers (`asm/types.h`, included by
/// `linux/types.h`), which `-target bpf` does not search: `/usr/include/ARCH-linux-gnu` (Debian
/// and Ubuntu's layout), for the architecture `arch` (`x86_64`, `aarch64`).
pub fn arch_include_dir(arch: &str) -> PathBuf {
    PathBuf::from(format!("/usr/include/{arch}-linux-gnu"))
}

/// No compiler was found (see [`find_clang`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no clang found: install clang 18 or newer (`make deps`) or set HIKE_CLANG")]
pub struct NoClang;

/// The compiler: `$HIKE_CLANG` if set (not checked here: running it reports a bad one), else
/// the first of [`CLANG_CANDIDATES`] that runs.
pub fn find_clang() -> Result<PathBuf, NoClang> {
    if let Some(clang) = std::env::var_os(CLANG_ENV) {
        return Ok(PathBuf::from(clang));
    }
    CLANG_CANDIDATES
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(PathBuf::from)
        .ok_or(NoClang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fatal_is_reported_plus_werror() {
        let fatal = flags(Warnings::Fatal);
        let reported = flags(Warnings::Reported);
        assert_eq!(&fatal[..reported.len()], reported);
        assert_eq!(&fatal[reported.len()..], ["-Werror"]);
    }

    #[test]
    fn a_compile_command_is_the_flags_the_includes_in_order_then_source_and_object() {
        let cmd = compile_command(
            Path::new("/usr/bin/clang"),
            Warnings::Fatal,
            &[Path::new("inc"), Path::new("/usr/include/x86_64-linux-gnu")],
            Path::new("p.bpf.c"),
            Path::new("p.bpf.o"),
        );
        assert_eq!(cmd.get_program(), "/usr/bin/clang");
        let args: Vec<_> = cmd.get_args().map(|a| a.to_str().unwrap()).collect();
        let (head, tail) = args.split_at(FATAL_FLAGS.len());
        assert_eq!(head, FATAL_FLAGS);
        assert_eq!(
            tail,
            [
                "-I",
                "inc",
                "-I",
                "/usr/include/x86_64-linux-gnu",
                "-c",
                "p.bpf.c",
                "-o",
                "p.bpf.o"
            ]
        );
    }
}
