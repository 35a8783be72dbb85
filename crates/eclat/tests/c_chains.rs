//! `from chains.FILE import name` of chains written in C (`FILE.hike.c` beside the script):
//! `eclat check` and `eclat compile` resolve them and report the C file's problems (clang's
//! errors, unknown programs, names the file does not define). Running them is in
//! `kernel_run.rs`. Needs clang, as `hike-cchains` does.

mod support;

use support::{eclat, text, TempDir};

/// A C file whose chains call `monitor` and `hike_pass`, and a script importing one of them.
const HELPERS: &str = "#include <hike/chain.h>
HIKE_PROG_EXTERN(monitor, 1);
HIKE_PROG_EXTERN(hike_pass, 0);

HIKE_CHAIN(inner, event)
{
	monitor(event);
	return event + 40;
}

HIKE_CHAIN(count_and_pass, event)
{
	__u64 r = inner(event);
	if (r == 47)
		hike_pass();
	return r;
}
";

const MAIN: &str = "from chains.helpers import count_and_pass
from programs.net import monitor, hike_drop
from loaders.basic import ip6_sc
ip6_sc[ipv6_sc_map] = { (0): (top) }
def top():
    monitor(count_and_pass(7))
    hike_drop()
    return 0
";

#[test]
fn c_chains_check_and_compile_resolve_a_c_chain_beside_the_script() {
    let dir = TempDir::new("cc-ok");
    dir.write("helpers.hike.c", HELPERS);
    dir.write("main.eclat", MAIN);
    let out = eclat(&["check", "main.eclat"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let out = eclat(&["compile", "main.eclat"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("call chain count_and_pass"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn c_chains_wrong_argument_count_is_checked_against_the_c_chain() {
    let dir = TempDir::new("cc-args");
    dir.write("helpers.hike.c", HELPERS);
    dir.write(
        "main.eclat",
        MAIN.replace("count_and_pass(7)", "count_and_pass(7, 8)"),
    );
    let out = eclat(&["check", "main.eclat"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("main.eclat:6:13: error: "), "{err}");
    assert!(err.contains("count_and_pass"), "{err}");
}

#[test]
fn c_chains_clang_error_is_shown_with_file_and_line() {
    let dir = TempDir::new("cc-clang");
    dir.write(
        "helpers.hike.c",
        "#include <hike/chain.h>

HIKE_CHAIN(count_and_pass, a)
{
	return a + undefined_thing;
}
",
    );
    dir.write("main.eclat", MAIN);
    for cmd in ["check", "compile"] {
        let out = eclat(&[cmd, "main.eclat"], dir.path());
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        let err = text(&out.stderr);
        assert!(
            err.contains(
                "helpers.hike.c:5:13: error: use of undeclared identifier 'undefined_thing'"
            ),
            "{cmd}: {err}"
        );
        assert!(
            err.contains(
                "main.eclat:1:13: error: cannot import chains from `helpers`: `helpers.hike.c` \
                 does not compile (clang's errors above)"
            ),
            "{cmd}: {err}"
        );
        // clang's errors come first, once.
        assert!(
            err.find("undeclared").unwrap() < err.find("cannot import").unwrap(),
            "{err}"
        );
        assert_eq!(err.matches("undeclared identifier").count(), 1, "{err}");
    }
}

#[test]
fn c_chains_unknown_program_is_named_with_the_c_function() {
    let dir = TempDir::new("cc-unknown");
    dir.write(
        "helpers.hike.c",
        "#include <hike/chain.h>
HIKE_PROG_EXTERN(no_such_prog, 1);
HIKE_PROG_EXTERN(monitor, 2);
HIKE_CHAIN(count_and_pass, a)
{
	no_such_prog(a);
	monitor(a, 1);
	return 0;
}
",
    );
    dir.write("main.eclat", MAIN);
    for cmd in ["check", "compile"] {
        let out = eclat(&[cmd, "main.eclat"], dir.path());
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        assert_eq!(text(&out.stdout), "", "{cmd}: no code for a failed import");
        let err = text(&out.stderr);
        assert!(
            err.contains(
                "helpers.hike.c:6:2: error: chain `count_and_pass`: instruction 1 \
                 (`call prog no_such_prog`): unknown program `no_such_prog`\n  = help: no package \
                 has a program `no_such_prog` (searched: net, hike_default,"
            ),
            "{cmd}: {err}"
        );
        assert!(
            err.contains(
                "helpers.hike.c:7:2: error: chain `count_and_pass`: instruction 4 (`call prog \
                 monitor`): program `monitor` takes 1 parameters, but is declared with 2"
            ),
            "{cmd}: {err}"
        );
    }
}

#[test]
fn c_chains_unknown_name_lists_the_chains_of_the_file() {
    let dir = TempDir::new("cc-names");
    dir.write("helpers.hike.c", HELPERS);
    dir.write(
        "main.eclat",
        MAIN.replace("import count_and_pass", "import count_and_pass, nope"),
    );
    let out = eclat(&["check", "main.eclat"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "main.eclat:1:44: error: script `helpers` has no chain `nope`\n  1 | from chains.helpers \
             import count_and_pass, nope\n    |                                            ^^^^\n    \
             = help: `helpers` has chains `inner`, `count_and_pass`\n"
        ),
        "{err}"
    );
}

#[test]
fn c_chains_nested_calls_count_against_the_frame_limit() {
    // c1 -> c2 -> ... -> c16: 16 frames; a script chain calling c1 needs 17.
    let mut c = String::from("#include <hike/chain.h>\nHIKE_CHAIN(c16) { return 1; }\n");
    for i in (1..16).rev() {
        c.push_str(&format!(
            "HIKE_CHAIN(c{i}) {{ return c{}() + 1; }}\n",
            i + 1
        ));
    }
    let dir = TempDir::new("cc-depth");
    dir.write("deep.hike.c", c);
    dir.write(
        "main.eclat",
        "from chains.deep import c1, c2\ndef top():\n    return c2()\ndef top1():\n    return c1()\n",
    );
    let out = eclat(&["check", "main.eclat"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("error: chain `top1` nests 17 chain frames, more than the VM's limit of 16"),
        "{err}"
    );
    assert!(!err.contains("`top` nests"), "c2 is 15 frames deep: {err}");
}

#[test]
fn c_chains_an_eclat_script_of_the_same_name_wins() {
    let dir = TempDir::new("cc-both");
    dir.write("helpers.hike.c", HELPERS);
    dir.write("helpers.eclat", "def other():\n    return 1\n");
    dir.write("main.eclat", MAIN);
    let out = eclat(&["check", "main.eclat"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("error: script `helpers` has no chain `count_and_pass`")
            && err.contains("= help: `helpers` has chain `other`"),
        "{err}"
    );
}
