//! Kernel tests (root): the shared VM maps of a private instance, the chain table and code
//! heap, counters and per-CPU state, without loading any object.

mod support;

use std::time::{Duration, Instant};

use hike_isa::abi::{ChainDesc, VmConfig, CFG_STATS, CODE_HEAP_INSNS, MAX_CHAIN_INSNS};
use hike_isa::Insn;
use hike_runtime::{pin_thread_to_cpu, ChainId, Error, Vm, VmMap, VmOptions};
use libbpf_rs::{MapCore, MapType};
use support::*;

fn chain(id: u32) -> ChainId {
    ChainId::new(id).unwrap()
}

/// A chain of `len` instructions: `r0 = 0` repeated, then `exit`.
fn long_chain(len: usize) -> Vec<Insn> {
    let mut c = vec![mov(0, 0); len - 1];
    c.push(exit());
    c
}

#[test]
fn kernel_private_vm_creates_the_abi_maps() {
    let vm = Vm::new().expect("create a private vm");
    for m in VmMap::ALL {
        let r = vm.vm_map(m);
        let want = m.layout();
        assert_eq!(r.map_type(), want.map_type, "{}", m.name());
        assert_eq!(r.key_size() as u32, want.key_size, "{}", m.name());
        assert_eq!(r.value_size() as u32, want.value_size, "{}", m.name());
        assert_eq!(r.max_entries(), want.max_entries, "{}", m.name());
        let info = r.handle().info().expect("map info");
        assert_eq!(info.name().unwrap(), m.name());
        assert_eq!(info.info.map_flags, want.flags, "{}", m.name());
    }
    assert_eq!(vm.vm_map(VmMap::Progs).map_type(), MapType::ProgArray);
    assert!(vm.chains().is_empty());
    assert_eq!(vm.heap_usage().free, CODE_HEAP_INSNS);
}

#[test]
fn kernel_installed_chain_is_visible_through_a_map_lookup() {
    let vm = fast_vm();
    let code = ret(7);
    vm.install_chain(chain(5), &code, 2).expect("install");

    let desc = vm.chain(chain(5)).expect("chain 5 is installed");
    assert_eq!((desc.len, desc.nparams, desc.flags), (2, 2, 0));
    let raw = vm
        .vm_map(VmMap::Chains)
        .lookup(&5u32.to_ne_bytes())
        .unwrap()
        .expect("array entry");
    assert_eq!(
        ChainDesc::from_word(u64::from_ne_bytes(raw.try_into().unwrap())),
        desc
    );

    let heap = vm
        .vm_map(VmMap::Code)
        .lookup(&0u32.to_ne_bytes())
        .unwrap()
        .expect("the heap");
    let at = desc.code_off as usize * 8;
    assert_eq!(&heap[at..at + 8], &code[0].to_bytes());
    assert_eq!(&heap[at + 8..at + 16], &code[1].to_bytes());
    assert_eq!(vm.chain_code(chain(5)).unwrap(), code);
    assert_eq!(vm.chains(), vec![(chain(5), desc)]);
}

#[test]
fn kernel_replace_and_remove_publish_new_descriptors() {
    let vm = Vm::with_options(&VmOptions {
        grace: Duration::from_secs(3600),
        ..VmOptions::default()
    })
    .unwrap();
    vm.install_chain(chain(1), &ret(1), 0).unwrap();
    let first = vm.chain(chain(1)).unwrap();
    vm.install_chain(chain(1), &ret(2), 0).unwrap();
    let second = vm.chain(chain(1)).unwrap();
    assert_ne!(
        first.code_off, second.code_off,
        "the old version stays intact for packets in flight"
    );
    assert_eq!(vm.chain_code(chain(1)).unwrap(), ret(2));
    assert_eq!(vm.heap_usage().quarantined, 2);

    assert!(vm.remove_chain(chain(1)));
    assert!(!vm.remove_chain(chain(1)));
    assert_eq!(vm.chain(chain(1)), None);
    let raw = vm
        .vm_map(VmMap::Chains)
        .lookup(&1u32.to_ne_bytes())
        .unwrap()
        .unwrap();
    assert_eq!(raw, vec![0u8; 8], "len 0 means no chain");
    assert_eq!(vm.heap_usage().quarantined, 4);
    assert_eq!(vm.heap_usage().live, 0);
}

