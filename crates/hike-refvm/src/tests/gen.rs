//! The generator: valid chains pass a static check of what a validator rejects and fault only
//! for run-time reasons; invalid chains run without panics and fault in many ways.

use std::collections::BTreeSet;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::support::*;
use crate::gen::{self, GenConfig, GeneratedChain, ProgramSpec};

const PROGRAMS: [ProgramSpec; 3] = [
    ProgramSpec { id: 0, nparams: 0 },
    ProgramSpec { id: 7, nparams: 2 },
    ProgramSpec {
        id: 200,
        nparams: 5,
    },
];

fn config(rng: &mut SmallRng) -> GenConfig {
    let n = rng.random_range(1..=6);
    GenConfig {
        chain_ids: (0..n).map(|i| 10 * i + rng.random_range(0..10)).collect(),
        programs: PROGRAMS.to_vec(),
        max_insns: rng.random_range(16..=200),
        ..GenConfig::default()
    }
}

/// A VM with the chains and the three programs: program 0 returns the packet length, 7 writes
/// its first argument into the packet's first byte, 200 sums its arguments and sometimes ends
/// the packet.
fn vm_for(chains: &[GeneratedChain]) -> RefVm {
    let mut vm = RefVm::new();
    gen::load(&mut vm, chains).expect("generated chains load");
    vm.load_program(0, |call| ProgramOutcome::Return(call.packet().len() as u64))
        .unwrap();
    vm.load_program(7, |call| {
        let a = call.args();
        call.packet_mut()[0] = a[0] as u8;
        call.emit(7, a[0], a[1], 0);
        ProgramOutcome::Return(a[1].rotate_left(3))
    })
    .unwrap();
    vm.load_program(200, |call| {
        let sum = call.args().iter().fold(0u64, |s, a| s.wrapping_add(*a));
        if sum % 13 == 0 {
            ProgramOutcome::Verdict(xdp::TX)
        } else {
            ProgramOutcome::Return(sum)
        }
    })
    .unwrap();
    vm
}

