//! `eclat run FILE --also FILE[@PRIORITY[:VERDICTS]]...`: several scripts on one hook, run in
//! order through the dispatch eclatd sets up (`bpf/include/hike/dispatch.h`), against packets.
//!
//! Each script is loaded into a private VM as `eclat run` loads one; the scripts are ordered
//! as eclatd orders a hook's scripts (lower priority first, then name), and each script's VM
//! gets the next script's loader in its script table and the (interface, slot) → next entry
//! for the loopback device, where `BPF_PROG_TEST_RUN` puts a packet. A packet enters the first
//! script's loader; a verdict in a script's proceed-on set tail-calls the next loader, as on
//! an interface. At a TC hook (`--hook tc_ingress|tc_egress`) the kernel's tcx order is the
//! dispatch: a script whose verdict proceeds returns `TCX_NEXT`, and this module runs the next
//! script's `sched_cls` loader on the packet as the previous one left it, as tcx does. This
//! module reports, per packet, the final verdict and the scripts the packet went through; the
//! single-script report (cause, trace, maps) is `run`'s.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use eclat_catalog::PackageCatalog;
use eclat_compiler::Define;
use eclat_link::{link, LoadOptions, LoadedScript, Unit};
use hike_isa::abi::{dispatch_word, XdpAction};
use serde::Serialize;

/// The interface `BPF_PROG_TEST_RUN` gives a packet without a context: the loopback device.
const LOOPBACK_IFINDEX: u32 = 1;

/// The priority of a script without one (eclatd's default).
pub const DEFAULT_PRIORITY: u32 = 100;

/// One script of the hook as the command line gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookScript {
    /// The file.
    pub file: PathBuf,
    /// Lower runs first.
    pub priority: u32,
    /// The verdicts that go on to the next script (bit `v` for XDP verdict `v`).
    pub proceed_on: u32,
}

/// Parses a proceed-on set: verdict names separated by commas, or `any`, or `none`.
pub fn parse_proceed_on(text: &str) -> Result<u32> {
    let mut mask = 0;
    for word in text.split(',').map(str::trim) {
        match word {
            "any" => mask |= XdpAction::ALL.iter().fold(0, |m, a| m | 1 << *a as u32),
            "none" => {}
            w => match XdpAction::ALL.iter().find(|a| a.name() == w) {
                Some(a) => mask |= 1 << *a as u32,
                None => bail!(
                    "`{w}` is no verdict; a proceed-on set is verdicts among {} separated by \
                     commas, or `any`, or `none`",
                    XdpAction::ALL.map(XdpAction::name).join(", ")
                ),
            },
        }
    }
    Ok(mask)
}

/// Parses `--also FILE[@PRIORITY[:VERDICTS]]` (proceed-on `pass` unless given).
pub fn parse_also(text: &str) -> Result<HookScript> {
    let (file, rest) = match text.rsplit_once('@') {
        Some((f, r)) => (f, Some(r)),
        None => (text, None),
    };
    let (priority, proceed_on) = match rest {
        None => (DEFAULT_PRIORITY, 1 << XdpAction::Pass as u32),
        Some(r) => {
            let (p, v) = match r.split_once(':') {
                Some((p, v)) => (p, Some(v)),
                None => (r, None),
            };
            let priority = p.parse().map_err(|_| {
                anyhow!("--also {text:?}: `{p}` is no priority (a number, lower runs first)")
            })?;
            let proceed_on = match v {
                Some(v) => parse_proceed_on(v).with_context(|| format!("--also {text:?}"))?,
                None => 1 << XdpAction::Pass as u32,
            };
            (priority, proceed_on)
        }
    };
    if file.is_empty() {
        bail!("--also {text:?}: no file");
    }
    Ok(HookScript {
        file: PathBuf::from(file),
        priority,
        proceed_on,
    })
}

/// `TCX_NEXT` (linux/bpf.h) as a test run's return value: the hook's next program takes the
/// packet.
const TCX_NEXT: u32 = u32::MAX;

/// The loaded scripts of the hook, in the order packets meet them.
pub struct Hook {
    scripts: Vec<(String, LoadedScript)>,
    at: eclat_catalog::Hook,
}

/// One packet's line of `--json`.
#[derive(Serialize)]
struct HookLine<'a> {
    packet: usize,
    verdict: &'static str,
    /// The scripts whose loader booted a chain for the packet, in order.
    scripts: Vec<&'a str>,
    data_out: String,
}

impl Hook {
    /// Compiles, links and loads each script in `mode` (`None` after a compile error, whose
    /// diagnostics are printed), orders them and chains their loaders (a fused script's entry
    /// is its fused program, which reads the same dispatch word).
    pub fn load(
        scripts: &[HookScript],
        defines: &[Define],
        catalog: &PackageCatalog,
        loader: Option<&str>,
        at: eclat_catalog::Hook,
        mode: eclat_link::Mode,
    ) -> Result<Option<Hook>> {
        let mut loaded = Vec::new();
        for s in scripts {
            let name = eclat_link::project::script_name(&s.file);
            let compiled = eclat_link::project::compile_all(&s.file, &name, defines, catalog);
            eprint!("{}", compiled.diagnostics);
            let Some(units) = compiled.units else {
                return Ok(None);
            };
            let (main, others) = units.split_first().expect("the main script");
            let others: Vec<Unit<'_>> = others
                .iter()
                .map(|(name, script)| Unit { name, script })
                .collect();
            let linked = link(
                catalog,
                Unit {
                    name: &main.0,
                    script: &main.1,
                },
                &others,
                loader,
            )?;
            let options = LoadOptions {
                hook: Some(at),
                mode,
                script_dir: s.file.parent().map(Path::to_path_buf),
                ..LoadOptions::default()
            };
            let script = LoadedScript::load(catalog, linked, &options)?;
            loaded.push((s.priority, name, s.proceed_on, script));
        }
        loaded.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        for pair in loaded.windows(2) {
            if pair[0].1 == pair[1].1 {
                bail!("two scripts are named `{}`: rename one file", pair[0].1);
            }
        }
        let n = loaded.len() as u32;
        for (i, (_, name, proceed_on, script)) in loaded.iter().enumerate() {
            let slot = i as u32;
            let last = slot + 1 == n;
            let what = || format!("chain `{name}` to the next script");
            let mask = if last { 0 } else { *proceed_on };
            script
                .loader()
                .set_dispatch(dispatch_word(mask, slot))
                .with_context(what)?;
            // At TC the next script is the next test run (`run`), as the next tcx program.
            if !last && !at.is_tc() {
                let next = &loaded[i + 1].3;
                script
                    .vm()
                    .set_script_slot(slot + 1, next.loader())
                    .with_context(what)?;
                script
                    .vm()
                    .set_next_script(LOOPBACK_IFINDEX, slot, Some(slot + 1))
                    .with_context(what)?;
            }
        }
        Ok(Some(Hook {
            scripts: loaded.into_iter().map(|(_, n, _, s)| (n, s)).collect(),
            at,
        }))
    }

