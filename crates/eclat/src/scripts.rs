//! Reading scripts from disk, the chains of sibling scripts for `from chains.X import`, and
//! the catalog of program packages.
//!
//! Without a daemon, `from chains.OTHER import helper` in `dir/main.eclat` resolves against
//! `dir/OTHER.eclat`: its chains and their parameters are read from the file (its bodies are
//! not checked here; `eclat check dir/OTHER.eclat` does that).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use eclat_catalog::{ObjectCache, PackageCatalog};
use eclat_compiler::{chain_signatures, ChainCatalog, ChainSig};

/// The standard packages and those of every `--package-dir` (user packages are compiled with
/// clang on first use, into the cache of [`ObjectCache::default_dir`]).
pub fn catalog(package_dirs: &[PathBuf]) -> Result<PackageCatalog> {
    let mut catalog = PackageCatalog::standard().context("cannot read the standard packages")?;
    if !package_dirs.is_empty() {
        let cache = ObjectCache::new(ObjectCache::default_dir());
        for dir in package_dirs {
            catalog
                .add_package_dir(dir, &cache)
                .with_context(|| format!("cannot build the packages of `{}`", dir.display()))?;
        }
    }
    Ok(catalog)
}

/// A script's text, read from `path`.
pub fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))
}

/// Chains of the `*.eclat` files in one directory, read on first use.
pub struct SiblingScripts {
    dir: PathBuf,
    cache: RefCell<HashMap<String, Option<Vec<ChainSig>>>>,
}

impl SiblingScripts {
    /// The scripts beside `file`.
    pub fn beside(file: &Path) -> SiblingScripts {
        let dir = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        SiblingScripts {
            dir,
            cache: RefCell::new(HashMap::new()),
        }
    }

    fn load(&self, script: &str) -> Option<Vec<ChainSig>> {
        self.cache
            .borrow_mut()
            .entry(script.to_string())
            .or_insert_with(|| {
                let path = self.dir.join(format!("{script}.eclat"));
                std::fs::read_to_string(path)
                    .ok()
                    .map(|src| chain_signatures(&src))
            })
            .clone()
    }
}

impl ChainCatalog for SiblingScripts {
    fn has_script(&self, script: &str) -> bool {
        self.load(script).is_some()
    }

    fn chain(&self, script: &str, name: &str) -> Option<ChainSig> {
        self.load(script)?.into_iter().find(|c| c.name == name)
    }

    fn scripts_with_chain(&self, name: &str) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut scripts: Vec<String> = entries
            .filter_map(|e| {
                e.ok()?
                    .path()
                    .file_name()?
                    .to_str()?
                    .strip_suffix(".eclat")
                    .map(String::from)
            })
            .filter(|s| self.chain(s, name).is_some())
            .collect();
        scripts.sort();
        scripts
    }
}