/// The checks a validator makes before a chain runs, written independently of the generator:
/// opcodes and registers valid, jump targets inside the chain and not inside an `LD_IMM64`,
/// every instruction reachable, every register read written before on every path (the chain's
/// parameters are its inputs; `r1..r5` are lost after every call), calls with their
/// parameters set, no fall-through off the end.
fn static_check(chain: &GeneratedChain, chains: &[GeneratedChain]) -> Result<(), String> {
    let insns = &chain.insns;
    let n = insns.len();
    let err = |pc: usize, what: &str| Err(format!("chain {} pc {pc}: {what}", chain.id));
    // Successors and the registers each instruction reads and writes.
    let mut second_slot = vec![false; n];
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut reads = vec![0u16; n];
    let mut writes = vec![0u16; n];
    let mut is_call = vec![false; n];
    let bit = |r: u8| 1u16 << r;
    let mut pc = 0;
    while pc < n {
        let i = insns[pc];
        let (code, dst, src) = (i.code, i.dst(), i.src());
        if dst > 10 || src > 10 {
            return err(pc, "register above 10");
        }
        let x = op::source(code) == op::X;
        let mut next = vec![pc + 1];
        match op::class(code) {
            op::ALU | op::ALU64 => {
                if dst == 10 {
                    return err(pc, "write to r10");
                }
                let o = op::alu_op(code);
                reads[pc] = if o == op::MOV { 0 } else { bit(dst) };
                if x && o != op::END {
                    reads[pc] |= bit(src);
                }
                writes[pc] = bit(dst);
            }
            op::JMP | op::JMP32 => match op::alu_op(code) {
                op::EXIT => {
                    reads[pc] = bit(0);
                    next.clear();
                }
                op::CALL => {
                    is_call[pc] = true;
                    let params = match src {
                        abi::CALL_HELPER => match Helper::from_id(i.imm as u32) {
                            Some(
                                h @ (Helper::PktLoad
                                | Helper::PktStore
                                | Helper::PktLen
                                | Helper::Event),
                            ) => h.arg_count() as u8,
                            _ => return err(pc, "helper not allowed"),
                        },
                        abi::CALL_CHAIN => {
                            let pos = chains.iter().position(|c| c.id == chain.id).unwrap();
                            match chains[pos + 1..].iter().find(|c| c.id == i.imm as u32) {
                                Some(c) => c.nparams,
                                None => return err(pc, "call to an unknown or earlier chain"),
                            }
                        }
                        _ => match PROGRAMS.iter().find(|p| p.id == i.imm as u32) {
                            Some(p) => p.nparams,
                            None => return err(pc, "unknown program"),
                        },
                    };
                    reads[pc] = ((1u16 << (params + 1)) - 1) & 0b11_1110;
                    writes[pc] = 1;
                }
                op::JA => {
                    let delta = if op::class(code) == op::JMP32 {
                        i.imm as i64
                    } else {
                        i.off as i64
                    };
                    next = vec![(pc as i64 + 1 + delta) as usize];
                }
                _ => {
                    reads[pc] = bit(dst) | if x { bit(src) } else { 0 };
                    next.push((pc as i64 + 1 + i.off as i64) as usize);
                }
            },
            op::LDX => {
                if dst == 10 {
                    return err(pc, "write to r10");
                }
                reads[pc] = bit(src);
                writes[pc] = bit(dst);
            }
            op::ST => reads[pc] = bit(dst),
            op::STX => reads[pc] = bit(dst) | bit(src),
            _ => {
                if code != op::LD_IMM64 || pc + 1 >= n || insns[pc + 1].to_word() as u32 != 0 {
                    return err(pc, "bad LD_IMM64");
                }
                writes[pc] = bit(dst);
                second_slot[pc + 1] = true;
                next = vec![pc + 2];
            }
        }
        for &t in &next {
            if t >= n {
                return err(pc, "jump or fall-through out of the chain");
            }
        }
        succ[pc] = next;
        pc += if code == op::LD_IMM64 { 2 } else { 1 };
    }
    // Registers written on every path: intersection over predecessors, to a fixpoint.
    let entry = (((1u16 << (chain.nparams + 1)) - 1) & 0b11_1110) | bit(10);
    let mut known: Vec<Option<u16>> = vec![None; n];
    known[0] = Some(entry);
    let mut work = vec![0usize];
    while let Some(pc) = work.pop() {
        let k = known[pc].expect("queued with a state");
        if second_slot[pc] {
            return err(pc, "jump into an LD_IMM64");
        }
        if reads[pc] & !k != 0 {
            return err(
                pc,
                &format!("reads unwritten registers {:#b}", reads[pc] & !k),
            );
        }
        let out = if is_call[pc] {
            (k & !0b11_1110) | 1
        } else {
            k | writes[pc]
        };
        for &t in &succ[pc] {
            let merged = known[t].map_or(out, |old| old & out);
            if known[t] != Some(merged) {
                known[t] = Some(merged);
                work.push(t);
            }
        }
    }
    for pc in 0..n {
        if known[pc].is_none() && !second_slot[pc] {
            return err(pc, "unreachable");
        }
    }
    Ok(())
}

#[test]
fn valid_chains_pass_the_static_check() {
    for seed in 0..300 {
        let mut rng = SmallRng::seed_from_u64(seed);
        let config = config(&mut rng);
        let chains = gen::valid_chains(&mut rng, &config);
        assert_eq!(
            chains.iter().map(|c| c.id).collect::<Vec<_>>(),
            config.chain_ids
        );
        for c in &chains {
            assert!(
                c.insns.len() <= config.max_insns.max(8) + 24,
                "seed {seed}: {} insns",
                c.insns.len()
            );
            if let Err(e) = static_check(c, &chains) {
                panic!("seed {seed}: {e}");
            }
        }
    }
}

