//! `dispatch`: the cost of several scripts on one XDP hook, N = 1, 2, 8.
//!
//! - `raw`: `bpf/bench/raw_chain.bpf.c`, N raw XDP programs run one after the other by
//!   constant-index tail calls (each does nothing else): what chaining programs costs
//!   without HIKe.
//! - `hike`: N scripts on one hook as eclatd sets them up (`bpf/include/hike/dispatch.h`):
//!   N test loaders in script slots, each booting the chain `r0 = 0; exit` (its default
//!   verdict, pass), proceeding on pass to the next through `hike_dispatch`
//!   ((interface, slot) → next slot); the last has no next (its proceed-on mask is 0, as for
//!   a single script, which is today's path). One private VM; each N has its own loaders.
//!
//! The report gives, besides ns per packet, the cost of one more script:
//! `(x[8] − x[1]) / 7` for each side.

use anyhow::{bail, Context, Result};
use hike_isa::abi::xdp::PASS;
use hike_isa::abi::{dispatch_word, Fault};
use hike_isa::{op, Insn};
use hike_runtime::Loader;
use hike_testkit::vm::{boot, PrivateVm};

use crate::measure::{self, timed, Case, Measured, Progress, Settings};
use crate::raw::RawObject;
use crate::report::{Record, ScenarioReport};

/// The scenario's name.
pub const NAME: &str = "dispatch";

/// The numbers of scripts (and of raw programs).
pub const SCRIPTS: [u32; 3] = [1, 2, 8];

/// The interface `BPF_PROG_TEST_RUN` gives a packet without a context: the loopback device.
const LOOPBACK_IFINDEX: u32 = 1;

/// The one chain every script boots.
const CHAIN: u32 = 0;

/// `r0 = 0; exit`.
fn chain() -> Vec<Insn> {
    vec![
        Insn::new(op::ALU64 | op::MOV | op::K, 0, 0, 0, 0),
        Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0),
    ]
}

/// The HIKe side: for each N, N loaders in consecutive script slots, chained at the loopback
/// device.
struct Hike {
    vm: PrivateVm,
    /// For each N of [`SCRIPTS`], its loaders, first first.
    groups: Vec<(u32, Vec<Loader>)>,
}

impl Hike {
    fn set_up() -> Result<Hike> {
        let vm = PrivateVm::new()?;
        vm.configure_fast_path()?;
        vm.install_insns(CHAIN, &chain(), 0)
            .context("install the chain")?;
        let mut groups = Vec::new();
        let mut slot = 0;
        for n in SCRIPTS {
            let mut loaders = Vec::new();
            for i in 0..n {
                let l = vm.load_loader(&format!("n{n}-{i}"), "test_loader")?;
                boot(&l, CHAIN, &[]).context("write `test_boot`")?;
                let last = i + 1 == n;
                let mask = if last { 0 } else { 1 << PASS };
                l.set_dispatch(dispatch_word(mask, slot + i))?;
                vm.vm().set_script_slot(slot + i, &l)?;
                if !last {
                    vm.vm()
                        .set_next_script(LOOPBACK_IFINDEX, slot + i, Some(slot + i + 1))?;
                }
                loaders.push(l);
            }
            slot += n;
            groups.push((n, loaders));
        }
        Ok(Hike { vm, groups })
    }

    fn first(&self, n: u32) -> &Loader {
        let (_, loaders) = self.groups.iter().find(|(m, _)| *m == n).expect("a group");
        &loaders[0]
    }

    /// Runs one packet through N scripts and checks, in the VM state of `cpu`, that N chains
    /// were booted and the last returned without a fault.
    fn check(&self, n: u32, packet: &[u8], cpu: usize) -> Result<()> {
        let before = self.vm.vm().vm_state(cpu)?.packets;
        let run = self.first(n).test_run(packet, 1)?;
        let st = self.vm.vm().vm_state(cpu)?;
        if run.retval != PASS || st.fault != 0 || st.packets - before != u64::from(n) {
            let fault = Fault::from_code(st.fault).map_or("none", |f| f.name());
            bail!(
                "{n} scripts misbehave: verdict {}, fault {fault}, {} chains booted",
                run.retval,
                st.packets - before
            );
        }
        Ok(())
    }
}

