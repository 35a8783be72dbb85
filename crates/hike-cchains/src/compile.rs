//! Compiling a `.hike.c` file with clang.
//!
//! The compiler and flags are `hike-toolchain`'s, those of the project's eBPF objects, with one
//! difference named there: warnings are reported ([`Compiled::warnings`]), not fatal
//! ([`hike_toolchain::Warnings::Reported`]). `hike/chain.h` is self-contained, so no kernel or
//! libbpf header is needed: the copy embedded in this crate ([`CHAIN_H`], the one the loader was built
//! with) is written to a private temporary include directory, found before any directory the
//! caller adds. `-g` gives the loader line info for its messages. clang's diagnostics are
//! returned as it printed them (`FILE:LINE:COL: error: …`).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use hike_toolchain::Warnings;

use crate::error::CChainError;

/// `bpf/include/hike/chain.h`, as this crate was built with.
pub const CHAIN_H: &str = include_str!("../../../bpf/include/hike/chain.h");

/// How to run clang.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// The compiler; `None`: [`find_clang`].
    pub clang: Option<PathBuf>,
    /// More `-I` directories, after the one holding `hike/chain.h`.
    pub include_dirs: Vec<PathBuf>,
    /// `-D NAME=VALUE` definitions.
    pub defines: Vec<(String, String)>,
}

/// A compiled object and what clang said about it.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The ELF object, for [`crate::load_hike_c`].
    pub object: Vec<u8>,
    /// clang's warnings (empty if none).
    pub warnings: String,
}

/// The clang to use: `hike_toolchain::find_clang`.
pub fn find_clang() -> Result<PathBuf, CChainError> {
    Ok(hike_toolchain::find_clang()?)
}

/// Compiles the `.hike.c` file at `path`; clang's messages name it as given.
pub fn compile_file(path: &Path, opts: &CompileOptions) -> Result<Compiled, CChainError> {
    let tmp = TempDir::new()?;
    run_clang(path, None, &tmp, opts)
}

/// Compiles C source held in memory as if it were a file called `file_name` (which clang's
/// messages and the line info name; it should end in `.hike.c`).
pub fn compile_source(
    file_name: &str,
    source: &str,
    opts: &CompileOptions,
) -> Result<Compiled, CChainError> {
    let tmp = TempDir::new()?;
    let src_dir = tmp.path.join("src");
    let path = src_dir.join(file_name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    }
    fs::write(&path, source).map_err(|e| io_error(&path, e))?;
    run_clang(Path::new(file_name), Some(&src_dir), &tmp, opts)
}

fn run_clang(
    source: &Path,
    cwd: Option<&Path>,
    tmp: &TempDir,
    opts: &CompileOptions,
) -> Result<Compiled, CChainError> {
    let clang = match &opts.clang {
        Some(c) => c.clone(),
        None => find_clang()?,
    };
    let include = tmp.path.join("include");
    let header = include.join("hike");
    fs::create_dir_all(&header).map_err(|e| io_error(&header, e))?;
    let header = header.join("chain.h");
    fs::write(&header, CHAIN_H).map_err(|e| io_error(&header, e))?;
    let object = tmp.path.join("chain.o");

    let include_dirs: Vec<&Path> = std::iter::once(include.as_path())
        .chain(opts.include_dirs.iter().map(PathBuf::as_path))
        .collect();
    let mut cmd =
        hike_toolchain::compile_command(&clang, Warnings::Reported, &include_dirs, source, &object);
    // Name the embedded header `hike/chain.h` in messages and line info, not by its temporary
    // path, and files under the working directory relative to it, as given.
    cmd.arg(format!("-ffile-prefix-map={}/=", include.display()));
    let workdir = match cwd {
        Some(dir) => Some(dir.to_path_buf()),
        None => std::env::current_dir().ok(),
    };
    if let Some(dir) = workdir {
        cmd.arg(format!("-ffile-prefix-map={}=", dir.display()));
    }
    for (name, value) in &opts.defines {
        cmd.arg(format!("-D{name}={value}"));
    }
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    let output = cmd.output().map_err(|source| CChainError::ClangSpawn {
        clang: clang.clone(),
        source,
    })?;
    let diagnostics = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() {
        return Err(CChainError::Clang {
            file: source.to_path_buf(),
            diagnostics,
        });
    }
    let object = fs::read(&object).map_err(|e| io_error(&object, e))?;
    Ok(Compiled {
        object,
        warnings: diagnostics,
    })
}

fn io_error(path: &Path, source: std::io::Error) -> CChainError {
    CChainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A private directory (mode 0700: the client's sources and the objects built from them are
/// nobody else's business) under the system's temporary directory, removed on drop.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> Result<TempDir, CChainError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "hike-cchains-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        {
            use std::os::unix::fs::DirBuilderExt;
            fs::DirBuilder::new()
                .mode(0o700)
                .create(&path)
                .map_err(|e| io_error(&path, e))?;
        }
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}
