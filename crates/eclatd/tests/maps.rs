//! Maps and counters through the real daemon, as the `eclat` command line reaches them: every
//! `eclat map` and `eclat stats` example of the CLI's help and of the README (the client sends
//! keys and values as written, `crates/eclat/tests/fake_daemon.rs` proves it), a script's forms
//! (tuples, fields by name, partial updates), delete, clear, counter resets, what a replace
//! resets and what the counters cover after it. Needs root.

mod support;

use serde_json::{json, Value};
use support::{frames, Daemon, Netns};

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example_script() -> String {
    std::fs::read_to_string(repo().join("examples/ddos_tb_2_lev.eclat")).expect("the example")
}

/// `text` split as a shell splits a simple command (quotes group, no escapes); a pipeline
/// stops at `|`.
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.get_or_insert_with(String::new).push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            None if c.is_whitespace() => words.extend(word.take()),
            None if c == '|' || c == '#' => break,
            None => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// The `eclat map ...` and `eclat stats ...` examples: the `Example:` lines of the CLI's
/// sources (its `--help`) and the README's `$E` lines.
fn examples() -> Vec<Vec<String>> {
    let mut lines = Vec::new();
    for file in ["crates/eclat/src/map.rs", "crates/eclat/src/stats.rs"] {
        let text = std::fs::read_to_string(repo().join(file)).expect(file);
        for l in text.lines() {
            if let Some(ex) = l.split_once("Example: `").map(|(_, e)| e) {
                lines.push(ex.trim_end().trim_end_matches('`').to_owned());
            }
        }
    }
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    lines.extend(
        readme
            .lines()
            .filter_map(|l| l.strip_prefix("$E "))
            .map(|l| format!("eclat {l}")),
    );
    lines
        .iter()
        .map(|l| shell_words(l))
        .filter(|w| matches!(w.get(1).map(String::as_str), Some("map" | "stats")))
        .collect()
}

fn value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Loads the example script as `name`, attached to `dev`.
fn load_example(c: &mut support::Client, name: &str, dev: &str) -> eclat_proto::v1::LoadReply {
    c.load(
        name,
        "ddos_tb_2_lev.eclat",
        &example_script(),
        &[("DEVNAME", dev), ("COLLECTOR_IFINDEX", "1")],
    )
    .unwrap_or_else(|e| panic!("load {name}: {}", e.message()))
}

#[test]
fn every_map_and_stats_example_works_on_the_real_daemon() {
    let ns = Netns::new();
    ns.add_pair("w0", "w1");
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    load_example(&mut c, "ddos", "v0");
    load_example(&mut c, "ddos_tb_2_lev", "w0");
    let examples = examples();
    assert!(examples.len() >= 15, "{examples:#?}");
    for ex in &examples {
        let args: Vec<&str> = ex[2..].iter().map(String::as_str).collect();
        let shown = ex.join(" ");
        let ok = |r: Result<(), tonic::Status>| {
            if let Err(e) = r {
                panic!("`{shown}`: {}", e.message());
            }
        };
        match (ex[1].as_str(), &args[..]) {
            ("map", ["dump", script, map, ..]) => ok(c.dump(script, map).map(drop)),
            ("map", ["get", script, map, key, ..]) => ok(c.get(script, map, key).map(drop)),
            ("map", ["set", script, map, key, value, ..]) => ok(c
                .set(script, map, key, value)
                .map(|r| assert!(r.entry.is_some(), "{shown}"))),
            ("map", ["delete", script, map, key, ..]) => {
                // The entry the example deletes, first.
                ok(c.set(script, map, key, "0").map(drop));
                ok(c.delete(script, map, key).map(drop));
            }
            ("map", ["clear", script, map, ..]) => ok(c.clear(script, map).map(drop)),
            ("stats", [script, .., "--reset"]) => ok(c.reset_stats(script).map(drop)),
            ("stats", [script, ..]) if !script.starts_with('-') => ok(c.stats(script).map(drop)),
            ("stats", _) => ok(c.stats("").map(drop)),
            _ => panic!("an example this test does not know: `{shown}`"),
        }
    }
}

