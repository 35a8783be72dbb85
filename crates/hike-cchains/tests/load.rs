//! Loading C chains from objects compiled in the test: sections, relocations, call rewriting,
//! instructions kept as clang emitted them, line info, and linking.

mod common;

use common::{chain, link_context, load, CHAINS_C};
use hike_cchains::{compile_source, link_all, load_hike_c, CompileOptions};
use hike_isa::abi::{self, Helper};
use hike_isa::asm::{RelocKind, Relocation};
use hike_isa::disasm::disassemble;
use hike_isa::{op, Insn, Symbols};
use object::{Object, ObjectSection};

const CALL: u8 = op::JMP | op::CALL;

fn reloc(index: usize, kind: RelocKind, name: &str) -> Relocation {
    Relocation {
        index,
        kind,
        name: name.to_string(),
    }
}

#[test]
fn calls_become_program_chain_and_helper_calls() {
    let chains = load(
        r#"
#include <hike/chain.h>
HIKE_PROG_EXTERN(monitor, 1);
HIKE_PROG_EXTERN_AS(drop, hike_drop, 0);
HIKE_CHAIN_EXTERN(classify, 2);

HIKE_CHAIN(helper, a) { return a + hike_pkt_len(); }

HIKE_CHAIN(main_chain, x, y)
{
	monitor(x);
	__u64 r = classify(y, x) + helper(x);
	if (r == 0)
		drop();
	return r;
}
"#,
    );
    assert_eq!(
        chains.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["helper", "main_chain"]
    );
    let main = chain(&chains, "main_chain");
    assert_eq!(
        (main.nparams, main.params.clone()),
        (2, vec!["x".into(), "y".into()])
    );
    let kinds: Vec<_> = main
        .callees
        .iter()
        .map(|c| (c.kind, c.name.as_str(), c.nparams))
        .collect();
    assert_eq!(
        kinds,
        [
            (RelocKind::Prog, "monitor", 1),
            (RelocKind::Chain, "classify", 2),
            (RelocKind::Chain, "helper", 1),
            (RelocKind::Prog, "hike_drop", 0),
        ]
    );
    // Every relocation is on a call of its kind with imm 0; nothing else is a call.
    let relocs = &main.assembly.relocations;
    assert_eq!(relocs.len(), 4);
    for r in relocs {
        let insn = main.assembly.insns[r.index];
        let src = match r.kind {
            RelocKind::Prog => abi::CALL_PROG,
            RelocKind::Chain => abi::CALL_CHAIN,
        };
        assert_eq!(insn, Insn::new(CALL, 0, src, 0, 0), "{r:?}");
    }
    let calls = main
        .assembly
        .insns
        .iter()
        .filter(|i| i.code == CALL)
        .count();
    assert_eq!(calls, 4);

    // The helper call of `helper`: src_reg 0, imm = the helper's ID.
    let helper = chain(&chains, "helper");
    assert!(helper.assembly.relocations.is_empty());
    assert!(helper.assembly.insns.contains(&Insn::new(
        CALL,
        0,
        abi::CALL_HELPER,
        0,
        Helper::PktLen as i32
    )));
    assert!(disassemble(&helper.assembly.insns).contains("call pkt_len"));
    assert_eq!(main.insn_text(relocs[0].index), "call prog monitor");
}

#[test]
fn every_vm_helper_is_reachable_by_name() {
    let chains = load(
        r#"
#include <hike/chain.h>
HIKE_CHAIN(all)
{
	__u64 a = hike_pkt_load(0, 2) + hike_pkt_len() + hike_ktime_ns() + hike_random();
	hike_pkt_store(0, 1, a);
	hike_event(1, a, 0, 0);
	return 0;
}
"#,
    );
    let insns = &chains[0].assembly.insns;
    let mut ids: Vec<i32> = insns
        .iter()
        .filter(|i| i.code == CALL)
        .inspect(|i| assert_eq!(i.src(), abi::CALL_HELPER))
        .map(|i| i.imm)
        .collect();
    ids.sort();
    let mut all: Vec<i32> = Helper::ALL.iter().map(|h| *h as i32).collect();
    all.sort();
    assert_eq!(ids, all);
}

/// The loader changes call instructions only: everything else is clang's code, byte for byte
/// (jumps keep their offsets, `LD_IMM64` pairs stay whole).
#[test]
fn instructions_other_than_calls_are_clangs() {
    let compiled = compile_source("test.hike.c", CHAINS_C, &CompileOptions::default()).unwrap();
    let chains = load_hike_c(&compiled.object).unwrap();
    let file = object::File::parse(&*compiled.object).unwrap();
    let mut saw_ld_imm64 = false;
    let mut saw_jump = false;
    for c in &chains {
        let section = file
            .sections()
            .find(|s| {
                s.name()
                    .is_ok_and(|n| n.starts_with(&format!(".hike.chain.{}(", c.name)))
            })
            .unwrap();
        let raw = hike_isa::insn::decode(section.data().unwrap()).unwrap();
        assert_eq!(raw.len(), c.assembly.insns.len(), "{}", c.name);
        for (i, (a, b)) in raw.iter().zip(&c.assembly.insns).enumerate() {
            if a.code == CALL {
                assert_eq!(b.code, CALL);
                continue;
            }
            assert_eq!(a, b, "chain {} instruction {i}", c.name);
            saw_ld_imm64 |= a.code == op::LD_IMM64;
            saw_jump |= op::class(a.code) == op::JMP && a.code != (op::JMP | op::EXIT);
        }
    }
    assert!(saw_ld_imm64 && saw_jump);
}

