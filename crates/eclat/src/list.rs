//! `eclat list [--json]`: the scripts eclatd runs and its program table.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use eclat_proto::v1::{ListReply, ListRequest};

use crate::client::Daemon;
use crate::render::{self, table};

/// List the scripts eclatd runs and its program table.
///
/// Scripts with their file, generation, loader and where it is attached, and
/// chains with their IDs; then, per interface and hook, the scripts in the order packets
/// meet them, with their priority and the verdicts that go on to the next; then the program
/// table: slot, name, package, kernel ID and the scripts using each program.
///
/// Example: `eclat list`
///
/// Example: `eclat list --json | jq '.scripts[].name'`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the daemon's reply as one JSON object (`{"scripts":[...],"programs":[...],
    /// "instance":...,"pin_dir":...,"hooks":[{"device":...,"ifindex":...,"hook":"xdp",
    /// "scripts":[...]}]}`, each hook's scripts in the order packets meet them).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, socket: &Path) -> Result<ExitCode> {
    let daemon = Daemon::connect(socket)?;
    let reply = daemon.call(|mut c| async move { c.list(ListRequest {}).await })?;
    if args.json {
        render::emit(&render::json_line(&reply)?)?;
    } else {
        render::emit(&text(&reply))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A table of scripts, then one of programs.
fn text(reply: &ListReply) -> String {
    let mut out = String::new();
    if !reply.instance.is_empty() || !reply.pin_dir.is_empty() {
        let _ = writeln!(
            out,
            "instance `{}`, pinned in {}\n",
            reply.instance, reply.pin_dir
        );
    }
    if reply.scripts.is_empty() {
        out.push_str("no scripts loaded\n");
    } else {
        let rows: Vec<Vec<String>> = reply
            .scripts
            .iter()
            .map(|s| {
                let (loader, attached) = match &s.loader {
                    Some(l) => (render::loader_name(l), render::attachments(l)),
                    None => ("-".to_owned(), "-".to_owned()),
                };
                vec![
                    s.name.clone(),
                    s.file_name.clone(),
                    s.generation.to_string(),
                    loader,
                    attached,
                    render::chains(s),
                ]
            })
            .collect();
        out.push_str(&table(
            &["SCRIPT", "FILE", "GEN", "LOADER", "ATTACHED", "CHAINS"],
            &rows,
            "",
        ));
    }
    out.push('\n');
    if !reply.hooks.is_empty() {
        out.push_str(&order(reply));
        out.push('\n');
    }
    if reply.programs.is_empty() {
        out.push_str("no programs loaded\n");
    } else {
        let rows: Vec<Vec<String>> = reply
            .programs
            .iter()
            .map(|p| {
                vec![
                    p.id.to_string(),
                    p.name.clone(),
                    p.package.clone(),
                    p.kernel_id.to_string(),
                    if p.build.is_empty() {
                        "-".to_owned()
                    } else {
                        p.build.clone()
                    },
                    render::list(p.used_by.iter().cloned()),
                ]
            })
            .collect();
        out.push_str(&table(
            &["ID", "PROGRAM", "PACKAGE", "KERNEL ID", "BUILD", "USED BY"],
            &rows,
            "",
        ));
    }
    out
}

/// Per interface and hook, the scripts in the order packets meet them.
fn order(reply: &ListReply) -> String {
    let mut rows = Vec::new();
    for h in &reply.hooks {
        for (i, name) in h.scripts.iter().enumerate() {
            let script = reply.scripts.iter().find(|s| &s.name == name);
            let proceed = script.map_or_else(String::new, |s| {
                if s.proceed_on.is_empty() {
                    "none".to_owned()
                } else {
                    s.proceed_on.join(",")
                }
            });
            rows.push(vec![
                format!("{} (ifindex {})", h.device, h.ifindex),
                h.hook.clone(),
                (i + 1).to_string(),
                name.clone(),
                script.map_or_else(String::new, |s| s.priority.to_string()),
                proceed,
            ]);
        }
    }
    table(
        &["INTERFACE", "HOOK", "#", "SCRIPT", "PRIORITY", "PROCEED ON"],
        &rows,
        "",
    )
}

#[cfg(test)]
mod tests {
    use eclat_proto::v1::{Attachment, Chain, Hook, Loader, Program, Script};

    use super::*;

    #[test]
    fn scripts_and_programs_are_tables() {
        let reply = ListReply {
            scripts: vec![Script {
                name: "ddos".into(),
                file_name: "examples/ddos.eclat".into(),
                defines: vec![],
                tc_placement: "first".into(),
                generation: 2,
                chains: vec![Chain {
                    name: "ddos_tb_2_lev".into(),
                    id: 1,
                    params: 0,
                    insns: 40,
                }],
                programs: vec!["hike_pass".into()],
                loader: Some(Loader {
                    name: "ip6_simple_classifier".into(),
                    package: "hike_default".into(),
                    kernel_id: 40,
                    maps: vec![],
                    attachments: vec![Attachment {
                        device: "veth0".into(),
                        ifindex: 5,
                        hook: "xdp".into(),
                        present: true,
                    }],
                }),
                loaded_at: 1_704_067_200,
                priority: 100,
                proceed_on: vec!["pass".into()],
            }],
            programs: vec![Program {
                name: "hike_pass".into(),
                package: "hike_default".into(),
                id: 3,
                kernel_id: 41,
                maps: vec![],
                used_by: vec!["ddos".into(), "other".into()],
                build: "0123456789ab".into(),
            }],
            instance: "eclat".into(),
            pin_dir: "/sys/fs/bpf/eclat".into(),
            hooks: vec![],
        };
        assert_eq!(
            text(&reply),
            "\
instance `eclat`, pinned in /sys/fs/bpf/eclat

SCRIPT  FILE                 GEN  LOADER                                ATTACHED                CHAINS
ddos    examples/ddos.eclat  2    ip6_simple_classifier (hike_default)  veth0 (ifindex 5, xdp)  ddos_tb_2_lev #1

ID  PROGRAM    PACKAGE       KERNEL ID  BUILD         USED BY
3   hike_pass  hike_default  41         0123456789ab  ddos, other
"
        );
        let mut two = reply.clone();
        let mut count = two.scripts[0].clone();
        count.name = "count".into();
        count.priority = 10;
        count.proceed_on = vec!["drop".into(), "pass".into()];
        two.scripts.push(count);
        two.hooks = vec![Hook {
            device: "veth0".into(),
            ifindex: 5,
            hook: "xdp".into(),
            scripts: vec!["count".into(), "ddos".into()],
        }];
        assert!(
            text(&two).contains(
                "\
INTERFACE          HOOK  #  SCRIPT  PRIORITY  PROCEED ON
veth0 (ifindex 5)  xdp   1  count   10        drop,pass
veth0 (ifindex 5)  xdp   2  ddos    100       pass
"
            ),
            "{}",
            text(&two)
        );
        let empty = ListReply::default();
        assert_eq!(text(&empty), "no scripts loaded\n\nno programs loaded\n");
    }
}
