//! Map layouts read from the standard objects' BTF: encoding a script's typed entries,
//! decoding dumps, summing per-CPU values, and errors that name the C layout. No kernel.

use std::net::{Ipv4Addr, Ipv6Addr};

use eclat_catalog::object::MapType;
use eclat_catalog::{EncodeError, MapLayout, PackageCatalog};
use eclat_compiler::output::MapValue;
use eclat_syntax::ast::IntType;
use serde_json::json;

fn layout(cat: &PackageCatalog, package: &str, owner: &str, map: &str) -> MapLayout {
    let maps = match cat.program_entry(package, owner) {
        Some(p) => &p.maps,
        None => &cat.loader_entry(package, owner).expect("owner").maps,
    };
    maps.iter().find(|m| m.name == map).expect("map").clone()
}

fn no_chains(_: &str) -> Option<u32> {
    None
}

#[test]
fn an_ipv6_pair_key_round_trips() {
    let cat = PackageCatalog::standard().unwrap();
    let l = layout(
        &cat,
        "hike_default",
        "ip6_hset_srcdst",
        "ip6_hset_srcdst_map",
    );
    let (a, b): (Ipv6Addr, Ipv6Addr) = (
        "2001:db8::a".parse().unwrap(),
        "2001:db8::b".parse().unwrap(),
    );
    let key = l
        .key
        .encode(
            &l.name,
            "key",
            &[MapValue::Ipv6(a), MapValue::Ipv6(b)],
            &no_chains,
        )
        .unwrap();
    assert_eq!(key, [a.octets(), b.octets()].concat());
    assert_eq!(
        l.key.decode(&key, &|_| None),
        json!({"src": "2001:db8::a", "dst": "2001:db8::b"})
    );
    assert!(!l.percpu);
}

#[test]
fn ipv4_keys_are_stored_as_on_the_wire() {
    let cat = PackageCatalog::standard().unwrap();
    let l = layout(&cat, "meter", "ip4_sd_tbmon", "ip4_sd_tbmon_map");
    let a = Ipv4Addr::new(192, 0, 2, 1);
    let key = l
        .key
        .encode(
            &l.name,
            "key",
            &[MapValue::Ipv4(a), MapValue::Ipv4(a)],
            &no_chains,
        )
        .unwrap();
    assert_eq!(key, [192, 0, 2, 1, 192, 0, 2, 1]);
}

#[test]
fn chain_refs_are_stored_as_id_plus_one() {
    let cat = PackageCatalog::standard().unwrap();
    let l = layout(&cat, "basic", "ip6_sc", "ipv6_sc_map");
    assert!(l.is_called("ip6_sc_map"), "the manifest's alias");
    assert_eq!(l.map_type, MapType::Array, "an inlined lookup");
    assert_eq!(l.value.c_type.name, "hike_chain_ref");
    assert!(l.value.fields.as_ref().unwrap()[0].chain_ref);
    let ids = |name: &str| (name == "ddos").then_some(42);
    let names = |id: u32| (id == 42).then(|| "ddos".to_owned());
    let v = l
        .value
        .encode(&l.name, "value", &[MapValue::Chain("ddos".into())], &ids)
        .unwrap();
    assert_eq!(v, 43u32.to_ne_bytes());
    assert_eq!(l.value.decode(&v, &names), json!("ddos"));
    // Chain 0 is a chain like any other; a zeroed entry (a new array) is no chain.
    let first = |name: &str| (name == "first").then_some(0);
    let v = l
        .value
        .encode(&l.name, "value", &[MapValue::Chain("first".into())], &first)
        .unwrap();
    assert_eq!(v, 1u32.to_ne_bytes());
    assert_eq!(l.value.decode(&v, &|_| None), json!(0), "unnamed: the ID");
    assert_eq!(l.value.decode(&[0; 4], &names), json!(null));
    for (package, loader, map) in [
        ("basic", "ip4_sc", "ipv4_sc_map"),
        ("basic", "ip_sc", "ip_sc_map"),
        (
            "hike_default",
            "ip6_simple_classifier",
            "ipv6_simple_classifier_map",
        ),
    ] {
        let l = layout(&cat, package, loader, map);
        assert_eq!(l.map_type, MapType::Array, "{map}");
        let v = l
            .value
            .encode(&l.name, "value", &[MapValue::Chain("ddos".into())], &ids)
            .unwrap();
        assert_eq!(v, 43u32.to_ne_bytes(), "{map}");
    }
}

#[test]
fn chain_values_become_ids() {
    // A classifier keyed by address stays a hash of chain IDs.
    let cat = PackageCatalog::standard().unwrap();
    let l = layout(&cat, "basic", "ip6_dst_cls", "ip6_dst_cls_map");
    let ids = |name: &str| (name == "ddos").then_some(42);
    let v = l
        .value
        .encode(&l.name, "value", &[MapValue::Chain("ddos".into())], &ids)
        .unwrap();
    assert_eq!(v, 42u32.to_ne_bytes());
    assert_eq!(
        l.value
            .decode(&v, &|id| (id == 42).then(|| "ddos".to_owned())),
        json!("ddos")
    );
    let err = l
        .value
        .encode(&l.name, "value", &[MapValue::Chain("other".into())], &ids)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "chain `other` (in map `ip6_dst_cls_map`) is not loaded"
    );
}

