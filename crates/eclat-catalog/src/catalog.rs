//! [`PackageCatalog`]: the packages a script imports from, built from manifests and objects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use eclat_compiler::catalog::{Catalog, LoaderSig, PackageTable, ProgramSig};
use hike_isa::abi::tags;
use sha2::{Digest, Sha256};

use crate::hook::Hook;
use crate::layout::{hex, MapLayout};
use crate::manifest::{About, Manifest};
use crate::object::{inspect_object, ObjectInfo};
use crate::prebuilt::{Prebuilt, PrebuiltExport, PrebuiltObject};
use crate::user::{discover, ObjectCache, UserPackage};
use crate::{embedded, CatalogError, Result};

/// An object of the catalog, by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(usize);

/// Where an object comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Built from `bpf/` with the workspace (`hike_bpf::standard`); the path is the source,
    /// relative to the repository.
    Standard(&'static str),
    /// Compiled from a user package source (the canonical path).
    User(PathBuf),
}

/// A compiled object and what it declares.
#[derive(Clone, Debug)]
pub struct ObjectEntry {
    /// Its name: the source file name without `.bpf.c`.
    pub name: String,
    /// Where it comes from.
    pub origin: Origin,
    /// The ELF bytes.
    pub bytes: Arc<[u8]>,
    /// SHA-256 of `bytes`, in hex: two builds of an object of one name (a package whose source
    /// changed) differ here, which is how the daemon tells a loaded program from its new code.
    pub digest: String,
    /// Its programs and maps.
    pub info: ObjectInfo,
    /// The same source built for TC (`-DHIKE_CTX_TC`), if there is one: the object loaded for
    /// the hooks `tc_ingress` and `tc_egress`. The standard objects and user packages' all
    /// have one.
    pub tc: Option<TcBuild>,
}

/// An object's TC build.
#[derive(Clone, Debug)]
pub struct TcBuild {
    /// The ELF bytes.
    pub bytes: Arc<[u8]>,
    /// SHA-256 of `bytes`, in hex.
    pub digest: String,
    /// The hooks its programs work at, by program name (from their ELF sections).
    pub sections: BTreeMap<String, String>,
}

impl ObjectEntry {
    /// The bytes to load for `hook`: the XDP build, or the TC build (None if there is none).
    pub fn bytes_for(&self, hook: Hook) -> Option<&Arc<[u8]>> {
        if hook.is_tc() {
            self.tc.as_ref().map(|t| &t.bytes)
        } else {
            Some(&self.bytes)
        }
    }

    /// The digest of the build for `hook` (as [`ObjectEntry::bytes_for`]).
    pub fn digest_for(&self, hook: Hook) -> Option<&str> {
        if hook.is_tc() {
            self.tc.as_ref().map(|t| t.digest.as_str())
        } else {
            Some(&self.digest)
        }
    }

    /// The hooks program `name` of this object works at: its XDP build's and its TC build's.
    pub fn hooks_of(&self, name: &str) -> Vec<Hook> {
        let mut hooks: Vec<Hook> = self
            .info
            .program(name)
            .map(|p| Hook::of_section(&p.section).to_vec())
            .unwrap_or_default();
        if let Some(section) = self.tc.as_ref().and_then(|t| t.sections.get(name)) {
            hooks.extend_from_slice(Hook::of_section(section));
        }
        hooks.sort();
        hooks.dedup();
        hooks
    }
}

/// A program a package exports.
#[derive(Clone, Debug)]
pub struct ProgramEntry {
    /// The compiler's view (`home` is the package whose folder has the source).
    pub sig: ProgramSig,
    /// The object that has it (its program of the same name).
    pub object: ObjectId,
    /// Every map of its object (the shared VM maps excluded), configurable or not.
    pub maps: Vec<MapLayout>,
    /// The hooks it works at (from its ELF section).
    pub hooks: Vec<Hook>,
    /// What its manifest says of it (`[about.NAME]`; empty if nothing), checked against its
    /// maps.
    pub about: About,
}

