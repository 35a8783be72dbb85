//! The script `control_plane` loads: Listing 2 as the repository has it, its swapped version,
//! its `-D` definitions on the router, and the count of its monitor.

use anyhow::{ensure, Context, Result};
use eclat_proto::v1 as pb;

/// Listing 2, as the repository has it.
pub const SCRIPT: &str = include_str!("../../../../../examples/ddos_tb_2_lev.eclat");
/// Its file name, for the daemon's diagnostics.
pub const SCRIPT_FILE: &str = "ddos_tb_2_lev.eclat";
/// Its chain.
pub const CHAIN: &str = "ddos_tb_2_lev";
/// Its name in the daemon.
pub const SCRIPT_NAME: &str = "listing2";
/// The map every path of the chain counts in, once per packet.
pub const MONITOR_MAP: &str = "monitor.monitor_map";

/// The edit that makes the replacement: one blacklisted packet in 250 sampled instead of one
/// in 500 (a different constant in the chain's code).
pub const SWAP_EDIT: (&str, &str) = ("ip6_sd_dec2zero(500)", "ip6_sd_dec2zero(250)");

/// The swapped version of the script.
pub fn swapped_script() -> Result<String> {
    ensure!(
        SCRIPT.matches(SWAP_EDIT.0).count() == 1,
        "`{}` is not once in {SCRIPT_FILE}: update SWAP_EDIT",
        SWAP_EDIT.0
    );
    Ok(SCRIPT.replace(SWAP_EDIT.0, SWAP_EDIT.1))
}

/// Every packet the monitor counted: the values of a dump of [`MONITOR_MAP`] (a number, or a
/// struct with `packets`), summed.
pub fn monitor_total(dump: &pb::DumpMapReply) -> Result<u64> {
    dump.entries
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_str(&e.value)
                .with_context(|| format!("monitor value `{}` is not JSON", e.value))?;
            v.as_u64()
                .or_else(|| v.get("packets").and_then(serde_json::Value::as_u64))
                .with_context(|| format!("monitor value `{}` has no packet count", e.value))
        })
        .sum()
}

/// The `-D` definitions of the script attached to `dev`, redirecting its samples to
/// `collector_ifindex`.
pub fn defines(dev: &str, collector_ifindex: u32) -> Vec<(String, String)> {
    vec![
        ("DEVNAME".to_owned(), dev.to_owned()),
        (
            "COLLECTOR_IFINDEX".to_owned(),
            collector_ifindex.to_string(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use eclat_catalog::PackageCatalog;
    use eclat_compiler::{compile, substitute, ChainTable, Define};

    use super::*;

    #[test]
    fn the_swap_changes_one_constant_of_the_chain() {
        let swapped = swapped_script().unwrap();
        assert_ne!(swapped, SCRIPT);
        assert_eq!(swapped.lines().count(), SCRIPT.lines().count());
        let catalog = PackageCatalog::standard().unwrap();
        let defines = [
            Define::parse("DEVNAME=veth0").unwrap(),
            Define::parse("COLLECTOR_IFINDEX=3").unwrap(),
        ];
        let asm = |text: &str| {
            let out = compile(&substitute(text, &defines), &catalog, &ChainTable::new());
            assert!(!out.has_errors(), "{:?}", out.diagnostics);
            out.script.unwrap().chain(CHAIN).unwrap().assembly.clone()
        };
        let (a, b) = (asm(SCRIPT), asm(&swapped));
        assert_eq!(a.insns.len(), b.insns.len());
        let differ = a.insns.iter().zip(&b.insns).filter(|(x, y)| x != y).count();
        assert_eq!(differ, 1, "one instruction loads the other constant");
    }

    #[test]
    fn monitor_dumps_sum_numbers_and_packet_structs() {
        let entry = |k: &str, v: &str| pb::MapEntry {
            key: k.to_owned(),
            value: v.to_owned(),
        };
        let dump = pb::DumpMapReply {
            entries: vec![entry("0", "7"), entry("1", r#"{"packets": 5}"#)],
            ..Default::default()
        };
        assert_eq!(monitor_total(&dump).unwrap(), 12);
        let bad = pb::DumpMapReply {
            entries: vec![entry("0", r#"{"bytes": 5}"#)],
            ..Default::default()
        };
        assert!(monitor_total(&bad).is_err());
    }
}
