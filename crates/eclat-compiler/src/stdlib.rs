//! The standard packages of STDLIB.md as a table: [`StdCatalog`].
//!
//! The `eclat` tools read the same facts from the compiled objects (`eclat-catalog`: package
//! manifests, `hike_prog`/`hike_params` BTF tags, map keys and values from BTF); this table is
//! their I/O-free copy for the compiler's own tests and examples. The test
//! `crates/eclat-catalog/tests/agrees_with_stdlib.rs` fails on any difference (packages,
//! programs, parameters, terminal programs, maps, C types, fields), so the two cannot drift
//! apart.

use std::collections::BTreeMap;

use eclat_syntax::ast::IntType;

use crate::catalog::{CType, Catalog, Field, FieldKind, LoaderSig, MapSig, ProgramSig};

/// The standard program and loader packages.
#[derive(Clone, Debug)]
pub struct StdCatalog {
    programs: BTreeMap<String, BTreeMap<String, ProgramSig>>,
    loaders: BTreeMap<String, BTreeMap<String, LoaderSig>>,
}

impl Default for StdCatalog {
    fn default() -> Self {
        StdCatalog::new()
    }
}

fn field(name: &str, kind: FieldKind) -> Field {
    Field {
        name: name.into(),
        kind,
    }
}

fn int(name: &str, ty: IntType) -> Field {
    field(name, FieldKind::Int(ty))
}

/// A key or value: its C type, size and fields.
type Shape = (CType, Vec<Field>);

fn shape(c_type: &str, size: usize, fields: Vec<Field>) -> Shape {
    (CType::new(c_type, size), fields)
}

/// A key or value that is one `u32` (`__u32`).
fn u32_scalar(role: &str) -> Shape {
    shape("__u32", 4, vec![int(role, IntType::U32)])
}

/// A struct of `u64` fields.
fn u64_struct(c_type: &str, names: &[&str]) -> Shape {
    let fields = names.iter().map(|n| int(n, IntType::U64)).collect();
    shape(c_type, 8 * names.len(), fields)
}

fn map(name: &str, key: Shape, value: Shape) -> MapSig {
    MapSig {
        name: name.into(),
        aliases: Vec::new(),
        key_type: key.0,
        key: key.1,
        value_type: value.0,
        value: value.1,
    }
}

/// A config map: `ARRAY[1]` with key `u32` 0.
fn cfg_map(name: &str, value: Shape) -> MapSig {
    map(name, u32_scalar("key"), value)
}

/// (program, home package, params, terminal, maps)
type ProgRow = (
    &'static str,
    &'static str,
    &'static [&'static str],
    bool,
    Vec<MapSig>,
);

