//! Package manifests: `package.toml` (format: `bpf/programs/README.md`).
//!
//! ```toml
//! [package]
//! name = "net"
//! description = "one line"
//!
//! [programs]          # in a loader package: [loaders]
//! monitor = "monitor" # NAME = "OBJECT": program NAME of the object built from OBJECT.bpf.c
//!
//! [map_aliases]       # optional: other names of maps, for scripts
//! ip6_sc_map = "ipv6_sc_map"
//!
//! [about.monitor]     # optional, per exported name: what `eclat describe` shows
//! summary = "counts packets per event number"
//! returns = "0"
//! [about.ip6_sd_tbmon.config.ip6_sd_tbmon_cfg]   # a config map: what a 0 field stands for
//! rate = 10000
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{CatalogError, Result};

/// A parsed manifest.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// `[package]`.
    #[serde(default)]
    pub package: PackageInfo,
    /// `[programs]`: exported name → object stem.
    #[serde(default)]
    pub programs: BTreeMap<String, String>,
    /// `[loaders]`: exported name → object stem.
    #[serde(default)]
    pub loaders: BTreeMap<String, String>,
    /// `[map_aliases]`: another name a script may use → a map of this package's programs or
    /// loaders (`ip6_sc_map = "ipv6_sc_map"`, the paper's spelling).
    #[serde(default)]
    pub map_aliases: BTreeMap<String, String>,
    /// `[about.NAME]`: what people are told of an exported program or loader, which its object
    /// cannot say (the catalog checks it against the object: [`crate::PackageCatalog`]).
    #[serde(default)]
    pub about: BTreeMap<String, About>,
}

/// `[about.NAME]` of a manifest: the words for a program or loader, and the defaults its C
/// code applies to a config map's zero fields.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct About {
    /// One line: what it does.
    #[serde(default)]
    pub summary: Option<String>,
    /// What it returns to the chain (a non-terminal program), in words.
    #[serde(default)]
    pub returns: Option<String>,
    /// `[about.NAME.config.MAP]`: per config map, the value each field's 0 stands for (the
    /// C code's `#ifndef` defaults; a test compares them with the sources).
    #[serde(default)]
    pub config: BTreeMap<String, BTreeMap<String, u64>>,
}

/// `[package]` of a manifest.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PackageInfo {
    /// The package name (the folder's).
    #[serde(default)]
    pub name: Option<String>,
    /// One line about it.
    #[serde(default)]
    pub description: Option<String>,
}

impl Manifest {
    /// Parses and checks a manifest: every exported name and object stem must be a plain
    /// identifier. `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Manifest> {
        let m: Manifest = toml::from_str(text).map_err(|source| CatalogError::Manifest {
            path: path.to_owned(),
            source,
        })?;
        for (name, object) in m.programs.iter().chain(&m.loaders) {
            check_name(name, "program", path)?;
            check_name(object, "object", path)?;
        }
        if let Some(name) = m
            .about
            .keys()
            .find(|n| !m.programs.contains_key(*n) && !m.loaders.contains_key(*n))
        {
            return Err(CatalogError::AboutNotExported {
                name: name.clone(),
                path: path.to_owned(),
            });
        }
        Ok(m)
    }
}

/// Whether `name` is a plain identifier: ASCII letters, digits and `_`, not starting with a
/// digit. Package, program and object names must be, so that none can name a path.
pub fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// Fails unless `name` [`is_identifier`].
pub(crate) fn check_name(name: &str, what: &'static str, path: &str) -> Result<()> {
    if is_identifier(name) {
        Ok(())
    } else {
        Err(CatalogError::BadName {
            name: name.to_owned(),
            what,
            path: path.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_and_rejects_paths() {
        let m = Manifest::parse(
            "[package]\nname = \"p\"\n[programs]\na = \"b\" # comment\n",
            "p/package.toml",
        )
        .unwrap();
        assert_eq!(m.programs["a"], "b");
        assert!(m.loaders.is_empty());
        let err = Manifest::parse("[programs]\na = \"../x\"\n", "m").unwrap_err();
        assert!(
            matches!(err, CatalogError::BadName { what: "object", .. }),
            "{err}"
        );
        let err = Manifest::parse("[progs]\n", "m").unwrap_err();
        assert!(matches!(err, CatalogError::Manifest { .. }), "{err}");
    }
}
