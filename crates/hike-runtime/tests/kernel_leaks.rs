//! Kernel test (root): repeated loads and removals leak no file descriptors. Alone in its
//! binary so that no parallel test opens descriptors while it counts them.

mod support;

use hike_runtime::{ChainId, ProgramId};
use support::*;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn kernel_load_and_remove_cycles_leak_no_descriptors() {
    let vm = fast_vm();
    let id = ProgramId::new(7).unwrap();
    let chain = ChainId::new(7).unwrap();
    // One warm-up cycle: libbpf caches feature probes on first use.
    let cycle = || {
        vm.load_program(test_progs(), "test_sum1", id).unwrap();
        let loader = vm
            .load_loader("leak", test_loader(), "test_loader")
            .unwrap();
        vm.install_chain(chain, &[mov(1, 1), call_prog(7), exit()], 0)
            .unwrap();
        boot(&loader, 7, [0; 5]);
        assert_eq!(loader.test_run(&udp_packet(), 1).unwrap().retval, 2);
        assert!(vm.remove_chain(chain));
        vm.remove_program(id).unwrap();
    };
    cycle();
    let before = open_fds();
    for _ in 0..10 {
        cycle();
    }
    assert_eq!(open_fds(), before);
    assert_eq!(vm.heap_usage().live, 0);
}
