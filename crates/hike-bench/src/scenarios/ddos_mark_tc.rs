//! `ddos_mark_tc`: `ddos_mark`'s marking task (IPv6 traffic class 1 for the packets of the
//! 1,000 blacklisted sources, 10% of the traffic; every packet goes on) at the TC ingress hook.
//!
//! Variants, both `sched_cls` programs run with `BPF_PROG_TEST_RUN` (an skb) on one pinned CPU:
//! - `raw`: the hand-written `bpf/bench/raw_ddos_mark_tc.bpf.c`, the blacklist in the same kind
//!   of map as the HIKe program's.
//! - `hike`: the TC builds of `basic.ip6_sc`, `ip6_src_in_set` and `ip6_set_tos` in a private
//!   VM, and `ddos_mark`'s hand-written chain (`ddos_mark::variants::HAND_CHAINS`).
//!
//! Metric: `ns_per_packet` over `ddos_mark`'s mix of 10 packets (one blacklisted), after a check
//! that both variants mark exactly the blacklisted packets and return `TC_ACT_OK`.

use anyhow::{bail, Context, Result};
use hike_bpf::Context as Build;
use hike_isa::abi::Fault;
use hike_runtime::{Loader, TC_ACT_OK};
use hike_testkit::vm::{select_chain, PrivateVm};

use super::ddos_mark::variants::{
    blacklist_entries, mix, BLACKLISTED, HAND_CHAINS, HIKE_MARK, MARK, SET_PROG, TOS_PROG,
};
use crate::measure::{self, timed, Case, Measured, Mix, Progress, Settings};
use crate::raw::RawObject;
use crate::report::{Bar, Record, ScenarioReport};

/// The scenario's name.
pub const NAME: &str = "ddos_mark_tc";

/// The goal of hike / raw, as at XDP.
const GOAL: f64 = 1.35;

/// The verdict every packet must end with.
const VERDICTS: &[u32] = &[TC_ACT_OK];

/// The HIKe side at TC.
struct Hike {
    vm: PrivateVm,
    loader: Loader,
}

impl Hike {
    fn set_up() -> Result<Hike> {
        let mut vm = PrivateVm::with_context(&Default::default(), Build::Tc)?;
        vm.configure_fast_path()?;
        for (slot, name) in [(SET_PROG, "ip6_src_in_set"), (TOS_PROG, "ip6_set_tos")] {
            vm.load_program(slot, name, name)?;
        }
        let set = vm.program_map("ip6_src_in_set", "ip6_src_in_set_map")?;
        for (k, v) in blacklist_entries() {
            set.update(&k, &v, Default::default())?;
        }
        let (id, name, text) = HAND_CHAINS[0];
        vm.install(id, text, 0)
            .with_context(|| format!("install `{name}`"))?;
        let loader = vm
            .load_loader("ddos_mark_tc", "ip6_sc")
            .context("load the TC build of ip6_sc")?;
        select_chain(&loader, "ipv6_sc_map", HIKE_MARK).context("write `ipv6_sc_map`")?;
        Ok(Hike { vm, loader })
    }
}

/// The mix of `ddos_mark`, each packet ending with `TC_ACT_OK`.
fn tc_mix() -> Mix {
    let mut m = mix();
    for p in &mut m.packets {
        p.verdicts = VERDICTS;
    }
    m
}