/// A loader a package exports.
#[derive(Clone, Debug)]
pub struct LoaderEntry {
    /// The compiler's view.
    pub sig: LoaderSig,
    /// The object that has it (its program of the same name).
    pub object: ObjectId,
    /// Every map of its object (the shared VM maps excluded).
    pub maps: Vec<MapLayout>,
    /// The hooks it works at (from its ELF section).
    pub hooks: Vec<Hook>,
    /// What its manifest says of it (`[about.NAME]`; empty if nothing), checked against its
    /// maps.
    pub about: About,
}

/// Where a package was found, for messages about duplicates.
#[derive(Clone, Debug)]
enum PackageOrigin {
    Standard,
    User(PathBuf),
    /// Added built ([`PackageCatalog::add_prebuilt`]): a fleet's.
    Prebuilt,
}

impl std::fmt::Display for PackageOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PackageOrigin::Standard => f.write_str("a standard package"),
            PackageOrigin::User(d) => write!(f, "in `{}`", d.display()),
            PackageOrigin::Prebuilt => f.write_str("a prebuilt package of the fleet"),
        }
    }
}

/// Which exports a package section lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Program,
    Loader,
}

/// The program and loader packages a script can import, with their objects: the standard
/// packages (`bpf/programs`, `bpf/loaders`, embedded at build time) and any user package
/// directories added with [`PackageCatalog::add_package_dir`].
///
/// Everything the compiler is told comes from the objects: parameters from the `hike_params`
/// BTF tag, terminal programs from their code (no tail call: see
/// [`crate::object::ProgramDecl::tail_calls`]), maps and their key and value layouts from the
/// BTF of the `.maps` section. Manifests say which names a package exports.
#[derive(Clone, Debug)]
pub struct PackageCatalog {
    objects: Vec<ObjectEntry>,
    programs: BTreeMap<String, BTreeMap<String, ProgramEntry>>,
    loaders: BTreeMap<String, BTreeMap<String, LoaderEntry>>,
    origins: BTreeMap<(String, bool), PackageOrigin>,
    /// User packages that did not build, with why (clang's diagnostics): reported to a script
    /// that imports them, and only to such a script.
    broken: BTreeMap<String, String>,
    /// `[package] description` of each manifest, by (package, is a loader package).
    descriptions: BTreeMap<(String, bool), String>,
}

impl PackageCatalog {
    /// The standard packages.
    pub fn standard() -> Result<PackageCatalog> {
        let mut cat = PackageCatalog {
            objects: Vec::new(),
            programs: BTreeMap::new(),
            loaders: BTreeMap::new(),
            origins: BTreeMap::new(),
            broken: BTreeMap::new(),
            descriptions: BTreeMap::new(),
        };
        for (kind, package, text) in embedded::MANIFESTS {
            let path = format!("bpf/{kind}/{package}/package.toml");
            let manifest = Manifest::parse(text, &path)?;
            let kind = if *kind == "loaders" {
                Kind::Loader
            } else {
                Kind::Program
            };
            let exports = match kind {
                Kind::Program => &manifest.programs,
                Kind::Loader => &manifest.loaders,
            };
            for (name, stem) in exports {
                let id = cat.standard_object(package, name, stem)?;
                let about = manifest.about.get(name);
                cat.export(kind, package, name, id, &manifest.map_aliases, about)?;
            }
            cat.origins.insert(
                (package.to_string(), kind == Kind::Loader),
                PackageOrigin::Standard,
            );
            if let Some(d) = &manifest.package.description {
                cat.descriptions
                    .insert((package.to_string(), kind == Kind::Loader), d.clone());
            }
        }
        cat.share_abouts();
        Ok(cat)
    }

    /// A program re-exported without `[about]` (by `net`, `mynet`) is told of as its home
    /// package tells of it: the same (object, name) is the same program.
    fn share_abouts(&mut self) {
        let mut known: BTreeMap<(ObjectId, String), About> = BTreeMap::new();
        for p in self.programs.values().flat_map(BTreeMap::values) {
            if p.about != About::default() {
                known
                    .entry((p.object, p.sig.name.clone()))
                    .or_insert_with(|| p.about.clone());
            }
        }
        for p in self.programs.values_mut().flat_map(BTreeMap::values_mut) {
            if p.about == About::default() {
                if let Some(a) = known.get(&(p.object, p.sig.name.clone())) {
                    p.about = a.clone();
                }
            }
        }
    }

