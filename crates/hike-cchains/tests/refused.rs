//! What a chain cannot do, and the messages: each names the C function, the instruction and
//! the source line.

mod common;

use common::try_load;
use hike_cchains::{compile_source, load_hike_c, CChainError, CompileOptions, Problem};

/// The one rejection of `src`, displayed.
fn refused(src: &str) -> (Problem, String) {
    let err = try_load(src).expect_err("the chain must be refused");
    match err.rejections() {
        [r] => (r.problem.clone(), r.to_string()),
        _ => panic!("expected one rejection, got: {err}"),
    }
}

const HEADER: &str = "#include <hike/chain.h>\n";

#[test]
fn global_data_is_refused() {
    let (problem, msg) = refused(&format!(
        "{HEADER}__u64 counter;\nHIKE_CHAIN(count)\n{{\n\treturn ++counter;\n}}\n"
    ));
    assert!(matches!(problem, Problem::GlobalData { .. }), "{msg}");
    assert_eq!(
        msg,
        "test.hike.c:5:9: chain `count`: instruction 0 (`r1 = 0 ll`): refers to `counter` \
         (section `.bss`): chains have no maps, global or static data, or string literals"
    );
}

#[test]
fn maps_are_refused() {
    let (problem, msg) = refused(&format!(
        "{HEADER}\
         struct {{ int (*type)[2]; int (*max_entries)[1]; }} my_map __attribute__((section(\".maps\")));\n\
         HIKE_CHAIN(use_map, k)\n{{\n\treturn (__u64)&my_map + k;\n}}\n"
    ));
    assert_eq!(
        problem,
        Problem::GlobalData {
            symbol: "my_map".into(),
            section: ".maps".into()
        },
        "{msg}"
    );
    assert!(msg.starts_with("test.hike.c:5:"), "{msg}");
    assert!(msg.contains("chain `use_map`: instruction"), "{msg}");
}

#[test]
fn string_literals_and_constant_tables_are_refused() {
    let (_, msg) = refused(&format!(
        "{HEADER}HIKE_CHAIN(str, i)\n{{\n\treturn \"hello, world\"[i & 7];\n}}\n"
    ));
    assert!(
        msg.contains("refers to a string literal (section `.rodata.str1.1`)"),
        "{msg}"
    );
    let (problem, _) = refused(&format!(
        "{HEADER}static const __u64 t[4] = {{1, 22, 333, 4444}};\nHIKE_CHAIN(tbl, i)\n{{\n\treturn t[i & 3];\n}}\n"
    ));
    assert!(
        matches!(&problem, Problem::GlobalData { section, .. } if section.starts_with(".rodata")),
        "{problem:?}"
    );
}

#[test]
fn bpf_helpers_are_refused() {
    let (problem, msg) = refused(&format!(
        "{HEADER}static __u64 (*bpf_ktime_get_ns)(void) = (void *)5;\n\
         HIKE_CHAIN(kt)\n{{\n\treturn bpf_ktime_get_ns();\n}}\n"
    ));
    assert_eq!(problem, Problem::BpfHelper { id: 5 });
    assert!(
        msg.starts_with(
            "test.hike.c:5:9: chain `kt`: instruction 0 (`call 5`): calls BPF helper 5"
        ),
        "{msg}"
    );
}

#[test]
fn calls_of_functions_that_are_not_chains_are_refused() {
    let (problem, msg) = refused(&format!(
        "{HEADER}static __attribute__((noinline)) __u64 triple(__u64 x) {{ return x * 3; }}\n\
         HIKE_CHAIN(uses_static, x)\n{{\n\treturn triple(x) + 1;\n}}\n"
    ));
    assert_eq!(
        problem,
        Problem::LocalCall {
            function: "triple".into()
        }
    );
    assert!(msg.contains("(`call triple`): calls `triple`, which is not a chain: make it `static __always_inline`, or a chain with HIKE_CHAIN"), "{msg}");

    // A global function outside the chain sections is no chain either.
    let (problem, _) = refused(&format!(
        "{HEADER}__attribute__((noinline)) __u64 plain(__u64 x) {{ return x * 3; }}\n\
         HIKE_CHAIN(uses_plain, x)\n{{\n\treturn plain(x) + 1;\n}}\n"
    ));
    assert_eq!(
        problem,
        Problem::LocalCall {
            function: "plain".into()
        }
    );
}

#[test]
fn undeclared_externs_kfuncs_and_unknown_helpers_are_refused() {
    let (problem, msg) = refused(&format!(
        "{HEADER}extern __u64 bpf_kfunc_thing(__u64 x);\n\
         HIKE_CHAIN(k, x)\n{{\n\treturn bpf_kfunc_thing(x);\n}}\n"
    ));
    assert_eq!(
        problem,
        Problem::UnknownExtern {
            symbol: "bpf_kfunc_thing".into()
        }
    );
    assert!(msg.contains("(`call bpf_kfunc_thing`): calls `bpf_kfunc_thing`, which is not declared with HIKE_PROG_EXTERN or HIKE_CHAIN_EXTERN"), "{msg}");

    let (problem, _) = refused(&format!(
        "{HEADER}extern __u64 nope(void) __asm__(\"hike.helper.nope\");\n\
         HIKE_CHAIN(h)\n{{\n\treturn nope();\n}}\n"
    ));
    assert_eq!(
        problem,
        Problem::UnknownHelper {
            name: "nope".into()
        }
    );

    let (problem, _) = refused(&format!(
        "{HEADER}extern __u64 odd(void) __asm__(\"hike.prog.odd\");\n\
         HIKE_CHAIN(h)\n{{\n\treturn odd();\n}}\n"
    ));
    assert_eq!(
        problem,
        Problem::BadHikeSymbol {
            symbol: "hike.prog.odd".into()
        }
    );
}