#[test]
fn map_forms_delete_clear_reset_and_what_a_replace_resets() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let first = load_example(&mut c, "ddos", "v0");
    let written: Vec<(String, u32)> = first
        .maps
        .iter()
        .map(|m| (m.map.clone(), m.written))
        .collect();
    assert!(
        written.contains(&("ip6_sd_tbmon.ip6_sd_tbmon_cfg".into(), 1)),
        "{written:?}"
    );
    assert!(
        written.contains(&("ip6_sc.ipv6_sc_map".into(), 1)),
        "{written:?}"
    );
    assert!(
        first.maps.iter().all(|m| m.reset.is_empty()),
        "a first load resets nothing"
    );

    // A script's tuple, then a partial update by field name.
    let cfg = "ip6_sd_tbmon.ip6_sd_tbmon_cfg";
    let set = |c: &mut support::Client, map: &str, key: &str, v: &str| {
        let reply = c
            .set("ddos", map, key, v)
            .unwrap_or_else(|e| panic!("set {v}: {}", e.message()));
        value(&reply.entry.expect("an entry").value)
    };
    assert_eq!(
        set(&mut c, cfg, "0", "(1000, 100)"),
        json!({"rate": 1000, "bucket_size": 100})
    );
    assert_eq!(
        set(&mut c, cfg, "(0)", "rate=5"),
        json!({"rate": 5, "bucket_size": 100})
    );
    assert_eq!(
        value(&c.get("ddos", cfg, "0").unwrap().entry.unwrap().value),
        json!({"rate": 5, "bucket_size": 100})
    );
    let e = c.set("ddos", cfg, "0", "burst=5").unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(
        e.message().contains("has no field `burst`"),
        "{}",
        e.message()
    );

    // Bare addresses in a key; delete gives back what the entry held.
    let hset = "ip6_hset_srcdst.ip6_hset_srcdst_map";
    assert_eq!(
        set(&mut c, hset, "fc00::1,fc00::2", "added_ns=7"),
        json!({"added_ns": 7})
    );
    let gone = c.delete("ddos", hset, "('fc00::1', 'fc00::2')").unwrap();
    let gone = gone.entry.unwrap();
    assert_eq!(
        value(&gone.key),
        json!({"src": "fc00::1", "dst": "fc00::2"})
    );
    assert_eq!(value(&gone.value), json!({"added_ns": 7}));
    let e = c.delete("ddos", hset, "fc00::1,fc00::2").unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    let e = c.delete("ddos", cfg, "0").unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("cannot be deleted"), "{}", e.message());

    // Traffic: counters, then what a replace keeps and what it starts again.
    assert_eq!(ns.send("v1", &frames("fc00::1", "fc00::2", 50)), 50);
    let before = c.stats("ddos").unwrap();
    let script = &before.scripts[0];
    assert_eq!((script.generation, script.chains[0].runs), (1, 50));
    let calls = |s: &eclat_proto::v1::StatsReply, p: &str| {
        s.scripts[0]
            .programs
            .iter()
            .find(|x| x.name == p)
            .map(|x| x.calls)
    };
    assert_eq!(calls(&before, "ip6_hset_srcdst"), Some(50));

    // Values set since the load: the replace writes the script's back and says so.
    set(&mut c, "ip6_sc.hike_ldr_cfg", "0", "(1, 0, 1, 0)");
    let replaced = load_example(&mut c, "ddos", "v0");
    assert!(replaced.replaced);
    let resets: Vec<(String, Vec<String>)> = replaced
        .maps
        .iter()
        .map(|m| (m.map.clone(), m.reset.clone()))
        .collect();
    assert!(
        resets.contains(&(cfg.into(), vec!["0".into()])),
        "{resets:?}"
    );
    assert!(
        resets.contains(&("ip6_sc.hike_ldr_cfg".into(), vec!["0".into()])),
        "{resets:?}"
    );
    assert!(
        resets.contains(&("ip6_sc.ipv6_sc_map".into(), vec![])),
        "the same chain by name is no reset: {resets:?}"
    );
    assert!(
        resets.contains(&("ip6_dst_tbmon.ip6_dst_tbmon_cfg".into(), vec![])),
        "{resets:?}"
    );
    assert_eq!(
        value(&c.get("ddos", cfg, "0").unwrap().entry.unwrap().value),
        json!({"rate": 1, "bucket_size": 100})
    );
    let after = c.stats("ddos").unwrap();
    assert_eq!(after.scripts[0].generation, 2);
    assert_eq!(
        after.scripts[0].chains[0].runs, 0,
        "chain runs: this generation only"
    );
    assert_eq!(
        calls(&after, "ip6_hset_srcdst"),
        Some(50),
        "program calls: since it was loaded"
    );
    assert_eq!(after.packets, 50, "packets: since the VM was created");
    let cover = after.coverage.expect("what the counters cover");
    assert!(cover.chains.contains("current generation"), "{cover:?}");
    assert!(cover.programs.contains("across replaces"), "{cover:?}");

    // A per-CPU map: the field named is written (on the first CPU, zero on the others, so the
    // sum reads as written), the others keep each CPU's value.
    let tb = "ip6_dst_tbmon.ip6_dst_tbmon_map";
    let held = value(
        &c.get("ddos", tb, "fc00::2")
            .unwrap()
            .entry
            .expect("a bucket")
            .value,
    );
    assert_eq!(
        set(&mut c, tb, "dst=fc00::2", "credit=5"),
        json!({"credit": 5, "last_ns": held["last_ns"]})
    );

    // Clear and reset.
    assert_eq!(ns.send("v1", &frames("fc00::1", "fc00::2", 3)), 3);
    let monitor = c.monitor("ddos");
    assert!(!monitor.is_empty());
    let cleared = c.clear("ddos", "monitor.monitor_map").unwrap();
    assert_eq!(cleared.cleared as usize, monitor.len());
    assert!(c.monitor("ddos").is_empty());
    let cleared = c.clear("ddos", cfg).unwrap();
    assert_eq!(cleared.cleared, 1, "an array's entry zeroed");
    assert_eq!(
        value(&c.get("ddos", cfg, "0").unwrap().entry.unwrap().value),
        json!({"rate": 0, "bucket_size": 0})
    );
    let reset = c.reset_stats("ddos").unwrap();
    assert!(reset.programs.contains(&"ip6_hset_srcdst".to_string()));
    assert!(!reset.vm_faults);
    let zero = c.stats("ddos").unwrap();
    assert_eq!(zero.scripts[0].chains[0].runs, 0);
    assert_eq!(calls(&zero, "ip6_hset_srcdst"), Some(0));
    assert_eq!(zero.packets, 53, "the packet count is never reset");
    let e = c.reset_stats("nope").unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
}