    /// The object `stem` of the workspace, added once.
    fn standard_object(&mut self, package: &str, name: &str, stem: &str) -> Result<ObjectId> {
        if let Some(i) = self
            .objects
            .iter()
            .position(|o| o.name == stem && matches!(o.origin, Origin::Standard(_)))
        {
            return Ok(ObjectId(i));
        }
        let obj = hike_bpf::standard::OBJECTS
            .iter()
            .find(|o| o.name == stem)
            .ok_or_else(|| CatalogError::NoObject {
                package: package.to_owned(),
                name: name.to_owned(),
                object: stem.to_owned(),
            })?;
        let id = self.add_object(stem, Origin::Standard(obj.source), Arc::from(obj.bytes))?;
        if !obj.tc_bytes.is_empty() {
            self.set_tc_build(id, stem, Arc::from(obj.tc_bytes))?;
        }
        Ok(id)
    }

    /// Gives object `id` its TC build.
    fn set_tc_build(&mut self, id: ObjectId, stem: &str, bytes: Arc<[u8]>) -> Result<()> {
        let info = inspect_object(&bytes).map_err(|source| CatalogError::Inspect {
            object: format!("{stem} (tc)"),
            source,
        })?;
        let sections = info
            .programs
            .iter()
            .map(|p| (p.name.clone(), p.section.clone()))
            .collect();
        self.objects[id.0].tc = Some(TcBuild {
            digest: hex(&Sha256::digest(&bytes)),
            bytes,
            sections,
        });
        Ok(())
    }

    fn add_object(&mut self, stem: &str, origin: Origin, bytes: Arc<[u8]>) -> Result<ObjectId> {
        let info = inspect_object(&bytes).map_err(|source| CatalogError::Inspect {
            object: stem.to_owned(),
            source,
        })?;
        let digest = hex(&Sha256::digest(&bytes));
        self.objects.push(ObjectEntry {
            name: stem.to_owned(),
            origin,
            bytes,
            digest,
            info,
            tc: None,
        });
        Ok(ObjectId(self.objects.len() - 1))
    }

    /// Adds `name` of object `id` to package `package`.
    fn export(
        &mut self,
        kind: Kind,
        package: &str,
        name: &str,
        id: ObjectId,
        aliases: &BTreeMap<String, String>,
        about: Option<&About>,
    ) -> Result<()> {
        let obj = &self.objects[id.0];
        let loader = kind == Kind::Loader;
        let maps: Vec<MapLayout> = obj
            .info
            .own_maps()
            .map(|m| {
                let names = aliases
                    .iter()
                    .filter(|(_, target)| **target == m.name)
                    .map(|(alias, _)| alias.clone())
                    .collect();
                MapLayout::from_decl(m, loader, names)
            })
            .collect();
        let about = about.cloned().unwrap_or_default();
        check_config_defaults(package, name, &about, &maps)?;
        let hooks = obj.hooks_of(name);
        let mut sigs: Vec<_> = maps.iter().filter_map(MapLayout::sig).collect();
        sigs.sort_by(|a, b| a.name.cmp(&b.name));
        let not_exported = |what, tag| CatalogError::NotExported {
            package: package.to_owned(),
            name: name.to_owned(),
            object: obj.name.clone(),
            what,
            tag,
        };
        match kind {
            Kind::Program => {
                let decl = obj
                    .info
                    .program(name)
                    .filter(|p| p.hike_params.is_some())
                    .ok_or_else(|| not_exported("HIKe program", tags::PROG))?;
                let sig = ProgramSig {
                    name: name.to_owned(),
                    home: home_package(&obj.origin).unwrap_or_else(|| package.to_owned()),
                    params: decl.hike_params.clone().unwrap_or_default(),
                    terminal: !decl.tail_calls,
                    maps: sigs,
                };
                self.programs.entry(package.to_owned()).or_default().insert(
                    name.to_owned(),
                    ProgramEntry {
                        sig,
                        object: id,
                        maps,
                        hooks,
                        about,
                    },
                );
            }
            Kind::Loader => {
                obj.info
                    .program(name)
                    .filter(|p| p.is_loader)
                    .ok_or_else(|| not_exported("loader", tags::LOADER))?;
                let sig = LoaderSig {
                    name: name.to_owned(),
                    package: package.to_owned(),
                    maps: sigs,
                };
                self.loaders.entry(package.to_owned()).or_default().insert(
                    name.to_owned(),
                    LoaderEntry {
                        sig,
                        object: id,
                        maps,
                        hooks,
                        about,
                    },
                );
            }
        }
        Ok(())
    }