fn program_rows() -> Vec<ProgRow> {
    use IntType::*;
    let ip6_sd = || {
        shape(
            "struct hike_ip6_sd_key",
            32,
            vec![field("src", FieldKind::Ipv6), field("dst", FieldKind::Ipv6)],
        )
    };
    let ip6_dst = || {
        shape(
            "struct hike_ip6_dst_key",
            16,
            vec![field("dst", FieldKind::Ipv6)],
        )
    };
    let ip4_sd = || {
        shape(
            "struct hike_ip4_sd_key",
            8,
            vec![field("src", FieldKind::Ipv4), field("dst", FieldKind::Ipv4)],
        )
    };
    let ip4_dst = || {
        shape(
            "struct hike_ip4_dst_key",
            4,
            vec![field("dst", FieldKind::Ipv4)],
        )
    };
    let tb_cfg = || u64_struct("struct tbmon_config", &["rate", "bucket_size"]);
    let tb_state = || u64_struct("struct tbmon_state", &["credit", "last_ns"]);
    let counters = || u64_struct("struct meter_count", &["packets", "bytes"]);
    let hset = || u64_struct("struct hset_entry", &["added_ns"]);
    let hset_cfg = || u64_struct("struct hset_config", &["timeout_ns"]);
    let dec2zero = || u64_struct("struct dec2zero_entry", &["calls"]);
    vec![
        ("hike_pass", "hike_default", &[], true, vec![]),
        ("hike_drop", "hike_default", &[], true, vec![]),
        (
            "monitor",
            "hike_default",
            &["event"],
            false,
            vec![map(
                "monitor_map",
                shape("__u64", 8, vec![int("key", U64)]),
                u64_struct("struct monitor_count", &["packets"]),
            )],
        ),
        (
            "ip6_hset_srcdst",
            "hike_default",
            &["action"],
            false,
            vec![
                map("ip6_hset_srcdst_map", ip6_sd(), hset()),
                cfg_map("ip6_hset_srcdst_cfg", hset_cfg()),
            ],
        ),
        (
            "ip4_hset_srcdst",
            "hike_default",
            &["action"],
            false,
            vec![
                map("ip4_hset_srcdst_map", ip4_sd(), hset()),
                cfg_map("ip4_hset_srcdst_cfg", hset_cfg()),
            ],
        ),
        ("l2_redirect", "hike_default", &["ifindex"], true, vec![]),
        (
            "l2xcon",
            "hike_default",
            &[],
            true,
            vec![map(
                "l2xcon_map",
                u32_scalar("key"),
                shape("struct l2xcon_target", 4, vec![int("egress_ifindex", U32)]),
            )],
        ),
        ("ip6_kroute", "hike_default", &[], true, vec![]),
        (
            "lse",
            "hike_default",
            &[],
            false,
            vec![map(
                "lse_map",
                ip6_sd(),
                u64_struct("struct lse_entry", &["last_ns"]),
            )],
        ),
        ("ip6_set_ecn", "hike_default", &[], false, vec![]),
        ("ip6_set_tos", "hike_default", &["tc"], false, vec![]),
        ("ip4_set_tos", "hike_default", &["tc"], false, vec![]),
        (
            "ip6_dst_tbmon",
            "meter",
            &[],
            false,
            vec![
                map("ip6_dst_tbmon_map", ip6_dst(), tb_state()),
                cfg_map("ip6_dst_tbmon_cfg", tb_cfg()),
            ],
        ),
        (
            "ip6_sd_tbmon",
            "meter",
            &[],
            false,
            vec![
                map("ip6_sd_tbmon_map", ip6_sd(), tb_state()),
                cfg_map("ip6_sd_tbmon_cfg", tb_cfg()),
            ],
        ),
        (
            "ip4_dst_tbmon",
            "meter",
            &[],
            false,
            vec![
                map("ip4_dst_tbmon_map", ip4_dst(), tb_state()),
                cfg_map("ip4_dst_tbmon_cfg", tb_cfg()),
            ],
        ),
        (
            "ip4_sd_tbmon",
            "meter",
            &[],
            false,
            vec![
                map("ip4_sd_tbmon_map", ip4_sd(), tb_state()),
                cfg_map("ip4_sd_tbmon_cfg", tb_cfg()),
            ],
        ),
        (
            "ip6_dst_meter",
            "meter",
            &[],
            false,
            vec![map("ip6_dst_meter_map", ip6_dst(), counters())],
        ),
        (
            "ip6_sd_meter",
            "meter",
            &[],
            false,
            vec![map("ip6_sd_meter_map", ip6_sd(), counters())],
        ),
        (
            "ip6_sd_dec2zero",
            "sampler",
            &["count"],
            false,
            vec![map("ip6_sd_dec2zero_map", ip6_sd(), dec2zero())],
        ),
        (
            "ip4_sd_dec2zero",
            "sampler",
            &["count"],
            false,
            vec![map("ip4_sd_dec2zero_map", ip4_sd(), dec2zero())],
        ),
        (
            "show_pkt_info",
            "info",
            &["layers", "user_info"],
            false,
            vec![],
        ),
        ("udp_port", "net", &[], false, vec![]),
    ]
}

/// Which programs each package exports. `net` and `mynet` re-export the DDoS set of the
/// paper under one import.
fn package_rows() -> Vec<(&'static str, Vec<&'static str>)> {
    let ddos = vec![
        "hike_drop",
        "hike_pass",
        "monitor",
        "ip6_hset_srcdst",
        "ip4_hset_srcdst",
        "lse",
        "l2_redirect",
        "ip6_dst_meter",
        "ip6_sd_meter",
        "ip6_dst_tbmon",
        "ip6_sd_tbmon",
        "ip4_dst_tbmon",
        "ip4_sd_tbmon",
        "ip6_sd_dec2zero",
        "ip4_sd_dec2zero",
        "show_pkt_info",
        "udp_port",
    ];
    vec![
        (
            "hike_default",
            vec![
                "hike_pass",
                "hike_drop",
                "monitor",
                "ip6_hset_srcdst",
                "ip4_hset_srcdst",
                "l2_redirect",
                "l2xcon",
                "ip6_kroute",
                "lse",
                "ip6_set_ecn",
                "ip6_set_tos",
                "ip4_set_tos",
            ],
        ),
        (
            "meter",
            vec![
                "ip6_dst_tbmon",
                "ip6_sd_tbmon",
                "ip4_dst_tbmon",
                "ip4_sd_tbmon",
                "ip6_dst_meter",
                "ip6_sd_meter",
            ],
        ),
        ("sampler", vec!["ip6_sd_dec2zero", "ip4_sd_dec2zero"]),
        ("info", vec!["show_pkt_info"]),
        ("net", ddos.clone()),
        ("mynet", ddos),
    ]
}

