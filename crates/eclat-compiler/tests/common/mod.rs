//! The test harness: the standard catalog's snapshot ([`standard_catalog`]), a small program
//! catalog (package `t`), compilation that panics with the rendered diagnostics, and runs of
//! compiled chains on the reference VM with mocked programs.

#![allow(dead_code, reason = "each test file uses a part of the harness")]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use eclat_compiler::catalog::{CType, Catalog, Field, FieldKind, LoaderSig, MapSig, ProgramSig};
use eclat_compiler::{compile, ChainTable, CompiledScript, PackageTable};
use eclat_syntax::ast::IntType;
use eclat_syntax::SourceFile;
use hike_isa::abi::Fault;
use hike_isa::Symbols;
use hike_refvm::{xdp, Boot, ProgramOutcome, RefVm};

/// The standard catalog as `eclat-catalog` reads it from the objects: the snapshot its test
/// `standard_snapshot` writes (and keeps current).
pub fn standard_catalog() -> PackageTable {
    serde_json::from_str(include_str!("../standard_catalog.json"))
        .expect("tests/standard_catalog.json is a catalog table")
}

/// Package `t`: programs whose mocks below make their effect observable.
pub struct TestCatalog {
    programs: BTreeMap<String, ProgramSig>,
    loader: LoaderSig,
}

/// (name, params, terminal)
const PROGRAMS: &[(&str, &[&str], bool)] = &[
    ("ret", &["x"], false),
    ("probe", &["x"], false),
    ("add", &["a", "b"], false),
    ("zero", &[], false),
    ("five", &["a", "b", "c", "d", "e"], false),
    ("drop", &[], true),
    ("accept", &[], true),
];

impl TestCatalog {
    pub fn new() -> TestCatalog {
        let programs = PROGRAMS
            .iter()
            .map(|(name, params, terminal)| {
                (
                    name.to_string(),
                    ProgramSig {
                        name: name.to_string(),
                        home: "t".into(),
                        params: params.iter().map(|p| p.to_string()).collect(),
                        terminal: *terminal,
                        maps: Vec::new(),
                    },
                )
            })
            .collect();
        let loader = LoaderSig {
            name: "ld".into(),
            package: "t".into(),
            maps: vec![MapSig {
                name: "ld_map".into(),
                aliases: Vec::new(),
                key_type: CType::new("__u32", 4),
                key: vec![Field {
                    name: "key".into(),
                    kind: FieldKind::Int(IntType::U32),
                    domain: None,
                }],
                value_type: CType::new("__u32", 4),
                value: vec![Field {
                    name: "value".into(),
                    kind: FieldKind::Chain,
                    domain: None,
                }],
            }],
        };
        TestCatalog { programs, loader }
    }
}

impl Catalog for TestCatalog {
    fn program_packages(&self) -> Vec<String> {
        vec!["t".into()]
    }

    fn program(&self, package: &str, name: &str) -> Option<&ProgramSig> {
        (package == "t").then(|| self.programs.get(name)).flatten()
    }

    fn loader_packages(&self) -> Vec<String> {
        vec!["t".into()]
    }

    fn loader(&self, package: &str, name: &str) -> Option<&LoaderSig> {
        (package == "t" && name == "ld").then_some(&self.loader)
    }
}

/// The import line that brings every test program into scope.
pub const IMPORTS: &str = "from programs.t import ret, probe, add, zero, five, drop, accept\n";

/// Compiles `src` (with [`IMPORTS`] prepended) or panics with the diagnostics.
pub fn compile_ok(src: &str) -> CompiledScript {
    let full = format!("{IMPORTS}{src}");
    let out = compile(&full, &TestCatalog::new(), &ChainTable::new());
    let rendered = out.render(&SourceFile::new("test.eclat", full.clone()));
    match out.script {
        Some(s) if !out.has_errors() => s,
        _ => panic!("compilation failed:\n{rendered}\n--- source:\n{full}"),
    }
}

/// The messages of every diagnostic of `src` (with [`IMPORTS`] prepended).
pub fn messages(src: &str) -> Vec<String> {
    let full = format!("{IMPORTS}{src}");
    compile(&full, &TestCatalog::new(), &ChainTable::new())
        .diagnostics
        .iter()
        .map(|d| d.kind.to_string())
        .collect()
}

/// Program calls in order: name and arguments.
type CallLog = Rc<RefCell<Vec<(String, Vec<u64>)>>>;

