//! Robustness of the eCLAT front end: any input gives diagnostics or a compiled script, never a
//! panic, a stack overflow or a hang.
//!
//! [`mutate`] derives new inputs from seed scripts (the examples, the prototype's corpus and
//! pathological shapes) by byte- and token-level edits; [`check_input`] compiles one input on a
//! thread with a 2 MiB stack (what a daemon worker thread gets) and reports a panic or an
//! input that took too long. `make test` runs a short campaign (`tests/fuzz_short.rs`); the
//! `eclat-fuzz` binary runs a long one (`make fuzz`). Every crash found becomes a file in
//! `tests/regressions/`. This is a stable-toolchain mutation fuzzer, not coverage-guided:
//! cargo-fuzz needs a nightly compiler, which this project does not depend on.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use eclat_catalog::PackageCatalog;
use eclat_compiler::{compile, ChainTable};
use rand::seq::IndexedRandom;
use rand::Rng;

/// Fragments that the mutator splices into inputs: keywords, operators, brackets, types,
/// indentation and names of the standard catalog.
pub const DICTIONARY: &[&str] = &[
    "def ",
    "if ",
    "elif ",
    "else:",
    "while ",
    "for ",
    " in range(",
    "break",
    "continue",
    "pass",
    "return ",
    "and ",
    "or ",
    "not ",
    "from ",
    "import ",
    "programs.",
    "loaders.",
    "chains.",
    "prog.net",
    "hike_default",
    "monitor(",
    "hike_drop()",
    "ip6_sc",
    "[ipv6_sc_map]",
    " = { (0): (c) }",
    ".attach('DEVNAME', 'xdp')",
    "u8 : ",
    "u64 : ",
    ": s32 = ",
    "packet.u16[",
    "packet.u8[",
    "packet.len",
    "len(packet)",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    ";",
    ",",
    "\n",
    "\n    ",
    "\t",
    "    ",
    "#",
    "'",
    "\"",
    "\\",
    "0x",
    "0b",
    "_",
    "-",
    "~",
    "+",
    "*",
    "//",
    "/",
    "%",
    "<<",
    ">>",
    "&",
    "|",
    "^",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+=",
    "//=",
    "<<=",
    "True",
    "False",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "LIMIT",
];

/// What went wrong with one input.
#[derive(Debug)]
pub enum Finding {
    /// The compiler panicked (or overflowed the worker's stack, which aborts the process: a
    /// campaign that dies is itself the finding, with the input saved first by the runner).
    Panic(String),
    /// The compiler took longer than the limit.
    Slow(Duration),
}

/// The standard catalog, read from the objects once per process.
fn standard_catalog() -> &'static PackageCatalog {
    static CATALOG: OnceLock<PackageCatalog> = OnceLock::new();
    CATALOG.get_or_init(|| PackageCatalog::standard().expect("the standard catalog"))
}

/// Compiles `input` (lossily decoded as UTF-8, like `eclat check` after reading) on a thread
/// with a 2 MiB stack; `Err` if it panicked or took longer than `limit`.
pub fn check_input(input: &[u8], limit: Duration) -> Result<(), Finding> {
    let src = String::from_utf8_lossy(input).into_owned();
    let catalog = standard_catalog();
    let start = Instant::now();
    let outcome = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let out = compile(&src, catalog, &ChainTable::new());
            // Rendering is part of the path a user sees.
            let file = eclat_syntax::diagnostic::SourceFile::new("fuzz.eclat", src.as_str());
            let _ = out.render(&file);
        })
        .expect("spawn a compile thread")
        .join();
    let elapsed = start.elapsed();
    match outcome {
        Err(panic) => Err(Finding::Panic(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
        )),
        Ok(()) if elapsed > limit => Err(Finding::Slow(elapsed)),
        Ok(()) => Ok(()),
    }
}

