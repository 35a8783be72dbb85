//! Program and chain calls on the kernel VM: arguments 0 to 5, return values, nesting to the
//! frame limit and one past it, the kernel's tail-call cap, terminal programs, and a chain
//! replaced between two packets.

use hike_isa::abi::{Fault, MAX_FRAMES, MAX_PROG_CALLS};
use hike_testkit::packet::ipv6_udp_packet;
use hike_testkit::{xdp, Harness};

#[test]
fn kernel_programs_take_0_to_5_arguments_and_return_a_value() {
    let mut h = Harness::in_both_modes();
    let args = ["", "r1 = 11", "r2 = 22", "r3 = 33", "r4 = 44", "r5 = 55"];
    for n in 0..=5usize {
        let setup: Vec<&str> = (1..=n).map(|i| args[i]).collect();
        h.install(
            1,
            &format!("{}\n call prog test_sum{n}\n exit", setup.join("\n")),
            0,
        );
        let out = h.check(1, &[], &ipv6_udp_packet(64));
        let expected = 1000 + (1..=n as u64).map(|i| i * i * 11).sum::<u64>();
        assert_eq!(out.result, expected, "test_sum{n}");
        assert_eq!(out.verdict, xdp::PASS);
    }
}

#[test]
fn kernel_programs_are_reached_in_every_part_of_the_dispatch() {
    let mut h = Harness::in_both_modes();
    // vm.h dispatches IDs below 16 through a switch of their own and the rest through another:
    // both ends of each, and slots in each range of the larger one.
    for id in [10u32, 15, 16, 17, 63, 64, 127, 128, 200, 255] {
        h.load_program_at("test_sum1", id);
        h.install(1, &format!("r1 = {id}\n call prog {id}\n exit"), 0);
        let out = h.check(1, &[], &ipv6_udp_packet(64));
        assert_eq!(out.result, 1000 + u64::from(id), "test_sum1 at slot {id}");
        assert_eq!(out.verdict, xdp::PASS);
    }
}

#[test]
fn kernel_chain_arguments_come_from_the_loader_and_registers_survive_program_calls() {
    let mut h = Harness::in_both_modes();
    // r6..r9 are untouched by a program call; the chain's own arguments arrive in r1..r5.
    h.install(
        1,
        "
        r6 = r1
        r7 = r5
        r1 = 1
        r2 = 2
        call prog test_sum2
        r0 += r6
        r0 += r7
        exit
        ",
        5,
    );
    let out = h.check(1, &[100, 0, 0, 0, 7000], &ipv6_udp_packet(64));
    assert_eq!(out.result, 1005 + 100 + 7000);
}

#[test]
fn kernel_terminal_programs_end_the_packet_with_their_verdict() {
    let mut h = Harness::in_both_modes();
    for verdict in [xdp::DROP, xdp::TX, xdp::ABORTED, xdp::PASS] {
        h.install(
            1,
            &format!("r1 = {verdict}\n call prog test_verdict\n r0 = 77\n exit"),
            0,
        );
        let out = h.check(1, &[], &ipv6_udp_packet(64));
        assert_eq!(out.verdict, verdict);
        assert_eq!(
            out.result, 0,
            "the chain did not continue after a terminal program"
        );
        assert_eq!(out.fault, None);
    }
}

#[test]
fn kernel_programs_modify_the_packet_the_chain_then_reads() {
    let mut h = Harness::in_both_modes();
    h.install(
        1,
        "
        r1 = 63
        r2 = 0xff
        call prog test_pkt_xor
        r6 = r0
        r1 = 63
        r2 = 1
        call pkt_load
        r0 <<= 8
        r0 |= r6
        exit
        ",
        0,
    );
    let packet = ipv6_udp_packet(64);
    let out = h.check(1, &[], &packet);
    assert_eq!(out.packet[63], packet[63] ^ 0xff);
    assert_eq!(
        out.result,
        (u64::from(packet[63] ^ 0xff) << 8) | u64::from(packet[63])
    );
}

