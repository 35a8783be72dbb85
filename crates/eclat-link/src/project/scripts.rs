//! Reading scripts from disk, the chains of sibling scripts for `from chains.X import`, and
//! the catalog of program packages.
//!
//! Without a daemon, `from chains.OTHER import helper` in `dir/main.eclat` resolves against
//! `dir/OTHER.eclat`: its chains and their parameters are read from the file (its bodies are
//! not checked here; `eclat check dir/OTHER.eclat` does that). Without `dir/OTHER.eclat`, it
//! resolves against the C chains of `dir/OTHER.hike.c` ([`super::cchains`]), compiled with
//! clang on first use.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use eclat_catalog::{ObjectCache, PackageCatalog};
use eclat_compiler::output::CompiledScript;
use eclat_compiler::{chain_signatures, ChainCatalog, ChainSig, Define};

use super::cchains::CFile;
use super::ProjectError;

/// The standard packages and those of every `--package-dir` (user packages are compiled with
/// clang on first use, into the cache of [`ObjectCache::default_dir`]).
pub fn catalog(package_dirs: &[PathBuf]) -> Result<PackageCatalog, ProjectError> {
    let mut catalog = PackageCatalog::standard().map_err(|e| ProjectError::StandardPackages {
        source: Box::new(e),
    })?;
    if !package_dirs.is_empty() {
        let cache = ObjectCache::new(ObjectCache::default_dir());
        for dir in package_dirs {
            catalog
                .add_package_dir(dir, &cache)
                .map_err(|e| ProjectError::PackageDir {
                    dir: dir.clone(),
                    source: Box::new(e),
                })?;
        }
    }
    Ok(catalog)
}