#[test]
fn valid_chains_pass_the_validator() {
    use hike_isa::validate::{validate, Chain, Context};
    for seed in 0..300 {
        let mut rng = SmallRng::seed_from_u64(seed);
        let config = config(&mut rng);
        let chains = gen::valid_chains(&mut rng, &config);
        let mut ctx = Context::new();
        for c in &chains {
            ctx.add_chain(c.id, c.nparams);
        }
        for p in PROGRAMS {
            ctx.add_prog(p.id, p.nparams);
        }
        for c in &chains {
            let name = format!("seed{seed}_chain{}", c.id);
            let chain = Chain {
                name: &name,
                insns: &c.insns,
                nparams: c.nparams,
            };
            if let Err(e) = validate(&chain, &ctx) {
                panic!("{e}");
            }
        }
    }
}

#[test]
fn valid_chains_fault_only_for_run_time_reasons() {
    let allowed = [
        Fault::PktOutOfBounds,
        Fault::Budget,
        Fault::ProgCallCap,
        Fault::CallDepth,
    ];
    let mut faults = std::collections::BTreeMap::new();
    let mut verdicts = BTreeSet::new();
    let runs = 400;
    for seed in 0..runs {
        let mut rng = SmallRng::seed_from_u64(seed);
        let config = config(&mut rng);
        let chains = gen::valid_chains(&mut rng, &config);
        let mut vm = vm_for(&chains);
        vm.set_stats(true);
        for _ in 0..3 {
            let packet = gen::packet(&mut rng);
            let boot = Boot::new(chains[0].id, packet)
                .with_args(&gen::args(&mut rng))
                .with_meta(gen::meta(&mut rng));
            let out = vm.run(boot);
            if let Some(f) = out.fault {
                assert!(
                    allowed.contains(&f),
                    "seed {seed}: {f} at chain {} pc {}",
                    out.fault_chain,
                    out.fault_pc
                );
            }
            *faults.entry(out.fault).or_insert(0u32) += 1;
            verdicts.insert(out.ending);
        }
    }
    let clean = faults.get(&None).copied().unwrap_or(0);
    assert!(
        clean > runs as u32 * 3 / 2,
        "most runs end without a fault: {faults:?}"
    );
    assert!(
        faults.contains_key(&Some(Fault::PktOutOfBounds)),
        "{faults:?}"
    );
    assert!(
        verdicts.contains(&Ending::Program { prog_id: 200 }),
        "{verdicts:?}"
    );
}

#[test]
fn valid_chains_use_every_instruction_class_and_operation() {
    let mut seen = BTreeSet::new();
    for seed in 0..100 {
        let mut rng = SmallRng::seed_from_u64(seed);
        let config = config(&mut rng);
        for c in gen::valid_chains(&mut rng, &config) {
            for i in c.insns {
                let class = op::class(i.code);
                let key = match class {
                    op::LDX | op::ST | op::STX => (i.code & 0xe7, 0),
                    op::LD => (i.code, 0),
                    _ => (i.code & 0xf7, i.src()),
                };
                let key = if op::class(i.code) == op::JMP && op::alu_op(i.code) != op::CALL {
                    (key.0, 0)
                } else {
                    key
                };
                seen.insert(key);
            }
        }
    }
    for class in [op::ALU, op::ALU64] {
        for o in [
            op::ADD,
            op::SUB,
            op::MUL,
            op::DIV,
            op::OR,
            op::AND,
            op::LSH,
            op::RSH,
            op::NEG,
            op::MOD,
            op::XOR,
            op::MOV,
            op::ARSH,
            op::END,
        ] {
            assert!(seen.iter().any(|k| k.0 == class | o), "{class:#x} {o:#x}");
        }
    }
    for class in [op::JMP, op::JMP32] {
        for o in [
            op::JA,
            op::JEQ,
            op::JGT,
            op::JGE,
            op::JSET,
            op::JNE,
            op::JSGT,
            op::JSGE,
            op::JLT,
            op::JLE,
            op::JSLT,
            op::JSLE,
        ] {
            assert!(seen.iter().any(|k| k.0 == class | o), "{class:#x} {o:#x}");
        }
    }
    for kind in [abi::CALL_HELPER, abi::CALL_CHAIN, abi::CALL_PROG] {
        assert!(seen.contains(&(op::JMP | op::CALL, kind)));
    }
    for key in [
        op::LDX | op::MEM,
        op::LDX | op::MEMSX,
        op::ST | op::MEM,
        op::STX | op::MEM,
        op::LD_IMM64,
    ] {
        assert!(seen.contains(&(key, 0)), "{key:#x}");
    }
}

