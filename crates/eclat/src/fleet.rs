//! `eclat --etcd URL fleet apply|status|nodes|delete`: the fleet's commands. They talk to
//! etcd, not to an eclatd: `apply` and `delete` are two-phase rollouts
//! (`eclat_fleet::rollout`), `status` and `nodes` read the fleet's keys
//! (`eclat_fleet::view`). This module reads the command line and the script's files and
//! renders the outcomes; the protocol is `eclat-fleet`'s.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use eclat_fleet::model::{now_secs, Action, Package, Phase, Spec};
use eclat_fleet::objects::Objects;
use eclat_fleet::rollout::{self, Report};
use eclat_fleet::{packages, selector, view, EtcdOptions, Layout};

use crate::sources::read_source;
use crate::{exit, render};

/// Where the fleet's etcd is (global options, for `eclat fleet`).
#[derive(Debug, clap::Args)]
pub struct EtcdArgs {
    /// The fleet's etcd endpoints, for `eclat fleet` (URL[,URL…]).
    #[arg(long, global = true, value_name = "URL[,URL…]", env = "ECLAT_ETCD")]
    etcd: Vec<String>,
    /// Where the fleet's keys live in etcd.
    #[arg(long, global = true, value_name = "PREFIX", default_value = eclat_fleet::keys::DEFAULT_PREFIX)]
    etcd_prefix: String,
    /// The CA certificate (PEM) that issued etcd's certificate.
    #[arg(long, global = true, value_name = "FILE")]
    etcd_ca: Option<PathBuf>,
    /// A client certificate (PEM) for etcd (with --etcd-key).
    #[arg(long, global = true, value_name = "FILE")]
    etcd_cert: Option<PathBuf>,
    /// The client certificate's key (PEM).
    #[arg(long, global = true, value_name = "FILE")]
    etcd_key: Option<PathBuf>,
}

/// Manage a fleet of eclatd nodes through etcd (`eclat --etcd URL fleet …`).
///
/// Every eclatd started with `--etcd URL --node NAME [--label KEY=VALUE]…` is a node. `apply`
/// rolls a script out in two phases: every selected live node prepares it (compile, link,
/// verify, beside what runs), then all switch, or none does.
///
/// Example: `eclat --etcd http://10.0.0.1:2379 fleet apply examples/ddos_tb_2_lev.eclat -D DEVNAME=eth0 --selector role=edge`
///
/// Example: `eclat --etcd http://10.0.0.1:2379 fleet status`
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: FleetCommand,
}

#[derive(Debug, clap::Subcommand)]
enum FleetCommand {
    Apply(ApplyArgs),
    Status(StatusArgs),
    Nodes(NodesArgs),
    Delete(DeleteArgs),
}

/// Roll a script out to every selected live node, all or nothing.
///
/// Each node prepares the new generation and answers; when all have prepared, every node
/// switches (a local replace: atomic for packets). If one fails or does not answer within
/// --timeout, no node switches. Exit status 1 when the rollout aborted.
#[derive(Debug, clap::Args)]
struct ApplyArgs {
    /// The script.
    file: PathBuf,
    /// The script's name in the fleet (default: the file name without `.eclat`).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Only nodes with this label (KEY=VALUE, repeatable: all must match).
    #[arg(long = "selector", value_name = "KEY=VALUE")]
    selectors: Vec<String>,
    /// Replace the whole word NAME by VALUE in the script before compiling: `-D DEVNAME=eth0`.
    #[arg(short = 'D', value_name = "NAME=VALUE")]
    defines: Vec<String>,
    /// Seconds to wait for the nodes in each phase.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    timeout: u64,
    /// Once all have prepared, switch K nodes first (the first by name), then the others; a
    /// canary that fails to switch aborts, and the canaries go back.
    #[arg(long, value_name = "K", default_value_t = 0)]
    canary: usize,
    /// A directory of user packages (`DIR/PKG/*.bpf.c`): the packages the script imports
    /// from are built here (clang, on first use) and sent with it, as objects in etcd by
    /// SHA-256; the nodes need neither the folders nor clang.
    #[arg(long = "package-dir", value_name = "DIR")]
    package_dirs: Vec<PathBuf>,
    /// Print the outcome as one JSON object.
    #[arg(long)]
    json: bool,
}

/// The fleet's scripts: committed generation, a rollout in progress, each node's answer.
#[derive(Debug, clap::Args)]
struct StatusArgs {
    /// Only this script.
    name: Option<String>,
    /// One JSON array.
    #[arg(long)]
    json: bool,
}

/// The fleet's nodes: labels, whether live, when last seen.
#[derive(Debug, clap::Args)]
struct NodesArgs {
    /// One JSON array.
    #[arg(long)]
    json: bool,
}

