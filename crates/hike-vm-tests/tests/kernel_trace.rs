//! The kernel VM's call trace (`HIKE_CFG_TRACE`) and replay clock (`HIKE_CFG_CLOCK`), read
//! back from the per-CPU state: each chain entry, program call and return in order with their
//! arguments and values, the bound of the record, the status that tells a returned top chain,
//! and the configured clock as the time of chains, programs and events. Neither changes what a
//! chain computes: the differential check runs with them on.

use hike_isa::abi::{
    TraceRec, VmConfig, CFG_CLOCK, CFG_STATS, CFG_TRACE, STATUS_IDLE, STATUS_RETURNED, TRACE_CHAIN,
    TRACE_CHAIN_RET, TRACE_MAX, TRACE_PROG, TRACE_PROG_RET, TRACE_PROG_VERDICT,
};
use hike_testkit::packet::ipv6_udp_packet;
use hike_testkit::{xdp, Harness};

/// Sets the kernel VM's flags and clock; the reference VM counts when the kernel does.
fn configure(h: &mut Harness, flags: u32, clock_ns: u64) {
    h.reference().set_stats(flags & CFG_STATS != 0);
    h.vm()
        .set_config(VmConfig {
            flags,
            clock_ns,
            ..VmConfig::default()
        })
        .expect("configure the vm");
}

fn rec(kind: u8, depth: u8, id: u32, v: [u64; 5]) -> TraceRec {
    TraceRec {
        kind,
        depth,
        id,
        v,
        ..TraceRec::default()
    }
}

/// Chain 2 (`inner`, 2 parameters) calls test_sum2 (ID 3); chain 1 calls it, then test_emit
/// (ID 9), then test_verdict (ID 8) with XDP_DROP. Every argument register is set before each
/// call, so the recorded r1..r5 are known.
fn install_nested(h: &mut Harness) {
    h.name_chain(2, "inner");
    h.install(
        2,
        "r3 = 30\n r4 = 40\n r5 = 50\n call prog test_sum2\n exit",
        2,
    );
    h.install(
        1,
        "
        r1 = 3
        r2 = 4
        r3 = 0
        r4 = 0
        r5 = 0
        call chain inner
        r6 = r0
        r1 = 5
        r2 = 6
        r3 = 7
        r4 = 8
        r5 = 9
        call prog test_emit
        r1 = 1
        r2 = 0
        r3 = 0
        r4 = 0
        r5 = 0
        call prog test_verdict
        exit
        ",
        0,
    );
}

#[test]
fn kernel_trace_records_calls_and_returns_in_order() {
    let mut h = Harness::in_both_modes();
    install_nested(&mut h);
    // Traced alone (status IN_PROG_TRACED), then with the counters (both in one status word).
    for flags in [CFG_TRACE, CFG_TRACE | CFG_STATS] {
        configure(&mut h, flags, 0);
        let out = h.check(1, &[70, 80], &ipv6_udp_packet(64));
        assert_eq!(out.verdict, xdp::DROP);
        let st = h.state();
        let expected = [
            rec(TRACE_CHAIN, 0, 1, [70, 80, 0, 0, 0]),
            rec(TRACE_CHAIN, 1, 2, [3, 4, 0, 0, 0]),
            rec(TRACE_PROG, 1, 3, [3, 4, 30, 40, 50]),
            rec(TRACE_PROG_RET, 1, 3, [1000 + 3 + 2 * 4, 0, 0, 0, 0]),
            rec(TRACE_CHAIN_RET, 1, 2, [1011, 0, 0, 0, 0]),
            rec(TRACE_PROG, 0, 9, [5, 6, 7, 8, 9]),
            rec(TRACE_PROG_RET, 0, 9, [5, 0, 0, 0, 0]),
            rec(TRACE_PROG, 0, 8, [1, 0, 0, 0, 0]),
            rec(TRACE_PROG_VERDICT, 0, 8, [u64::from(xdp::DROP), 0, 0, 0, 0]),
        ];
        assert_eq!(st.trace_len as usize, expected.len(), "flags {flags:#x}");
        assert_eq!(
            &st.trace[..expected.len()],
            &expected[..],
            "flags {flags:#x}"
        );
        // A terminal program's verdict: idle, and the program that gave it.
        assert_eq!((st.status, st.prog_id), (STATUS_IDLE, 8));
        if flags & CFG_STATS != 0 {
            assert_eq!(out.chain_runs, vec![(1, 1), (2, 1)]);
        }
    }

    // Without the flag nothing is recorded: the last packet's records stay as they were.
    configure(&mut h, CFG_STATS, 0);
    h.install(1, "r0 = 42\n exit", 0);
    let out = h.check(1, &[], &ipv6_udp_packet(64));
    assert_eq!(out.result, 42);
    let st = h.state();
    assert_eq!(st.trace_len, 9, "untouched without CFG_TRACE");
    // A top chain that returned: its own status, and the result.
    assert_eq!((st.status, st.result), (STATUS_RETURNED, 42));
}

#[test]
fn kernel_trace_is_bounded_and_counts_on() {
    let mut h = Harness::in_both_modes();
    h.name_chain(3, "same");
    h.install(3, "r0 = r1\n exit", 1);
    let calls: String = (0..40)
        .map(|i| format!("r1 = {i}\n call chain same\n r6 += r0\n"))
        .collect();
    h.install(1, &format!("r6 = 0\n{calls} r0 = r6\n exit"), 0);
    configure(&mut h, CFG_TRACE, 0);
    let out = h.check(1, &[], &ipv6_udp_packet(64));
    assert_eq!(out.result, (0..40).sum::<u64>());
    let st = h.state();
    // The top chain, then a call and a return each: 81, of which the first 64 are kept.
    assert_eq!(st.trace_len, 81);
    assert_eq!(st.trace[0], rec(TRACE_CHAIN, 0, 1, [0; 5]));
    assert_eq!(st.trace[1].kind, TRACE_CHAIN);
    assert_eq!(st.trace[TRACE_MAX - 2].kind, TRACE_CHAIN_RET);
    assert_eq!(st.trace[TRACE_MAX - 2].v[0], 30);
    assert_eq!(
        st.trace[TRACE_MAX - 1],
        rec(TRACE_CHAIN, 1, 3, [31, 0, 0, 0, 0])
    );
}

#[test]
fn kernel_replay_clock_is_the_time_of_chains_programs_and_events() {
    let mut h = Harness::in_both_modes();
    h.install(
        1,
        "call ktime_ns\n r6 = r0\n r1 = 9\n call prog test_emit\n r1 = 3\n call event\n r0 = r6\n exit",
        0,
    );
    let t = 1_704_067_200_000_000_000u64;
    for (i, clock) in [t, t + 1_000, t + 1_000].into_iter().enumerate() {
        configure(&mut h, CFG_STATS | CFG_CLOCK, clock);
        let (out, _) = h.run_kernel(1, &[], &ipv6_udp_packet(64));
        assert_eq!(
            out.result, clock,
            "packet {i}: ktime_ns() is the replay clock"
        );
        assert_eq!(out.events.len(), 2);
        for e in &out.events {
            assert_eq!(e.ts_ns, clock, "packet {i}: {e:?}");
        }
    }
    // Back on the kernel's clock: the time moves on its own.
    configure(&mut h, CFG_STATS, t);
    let (out, _) = h.run_kernel(1, &[], &ipv6_udp_packet(64));
    assert!(
        out.result > 0 && out.result < t,
        "CLOCK_MONOTONIC: {}",
        out.result
    );
    assert!(out.events.iter().all(|e| e.ts_ns >= out.result));
}
