//! User packages: folders of HIKe programs (and loaders) in C, compiled with clang on first use
//! and cached by content hash.
//!
//! A package directory (`eclat … --package-dir DIR`) holds one folder per package:
//! `DIR/PKG/*.bpf.c` and an optional `DIR/PKG/package.toml` (the format of the standard
//! manifests). Each source is compiled like the standard objects: by the clang and with the
//! flags of `hike-toolchain` (warnings are fatal), against the headers the standard objects
//! were compiled with (`hike_bpf::standard::HEADERS`). The object is stored in the cache under
//! the SHA-256 of everything that goes into it (the package's `.c` and `.h` files, the
//! headers, the flags), so an unchanged package is never compiled twice and needs no clang at
//! all.
//!
//! Only files inside `DIR/PKG` are read (a symbolic link out of it is refused), every name is a
//! plain identifier, and clang runs without a shell.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use hike_toolchain::{arch_include_dir, compile_command, find_clang, flags, Warnings};
use sha2::{Digest, Sha256};

use crate::layout::hex;
use crate::manifest::{is_identifier, Manifest};
use crate::{CatalogError, Result};

/// The warning policy of user packages: the standard objects'.
const WARNINGS: Warnings = Warnings::Fatal;

/// The headers a user package is compiled against.
fn headers() -> &'static [(&'static str, &'static [u8])] {
    hike_bpf::standard::HEADERS
}

/// One user package folder.
#[derive(Clone, Debug)]
pub struct UserPackage {
    /// Its name (the folder's).
    pub name: String,
    /// The folder (canonical).
    pub dir: PathBuf,
    /// Its manifest, if it has one.
    pub manifest: Option<Manifest>,
    /// `(stem, path)` of every `*.bpf.c`, sorted.
    pub sources: Vec<(String, PathBuf)>,
    /// SHA-256 of its `.c` and `.h` files (names and contents).
    pub digest: [u8; 32],
}

/// The packages of a package directory, sorted by name. Folders whose name is not an
/// identifier, and files directly in `dir`, are ignored.
pub fn discover(dir: &Path) -> Result<Vec<UserPackage>> {
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CatalogError::Read { path, source }
    };
    let root = dir.canonicalize().map_err(read_err(dir))?;
    let mut entries: Vec<PathBuf> = fs::read_dir(&root)
        .map_err(read_err(&root))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .map_err(read_err(&root))?;
    entries.sort();
    let mut out = Vec::new();
    for path in entries {
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if !is_identifier(&name) || !path.is_dir() {
            continue;
        }
        let pkg_dir = confined(&path, &root)?;
        out.push(read_package(name, pkg_dir)?);
    }
    Ok(out)
}

