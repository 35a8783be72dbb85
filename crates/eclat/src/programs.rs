//! `eclat programs [PKG] [--package-dir DIR] [--json]`: what a script can import, package by
//! package, from the real catalog (standard packages and user packages). Needs no daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use eclat_link::project::catalog;
use serde::Serialize;

use crate::catalog_view::{self, PackageView, FORMAT};
use crate::render::{self, table};

/// List the packages a script can import from, with every program and loader they export:
/// parameters, whether it ends the packet, one line on what it does.
///
/// `eclat describe NAME` tells everything of one of them (maps, layouts, defaults, hooks).
///
/// Example: `eclat programs`
///
/// Example: `eclat programs meter`
///
/// Example: `eclat programs --package-dir ./pkgs --json`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this package (program or loader package).
    package: Option<String>,
    /// A directory of user packages (`DIR/PKG/*.bpf.c`), compiled with clang on first use.
    #[arg(long = "package-dir", value_name = "DIR")]
    package_dirs: Vec<PathBuf>,
    /// One JSON object: `{"format":1,"packages":[{"name":...,"kind":"programs"|"loaders",
    /// "description":...,"origin":"standard"|DIR,"exports":[{"name":...,"kind":"program"|
    /// "loader","params":[...],"terminal":B|null,"home":...,"summary":...}]}]}`.
    #[arg(long)]
    json: bool,
}

/// `eclat programs --json`.
#[derive(Serialize)]
struct ProgramsJson {
    format: u32,
    packages: Vec<PackageView>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let catalog = catalog(&args.package_dirs)?;
    let packages = catalog_view::packages(&catalog, args.package.as_deref());
    if let (Some(asked), true) = (&args.package, packages.is_empty()) {
        let close = catalog_view::suggest_package(&catalog, asked);
        eprintln!(
            "eclat: error: no package `{asked}`{}; `eclat programs` lists them",
            did_you_mean(&close)
        );
        return Ok(ExitCode::FAILURE);
    }
    if args.json {
        render::emit(&render::json_line(&ProgramsJson {
            format: FORMAT,
            packages,
        })?)?;
    } else {
        render::emit(&text(&packages))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// ` (did you mean `a` or `b`?)`, or nothing.
pub fn did_you_mean(close: &[String]) -> String {
    match close {
        [] => String::new(),
        [one] => format!(" (did you mean `{one}`?)"),
        [init @ .., last] => format!(
            " (did you mean {} or `{last}`?)",
            init.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Per package: `from KIND.NAME import …`, its description, a table of its exports.
fn text(packages: &[PackageView]) -> String {
    let mut out = String::new();
    for p in packages {
        out.push_str(&format!("{}.{}", p.kind, p.name));
        if let Some(d) = &p.description {
            out.push_str(&format!(": {d}"));
        }
        if p.origin != "standard" {
            out.push_str(&format!(" ({})", p.origin));
        }
        out.push('\n');
        let rows: Vec<Vec<String>> = p
            .exports
            .iter()
            .map(|e| {
                let mut summary = e.summary.clone().unwrap_or_default();
                if e.home != p.name {
                    summary = format!("{summary} [from {}]", e.home).trim().to_owned();
                }
                let params = format!("({})", e.params.join(", "));
                let ends = match e.terminal {
                    Some(true) => "verdict",
                    Some(false) => "u64",
                    None => "-",
                };
                vec![e.name.clone(), params, ends.to_owned(), summary]
            })
            .collect();
        out.push_str(&table(
            &["NAME", "PARAMS", "RETURNS", "SUMMARY"],
            &rows,
            "  ",
        ));
        out.push('\n');
    }
    out.push_str("`eclat describe NAME` shows a program's or loader's maps, defaults and hooks.\n");
    out
}
