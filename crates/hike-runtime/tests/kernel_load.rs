//! Kernel tests (root): loading programs and loaders into a private VM and running packets
//! through them with `BPF_PROG_TEST_RUN`.

mod support;

use hike_isa::abi::{Fault, VmConfig, CFG_STATS};
use hike_runtime::{
    pin_thread_to_current_cpu, program_signature, ChainId, Error, Loader, ProgramId, Vm, XdpAction,
};
use support::*;

fn chain(id: u32) -> ChainId {
    ChainId::new(id).unwrap()
}

fn prog(id: u32) -> ProgramId {
    ProgramId::new(id).unwrap()
}

/// Runs the UDP packet on a pinned CPU; returns the verdict and that CPU's VM state.
fn run(vm: &Vm, loader: &Loader) -> (u32, hike_isa::abi::VmState) {
    let pin = pin_thread_to_current_cpu().expect("pin to a cpu");
    let out = loader.test_run(&udp_packet(), 1).expect("test run");
    (
        out.retval,
        vm.vm_state(pin.cpu()).expect("read the vm state"),
    )
}

#[test]
fn kernel_test_run_returns_the_chain_result() {
    let vm = fast_vm();
    vm.install_chain(chain(0), &ret(7), 0)
        .expect("install r0 = 7");
    let loader = vm
        .load_loader("ldr", test_loader(), "test_loader")
        .expect("load the test loader");
    boot(&loader, 0, [0; 5]);

    let pin = pin_thread_to_current_cpu().expect("pin to a cpu");
    let out = loader.test_run(&udp_packet(), 1).expect("test run");
    assert_eq!(out.retval, 2, "XDP_PASS is the loader's default verdict");
    assert_eq!(out.action(), Some(XdpAction::Pass));
    assert_eq!(out.data_out, udp_packet());
    let st = vm.vm_state(pin.cpu()).expect("read the vm state");
    assert_eq!(st.result, 7);
    assert_eq!(st.fault, 0);
    assert_eq!(st.verdict, 2);

    let many = loader
        .test_run(&udp_packet(), 100)
        .expect("repeated test run");
    assert_eq!(many.retval, 2);
}

#[test]
fn kernel_chain_calls_a_program_with_arguments_and_counts() {
    let vm = fast_vm();
    vm.set_config(VmConfig {
        budget: 0,
        flags: CFG_STATS,
        ..VmConfig::default()
    })
    .expect("enable stats");
    vm.load_program(test_progs(), "test_sum2", prog(3))
        .expect("load test_sum2");
    let code = [mov(1, 5), mov(2, 7), call_prog(3), exit()];
    vm.install_chain(chain(9), &code, 0)
        .expect("install the chain");
    let loader = vm
        .load_loader("ldr", test_loader(), "test_loader")
        .expect("load the test loader");
    boot(&loader, 9, [0; 5]);

    let (verdict, st) = run(&vm, &loader);
    assert_eq!(verdict, 2);
    assert_eq!(st.fault, 0, "fault {:?}", Fault::from_code(st.fault));
    assert_eq!(st.result, 1000 + 5 + 2 * 7);
    assert_eq!(vm.chain_stats(chain(9)).unwrap().runs, 1);
    assert_eq!(vm.prog_stats(prog(3)).unwrap().calls, 1);
    let infos = vm.programs();
    assert_eq!(infos.len(), 1);
    assert_eq!(
        (infos[0].id, infos[0].name.as_str()),
        (prog(3), "test_sum2")
    );
}

#[test]
fn kernel_chain_arguments_come_from_the_loader() {
    let vm = fast_vm();
    vm.load_program(test_progs(), "test_sum5", prog(0))
        .expect("load test_sum5");
    // The chain passes its own r1..r5 straight to the program.
    vm.install_chain(chain(1), &[call_prog(0), exit()], 5)
        .expect("install");
    let loader = vm
        .load_loader("ldr", test_loader(), "test_loader")
        .expect("load the test loader");
    boot(&loader, 1, [1, 2, 3, 4, 5]);
    let (_, st) = run(&vm, &loader);
    assert_eq!(st.result, 1000 + 1 + 4 + 9 + 16 + 25);
}