/// Unload a script from every node, all or nothing (the same two phases as apply).
#[derive(Debug, clap::Args)]
struct DeleteArgs {
    /// The script.
    name: String,
    /// Seconds to wait for the nodes in each phase.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    timeout: u64,
    /// Print the outcome as one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, etcd: &EtcdArgs) -> Result<ExitCode> {
    let endpoints = EtcdOptions::split_endpoints(&etcd.etcd);
    if endpoints.is_empty() {
        return Ok(exit::usage(&anyhow::anyhow!(
            "`eclat fleet` needs the fleet's etcd: `eclat --etcd http://HOST:2379 fleet …` (or ECLAT_ETCD)"
        )));
    }
    let opts = EtcdOptions {
        endpoints,
        ca: etcd.etcd_ca.clone(),
        cert: etcd.etcd_cert.clone(),
        key: etcd.etcd_key.clone(),
    };
    let layout = Layout::new(&etcd.etcd_prefix);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = rt.block_on(async move {
        let mut client = eclat_fleet::connect(&opts).await?;
        match args.command {
            FleetCommand::Apply(a) => apply(&mut client, &layout, a).await,
            FleetCommand::Delete(d) => {
                let timeout = Duration::from_secs(d.timeout);
                let report =
                    rollout::rollout(&mut client, &layout, &d.name, Action::Delete, timeout)
                        .await?;
                show_report(&report, d.json, "deleted")
            }
            FleetCommand::Status(s) => {
                let views = view::scripts(&mut client, &layout, s.name.as_deref()).await?;
                if let Some(name) = &s.name {
                    if views.is_empty() {
                        return Err(eclat_fleet::FleetError::NoScript {
                            script: name.clone(),
                        }
                        .into());
                    }
                }
                if s.json {
                    render::emit(&render::json_line(&views)?)?;
                } else {
                    render::emit(&status_text(&views))?;
                }
                Ok(ExitCode::SUCCESS)
            }
            FleetCommand::Nodes(n) => {
                let nodes = view::nodes(&mut client, &layout).await?;
                if n.json {
                    render::emit(&render::json_line(&nodes)?)?;
                } else {
                    render::emit(&nodes_text(&nodes, now_secs()))?;
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    });
    // etcd out of reach is exit status 3, as an unreachable daemon.
    match result {
        Err(e)
            if e.downcast_ref::<eclat_fleet::FleetError>()
                .is_some_and(eclat_fleet::FleetError::unreachable) =>
        {
            eprintln!("eclat: error: {e:#}");
            Ok(ExitCode::from(3))
        }
        other => other,
    }
}

async fn apply(
    client: &mut eclat_fleet::Client,
    layout: &Layout,
    a: ApplyArgs,
) -> Result<ExitCode> {
    let defines = match crate::defines::parse(&a.defines) {
        Ok(d) => d,
        Err(e) => return Ok(exit::usage(&e)),
    };
    let selector = match selector::parse_labels(&a.selectors) {
        Ok(s) => s,
        Err(e) => return Ok(exit::usage(&e.into())),
    };
    let source = read_source(&a.file, &defines)?;
    let name = a.name.clone().unwrap_or_else(|| {
        let base = a
            .file
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        base.strip_suffix(".eclat").unwrap_or(&base).to_owned()
    });
    let mut siblings: Vec<(String, String)> = source.siblings.into_iter().collect();
    siblings.sort();
    let (packages, mut objects) = match user_packages(&a, &name, &defines)? {
        Ok(built) => built,
        Err(code) => return Ok(code),
    };
    let c_chains = match c_chains(&a.file, &siblings, &defines, &mut objects)? {
        Ok(built) => built,
        Err(code) => return Ok(code),
    };
    let spec = Spec {
        packages,
        c_chains,
        file_name: source.file_name,
        text: source.text,
        siblings,
        defines: defines
            .iter()
            .map(|d| (d.name.clone(), d.value.clone()))
            .collect(),
        selector,
    };
    let report = rollout::rollout_with_objects(
        client,
        layout,
        &name,
        Action::Apply { spec },
        &objects,
        Duration::from_secs(a.timeout),
        a.canary,
    )
    .await?;
    show_report(&report, a.json, "committed")
}

/// With `--package-dir`: the script compiled here, and the user packages it (and the
/// scripts it imports chains from) imports, built, as records and objects. A script that does
/// not compile is `Err(exit status)`, its diagnostics printed.
fn user_packages(
    a: &ApplyArgs,
    name: &str,
    defines: &[eclat_compiler::Define],
) -> Result<std::result::Result<(Vec<Package>, Objects), ExitCode>> {
    if a.package_dirs.is_empty() {
        return Ok(Ok((Vec::new(), Objects::new())));
    }
    let catalog = eclat_link::project::catalog(&a.package_dirs)?;
    let compiled = eclat_link::project::compile_all(&a.file, name, defines, &catalog);
    eprint!("{}", compiled.diagnostics);
    let Some(units) = compiled.units else {
        return Ok(Err(ExitCode::FAILURE));
    };
    let names: Vec<String> = units
        .iter()
        .flat_map(|(_, u)| {
            u.programs
                .iter()
                .map(|p| p.package.clone())
                .chain(u.loaders.iter().map(|l| l.package.clone()))
        })
        .collect();
    Ok(Ok(packages::bundle(&catalog, &names)?))
}

/// The files of C chains among `siblings` (`X.hike.c`, beside `file`), built here with clang
/// and `defines`: their hashes by file name, their objects added to `objects`, so that the
/// nodes compile no C. One that does not build is `Err(exit status)`, clang's errors
/// printed.
fn c_chains(
    file: &std::path::Path,
    siblings: &[(String, String)],
    defines: &[eclat_compiler::Define],
    objects: &mut Objects,
) -> Result<std::result::Result<std::collections::BTreeMap<String, String>, ExitCode>> {
    let dir = file.parent().unwrap_or(std::path::Path::new("."));
    let defines: Vec<(String, String)> = defines
        .iter()
        .map(|d| (d.name.clone(), d.value.clone()))
        .collect();
    let mut out = std::collections::BTreeMap::new();
    for (name, _) in siblings.iter().filter(|(n, _)| n.ends_with(".hike.c")) {
        let path = dir.join(name);
        let (object, warnings) = match eclat_link::project::cchains::CFile::build(&path, &defines) {
            Ok(built) => built,
            Err(e) => {
                eprint!("{}", e.details);
                eprintln!("eclat: error: {}; nothing was written to etcd", e.reason);
                return Ok(Err(ExitCode::FAILURE));
            }
        };
        eprint!("{warnings}");
        if object.len() > eclat_fleet::objects::MAX_OBJECT_BYTES {
            anyhow::bail!(
                "the object of the C chains `{}` is {} bytes: over the {} bytes one etcd value holds; split the file",
                path.display(),
                object.len(),
                eclat_fleet::objects::MAX_OBJECT_BYTES
            );
        }
        let hash = eclat_fleet::objects::digest(&object);
        objects.insert(hash.clone(), object.into());
        out.insert(name.clone(), hash);
    }
    Ok(Ok(out))
}

fn show_report(report: &Report, json: bool, verb: &str) -> Result<ExitCode> {
    if json {
        render::emit(&render::json_line(report)?)?;
    } else {
        render::emit(&report_text(report, verb))?;
    }
    Ok(if report.all_committed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One line for the rollout, one per node.
fn report_text(r: &Report, verb: &str) -> String {
    let n = r.nodes.len();
    let nodes = format!("{n} node{}", if n == 1 { "" } else { "s" });
    let mut out = if r.committed {
        format!(
            "{verb} `{}` generation {} on {nodes} in {} ms\n",
            r.script, r.generation, r.elapsed_ms
        )
    } else {
        format!(
            "aborted `{}` generation {}: {}; the fleet stays on generation {}\n",
            r.script,
            r.generation,
            r.reason,
            r.generation - 1
        )
    };
    if !r.canaries.is_empty() {
        out.push_str(&format!("  canaries: {}\n", r.canaries.join(", ")));
    }
    let width = r.nodes.iter().map(|o| o.node.len()).max().unwrap_or(0);
    for o in &r.nodes {
        let what = match (o.phase, r.committed) {
            (Some(Phase::Prepared), false) => "prepared, dropped".to_owned(),
            (Some(Phase::Failed), _) => format!("failed: {}", o.error),
            (Some(p), _) => p.word().to_owned(),
            (None, _) => String::new(),
        };
        let sep = if what.is_empty() || o.note.is_empty() {
            ""
        } else {
            "; "
        };
        out.push_str(&format!("  {:width$}  {what}{sep}{}\n", o.node, o.note));
    }
    out
}

fn status_text(views: &[view::ScriptView]) -> String {
    if views.is_empty() {
        return "the fleet has no scripts\n".to_owned();
    }
    let mut out = String::new();
    for v in views {
        let rollout = v
            .in_progress
            .map_or(String::new(), |g| format!(", rolling out generation {g}"));
        let what = if v.action == "delete" {
            "deleted".to_owned()
        } else if v.generation == 0 {
            "not committed yet".to_owned()
        } else {
            format!("{} on {}", v.file_name, selector::render(&v.selector))
        };
        out.push_str(&format!(
            "{}  generation {}: {what}{rollout}\n",
            v.name, v.generation
        ));
        let width = v.nodes.iter().map(|n| n.node.len()).max().unwrap_or(0);
        for n in &v.nodes {
            let err = if n.status.error.is_empty() {
                String::new()
            } else {
                format!(": {}", n.status.error)
            };
            let alive = if n.alive { "" } else { " (not live)" };
            out.push_str(&format!(
                "  {:width$}  generation {} {}{err}{alive}\n",
                n.node,
                n.status.generation,
                n.status.phase.word()
            ));
        }
    }
    out
}

fn nodes_text(nodes: &[view::NodeView], now: u64) -> String {
    if nodes.is_empty() {
        return "no node has registered (start eclatd with --etcd URL --node NAME)\n".to_owned();
    }
    let width = nodes
        .iter()
        .map(|n| n.info.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!("{:width$}  LIVE  LAST SEEN  LABELS\n", "NODE");
    for n in nodes {
        let labels: Vec<String> = n
            .info
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let seen = format!("{}s ago", now.saturating_sub(n.info.last_seen));
        out.push_str(&format!(
            "{:width$}  {:4}  {:9}  {}\n",
            n.info.name,
            if n.alive { "yes" } else { "no" },
            seen,
            labels.join(",")
        ));
    }
    out
}
