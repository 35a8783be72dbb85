//! The long fuzzing campaign of the eCLAT front end (`make fuzz`): mutates seed scripts for
//! the given time and saves every input that panics, overflows or is slow into
//! `crates/eclat-fuzz/tests/regressions/` (written before it is compiled, so even an abort
//! leaves it behind as `pending.eclat`).
//!
//! Example: `eclat-fuzz --minutes 10 --seed 7`

use std::path::PathBuf;
use std::time::{Duration, Instant};

use eclat_fuzz::{check_input, mutate};
use rand::rngs::SmallRng;
use rand::SeedableRng;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{name} takes a number"))
            })
            .unwrap_or(default)
    };
    let minutes = arg("--minutes", 10);
    let seed = arg("--seed", 1);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out_dir = root.join("tests/regressions");
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for dir in ["../../examples", "../eclat-compiler/tests/corpus"] {
        for e in std::fs::read_dir(root.join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            if e.path().extension().is_some_and(|x| x == "eclat") {
                seeds.push(std::fs::read(e.path()).expect("read a seed"));
            }
        }
    }
    assert!(!seeds.is_empty(), "no seed scripts found");
    let mut rng = SmallRng::seed_from_u64(seed);
    let deadline = Instant::now() + Duration::from_secs(minutes * 60);
    let (mut cases, mut findings) = (0u64, 0u64);
    let mut corpus = seeds.clone();
    std::fs::create_dir_all(&out_dir).expect("create tests/regressions");
    let pending = out_dir.join("pending.eclat");
    while Instant::now() < deadline {
        let base = corpus[cases as usize % corpus.len()].clone();
        let input = mutate(&mut rng, &base, &seeds);
        std::fs::write(&pending, &input).expect("save the input before compiling it");
        match check_input(&input, Duration::from_secs(10)) {
            Ok(()) => {
                // Keep some inputs to mutate further (bounded, so memory stays flat).
                if corpus.len() < 10_000 && cases % 7 == 0 && input.len() < 64 * 1024 {
                    corpus.push(input);
                }
            }
            Err(finding) => {
                findings += 1;
                let path = out_dir.join(format!("finding-{seed}-{cases}.eclat"));
                std::fs::write(&path, &input).expect("save a finding");
                eprintln!("finding {}: {finding:?}", path.display());
            }
        }
        cases += 1;
        if cases % 10_000 == 0 {
            eprintln!("{cases} cases, {findings} findings");
        }
    }
    let _ = std::fs::remove_file(&pending);
    println!("{cases} cases in {minutes} min, {findings} findings");
    std::process::exit(i32::from(findings > 0));
}
