//! End-to-end tests of eclatd in network namespaces: load, traffic, counters, replace under
//! traffic, unload, kill -9 and restart. Needs root.

mod support;

use support::{count_and_drop, frames, Daemon, Netns};

#[test]
fn load_counts_traffic_and_unload_leaves_nothing() {
    let ns = Netns::new();
    let d = Daemon::start(Some(&ns));
    let mut c = d.client();
    let reply = c
        .load(
            "",
            "dir/cnt.eclat",
            &count_and_drop(1),
            &[("DEVNAME", "v0")],
        )
        .expect("load");
    let script = reply.script.unwrap();
    assert_eq!(script.name, "cnt");
    assert_eq!(script.generation, 1);
    assert!(!reply.replaced);
    let loader = script.loader.unwrap();
    assert_eq!(loader.attachments.len(), 1);
    assert_eq!(loader.attachments[0].device, "v0");
    assert_eq!(ns.xdp_prog("v0"), loader.kernel_id);

    let sent = ns.send("v1", &frames("fc00::1", "fc00::2", 100));
    assert_eq!(sent, 100);
    assert_eq!(c.monitor("cnt").get(&1), Some(&100));
    let stats = c.stats("cnt").unwrap();
    let chain = &stats.scripts[0].chains[0];
    assert_eq!((chain.name.as_str(), chain.runs), ("count_drop", 100));
    let calls: Vec<(String, u64)> = stats.scripts[0]
        .programs
        .iter()
        .map(|p| (p.name.clone(), p.calls))
        .collect();
    assert!(calls.contains(&("monitor".into(), 100)), "{calls:?}");
    assert!(calls.contains(&("hike_drop".into(), 100)), "{calls:?}");

    let list = c.list();
    assert_eq!(list.scripts.len(), 1);
    assert_eq!(list.programs.len(), 2);
    assert!(list
        .programs
        .iter()
        .all(|p| p.used_by == vec!["cnt".to_string()]));

    c.unload("cnt").expect("unload");
    assert_eq!(ns.xdp_prog("v0"), 0, "the loader is detached");
    let list = c.list();
    assert!(list.scripts.is_empty() && list.programs.is_empty());
    for sub in ["loaders", "progs"] {
        let left: Vec<_> = std::fs::read_dir(d.pin_dir().join(sub)).unwrap().collect();
        assert!(left.is_empty(), "{sub}: {left:?}");
    }
    let state = std::fs::read_to_string(d.state_dir().join("state.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(state["scripts"], serde_json::json!([]));
}