    /// Runs `packets` and prints a line for each (JSON with `json`).
    pub fn run(&self, packets: &[Vec<u8>], json: bool) -> Result<()> {
        let pin = hike_runtime::pin_thread_to_current_cpu().context("pin the thread")?;
        let cpu = pin.cpu();
        let booted = |s: &LoadedScript| -> Result<u64> { Ok(s.vm().vm_state(cpu)?.packets) };
        for (i, packet) in packets.iter().enumerate() {
            let before: Vec<u64> = self
                .scripts
                .iter()
                .map(|(_, s)| booted(s))
                .collect::<Result<_>>()?;
            let (verdict, data_out) = if self.at.is_tc() {
                self.run_tc(packet, cpu)?
            } else {
                let out = self.scripts[0].1.loader().test_run(packet, 1)?;
                let verdict = XdpAction::from_retval(out.retval).map_or("aborted", XdpAction::name);
                (verdict, out.data_out)
            };
            let mut ran = Vec::new();
            for ((name, s), b) in self.scripts.iter().zip(&before) {
                if booted(s)? != *b {
                    ran.push(name.as_str());
                }
            }
            if json {
                let line = HookLine {
                    packet: i + 1,
                    verdict,
                    scripts: ran,
                    data_out: eclat_catalog::layout::hex(&data_out),
                };
                println!("{}", serde_json::to_string(&line)?);
            } else {
                let path = if ran.is_empty() {
                    "no chain".to_owned()
                } else {
                    ran.join(" → ")
                };
                println!("packet {}: {verdict} ({path})", i + 1);
            }
        }
        Ok(())
    }

    /// One packet through the scripts of a TC hook as tcx runs them: each `sched_cls` loader
    /// in order on the packet the previous one left, until one returns something other than
    /// `TCX_NEXT`. The verdict is the last booted VM's (a TC action says less: drop and
    /// aborted are both `TC_ACT_SHOT`); `TCX_NEXT` from the last program passes the packet.
    fn run_tc(&self, packet: &[u8], cpu: usize) -> Result<(&'static str, Vec<u8>)> {
        let mut data = packet.to_vec();
        for (_, s) in &self.scripts {
            let before = s.vm().vm_state(cpu)?.packets;
            let out = s.loader().test_run(&data, 1)?;
            data = out.data_out;
            if out.retval == TCX_NEXT {
                continue;
            }
            let st = s.vm().vm_state(cpu)?;
            let verdict = if st.packets != before {
                XdpAction::from_retval(st.verdict)
            } else {
                // No chain ran: the loader's own verdict, as a TC action.
                match out.retval {
                    0 => Some(XdpAction::Pass),
                    2 => Some(XdpAction::Drop),
                    7 => Some(XdpAction::Redirect),
                    _ => None,
                }
            };
            return Ok((verdict.map_or("aborted", XdpAction::name), data));
        }
        Ok((XdpAction::Pass.name(), data))
    }

    /// The scripts' names, in order.
    pub fn order(&self) -> Vec<&str> {
        self.scripts.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// The first script of the command line with its own `--priority`/`--proceed-on`.
pub fn main_script(
    file: &Path,
    priority: Option<u32>,
    proceed_on: Option<&str>,
) -> Result<HookScript> {
    Ok(HookScript {
        file: file.to_owned(),
        priority: priority.unwrap_or(DEFAULT_PRIORITY),
        proceed_on: match proceed_on {
            Some(v) => parse_proceed_on(v)?,
            None => 1 << XdpAction::Pass as u32,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn also_takes_a_file_a_priority_and_a_proceed_on_set() {
        let s = parse_also("b.eclat").unwrap();
        assert_eq!((s.priority, s.proceed_on), (100, 1 << 2));
        let s = parse_also("dir/b.eclat@5:drop,pass").unwrap();
        assert_eq!(s.file, PathBuf::from("dir/b.eclat"));
        assert_eq!((s.priority, s.proceed_on), (5, 0b110));
        assert_eq!(parse_also("b.eclat@7:none").unwrap().proceed_on, 0);
        assert_eq!(parse_also("b.eclat@7:any").unwrap().proceed_on, 0x1f);
        let e = parse_also("b.eclat@x").unwrap_err().to_string();
        assert!(e.contains("`x` is no priority"), "{e}");
        let e = format!("{:#}", parse_also("b.eclat@1:maybe").unwrap_err());
        assert!(e.contains("`maybe` is no verdict"), "{e}");
    }
}
