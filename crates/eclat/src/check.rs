//! `eclat check FILE...`: compile only, report every problem.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use eclat_compiler::compile_with_defines;
use eclat_syntax::SourceFile;

use eclat_link::project::{c_units, catalog, read, SiblingScripts};

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
}

pub fn run(args: Args) -> Result<ExitCode> {
    let defines = match crate::defines::parse(&args.defines) {
        Ok(d) => d,
        Err(e) => return Ok(crate::exit::usage(&e)),
    };
    let catalog = catalog(&args.package_dirs)?;
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
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