    /// Adds the packages of a user package directory (`DIR/PKG/*.bpf.c`, optional
    /// `DIR/PKG/package.toml`), compiling their sources through `cache` (only what changed
    /// since the last time is compiled). A package without a manifest exports every
    /// `X.bpf.c` that defines a HIKe program `X` (or a loader `X`) under that name; a manifest
    /// names objects of this directory first, then standard objects.
    ///
    /// A package may not have the name of one that already exists.
    ///
    /// A package that does not build (a clang error, an object that does not declare what it
    /// exports, a duplicate name) is left out and recorded with its error
    /// ([`PackageCatalog::broken_package`]): it fails only the scripts that import it. Only a
    /// directory that cannot be read at all is an error here.
    pub fn add_package_dir(&mut self, dir: &Path, cache: &ObjectCache) -> Result<()> {
        let packages = discover(dir)?;
        // Compile and inspect every source of the directory first: manifests may name any.
        let mut local: BTreeMap<String, ObjectId> = BTreeMap::new();
        let mut built = Vec::new();
        for p in &packages {
            match self.build_user_package(p, cache) {
                Ok(objects) => {
                    for (stem, id) in objects {
                        local.entry(stem).or_insert(id);
                    }
                    built.push(p);
                }
                Err(e) => self.mark_broken(&p.name, &e),
            }
        }
        for p in built {
            if let Err(e) = self.add_user_package(p, dir, &local) {
                self.forget_package(p);
                self.mark_broken(&p.name, &e);
            }
        }
        self.share_abouts();
        Ok(())
    }

    /// Compiles (or takes from the cache) and inspects every source of `p`.
    fn build_user_package(
        &mut self,
        p: &UserPackage,
        cache: &ObjectCache,
    ) -> Result<Vec<(String, ObjectId)>> {
        let mut objects = Vec::new();
        for (stem, path) in &p.sources {
            let bytes = cache.object(p, path)?;
            let id = self.add_object(stem, Origin::User(path.clone()), Arc::from(bytes))?;
            // The same source for TC, as the standard objects: a wizard's program needs no
            // change to run at tc_ingress or tc_egress.
            let tc = cache.object_for(p, path, crate::user::Build::Tc)?;
            self.set_tc_build(id, stem, Arc::from(tc))?;
            objects.push((stem.clone(), id));
        }
        Ok(objects)
    }

    /// Records that package `name` did not build, with the whole error (clang's output).
    fn mark_broken(&mut self, name: &str, e: &CatalogError) {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        self.broken.insert(name.to_owned(), text);
    }

    /// Removes what user package `p`, failed half-way, exported (and nothing of a package of
    /// the same name from elsewhere).
    fn forget_package(&mut self, p: &UserPackage) {
        let ours = |o: &PackageOrigin| matches!(o, PackageOrigin::User(d) if *d == p.dir);
        for loader in [false, true] {
            let key = (p.name.clone(), loader);
            if self.origins.get(&key).is_some_and(ours) {
                self.origins.remove(&key);
                if loader {
                    self.loaders.remove(&p.name);
                } else {
                    self.programs.remove(&p.name);
                }
            }
        }
    }

    /// Why user package `name` is not in the catalog, if it did not build: the error, with
    /// clang's diagnostics.
    pub fn broken_package(&self, name: &str) -> Option<&str> {
        self.broken.get(name).map(String::as_str)
    }

    /// The user packages that did not build, by name.
    pub fn broken_packages(&self) -> impl Iterator<Item = (&str, &str)> {
        self.broken.iter().map(|(n, e)| (n.as_str(), e.as_str()))
    }

