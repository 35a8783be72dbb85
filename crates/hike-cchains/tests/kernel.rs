//! Kernel tests (root): C chains installed in the kernel HIKe VM exactly like compiled eCLAT
//! chains, run through `BPF_PROG_TEST_RUN` and compared with the reference VM
//! (`hike_testkit::Harness::check`); and the C version of Listing 2
//! (`examples/chains/ddos_helpers.hike.c`) on the standard programs behind `basic.ip6_sc`.

mod common;

use std::path::Path;

use common::{link_context, load, CHAINS_C, FIRST_CHAIN};
use hike_cchains::{link_all, load_hike_c_file, CChain, CompileOptions};
use hike_isa::abi::{self, Fault};
use hike_isa::validate::Context;
use hike_isa::Symbols;
use hike_runtime::{ChainId, TestRun};
use hike_testkit::listing2::{self, EVENT_DROP, EVENT_PASS, EVENT_REDIRECT};
use hike_testkit::packet::{ip6_sd_key, ipv6_udp, ipv6_udp_packet, A6, B6};
use hike_testkit::{counter, xdp, Harness, Lab};

/// A harness with the chains of `src` installed at `FIRST_CHAIN..` in both VMs.
fn harness_with(src: &str) -> (Harness, Vec<CChain>) {
    let chains = load(src);
    let (symbols, ctx) = link_context(&chains);
    let linked = link_all(&chains, &symbols, &ctx).unwrap_or_else(|e| panic!("{e}"));
    let mut h = Harness::new();
    for (i, (c, insns)) in chains.iter().zip(&linked).enumerate() {
        h.install_insns(FIRST_CHAIN + i as u32, insns, c.nparams);
    }
    (h, chains)
}

fn id(chains: &[CChain], name: &str) -> u32 {
    FIRST_CHAIN + chains.iter().position(|c| c.name == name).unwrap() as u32
}

#[test]
fn kernel_c_chains_agree_with_the_reference() {
    let (mut h, chains) = harness_with(CHAINS_C);
    let packet = ipv6_udp_packet(80);
    let run = |h: &mut Harness, name: &str, args: &[u64]| {
        let out = h.check(id(&chains, name), args, &packet);
        assert_eq!(out.fault, None, "{name}{args:?}: {out:?}");
        out
    };

    // A program by name, and a chain calling a chain of the same file.
    assert_eq!(run(&mut h, "sum_pair", &[5, 7]).result, 1000 + 5 + 14 + 1);
    let out = run(&mut h, "twice", &[4]);
    assert_eq!(out.result, (1000 + 4 + 8 + 1) * 2 + (1000 + 1 + 4 + 9) + 28);
    assert!(out.chain_runs.contains(&(id(&chains, "sum_pair"), 1)));
    // Recursion through chain calls, 64-bit constants and jumps, the stack.
    assert_eq!(run(&mut h, "fib", &[10]).result, 55);
    for x in [1, 3, 11] {
        run(&mut h, "wide", &[x]);
    }
    for x in [0, 5, 1 << 40] {
        run(&mut h, "stack_mix", &[x]);
    }
    // Packet helpers.
    let out = run(&mut h, "swap_macs", &[]);
    assert_eq!(out.result, 80);
    assert_eq!(&out.packet[0..6], &packet[6..12]);
    assert_eq!(&out.packet[6..12], &packet[0..6]);
    let out = run(&mut h, "xor_byte", &[60, 0x0f]);
    assert_eq!(out.packet[60], packet[60] ^ 0x0f);
    // The metadata the kernel loader wrote, read through chain.h's struct: same layout as abi.h.
    let out = run(&mut h, "meta_probe", &[]);
    let flags = u64::from(abi::META_IPV6 | abi::META_L4);
    assert_eq!(
        out.result,
        0x86dd << 48 | 14 << 32 | 54 << 16 | 17 << 8 | flags
    );
    // Events, then a program's verdict ends the packet.
    let out = run(&mut h, "event_and_verdict", &[u64::from(xdp::TX)]);
    assert_eq!(out.verdict, xdp::TX);
    assert_eq!(out.events.len(), 2);
}

