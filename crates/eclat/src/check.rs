//! `eclat check FILE... [--verify]`: compile only, report every problem; with `--verify`, also
//! run the kernel's verifier on the user-package programs each script imports.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use eclat_compiler::compile_with_defines;
use eclat_syntax::SourceFile;

use eclat_link::project::{c_units, catalog, read, SiblingScripts};
use eclat_link::verify::verify_user_imports;

/// Check scripts: print every error and warning as `FILE:LINE:COL: error: MESSAGE` with the
/// source line and a caret; exit 1 if any script has an error.
///
/// Example: `eclat check examples/ddos_tb_2_lev.eclat -D COLLECTOR_IFINDEX=6`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scripts to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// A directory of user packages (`DIR/PKG/*.bpf.c`), compiled with clang on first use.
    #[arg(long = "package-dir", value_name = "DIR")]
    package_dirs: Vec<PathBuf>,
    /// Replace the whole word NAME by VALUE before compiling, as `eclat load` and `eclat run`
    /// do: `-D COLLECTOR_IFINDEX=6`.
    #[arg(short = 'D', value_name = "NAME=VALUE")]
    defines: Vec<String>,
    /// Also run the kernel's verifier on the programs and loaders each script imports from
    /// user packages (loaded into a private VM, attached to nothing): a refusal is found
    /// before a load. Needs root.
    #[arg(long)]
    verify: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let defines = match crate::defines::parse(&args.defines) {
        Ok(d) => d,
        Err(e) => return Ok(crate::exit::usage(&e)),
    };
    let catalog = catalog(&args.package_dirs)?;
    if args.verify && !is_root() {
        eprintln!(
            "eclat: error: `--verify` loads the user packages' programs into the kernel's \
             verifier, which needs root: run `sudo eclat check --verify ...`"
        );
        return Ok(ExitCode::FAILURE);
    }
    let mut failed = false;
    for path in &args.files {
        let raw = match read(path) {
            Ok(src) => src,
            Err(e) => {
                eprintln!("eclat: error: {e:#}");
                failed = true;
                continue;
            }
        };
        let chains = SiblingScripts::beside(path).with_defines(&defines);
        let (src, out) = compile_with_defines(&raw, &defines, &catalog, &chains);
        // C files of chains it imports: clang's messages first, then the script's.
        eprint!("{}", chains.take_reports());
        let file = SourceFile::new(path.display().to_string(), src);
        eprint!("{}", out.render(&file));
        failed |= out.has_errors();
        if let Some(script) = &out.script {
            if let Err(errors) = c_units(script, &chains, &catalog) {
                for e in errors {
                    eprintln!("{e}");
                }
                failed = true;
            }
            if args.verify {
                failed |= !verify(&file, script, &catalog);
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs the verifier on the user-package imports of `script` and prints what it says; false
/// if it refused one.
fn verify(
    file: &SourceFile,
    script: &eclat_compiler::output::CompiledScript,
    catalog: &eclat_catalog::PackageCatalog,
) -> bool {
    let name = file.name();
    let verified = match verify_user_imports(catalog, script) {
        Ok(v) => v,
        Err(e) => {
            let e = anyhow::Error::new(e);
            eprintln!("eclat: error: {name}: cannot run the verifier: {e:#}");
            return false;
        }
    };
    if verified.is_empty() {
        eprintln!("{name}: note: `--verify`: the script imports nothing from a user package");
    }
    let mut ok = true;
    for v in verified {
        match v.result {
            Ok(()) => eprintln!(
                "{name}: verified: {} `{}` of package `{}`",
                v.kind, v.name, v.package
            ),
            Err(e) => {
                // The load error's causes, down to the runtime's summary of the log.
                let e = anyhow::Error::new(e);
                eprintln!(
                    "{name}: error: the verifier refused {} `{}` of package `{}`: {e:#}",
                    v.kind, v.name, v.package
                );
                ok = false;
            }
        }
    }
    ok
}

/// Whether this process runs as root (`/proc/self` belongs to the effective user).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