/// Runs every packet once through each variant and checks the verdict and the bytes.
fn check(raw: &RawObject, hike: &Hike, mix: &Mix, cpu: usize) -> Result<()> {
    for (i, p) in mix.packets.iter().enumerate() {
        let tc = if p.class == BLACKLISTED { MARK } else { 0 };
        let mut want = p.bytes.clone();
        want[14] = (want[14] & 0xf0) | (tc >> 4);
        want[15] = (want[15] & 0x0f) | (tc << 4);
        let (t, out) = raw.test_run_out("raw_ddos_mark_tc", &p.bytes, 1)?;
        measure::check_verdict(t.verdict, VERDICTS, &format!("raw, packet {i}"))?;
        if out != want {
            bail!("raw, packet {i}: came out as {out:02x?}, expected {want:02x?}");
        }
        let run = hike.loader.test_run(&p.bytes, 1)?;
        measure::check_verdict(run.retval, VERDICTS, &format!("hike, packet {i}"))?;
        let st = hike.vm.vm().vm_state(cpu)?;
        if st.fault != 0 {
            let f = Fault::from_code(st.fault).map_or("unknown", |f| f.name());
            bail!("hike, packet {i}: the chain faulted ({f})");
        }
        if run.data_out != want {
            bail!(
                "hike, packet {i}: came out as {:02x?}, expected {want:02x?}",
                run.data_out
            );
        }
    }
    Ok(())
}

/// Runs the scenario.
pub fn run(settings: &Settings) -> Result<ScenarioReport> {
    let progress = Progress::new(NAME);
    progress.update("setting up");
    let mix = tc_mix();
    let raw = RawObject::load("raw_ddos_mark_tc")?;
    for (k, v) in blacklist_entries() {
        raw.update("ip6_src_in_set_map", &k, &v)?;
    }
    let hike = Hike::set_up()?;
    check(&raw, &hike, &mix, settings.cpu)?;

    let mut cases = Vec::new();
    {
        let (raw, mix) = (&raw, &mix);
        cases.push(Case {
            variant: "raw",
            param: 0,
            run: Box::new(move |_, repeat| {
                mix.run(&"raw", repeat, |p, r| {
                    raw.test_run("raw_ddos_mark_tc", p, r)
                })
            }),
        });
    }
    {
        let (hike, mix) = (&hike, &mix);
        cases.push(Case {
            variant: "hike",
            param: 0,
            run: Box::new(move |_, repeat| {
                mix.run(&"hike", repeat, |p, r| {
                    timed(r, || {
                        let out = hike.loader.test_run(p, r)?;
                        Ok((out.retval, out.duration_ns))
                    })
                })
            }),
        });
    }
    let measured = measure::measure(&mut cases, &mix.packets[0].bytes, settings, &progress)?;
    drop(cases);
    progress.finish("ns done");
    Ok(report(&measured))
}

fn median(measured: &[Measured], variant: &str) -> Option<f64> {
    measured
        .iter()
        .find(|m| m.variant == variant)
        .map(|m| m.ns_per_packet.median)
}

fn report(measured: &[Measured]) -> ScenarioReport {
    let records: Vec<Record> = measured
        .iter()
        .map(|m| Record::ns_per_packet(NAME, m))
        .collect();
    let mut bars = Vec::new();
    let mut notes = Vec::new();
    if let (Some(h), Some(r)) = (median(measured, "hike"), median(measured, "raw")) {
        let ratio = h / r;
        bars.push(Bar {
            figure: "ddos_mark at tc_ingress: hike / raw, ns per packet".to_owned(),
            paper: "—".to_owned(),
            goal: format!("≤ {GOAL}"),
            value: ratio,
            met: ratio <= GOAL,
        });
        notes.push(format!(
            "ns per packet (medians): raw {r:.1}, hike {h:.1}; hike / raw {ratio:.2} (goal ≤ {GOAL})."
        ));
    }
    ScenarioReport {
        name: NAME,
        description: "`ddos_mark`'s marking task at the TC ingress hook: `raw` is a hand-written \
            sched_cls program (`bpf/bench/raw_ddos_mark_tc.bpf.c`), `hike` the TC builds of \
            `ip6_sc`, `ip6_src_in_set` and `ip6_set_tos` with the hand-written chain, VM \
            counters off. Mix of 10 packets (1 blacklisted) run as skbs with \
            BPF_PROG_TEST_RUN on one pinned CPU; metric: ns per packet."
            .to_owned(),
        param_name: "traffic",
        param_labels: vec![(Some(0), "10% blacklisted".to_owned())],
        records,
        metrics: vec!["ns_per_packet"],
        bars,
        notes,
    }
}