#[test]
fn kernel_c_chain_faults_name_the_chain() {
    let (mut h, chains) = harness_with(
        "#include <hike/chain.h>\nHIKE_CHAIN(oob)\n{\n\treturn hike_pkt_load_u32(hike_pkt_len() - 2);\n}\n",
    );
    let out = h.check(id(&chains, "oob"), &[], &ipv6_udp_packet(64));
    assert_eq!(
        (out.fault, out.fault_chain),
        (Some(Fault::PktOutOfBounds), FIRST_CHAIN)
    );
}

/// Parameter counts of the standard programs the example calls (docs/stdlib.md).
fn nparams(prog: &str) -> u8 {
    match prog {
        "ip6_hset_srcdst" | "monitor" | "ip6_sd_dec2zero" | "l2_redirect" => 1,
        _ => 0,
    }
}

#[test]
fn kernel_listing2_in_c_blacklists_a_flood_and_samples_one_in_500() {
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/chains/ddos_helpers.hike.c");
    let chains =
        load_hike_c_file(&example, &CompileOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        chains.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["count_and_drop", "sample_or_drop", "ddos_tb_2_lev"]
    );

    let lab = Lab::with_loader("ip6_sc", &listing2::PROGRAMS);
    let mut symbols = Symbols::new();
    let mut ctx = Context::new();
    for p in listing2::PROGRAMS {
        symbols.add_prog(lab.id(p), p);
        ctx.add_prog(lab.id(p), nparams(p));
    }
    for (i, c) in chains.iter().enumerate() {
        symbols.add_chain(100 + i as u32, c.name.clone());
        ctx.add_chain(100 + i as u32, c.nparams);
    }
    let linked = link_all(&chains, &symbols, &ctx).unwrap_or_else(|e| panic!("{e}"));
    for (i, (c, insns)) in chains.iter().zip(&linked).enumerate() {
        lab.vm()
            .install_chain(ChainId::new(100 + i as u32).unwrap(), insns, c.nparams)
            .unwrap();
    }
    let main = symbols.chain_id("ddos_tb_2_lev").unwrap();
    lab.select_chain(listing2::SELECT_MAP, main);
    listing2::set_tiny_buckets(&lab);
    let monitor = lab.map("monitor", "monitor_map");
    let events = |e: u64| counter(&monitor, &e.to_ne_bytes(), 0);

    let flood = ipv6_udp(A6, B6, 40000, 53, 64);
    let verdicts: Vec<u32> = (0..5).map(|_| lab.run(&flood).verdict).collect();
    assert_eq!(
        verdicts,
        [xdp::PASS, xdp::PASS, xdp::PASS, xdp::PASS, xdp::DROP]
    );
    assert_eq!(
        (
            events(EVENT_PASS),
            events(EVENT_DROP),
            events(EVENT_REDIRECT)
        ),
        (4, 1, 0)
    );
    assert_eq!(
        lab.map("ip6_hset_srcdst", "ip6_hset_srcdst_map").keys(),
        [ip6_sd_key(A6, B6)]
    );
    // Blacklisted: 499 drops, then the 500th is redirected to ifindex 6.
    let run = lab.run_with(&TestRun {
        packet: &flood,
        repeat: 499,
        ..TestRun::default()
    });
    assert_eq!((run.verdict, run.fault), (xdp::DROP, 0));
    let run = lab.run(&flood);
    assert_eq!(
        (run.verdict, run.redirect_ifindex, run.fault),
        (xdp::REDIRECT, 6, 0)
    );
    assert_eq!(
        (
            events(EVENT_PASS),
            events(EVENT_DROP),
            events(EVENT_REDIRECT)
        ),
        (4, 500, 1)
    );
}