/// What a run shows.
#[derive(Debug)]
pub struct Run {
    /// The top chain's `r0` when it returned.
    pub result: u64,
    /// The packet's verdict.
    pub verdict: u32,
    /// The fault, if any.
    pub fault: Option<Fault>,
    /// Program calls in order: name and arguments.
    pub calls: Vec<(String, Vec<u64>)>,
    /// The packet afterwards.
    pub packet: Vec<u8>,
}

impl Run {
    /// The names of the programs called, in order.
    pub fn called(&self) -> Vec<&str> {
        self.calls.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// Runs chain `chain` of `script` with `args` on a packet of bytes 0, 1, 2, ... 63.
pub fn run_script(script: &CompiledScript, chain: &str, args: &[u64]) -> Run {
    run_with_packet(script, chain, args, (0..64).collect())
}

/// Runs chain `chain` of `script` with `args` on `packet`, every program mocked.
pub fn run_with_packet(script: &CompiledScript, chain: &str, args: &[u64], packet: Vec<u8>) -> Run {
    run_booted(script, chain, args, packet, false)
}

/// Runs chain `chain` of `script` on `packet` with the metadata a standard loader would give
/// it (`hike_refvm::parse_packet`, the Rust mirror of `hike_parse()`).
pub fn run_parsed(script: &CompiledScript, chain: &str, args: &[u64], packet: Vec<u8>) -> Run {
    run_booted(script, chain, args, packet, true)
}

fn run_booted(
    script: &CompiledScript,
    chain: &str,
    args: &[u64],
    packet: Vec<u8>,
    parsed: bool,
) -> Run {
    let mut symbols = Symbols::new();
    for (i, c) in script.chains.iter().enumerate() {
        symbols.add_chain(i as u32, c.name.clone());
    }
    for (i, (name, _, _)) in PROGRAMS.iter().enumerate() {
        symbols.add_prog(i as u32, *name);
    }
    let mut vm = RefVm::new();
    for (i, c) in script.chains.iter().enumerate() {
        let insns = c.assembly.link(&symbols).expect("every callee is known");
        vm.load_chain(i as u32, insns, c.params.len() as u8)
            .expect("a valid chain");
    }
    let calls: CallLog = Rc::default();
    for (i, (name, params, _)) in PROGRAMS.iter().enumerate() {
        let log = calls.clone();
        let n = params.len();
        let name = name.to_string();
        vm.load_program(i as u32, move |call| {
            let a = call.args();
            log.borrow_mut().push((name.clone(), a[..n].to_vec()));
            match name.as_str() {
                "ret" | "probe" => ProgramOutcome::Return(a[0]),
                "add" => ProgramOutcome::Return(a[0].wrapping_add(a[1])),
                "zero" => ProgramOutcome::Return(0),
                "five" => ProgramOutcome::Return(
                    a[0] + 10 * a[1] + 100 * a[2] + 1000 * a[3] + 10000 * a[4],
                ),
                "drop" => ProgramOutcome::Verdict(xdp::DROP),
                _ => ProgramOutcome::Verdict(xdp::PASS),
            }
        })
        .expect("a program id in range");
    }
    let id = script
        .chains
        .iter()
        .position(|c| c.name == chain)
        .unwrap_or_else(|| panic!("no chain `{chain}`"));
    let meta = if parsed {
        hike_refvm::parse_packet(&packet)
    } else {
        hike_isa::abi::PktMeta::default()
    };
    let out = vm.run(Boot::new(id as u32, packet).with_args(args).with_meta(meta));
    let calls = calls.borrow().clone();
    Run {
        result: out.result,
        verdict: out.verdict,
        fault: out.fault,
        calls,
        packet: out.packet,
    }
}

/// Compiles `src` and runs its chain `main` with `args`.
pub fn run(src: &str, args: &[u64]) -> Run {
    let script = compile_ok(src);
    run_script(&script, "main", args)
}

/// Compiles `def main(PARAMS): return EXPR`-style `src`, runs `main` with `args` and checks
/// the result and that it did not fault.
#[track_caller]
pub fn eq(src: &str, args: &[u64], expected: u64) {
    let r = run(src, args);
    assert_eq!(r.fault, None, "fault in\n{src}");
    assert_eq!(
        r.result, expected,
        "result of\n{src}\nwith {args:?}: {} (signed {}) instead of {} (signed {})",
        r.result, r.result as i64, expected, expected as i64
    );
}

/// Checks that `src` is rejected with a diagnostic containing `message`.
#[track_caller]
pub fn fail(src: &str, message: &str) {
    let msgs = messages(src);
    assert!(
        msgs.iter().any(|m| m.contains(message)),
        "expected an error containing {message:?}, got {msgs:#?}\n--- source:\n{src}"
    );
}
