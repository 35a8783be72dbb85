//! Every pathological input and every input a fuzzing campaign ever broke the front end with:
//! each must compile or give diagnostics, on a 2 MiB stack, within a generous time.

use std::time::Duration;

use eclat_fuzz::{check_input, pathological};

#[test]
fn pathological_inputs_give_diagnostics_not_crashes() {
    for (name, input) in pathological() {
        if let Err(finding) = check_input(&input, Duration::from_secs(20)) {
            panic!("{name}: {finding:?}");
        }
    }
}

#[test]
fn saved_findings_stay_fixed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("read tests/regressions").path();
        let input = std::fs::read(&path).expect("read a saved finding");
        if let Err(finding) = check_input(&input, Duration::from_secs(20)) {
            panic!("{}: {finding:?}", path.display());
        }
    }
}
