//! eCLAT's packet fields by name and address comparisons on the kernel VM, behind the test
//! loader (the standard parse, `hike_parse()`), compared with the reference VM run with the
//! metadata the kernel loader produced: every field on IPv4/IPv6/ARP frames with UDP, TCP and
//! ICMP, untagged, behind a VLAN tag and behind QinQ; every write with its checksums checked
//! from the bytes; the address literals. The frames and expectations are
//! `hike_testkit::fields`'s, which the compiler's reference-VM tests share.

use eclat_compiler::{compile, ChainTable, CompiledScript, PackageTable};
use hike_isa::Symbols;
use hike_testkit::fields::{
    self, address_chain, address_script, frames, read_chain, read_script, write_chain,
    write_script, ADDRESS_CASES, READ_FIELDS, WRITES,
};
use hike_testkit::Harness;

/// The scripts' chains installed in `h` from chain ID `first` on; returns the ID of each
/// chain by name.
fn install(h: &mut Harness, src: &str, first: u32) -> impl Fn(&str) -> u32 {
    let out = compile(src, &PackageTable::new(), &ChainTable::new());
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let script: CompiledScript = out.script.expect("compiled");
    let mut symbols = Symbols::new();
    let names: Vec<String> = script.chains.iter().map(|c| c.name.clone()).collect();
    for (i, n) in names.iter().enumerate() {
        symbols.add_chain(first + i as u32, n.clone());
    }
    for (i, c) in script.chains.iter().enumerate() {
        let insns = c.assembly.link(&symbols).expect("no callee");
        h.install_insns(first + i as u32, &insns, 0);
    }
    move |name: &str| {
        first
            + names
                .iter()
                .position(|n| n == name)
                .unwrap_or_else(|| panic!("no chain {name}")) as u32
    }
}

#[test]
fn kernel_every_field_reads_what_the_frame_holds() {
    let mut h = Harness::in_both_modes();
    let id = install(&mut h, &read_script(), 1);
    for frame in frames() {
        for field in READ_FIELDS {
            let out = h.check(id(&read_chain(field)), &[], &frame.bytes);
            assert_eq!(out.fault, None, "{field} on {}", frame.name);
            assert_eq!(
                out.result, frame.expected[field],
                "{field} on {}: {:#x} instead of {:#x}",
                frame.name, out.result, frame.expected[field]
            );
        }
    }
}

#[test]
fn kernel_writes_change_the_field_and_keep_checksums_right() {
    let mut h = Harness::in_both_modes();
    let read = install(&mut h, &read_script(), 1);
    let write = install(&mut h, &write_script(), 200);
    for frame in frames() {
        for (i, w) in WRITES.iter().enumerate() {
            let out = h.check(write(&write_chain(i)), &[], &frame.bytes);
            let what = format!(
                "`packet.{} {} {}` on {}",
                w.field, w.op, w.value, frame.name
            );
            assert_eq!(out.fault, None, "{what}");
            if !w.applies(&frame) {
                assert_eq!(
                    out.packet, frame.bytes,
                    "{what}: an absent layer is not written"
                );
                continue;
            }
            w.check(&frame, &out.packet)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let back = h.check(read(&read_chain(w.field)), &[], &out.packet);
            assert_eq!(back.result, w.expected(&frame), "{what}: read back");
        }
    }
}

#[test]
fn kernel_address_literals_compare_with_address_fields() {
    let mut h = Harness::in_both_modes();
    let id = install(&mut h, &address_script(), 1);
    let frames = frames();
    for (i, (shape, expr, expected)) in ADDRESS_CASES.iter().enumerate() {
        for frame in frames.iter().filter(|f| fields::shape(f) == *shape) {
            let out = h.check(id(&address_chain(i)), &[], &frame.bytes);
            assert_eq!(out.fault, None, "{expr} on {}", frame.name);
            assert_eq!(out.result, *expected, "{expr} on {}", frame.name);
        }
    }
}