#[test]
fn mismatches_name_the_c_layout() {
    let cat = PackageCatalog::standard().unwrap();
    let l = layout(&cat, "basic", "ip6_dst_cls", "ip6_dst_cls_map");
    let err = l
        .key
        .encode(
            &l.name,
            "key",
            &[MapValue::Int {
                ty: IntType::U32,
                value: 5,
            }],
            &no_chains,
        )
        .unwrap_err();
    assert!(matches!(err, EncodeError::Kind { .. }));
    assert_eq!(
        err.to_string(),
        "map `ip6_dst_cls_map` expects a key of type `struct in6_addr` (16 bytes), an IPv6 address in quotes; got a number"
    );
    let l = layout(&cat, "meter", "ip6_dst_tbmon", "ip6_dst_tbmon_cfg");
    let err = l
        .value
        .encode(
            &l.name,
            "value",
            &[MapValue::Int {
                ty: IntType::U64,
                value: 1,
            }],
            &no_chains,
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "map `ip6_dst_tbmon_cfg` expects a value of type `struct tbmon_config` (16 bytes) with 2 fields, found 1"
    );
}

#[test]
fn per_cpu_values_are_summed_field_by_field() {
    let cat = PackageCatalog::standard().unwrap();
    let l = layout(&cat, "meter", "ip6_sd_meter", "ip6_sd_meter_map");
    assert!(l.percpu);
    let cpu = |p: u64, b: u64| [p.to_ne_bytes(), b.to_ne_bytes()].concat();
    let sum = l.value.sum_percpu(&[cpu(1, 100), cpu(2, 200), cpu(0, 0)]);
    assert_eq!(
        l.value.decode(&sum, &|_| None),
        json!({"packets": 3, "bytes": 300})
    );
}

