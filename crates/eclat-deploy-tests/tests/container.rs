//! `deploy/container/Containerfile` against the workspace, since no image is built here (no
//! container engine, no registry): what it copies exists and is in the build context, the
//! packages it builds and the binaries it installs are the workspace's, the entrypoint is
//! eclatd, and the build stage installs every build package of `scripts/install-deps.sh`.

use std::collections::BTreeSet;
use std::fs;

use eclat_deploy_tests::repo_root;

/// One instruction of the Containerfile: its keyword and its arguments, continuation lines
/// joined, comments dropped.
fn instructions() -> Vec<(String, String)> {
    let text = fs::read_to_string(repo_root().join("deploy/container/Containerfile")).unwrap();
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                let (kw, rest) = current.split_once(' ').unwrap_or((current.as_str(), ""));
                out.push((kw.to_uppercase(), rest.trim().to_owned()));
                current.clear();
            }
        }
    }
    out
}

/// The stages: `(FROM arguments, the stage's instructions)`.
fn stages() -> Vec<(String, Vec<(String, String)>)> {
    let mut stages: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (kw, rest) in instructions() {
        if kw == "FROM" {
            stages.push((rest, Vec::new()));
        } else if let Some(s) = stages.last_mut() {
            s.1.push((kw, rest));
        } else {
            assert_eq!(kw, "ARG", "only ARG may come before the first FROM");
        }
    }
    stages
}

