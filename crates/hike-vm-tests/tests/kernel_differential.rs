//! Differential tests: random valid chains on random packets, kernel VM against reference VM
//! (same verdict, packet bytes, result, fault, events and counters), and random invalid chains
//! (same fault, at the same instruction). Seeds are fixed so a failure reproduces; set
//! `HIKE_DIFF_CASES` to run more.

use hike_refvm::gen::{self, GenConfig, ProgramSpec};
use hike_testkit::{Harness, PROGRAMS};
use rand::rngs::SmallRng;
use rand::SeedableRng;

fn cases(default: usize) -> usize {
    std::env::var("HIKE_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config() -> GenConfig {
    GenConfig {
        chain_ids: vec![10, 11, 12, 13],
        programs: PROGRAMS
            .iter()
            .map(|&(_, id, nparams)| ProgramSpec { id, nparams })
            .collect(),
        ..GenConfig::default()
    }
}

fn run(valid: bool, seed_base: u64, n: usize) {
    let mut h = Harness::new();
    let cfg = config();
    let mut faults = 0;
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
        for _ in 0..4 {
            let packet = gen::packet(&mut rng);
            let args = gen::args(&mut rng);
            let top = chains[0].id;
            let (kernel, reference) = h.run(top, &args, &packet);
            assert_eq!(
                kernel,
                reference,
                "seed {seed}: kernel and reference differ (rerun with this seed)\n{}",
                chains
                    .iter()
                    .map(|c| format!(
                        "chain {}:\n{}",
                        c.id,
                        hike_isa::disasm::disassemble(&c.insns)
                    ))
                    .collect::<String>()
            );
            faults += usize::from(kernel.fault.is_some());
            if std::env::var("HIKE_DIFF_DEBUG").is_ok() {
                eprintln!(
                    "seed {seed} len {} verdict {} fault {:?} result {:#x} events {} runs {:?}",
                    chains[0].insns.len(),
                    kernel.verdict,
                    kernel.fault,
                    kernel.result,
                    kernel.events.len(),
                    kernel.chain_runs
                );
            }
        }
    }
    if !valid {
        assert!(
            faults > n,
            "invalid chains mostly fault: {faults} of {}",
            4 * n
        );
    }
}

#[test]
fn kernel_random_valid_chains_agree_with_the_reference_vm() {
    run(true, 1_000, cases(150));
}

#[test]
fn kernel_random_invalid_chains_fault_like_the_reference_vm() {
    run(false, 50_000, cases(150));
}