#[test]
fn a_file_of_chains_links_against_programs_and_its_own_chains() {
    let chains = load(CHAINS_C);
    let (symbols, ctx) = link_context(&chains);
    let linked = link_all(&chains, &symbols, &ctx).unwrap();
    let twice = chains.iter().position(|c| c.name == "twice").unwrap();
    let sum_pair_id = symbols.chain_id("sum_pair").unwrap();
    let test_sum3 = symbols.prog_id("test_sum3").unwrap();
    let calls: Vec<(u8, i32)> = linked[twice]
        .iter()
        .filter(|i| i.code == CALL)
        .map(|i| (i.src(), i.imm))
        .collect();
    assert_eq!(
        calls,
        [
            (abi::CALL_CHAIN, sum_pair_id as i32),
            (abi::CALL_PROG, test_sum3 as i32)
        ]
    );
    // fib calls itself: a chain call by name, like any other.
    let fib = chain(&chains, "fib");
    let r = &fib.assembly.relocations[0];
    assert_eq!(*r, reloc(r.index, RelocKind::Chain, "fib"));
}

#[test]
fn chains_of_two_files_call_each_other_by_name() {
    let a = load(
        r#"
#include <hike/chain.h>
HIKE_CHAIN_EXTERN(scale, 2);
HIKE_CHAIN(entry, x) { return scale(x, 3) + 1; }
"#,
    );
    let b = load(
        r#"
#include <hike/chain.h>
HIKE_CHAIN(scale, x, k) { return x * k; }
"#,
    );
    let all: Vec<_> = a.iter().chain(&b).cloned().collect();
    let (symbols, ctx) = link_context(&all);
    let linked = link_all(&all, &symbols, &ctx).unwrap();
    let call = linked[0].iter().find(|i| i.code == CALL).unwrap();
    assert_eq!(
        (call.src(), call.imm as u32),
        (abi::CALL_CHAIN, symbols.chain_id("scale").unwrap())
    );
}

#[test]
fn line_info_locates_instructions() {
    let chains = load(
        "#include <hike/chain.h>\n\
         HIKE_PROG_EXTERN(monitor, 1);\n\
         HIKE_CHAIN(where, x)\n\
         {\n\
         \treturn monitor(x);\n\
         }\n",
    );
    let c = &chains[0];
    let call = c.assembly.relocations[0].index;
    let loc = c.location(call).expect("line info");
    assert_eq!((loc.file.as_str(), loc.line), ("test.hike.c", 5));
}

#[test]
fn link_names_unknown_callees_and_wrong_parameter_counts() {
    let chains = load(
        r#"
#include <hike/chain.h>
HIKE_PROG_EXTERN(no_such_prog, 1);
HIKE_PROG_EXTERN(test_sum2, 3);
HIKE_CHAIN_EXTERN(no_such_chain, 0);
HIKE_CHAIN(c, x)
{
	return no_such_prog(x) + test_sum2(x, x, x) + no_such_chain();
}
"#,
    );
    let (symbols, ctx) = link_context(&chains);
    let err = chains[0].link(&symbols, &ctx).unwrap_err();
    let lines: Vec<String> = err.rejections().iter().map(|r| r.to_string()).collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines[0].starts_with("test.hike.c:8:9: chain `c`: instruction ")
            && lines[0].ends_with("(`call prog no_such_prog`): unknown program `no_such_prog`"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with(
            "(`call prog test_sum2`): program `test_sum2` takes 2 parameters, but is declared with 3"
        ),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].ends_with("(`call chain no_such_chain`): unknown chain `no_such_chain`"),
        "{}",
        lines[2]
    );

    // check_callees: the same checks by name, for callers with their own catalog.
    let by_name = chains[0].check_callees(|kind, name| match (kind, name) {
        (RelocKind::Prog, "no_such_prog") => Some(1),
        (RelocKind::Prog, "test_sum2") => Some(3),
        (RelocKind::Chain, "no_such_chain") => Some(0),
        _ => None,
    });
    assert!(by_name.is_ok());
    // ... and an unknown name, or another count, is refused by name.
    let by_name = chains[0]
        .check_callees(|kind, name| match (kind, name) {
            (RelocKind::Prog, "test_sum2") => Some(2),
            (RelocKind::Chain, "no_such_chain") => Some(0),
            _ => None,
        })
        .unwrap_err();
    let lines: Vec<String> = by_name.rejections().iter().map(|r| r.to_string()).collect();
    assert_eq!(lines.len(), 2, "{by_name}");
    assert!(
        lines[0].ends_with("(`call prog no_such_prog`): unknown program `no_such_prog`"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with(
            "(`call prog test_sum2`): program `test_sum2` takes 2 parameters, but is declared with 3"
        ),
        "{}",
        lines[1]
    );
}

#[test]
fn link_validates_against_the_real_context() {
    let chains = load(
        r#"
#include <hike/chain.h>
HIKE_PROG_EXTERN(test_sum1, 1);
HIKE_CHAIN(c, x) { return test_sum1(x); }
"#,
    );
    // The name resolves, but the context has no program with that ID.
    let mut symbols = Symbols::new();
    symbols.add_prog(77, "test_sum1");
    let err = chains[0]
        .link(&symbols, &hike_isa::validate::Context::new())
        .unwrap_err();
    assert!(
        err.to_string().ends_with(
            "chain `c`: instruction 0 (`call prog test_sum1`): program 77 does not exist"
        ),
        "{err}"
    );
}
