//! Fused mode against the interpreter: random chains (the differential tests' generator) run
//! on the kernel VM interpreted and as one fused program (`hike-fused`), on the same packets
//! with the same arguments: same verdict, packet bytes, result, fault (reason, pc, chain),
//! events, fault counters and chain-run counters. Seeds are fixed so a failure reproduces;
//! `HIKE_FUSED_CASES` runs more.

use hike_refvm::gen::{self, GenConfig, ProgramSpec};
use hike_testkit::{Harness, Outcome, PROGRAMS};
use rand::rngs::SmallRng;
use rand::SeedableRng;

fn cases(default: usize) -> usize {
    std::env::var("HIKE_FUSED_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Chains of the size and shape a script's are (a fused program is verified whole: the
/// verifier explores every path of the generator's largest chains past its million
/// instructions, see docs/eclat.md "Fused mode").
fn config() -> GenConfig {
    GenConfig {
        chain_ids: vec![10, 11, 12],
        max_insns: 40,
        max_nesting: 2,
        programs: PROGRAMS
            .iter()
            .map(|&(_, id, nparams)| ProgramSpec { id, nparams })
            .collect(),
        ..GenConfig::default()
    }
}

fn untimed(mut o: Outcome) -> Outcome {
    for e in &mut o.events {
        e.ts_ns = 0;
    }
    o
}

/// Runs `n` random cases; returns how many could not be fused (recursive chains).
fn run(valid: bool, seed_base: u64, n: usize) -> usize {
    let mut h = Harness::new();
    let cfg = config();
    let mut not_fused = 0;
    for case in 0..n {
        let seed = seed_base + case as u64;
        let mut rng = SmallRng::seed_from_u64(seed);
        let chains = if valid {
            gen::valid_chains(&mut rng, &cfg)
        } else {
            gen::invalid_chains(&mut rng, &cfg)
        };
        for c in &chains {
            h.install_insns(c.id, &c.insns, c.nparams);
        }
        let listing = || {
            chains
                .iter()
                .map(|c| {
                    format!(
                        "chain {}:\n{}",
                        c.id,
                        hike_isa::disasm::disassemble(&c.insns)
                    )
                })
                .collect::<String>()
        };
        if let Err(e) = h.fused() {
            assert!(
                e.contains("recursive chain cannot be fused") || e.contains("program is too large"),
                "seed {seed}: the chains do not fuse: {e}\n{}",
                listing()
            );
            not_fused += 1;
            for _ in 0..4 {
                gen::packet(&mut rng);
                gen::args(&mut rng);
            }
            continue;
        }
        for _ in 0..4 {
            let packet = gen::packet(&mut rng);
            let args = gen::args(&mut rng);
            let top = chains[0].id;
            let interpreted = untimed(h.run_kernel(top, &args, &packet).0);
            let fused = untimed(h.run_fused(top, &args, &packet));
            assert_eq!(
                fused,
                interpreted,
                "seed {seed}: fused and interpreted differ (rerun with this seed)\n{}",
                listing()
            );
        }
    }
    eprintln!("{not_fused} of {n} cases not fused");
    not_fused
}

#[test]
fn kernel_fused_random_valid_chains_agree_with_the_interpreter() {
    let n = cases(40);
    let not_fused = run(true, 1_000, n);
    assert!(not_fused * 4 < n, "{not_fused} of {n} cases did not fuse");
}

#[test]
fn kernel_fused_random_invalid_chains_fault_like_the_interpreter() {
    let n = cases(40);
    let not_fused = run(false, 50_000, n);
    assert!(not_fused * 2 < n, "{not_fused} of {n} cases did not fuse");
}
