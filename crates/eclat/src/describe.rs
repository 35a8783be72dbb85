//! `eclat describe NAME [--package-dir DIR] [--json]`: everything a script writer needs to use
//! one program or loader, from the real catalog: the import line, parameters, what it
//! returns, its maps with their key and value layouts in a script's tuple order, the config
//! defaults, the hooks. Needs no daemon.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use eclat_link::project::catalog;

use crate::catalog_view::{self, Description, Found, LayoutView};
use crate::programs::did_you_mean;
use crate::render;

/// Describe a program or loader: import line, parameters, return value, maps (key and value
/// fields in the order a script's tuple takes them, types, byte order), config defaults, the
/// hooks it works at.
///
/// NAME is `PROGRAM`, `LOADER` or `PKG.NAME` (when two packages export different things of one
/// name).
///
/// Example: `eclat describe ip6_sd_tbmon`
///
/// Example: `eclat describe basic.ip_sc --json`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// `PROGRAM`, `LOADER` or `PKG.NAME`.
    name: String,
    /// A directory of user packages (`DIR/PKG/*.bpf.c`), compiled with clang on first use.
    #[arg(long = "package-dir", value_name = "DIR")]
    package_dirs: Vec<PathBuf>,
    /// One JSON object, the fields documented in `docs/eclat.md` ("Discovering programs"):
    /// `{"format":1,"name":...,"kind":...,"summary":...,"home":...,"packages":[...],
    /// "import":...,"params":[...],"returns":{...}|null,"hooks":[...],"maps":[...],
    /// "object":...,"source":...}`.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let catalog = catalog(&args.package_dirs)?;
    match catalog_view::describe(&catalog, &args.name) {
        Found::One(d) if args.json => render::emit(&render::json_line(&d)?)?,
        Found::One(d) => render::emit(&text(&d))?,
        Found::Ambiguous(all) => {
            eprintln!(
                "eclat: error: `{}` names several things: {}; describe one as `PKG.NAME`",
                args.name,
                all.join(", ")
            );
            return Ok(ExitCode::FAILURE);
        }
        Found::Nothing(close) => {
            eprintln!(
                "eclat: error: no program or loader `{}`{}; `eclat programs` lists them",
                args.name,
                did_you_mean(&close)
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `src ipv6 @0 (network), dst ipv6 @16 (network)`.
fn fields(l: &LayoutView) -> String {
    match &l.fields {
        None => "opaque (arrays, unions or bitfields): not writable from a script".to_owned(),
        Some(fs) => fs
            .iter()
            .map(|f| {
                let mut s = format!("{} {} @{} ({})", f.name, f.ty, f.offset, f.byte_order);
                if let Some(v) = &f.values {
                    let _ = write!(s, " [{v}]");
                }
                s
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn text(d: &Description) -> String {
    let mut out = format!("{} `{}`", d.kind, d.name);
    if let Some(s) = &d.summary {
        let _ = write!(out, ": {s}");
    }
    out.push('\n');
    let _ = writeln!(out, "  import:   {}", d.import);
    let others: Vec<&str> = d
        .packages
        .iter()
        .filter(|p| **p != d.home)
        .map(String::as_str)
        .collect();
    if !others.is_empty() {
        let _ = writeln!(
            out,
            "            (the same program from {} too)",
            others.join(", ")
        );
    }
    if d.kind == "program" {
        let params = if d.params.is_empty() {
            "none".to_owned()
        } else {
            d.params.join(", ")
        };
        let _ = writeln!(out, "  params:   {params}");
    }
    if let Some(r) = &d.returns {
        let what = r.description.as_deref().unwrap_or("(not described)");
        if r.terminal {
            let _ = writeln!(
                out,
                "  returns:  nothing: it ends the packet ({what}); code after it is unreachable"
            );
        } else {
            let _ = writeln!(out, "  returns:  u64: {what}");
            if let Some(na) = r.not_applicable {
                let _ = writeln!(out, "            not applicable: {na}");
            }
        }
    }
    let hooks = d.hooks.join(", ");
    if d.kind == "loader" {
        let hook = d.hooks.first().copied().unwrap_or("xdp");
        let _ = writeln!(
            out,
            "  hooks:    {hooks} ({}.attach('DEV', '{hook}'))",
            d.name
        );
    } else {
        let _ = writeln!(out, "  hooks:    {hooks}");
    }
    let _ = writeln!(out, "  source:   {} (object `{}`)", d.source, d.object);
    for m in &d.maps {
        let mut head = format!("  map `{}`: {}[{}]", m.name, m.ty, m.max_entries);
        if m.percpu {
            head.push_str(", one value per CPU (dumps sum them)");
        }
        if !m.aliases.is_empty() {
            let _ = write!(head, "; also called {}", m.aliases.join(", "));
        }
        let _ = writeln!(out, "{head}");
        let _ = writeln!(
            out,
            "    key:    {} ({} bytes): {}",
            m.key.c_type,
            m.key.size,
            fields(&m.key)
        );
        let _ = writeln!(
            out,
            "    value:  {} ({} bytes): {}",
            m.value.c_type,
            m.value.size,
            fields(&m.value)
        );
        if let Some(s) = &m.script {
            let _ = writeln!(out, "    script: {s}");
        }
        if let Some(defaults) = &m.defaults {
            let list: Vec<String> = defaults.iter().map(|(f, v)| format!("{f} = {v}")).collect();
            let _ = writeln!(out, "    a field that is 0 means: {}", list.join(", "));
        }
    }
    out
}
