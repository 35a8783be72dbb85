//! `inspect_object` on the standard objects: HIKe tags, terminal programs (no tail call), and
//! the BTF layouts of map keys and values. No kernel needed.

use eclat_catalog::object::{inspect_object, DataKind, ObjectError, ObjectInfo};

fn info(name: &str) -> ObjectInfo {
    let bytes = hike_bpf::standard::object(name).unwrap_or_else(|| panic!("no object {name}"));
    inspect_object(bytes).unwrap_or_else(|e| panic!("inspect {name}: {e}"))
}

#[test]
fn programs_carry_their_tags_and_terminal_ones_never_tail_call() {
    let monitor = info("monitor");
    let p = monitor.program("monitor").expect("monitor");
    assert_eq!(p.hike_params.as_deref(), Some(&["event".to_owned()][..]));
    assert!(p.tail_calls, "monitor resumes its chain");
    assert!(!p.is_loader);
    let pass = info("hike_pass");
    let p = pass.program("hike_pass").expect("hike_pass");
    assert_eq!(p.hike_params.as_deref(), Some(&[][..]));
    assert!(!p.tail_calls, "hike_pass ends the packet");
    let sc = info("ip6_sc");
    let l = sc.program("ip6_sc").expect("ip6_sc");
    assert!(l.is_loader);
    assert_eq!(l.hike_params, None);
}

#[test]
fn map_layouts_come_from_btf() {
    let hset = info("ip6_hset_srcdst");
    let own: Vec<&str> = hset.own_maps().map(|m| m.name.as_str()).collect();
    assert_eq!(own, ["ip6_hset_srcdst_map", "ip6_hset_srcdst_cfg"]);
    let m = hset
        .maps
        .iter()
        .find(|m| m.name == "ip6_hset_srcdst_map")
        .unwrap();
    let key = m.key.as_ref().expect("typed key");
    assert_eq!(key.name, "struct hike_ip6_sd_key");
    assert_eq!(key.size, 32);
    let DataKind::Struct { members, .. } = &key.kind else {
        panic!("{key:?}")
    };
    let names: Vec<(&str, usize, &str)> = members
        .iter()
        .map(|m| (m.name.as_str(), m.offset, m.ty.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("src", 0, "struct in6_addr"),
            ("dst", 16, "struct in6_addr")
        ]
    );
    let ip4 = info("ip4_sd_tbmon");
    let m = ip4
        .maps
        .iter()
        .find(|m| m.name == "ip4_sd_tbmon_map")
        .unwrap();
    let DataKind::Struct { members, .. } = &m.key.as_ref().unwrap().kind else {
        panic!()
    };
    assert_eq!(members[0].ty.name, "__be32");
    assert!(members[0].ty.has_typedef("__u32"));
    assert_eq!(members[0].ty.kind, DataKind::Int { signed: false });
    assert!(ip4.maps.iter().any(|m| m.vm_map && m.name == "hike_progs"));
}

#[test]
fn what_is_not_a_bpf_object_is_refused() {
    assert!(matches!(
        inspect_object(b"not an ELF file"),
        Err(ObjectError::Elf { .. })
    ));
    let host = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    assert!(matches!(
        inspect_object(&host),
        Err(ObjectError::NotBpf { .. })
    ));
}