/// `path` canonicalized, if it lies inside `root` (itself canonical).
fn confined(path: &Path, root: &Path) -> Result<PathBuf> {
    let real = path.canonicalize().map_err(|source| CatalogError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if real.starts_with(root) {
        Ok(real)
    } else {
        Err(CatalogError::OutsidePackageDir {
            path: path.to_path_buf(),
            dir: root.to_path_buf(),
        })
    }
}

fn read_package(name: String, dir: PathBuf) -> Result<UserPackage> {
    let read = |path: &Path| {
        fs::read(path).map_err(|source| CatalogError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .map_err(|source| CatalogError::Read {
            path: dir.clone(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let mut hasher = Sha256::new();
    let mut sources = Vec::new();
    let mut manifest = None;
    for path in files {
        let Some(file) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if file == "package.toml" {
            let real = confined(&path, &dir)?;
            let text = String::from_utf8_lossy(&read(&real)?).into_owned();
            manifest = Some(Manifest::parse(&text, &path.display().to_string())?);
            continue;
        }
        if !(file.ends_with(".c") || file.ends_with(".h")) {
            continue;
        }
        let real = confined(&path, &dir)?;
        let bytes = read(&real)?;
        hasher.update((file.len() as u64).to_le_bytes());
        hasher.update(file.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
        if let Some(stem) = file.strip_suffix(".bpf.c") {
            if !is_identifier(stem) {
                return Err(CatalogError::BadName {
                    name: stem.to_owned(),
                    what: "object",
                    path: path.display().to_string(),
                });
            }
            sources.push((stem.to_owned(), real));
        }
    }
    Ok(UserPackage {
        name,
        dir,
        manifest,
        sources,
        digest: hasher.finalize().into(),
    })
}

/// Compiles user package sources with clang into a content-addressed cache.
#[derive(Clone, Debug)]
pub struct ObjectCache {
    dir: PathBuf,
}

impl ObjectCache {
    /// A cache in `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> ObjectCache {
        ObjectCache { dir: dir.into() }
    }

    /// The default cache: `$ECLAT_CACHE_DIR`, else `$XDG_CACHE_HOME/eclat`, else
    /// `$HOME/.cache/eclat`, else `/var/cache/eclat`.
    pub fn default_dir() -> PathBuf {
        let var = |n: &str| {
            std::env::var_os(n)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        if let Some(d) = var("ECLAT_CACHE_DIR") {
            return d;
        }
        if let Some(d) = var("XDG_CACHE_HOME") {
            return d.join("eclat");
        }
        if let Some(h) = var("HOME") {
            return h.join(".cache").join("eclat");
        }
        PathBuf::from("/var/cache/eclat")
    }

    /// Where the cache is.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The object of `source` (a `.bpf.c` of `package`) for XDP: from the cache, or compiled
    /// now.
    pub fn object(&self, package: &UserPackage, source: &Path) -> Result<Vec<u8>> {
        self.object_for(package, source, Build::Xdp)
    }

    /// The object of `source` built for `build` (at TC with `-DHIKE_CTX_TC`, as the standard
    /// objects' TC builds): from the cache, or compiled now.
    pub fn object_for(
        &self,
        package: &UserPackage,
        source: &Path,
        build: Build,
    ) -> Result<Vec<u8>> {
        let mut h = Sha256::new();
        h.update(b"eclat-user-object/1\0");
        if build == Build::Tc {
            // The XDP build's key stays what it was: caches made before TC builds still hit.
            h.update(b"tc\0");
        }
        h.update(package.digest);
        h.update(headers_digest());
        for f in flags(WARNINGS) {
            h.update(f.as_bytes());
            h.update([0]);
        }
        h.update(source.file_name().map_or(&[][..], |n| n.as_encoded_bytes()));
        let key = hex(&h.finalize());
        let objects = self.dir.join("objects");
        let path = objects.join(format!("{key}.bpf.o"));
        if let Ok(bytes) = fs::read(&path) {
            return Ok(bytes);
        }
        create_dir(&objects)?;
        let include = self.include_dir()?;
        let tmp = temp_path(&objects, &key);
        let result = compile(source, &include, &tmp, build);
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        let bytes = fs::read(&tmp).map_err(|source| CatalogError::Cache {
            path: tmp.clone(),
            source,
        })?;
        fs::rename(&tmp, &path).map_err(|source| CatalogError::Cache {
            path: path.clone(),
            source,
        })?;
        Ok(bytes)
    }

    /// The embedded headers, written once under `include/<digest>/`.
    fn include_dir(&self) -> Result<PathBuf> {
        let base = self.dir.join("include");
        let dir = base.join(hex(&headers_digest()));
        if dir.join(".complete").is_file() {
            return Ok(dir);
        }
        create_dir(&base)?;
        // Written beside, then renamed into place, so a concurrent user never sees half of it.
        let tmp = temp_path(&base, "headers");
        for (rel, bytes) in headers() {
            let path = tmp.join(rel);
            if let Some(parent) = path.parent() {
                create_dir(parent)?;
            }
            write_file(&path, bytes)?;
        }
        write_file(&tmp.join(".complete"), b"")?;
        match fs::rename(&tmp, &dir) {
            Ok(()) => Ok(dir),
            // Another process put it there first.
            Err(_) if dir.join(".complete").is_file() => {
                let _ = fs::remove_dir_all(&tmp);
                Ok(dir)
            }
            Err(source) => Err(CatalogError::Cache { path: dir, source }),
        }
    }
}

fn create_dir(path: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    // Owner-only, as every directory the tools create for themselves.
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|source| CatalogError::Cache {
            path: path.to_path_buf(),
            source,
        })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = fs::File::create(path).map_err(|source| CatalogError::Cache {
        path: path.to_path_buf(),
        source,
    })?;
    f.write_all(bytes).map_err(|source| CatalogError::Cache {
        path: path.to_path_buf(),
        source,
    })
}

/// A path in `dir` no other thread or process uses.
fn temp_path(dir: &Path, stem: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{stem}.{}.{n}.tmp", std::process::id()))
}

fn headers_digest() -> [u8; 32] {
    let mut h = Sha256::new();
    for (rel, bytes) in headers() {
        h.update(rel.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    h.finalize().into()
}

/// Which context an object is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// XDP (`xdp` sections).
    Xdp,
    /// TC (`-DHIKE_CTX_TC`: `sched_cls` programs in section `tc`, `bpf/include/hike/ctx.h`).
    Tc,
}

fn compile(source: &Path, include: &Path, out: &Path, build: Build) -> Result<()> {
    let clang = find_clang()?;
    let arch_include = arch_include_dir(std::env::consts::ARCH);
    let output = compile_command(&clang, WARNINGS, &[include, &arch_include], source, out)
        .args(match build {
            Build::Xdp => &[][..],
            Build::Tc => &["-DHIKE_CTX_TC"][..],
        })
        .output()
        .map_err(|e| CatalogError::RunClang {
            clang: clang.display().to_string(),
            source: e,
        })?;
    if output.status.success() {
        return Ok(());
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Err(
        first_error(&text).unwrap_or_else(|| CatalogError::ClangFailed {
            file: source.to_path_buf(),
            output: text.clone(),
        }),
    )
}

/// The first `FILE:LINE:COL: error: MESSAGE` line of clang's output.
fn first_error(output: &str) -> Option<CatalogError> {
    let lines: Vec<&str> = output.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some((loc, message)) = line
            .split_once(": error: ")
            .or_else(|| line.split_once(": fatal error: "))
        else {
            continue;
        };
        let mut parts = loc.rsplitn(3, ':');
        let column = parts.next()?.parse().ok()?;
        let line_no = parts.next()?.parse().ok()?;
        let file = parts.next()?.to_owned();
        return Some(CatalogError::CError {
            file,
            line: line_no,
            column,
            message: message.to_owned(),
            context: lines[i + 1..].join("\n").trim_end().to_owned(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_error_line() {
        let out = "x.c:3:1: warning: w\n/p/a.bpf.c:12:5: error: use of undeclared identifier 'y'\n";
        match first_error(out) {
            Some(CatalogError::CError {
                file,
                line,
                column,
                message,
                ..
            }) => {
                assert_eq!(
                    (file.as_str(), line, column, message.as_str()),
                    ("/p/a.bpf.c", 12, 5, "use of undeclared identifier 'y'")
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(first_error("ld: something\n").is_none());
    }
}
