//! The compatibility baseline: every script of the original prototype's corpus either
//! compiles or gets the diagnostic a user would agree with. The outcome of each script is
//! recorded below with the reason.
//!
//! The scripts are copied in `tests/corpus/` so that this test does not depend on anything
//! outside the repository; when `shared/reference/eclat-corpus/` is beside the repository (as
//! in CI), the copy is checked to be identical to it.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use eclat_compiler::{chain_signatures, compile, ChainTable};
use eclat_syntax::SourceFile;

/// What `eclat check` must print for a script (empty: compiles without a diagnostic).
struct Outcome {
    script: &'static str,
    /// The exact diagnostics output.
    diagnostics: &'static str,
    /// Why this is the right outcome.
    why: &'static str,
}

const OUTCOMES: &[Outcome] = &[
    Outcome {
        script: "basic_example.eclat",
        diagnostics: "",
        why: "imports from `hike_default` and `info`, loader `hike_default.ip6_simple_classifier`",
    },
    Outcome {
        script: "chain_in_chain.eclat",
        diagnostics: "\
chain_in_chain.eclat:24:14: error: unknown program or chain `subchain`
  24 |     u64 : ret = subchain()
     |                 ^^^^^^^^
     = help: script `subchain` defines a chain `subchain`: `from chains.subchain import subchain`
",
        why: "its import `from chains.test import subchain` is commented out, so `subchain` is \
              called without being imported; the sibling script `subchain.eclat` defines it, and \
              the hint says how to import it (the body mixes tabs and spaces consistently with a \
              tab as 4 columns)",
    },
    Outcome {
        script: "ddos_sd_down2zero.eclat",
        diagnostics: "",
        why: "the DDoS set from `mynet`; `monitor (2)` with a space before the parenthesis",
    },
    Outcome {
        script: "ddos_tb.eclat",
        diagnostics: "",
        why: "the DDoS set from `mynet`",
    },
    Outcome {
        script: "ddos_tb_2_levels.eclat",
        diagnostics: "",
        why: "the DDoS set from `mynet`",
    },
    Outcome {
        script: "ddos_tb_2_levels_sample_constants.eclat",
        diagnostics: "",
        why: "programs from `hike_default`, `meter` and `sampler`; constants on one line with `;`",
    },
    Outcome {
        script: "ddos_tb_sd.eclat",
        diagnostics: "",
        why: "the DDoS set from `mynet`",
    },
    Outcome {
        script: "dpi_example.eclat",
        diagnostics: "\
dpi_example.eclat:9:15: error: unknown package `tutorial`
  9 | from programs.tutorial import dpi
    |               ^^^^^^^^
    = help: program packages: hike_default, info, meter, mynet, net, sampler
",
        why: "package `tutorial` (a user package of the prototype's tutorial, with program `dpi`) \
              is not a standard package; the uses of `dpi` are not reported again",
    },
    Outcome {
        script: "print_example.eclat",
        diagnostics: "",
        why: "constant arithmetic in arguments",
    },
    Outcome {
        script: "subchain.eclat",
        diagnostics: "",
        why: "a chain with no import, no loader and no attachment: a library for other scripts",
    },
    Outcome {
        script: "test_operations.eclat",
        diagnostics: "",
        why: "`~`, `or`, `and`, `&`, `|`, `^` (the operations the prototype mistranslated) all \
              compile, with Python's meaning",
    },
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn corpus_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("the corpus directory")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .to_string()
        })
        .filter(|n| n.ends_with(".eclat"))
        .collect();
    names.sort();
    names
}

#[test]
fn every_corpus_script_has_its_recorded_outcome() {
    let dir = corpus_dir();
    let names = corpus_files(&dir);
    let recorded: Vec<&str> = OUTCOMES.iter().map(|o| o.script).collect();
    assert_eq!(
        names, recorded,
        "every corpus script has exactly one recorded outcome"
    );
    // As `eclat check` does, chains are imported from the other scripts of the directory.
    let mut chains = ChainTable::new();
    for name in &names {
        let src = fs::read_to_string(dir.join(name)).expect("readable");
        chains.add_script(name.trim_end_matches(".eclat"), chain_signatures(&src));
    }
    let catalog = common::standard_catalog();
    let mut failures = Vec::new();
    for o in OUTCOMES {
        let src = fs::read_to_string(dir.join(o.script)).expect("readable");
        let out = compile(&src, &catalog, &chains);
        let rendered = out.render(&SourceFile::new(o.script, src));
        if rendered != o.diagnostics {
            failures.push(format!(
                "{} (recorded because: {}):\n--- expected\n{}--- actual\n{rendered}",
                o.script, o.why, o.diagnostics
            ));
        }
        assert_eq!(
            out.script.is_some(),
            o.diagnostics.is_empty(),
            "{}",
            o.script
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_copy_matches_the_shared_corpus() {
    let shared =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/eclat-corpus");
    if !shared.is_dir() {
        // A checkout without `shared/` beside it: the copy is all there is.
        return;
    }
    let ours = corpus_dir();
    assert_eq!(corpus_files(&shared), corpus_files(&ours));
    for name in corpus_files(&ours) {
        assert_eq!(
            fs::read(shared.join(&name)).expect("readable"),
            fs::read(ours.join(&name)).expect("readable"),
            "{name} differs from the shared corpus"
        );
    }
}
