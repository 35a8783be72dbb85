//! A script that reads and writes packet fields by name, compiled with a `-D` address and run
//! (root) behind the standard single-chain classifiers on frames without a VLAN tag, with one
//! and with two (QinQ): the loaders find the L3 header behind the tags, the fields read what
//! the frames hold, and the writes keep the checksums right.

use eclat_catalog::PackageCatalog;
use eclat_compiler::{compile_with_defines, ChainTable, Define};
use eclat_link::{link, LoadOptions, LoadedScript, Unit};
use hike_isa::abi::XdpAction;
use hike_testkit::fields::{self, frames, FieldFrame};

/// Loads `src` (with `-D NET=...`) and runs every frame of `shapes` through it: the runs,
/// with their frames.
fn runs(src: &str, net: &str, shapes: &[&str]) -> Vec<(FieldFrame, eclat_link::PacketRun)> {
    let catalog = PackageCatalog::standard().expect("the standard catalog");
    let defines = [Define::parse(&format!("NET={net}")).expect("a define")];
    let (_, out) = compile_with_defines(src, &defines, &catalog, &ChainTable::new());
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let script = out.script.expect("compiled");
    let linked = link(
        &catalog,
        Unit {
            name: "fields",
            script: &script,
        },
        &[],
        None,
    )
    .expect("linked");
    let loaded = LoadedScript::load(&catalog, linked, &LoadOptions::default()).expect("loaded");
    let runner = loaded.runner().expect("a runner");
    frames()
        .into_iter()
        .filter(|f| shapes.contains(&fields::shape(f)))
        .map(|f| {
            let run = runner.run(&f.bytes).expect("test run");
            (f, run)
        })
        .collect()
}

const IP6: &str = "
from programs.net import hike_drop
from loaders.basic import ip6_sc
ip6_sc[ipv6_sc_map] = { (0): (route) }
def route():
    if packet.ip6.src in NET and packet.udp.dport == 2222:
        packet.ip6.hlim -= 1
        packet.udp.dport = 53
        return packet.eth.vlan
    hike_drop()
    return 0
";

#[test]
fn kernel_ip6_sc_script_reads_and_writes_fields_behind_vlan_tags() {
    let runs = runs(IP6, "2001:db8::/32", &["ip6-hbh-udp", "ip6-tcp", "ip4-udp"]);
    assert_eq!(runs.len(), 9);
    for (f, run) in runs {
        let what = &f.name;
        match fields::shape(&f) {
            "ip6-hbh-udp" => {
                assert!(run.fault.is_none(), "{what}: {:?}", run.fault);
                assert_eq!(run.result, Some(f.expected["eth.vlan"]), "{what}");
                let p = &run.data_out;
                assert_eq!(p[f.l3_off + 7], 32, "{what}: hop limit 33 - 1");
                assert_eq!(
                    &p[f.l4_off + 2..f.l4_off + 4],
                    &53u16.to_be_bytes(),
                    "{what}"
                );
                fields::verify_checksums(&f, p).unwrap_or_else(|e| panic!("{what}: {e}"));
            }
            "ip6-tcp" => assert_eq!(run.verdict, Some(XdpAction::Drop), "{what}"),
            _ => assert!(!run.booted, "{what}: ip6_sc does not run IPv4"),
        }
    }
}

const IP4: &str = "
from loaders.basic import ip4_sc
ip4_sc[ipv4_sc_map] = { (0): (mark) }
def mark():
    if packet.ip4.src not in NET:
        return 0
    packet.ip4.tos = 0xb8
    packet.ip4.ttl -= 1
    return packet.tcp.present * 1000 + packet.l4.dport
";

#[test]
fn kernel_ip4_sc_script_reads_and_writes_fields_behind_vlan_tags() {
    let runs = runs(IP4, "192.0.2.0/24", &["ip4-udp", "ip4-tcp", "arp"]);
    assert_eq!(runs.len(), 9);
    for (f, run) in runs {
        let what = &f.name;
        if fields::shape(&f) == "arp" {
            assert!(!run.booted, "{what}");
            continue;
        }
        let expected = f.expected["tcp.present"] * 1000 + f.expected["l4.dport"];
        assert_eq!(run.result, Some(expected), "{what}");
        let p = &run.data_out;
        assert_eq!(
            (p[f.l3_off + 1], p[f.l3_off + 8]),
            (0xb8, 60),
            "{what}: TOS, TTL 61 - 1"
        );
        fields::verify_checksums(&f, p).unwrap_or_else(|e| panic!("{what}: {e}"));
    }
    // Outside the prefix: nothing is written.
    for (f, run) in self::runs(IP4, "10.0.0.0/8", &["ip4-udp"]) {
        assert_eq!(
            (run.result, &run.data_out),
            (Some(0), &f.bytes),
            "{}",
            f.name
        );
    }
}