/// A copy of the raw object chaining N programs: index K holds `raw_chain_K+1` for K < N,
/// index N is empty (the last program passes).
fn raw_chain(n: u32) -> Result<RawObject> {
    let raw = RawObject::load("raw_chain")?;
    for k in 1..n {
        raw.set_prog_array("raw_chain_jmp", k, &format!("raw_chain_{}", k + 1))?;
    }
    Ok(raw)
}

/// Runs the scenario.
pub fn run(settings: &Settings) -> Result<ScenarioReport> {
    let progress = Progress::new(NAME);
    progress.update("setting up");
    let packet = measure::ipv6_udp_packet();
    let raws: Vec<RawObject> = SCRIPTS
        .iter()
        .map(|n| raw_chain(*n))
        .collect::<Result<_>>()?;
    let hike = Hike::set_up()?;
    // The thread is pinned to `settings.cpu` (main), whose VM state the check reads.
    for n in SCRIPTS {
        hike.check(n, &packet, settings.cpu)?;
    }

    let mut cases = Vec::new();
    for (n, raw) in SCRIPTS.into_iter().zip(&raws) {
        cases.push(Case {
            variant: "raw",
            param: n.into(),
            run: Box::new(move |packet, repeat| {
                raw.test_run("raw_chain_1", packet, repeat)?
                    .expect(&[PASS], &format!("raw, N = {n}"))
            }),
        });
        let hike = &hike;
        cases.push(Case {
            variant: "hike",
            param: n.into(),
            run: Box::new(move |packet, repeat| {
                timed(repeat, || {
                    let out = hike.first(n).test_run(packet, repeat)?;
                    Ok((out.retval, out.duration_ns))
                })?
                .expect(&[PASS], &format!("hike, N = {n}"))
            }),
        });
    }
    let measured = measure::measure(&mut cases, &packet, settings, &progress)?;
    let redone: u32 = measured.iter().map(|m| m.redone).sum();
    progress.finish(&format!(
        "{} cases × {} trials done ({redone} disturbed runs redone)",
        measured.len(),
        settings.trials
    ));
    Ok(report(&measured))
}

fn median_of(measured: &[Measured], variant: &str, n: u32) -> Option<f64> {
    measured
        .iter()
        .find(|m| m.variant == variant && m.param == u64::from(n))
        .map(|m| m.ns_per_packet.median)
}

fn report(measured: &[Measured]) -> ScenarioReport {
    let records: Vec<Record> = measured
        .iter()
        .map(|m| Record::ns_per_packet(NAME, m))
        .collect();
    let mut line = String::from("One more script or program on the hook (ns), (x[8] − x[1]) / 7:");
    for v in ["raw", "hike"] {
        if let (Some(x8), Some(x1)) = (median_of(measured, v, 8), median_of(measured, v, 1)) {
            line.push_str(&format!(" {v} {:.2};", (x8 - x1) / 7.0));
        }
    }
    line.push_str(
        " a HIKe script is a whole loader run (parse, boot, chain) plus the dispatch's lookup \
         and a tail call through a run-time index; a raw program here does nothing but its \
         constant-index tail call.",
    );
    ScenarioReport {
        name: NAME,
        description: "N programs on one XDP hook, run in order. `raw`: N XDP programs chained \
            by constant-index tail calls (`bpf/bench/raw_chain.bpf.c`). `hike`: N scripts as \
            eclatd sets them up — N test loaders in script slots, each booting `r0 = 0; exit` \
            (verdict pass) and proceeding on pass to the next through `hike_dispatch`; the \
            last has no next (N = 1 is the single-script path). Packet: 64 bytes of Ethernet \
            + IPv6 + UDP; metric: ns per packet."
            .to_owned(),
        param_name: "N",
        param_labels: Vec::new(),
        records,
        metrics: vec!["ns_per_packet"],
        bars: Vec::new(),
        notes: vec![line],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_returns_zero() {
        assert_eq!(
            chain(),
            vec![Insn::new(0xb7, 0, 0, 0, 0), Insn::new(0x95, 0, 0, 0, 0)]
        );
    }
}