    fn add_user_package(
        &mut self,
        p: &UserPackage,
        dir: &Path,
        local: &BTreeMap<String, ObjectId>,
    ) -> Result<()> {
        let mut exports: Vec<(Kind, String, ObjectId)> = Vec::new();
        let aliases = p
            .manifest
            .as_ref()
            .map(|m| m.map_aliases.clone())
            .unwrap_or_default();
        let abouts = p
            .manifest
            .as_ref()
            .map(|m| m.about.clone())
            .unwrap_or_default();
        match &p.manifest {
            Some(m) => {
                for (kind, list) in [(Kind::Program, &m.programs), (Kind::Loader, &m.loaders)] {
                    for (name, stem) in list {
                        let id = match local.get(stem) {
                            Some(id) => *id,
                            None => self.standard_object(&p.name, name, stem)?,
                        };
                        exports.push((kind, name.clone(), id));
                    }
                }
            }
            None => {
                for (stem, _) in &p.sources {
                    let id = local[stem];
                    match self.objects[id.0].info.program(stem) {
                        Some(d) if d.hike_params.is_some() => {
                            exports.push((Kind::Program, stem.clone(), id))
                        }
                        Some(d) if d.is_loader => exports.push((Kind::Loader, stem.clone(), id)),
                        _ => {}
                    }
                }
            }
        }
        for kind in [Kind::Program, Kind::Loader] {
            if !exports.iter().any(|(k, _, _)| *k == kind) {
                continue;
            }
            let key = (p.name.clone(), kind == Kind::Loader);
            if let Some(existing) = self.origins.get(&key) {
                return Err(CatalogError::DuplicatePackage {
                    package: p.name.clone(),
                    dir: dir.to_path_buf(),
                    existing: existing.to_string(),
                });
            }
            self.origins
                .insert(key.clone(), PackageOrigin::User(p.dir.clone()));
            if let Some(d) = p
                .manifest
                .as_ref()
                .and_then(|m| m.package.description.clone())
            {
                self.descriptions.insert(key, d);
            }
        }
        for (kind, name, id) in exports {
            self.export(kind, &p.name, &name, id, &aliases, abouts.get(&name))?;
        }
        Ok(())
    }