fn bin_names(package_dir: &str) -> Vec<String> {
    let text = fs::read_to_string(repo_root().join(package_dir).join("Cargo.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    manifest["bin"]
        .as_array()
        .expect("[[bin]] targets")
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn two_stages_on_bookworm_with_eclatd_as_the_entrypoint() {
    let stages = stages();
    assert_eq!(stages.len(), 2, "a build stage and a runtime stage");
    let (build_from, _) = &stages[0];
    let (image, alias) = build_from
        .split_once(" AS ")
        .expect("the build stage is named");
    assert_eq!(alias, "build");
    let tag = image
        .strip_prefix("docker.io/library/rust:")
        .expect("the rust image");
    let version = tag.strip_suffix("-bookworm").expect("on Debian bookworm");
    // At least the workspace's rust-version.
    let cargo: toml::Table = fs::read_to_string(repo_root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let msrv = cargo["workspace"]["package"]["rust-version"]
        .as_str()
        .unwrap();
    let parse = |v: &str| -> Vec<u32> { v.split('.').map(|n| n.parse().unwrap()).collect() };
    assert!(
        parse(version) >= parse(msrv),
        "rust {version} < the workspace's {msrv}"
    );
    let (runtime_from, runtime) = &stages[1];
    assert_eq!(runtime_from, "docker.io/library/debian:bookworm-slim");
    let entry = runtime
        .iter()
        .find(|(k, _)| k == "ENTRYPOINT")
        .expect("an entrypoint");
    assert_eq!(entry.1, r#"["/usr/local/bin/eclatd"]"#);
}

#[test]
fn what_it_copies_from_the_context_exists_and_is_not_ignored() {
    let root = repo_root();
    let ignore = fs::read_to_string(root.join(".dockerignore")).expect("/.dockerignore");
    let rules: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    // An allow-list: everything ignored, then the sources let back in; target/ never.
    assert_eq!(rules.first(), Some(&"*"));
    assert!(rules.contains(&"**/target"));
    let mut copied = 0;
    for (_, stage) in stages() {
        for (kw, rest) in stage {
            if kw != "COPY" || rest.starts_with("--from") {
                continue;
            }
            let words: Vec<&str> = rest.split_whitespace().collect();
            let (dest, sources) = words.split_last().expect("COPY SRC... DEST");
            assert!(!dest.is_empty());
            for src in sources {
                assert!(
                    root.join(src).exists(),
                    "COPY {src}: no such file in the repository"
                );
                assert!(
                    rules.contains(&format!("!{src}").as_str()),
                    "COPY {src}: excluded by .dockerignore"
                );
                copied += 1;
            }
        }
    }
    assert!(copied > 0);
    // Every workspace member is copied (cargo needs every member's manifest), so the
    // directories holding them are.
    let cargo: toml::Table = fs::read_to_string(root.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    for member in cargo["workspace"]["members"].as_array().unwrap() {
        let member = member.as_str().unwrap();
        let top = member.split('/').next().unwrap();
        assert!(
            rules.contains(&format!("!{top}").as_str()),
            "member {member} is outside the context"
        );
    }
}

#[test]
fn it_builds_and_installs_the_workspaces_eclat_and_eclatd() {
    let stages = stages();
    let build = &stages[0].1;
    let run: Vec<&str> = build
        .iter()
        .filter(|(k, _)| k == "RUN")
        .map(|(_, r)| r.as_str())
        .collect();
    let cargo = run
        .iter()
        .find(|r| r.contains("cargo build"))
        .expect("a cargo build");
    assert!(
        cargo.contains("--release") && cargo.contains("--locked"),
        "{cargo}"
    );
    let packages: BTreeSet<&str> = cargo
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "-p")
        .map(|w| w[1])
        .collect();
    assert_eq!(packages, BTreeSet::from(["eclat", "eclatd"]));
    let mut bins: Vec<String> = bin_names("crates/eclat");
    bins.extend(bin_names("crates/eclatd"));
    for bin in &bins {
        assert!(
            cargo.contains(&format!("target/release/{bin}")),
            "the build installs {bin}: {cargo}"
        );
    }
    let runtime = &stages[1].1;
    let copy = runtime
        .iter()
        .find(|(k, r)| k == "COPY" && r.starts_with("--from=build"))
        .expect("the binaries copied from the build stage");
    let words: Vec<&str> = copy.1.split_whitespace().skip(1).collect();
    let (dest, sources) = words.split_last().unwrap();
    assert_eq!(*dest, "/usr/local/bin/");
    let copied: Vec<&str> = sources
        .iter()
        .map(|s| s.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        copied, bins,
        "the binaries copied are the workspace's [[bin]] targets"
    );
}

#[test]
fn the_build_stage_installs_what_install_deps_installs_for_a_build() {
    let script = fs::read_to_string(repo_root().join("scripts/install-deps.sh")).unwrap();
    let start = script
        .find("packages=(")
        .expect("install-deps.sh's package list")
        + "packages=(".len();
    let end = start + script[start..].find(')').unwrap();
    let wanted: BTreeSet<&str> = script[start..end].split_whitespace().collect();
    // Packages install-deps.sh installs for the tests, the labs and the benchmarks only
    // (etcd-server: the fleet tests run their own etcd).
    let not_for_the_build = BTreeSet::from([
        "iproute2",
        "ipset",
        "iptables",
        "python3-grpcio",
        "prometheus",
        "etcd-server",
    ]);
    let stages = stages();
    let run: String = stages[0]
        .1
        .iter()
        .filter(|(k, _)| k == "RUN")
        .map(|(_, r)| r.as_str())
        .collect();
    for p in wanted.difference(&not_for_the_build) {
        assert!(
            run.split_whitespace().any(|w| w == *p),
            "the build stage does not install {p} (scripts/install-deps.sh does)"
        );
    }
    // The runtime has the shared libraries eclatd links (libbpf itself is linked in), and
    // clang only on request.
    let runtime: String = stages[1]
        .1
        .iter()
        .filter(|(k, _)| k == "RUN")
        .map(|(_, r)| r.as_str())
        .collect();
    for lib in ["libelf1", "zlib1g"] {
        assert!(
            runtime.split_whitespace().any(|w| w == lib),
            "the runtime lacks {lib}"
        );
    }
    let clang = runtime
        .find("clang-19")
        .expect("clang-19 behind WITH_CLANG");
    assert!(
        runtime[..clang].contains(r#"if [ "$WITH_CLANG" = 1 ]"#),
        "clang-19 only with WITH_CLANG=1"
    );
}