#[test]
fn kernel_removed_program_faults_with_no_prog() {
    let vm = fast_vm();
    vm.load_program(test_progs(), "test_sum0", prog(4))
        .expect("load test_sum0");
    vm.install_chain(chain(0), &[call_prog(4), exit()], 0)
        .expect("install");
    let loader = vm
        .load_loader("ldr", test_loader(), "test_loader")
        .expect("load the test loader");
    boot(&loader, 0, [0; 5]);
    assert_eq!(run(&vm, &loader).1.result, 1000);

    let err = vm
        .load_program(test_progs(), "test_null", prog(4))
        .unwrap_err();
    assert!(
        matches!(err, Error::ProgramSlotInUse { ref name, .. } if name == "test_sum0"),
        "{err}"
    );
    vm.replace_program(test_progs(), "test_null", prog(4))
        .expect("replace");
    assert_eq!(run(&vm, &loader).1.result, 0, "the replacement answers");

    vm.remove_program(prog(4)).expect("remove");
    let (verdict, st) = run(&vm, &loader);
    assert_eq!(verdict, 0, "XDP_ABORTED is the loader's fail-safe verdict");
    assert_eq!(Fault::from_code(st.fault), Some(Fault::NoProg));
    assert_eq!(vm.fault_counts().unwrap()[Fault::NoProg as usize], 1);
    assert!(matches!(
        vm.remove_program(prog(4)),
        Err(Error::NoProgram { .. })
    ));
    assert!(vm.programs().is_empty());
}

#[test]
fn kernel_replaced_chain_is_seen_by_the_next_packet() {
    let vm = fast_vm();
    let loader = vm
        .load_loader("ldr", test_loader(), "test_loader")
        .expect("load the test loader");
    boot(&loader, 2, [0; 5]);
    vm.install_chain(chain(2), &ret(1), 0).unwrap();
    assert_eq!(run(&vm, &loader).1.result, 1);
    vm.install_chain(chain(2), &ret(2), 0).unwrap();
    assert_eq!(run(&vm, &loader).1.result, 2);
    assert!(vm.remove_chain(chain(2)));
    let (verdict, st) = run(&vm, &loader);
    assert_eq!(verdict, 0);
    assert_eq!(Fault::from_code(st.fault), Some(Fault::NoChain));
}

#[test]
fn kernel_load_failure_carries_the_verifier_log_and_leaves_nothing() {
    let mut elf = test_progs().to_vec();
    let (off, _) = elf_section(&elf, "xdp").expect("test_progs has an xdp section");
    // test_null is first in the section: make its first instruction an `exit` with r0 unset.
    elf[off..off + 8].copy_from_slice(&exit().to_bytes());

    let vm = fast_vm();
    let err = vm.load_program(&elf, "test_null", prog(1)).unwrap_err();
    let Error::Load {
        ref program,
        ref log,
        ref log_file,
        ..
    } = err
    else {
        panic!("expected a load error, got {err:?}");
    };
    assert_eq!(program, "test_null");
    assert!(!log.is_empty(), "the verifier log is kept");
    // The message is the summary (the verifier's words, and where the whole log is); the
    // `eclat` tests check a summary's every part on a wizard's program.
    let message = err.to_string();
    let log_file = log_file.as_deref().expect("the log was saved");
    let summary = hike_runtime::verifier::Summary::from_log(log);
    for expected in [
        format!("the verifier refused {summary}"),
        format!("full verifier log: {}", log_file.display()),
    ] {
        assert!(
            message.contains(&expected),
            "missing {expected:?} in: {message}"
        );
    }
    assert!(!message.contains("processed "), "no raw log: {message}");
    let saved = std::fs::read_to_string(log_file).expect("the saved log");
    assert_eq!(saved.trim_end(), log.as_str());
    std::fs::remove_file(log_file).unwrap();
    assert!(vm.programs().is_empty());
    let slot = vm
        .vm_map(hike_runtime::VmMap::Progs)
        .lookup(&1u32.to_ne_bytes())
        .unwrap_or(None);
    assert_eq!(slot, None, "the program table slot stays empty");
}

#[test]
fn kernel_unknown_program_is_named_with_the_alternatives() {
    let vm = fast_vm();
    let err = vm.load_program(test_progs(), "nope", prog(0)).unwrap_err();
    match &err {
        Error::ProgramNotFound {
            program, available, ..
        } => {
            assert_eq!(program, "nope");
            assert!(available.iter().any(|p| p == "test_sum2"), "{available:?}");
        }
        other => panic!("expected ProgramNotFound, got {other:?}"),
    }
    assert!(err.to_string().contains("`nope`"), "{err}");
}