    /// User package `name` as built objects, for a node that has neither its folder nor
    /// clang (`eclat fleet apply`): `None` if it is not a user package that built. Its
    /// manifest is read again from its folder (for `[about]`, `[map_aliases]` and the
    /// description only).
    pub fn prebuilt(&self, name: &str) -> Result<Option<Prebuilt>> {
        let dir = [false, true]
            .iter()
            .find_map(|l| self.user_package_dir(name, *l))
            .map(Path::to_path_buf);
        let Some(dir) = dir else {
            return Ok(None);
        };
        let manifest_path = dir.join("package.toml");
        let manifest = match std::fs::read_to_string(&manifest_path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(CatalogError::Read {
                    path: manifest_path,
                    source,
                })
            }
        };
        let object = |id: ObjectId| {
            let o = &self.objects[id.0];
            match &o.origin {
                Origin::Standard(_) => PrebuiltObject::Standard(o.name.clone()),
                Origin::User(_) => PrebuiltObject::User {
                    stem: o.name.clone(),
                    home: home_package(&o.origin).unwrap_or_else(|| name.to_owned()),
                    xdp: o.bytes.clone(),
                    tc: o.tc.as_ref().map(|t| t.bytes.clone()),
                },
            }
        };
        let mut exports: Vec<PrebuiltExport> = Vec::new();
        if self.user_package_dir(name, false).is_some() {
            for (n, e) in self.programs_in(name) {
                exports.push(PrebuiltExport {
                    loader: false,
                    name: n.to_owned(),
                    object: object(e.object),
                });
            }
        }
        if self.user_package_dir(name, true).is_some() {
            for (n, e) in self.loaders_in(name) {
                exports.push(PrebuiltExport {
                    loader: true,
                    name: n.to_owned(),
                    object: object(e.object),
                });
            }
        }
        Ok(Some(Prebuilt {
            name: name.to_owned(),
            manifest,
            exports,
        }))
    }

    /// Adds a package built elsewhere ([`PackageCatalog::prebuilt`]): its objects are
    /// inspected as any (their programs, maps and parameters come from them), and nothing is
    /// compiled or read from disk. A package may not have the name of one that already
    /// exists.
    pub fn add_prebuilt(&mut self, p: &Prebuilt) -> Result<()> {
        let manifest = p
            .manifest
            .as_deref()
            .map(|text| Manifest::parse(text, &format!("{}/package.toml (prebuilt)", p.name)))
            .transpose()?;
        let mut added: Vec<(Kind, &str, ObjectId)> = Vec::new();
        // One object per build: two exports of one source share it, as from a folder.
        let mut built: Vec<(&PrebuiltObject, ObjectId)> = Vec::new();
        for e in &p.exports {
            let kind = if e.loader {
                Kind::Loader
            } else {
                Kind::Program
            };
            let id = match built.iter().find(|(o, _)| *o == &e.object) {
                Some((_, id)) => *id,
                None => {
                    let id = match &e.object {
                        PrebuiltObject::Standard(stem) => {
                            self.standard_object(&p.name, &e.name, stem)?
                        }
                        PrebuiltObject::User {
                            stem,
                            home,
                            xdp,
                            tc,
                        } => {
                            let origin = Origin::User(
                                PathBuf::from("<prebuilt>")
                                    .join(home)
                                    .join(format!("{stem}.bpf.c")),
                            );
                            let id = self.add_object(stem, origin, xdp.clone())?;
                            if let Some(tc) = tc {
                                self.set_tc_build(id, stem, tc.clone())?;
                            }
                            id
                        }
                    };
                    built.push((&e.object, id));
                    id
                }
            };
            added.push((kind, &e.name, id));
        }
        for kind in [Kind::Program, Kind::Loader] {
            if !added.iter().any(|(k, _, _)| *k == kind) {
                continue;
            }
            let key = (p.name.clone(), kind == Kind::Loader);
            if let Some(existing) = self.origins.get(&key) {
                return Err(CatalogError::DuplicatePackage {
                    package: p.name.clone(),
                    dir: PathBuf::from("<prebuilt>"),
                    existing: existing.to_string(),
                });
            }
            self.origins.insert(key.clone(), PackageOrigin::Prebuilt);
            if let Some(d) = manifest
                .as_ref()
                .and_then(|m| m.package.description.clone())
            {
                self.descriptions.insert(key, d);
            }
        }
        let aliases = manifest
            .as_ref()
            .map(|m| m.map_aliases.clone())
            .unwrap_or_default();
        for (kind, name, id) in added {
            let about = manifest.as_ref().and_then(|m| m.about.get(name));
            self.export(kind, &p.name, name, id, &aliases, about)?;
        }
        self.share_abouts();
        Ok(())
    }

    /// The program `name` of `package`.
    pub fn program_entry(&self, package: &str, name: &str) -> Option<&ProgramEntry> {
        self.programs.get(package)?.get(name)
    }

    /// The loader `name` of `package`.
    pub fn loader_entry(&self, package: &str, name: &str) -> Option<&LoaderEntry> {
        self.loaders.get(package)?.get(name)
    }

    /// The programs package `package` exports, by name.
    pub fn programs_in(&self, package: &str) -> Vec<(&str, &ProgramEntry)> {
        self.programs
            .get(package)
            .map(|m| m.iter().map(|(n, e)| (n.as_str(), e)).collect())
            .unwrap_or_default()
    }

    /// The loaders loader package `package` exports, by name.
    pub fn loaders_in(&self, package: &str) -> Vec<(&str, &LoaderEntry)> {
        self.loaders
            .get(package)
            .map(|m| m.iter().map(|(n, e)| (n.as_str(), e)).collect())
            .unwrap_or_default()
    }

    /// The `[package] description` of a program package (`loader` false) or loader package.
    pub fn description(&self, package: &str, loader: bool) -> Option<&str> {
        self.descriptions
            .get(&(package.to_owned(), loader))
            .map(String::as_str)
    }

    /// The folder of a user package (`None` for a standard package, or no such package).
    pub fn user_package_dir(&self, package: &str, loader: bool) -> Option<&Path> {
        match self.origins.get(&(package.to_owned(), loader)) {
            Some(PackageOrigin::User(dir)) => Some(dir),
            _ => None,
        }
    }

    /// An object.
    pub fn object(&self, id: ObjectId) -> &ObjectEntry {
        &self.objects[id.0]
    }

    /// Every program entry once per (object, program), whatever packages export it.
    pub fn all_programs(&self) -> Vec<&ProgramEntry> {
        let mut seen = BTreeMap::new();
        for progs in self.programs.values() {
            for p in progs.values() {
                seen.entry((p.object, p.sig.name.clone())).or_insert(p);
            }
        }
        seen.into_values().collect()
    }

    /// Every loader entry.
    pub fn all_loaders(&self) -> Vec<&LoaderEntry> {
        self.loaders.values().flat_map(|m| m.values()).collect()
    }

    /// What the compiler is told, as data: every package with the signatures it exports
    /// (the objects left out). The compiler's tests read the standard catalog's table from a
    /// snapshot (`crates/eclat-compiler/tests/standard_catalog.json`).
    pub fn table(&self) -> PackageTable {
        let mut table = PackageTable::new();
        for (package, programs) in &self.programs {
            for entry in programs.values() {
                table.add_program(package.clone(), entry.sig.clone());
            }
        }
        for entry in self.all_loaders() {
            table.add_loader(entry.sig.clone());
        }
        table
    }
}

