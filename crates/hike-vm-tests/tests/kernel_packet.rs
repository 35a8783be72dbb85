//! Packet access at the edges: the first and last byte of the packet, and one past the end,
//! for every size, reading and writing, through the VM helpers.

use hike_isa::abi::Fault;
use hike_testkit::packet::ipv6_udp_packet;
use hike_testkit::{xdp, Harness};

#[test]
fn kernel_packet_reads_and_writes_at_the_first_and_last_byte_and_one_past() {
    let mut h = Harness::in_both_modes();
    let len = 80u64;
    let packet = ipv6_udp_packet(len as usize);
    for size in [1u64, 2, 4, 8] {
        for (off, in_bounds) in [
            (0, true),
            (len - size, true),
            (len - size + 1, false),
            (len, false),
        ] {
            // Load: r0 = the big-endian field.
            h.install(
                1,
                &format!("r1 = {off}\n r2 = {size}\n call pkt_load\n exit"),
                0,
            );
            let out = h.check(1, &[], &packet);
            if in_bounds {
                let mut expected = 0u64;
                for &b in &packet[off as usize..(off + size) as usize] {
                    expected = expected << 8 | u64::from(b);
                }
                assert_eq!(
                    (out.fault, out.result),
                    (None, expected),
                    "load {size}@{off}"
                );
            } else {
                assert_eq!(out.fault, Some(Fault::PktOutOfBounds), "load {size}@{off}");
                assert_eq!(out.verdict, xdp::ABORTED);
            }
            // Store: the low `size` bytes of the value, big-endian.
            h.install(
                1,
                &format!(
                    "r1 = {off}\n r2 = {size}\n r3 = 0x0102030405060708 ll\n call pkt_store\n exit"
                ),
                0,
            );
            let out = h.check(1, &[], &packet);
            if in_bounds {
                let mut expected = packet.clone();
                let value = 0x0102_0304_0506_0708u64.to_be_bytes();
                expected[off as usize..(off + size) as usize]
                    .copy_from_slice(&value[8 - size as usize..]);
                assert_eq!(
                    (out.fault, &out.packet),
                    (None, &expected),
                    "store {size}@{off}"
                );
            } else {
                assert_eq!(out.fault, Some(Fault::PktOutOfBounds), "store {size}@{off}");
                assert_eq!(out.packet, packet, "a refused store changes nothing");
            }
        }
    }
    // Offsets that would wrap or exceed any packet.
    for off in ["0xffff", "0x10000", "-1"] {
        h.install(1, &format!("r1 = {off}\n r2 = 1\n call pkt_load\n exit"), 0);
        assert_eq!(
            h.check(1, &[], &packet).fault,
            Some(Fault::PktOutOfBounds),
            "{off}"
        );
    }
}
