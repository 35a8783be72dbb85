//! Fused mode against the interpreter on real scripts: every script of the compatibility
//! corpus that compiles and has a loader, and the README's example, loaded interpreted and
//! fused (each in its own private VM) and given the same packets on the same replay clock:
//! each packet's run (verdict, bytes, result, fault, cause, events, chains and programs it
//! went through) and, at the end, every program map must be the same. At the hook of
//! `HIKE_TEST_HOOK` (`hike_testkit::hook`; XDP when unset): `make test` runs it at `tc_ingress`
//! too, on the objects built for TC.

use std::path::{Path, PathBuf};

use eclat_compiler::Define;
use eclat_link::project::{catalog, compile_all, script_name};
use eclat_link::{link, LoadOptions, LoadedScript, Mode, Unit};
use hike_testkit::packet::{arp, ipv4_udp, ipv6_udp, A4, A6, B4, B6, C6};

/// A flood from A to B (enough to exhaust the token buckets and samplers), legitimate traffic
/// from C, IPv4 and ARP (which the IPv6 loaders leave alone), on a clock 10 µs apart (100,000
/// packets a second: above the default rates of the token buckets).
fn packets() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for i in 0..1500u16 {
        out.push(ipv6_udp(A6, B6, 40000 + i, 53, 64));
        if i % 50 == 0 {
            out.push(ipv6_udp(C6, B6, 1234, 80, 200));
            out.push(ipv4_udp(A4, B4, 1234, 53, 32));
            out.push(arp());
        }
    }
    out
}

/// The hook of this test run, as the catalog names it.
fn hook() -> eclat_catalog::Hook {
    let name = hike_testkit::hook::test_hook().to_string();
    eclat_catalog::Hook::from_name(&name).unwrap_or_else(|| panic!("no catalog hook `{name}`"))
}

fn load(file: &Path, defines: &[Define], mode: Mode) -> Option<LoadedScript> {
    let catalog = catalog(&[]).expect("the standard catalog");
    let compiled = compile_all(file, &script_name(file), defines, &catalog);
    let units = compiled.units?;
    let (main, others) = units.split_first().expect("the main script");
    let others: Vec<Unit<'_>> = others
        .iter()
        .map(|(name, script)| Unit { name, script })
        .collect();
    let linked = link(
        &catalog,
        Unit {
            name: &main.0,
            script: &main.1,
        },
        &others,
        None,
    )
    .ok()?;
    let opts = LoadOptions {
        trace: true,
        mode,
        hook: Some(hook()),
        script_dir: file.parent().map(Path::to_path_buf),
        ..LoadOptions::default()
    };
    Some(
        LoadedScript::load(&catalog, linked, &opts)
            .unwrap_or_else(|e| panic!("{} ({mode}): {e}", file.display())),
    )
}

/// Runs `file` in both modes; false if it does not compile or link (no loader).
fn same_in_both_modes(file: &Path, defines: &[Define]) -> bool {
    let Some(interpreted) = load(file, defines, Mode::Interpreted) else {
        return false;
    };
    let fused = load(file, defines, Mode::Fused).expect("loads fused when it loads interpreted");
    assert_eq!(fused.mode(), Mode::Fused);
    assert_eq!(fused.hook(), hook());
    let (ri, rf) = (
        interpreted.runner().expect("a runner"),
        fused.runner().expect("a runner"),
    );
    let t0 = 1_704_067_200_000_000_000u64;
    let mut verdicts = std::collections::BTreeSet::new();
    for (n, p) in packets().iter().enumerate() {
        let clock = Some(t0 + n as u64 * 10_000);
        let a = ri.run_at(p, clock).expect("interpreted run");
        let b = rf.run_at(p, clock).expect("fused run");
        assert_eq!(
            a,
            b,
            "{}: packet {n} differs (left interpreted, right fused)",
            file.display()
        );
        verdicts.insert(format!("{:?}", a.verdict));
    }
    drop((ri, rf));
    assert_eq!(
        interpreted.dump_maps().expect("maps"),
        fused.dump_maps().expect("maps"),
        "{}: the maps differ",
        file.display()
    );
    eprintln!(
        "{}: same in both modes at {} ({verdicts:?})",
        file.display(),
        hook()
    );
    true
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../eclat-compiler/tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the corpus")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "eclat"))
        .collect();
    files.sort();
    files
}

#[test]
fn kernel_fused_corpus_scripts_run_as_interpreted() {
    let mut ran = 0;
    for file in corpus() {
        ran += usize::from(same_in_both_modes(&file, &[]));
    }
    // Eleven scripts: two do not compile (recorded in eclat-compiler's corpus test), one is
    // a library of chains without a loader.
    assert!(ran >= 8, "only {ran} corpus scripts ran");
}

#[test]
fn kernel_fused_readme_example_runs_as_interpreted() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ddos_tb_2_lev.eclat");
    let defines = [Define::parse("COLLECTOR_IFINDEX=6").expect("a define")];
    assert!(same_in_both_modes(&file, &defines));
}
