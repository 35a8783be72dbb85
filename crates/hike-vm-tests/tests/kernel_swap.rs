//! Atomic chain replacement: while one thread sends packets through a chain that calls a
//! program in its middle (so the VM leaves and re-enters across a tail call), another thread
//! keeps replacing the chain with a version of different length and meaning. Every packet must
//! see exactly one version from start to end: never a mix, never a fault.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hike_isa::asm::assemble;
use hike_isa::Symbols;
use hike_runtime::{ChainId, VmOptions};
use hike_testkit::packet::ipv6_udp_packet;
use hike_testkit::PrivateVm;

/// A chain adding `step` 20 times before and 20 times after a call of test_null, preceded by
/// `pad` no-ops so the two versions have different lengths and program counters.
fn version(step: u32, pad: usize) -> Vec<hike_isa::Insn> {
    let mut text = String::from("r6 = 0\n");
    for _ in 0..pad {
        text.push_str("r7 = 0\n");
    }
    for _ in 0..20 {
        text.push_str(&format!("r6 += {step}\n"));
    }
    text.push_str("call prog test_null\n");
    for _ in 0..20 {
        text.push_str(&format!("r6 += {step}\n"));
    }
    text.push_str("r1 = 62\n r2 = 8\n r3 = r6\n call pkt_store\n r0 = r6\n exit\n");
    let mut symbols = Symbols::new();
    symbols.add_prog(0, "test_null");
    assemble(&text)
        .expect("assemble")
        .link(&symbols)
        .expect("link")
}

#[test]
fn kernel_chain_swapped_under_traffic_never_mixes_versions() {
    let mut kernel = PrivateVm::with_options(&VmOptions {
        grace: Duration::ZERO,
        ..VmOptions::default()
    })
    .expect("private VM");
    kernel.load_program(0, "test_progs", "test_null").unwrap();
    let loader = kernel.load_loader("swap", "test_loader").unwrap();
    let vm = kernel.vm();
    let chain = ChainId::new(1).unwrap();
    let (a, b) = (version(1, 0), version(3, 17));
    vm.install_chain(chain, &a, 0).unwrap();
    hike_testkit::vm::boot(&loader, chain.get(), &[]).unwrap();

    let stop = AtomicBool::new(false);
    let swapped = std::sync::atomic::AtomicU32::new(0);
    let packet = ipv6_udp_packet(72);
    let (mut seen_a, mut seen_b, mut swaps) = (0u32, 0u32, 0u32);
    /// Stops the swapper when dropped, so a failing assertion does not leave the scope waiting
    /// for it forever.
    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        let swapper = s.spawn(|| {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let code = if n.is_multiple_of(2) { &b } else { &a };
                vm.install_chain(chain, code, 0).expect("replace the chain");
                n += 1;
                swapped.store(n, Ordering::Relaxed);
            }
            n
        });
        // Packets until the chain was replaced many times and both versions ran (a loaded
        // machine may starve the swapper for a while), within a bound.
        let mut packets = 0u32;
        while packets < 20_000
            || (packets < 2_000_000
                && (swapped.load(Ordering::Relaxed) < 200 || seen_a == 0 || seen_b == 0))
        {
            packets += 1;
            let run = loader.test_run(&packet, 1).expect("test run");
            let result = u64::from_be_bytes(run.data_out[62..70].try_into().unwrap());
            assert_eq!(
                run.action(),
                Some(hike_runtime::XdpAction::Pass),
                "no fault, result {result}"
            );
            match result {
                40 => seen_a += 1,
                120 => seen_b += 1,
                other => panic!("a packet ran a mix of two versions: result {other}"),
            }
        }
        stop.store(true, Ordering::Relaxed);
        swaps = swapper.join().expect("swapper thread");
    });
    eprintln!("swaps {swaps}, packets of version A {seen_a}, of version B {seen_b}");
    assert!(swaps > 100, "the chain was replaced many times: {swaps}");
    assert!(
        seen_a > 0 && seen_b > 0,
        "both versions ran: {seen_a} / {seen_b}"
    );
    let faults: u64 = vm.fault_counts().unwrap().iter().sum();
    assert_eq!(faults, 0);
}