#[test]
fn invalid_chains_run_without_panics_and_fault_in_many_ways() {
    let mut faults = BTreeSet::new();
    for seed in 0..500 {
        let mut rng = SmallRng::seed_from_u64(seed);
        let config = config(&mut rng);
        let chains = gen::invalid_chains(&mut rng, &config);
        for c in &chains {
            assert!(!c.insns.is_empty() && c.insns.len() <= abi::MAX_CHAIN_INSNS);
            for i in &c.insns {
                let helper = i.code == op::JMP | op::CALL && i.src() == abi::CALL_HELPER;
                assert!(
                    !(helper && [Helper::KtimeNs as i32, Helper::Random as i32].contains(&i.imm))
                );
            }
        }
        let mut vm = vm_for(&chains);
        vm.set_budget(2000);
        let out =
            vm.run(Boot::new(chains[0].id, gen::packet(&mut rng)).with_args(&gen::args(&mut rng)));
        faults.insert(out.fault);
        if out.fault.is_some() {
            assert_eq!(out.verdict, xdp::ABORTED);
        }
    }
    for f in [
        Fault::BadOpcode,
        Fault::BadRegister,
        Fault::BadJump,
        Fault::MemOutOfBounds,
        Fault::BadHelper,
    ] {
        assert!(faults.contains(&Some(f)), "{f} not seen: {faults:?}");
    }
}

#[test]
fn generation_is_deterministic() {
    let make = || {
        let mut rng = SmallRng::seed_from_u64(42);
        let config = config(&mut rng);
        (
            gen::valid_chains(&mut rng, &config),
            gen::invalid_chains(&mut rng, &config),
            gen::packet(&mut rng),
        )
    };
    assert_eq!(make(), make());
}

#[test]
fn packets_are_14_to_200_bytes() {
    let mut rng = SmallRng::seed_from_u64(7);
    let lens: BTreeSet<usize> = (0..2000).map(|_| gen::packet(&mut rng).len()).collect();
    assert_eq!(lens.first(), Some(&14));
    assert_eq!(lens.last(), Some(&200));
}

#[test]
fn corrupt_never_empties_a_chain() {
    let mut rng = SmallRng::seed_from_u64(3);
    for _ in 0..1000 {
        let mut insns = vec![exit()];
        gen::corrupt(&mut rng, &mut insns);
        assert!(!insns.is_empty());
    }
}

#[test]
fn random_words_never_panic_the_vm() {
    let mut rng = SmallRng::seed_from_u64(11);
    let mut vm = RefVm::new();
    vm.set_budget(300);
    vm.load_program(1, |_| ProgramOutcome::Return(1)).unwrap();
    for _ in 0..3000 {
        for id in 0..3 {
            let len = rng.random_range(1..40);
            let insns: Vec<Insn> = (0..len).map(|_| Insn::from_word(rng.random())).collect();
            vm.load_chain(id, insns, 0).unwrap();
        }
        let out = vm.run(Boot::new(rng.random_range(0..4), gen::packet(&mut rng)));
        assert!(out.fault.is_some() || out.ending != Ending::Fault);
        assert!(out.steps <= 300);
    }
}