/// A script's text, read from `path`.
pub fn read(path: &Path) -> Result<String, ProjectError> {
    std::fs::read_to_string(path).map_err(|source| ProjectError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// What a sibling `NAME` is.
enum Sibling {
    /// `NAME.eclat`: its chains' signatures.
    Eclat(Vec<ChainSig>),
    /// `NAME.hike.c`, compiled and loaded.
    C(Rc<CFile>, Vec<ChainSig>),
}

/// Chains of the `*.eclat` scripts and `*.hike.c` files of chains in one directory, read (and
/// compiled) on first use.
///
/// `from chains.X import` resolves to `X.eclat` if it exists, else to `X.hike.c` (see
/// [`super::cchains`]).
pub struct SiblingScripts {
    dir: PathBuf,
    /// `-D NAME=VALUE` for clang.
    defines: Vec<(String, String)>,
    /// Objects of C files built elsewhere, by file name: not compiled here.
    prebuilt: super::PrebuiltC,
    cache: RefCell<HashMap<String, Option<Rc<Sibling>>>>,
    /// C files whose errors and warnings were printed.
    reported: RefCell<HashSet<PathBuf>>,
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
            defines: Vec::new(),
            prebuilt: super::PrebuiltC::new(),
            cache: RefCell::new(HashMap::new()),
            reported: RefCell::new(HashSet::new()),
        }
    }

    /// The same, C files compiled with `-D NAME=VALUE` for each define.
    pub fn with_defines(mut self, defines: &[Define]) -> SiblingScripts {
        self.defines = defines
            .iter()
            .map(|d| (d.name.clone(), d.value.clone()))
            .collect();
        self
    }

    /// The same, the C files of `prebuilt` taken from their objects there (built with the
    /// same defines) instead of compiled.
    pub fn with_prebuilt(mut self, prebuilt: &super::PrebuiltC) -> SiblingScripts {
        self.prebuilt = prebuilt.clone();
        self
    }

    /// The path of sibling file `name` (without `./` for the current directory).
    fn path(&self, name: &str) -> PathBuf {
        if self.dir == Path::new(".") {
            PathBuf::from(name)
        } else {
            self.dir.join(name)
        }
    }

    /// The path of script `script`, if it is an eCLAT script.
    pub fn eclat_path(&self, script: &str) -> Option<PathBuf> {
        match self.load(script)?.as_ref() {
            Sibling::Eclat(_) => Some(self.path(&format!("{script}.eclat"))),
            Sibling::C(..) => None,
        }
    }

    /// The file of C chains `script`, if it is one.
    pub fn c_file(&self, script: &str) -> Option<Rc<CFile>> {
        match self.load(script)?.as_ref() {
            Sibling::C(file, _) => Some(file.clone()),
            Sibling::Eclat(_) => None,
        }
    }

    /// clang's errors and warnings and the refused chain functions of the C files compiled so
    /// far that were not reported yet, to print before the diagnostics of the script that
    /// imports them.
    pub fn take_reports(&self) -> String {
        let mut out = String::new();
        let mut reported = self.reported.borrow_mut();
        let mut files: Vec<Rc<CFile>> = self
            .cache
            .borrow()
            .values()
            .filter_map(|s| match s.as_deref() {
                Some(Sibling::C(file, _)) => Some(file.clone()),
                _ => None,
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        for file in files {
            if !reported.insert(file.path.clone()) {
                continue;
            }
            out.push_str(&file.warnings);
            if let Err(e) = &file.chains {
                out.push_str(&e.details);
            }
        }
        out
    }

    fn load(&self, script: &str) -> Option<Rc<Sibling>> {
        if let Some(found) = self.cache.borrow().get(script) {
            return found.clone();
        }
        let found = if let Ok(src) = std::fs::read_to_string(self.path(&format!("{script}.eclat")))
        {
            Some(Sibling::Eclat(chain_signatures(&src)))
        } else {
            let c_name = format!("{script}.hike.c");
            let path = self.path(&c_name);
            path.is_file().then(|| {
                let file = match self.prebuilt.get(&c_name) {
                    Some(object) => CFile::from_object(&path, object),
                    None => CFile::load(&path, &self.defines),
                };
                let sigs = file.signatures();
                Sibling::C(Rc::new(file), sigs)
            })
        }
        .map(Rc::new);
        self.cache
            .borrow_mut()
            .insert(script.to_owned(), found.clone());
        found
    }

    fn sigs(&self, script: &str) -> Option<Vec<ChainSig>> {
        self.load(script).map(|s| match s.as_ref() {
            Sibling::Eclat(sigs) | Sibling::C(_, sigs) => sigs.clone(),
        })
    }
}

impl ChainCatalog for SiblingScripts {
    fn has_script(&self, script: &str) -> bool {
        self.load(script).is_some()
    }

    fn chain(&self, script: &str, name: &str) -> Option<ChainSig> {
        self.sigs(script)?.into_iter().find(|c| c.name == name)
    }

    fn chain_names(&self, script: &str) -> Vec<String> {
        self.sigs(script)
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.name)
            .collect()
    }

    fn script_error(&self, script: &str) -> Option<String> {
        match self.load(script)?.as_ref() {
            Sibling::C(file, _) => file.chains.as_ref().err().map(|e| e.reason.clone()),
            Sibling::Eclat(_) => None,
        }
    }

    /// The `.eclat` and `.hike.c` files of the directory, by name (nothing is read).
    fn script_names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut scripts: Vec<String> = entries
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                let stem = name
                    .strip_suffix(".eclat")
                    .or_else(|| name.strip_suffix(".hike.c"))?;
                Some(stem.to_owned())
            })
            .collect();
        scripts.sort();
        scripts.dedup();
        scripts
    }

    /// Only eCLAT scripts are searched (a hint is not worth compiling every C file).
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

/// The C files `script` imports chains from, as link units (name, script), each checked
/// against `catalog` (see [`super::cchains`]); errors as lines to print.
pub fn c_units(
    script: &CompiledScript,
    chains: &SiblingScripts,
    catalog: &PackageCatalog,
) -> Result<Vec<(String, CompiledScript)>, Vec<String>> {
    let mut units = Vec::new();
    let mut errors = Vec::new();
    for imported in &script.imported_chains {
        if units.iter().any(|(n, _)| *n == imported.script) {
            continue;
        }
        let Some(file) = chains.c_file(&imported.script) else {
            continue;
        };
        match file.unit(script, catalog) {
            Ok(unit) => units.push((imported.script.clone(), unit)),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(units)
    } else {
        Err(errors)
    }
}