#[test]
fn one_name_with_two_parameter_counts_is_refused() {
    let (problem, msg) = refused(&format!(
        "{HEADER}HIKE_PROG_EXTERN_AS(mon1, monitor, 1);\nHIKE_PROG_EXTERN_AS(mon2, monitor, 2);\n\
         HIKE_CHAIN(c, x)\n{{\n\treturn mon1(x) + mon2(x, x);\n}}\n"
    ));
    assert!(
        matches!(
            problem,
            Problem::ConflictingDeclarations {
                first: 1,
                second: 2,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.ends_with("program `monitor` is declared with 1 and with 2 parameters"),
        "{msg}"
    );

    // A chain of the file called through an extern with another count.
    let (problem, _) = refused(&format!(
        "{HEADER}HIKE_CHAIN_EXTERN_AS(other, target, 2);\n\
         HIKE_CHAIN(target, x) {{ return x; }}\n\
         HIKE_CHAIN(c, x)\n{{\n\treturn other(x, x);\n}}\n"
    ));
    assert!(
        matches!(
            problem,
            Problem::ConflictingDeclarations {
                first: 1,
                second: 2,
                ..
            }
        ),
        "{problem:?}"
    );
}

#[test]
fn the_validator_refuses_what_the_vm_cannot_run() {
    // Atomics: not a VM instruction.
    let (problem, msg) = refused(&format!(
        "{HEADER}HIKE_CHAIN(atomic, x)\n{{\n\tvolatile __u64 v = x;\n\t__sync_fetch_and_add(&v, 1);\n\treturn v;\n}}\n"
    ));
    assert!(matches!(problem, Problem::Invalid(_)), "{msg}");
    assert!(
        msg.starts_with("test.hike.c:5:2: chain `atomic`: instruction ")
            && msg.contains("(`.insn 0xdb, 10, ")
            && msg.ends_with("bad opcode 0xdb: memory mode 0xc0 is not supported"),
        "{msg}"
    );
}

#[test]
fn co_re_relocations_are_refused() {
    let err = try_load(&format!(
        "{HEADER}struct task {{ int pid; }} __attribute__((preserve_access_index));\n\
         HIKE_CHAIN(core, p)\n{{\n\treturn ((struct task *)p)->pid;\n}}\n"
    ))
    .expect_err("CO-RE is refused");
    assert!(
        err.rejections().iter().any(|r| r.problem == Problem::CoRe),
        "{err}"
    );
}

#[test]
fn every_problem_of_every_chain_is_reported() {
    let err = try_load(&format!(
        "{HEADER}__u64 g;\nstatic __u64 (*bpf_helper7)(void) = (void *)7;\n\
         HIKE_CHAIN(a) {{ return g; }}\n\
         HIKE_CHAIN(b) {{ return bpf_helper7(); }}\n\
         HIKE_CHAIN(ok) {{ return 1; }}\n"
    ))
    .unwrap_err();
    let chains: Vec<&str> = err.rejections().iter().map(|r| r.chain.as_str()).collect();
    assert_eq!(chains, ["a", "b"], "{err}");
}

#[test]
fn a_section_that_is_not_a_chain_is_refused() {
    let (problem, _) = refused(
        "__attribute__((section(\".hike.chain.bad name\"))) unsigned long long f(void) { return 0; }\n",
    );
    assert_eq!(
        problem,
        Problem::BadSection {
            section: ".hike.chain.bad name".into()
        }
    );
    let (problem, msg) = refused(
        "__attribute__((section(\".hike.chain.g()\"))) unsigned long long f(void) { return 0; }\n",
    );
    assert!(matches!(problem, Problem::SectionFunctions { .. }), "{msg}");
    assert!(
        msg.contains("must hold exactly the function `g`, found `f`"),
        "{msg}"
    );
}

#[test]
fn clang_errors_carry_file_and_line() {
    let err = compile_source(
        "broken.hike.c",
        &format!("{HEADER}HIKE_CHAIN(x)\n{{\n\treturn y;\n}}\n"),
        &CompileOptions::default(),
    )
    .unwrap_err();
    let CChainError::Clang { diagnostics, file } = &err else {
        panic!("{err}")
    };
    assert_eq!(file.to_str(), Some("broken.hike.c"));
    assert!(
        diagnostics.contains("broken.hike.c:4:9: error: use of undeclared identifier 'y'"),
        "{diagnostics}"
    );

    // More than 512 bytes of stack: clang's own error.
    let err = compile_source(
        "big.hike.c",
        &format!(
            "{HEADER}HIKE_CHAIN(big, n)\n{{\n\tvolatile __u64 a[80];\n\tfor (int i = 0; i < 80; i++) a[i] = i;\n\treturn a[n % 80];\n}}\n"
        ),
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("stack"), "{err}");

    // Too many parameters: the header's macros refuse them.
    let err = compile_source(
        "six.hike.c",
        &format!("{HEADER}HIKE_PROG_EXTERN(six, 6);\n"),
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("six.hike.c:2:"), "{err}");
}

#[test]
fn objects_that_are_not_bpf_are_refused() {
    let err = load_hike_c(b"not an ELF file").unwrap_err();
    assert!(matches!(err, CChainError::NotBpfObject { .. }), "{err}");
    let host = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let err = load_hike_c(&host).unwrap_err();
    assert!(err.to_string().contains("not a BPF ELF file"), "{err}");
}
