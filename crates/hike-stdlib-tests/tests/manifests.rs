//! The package manifests (`bpf/programs/*/package.toml`, `bpf/loaders/*/package.toml`, format
//! in `bpf/programs/README.md`) against the built objects: every name resolves to an object
//! that has it, with the parameters docs/stdlib.md gives; every source is exported; the `net` and
//! `mynet` aliases name the same objects as the home packages. No kernel needed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A manifest: section -> (key -> string value), in the subset of TOML the manifests use.
type Manifest = BTreeMap<String, BTreeMap<String, String>>;

fn bpf_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bpf")
}

/// Parses `[section]` headers, `key = "value"` lines (`key = NUMBER` in
/// `[about.NAME.config.MAP]`) and `#` comments; panics on anything else, so a manifest that
/// leaves the documented subset fails here first.
fn parse(path: &Path) -> Manifest {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut m = Manifest::new();
    let mut section = String::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_owned();
            assert!(
                m.insert(section.clone(), BTreeMap::new()).is_none(),
                "{}:{}: section [{section}] twice",
                path.display(),
                n + 1
            );
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{}:{}: not `key = \"value\"`", path.display(), n + 1));
        let value = value.trim();
        // A config default (`[about.NAME.config.MAP]`) is a number; everything else a string.
        let number = section.starts_with("about.") && section.contains(".config.");
        let value = if number {
            assert!(
                value.parse::<u64>().is_ok(),
                "{}:{}: a config default is a number",
                path.display(),
                n + 1
            );
            value
        } else {
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or_else(|| panic!("{}:{}: value is not a string", path.display(), n + 1))
        };
        let entries = m
            .get_mut(&section)
            .unwrap_or_else(|| panic!("{}:{}: key outside a section", path.display(), n + 1));
        assert!(
            entries
                .insert(key.trim().to_owned(), value.to_owned())
                .is_none(),
            "{}:{}: `{}` twice",
            path.display(),
            n + 1,
            key.trim()
        );
    }
    m
}

/// Every package folder under `bpf/<kind>` with its manifest.
fn packages(kind: &str) -> BTreeMap<String, (PathBuf, Manifest)> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(bpf_dir().join(kind)).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
        if !dir.is_dir() || name == "test" {
            continue;
        }
        let manifest = parse(&dir.join("package.toml"));
        assert_eq!(
            manifest["package"]["name"], name,
            "{kind}/{name}: [package] name is the folder name"
        );
        assert!(
            manifest["package"]
                .get("description")
                .is_some_and(|d| !d.is_empty()),
            "{kind}/{name}: description"
        );
        out.insert(name, (dir, manifest));
    }
    out
}

fn object(name: &str) -> &'static hike_bpf::Object {
    hike_bpf::OBJECTS
        .iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("no object `{name}`"))
}

/// docs/stdlib.md: every program and its parameters, in order.
const SIGNATURES: &[(&str, &[&str])] = &[
    ("hike_pass", &[]),
    ("hike_drop", &[]),
    ("monitor", &["event"]),
    ("ip6_hset_srcdst", &["action"]),
    ("ip4_hset_srcdst", &["action"]),
    ("l2_redirect", &["ifindex"]),
    ("l2xcon", &[]),
    ("ip6_kroute", &[]),
    ("lse", &[]),
    ("ip6_set_ecn", &[]),
    ("ip6_set_tos", &["tc"]),
    ("ip4_set_tos", &["tc"]),
    ("ip6_dst_tbmon", &[]),
    ("ip6_sd_tbmon", &[]),
    ("ip6_dst_meter", &[]),
    ("ip6_sd_meter", &[]),
    ("ip4_dst_tbmon", &[]),
    ("ip4_sd_tbmon", &[]),
    ("ip6_sd_dec2zero", &["count"]),
    ("ip4_sd_dec2zero", &["count"]),
    ("show_pkt_info", &["layers", "user_info"]),
    ("udp_port", &[]),
];

