//! The catalog's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while building a catalog or compiling a user package.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// A manifest is not valid TOML or does not have the manifest's shape.
    #[error("manifest `{path}` is invalid")]
    Manifest {
        /// The manifest (`bpf/programs/net/package.toml`, or a user package's).
        path: String,
        /// What the TOML parser said.
        #[source]
        source: toml::de::Error,
    },

    /// A name in a manifest or a package folder that is not a plain identifier (letters,
    /// digits, `_`): it could name a file outside the package.
    #[error("`{name}` in `{path}` is not a valid {what} name: use letters, digits and `_`")]
    BadName {
        /// The name.
        name: String,
        /// `package`, `program` or `object`.
        what: &'static str,
        /// Where it was found.
        path: String,
    },

    /// `[about.NAME]` of a manifest names something the manifest does not export.
    #[error("`[about.{name}]` in `{path}`: the manifest exports no `{name}` (list it under [programs] or [loaders])")]
    AboutNotExported {
        /// The name.
        name: String,
        /// The manifest.
        path: String,
    },

    /// `[about.NAME.config.MAP]` names a map or field that the object does not have.
    #[error("`[about.{name}.config.{map}]` in the manifest of `{package}`: {problem}")]
    BadConfigDefault {
        /// The package.
        package: String,
        /// The exported name.
        name: String,
        /// The map.
        map: String,
        /// What is wrong, with what there is.
        problem: String,
    },

    /// A manifest names an object that no package provides.
    #[error(
        "`{package}.{name}` names object `{object}`, which no package has (no `{object}.bpf.c`)"
    )]
    NoObject {
        /// The package.
        package: String,
        /// The exported name.
        name: String,
        /// The object stem.
        object: String,
    },

    /// An object could not be read (not an eBPF ELF, broken BTF).
    #[error("cannot read object `{object}`")]
    Inspect {
        /// The object.
        object: String,
        /// What is wrong with it.
        #[source]
        source: crate::object::ObjectError,
    },

    /// An exported name is not a HIKe program (or loader) of its object.
    #[error(
        "`{package}.{name}`: object `{object}` has no {what} `{name}` (a function tagged `{tag}`)"
    )]
    NotExported {
        /// The package.
        package: String,
        /// The exported name.
        name: String,
        /// The object.
        object: String,
        /// `HIKe program` or `loader`.
        what: &'static str,
        /// The BTF tag looked for.
        tag: &'static str,
    },

    /// A user package has the name of a standard package, or of a package of another
    /// `--package-dir`.
    #[error("package `{package}` of `{}` already exists ({existing})", dir.display())]
    DuplicatePackage {
        /// The package.
        package: String,
        /// The user directory.
        dir: PathBuf,
        /// Where the first one comes from.
        existing: String,
    },

    /// A file of a user package could not be read, or resolves outside its package folder.
    #[error("cannot read `{}`", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },

    /// A path that resolves outside the package directory (a symbolic link out of it).
    #[error("`{}` is outside the package directory `{}`", path.display(), dir.display())]
    OutsidePackageDir {
        /// The path.
        path: PathBuf,
        /// The package directory.
        dir: PathBuf,
    },

    /// No clang was found.
    #[error(transparent)]
    NoClang(#[from] hike_toolchain::NoClang),

    /// Running clang failed.
    #[error("cannot run `{clang}`")]
    RunClang {
        /// The compiler.
        clang: String,
        /// The error.
        #[source]
        source: io::Error,
    },

    /// clang reported an error in a user package, at this file and line.
    #[error("{file}:{line}:{column}: error: {message}{}", if context.is_empty() { String::new() } else { format!("\n{context}") })]
    CError {
        /// The file clang named.
        file: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// The first error's message.
        message: String,
        /// What clang printed after that line (the source line and caret, more errors).
        context: String,
    },

    /// clang failed without an error line we could find.
    #[error("clang failed on `{}`:\n{output}", file.display())]
    ClangFailed {
        /// The source.
        file: PathBuf,
        /// Everything clang printed.
        output: String,
    },

    /// The object cache could not be written.
    #[error("cannot write the object cache at `{}`", path.display())]
    Cache {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// The catalog's result type.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;
