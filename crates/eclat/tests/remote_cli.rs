//! The global remote flags and `eclat version`, without a daemon: `--remote` needs its three
//! files (exit 2 before any connection), a missing file is named (exit 3, as any daemon that
//! cannot be reached), a URL that is not `https://` is refused; `eclat version` prints the
//! build. (A daemon reached over mutual TLS: `crates/eclatd/tests/remote.rs`.)

mod support;

use support::{eclat, repo, text, TempDir};

#[test]
fn remote_needs_a_certificate_a_key_and_a_ca() {
    let out = eclat(&["--remote", "https://127.0.0.1:7443", "list"], &repo());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    for flag in ["--cert", "--key", "--ca"] {
        assert!(err.contains(flag), "{err}");
    }
}

#[test]
fn a_missing_file_is_named_and_a_plain_url_refused() {
    let dir = TempDir::new("remote");
    let missing = dir.path().join("ca.pem");
    let missing = missing.to_str().unwrap();
    let out = eclat(
        &[
            "--remote",
            "https://127.0.0.1:7443",
            "--cert",
            missing,
            "--key",
            missing,
            "--ca",
            missing,
            "list",
        ],
        &repo(),
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        text(&out.stderr),
        format!(
            "eclat: error: cannot read the CA certificate `{missing}`: No such file or directory \
             (os error 2); check --remote, --cert, --key and --ca, and that eclatd runs with \
             --listen-tls\n"
        )
    );
    let out = eclat(
        &[
            "--remote",
            "http://127.0.0.1:7443",
            "--cert",
            missing,
            "--key",
            missing,
            "--ca",
            missing,
            "stats",
        ],
        &repo(),
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("give `https://HOST:PORT` (remote access is over TLS only)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn version_prints_the_build_and_the_vm_abi() {
    let out = eclat(&["version"], &repo());
    assert!(out.status.success());
    let line = text(&out.stdout);
    let (version, rest) = line
        .strip_prefix("eclat ")
        .and_then(|l| l.split_once(" (git "))
        .unwrap_or_else(|| panic!("{line}"));
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let (git, abi) = rest.split_once(", VM ABI ").unwrap();
    assert!(
        git == "unknown" || (git.len() == 12 && git.chars().all(|c| c.is_ascii_hexdigit())),
        "{line}"
    );
    assert_eq!(abi.trim_end(), format!("{})", eclat_proto::version::ABI));
    let long = eclat(&["--version"], &repo());
    assert_eq!(text(&long.stdout), line);
}
