//! `eclat programs` and `eclat describe`: what they show comes from the real catalog (standard
//! and user packages), their `--json` is the documented contract, an unknown name gets "did
//! you mean", and the map forms `describe` prints are what a script compiles. No kernel.

mod support;

use eclat_catalog::PackageCatalog;
use eclat_compiler::Catalog;
use serde_json::{json, Value};
use support::{eclat, eclat_env, json_lines, repo, text, TempDir};

fn run_json(args: &[&str]) -> Value {
    let out = eclat(args, &repo());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        text(&out.stderr)
    );
    let mut lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{args:?}");
    lines.remove(0)
}

#[test]
fn programs_lists_every_export_of_the_catalog() {
    let cat = PackageCatalog::standard().unwrap();
    let out = run_json(&["programs", "--json"]);
    assert_eq!(out["format"], 1);
    let packages = out["packages"].as_array().unwrap();
    let mut listed = Vec::new();
    for p in packages {
        for e in p["exports"].as_array().unwrap() {
            listed.push(format!(
                "{}.{}.{}",
                p["kind"].as_str().unwrap(),
                p["name"].as_str().unwrap(),
                e["name"].as_str().unwrap()
            ));
        }
    }
    let mut expected = Vec::new();
    for pkg in cat.program_packages() {
        for (n, e) in cat.programs_in(&pkg) {
            expected.push(format!("programs.{pkg}.{n}"));
            let p = packages
                .iter()
                .find(|p| p["name"] == pkg.as_str() && p["kind"] == "programs")
                .unwrap();
            let x = p["exports"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["name"] == n)
                .unwrap();
            assert_eq!(x["params"], json!(e.sig.params), "{pkg}.{n}");
            assert_eq!(x["terminal"], json!(e.sig.terminal), "{pkg}.{n}");
            assert_eq!(x["home"], json!(e.sig.home), "{pkg}.{n}");
            assert!(x["summary"].is_string(), "{pkg}.{n}");
        }
    }
    for pkg in cat.loader_packages() {
        for (n, _) in cat.loaders_in(&pkg) {
            expected.push(format!("loaders.{pkg}.{n}"));
        }
    }
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
    let meter = &packages.iter().find(|p| p["name"] == "meter").unwrap();
    assert_eq!(meter["origin"], "standard");
    assert!(meter["description"]
        .as_str()
        .unwrap()
        .contains("token bucket"));

    let out = eclat(&["programs", "basic"], &repo());
    assert_eq!(out.status.code(), Some(0));
    let shown = text(&out.stdout);
    assert!(shown.starts_with("loaders.basic: "), "{shown}");
    assert!(
        shown.contains(
            "  ip_sc        ()      -        every IP packet, IPv4 and IPv6, runs the chain\n"
        ),
        "{shown}"
    );
}

#[test]
fn describe_gives_params_returns_maps_defaults_hooks_and_the_import() {
    let d = run_json(&["describe", "ip6_sd_tbmon", "--json"]);
    assert_eq!(d["format"], 1);
    assert_eq!(d["kind"], "program");
    assert_eq!(d["import"], "from programs.meter import ip6_sd_tbmon");
    assert_eq!(d["packages"], json!(["meter", "mynet", "net"]));
    assert_eq!(d["params"], json!([]));
    assert_eq!(d["hooks"], json!(["xdp", "tc_ingress", "tc_egress"]));
    assert_eq!(d["returns"]["terminal"], false);
    assert_eq!(d["returns"]["type"], "u64");
    assert_eq!(d["returns"]["description"], "0 in profile, 1 out");
    assert!(d["returns"]["not_applicable"]
        .as_str()
        .unwrap()
        .starts_with("u64::MAX"));
    let maps = d["maps"].as_array().unwrap();
    let state = maps
        .iter()
        .find(|m| m["name"] == "ip6_sd_tbmon_map")
        .unwrap();
    assert_eq!(state["type"], "lru_percpu_hash");
    assert_eq!(state["percpu"], true);
    assert_eq!(
        state["key"]["fields"],
        json!([
            {"name": "src", "type": "ipv6", "offset": 0, "size": 16, "byte_order": "network", "values": null},
            {"name": "dst", "type": "ipv6", "offset": 16, "size": 16, "byte_order": "network", "values": null}
        ])
    );
    assert_eq!(state["defaults"], Value::Null);
    let cfg = maps
        .iter()
        .find(|m| m["name"] == "ip6_sd_tbmon_cfg")
        .unwrap();
    assert_eq!(cfg["defaults"], json!({"rate": 10000, "bucket_size": 1000}));
    assert_eq!(
        cfg["script"],
        "ip6_sd_tbmon[ip6_sd_tbmon_cfg] = { (KEY): (RATE, BUCKET_SIZE) }"
    );

    let drop = run_json(&["describe", "hike_default.hike_drop", "--json"]);
    assert_eq!(
        drop["returns"],
        json!({"terminal": true, "type": "verdict", "description": "XDP_DROP", "not_applicable": null})
    );

    let l = run_json(&["describe", "ip_sc", "--json"]);
    assert_eq!(l["kind"], "loader");
    assert_eq!(l["returns"], Value::Null);
    assert_eq!(l["import"], "from loaders.basic import ip_sc");
    let cfg = l["maps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "hike_ldr_cfg")
        .unwrap();
    assert_eq!(cfg["value"]["fields"][0]["name"], "default_verdict");
    assert!(cfg["value"]["fields"][0]["values"]
        .as_str()
        .unwrap()
        .contains("1 drop"));
    let sc = l["maps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "ip_sc_map")
        .expect("the classifier map");
    assert_eq!(sc["value"]["fields"][0]["type"], "chain_ref");

    let out = eclat(&["describe", "ip_sc"], &repo());
    assert_eq!(
        text(&out.stdout).lines().take(3).collect::<Vec<_>>(),
        [
            "loader `ip_sc`: every IP packet, IPv4 and IPv6, runs the chain",
            "  import:   from loaders.basic import ip_sc",
            "  hooks:    xdp, tc_ingress, tc_egress (ip_sc.attach('DEV', 'xdp'))",
        ]
    );
}

#[test]
fn an_unknown_name_gets_did_you_mean() {
    let out = eclat(&["describe", "ip6_sd_tbmn"], &repo());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "eclat: error: no program or loader `ip6_sd_tbmn` (did you mean `ip6_sd_tbmon`, `ip4_sd_tbmon` or `ip6_dst_tbmon`?); `eclat programs` lists them\n"
    );
    let out = eclat(&["programs", "metr"], &repo());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("eclat: error: no package `metr` (did you mean `meter`"),
        "{}",
        text(&out.stderr)
    );
    let out = eclat(&["describe", "nothing_like_it"], &repo());
    assert_eq!(
        text(&out.stderr),
        "eclat: error: no program or loader `nothing_like_it`; `eclat programs` lists them\n"
    );
}

