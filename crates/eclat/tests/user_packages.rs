//! User packages that do not trip each other: a package that does not build fails only the
//! scripts that import it; a verifier refusal of a wizard's program is summarised (instruction,
//! source line, usual cause, the whole log in a file); `eclat load --package-dir` is refused with
//! the daemon's way; `eclat check --verify` runs the verifier before any load. The kernel tests
//! (`run`, `--verify`) need root; each is its own process with its own private VM.

mod support;

use std::path::{Path, PathBuf};

use hike_testkit::packet::{hex, ipv6_udp, A6, B6};
use support::{eclat_env, json_lines, repo, text, verdicts, TempDir};

/// A package that builds: `add2(a, b)` returns `a + b`.
const GOOD: &str = "#include <hike/sdk.h>
HIKE_PROG(add2, a, b)
{
\tHIKE_RETURN(a + b);
}
char LICENSE[] SEC(\"license\") = \"Dual BSD/GPL\";
";

/// A package with a C error on line 4.
const BROKEN: &str =
    "#include <hike/sdk.h>\nHIKE_PROG(oops)\n{\n\tHIKE_RETURN(undeclared_name);\n}\n";

/// A package that builds but that the verifier refuses: a packet read on line 8 without a
/// bounds check.
const UNCHECKED: &str = "#include <hike/sdk.h>

HIKE_PROG(peek)
{
\tunsigned char *data = (unsigned char *)(long)ctx->data;

\t/* No check against ctx->data_end. */
\tHIKE_RETURN(data[20]);
}

char LICENSE[] SEC(\"license\") = \"Dual BSD/GPL\";
";

/// A directory with the packages `good`, `broken` and `wiz` and a script importing each,
/// and a cache and a directory for verifier logs of its own.
struct Packages {
    dir: TempDir,
    cache: TempDir,
    logs: TempDir,
}

impl Packages {
    fn new(label: &str) -> Packages {
        let dir = TempDir::new(label);
        dir.write("pkgs/good/add2.bpf.c", GOOD);
        dir.write("pkgs/broken/oops.bpf.c", BROKEN);
        dir.write("pkgs/wiz/peek.bpf.c", UNCHECKED);
        dir.write(
            "good.eclat",
            "from programs.good import add2
from programs.net import hike_pass
from loaders.basic import ip6_sc
ip6_sc[ipv6_sc_map] = { (0): (c) }
def c():
    if add2(40, 2) == 42:
        hike_pass()
    return 1
",
        );
        dir.write(
            "broken.eclat",
            "from programs.broken import oops\ndef c():\n    return oops()\n",
        );
        dir.write(
            "wiz.eclat",
            "from programs.wiz import peek
from loaders.basic import ip6_sc
ip6_sc[ipv6_sc_map] = { (0): (c) }
def c():
    return peek()
",
        );
        Packages {
            dir,
            cache: TempDir::new(&format!("{label}-cache")),
            logs: TempDir::new(&format!("{label}-logs")),
        }
    }

    fn script(&self, name: &str) -> String {
        self.dir
            .path()
            .join(format!("{name}.eclat"))
            .to_string_lossy()
            .into_owned()
    }

    fn pkgs(&self) -> String {
        self.dir.path().join("pkgs").to_string_lossy().into_owned()
    }

    /// `eclat ARGS --package-dir PKGS` with the cache and the log directory of this test.
    fn eclat(&self, args: &[&str]) -> std::process::Output {
        let pkgs = self.pkgs();
        let mut all = args.to_vec();
        all.extend(["--package-dir", pkgs.as_str()]);
        let cache = self.cache.path().to_string_lossy().into_owned();
        let logs = self.logs.path().to_string_lossy().into_owned();
        eclat_env(
            &all,
            &repo(),
            &[
                ("ECLAT_CACHE_DIR", cache.as_str()),
                ("HIKE_VERIFIER_LOG_DIR", logs.as_str()),
            ],
        )
    }

    /// The verifier logs saved so far.
    fn saved_logs(&self) -> Vec<PathBuf> {
        let mut logs: Vec<PathBuf> = std::fs::read_dir(self.logs.path())
            .expect("the log directory")
            .map(|e| e.expect("an entry").path())
            .collect();
        logs.sort();
        logs
    }
}

fn packet() -> String {
    hex(&ipv6_udp(A6, B6, 1, 2, 0))
}

#[test]
fn a_broken_package_fails_only_the_scripts_that_import_it() {
    let p = Packages::new("broken-beside-good");
    let good = p.eclat(&["check", &p.script("good")]);
    assert_eq!(good.status.code(), Some(0), "{}", text(&good.stderr));
    assert_eq!(text(&good.stderr), "");

    let bad = p.eclat(&["check", &p.script("broken")]);
    assert_eq!(bad.status.code(), Some(1));
    let err = text(&bad.stderr);
    let source = Path::new(&p.pkgs())
        .join("broken/oops.bpf.c")
        .canonicalize()
        .unwrap();
    for expected in [
        format!(
            "broken.eclat:1:15: error: package `broken` does not build: {}:4:14: error: use of \
             undeclared identifier 'undeclared_name'",
            source.display()
        ),
        "= help: only scripts that import `broken` are refused; fix it and check again".into(),
        "HIKE_RETURN(undeclared_name);".into(),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn kernel_run_of_a_script_beside_a_broken_package() {
    let p = Packages::new("run-beside-broken");
    let out = p.eclat(&["run", &p.script("good"), "--packet", &packet(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(verdicts(&json_lines(&out)), ["pass"]);
    let out = p.eclat(&["run", &p.script("broken"), "--packet", &packet()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("package `broken` does not build"),
        "{}",
        text(&out.stderr)
    );
}

/// The parts of the summary of the verifier's refusal of `peek`.
fn assert_peek_summary(err: &str, logs: &[PathBuf]) {
    for expected in [
        "the verifier refused instruction ",
        "at peek.bpf.c:8 (`HIKE_RETURN(data[20]);`): invalid access to packet",
        "usual cause: a packet read or write without a bounds check",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(!err.contains("processed "), "no raw log in:\n{err}");
    assert_eq!(logs.len(), 1, "one log saved: {logs:?}");
    assert!(
        err.contains(&format!("full verifier log: {}", logs[0].display())),
        "the log's path in:\n{err}"
    );
    let saved = std::fs::read_to_string(&logs[0]).unwrap();
    assert!(
        saved.contains("; HIKE_RETURN(data[20]); @ peek.bpf.c:8"),
        "{saved}"
    );
    assert!(saved.contains("processed "), "the whole log: {saved}");
}

#[test]
fn kernel_a_verifier_refusal_is_summarised_with_its_source_line() {
    let p = Packages::new("verifier-summary");
    // `check` does not load anything: the script is fine for the compiler.
    let out = p.eclat(&["check", &p.script("wiz")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = p.eclat(&["run", &p.script("wiz"), "--packet", &packet()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("cannot load program `peek` (object `peek`)"),
        "{err}"
    );
    assert_peek_summary(&err, &p.saved_logs());
}

#[test]
fn kernel_check_verify_runs_the_verifier_on_user_packages() {
    let p = Packages::new("check-verify");
    let out = p.eclat(&["check", "--verify", &p.script("good")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("good.eclat: verified: program `add2` of package `good`"),
        "{}",
        text(&out.stderr)
    );
    let out = p.eclat(&["check", "--verify", &p.script("wiz")]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("wiz.eclat: error: the verifier refused program `peek` of package `wiz`"),
        "{err}"
    );
    assert_peek_summary(&err, &p.saved_logs());
    // A script importing only standard packages has nothing to verify.
    let std_only = repo().join("examples/ddos_tb_2_lev.eclat");
    let out = p.eclat(&[
        "check",
        "--verify",
        &std_only.to_string_lossy(),
        "-D",
        "COLLECTOR_IFINDEX=6",
        "-D",
        "DEVNAME=lo",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("imports nothing from a user package"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn load_with_a_package_dir_is_refused_with_the_daemons_way() {
    let p = Packages::new("load-package-dir");
    // No daemon is needed: the command line is refused before any connection.
    let out = p.eclat(&[
        "load",
        &p.script("good"),
        "--socket",
        "/nonexistent/eclatd.sock",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    for expected in [
        "`eclat load` does not send user packages",
        &format!("eclatd --package-dir {}", p.pkgs()),
        "eclat check --package-dir",
        "--verify",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn check_verify_says_it_needs_root() {
    use std::os::unix::process::CommandExt as _;
    // As `nobody` (the tests run as root, which may drop to another user).
    let script = repo().join("examples/ddos_tb_2_lev.eclat");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eclat"))
        .args(["check", "--verify", &script.to_string_lossy()])
        .current_dir("/")
        .uid(65534)
        .gid(65534)
        .output()
        .expect("eclat runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("`--verify` loads the user packages' programs into the kernel's verifier, which needs root"),
        "{}",
        text(&out.stderr)
    );
}
