//! Compiling a fused program: the SDK's headers and the embedded program and loader sources
//! written into a private build directory, the generated C beside them, clang run with the
//! project's flags. The directory is removed after a successful build and kept (and named in
//! the error) when clang fails, so the generated C can be read; with `HIKE_FUSED_KEEP` set in
//! the environment it is kept after every build (to read the C and the object of a build that
//! worked, e.g. a benchmark's).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use hike_toolchain::{arch_include_dir, find_clang, flags, Warnings};

use crate::{FuseError, Script, Source};

/// A fused program, compiled.
#[derive(Clone, Debug)]
pub struct Fused {
    /// The ELF object: one program, [`crate::ENTRY`], and the maps of every source, named as
    /// in the interpreted objects.
    pub object: Vec<u8>,
    /// The generated C (for `--emit`-like inspection and tests).
    pub c: String,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FuseError + '_ {
    move |source| FuseError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), FuseError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    fs::write(path, bytes).map_err(io(path))
}

/// A new private directory for one build.
fn build_dir() -> Result<PathBuf, FuseError> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "hike-fused-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(io(&dir))?;
    Ok(dir)
}

/// Generates and compiles the fused program of `script`.
pub fn compile(script: &Script) -> Result<Fused, FuseError> {
    let dir = build_dir()?;
    let result = build_in(&dir, script);
    let keep = std::env::var_os("HIKE_FUSED_KEEP").is_some();
    if !keep && !matches!(result, Err(FuseError::Clang { .. })) {
        let _ = fs::remove_dir_all(&dir);
    }
    result
}

fn build_in(dir: &Path, script: &Script) -> Result<Fused, FuseError> {
    let include = dir.join("include");
    for (rel, bytes) in hike_bpf::standard::HEADERS {
        write(&include.join(rel), bytes)?;
    }
    // Every embedded source, so that a program's own headers are found beside it.
    for (rel, bytes) in hike_bpf::standard::SOURCES
        .iter()
        .chain(hike_bpf::test::SOURCES)
        .chain(hike_bpf::bench::SOURCES)
    {
        write(&dir.join(rel), bytes)?;
    }
    let mut sources = BTreeMap::new();
    let owners = script
        .programs
        .iter()
        .map(|p| (&p.name, &p.source))
        .chain([(&script.loader.name, &script.loader.source)]);
    for (owner, src) in owners {
        let path = match src {
            Source::Embedded(rel) => {
                let known = hike_bpf::standard::SOURCES
                    .iter()
                    .chain(hike_bpf::test::SOURCES)
                    .chain(hike_bpf::bench::SOURCES)
                    .any(|(r, _)| r == rel);
                if !known {
                    return Err(FuseError::NoSource {
                        owner: owner.clone(),
                        source_name: rel.clone(),
                    });
                }
                dir.join(rel)
            }
            Source::File(path) => {
                if !path.is_file() {
                    return Err(FuseError::NoSource {
                        owner: owner.clone(),
                        source_name: path.display().to_string(),
                    });
                }
                path.clone()
            }
        };
        sources.insert(src.clone(), path.display().to_string());
    }
    let c = crate::generate(script, &sources)?;
    let file = dir.join("hike_fused.c");
    write(&file, c.as_bytes())?;
    let out = dir.join("hike_fused.o");
    let clang = find_clang()?;
    let output = Command::new(&clang)
        .args(flags(Warnings::Reported))
        .arg("-I")
        .arg(&include)
        .arg("-I")
        .arg(arch_include_dir(std::env::consts::ARCH))
        .arg("-c")
        .arg(&file)
        .arg("-o")
        .arg(&out)
        .output()
        .map_err(|source| FuseError::RunClang {
            clang: clang.display().to_string(),
            source,
        })?;
    if !output.status.success() {
        return Err(FuseError::Clang {
            file,
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        });
    }
    let object = fs::read(&out).map_err(io(&out))?;
    Ok(Fused { object, c })
}
