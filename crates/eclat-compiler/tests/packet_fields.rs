//! Packet fields by name and address comparisons on the reference VM, with the metadata a
//! standard loader gives each frame (`hike_refvm::parse_packet`): every field of every layer
//! on IPv4/IPv6/ARP frames with UDP, TCP, ICMP, untagged, behind a VLAN tag and behind QinQ;
//! every write, with its checksums recomputed from the bytes; address literals. The frames
//! and expectations are `hike_testkit::fields`'s, which the kernel tests share.

mod common;

use common::run_parsed;
use eclat_compiler::fields::LAYERS;
use eclat_compiler::{compile, ChainTable, CompiledScript, PackageTable};
use eclat_syntax::SourceFile;
use hike_testkit::fields::{
    self, address_chain, address_script, frames, read_chain, read_script, write_chain,
    write_script, ADDRESS_CASES, READ_FIELDS, WRITES,
};

fn compiled(src: &str) -> CompiledScript {
    let out = compile(src, &PackageTable::new(), &ChainTable::new());
    let rendered = out.render(&SourceFile::new("fields.eclat", src));
    assert!(!out.has_errors(), "{rendered}");
    out.script.expect("compiled")
}

#[test]
fn every_readable_field_is_tested() {
    for l in LAYERS {
        for f in l.fields {
            let name = format!("{}.{}", l.name, f.name);
            if f.read.is_some() {
                assert!(READ_FIELDS.contains(&name.as_str()), "{name} is not tested");
            }
        }
    }
}

#[test]
fn every_field_reads_what_the_frame_holds() {
    let script = compiled(&read_script());
    for frame in frames() {
        for field in READ_FIELDS {
            let r = run_parsed(&script, &read_chain(field), &[], frame.bytes.clone());
            assert_eq!(r.fault, None, "{field} on {}", frame.name);
            assert_eq!(
                r.result, frame.expected[field],
                "{field} on {}: {:#x} instead of {:#x}",
                frame.name, r.result, frame.expected[field]
            );
        }
    }
}

#[test]
fn writes_change_the_field_and_keep_checksums_right() {
    let script = compiled(&write_script());
    let reads = compiled(&read_script());
    for frame in frames() {
        fields::verify_checksums(&frame, &frame.bytes).expect("the frames are valid");
        for (i, w) in WRITES.iter().enumerate() {
            let r = run_parsed(&script, &write_chain(i), &[], frame.bytes.clone());
            let what = format!(
                "`packet.{} {} {}` on {}",
                w.field, w.op, w.value, frame.name
            );
            assert_eq!(r.fault, None, "{what}");
            if !w.applies(&frame) {
                assert_eq!(
                    r.packet, frame.bytes,
                    "{what}: an absent layer is not written"
                );
                continue;
            }
            w.check(&frame, &r.packet)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let back = run_parsed(&reads, &read_chain(w.field), &[], r.packet.clone());
            assert_eq!(back.result, w.expected(&frame), "{what}: read back");
        }
    }
}

#[test]
fn address_literals_compare_with_address_fields() {
    let script = compiled(&address_script());
    let frames = frames();
    for (i, (shape, expr, expected)) in ADDRESS_CASES.iter().enumerate() {
        let mut ran = 0;
        for frame in frames.iter().filter(|f| fields::shape(f) == *shape) {
            let r = run_parsed(&script, &address_chain(i), &[], frame.bytes.clone());
            assert_eq!(r.fault, None, "{expr} on {}", frame.name);
            assert_eq!(r.result, *expected, "{expr} on {}", frame.name);
            ran += 1;
        }
        assert_eq!(ran, 3, "{shape}: untagged, VLAN and QinQ frames");
    }
}

#[test]
fn a_truncated_l4_header_reads_zero_without_a_fault() {
    let script = compiled(&read_script());
    let frame = frames()
        .into_iter()
        .find(|f| f.name == "ip4-tcp/vlan")
        .expect("frame");
    // The TCP header cut after its ports: the loader still finds it, its flags are not there.
    let cut = frame.bytes[..frame.l4_off + 4].to_vec();
    let r = run_parsed(&script, &read_chain("tcp.flags"), &[], cut.clone());
    assert_eq!((r.fault, r.result), (None, 0));
    let r = run_parsed(&script, &read_chain("tcp.dport"), &[], cut);
    assert_eq!((r.fault, r.result), (None, 80));
}

#[test]
fn address_strings_configure_maps() {
    use eclat_compiler::output::MapValue;
    use std::net::{Ipv4Addr, Ipv6Addr};
    let src = "\
from programs.hike_default import ip4_hset_srcdst, ip6_hset_srcdst
ip4_hset_srcdst[ip4_hset_srcdst_map] = { ('192.0.2.1', '198.51.100.7'): (0) }
ip6_hset_srcdst[ip6_hset_srcdst_map] = { ('2001:db8::1', '2001:db8::2'): (0) }
ip4_hset_srcdst[ip4_hset_srcdst_cfg] = { (0): ('02:00:00:00:00:01') }
";
    let out = compile(src, &common::standard_catalog(), &ChainTable::new());
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let maps = out.script.expect("compiled").maps;
    assert_eq!(
        maps[0].entries[0].key,
        [
            MapValue::Ipv4(Ipv4Addr::new(192, 0, 2, 1)),
            MapValue::Ipv4(Ipv4Addr::new(198, 51, 100, 7))
        ]
    );
    assert_eq!(
        maps[1].entries[0].key[1],
        MapValue::Ipv6("2001:db8::2".parse::<Ipv6Addr>().unwrap())
    );
    // A MAC address in a 64-bit field is its 48-bit number.
    assert!(matches!(
        maps[2].entries[0].value[0],
        MapValue::Int {
            value: 0x0200_0000_0001,
            ..
        }
    ));
}

#[test]
fn an_address_from_a_define_is_checked_and_a_bad_one_names_the_define() {
    use eclat_compiler::{compile_with_defines, Define};
    let src = "def main():\n    return packet.ip4.src == 'SRC' or packet.ip6.dst in 'NET'\n";
    let defines = |src_value: &str| {
        vec![
            Define::parse(&format!("SRC={src_value}")).unwrap(),
            Define::parse("NET=2001:db8::/32").unwrap(),
        ]
    };
    let (_, out) = compile_with_defines(
        src,
        &defines("192.0.2.10"),
        &PackageTable::new(),
        &ChainTable::new(),
    );
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let frame = frames()
        .into_iter()
        .find(|f| f.name == "ip4-udp/untagged")
        .unwrap();
    let script = out.script.unwrap();
    let r = run_parsed(&script, "main", &[], frame.bytes);
    assert_eq!(r.result, 1, "the source is -D SRC");
    let frame = frames()
        .into_iter()
        .find(|f| f.name == "arp/untagged")
        .unwrap();
    assert_eq!(run_parsed(&script, "main", &[], frame.bytes).result, 0);

    let (text, out) = compile_with_defines(
        src,
        &defines("192.0.2.300"),
        &PackageTable::new(),
        &ChainTable::new(),
    );
    let rendered = out.render(&SourceFile::new("d.eclat", text));
    assert!(
        rendered
            .contains("error: '192.0.2.300' is not an IPv4 address (from `-D SRC=192.0.2.300`)"),
        "{rendered}"
    );
    assert!(rendered.contains("= help: write '192.0.2.1'"), "{rendered}");
}