#[test]
fn kernel_bad_chains_are_refused_with_the_chain_named() {
    let vm = fast_vm();
    let err = vm.install_chain(chain(7), &[], 0).unwrap_err();
    assert!(
        matches!(err, Error::EmptyChain { chain: c } if c == chain(7)),
        "{err:?}"
    );
    assert!(err.to_string().contains("chain 7"), "{err}");
    let err = vm
        .install_chain(chain(8), &long_chain(MAX_CHAIN_INSNS + 1), 0)
        .unwrap_err();
    assert!(
        matches!(err, Error::ChainTooLong { len, .. } if len == MAX_CHAIN_INSNS + 1),
        "{err:?}"
    );
    assert!(err.to_string().contains("chain 8"), "{err}");
    assert!(vm.chains().is_empty(), "nothing was published");
    vm.install_chain(chain(8), &long_chain(MAX_CHAIN_INSNS), 0)
        .expect("the limit itself is fine");
    assert!(matches!(
        ChainId::try_from(hike_isa::abi::MAX_CHAINS),
        Err(Error::ChainIdOutOfRange { .. })
    ));
}

#[test]
fn kernel_retired_code_is_reused_only_after_the_grace_delay() {
    // Replacements take never-used room first: retired versions stay untouched (and no RCU
    // grace period is paid) while the heap has free space, even with a zero delay.
    let vm = fast_vm();
    vm.install_chain(chain(0), &long_chain(10), 0).unwrap();
    vm.install_chain(chain(0), &long_chain(10), 0).unwrap();
    assert_eq!(vm.chain(chain(0)).unwrap().code_off, 10);
    vm.install_chain(chain(0), &long_chain(10), 0).unwrap();
    assert_eq!(vm.chain(chain(0)).unwrap().code_off, 20);
    assert_eq!(vm.heap_usage().quarantined, 20);

    // A long delay: retired ranges stay untouched as well.
    vm.set_grace(Duration::from_secs(3600));
    vm.install_chain(chain(0), &long_chain(10), 0).unwrap();
    assert_eq!(vm.chain(chain(0)).unwrap().code_off, 30);
    vm.install_chain(chain(0), &long_chain(10), 0).unwrap();
    assert_eq!(vm.chain(chain(0)).unwrap().code_off, 40);
    assert_eq!(vm.heap_usage().quarantined, 40);
}

#[test]
fn kernel_full_heap_waits_for_quarantine_or_reports_full() {
    let vm = Vm::with_options(&VmOptions {
        grace: Duration::from_millis(300),
        ..VmOptions::default()
    })
    .unwrap();
    let per = MAX_CHAIN_INSNS as u32;
    let n = CODE_HEAP_INSNS / per;
    // Fill all but one slot's worth of the heap.
    for id in 0..n - 1 {
        vm.install_chain(chain(id), &long_chain(MAX_CHAIN_INSNS), 0)
            .unwrap();
    }
    // Replacing chain 0 takes the last free run; its old version goes to quarantine.
    vm.install_chain(chain(0), &long_chain(MAX_CHAIN_INSNS), 0)
        .unwrap();
    assert_eq!(vm.chain(chain(0)).unwrap().code_off, (n - 1) * per);
    assert_eq!(vm.heap_usage().free, 0);
    assert_eq!(vm.heap_usage().quarantined, per);

    // Only the quarantined version stands in the way: the install waits for its grace delay.
    let start = Instant::now();
    vm.install_chain(chain(1), &long_chain(MAX_CHAIN_INSNS), 0)
        .unwrap();
    assert_eq!(vm.chain(chain(1)).unwrap().code_off, 0);
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "waited {:?}",
        start.elapsed()
    );

    // The heap is full again, chain 1's old version in quarantine: a small chain waits for it
    // and fits; then a chain that cannot fit even with every retired range reclaimed is
    // refused at once.
    vm.install_chain(chain(n), &long_chain(32), 0)
        .expect("fits in the reclaimed range");
    let err = vm
        .install_chain(chain(n + 1), &long_chain(MAX_CHAIN_INSNS), 0)
        .unwrap_err();
    assert!(matches!(err, Error::CodeHeapFull { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&format!("chain {}", n + 1)),
        "{err}"
    );
}

