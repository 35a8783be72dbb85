//! `ddos_mark`: the marking task of the paper's section 7.3.1. A router marks with IPv6
//! traffic class 1 the packets whose source is in a blacklist of 1,000 addresses; 10% of the
//! traffic comes from blacklisted sources; every packet is passed on.
//!
//! Variants:
//! - `raw`: one hand-written XDP program, `bpf/bench/raw_ddos_mark.bpf.c` (`raw_ddos_mark`
//!   for ns, `raw_ddos_mark_fwd` for pps), with the blacklist in the same kind of map as
//!   the HIKe program's (`bpf/bench/ip6_src_set.h`).
//! - `hike`: the `basic.ip6_sc` loader and a chain in HIKe assembly
//!   ([`variants::HAND_CHAINS`]) calling `ip6_src_in_set()` (`bpf/bench/ip6_src_in_set.bpf.c`,
//!   written with the SDK: no standard program looks up a source alone) and, for a
//!   blacklisted source, `ip6_set_tos(1)`; for pps, then `ip6_kroute()`.
//! - `eclat`: the same chains written in eCLAT (`ddos_mark.eclat`) and compiled by
//!   `eclat-compiler`, in the same VM (same programs, same IDs).
//! - `fused`: the compiled chains, the programs and the loader as one program
//!   (`hike-fused`), on the same maps; for pps, the fused `ddos_mark_fwd`.
//! - `ipset` (pps only): no XDP program of its own; the router's kernel forwards, and
//!   `ip6tables -t mangle -A PREROUTING -m set --match-set BL src -j TOS --set-tos 0x01/0xff`
//!   marks, with the blacklist in an `ipset` of type `hash:ip`.
//!
//! Metrics: `ns_per_packet` with `BPF_PROG_TEST_RUN` on a mix of 10 packets from distinct
//! sources, one blacklisted, each run `repeat` times per trial (see `measure::Mix`); and `pps`
//! through the router of `hike_netlab::RouterLab` (see `pps`), where the XDP variants forward
//! in XDP with the kernel's FIB (`bpf_fib_lookup`, as `ip6_kroute`) and `ipset` forwards in
//! the kernel.
//! Both are checked before they are measured: the marked packets are exactly those of
//! blacklisted sources, and nothing else in them changed.
//!
//! By role: [`variants`] (the blacklist, the traffic, the slots and the hand-written chains),
//! [`eclat`] (the script and its compilation), [`setup`] (the HIKe side, and the check of
//! every eBPF variant's bytes), [`ipset`] (the router's netfilter configuration), [`router`]
//! (the pps part), [`report`]; [`run`] here measures `ns_per_packet` and puts them together.

mod eclat;
mod ipset;
mod report;
mod router;
mod setup;
pub(crate) mod variants;

use anyhow::Result;

use self::setup::{check_ns_variants, Hike};
use self::variants::{blacklist_entries, mix, ECLAT_MARK, HIKE_MARK};
use crate::measure::{self, timed, Case, Progress, Settings};
use crate::raw::RawObject;
use crate::report::ScenarioReport;

/// The scenario's name.
pub const NAME: &str = "ddos_mark";

/// Runs the scenario.
pub fn run(settings: &Settings) -> Result<ScenarioReport> {
    let progress = Progress::new(NAME);
    progress.update("setting up");
    let mix = mix();

    let raw = RawObject::load("raw_ddos_mark")?;
    for (k, v) in blacklist_entries() {
        raw.update("ip6_src_in_set_map", &k, &v)?;
    }
    let hike = Hike::set_up()?;
    check_ns_variants(&raw, &hike, &mix, settings.cpu)?;

    let mut cases = Vec::new();
    {
        let (raw, mix) = (&raw, &mix);
        cases.push(Case {
            variant: "raw",
            param: 0,
            run: Box::new(move |_, repeat| {
                mix.run(&"raw", repeat, |p, r| raw.test_run("raw_ddos_mark", p, r))
            }),
        });
    }
    for (variant, chain) in [("hike", HIKE_MARK), ("eclat", ECLAT_MARK)] {
        let (hike, mix) = (&hike, &mix);
        cases.push(Case {
            variant,
            param: 0,
            run: Box::new(move |_, repeat| {
                hike.select(chain)?;
                mix.run(&variant, repeat, |p, r| {
                    timed(r, || {
                        let out = hike.loader().test_run(p, r)?;
                        Ok((out.retval, out.duration_ns))
                    })
                })
            }),
        });
    }
    {
        let (hike, mix) = (&hike, &mix);
        cases.push(Case {
            variant: "fused",
            param: 0,
            run: Box::new(move |_, repeat| {
                hike.select(ECLAT_MARK)?;
                mix.run(&"fused", repeat, |p, r| {
                    timed(r, || {
                        let out = hike.fused().test_run(p, r)?;
                        Ok((out.retval, out.duration_ns))
                    })
                })
            }),
        });
    }
    let measured = measure::measure(&mut cases, &mix.packets[0].bytes, settings, &progress)?;
    drop(cases);
    let sizes = report::program_sizes(&raw, &hike)?;

    let (pps, pps_notes) = router::run_pps(settings, &raw, &hike, &progress)?;
    progress.finish("ns and pps done");
    Ok(report::report(
        settings, &mix, &measured, &pps, pps_notes, &hike, &sizes,
    ))
}
