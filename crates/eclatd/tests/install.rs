//! `make install DESTDIR=...`: the installed tree (binaries, systemd unit, completions, man
//! pages) and the unit checked by `systemd-analyze verify` where it exists. Builds eclat and
//! eclatd in release mode (as `make install` does) the first time.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn make_install_lays_out_binaries_unit_completions_and_man_pages() {
    let dest = std::env::temp_dir().join(format!("eclat-install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dest);
    let out = Command::new("make")
        .arg("-C")
        .arg(root())
        .arg("install")
        .arg(format!("DESTDIR={}", dest.display()))
        .output()
        .expect("run make");
    assert!(
        out.status.success(),
        "make install: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let prefix = dest.join("usr/local");
    for bin in ["eclat", "eclatd"] {
        let p = prefix.join("bin").join(bin);
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&p).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o755, "{}", p.display());
    }
    // The installed binaries say what they are.
    let version = Command::new(prefix.join("bin/eclat"))
        .arg("version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    assert_eq!(version, format!("eclat {}\n", eclat_proto::version::line()));
    let dversion = Command::new(prefix.join("bin/eclatd"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&dversion.stdout),
        format!("eclatd {}\n", eclat_proto::version::line())
    );

    let unit_path = prefix.join("lib/systemd/system/eclatd.service");
    let unit = read(&unit_path);
    assert!(
        unit.contains("\nExecStart=/usr/local/bin/eclatd --socket /run/eclat/eclatd.sock "),
        "{unit}"
    );
    for line in [
        "Restart=on-failure",
        "RuntimeDirectory=eclat",
        "StateDirectory=eclat",
        "RequiresMountsFor=/sys/fs/bpf",
        "CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_SYS_ADMIN",
    ] {
        assert!(unit.lines().any(|l| l == line), "no `{line}` in:\n{unit}");
    }

    let share = prefix.join("share");
    assert!(read(&share.join("bash-completion/completions/eclat")).contains("_eclat()"));
    assert!(read(&share.join("zsh/site-functions/_eclat")).starts_with("#compdef eclat"));
    let fish = read(&share.join("fish/vendor_completions.d/eclat.fish"));
    assert!(
        fish.contains("complete -c eclat") && fish.contains("load"),
        "{fish}"
    );
    let man = share.join("man/man1");
    for page in ["eclat.1", "eclat-load.1", "eclat-map-dump.1", "eclatd.1"] {
        let text = read(&man.join(page));
        assert!(text.starts_with(".ie \\n(.g .ds Aq"), "{page}: {text}");
    }
    assert!(read(&man.join("eclatd.1")).contains("metrics\\-listen"));
    // Hidden generators have no pages.
    assert!(!man.join("eclat-completions.1").exists());

    // systemd's own check of the unit, with ExecStart pointing at the installed binary.
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    if analyze.is_ok_and(|o| o.status.success()) {
        let check_dir = dest.join("verify");
        std::fs::create_dir_all(&check_dir).unwrap();
        let checked = check_dir.join("eclatd.service");
        std::fs::write(
            &checked,
            unit.replace(
                "/usr/local/bin/",
                &format!("{}/", prefix.join("bin").display()),
            ),
        )
        .unwrap();
        // It also checks that the unit's `Documentation=man:...` pages exist: the ones
        // just installed.
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&checked)
            .env("MANPATH", share.join("man"))
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "systemd-analyze verify: {said}");
        assert!(
            !said.contains("eclatd.service"),
            "systemd-analyze verify: {said}"
        );
    } else {
        eprintln!("systemd-analyze is not installed: the unit's own check is skipped");
    }
    std::fs::remove_dir_all(&dest).unwrap();
}

#[test]
fn write_man_creates_its_directory() {
    let dir = std::env::temp_dir().join(format!("eclatd-man-{}", std::process::id()));
    let pages = dir.join("not/yet");
    let out = Command::new(env!("CARGO_BIN_EXE_eclatd"))
        .arg("--write-man")
        .arg(&pages)
        .output()
        .expect("eclatd runs");
    let written = pages.join("eclatd.1").exists();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(written, "eclatd --write-man wrote no eclatd.1");
}