#[test]
fn json_entries_encode_as_dumps_decode_them() {
    let cat = PackageCatalog::standard().unwrap();
    let l = layout(
        &cat,
        "hike_default",
        "ip6_hset_srcdst",
        "ip6_hset_srcdst_map",
    );
    let text = r#"{"src": "2001:db8::a", "dst": "2001:db8::b"}"#;
    let key = l.key.encode_json(&l.name, "key", text, &no_chains).unwrap();
    assert_eq!(
        l.key.decode(&key, &|_| None),
        serde_json::from_str::<serde_json::Value>(text).unwrap()
    );
    let sc = layout(&cat, "basic", "ip6_sc", "ipv6_sc_map");
    let ids = |n: &str| (n == "ddos").then_some(7);
    let value = sc
        .value
        .encode_json(&sc.name, "value", "\"ddos\"", &ids)
        .unwrap();
    assert_eq!(
        sc.value
            .decode(&value, &|id| (id == 7).then(|| "ddos".into())),
        json!("ddos")
    );

    let err = |l: &eclat_catalog::ValueLayout, what, text: &str| {
        l.encode_json("m", what, text, &no_chains)
            .unwrap_err()
            .to_string()
    };
    let form = r#"{"src": an IPv6 address string, "dst": an IPv6 address string}"#;
    assert!(err(&l.key, "key", "fc00::1").starts_with("the key `fc00::1` is not JSON ("));
    assert_eq!(
        err(&l.key, "key", "5"),
        format!("the key `5` is not an object; the key is `struct hike_ip6_sd_key` (32 bytes), written as {form}")
    );
    assert_eq!(
        err(&l.key, "key", r#"{"src": "::1", "dst": "::2", "x": 1}"#),
        format!("the key has no field `x`; it is `struct hike_ip6_sd_key` (32 bytes), written as {form}")
    );
    assert_eq!(
        err(&l.key, "key", r#"{"src": "::1"}"#),
        format!("the key lacks field `dst`; it is `struct hike_ip6_sd_key` (32 bytes), written as {form}")
    );
    assert_eq!(
        err(&l.key, "key", r#"{"src": "::1", "dst": 3}"#),
        format!("key field `dst` `3` does not fit: the key is `struct hike_ip6_sd_key` (32 bytes), written as {form}")
    );
    assert_eq!(
        err(&sc.key, "key", "-1"),
        "key `-1` does not fit: the key is `__u32` (4 bytes), written as a number"
    );
    assert_eq!(
        err(&sc.value, "value", "\"nope\""),
        "chain `nope` (in map `m`) is not loaded"
    );
}

#[test]
fn a_loaders_verdicts_are_xdp_actions() {
    let cat = PackageCatalog::standard().unwrap();
    let l = layout(&cat, "basic", "ip6_sc", "hike_ldr_cfg");
    let int = |value| MapValue::Int {
        ty: IntType::U32,
        value,
    };
    let ok = l
        .value
        .encode(
            &l.name,
            "value",
            &[int(1), int(0), int(1), int(0)],
            &no_chains,
        )
        .expect("drop, aborted, set");
    assert_eq!(&ok[..4], &1u32.to_ne_bytes());
    let e = l
        .value
        .encode(
            &l.name,
            "value",
            &[int(99), int(0), int(1), int(0)],
            &no_chains,
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "99 is not an XDP verdict: 0 aborted, 1 drop, 2 pass, 3 tx, 4 redirect (field \
         `default_verdict` of map `hike_ldr_cfg` takes 0 to 4)"
    );
    let e = l
        .value
        .encode_json(
            &l.name,
            "value",
            r#"{"default_verdict": 2, "failsafe_verdict": 7, "flags": 1, "dispatch": 0}"#,
            &no_chains,
        )
        .unwrap_err();
    assert!(e.to_string().contains("7 is not an XDP verdict"), "{e}");
    // Flags are not verdicts.
    l.value
        .encode(
            &l.name,
            "value",
            &[int(2), int(0), int(99), int(0)],
            &no_chains,
        )
        .expect("flags take any u32");
}

#[test]
fn command_line_forms_encode_as_a_script_would() {
    let cat = PackageCatalog::standard().unwrap();
    let pair = layout(
        &cat,
        "hike_default",
        "ip6_hset_srcdst",
        "ip6_hset_srcdst_map",
    );
    let whole = |l: &eclat_catalog::ValueLayout, what, text: &str| {
        l.encode_text("m", what, text, &|n| (n == "ddos").then_some(7))
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    };
    let json_key = whole(&pair.key, "key", r#"{"src":"fc00::1","dst":"fc00::2"}"#);
    for text in [
        "fc00::1,fc00::2",
        "('fc00::1', 'fc00::2')",
        "fc00::1 fc00::2",
        r#"["fc00::1","fc00::2"]"#,
        "src=fc00::1,dst=fc00::2",
    ] {
        assert_eq!(whole(&pair.key, "key", text), json_key, "{text}");
    }
    // A key names every field.
    let e = pair
        .key
        .encode_text("m", "key", "src=fc00::1", &no_chains)
        .unwrap_err();
    assert!(
        e.to_string().starts_with("the key lacks field `dst`"),
        "{e}"
    );
    let e = pair
        .key
        .encode_text("m", "key", "fc00::1", &no_chains)
        .unwrap_err();
    assert!(
        matches!(
            e,
            EncodeError::Arity {
                expected: 2,
                found: 1,
                ..
            }
        ),
        "{e}"
    );
    let e = pair
        .key
        .encode_text("m", "key", "fc00::1,5", &no_chains)
        .unwrap_err();
    assert!(
        e.to_string().contains("field `dst` `5` does not fit"),
        "{e}"
    );

    // The single-chain classifier's key 0 and a bare chain name.
    let sc = layout(&cat, "basic", "ip6_sc", "ipv6_sc_map");
    assert_eq!(whole(&sc.key, "key", "0"), 0u32.to_ne_bytes());
    assert_eq!(whole(&sc.value, "value", "ddos"), 8u32.to_ne_bytes());
    assert_eq!(whole(&sc.value, "value", "(ddos)"), 8u32.to_ne_bytes());

    // IPv4: an address or its 32-bit number, as in a script.
    let v4 = layout(
        &cat,
        "hike_default",
        "ip4_hset_srcdst",
        "ip4_hset_srcdst_map",
    );
    assert_eq!(
        whole(&v4.key, "key", "192.0.2.1, 0xc0000202"),
        [192, 0, 2, 1, 192, 0, 2, 2]
    );

    // A value may name some fields: the others are left to what the map holds.
    let cfg = layout(&cat, "meter", "ip6_sd_tbmon", "ip6_sd_tbmon_cfg");
    let w = cfg
        .value
        .encode_text_fields("m", "value", "bucket_size=2_000", &no_chains)
        .unwrap();
    assert!(!w.is_whole(&cfg.value));
    let held = cfg
        .value
        .encode_text("m", "value", "(1000, 100)", &no_chains)
        .unwrap();
    assert_eq!(
        cfg.value
            .decode(&w.over(&cfg.value, &held, false), &|_| None),
        json!({"rate": 1000, "bucket_size": 2000})
    );
    assert_eq!(
        cfg.value
            .decode(&w.over(&cfg.value, &held, true), &|_| None),
        json!({"rate": 1000, "bucket_size": 0}),
        "another CPU of a per-CPU map: numbers zero"
    );
    let hset = layout(
        &cat,
        "hike_default",
        "ip6_hset_srcdst",
        "ip6_hset_srcdst_map",
    );
    assert_eq!(
        whole(&hset.value, "value", "7"),
        whole(&hset.value, "value", "added_ns=7"),
        "a struct of one field takes one item, as `(7)` in a script"
    );
    let w = cfg
        .value
        .encode_text_fields("m", "value", "1000, 5", &no_chains)
        .unwrap();
    assert!(w.is_whole(&cfg.value));
    let e = cfg
        .value
        .encode_text_fields("m", "value", "rate=1, burst=2", &no_chains)
        .unwrap_err();
    assert!(
        e.to_string().starts_with("the value has no field `burst`"),
        "{e}"
    );
}
