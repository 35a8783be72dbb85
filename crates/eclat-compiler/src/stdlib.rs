//! The standard packages of STDLIB.md as a table: [`StdCatalog`].
//!
//! This table is written after the C sources: the package manifests
//! (`bpf/programs/PKG/package.toml`, `bpf/loaders/PKG/package.toml`), each program's
//! `HIKE_PROG(name, params...)` line, whether it uses `HIKE_RETURN` (a program that never does
//! is terminal), and the `SEC(".maps")` definitions of each program and loader. It is a stand-in until the runtime reads the same facts from the programs'
//! BTF (issue 4): the test `tests/catalog_sync.rs` parses the C sources and fails on any
//! difference in names, parameters or maps, so the two cannot drift apart.

use std::collections::BTreeMap;

use eclat_syntax::ast::IntType;

use crate::catalog::{Catalog, Field, FieldKind, LoaderSig, MapSig, ProgramSig};

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

fn map(name: &str, key: Vec<Field>, value: Vec<Field>) -> MapSig {
    MapSig {
        name: name.into(),
        aliases: Vec::new(),
        key,
        value,
    }
}

/// A config map: `ARRAY[1]` with key `u32` 0.
fn cfg_map(name: &str, value: Vec<Field>) -> MapSig {
    map(name, vec![int("key", IntType::U32)], value)
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
        vec![
            field("saddr", FieldKind::Ipv6),
            field("daddr", FieldKind::Ipv6),
        ]
    };
    let ip4_sd = || {
        vec![
            field("saddr", FieldKind::Ipv4),
            field("daddr", FieldKind::Ipv4),
        ]
    };
    let tb_cfg = || vec![int("rate", U64), int("bucket_size", U64)];
    let tb_state = || vec![int("credit", U64), int("last_ns", U64)];
    let counters = || vec![int("packets", U64), int("bytes", U64)];
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
                vec![int("event", U64)],
                vec![int("packets", U64)],
            )],
        ),
        (
            "ip6_hset_srcdst",
            "hike_default",
            &["action"],
            false,
            vec![
                map("ip6_hset_srcdst_map", ip6_sd(), vec![int("added_ns", U64)]),
                cfg_map("ip6_hset_srcdst_cfg", vec![int("timeout_ns", U64)]),
            ],
        ),
        (
            "ip4_hset_srcdst",
            "hike_default",
            &["action"],
            false,
            vec![
                map("ip4_hset_srcdst_map", ip4_sd(), vec![int("added_ns", U64)]),
                cfg_map("ip4_hset_srcdst_cfg", vec![int("timeout_ns", U64)]),
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
                vec![int("ifindex", U32)],
                vec![int("egress_ifindex", U32)],
            )],
        ),
        ("ip6_kroute", "hike_default", &[], true, vec![]),
        (
            "lse",
            "hike_default",
            &[],
            false,
            vec![map("lse_map", ip6_sd(), vec![int("last_ns", U64)])],
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
                map(
                    "ip6_dst_tbmon_map",
                    vec![field("daddr", FieldKind::Ipv6)],
                    tb_state(),
                ),
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
                map(
                    "ip4_dst_tbmon_map",
                    vec![field("daddr", FieldKind::Ipv4)],
                    tb_state(),
                ),
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
            vec![map(
                "ip6_dst_meter_map",
                vec![field("daddr", FieldKind::Ipv6)],
                counters(),
            )],
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
            vec![map(
                "ip6_sd_dec2zero_map",
                ip6_sd(),
                vec![int("remaining", U64)],
            )],
        ),
        (
            "ip4_sd_dec2zero",
            "sampler",
            &["count"],
            false,
            vec![map(
                "ip4_sd_dec2zero_map",
                ip4_sd(),
                vec![int("remaining", U64)],
            )],
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
    let chain_value = || vec![field("chain", FieldKind::Chain)];
    let key0 = || vec![int("key", IntType::U32)];
    let loader = |package: &str, name: &str, map: MapSig| LoaderSig {
        name: name.into(),
        package: package.into(),
        maps: vec![map],
    };
    let mut ip6_sc_map = map("ipv6_sc_map", key0(), chain_value());
    // The paper's Listing 2 writes `ip6_sc[ip6_sc_map]`.
    ip6_sc_map.aliases.push("ip6_sc_map".into());
    vec![
        loader("basic", "ip6_sc", ip6_sc_map),
        loader(
            "basic",
            "ip6_dst_cls",
            map(
                "ip6_dst_cls_map",
                vec![field("daddr", FieldKind::Ipv6)],
                chain_value(),
            ),
        ),
        loader("basic", "ip4_sc", map("ipv4_sc_map", key0(), chain_value())),
        loader(
            "hike_default",
            "ip6_simple_classifier",
            map("ipv6_simple_classifier_map", key0(), chain_value()),
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