#[test]
fn kernel_loader_maps_are_read_and_written_by_name_with_checked_sizes() {
    let vm = fast_vm();
    let loader = vm
        .load_loader("ldr", test_loader(), "test_loader")
        .expect("load the test loader");
    boot(&loader, 3, [9, 0, 0, 0, 0]);
    let m = loader.map("test_boot").unwrap();
    assert_eq!((m.key_size(), m.value_size()), (4, 48));
    let v = m.lookup(&0u32.to_ne_bytes()).unwrap().expect("array entry");
    assert_eq!(&v[..4], &3u32.to_ne_bytes());
    assert_eq!(&v[8..16], &9u64.to_ne_bytes());
    assert_eq!(m.entries().unwrap().len(), 1);

    let err = m.lookup(&[0u8; 8]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidKeySize {
                size: 8,
                expected: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("test_boot"), "{err}");
    let err = m
        .update(&0u32.to_ne_bytes(), &[0u8; 40], Default::default())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidValueSize {
                size: 40,
                expected: 48,
                ..
            }
        ),
        "{err:?}"
    );

    let err = loader.map("nope").unwrap_err();
    match err {
        Error::MapNotFound { available, .. } => {
            assert!(available.contains(&"test_boot".to_owned()), "{available:?}")
        }
        other => panic!("expected MapNotFound, got {other:?}"),
    }
}

#[test]
fn kernel_program_signature_comes_from_btf_decl_tags() {
    let sig = program_signature(test_progs(), "test_sum3")
        .unwrap()
        .expect("test_sum3 is tagged");
    assert_eq!(sig.name, "test_sum3");
    assert_eq!(sig.params, ["a", "b", "c"]);
    let sig = program_signature(test_progs(), "test_sum0")
        .unwrap()
        .expect("test_sum0 is tagged");
    assert!(sig.params.is_empty());
    assert_eq!(
        program_signature(test_loader(), "test_loader").unwrap(),
        None,
        "a loader is no hike_prog"
    );
    let all = hike_runtime::program_signatures(test_progs()).unwrap();
    assert!(all.len() >= 9, "{all:?}");
}

#[test]
fn kernel_events_of_programs_and_chains_are_read_back() {
    use hike_isa::abi::{EVENT_CHAIN, EVENT_PROGRAM, NO_ID};
    let vm = fast_vm();
    let events = vm.event_reader().expect("open the event ring");
    vm.load_program(test_progs(), "test_emit", prog(6))
        .expect("load test_emit");
    let helper_event = hike_isa::Insn::new(0x85, 0, 0, 0, hike_isa::abi::Helper::Event as i32);
    let code = [
        mov(1, 5),
        call_prog(6),
        mov(1, 9),
        mov(2, 1),
        mov(3, 2),
        mov(4, 3),
        helper_event,
        exit(),
    ];
    vm.install_chain(chain(4), &code, 0).unwrap();
    let loader = vm.load_loader("ldr", test_loader(), "test_loader").unwrap();
    boot(&loader, 4, [0; 5]);
    let (_, st) = run(&vm, &loader);
    assert_eq!(st.fault, 0, "fault {:?}", Fault::from_code(st.fault));

    let got = events
        .poll(std::time::Duration::from_secs(1))
        .expect("poll");
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        (got[0].kind, got[0].chain_id, got[0].prog_id, got[0].code),
        (EVENT_PROGRAM, 4, 6, 5)
    );
    assert_eq!(got[0].values, [6, 7, 8, 0]);
    assert_eq!(
        (got[1].kind, got[1].chain_id, got[1].prog_id, got[1].code),
        (EVENT_CHAIN, 4, NO_ID, 9)
    );
    assert_eq!(got[1].values, [1, 2, 3, 0]);
    assert!(events.drain().unwrap().is_empty());
}

#[test]
fn kernel_loaded_programs_know_their_parameters_for_validation() {
    use hike_isa::validate::Chain;
    let vm = fast_vm();
    vm.load_program(test_progs(), "test_sum2", prog(1)).unwrap();
    let info = &vm.programs()[0];
    assert_eq!(
        info.params.as_deref(),
        Some(&["a".to_owned(), "b".to_owned()][..])
    );

    let ctx = vm.validation_context();
    // Calling test_sum2 with only r1 written is refused; with r1 and r2 it is accepted.
    let short = [mov(1, 1), call_prog(1), exit()];
    let err = vm.install_validated_chain(
        chain(0),
        &Chain {
            name: "short",
            insns: &short,
            nparams: 0,
        },
        &ctx,
    );
    assert!(matches!(err, Err(Error::InvalidChain { .. })), "{err:?}");
    let full = [mov(1, 1), mov(2, 2), call_prog(1), exit()];
    vm.install_validated_chain(
        chain(0),
        &Chain {
            name: "full",
            insns: &full,
            nparams: 0,
        },
        &ctx,
    )
    .expect("valid call");
}
