//! User packages between the operator's catalog and a node's: [`bundle`] takes the packages
//! a script imports out of the operator's catalog (built there, with its clang) as
//! [`Package`] records naming their objects by SHA-256, and the objects; [`catalog`] gives a
//! node the standard packages and those records, with the objects fetched from etcd
//! ([`crate::objects::fetch`]), without reading a package folder or running clang.
//!
//! It moves no bytes to or from etcd ([`crate::objects`] does) and decides nothing of a
//! rollout.

use std::sync::Arc;

use eclat_catalog::prebuilt::{Prebuilt, PrebuiltExport, PrebuiltObject};
use eclat_catalog::PackageCatalog;

use crate::error::{FleetError, Result};
use crate::model::{Export, ObjectRef, Package};
use crate::objects::{digest, Objects, MAX_OBJECT_BYTES};

/// The user packages among `names` (the packages a compiled script imports from; standard
/// ones are skipped), as records and the objects they name. An object over
/// [`MAX_OBJECT_BYTES`] is refused.
pub fn bundle(catalog: &PackageCatalog, names: &[String]) -> Result<(Vec<Package>, Objects)> {
    let mut packages = Vec::new();
    let mut objects = Objects::new();
    let mut seen: Vec<&str> = Vec::new();
    for name in names {
        if seen.contains(&name.as_str()) {
            continue;
        }
        seen.push(name);
        let prebuilt = catalog.prebuilt(name).map_err(|e| FleetError::Package {
            package: name.clone(),
            message: e.to_string(),
        })?;
        let Some(p) = prebuilt else { continue };
        let mut put = |stem: &str, build: &'static str, bytes: &Arc<[u8]>| {
            check_size(&p.name, stem, build, bytes.len())?;
            let hash = digest(bytes);
            objects.insert(hash.clone(), bytes.clone());
            Ok(hash)
        };
        let mut exports = Vec::new();
        for e in &p.exports {
            let object = match &e.object {
                PrebuiltObject::Standard(stem) => ObjectRef::Standard { stem: stem.clone() },
                PrebuiltObject::User {
                    stem,
                    home,
                    xdp,
                    tc,
                } => ObjectRef::User {
                    stem: stem.clone(),
                    home: home.clone(),
                    xdp: put(stem, "xdp", xdp)?,
                    tc: tc.as_ref().map(|t| put(stem, "tc", t)).transpose()?,
                },
            };
            exports.push(Export {
                loader: e.loader,
                name: e.name.clone(),
                object,
            });
        }
        packages.push(Package {
            name: p.name.clone(),
            manifest: p.manifest.clone(),
            exports,
        });
    }
    Ok((packages, objects))
}

/// Refuses an object one etcd value cannot hold.
fn check_size(package: &str, stem: &str, build: &'static str, size: usize) -> Result<()> {
    if size > MAX_OBJECT_BYTES {
        return Err(FleetError::ObjectTooBig {
            package: package.to_owned(),
            stem: stem.to_owned(),
            build,
            size,
            max: MAX_OBJECT_BYTES,
        });
    }
    Ok(())
}

/// The standard packages and `packages`, their objects taken from `objects` (fetched and
/// checked): the catalog a node links a fleet script against. The error names the package.
pub fn catalog(
    packages: &[Package],
    objects: &Objects,
) -> std::result::Result<PackageCatalog, String> {
    let mut catalog = PackageCatalog::standard().map_err(|e| e.to_string())?;
    for p in packages {
        let get = |hash: &str| {
            objects.get(hash).cloned().ok_or_else(|| {
                format!(
                    "user package `{}`: object sha256:{hash} was not fetched",
                    p.name
                )
            })
        };
        let mut exports = Vec::new();
        for e in &p.exports {
            let object = match &e.object {
                ObjectRef::Standard { stem } => PrebuiltObject::Standard(stem.clone()),
                ObjectRef::User {
                    stem,
                    home,
                    xdp,
                    tc,
                } => PrebuiltObject::User {
                    stem: stem.clone(),
                    home: home.clone(),
                    xdp: get(xdp)?,
                    tc: tc.as_deref().map(get).transpose()?,
                },
            };
            exports.push(PrebuiltExport {
                loader: e.loader,
                name: e.name.clone(),
                object,
            });
        }
        let prebuilt = Prebuilt {
            name: p.name.clone(),
            manifest: p.manifest.clone(),
            exports,
        };
        catalog
            .add_prebuilt(&prebuilt)
            .map_err(|e| format!("user package `{}`: {e}", p.name))?;
    }
    Ok(catalog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_over_the_etcd_limit_is_refused_by_name() {
        assert!(check_size("wiz", "big", "xdp", MAX_OBJECT_BYTES).is_ok());
        let e = check_size("wiz", "big", "tc", MAX_OBJECT_BYTES + 1)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("the tc build of `big` (user package `wiz`) is 1568769 bytes: over the 1568768 bytes"),
            "{e}"
        );
    }

    #[test]
    fn standard_packages_are_not_bundled() {
        let catalog = PackageCatalog::standard().unwrap();
        let (packages, objects) = bundle(&catalog, &["net".into(), "hike_default".into()]).unwrap();
        assert!(packages.is_empty() && objects.is_empty());
        let node = super::catalog(&[], &Objects::new()).unwrap();
        assert!(node.program_entry("net", "monitor").is_some());
    }
}