/// Fails unless every `[about.NAME.config.MAP]` names a map of the object whose value has the
/// fields named (each a number).
fn check_config_defaults(
    package: &str,
    name: &str,
    about: &About,
    maps: &[MapLayout],
) -> Result<()> {
    use eclat_compiler::catalog::FieldKind;
    for (map, defaults) in &about.config {
        let bad = |problem: String| CatalogError::BadConfigDefault {
            package: package.to_owned(),
            name: name.to_owned(),
            map: map.clone(),
            problem,
        };
        let Some(layout) = maps.iter().find(|m| m.is_called(map)) else {
            let names: Vec<&str> = maps.iter().map(|m| m.name.as_str()).collect();
            return Err(bad(format!(
                "the object has no map `{map}`; its maps: {}",
                names.join(", ")
            )));
        };
        let fields = layout.value.fields.as_deref().unwrap_or_default();
        for field in defaults.keys() {
            if !fields
                .iter()
                .any(|f| &f.name == field && matches!(f.kind, FieldKind::Int(_)))
            {
                let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                return Err(bad(format!(
                    "its value has no number field `{field}`; its fields: {}",
                    names.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// The package folder of a source: `bpf/programs/hike_default/monitor.bpf.c` →
/// `hike_default`.
fn home_package(origin: &Origin) -> Option<String> {
    let path = match origin {
        Origin::Standard(p) => Path::new(p),
        Origin::User(p) => p.as_path(),
    };
    path.parent()?.file_name()?.to_str().map(str::to_owned)
}

impl Catalog for PackageCatalog {
    fn program_packages(&self) -> Vec<String> {
        self.programs.keys().cloned().collect()
    }

    fn program(&self, package: &str, name: &str) -> Option<&ProgramSig> {
        self.program_entry(package, name).map(|e| &e.sig)
    }

    fn loader_packages(&self) -> Vec<String> {
        self.loaders.keys().cloned().collect()
    }

    fn loader(&self, package: &str, name: &str) -> Option<&LoaderSig> {
        self.loader_entry(package, name).map(|e| &e.sig)
    }

    fn program_names(&self, package: &str) -> Vec<String> {
        self.programs
            .get(package)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn loader_names(&self, package: &str) -> Vec<String> {
        self.loaders
            .get(package)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// A user package that did not build, unless a package of that name is in the catalog
    /// (a user package named like a standard one is refused, and the standard one stays
    /// importable).
    fn package_error(&self, package: &str) -> Option<String> {
        if self.programs.contains_key(package) || self.loaders.contains_key(package) {
            return None;
        }
        self.broken_package(package).map(str::to_owned)
    }
}
