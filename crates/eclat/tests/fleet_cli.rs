//! `eclat fleet` against a real etcd (`hike_testkit::etcd`) with no node: what the commands
//! say and their exit statuses when there is nothing to roll out to, and when etcd cannot be
//! reached. The rollouts themselves, with real nodes, are eclatd's `tests/fleet.rs`.

use std::process::{Command, Output};

use hike_testkit::etcd::Etcd;

fn eclat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eclat"))
        .args(args)
        .env_remove("ECLAT_ETCD")
        .output()
        .expect("run eclat")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts that `out` exited with `code` and that its standard error says `says`.
fn assert_fails(out: &Output, code: i32, says: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(says), "expected `{says}` in:\n{err}");
}

#[test]
fn fleet_commands_say_what_is_missing_and_exit_accordingly() {
    let etcd = Etcd::start(&[]).expect("etcd");
    let url = etcd.url();
    let dir = std::env::temp_dir().join(format!("eclat-fleet-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("s.eclat");
    std::fs::write(&script, "from programs.net import hike_pass\n").unwrap();
    let script = script.to_str().unwrap();
    let apply_to = |selector| {
        eclat(&[
            "--etcd",
            &url,
            "fleet",
            "apply",
            script,
            "--selector",
            selector,
        ])
    };

    let out = eclat(&["--etcd", &url, "fleet", "nodes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("no node has registered"),
        "{}",
        text(&out.stdout)
    );

    let out = eclat(&["--etcd", &url, "fleet", "status"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "the fleet has no scripts\n");
    let out = eclat(&["--etcd", &url, "fleet", "status", "web"]);
    assert_fails(&out, 1, "the fleet has no script `web`");

    let out = apply_to("role=edge");
    assert_fails(
        &out,
        1,
        "the selector {role=edge} matches no live node (live nodes: none)",
    );

    let out = apply_to("role");
    assert_fails(&out, 2, "write KEY=VALUE");

    let out = eclat(&["--etcd", &url, "fleet", "delete", "web"]);
    assert_fails(&out, 1, "the fleet has no script `web`");

    // --package-dir: the CLI compiles the script itself, so a user package that does not
    // build stops it here, with clang's error, before etcd is written to.
    let pkgs = dir.join("pkgs");
    std::fs::create_dir_all(pkgs.join("broken")).unwrap();
    std::fs::write(
        pkgs.join("broken/oops.bpf.c"),
        "#include <hike/sdk.h>\nHIKE_PROG(oops)\n{\n\tHIKE_RETURN(undeclared_name);\n}\n",
    )
    .unwrap();
    let user = dir.join("u.eclat");
    let apply_user = || {
        eclat(&[
            "--etcd",
            &url,
            "fleet",
            "apply",
            user.to_str().unwrap(),
            "--package-dir",
            pkgs.to_str().unwrap(),
        ])
    };
    std::fs::write(
        &user,
        "from programs.broken import oops\ndef c():\n    return oops()\n",
    )
    .unwrap();
    let out = apply_user();
    assert_fails(&out, 1, "undeclared_name");
    assert!(
        !text(&out.stderr).contains("live node"),
        "{}",
        text(&out.stderr)
    );
    // A package that builds: the script compiles here, its package is bundled, and the
    // rollout then finds no node (the objects are written only once a node is selected).
    std::fs::create_dir_all(pkgs.join("good")).unwrap();
    std::fs::write(
        pkgs.join("good/add1.bpf.c"),
        "#include <hike/sdk.h>\nHIKE_PROG(add1, a)\n{\n\tHIKE_RETURN(a + 1);\n}\nchar LICENSE[] SEC(\"license\") = \"Dual BSD/GPL\";\n",
    )
    .unwrap();
    std::fs::write(
        &user,
        "from programs.good import add1\nfrom programs.net import hike_pass\ndef c():\n    add1(1)\n    hike_pass()\n    return 0\n",
    )
    .unwrap();
    let out = apply_user();
    assert_fails(&out, 1, "matches no live node");

    // C chains beside the script are built here: one that does not compile stops the apply
    // with clang's error before etcd is written to; one that does reaches the rollout.
    let withc = dir.join("withc.eclat");
    std::fs::write(
        &withc,
        "from programs.net import hike_pass\nfrom chains.helpers import count_c\ndef c():\n    count_c()\n    hike_pass()\n    return 0\n",
    )
    .unwrap();
    let helpers = dir.join("helpers.hike.c");
    std::fs::write(
        &helpers,
        "#include <hike/chain.h>\nHIKE_PROG_EXTERN(monitor, 1);\nHIKE_CHAIN(count_c)\n{\n\tmonitor(KEY);\n\treturn 0;\n}\n",
    )
    .unwrap();
    let apply_c = |defines: &[&str]| {
        let mut args = vec!["--etcd", &url, "fleet", "apply", withc.to_str().unwrap()];
        args.extend(defines);
        eclat(&args)
    };
    let out = apply_c(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("KEY") && text(&out.stderr).contains("helpers.hike.c"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("nothing was written to etcd"),
        "{}",
        text(&out.stderr)
    );
    let out = apply_c(&["-D", "KEY=3"]);
    assert_fails(&out, 1, "matches no live node");

    // No --etcd: a usage error; etcd away: exit 3, as an unreachable daemon.
    let out = eclat(&["fleet", "nodes"]);
    assert_fails(&out, 2, "needs the fleet's etcd");
    drop(etcd);
    let out = eclat(&["--etcd", &url, "fleet", "nodes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
