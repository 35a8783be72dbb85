//! `ddos_listing2`: the paper's Listing 2 (`ddos_tb_2_lev`: two token buckets, a blacklist, a
//! sampler and a monitor).
//!
//! - `hike`: the chain in HIKe assembly (`hike_testkit::listing2`, statement by statement as
//!   in the eCLAT script, the same as `crates/hike-stdlib-tests/tests/kernel_ddos_listing2.rs`)
//!   on the standard programs, behind the `basic.ip6_sc` loader, VM counters off.
//! - `fused`: the same chain, programs and loader fused into one program (`hike-fused`), in
//!   a VM of its own.
//! - `raw`: `bpf/bench/raw_ddos_listing2.bpf.c`, one hand-written XDP program with maps of
//!   the same types, keys, values and semantics, making the same decisions.
//!
//! Before measuring, both run the same packet sequence from a clean state with tiny buckets
//! (the flood of the stdlib test: passed while the buckets allow it, then blacklisted and
//! dropped, one in 500 redirected) and must agree, packet by packet, with each other and with
//! the expected verdicts and counters. Then the state is reset and the buckets made large, so
//! that in-profile traffic stays in profile however fast the test runs go, and one (source,
//! destination) pair is blacklisted by the control plane.
//!
//! Metric `ns_per_packet` on a mix of 10 packets: 9 in-profile pairs (the common path:
//! blacklist lookup, destination bucket, monitor, pass) and 1 blacklisted pair (blacklist hit,
//! sampler, monitor, drop; every 500th redirected). After measuring, each side's monitor
//! counters must equal the packets it ran of each kind: the same decisions, at full speed.
//!
//! By role: [`variants`] (addresses, the mix, the buckets), [`sides`] (the set-up of both and
//! what the checks see of them), [`check`] (decisions before, counters after), [`report`];
//! [`run`] here puts them together.

mod check;
mod report;
mod sides;
mod variants;

use std::cell::Cell;

use anyhow::Result;

use self::check::{check_counts, check_decisions, prepare};
use self::sides::{Hike, Raw, Side};
use self::variants::{mix, BLACKLISTED, IN_PROFILE};
use crate::measure::{self, Case, Progress, Settings};
use crate::raw::RawObject;
use crate::report::ScenarioReport;

/// The scenario's name.
pub const NAME: &str = "ddos_listing2";

/// Runs the scenario.
pub fn run(settings: &Settings) -> Result<ScenarioReport> {
    let progress = Progress::new(NAME);
    progress.update("setting up");
    let raw = Raw {
        obj: RawObject::load("raw_ddos_listing2")?,
    };
    let hike = Hike::set_up(settings.cpu)?;
    let fused = Hike::set_up_fused(settings.cpu)?;
    let sides: [&dyn Side; 3] = [&raw, &hike, &fused];
    progress.update("checking decisions");
    check_decisions(&sides)?;
    for side in sides {
        prepare(side)?;
    }

    let mix = mix();
    // Packets each side ran, per class, to check its counters afterwards.
    let ran: [[Cell<u64>; 2]; 3] = Default::default();
    let mut cases: Vec<Case<'_>> = sides
        .iter()
        .zip(&ran)
        .map(|(side, ran)| {
            let (side, mix) = (*side, &mix);
            Case {
                variant: side.name(),
                param: 0,
                run: Box::new(move |_, repeat| {
                    let mut i = 0;
                    mix.run(&side.name(), repeat, |p, r| {
                        let class = mix.packets[i].class;
                        i += 1;
                        let t = side.run(p, r)?;
                        ran[class].set(ran[class].get() + u64::from(r.max(1)));
                        Ok(t)
                    })
                }),
            }
        })
        .collect();
    let measured = measure::measure(&mut cases, &mix.packets[0].bytes, settings, &progress)?;
    drop(cases);
    for (side, ran) in sides.iter().zip(&ran) {
        check_counts(*side, ran[IN_PROFILE].get(), ran[BLACKLISTED].get())?;
    }
    progress.finish("done");
    Ok(report::report(settings, &mix, &measured))
}
