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