#[test]
fn kernel_config_counters_and_state_start_at_zero() {
    let vm = Vm::new().unwrap();
    assert_eq!(vm.config().unwrap(), VmConfig::default());
    let cfg = VmConfig {
        budget: 1000,
        flags: CFG_STATS,
        ..VmConfig::default()
    };
    vm.set_config(cfg).unwrap();
    assert_eq!(vm.config().unwrap(), cfg);
    assert_eq!(vm.chain_stats(chain(3)).unwrap().runs, 0);
    assert_eq!(
        vm.prog_stats(hike_runtime::ProgramId::new(3).unwrap())
            .unwrap()
            .calls,
        0
    );
    assert_eq!(vm.fault_counts().unwrap(), [0; hike_isa::abi::Fault::MAX]);
    assert_eq!(vm.vm_state(0).unwrap().packets, 0);
    let n = vm.num_cpus();
    assert!(
        matches!(vm.vm_state(n), Err(Error::NoSuchCpu { cpu, count }) if cpu == n && count == n)
    );
    vm.reset_counters().unwrap();
}

#[test]
fn kernel_vm_map_access_checks_sizes_and_sums_per_cpu_values() {
    let vm = Vm::new().unwrap();
    let cfg = vm.vm_map(VmMap::Config);
    let err = cfg
        .update(&[0u8; 2], &[0u8; 8], Default::default())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidKeySize {
                size: 2,
                expected: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("hike_config"), "{err}");

    let faults = vm.vm_map(VmMap::Faults);
    assert!(faults.is_percpu());
    faults
        .update(&3u32.to_ne_bytes(), &5u64.to_ne_bytes(), Default::default())
        .unwrap();
    let summed = faults.lookup(&3u32.to_ne_bytes()).unwrap().unwrap();
    assert_eq!(
        u64::from_ne_bytes(summed.try_into().unwrap()),
        5 * vm.num_cpus() as u64
    );
    assert_eq!(vm.fault_counts().unwrap()[3], 5 * vm.num_cpus() as u64);
    let per_cpu = faults.lookup_percpu(&3u32.to_ne_bytes()).unwrap().unwrap();
    assert_eq!(per_cpu.len(), vm.num_cpus());
    let err = faults.update_percpu(&3u32.to_ne_bytes(), &[vec![0; 8]], Default::default());
    if vm.num_cpus() != 1 {
        assert!(matches!(err, Err(Error::InvalidCpuCount { .. })), "{err:?}");
    }
    vm.reset_counters().unwrap();
    assert_eq!(vm.fault_counts().unwrap()[3], 0);
}

#[test]
fn kernel_thread_can_be_pinned_to_a_cpu() {
    let last = Vm::new().unwrap().num_cpus() - 1;
    let online = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let cpu = last.min(online - 1);
    let pin = pin_thread_to_cpu(cpu).expect("pin");
    assert_eq!(pin.cpu(), cpu);
    // SAFETY: sched_getcpu has no preconditions.
    assert_eq!(unsafe { libc::sched_getcpu() }, cpu as i32);
}

#[test]
fn kernel_invalid_chains_are_refused_before_the_kernel_sees_them() {
    use hike_isa::validate::{Chain, Context};
    let vm = fast_vm();
    let bad = [Insn::new(0xbf, 0, 2, 0, 0), exit()]; // r0 = r2 with no parameters
    let err = vm
        .install_validated_chain(
            chain(3),
            &Chain {
                name: "bad",
                insns: &bad,
                nparams: 0,
            },
            &Context::new(),
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidChain { chain: c, .. } if c == chain(3)),
        "{err:?}"
    );
    let source = std::error::Error::source(&err)
        .expect("the validator's errors")
        .to_string();
    assert!(
        source.contains("r2 is read before it is written"),
        "{source}"
    );
    assert_eq!(vm.chain(chain(3)), None);

    let good = ret(3);
    vm.install_validated_chain(
        chain(3),
        &Chain {
            name: "good",
            insns: &good,
            nparams: 0,
        },
        &Context::new(),
    )
    .expect("a valid chain installs");
    assert_eq!(vm.chain_code(chain(3)).unwrap(), good);
}