/// One random edit of `input`: flip, insert, delete or duplicate bytes, splice a dictionary
/// fragment or a slice of another seed, repeat a line, or cut the input short.
pub fn mutate<R: Rng + ?Sized>(rng: &mut R, input: &[u8], seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let at = if out.is_empty() {
            0
        } else {
            rng.random_range(0..=out.len())
        };
        match rng.random_range(0..8) {
            0 if !out.is_empty() => {
                let i = rng.random_range(0..out.len());
                out[i] ^= 1 << rng.random_range(0..8);
            }
            1 => out.insert(at, rng.random()),
            2 if at < out.len() => {
                let end = (at + rng.random_range(1..16)).min(out.len());
                out.drain(at..end);
            }
            3 => {
                let frag = DICTIONARY.choose(rng).expect("dictionary is not empty");
                out.splice(at..at, frag.bytes());
            }
            4 => {
                if let Some(seed) = seeds.choose(rng).filter(|s| !s.is_empty()) {
                    let a = rng.random_range(0..seed.len());
                    let b = (a + rng.random_range(1..200)).min(seed.len());
                    out.splice(at..at, seed[a..b].iter().copied());
                }
            }
            5 => {
                // Repeat one line many times (long chains, deep nesting when indented).
                let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
                if let Some(line) = lines.choose(rng) {
                    let line = [*line, b"\n"].concat();
                    let times = rng.random_range(2..300);
                    let rep: Vec<u8> = line.repeat(times);
                    out.splice(at..at, rep);
                }
            }
            6 => out.truncate(at),
            _ => {
                let frag = DICTIONARY.choose(rng).expect("dictionary is not empty");
                let times = rng.random_range(2..500);
                out.splice(at..at, frag.repeat(times).into_bytes());
            }
        }
    }
    out
}

/// Inputs that once broke the front end or probe its limits, built in code so that they can
/// be large without large files: deep brackets, deep blocks, long operator chains, a 1 MB
/// line, invalid UTF-8.
pub fn pathological() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = Vec::new();
    let expr = |e: String| format!("def c():\n    x = 1\n    y = {e}\n").into_bytes();
    v.push((
        "100k nested parentheses".into(),
        expr(format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000))),
    ));
    v.push(("200k-term sum".into(), expr(vec!["1"; 200_000].join("+"))));
    v.push((
        "100k-term and".into(),
        expr(vec!["x"; 100_000].join(" and ")),
    ));
    v.push((
        "100k-term comparison chain".into(),
        expr(vec!["x"; 100_000].join(" < ")),
    ));
    v.push((
        "100k unary minus".into(),
        expr(format!("{}x", "-".repeat(100_000))),
    ));
    v.push((
        "100k not".into(),
        expr(format!("{}x", "not ".repeat(100_000))),
    ));
    let mut blocks = String::from("def c():\n");
    for i in 0..3000 {
        blocks.push_str(&" ".repeat(4 * (i + 1)));
        blocks.push_str("if 1:\n");
    }
    blocks.push_str(&" ".repeat(4 * 3001));
    blocks.push_str("pass\n");
    v.push(("3000 nested blocks".into(), blocks.into_bytes()));
    v.push(("1 MB line".into(), vec![b'x'; 1 << 20]));
    // Found by `make fuzz`: 188,000 lexical errors in 2.7 MB took 34 s (a quadratic line
    // lookup) and rendered 1.3 GB of messages.
    let garbage = format!(
        "def c():\n{}",
        format!("    x = {}\n", "$".repeat(120)).repeat(1600)
    );
    v.push(("200k lexical errors".into(), garbage.into_bytes()));
    v.push((
        "invalid UTF-8".into(),
        b"def c():\n    x = 1\xff\xfe\n    return x\n".to_vec(),
    ));
    v.push((
        "100k calls in a call".into(),
        expr(format!(
            "{}1{}",
            "monitor(".repeat(100_000),
            ")".repeat(100_000)
        )),
    ));
    v.push((
        "100k subscripts".into(),
        expr(format!(
            "packet.u8[{}0{}",
            "packet.u8[".repeat(50_000),
            "]".repeat(50_001)
        )),
    ));
    v
}