#[test]
fn kernel_chains_call_chains_with_arguments_and_preserved_registers() {
    let mut h = Harness::in_both_modes();
    h.name_chain(2, "add3");
    h.install(
        2,
        "r0 = r1\n r0 += r2\n r0 += r3\n r6 = 0\n r9 = 0\n exit",
        3,
    );
    h.install(
        1,
        "
        r6 = 1000
        r9 = 9
        r1 = 1
        r2 = 20
        r3 = 300
        call chain add3
        r0 += r6
        r0 += r9
        exit
        ",
        0,
    );
    let out = h.check(1, &[], &ipv6_udp_packet(64));
    assert_eq!(out.result, 321 + 1000 + 9);
    assert_eq!(out.chain_runs, vec![(1, 1), (2, 1)]);
}

/// Chains 1..=n where chain i calls chain i + 1 and adds 1; the innermost returns 0.
fn install_nest(h: &mut Harness, n: u32) {
    for i in 1..n {
        h.install(i, &format!("call chain {}\n r0 += 1\n exit", i + 1), 0);
    }
    h.install(n, "r0 = 0\n exit", 0);
}

#[test]
fn kernel_chains_nest_to_the_frame_limit_and_fault_one_past_it() {
    let mut h = Harness::in_both_modes();
    let frames = MAX_FRAMES as u32;
    install_nest(&mut h, frames);
    let out = h.check(1, &[], &ipv6_udp_packet(64));
    assert_eq!(out.fault, None);
    assert_eq!(out.result, u64::from(frames - 1));

    install_nest(&mut h, frames + 1);
    let out = h.check(1, &[], &ipv6_udp_packet(64));
    assert_eq!(out.fault, Some(Fault::CallDepth));
    assert_eq!(out.verdict, xdp::ABORTED);
    assert_eq!(
        out.fault_chain, frames,
        "the innermost frame that tried to call"
    );
    assert_eq!(out.fault_counts, vec![(Fault::CallDepth, 1)]);
}

#[test]
fn kernel_33_program_calls_run_and_the_34th_faults() {
    let mut h = Harness::in_both_modes();
    let calls = |n: u32| {
        let mut text = String::from("r6 = 0\n");
        for _ in 0..n {
            text.push_str("call prog test_sum0\n r6 += r0\n");
        }
        text.push_str("r0 = r6\n exit");
        text
    };
    h.install(1, &calls(MAX_PROG_CALLS), 0);
    let out = h.check(1, &[], &ipv6_udp_packet(64));
    assert_eq!(out.fault, None);
    assert_eq!(out.result, 1000 * u64::from(MAX_PROG_CALLS));

    h.install(1, &calls(MAX_PROG_CALLS + 1), 0);
    let out = h.check(1, &[], &ipv6_udp_packet(64));
    assert_eq!(out.fault, Some(Fault::ProgCallCap));
    assert_eq!(out.verdict, xdp::ABORTED);
    assert_eq!(out.fault_counts, vec![(Fault::ProgCallCap, 1)]);
    // The faulting call is the 34th: instruction 1 + 2 * 33.
    assert_eq!(out.fault_pc, 1 + 2 * MAX_PROG_CALLS);
}

#[test]
fn kernel_chain_replaced_between_two_packets_runs_the_new_version() {
    let mut h = Harness::in_both_modes();
    h.install(1, "r0 = 1\n exit", 0);
    assert_eq!(h.check(1, &[], &ipv6_udp_packet(64)).result, 1);
    h.install(1, "r1 = 5\n call prog test_sum1\n exit", 0);
    assert_eq!(h.check(1, &[], &ipv6_udp_packet(64)).result, 1005);
    h.remove(1);
    let out = h.check(1, &[], &ipv6_udp_packet(64));
    assert_eq!(out.fault, Some(Fault::NoChain));
}

#[test]
fn kernel_program_events_name_the_calling_chain_and_program() {
    let mut h = Harness::in_both_modes();
    h.install(1, "r1 = 40\n call prog test_emit\n exit", 0);
    let out = h.check(1, &[], &ipv6_udp_packet(64));
    assert_eq!(out.result, 40);
    assert_eq!(out.events.len(), 1);
    let ev = out.events[0];
    assert_eq!(
        (ev.kind, ev.chain_id, ev.prog_id, ev.code),
        (hike_isa::abi::EVENT_PROGRAM, 1, 9, 40)
    );
    assert_eq!(ev.values, [41, 42, 43, 0]);
}