fn loader_rows() -> Vec<LoaderSig> {
    let chain_value = || shape("__u32", 4, vec![field("value", FieldKind::Chain)]);
    // The single-chain classifiers are arrays of `hike_chain_ref` (chain ID + 1, 0 for none;
    // `bpf/include/hike/abi.h`); scripts name the chain all the same.
    let chain_ref_value = || shape("hike_chain_ref", 4, vec![field("value", FieldKind::Chain)]);
    // Every loader has its verdicts' config map (`bpf/include/hike/loader.h`).
    let ldr_cfg = || {
        let fields = ["default_verdict", "failsafe_verdict", "flags", "reserved"]
            .iter()
            .map(|n| int(n, IntType::U32))
            .collect();
        cfg_map(
            "hike_ldr_cfg",
            shape("struct hike_loader_config", 16, fields),
        )
    };
    let loader = |package: &str, name: &str, map: MapSig| LoaderSig {
        name: name.into(),
        package: package.into(),
        maps: vec![ldr_cfg(), map],
    };
    let mut ip6_sc_map = map("ipv6_sc_map", u32_scalar("key"), chain_ref_value());
    // The paper's Listing 2 writes `ip6_sc[ip6_sc_map]`.
    ip6_sc_map.aliases.push("ip6_sc_map".into());
    vec![
        loader("basic", "ip6_sc", ip6_sc_map),
        loader(
            "basic",
            "ip6_dst_cls",
            map(
                "ip6_dst_cls_map",
                shape("struct in6_addr", 16, vec![field("key", FieldKind::Ipv6)]),
                chain_value(),
            ),
        ),
        loader(
            "basic",
            "ip4_sc",
            map("ipv4_sc_map", u32_scalar("key"), chain_ref_value()),
        ),
        loader(
            "hike_default",
            "ip6_simple_classifier",
            map(
                "ipv6_simple_classifier_map",
                u32_scalar("key"),
                chain_ref_value(),
            ),
        ),
    ]
}

impl StdCatalog {
    /// The table.
    pub fn new() -> StdCatalog {
        let sigs: BTreeMap<&str, ProgramSig> = program_rows()
            .into_iter()
            .map(|(name, home, params, terminal, maps)| {
                (
                    name,
                    ProgramSig {
                        name: name.into(),
                        home: home.into(),
                        params: params.iter().map(|p| p.to_string()).collect(),
                        terminal,
                        maps,
                    },
                )
            })
            .collect();
        let programs = package_rows()
            .into_iter()
            .map(|(package, names)| {
                let progs = names
                    .into_iter()
                    .map(|n| (n.to_string(), sigs[n].clone()))
                    .collect();
                (package.to_string(), progs)
            })
            .collect();
        let mut loaders: BTreeMap<String, BTreeMap<String, LoaderSig>> = BTreeMap::new();
        for l in loader_rows() {
            loaders
                .entry(l.package.clone())
                .or_default()
                .insert(l.name.clone(), l);
        }
        StdCatalog { programs, loaders }
    }

    /// Every program signature once, whatever package exports it (for the sync test).
    pub fn all_programs(&self) -> Vec<&ProgramSig> {
        let mut seen = BTreeMap::new();
        for progs in self.programs.values() {
            for p in progs.values() {
                seen.entry(p.name.as_str()).or_insert(p);
            }
        }
        seen.into_values().collect()
    }

    /// Every loader.
    pub fn all_loaders(&self) -> Vec<&LoaderSig> {
        self.loaders.values().flat_map(|m| m.values()).collect()
    }
}

impl Catalog for StdCatalog {
    fn program_packages(&self) -> Vec<String> {
        self.programs.keys().cloned().collect()
    }

    fn program(&self, package: &str, name: &str) -> Option<&ProgramSig> {
        self.programs.get(package)?.get(name)
    }

    fn loader_packages(&self) -> Vec<String> {
        self.loaders.keys().cloned().collect()
    }

    fn loader(&self, package: &str, name: &str) -> Option<&LoaderSig> {
        self.loaders.get(package)?.get(name)
    }
}
