//! C chains on the reference VM, with the test programs mocked as the kernel-against-reference
//! harness mocks them (`hike_testkit::reference_program`: `test_sumN` = 1000 + Σ i·argᵢ,
//! `test_pkt_xor`, `test_verdict`, `test_emit`). No root needed.

mod common;

use common::{link_context, load, CHAINS_C, FIRST_CHAIN};
use hike_cchains::link_all;
use hike_isa::abi::{self, Event, Fault, PktMeta};
use hike_refvm::{Boot, Ending, RefVm, RunOutcome};
use hike_testkit::packet::ipv6_udp_packet;
use hike_testkit::{reference_program, xdp, PROGRAMS};

/// A reference VM with the mocked test programs and the chains of `src` at `FIRST_CHAIN..`;
/// returns the VM and the chains' names in ID order.
fn vm_with(src: &str) -> (RefVm, Vec<String>) {
    let chains = load(src);
    let (symbols, ctx) = link_context(&chains);
    let linked = link_all(&chains, &symbols, &ctx).unwrap_or_else(|e| panic!("{e}"));
    let mut vm = RefVm::new();
    vm.set_stats(true);
    for (name, id, _) in PROGRAMS {
        vm.load_program(id, reference_program(name)).unwrap();
    }
    for (i, (c, insns)) in chains.iter().zip(linked).enumerate() {
        vm.load_chain(FIRST_CHAIN + i as u32, insns, c.nparams)
            .unwrap();
    }
    (vm, chains.into_iter().map(|c| c.name).collect())
}

struct Chains {
    vm: RefVm,
    names: Vec<String>,
}

impl Chains {
    fn new() -> Chains {
        let (vm, names) = vm_with(CHAINS_C);
        Chains { vm, names }
    }

    fn id(&self, name: &str) -> u32 {
        FIRST_CHAIN + self.names.iter().position(|n| n == name).unwrap() as u32
    }

    fn run(&mut self, name: &str, args: &[u64], packet: Vec<u8>, meta: PktMeta) -> RunOutcome {
        let id = self.id(name);
        let out = self
            .vm
            .run(Boot::new(id, packet).with_args(args).with_meta(meta));
        assert_eq!(out.fault, None, "{name}{args:?} faulted: {out:?}");
        out
    }

    fn result(&mut self, name: &str, args: &[u64]) -> u64 {
        let out = self.run(name, args, ipv6_udp_packet(64), PktMeta::default());
        assert_eq!(out.ending, Ending::Exit);
        out.result
    }
}

#[test]
fn programs_and_chains_are_called_by_name() {
    let mut c = Chains::new();
    // test_sum2(a, b) = 1000 + a + 2b, plus 1.
    assert_eq!(c.result("sum_pair", &[5, 7]), 1000 + 5 + 14 + 1);
    // sum_pair(x, x) * 2 + test_sum3(1, 2, 3) + 7x.
    let x = 4;
    let sum3 = 1000 + 1 + 2 * 2 + 3 * 3;
    assert_eq!(
        c.result("twice", &[x]),
        (1000 + x + 2 * x + 1) * 2 + sum3 + 7 * x
    );
    let out = c.run("twice", &[x], ipv6_udp_packet(64), PktMeta::default());
    assert_eq!(out.counters.chain_runs(c.id("sum_pair")), 1);
    assert_eq!(out.prog_calls, 2);
}

#[test]
fn recursion_is_chain_calls() {
    let mut c = Chains::new();
    let fib = |n: u64| (0..n).fold((0u64, 1u64), |(a, b), _| (b, a + b)).0;
    for n in [0, 1, 2, 7, 12] {
        assert_eq!(c.result("fib", &[n]), fib(n), "fib({n})");
    }
}

#[test]
fn constants_jumps_and_the_stack() {
    let mut c = Chains::new();
    let k = 0x0123_4567_89ab_cdefu64;
    assert_eq!(c.result("wide", &[1]), k + 1);
    assert_eq!(c.result("wide", &[3]), (-2i64 as u64).wrapping_add(3));
    assert_eq!(
        c.result("wide", &[11]),
        (k ^ 0xfedc_ba98_7654_3210).wrapping_add(11)
    );
    for x in [0u64, 1, 5, 1 << 40] {
        let a: Vec<u64> = (0..8).map(|i| x.wrapping_mul(i) + 3).collect();
        let want = (0..8u64).fold(0u64, |s, i| {
            s.wrapping_add(a[((i * 3).wrapping_add(x) & 7) as usize] << i)
        });
        assert_eq!(c.result("stack_mix", &[x]), want, "stack_mix({x})");
    }
}

#[test]
fn packet_helpers_read_and_write_in_network_order() {
    let mut c = Chains::new();
    let packet = ipv6_udp_packet(70);
    let out = c.run("swap_macs", &[], packet.clone(), PktMeta::default());
    assert_eq!(out.result, 70);
    let mut want = packet.clone();
    want[0..6].copy_from_slice(&packet[6..12]);
    want[6..12].copy_from_slice(&packet[0..6]);
    assert_eq!(out.packet, want);

    // test_pkt_xor returns the old byte; the chain reads the new one back.
    let out = c.run("xor_byte", &[60, 0xff], packet.clone(), PktMeta::default());
    assert_eq!(
        out.result,
        u64::from(packet[60]) << 8 | u64::from(packet[60] ^ 0xff)
    );
}

#[test]
fn the_metadata_is_read_at_its_address() {
    let mut c = Chains::new();
    let meta = PktMeta {
        eth_proto: 0x86dd,
        l3_off: 14,
        l4_off: 54,
        l4_proto: 17,
        flags: abi::META_IPV6 | abi::META_L4,
        ..PktMeta::default()
    };
    let out = c.run("meta_probe", &[], ipv6_udp_packet(64), meta);
    assert_eq!(
        out.result,
        0x86dd << 48 | 14 << 32 | 54 << 16 | 17 << 8 | 0x06
    );
}

#[test]
fn events_and_verdicts() {
    let mut c = Chains::new();
    let out = c.run(
        "event_and_verdict",
        &[xdp::DROP as u64],
        ipv6_udp_packet(64),
        PktMeta::default(),
    );
    assert_eq!(out.verdict, xdp::DROP);
    assert!(matches!(out.ending, Ending::Program { .. }));
    let chain = c.id("event_and_verdict");
    assert_eq!(
        out.events,
        [
            Event {
                kind: abi::EVENT_CHAIN,
                chain_id: chain,
                prog_id: abi::NO_ID,
                code: 1,
                values: [1, 2, 3, 0],
                // The reference VM's clock: 1 s, then 1 µs a read.
                ts_ns: 1_000_000_000,
            },
            Event {
                kind: abi::EVENT_PROGRAM,
                chain_id: chain,
                prog_id: 9,
                code: 1,
                values: [2, 3, 4, 0],
                ts_ns: 1_000_001_000,
            },
        ]
    );
}

#[test]
fn a_c_chain_faults_like_any_chain() {
    let (mut vm, _) = vm_with(
        "#include <hike/chain.h>\nHIKE_CHAIN(oob)\n{\n\treturn hike_pkt_load_u32(hike_pkt_len());\n}\n",
    );
    let out = vm.run(Boot::new(FIRST_CHAIN, ipv6_udp_packet(64)));
    assert_eq!(out.fault, Some(Fault::PktOutOfBounds));
    assert_eq!(out.verdict, xdp::ABORTED);
}
