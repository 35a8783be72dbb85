//! Why the files of a script could not be read.

use std::error::Error as _;
use std::fmt;
use std::io;
use std::path::PathBuf;

use eclat_catalog::CatalogError;

/// A script, or the package catalog it is compiled against, could not be read.
///
/// Shown with `{}` it is one line; with `{:#}` the line and its causes, `: `-separated (the
/// form `anyhow` gives a chain), so that a caller that keeps the text (the daemon puts it in a
/// status) tells as much as the command line.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The standard packages (embedded at build time) could not be read.
    StandardPackages {
        /// Why (boxed: a catalog error is large, and rare).
        #[source]
        source: Box<CatalogError>,
    },
    /// A `--package-dir` could not be read, or one of its packages did not build.
    PackageDir {
        /// The directory.
        dir: PathBuf,
        /// Why (clang's diagnostics for a package that does not build).
        #[source]
        source: Box<CatalogError>,
    },
    /// A script could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

impl fmt::Display for ProjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProjectError::StandardPackages { .. } => {
                f.write_str("cannot read the standard packages")?
            }
            ProjectError::PackageDir { dir, .. } => {
                write!(f, "cannot build the packages of `{}`", dir.display())?
            }
            ProjectError::Read { path, .. } => write!(f, "cannot read `{}`", path.display())?,
        }
        if f.alternate() {
            let mut cause = self.source();
            while let Some(c) = cause {
                write!(f, ": {c}")?;
                cause = c.source();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alternate_form_shows_the_causes_as_anyhow_does() {
        let e = ProjectError::Read {
            path: "no-such.eclat".into(),
            source: io::Error::from_raw_os_error(2),
        };
        assert_eq!(e.to_string(), "cannot read `no-such.eclat`");
        let chained = "cannot read `no-such.eclat`: No such file or directory (os error 2)";
        assert_eq!(format!("{e:#}"), chained);
        assert_eq!(format!("{:#}", anyhow_like(&e)), chained);
    }

    /// What `anyhow`'s `{:#}` prints for an error: its `{}`, then each cause after `: `.
    fn anyhow_like(e: &dyn std::error::Error) -> String {
        let mut out = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            out += &format!(": {c}");
            cause = c.source();
        }
        out
    }
}