#[test]
fn every_program_resolves_to_an_object_with_its_signature() {
    let pkgs = packages("programs");
    let expected: BTreeMap<&str, Vec<String>> = SIGNATURES
        .iter()
        .map(|(n, p)| (*n, p.iter().map(|s| s.to_string()).collect()))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for (pkg, (_, m)) in &pkgs {
        for (name, obj) in &m["programs"] {
            let o = object(obj);
            let sig = hike_runtime::program_signature(o.bytes, name)
                .unwrap_or_else(|e| panic!("{pkg}.{name}: BTF of {obj}: {e}"))
                .unwrap_or_else(|| panic!("{pkg}.{name}: {obj} has no HIKe program `{name}`"));
            let want = expected
                .get(name.as_str())
                .unwrap_or_else(|| panic!("{pkg}.{name}: not a program of docs/stdlib.md"));
            assert_eq!(&sig.params, want, "{pkg}.{name}: parameters");
            assert!(
                o.source.starts_with("bpf/programs/"),
                "{pkg}.{name}: {} is not a program source",
                o.source
            );
            seen.insert(name.clone());
        }
    }
    let all: std::collections::BTreeSet<String> = expected.keys().map(|s| s.to_string()).collect();
    assert_eq!(
        seen, all,
        "every program of docs/stdlib.md is exported somewhere"
    );
}

#[test]
fn every_source_of_a_package_is_exported_by_it() {
    for kind in ["programs", "loaders"] {
        let section = kind;
        for (pkg, (dir, m)) in packages(kind) {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let file = entry.unwrap().file_name().into_string().unwrap();
                let Some(stem) = file.strip_suffix(".bpf.c") else {
                    continue;
                };
                assert_eq!(
                    m[section].get(stem).map(String::as_str),
                    Some(stem),
                    "{kind}/{pkg}: {file} is exported under its own name"
                );
                assert_eq!(object(stem).source, format!("bpf/{kind}/{pkg}/{file}"));
            }
        }
    }
}

#[test]
fn aliases_name_the_objects_of_the_home_packages() {
    let pkgs = packages("programs");
    // The home package of an object is the folder of its source.
    for (pkg, (_, m)) in &pkgs {
        for (name, obj) in &m["programs"] {
            let home = object(obj)
                .source
                .strip_prefix("bpf/programs/")
                .and_then(|s| s.split('/').next())
                .unwrap();
            assert_eq!(
                pkgs[home].1["programs"].get(name),
                Some(obj),
                "{pkg}.{name} -> {obj}: its home package `{home}` exports it under the same name"
            );
        }
    }
    // docs/stdlib.md: the DDoS set in one import, the same in `net` and `mynet`.
    let ddos = [
        "hike_drop",
        "hike_pass",
        "monitor",
        "ip6_hset_srcdst",
        "lse",
        "l2_redirect",
        "ip6_dst_meter",
        "ip6_sd_meter",
        "ip6_dst_tbmon",
        "ip6_sd_tbmon",
        "ip6_sd_dec2zero",
        "udp_port",
    ];
    for alias in ["net", "mynet"] {
        for name in ddos {
            assert!(
                pkgs[alias].1["programs"].contains_key(name),
                "{alias} exports {name}"
            );
        }
    }
    assert_eq!(pkgs["net"].1["programs"], pkgs["mynet"].1["programs"]);
    assert_eq!(
        pkgs["net"].1["programs"]["monitor"],
        pkgs["hike_default"].1["programs"]["monitor"]
    );
}

#[test]
fn every_loader_resolves_to_a_loader_object() {
    let pkgs = packages("loaders");
    let mut all = Vec::new();
    for (pkg, (_, m)) in &pkgs {
        for (name, obj) in &m["loaders"] {
            let o = object(obj);
            assert!(
                o.source.starts_with(&format!("bpf/loaders/{pkg}/")),
                "{pkg}.{name}"
            );
            // A loader is not a HIKe program: it has no `hike_prog` tag.
            assert_eq!(
                hike_runtime::program_signatures(o.bytes).unwrap(),
                [],
                "{pkg}.{name}"
            );
            all.push(format!("{pkg}.{name}"));
        }
    }
    all.sort();
    assert_eq!(
        all,
        [
            "basic.ip4_sc",
            "basic.ip6_dst_cls",
            "basic.ip6_sc",
            "basic.ip_sc",
            "hike_default.ip6_simple_classifier"
        ]
    );
}