#[test]
fn a_configurable_maps_script_form_compiles_once_filled_in() {
    // For every configurable map of every standard program and loader, the `script` line of
    // `describe`, its placeholders filled by field type, is a map configuration the compiler
    // takes: the tuple order `describe` shows is the script's.
    let out = run_json(&["programs", "--json"]);
    let mut names = Vec::new();
    for p in out["packages"].as_array().unwrap() {
        for e in p["exports"].as_array().unwrap() {
            names.push((
                p["kind"].as_str().unwrap().to_owned(),
                p["name"].as_str().unwrap().to_owned(),
                e["name"].as_str().unwrap().to_owned(),
            ));
        }
    }
    let dir = TempDir::new("forms");
    let mut checked = 0;
    for (kind, pkg, name) in names.iter().filter(|(_, p, _)| p != "mynet" && p != "net") {
        let d = run_json(&["describe", &format!("{pkg}.{name}"), "--json"]);
        for m in d["maps"].as_array().unwrap() {
            let Some(line) = m["script"].as_str() else {
                continue;
            };
            let fill = |l: &Value| -> String {
                let items: Vec<String> = l["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| match f["type"].as_str().unwrap() {
                        "ipv4" => "'192.0.2.1'".to_owned(),
                        "ipv6" => "'2001:db8::1'".to_owned(),
                        "chain" | "chain_ref" => "c".to_owned(),
                        _ => "0".to_owned(),
                    })
                    .collect();
                format!("({})", items.join(", "))
            };
            let (head, _) = line.split_once(" = ").unwrap();
            let script = format!(
                "from {kind}.{pkg} import {name}\n{head} = {{ {}: {} }}\ndef c():\n    return 0\n",
                fill(&m["key"]),
                fill(&m["value"])
            );
            let file = dir.write(
                &format!("{pkg}_{name}_{}.eclat", m["name"].as_str().unwrap()),
                &script,
            );
            let out = eclat(&["check", &file.to_string_lossy()], &repo());
            assert_eq!(
                out.status.code(),
                Some(0),
                "{script}\n{}",
                text(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} maps");
}

#[test]
fn user_packages_are_listed_and_described() {
    let dir = TempDir::new("user-describe");
    let cache = TempDir::new("user-describe-cache");
    dir.write(
        "pkgs/mine/add2.bpf.c",
        "#include <hike/sdk.h>\nHIKE_PROG(add2, a, b)\n{\n\tHIKE_RETURN(a + b);\n}\nchar LICENSE[] SEC(\"license\") = \"Dual BSD/GPL\";\n",
    );
    dir.write(
        "pkgs/mine/package.toml",
        "[package]\ndescription = \"my programs\"\n[programs]\nadd2 = \"add2\"\n[about.add2]\nsummary = \"adds\"\nreturns = \"a + b\"\n",
    );
    let pkgs = dir.path().join("pkgs");
    let env = [("ECLAT_CACHE_DIR", cache.path().to_str().unwrap())];
    let out = eclat_env(
        &[
            "programs",
            "mine",
            "--package-dir",
            pkgs.to_str().unwrap(),
            "--json",
        ],
        &repo(),
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listed = &json_lines(&out)[0]["packages"][0];
    assert_eq!(listed["description"], "my programs");
    assert_eq!(
        listed["origin"],
        pkgs.canonicalize().unwrap().join("mine").to_str().unwrap()
    );
    assert_eq!(listed["exports"][0]["params"], json!(["a", "b"]));
    let out = eclat_env(
        &[
            "describe",
            "add2",
            "--package-dir",
            pkgs.to_str().unwrap(),
            "--json",
        ],
        &repo(),
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let d = &json_lines(&out)[0];
    assert_eq!(d["import"], "from programs.mine import add2");
    assert_eq!(d["returns"]["description"], "a + b");
    assert_eq!(d["summary"], "adds");
}
