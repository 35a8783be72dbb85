//! A short mutation-fuzzing campaign for `make test`: a few thousand mutated scripts from fixed
//! seeds. The long campaign is `make fuzz` (the `eclat-fuzz` binary).

use std::time::Duration;

use eclat_fuzz::{check_input, mutate};
use rand::rngs::SmallRng;
use rand::SeedableRng;

#[test]
fn mutated_scripts_never_crash_or_hang() {
    let seeds = eclat_fuzz_seeds();
    let mut rng = SmallRng::seed_from_u64(0x0ec1a7);
    let cases: usize = std::env::var("ECLAT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    for case in 0..cases {
        let seed = &seeds[case % seeds.len()];
        let input = mutate(&mut rng, seed, &seeds);
        if let Err(finding) = check_input(&input, Duration::from_secs(20)) {
            panic!(
                "case {case}: {finding:?}\ninput: {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}

fn eclat_fuzz_seeds() -> Vec<Vec<u8>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut seeds = Vec::new();
    for dir in ["examples", "crates/eclat-compiler/tests/corpus"] {
        if let Ok(entries) = std::fs::read_dir(root.join(dir)) {
            for e in entries.flatten() {
                if e.path().extension().is_some_and(|x| x == "eclat") {
                    seeds.push(std::fs::read(e.path()).expect("read a seed"));
                }
            }
        }
    }
    assert!(seeds.len() >= 5, "seed scripts found: {}", seeds.len());
    seeds
}
