//! `compile_ms`: Listing 2 compiled by `eclat-compiler` in this process, against the standard
//! catalog (read once, as the daemon holds it).

use std::time::Instant;

use anyhow::{bail, Context, Result};
use eclat_catalog::PackageCatalog;
use eclat_compiler::{compile, substitute, ChainTable, Define};
use hike_netlab::signals;

use super::script::{CHAIN, SCRIPT, SCRIPT_FILE};
use super::{median, ms};
use crate::measure::{Progress, Settings, Summary};

/// Compilations per `compile_ms` trial (with `--quick`: [`QUICK_COMPILES_PER_TRIAL`]).
pub const COMPILES_PER_TRIAL: u32 = 1000;
const QUICK_COMPILES_PER_TRIAL: u32 = 50;

/// `compile_ms`: the trials' medians, the chain's length and the compilations per trial.
pub fn measure_compile(
    settings: &Settings,
    defines: &[(String, String)],
    progress: &Progress,
) -> Result<(Summary, usize, u32)> {
    progress.update("compile: reading the standard catalog");
    let catalog = PackageCatalog::standard().context("read the standard catalog")?;
    let defines: Vec<Define> = defines
        .iter()
        .map(|(name, value)| Define {
            name: name.clone(),
            value: value.clone(),
        })
        .collect();
    let chains = ChainTable::new();
    let once = || -> Result<usize> {
        let src = substitute(SCRIPT, &defines);
        let out = compile(&src, &catalog, &chains);
        if out.has_errors() {
            let file = eclat_syntax::diagnostic::SourceFile::new(SCRIPT_FILE, &src);
            bail!("{SCRIPT_FILE} does not compile:\n{}", out.render(&file));
        }
        let script = out.script.context("no script without errors")?;
        let chain = script
            .chain(CHAIN)
            .with_context(|| format!("{SCRIPT_FILE} has no chain `{CHAIN}`"))?;
        Ok(chain.assembly.insns.len())
    };
    let insns = once()?;
    let runs = if settings.quick {
        QUICK_COMPILES_PER_TRIAL
    } else {
        COMPILES_PER_TRIAL
    };
    let mut trials = Vec::new();
    for t in 0..settings.trials {
        signals::check()?;
        progress.update(&format!("compile: trial {}/{}", t + 1, settings.trials));
        let mut runs_ms = Vec::with_capacity(runs as usize);
        for _ in 0..runs {
            let started = Instant::now();
            std::hint::black_box(once()?);
            runs_ms.push(ms(started.elapsed()));
        }
        let m = median(&runs_ms);
        if settings.verbose {
            eprintln!("  compile trial {}: median {m:.3} ms of {runs}", t + 1);
        }
        trials.push(m);
    }
    Ok((
        Summary::of(&trials).expect("at least one trial"),
        insns,
        runs,
    ))
}
