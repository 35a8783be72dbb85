//! `load_ms` and `swap_ms`: the wall time of `Load` calls that load the script, and that
//! replace it by its swapped version and back; `fused_load_ms`: of a `Load` of the script
//! fused (its build with clang and its verification included).

use anyhow::Result;
use hike_netlab::signals;

use super::script::CHAIN;
use super::session::Session;
use super::{median, ms};
use crate::measure::{Progress, Settings, Summary};

/// Replacements per `swap_ms` trial.
pub const SWAPS_PER_TRIAL: usize = 3;

/// What the load and swap trials measured.
pub struct LoadSwap {
    /// `load_ms` of the trials.
    pub load: Summary,
    /// `swap_ms` of the trials.
    pub swap: Summary,
    /// `fused_load_ms` of the trials: the script loaded with `mode: fused`.
    pub fused_load: Summary,
    /// The median `Unload` call, ms.
    pub unload_ms: f64,
    /// The programs the script loads.
    pub programs: usize,
    /// The chain's instructions once linked by the daemon.
    pub chain_insns: u32,
}

/// Measures `load_ms` and `swap_ms`, after a warm-up.
pub fn measure_load_swap(
    session: &mut Session<'_>,
    settings: &Settings,
    progress: &Progress,
) -> Result<LoadSwap> {
    // A warm-up: the daemon's first load and replace pay for what is done once (the first
    // use of its catalog and of the VM's maps, say).
    progress.update("load/swap: warming up");
    session.load()?;
    session.swap(1)?;
    session.unload()?;
    let (mut loads, mut swaps, mut unloads) = (Vec::new(), Vec::new(), Vec::new());
    let mut fused_loads = Vec::new();
    let (mut programs, mut chain_insns) = (0, 0);
    for t in 0..settings.trials {
        signals::check()?;
        progress.update(&format!("load/swap: trial {}/{}", t + 1, settings.trials));
        let (reply, took) = session.load()?;
        if let Some(s) = &reply.script {
            programs = s.programs.len();
            chain_insns = s
                .chains
                .iter()
                .find(|c| c.name == CHAIN)
                .map_or(0, |c| c.insns);
        }
        loads.push(ms(took));
        let trial_swaps: Vec<f64> = (1..=SWAPS_PER_TRIAL)
            .map(|n| session.swap(n).map(ms))
            .collect::<Result<_>>()?;
        swaps.push(median(&trial_swaps));
        unloads.push(ms(session.unload()?));
        fused_loads.push(ms(session.load_fused()?));
        session.unload()?;
        if settings.verbose {
            eprintln!(
                "  load {:.1} ms, swaps {trial_swaps:.1?} ms, unload {:.1} ms",
                ms(took),
                unloads[unloads.len() - 1]
            );
        }
    }
    Ok(LoadSwap {
        load: Summary::of(&loads).expect("at least one trial"),
        swap: Summary::of(&swaps).expect("at least one trial"),
        fused_load: Summary::of(&fused_loads).expect("at least one trial"),
        unload_ms: median(&unloads),
        programs,
        chain_insns,
    })
}
