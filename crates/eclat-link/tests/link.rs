//! Linking without a kernel: program IDs per distinct (object, program), chain IDs, calls
//! linked per script, the loader chosen, map configuration encoded with the BTF layouts.

use eclat_catalog::PackageCatalog;
use eclat_compiler::output::CompiledScript;
use eclat_compiler::{compile, ChainTable};
use eclat_link::link::MapOwner;
use eclat_link::{link, LinkError, Unit};

fn catalog() -> PackageCatalog {
    PackageCatalog::standard().expect("the standard catalog")
}

fn compiled(cat: &PackageCatalog, src: &str, chains: &ChainTable) -> CompiledScript {
    let out = compile(src, cat, chains);
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    out.script.unwrap()
}

#[test]
fn ids_follow_imports_and_maps_are_encoded() {
    let cat = catalog();
    let src = "\
from programs.net import monitor, hike_pass
from programs.meter import ip6_sd_tbmon
from loaders.basic import ip6_sc, ip6_dst_cls
ip6_sc[ip6_sc_map] = { (0): (second) }
ip6_dst_cls[ip6_dst_cls_map] = { ('2001:db8::1'): (first) }
ip6_sd_tbmon[ip6_sd_tbmon_map] = { ('2001:db8::1', '2001:db8::2'): (5, 6) }
ip6_sc.attach('DEVNAME', 'xdp')
def first():
    monitor(1)
    hike_pass()
def second():
    first()
";
    let script = compiled(&cat, src, &ChainTable::new());
    let linked = link(
        &cat,
        Unit {
            name: "s",
            script: &script,
        },
        &[],
        None,
    )
    .unwrap();
    let names: Vec<(u32, &str)> = linked
        .programs
        .iter()
        .map(|p| (p.id, p.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [(0, "monitor"), (1, "hike_pass"), (2, "ip6_sd_tbmon")]
    );
    let chains: Vec<(u32, &str)> = linked
        .chains
        .iter()
        .map(|c| (c.id, c.name.as_str()))
        .collect();
    assert_eq!(chains, [(0, "first"), (1, "second")]);
    // `first` calls program 0 (`monitor`), then program 1 (`hike_pass`).
    let call_imms: Vec<(u8, i32)> = linked.chains[0]
        .insns
        .iter()
        .filter(|i| i.code == 0x85)
        .map(|i| (i.src(), i.imm))
        .collect();
    assert_eq!(call_imms, [(2, 0), (2, 1)]);
    assert_eq!(linked.loader.name, "ip6_sc", "the attached loader");

    // ip6_sc's map (by its alias), not ip6_dst_cls's: only the running loader is configured.
    assert_eq!(linked.map_writes.len(), 2);
    let w = &linked.map_writes[0];
    assert_eq!(
        (w.target.clone(), w.map.as_str()),
        (MapOwner::Loader, "ipv6_sc_map")
    );
    // `second` is chain 1, stored as a `hike_chain_ref` (ID + 1).
    assert_eq!(
        w.entries,
        [(0u32.to_ne_bytes().to_vec(), 2u32.to_ne_bytes().to_vec())]
    );
    let w = &linked.map_writes[1];
    assert_eq!(w.target, MapOwner::Program(2));
    let mut key = vec![0u8; 32];
    key[..16].copy_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    key[16..].copy_from_slice(
        &"2001:db8::2"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    let value: Vec<u8> = [5u64.to_ne_bytes(), 6u64.to_ne_bytes()].concat();
    assert_eq!(w.entries, [(key, value)]);
}

#[test]
fn chains_of_imported_scripts_are_linked_by_name() {
    let cat = catalog();
    let lib_src =
        "from programs.hike_default import monitor\ndef helper(x):\n    monitor(x)\n    return x\n";
    let lib = compiled(&cat, lib_src, &ChainTable::new());
    let mut table = ChainTable::new();
    table.add_script("lib", eclat_compiler::chain_signatures(lib_src));
    let main_src = "\
from chains.lib import helper
from programs.net import hike_pass, monitor
from loaders.basic import ip6_sc
ip6_sc[ipv6_sc_map] = { (0): (top) }
def top():
    helper(3)
    monitor(4)
    hike_pass()
";
    let main = compiled(&cat, main_src, &table);
    let main_unit = Unit {
        name: "main",
        script: &main,
    };
    // Without the library script, the call cannot be linked.
    let err = link(&cat, main_unit, &[], None).unwrap_err();
    assert!(matches!(err, LinkError::Unresolved { .. }), "{err}");
    let linked = link(
        &cat,
        main_unit,
        &[Unit {
            name: "lib",
            script: &lib,
        }],
        None,
    )
    .unwrap();
    let chains: Vec<(&str, &str)> = linked
        .chains
        .iter()
        .map(|c| (c.name.as_str(), c.script.as_str()))
        .collect();
    assert_eq!(chains, [("top", "main"), ("helper", "lib")]);
    // `top` has no `return VALUE`: its r0 is no result (`eclat run` leaves `result` out).
    let returns: Vec<bool> = linked.chains.iter().map(|c| c.returns_value).collect();
    assert_eq!(returns, [false, true]);
    // `net.monitor` (main) and `hike_default.monitor` (lib) are one object: one program.
    let progs: Vec<&str> = linked.programs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(progs, ["hike_pass", "monitor"]);
    // A chain defined twice is refused.
    let err = link(
        &cat,
        Unit {
            name: "lib2",
            script: &lib,
        },
        &[Unit {
            name: "lib",
            script: &lib,
        }],
        Some("x"),
    );
    assert!(err.is_err());
}

#[test]
fn the_loader_is_chosen_or_refused() {
    let cat = catalog();
    let two = compiled(
        &cat,
        "from loaders.basic import ip6_sc, ip4_sc\ndef c():\n    return 0\n",
        &ChainTable::new(),
    );
    let unit = Unit {
        name: "two",
        script: &two,
    };
    assert!(matches!(
        link(&cat, unit, &[], None),
        Err(LinkError::SeveralLoaders { .. })
    ));
    assert_eq!(
        link(&cat, unit, &[], Some("ip4_sc")).unwrap().loader.name,
        "ip4_sc"
    );
    assert!(matches!(
        link(&cat, unit, &[], Some("nope")),
        Err(LinkError::UnknownLoader { .. })
    ));
    let none = compiled(&cat, "def c():\n    return 0\n", &ChainTable::new());
    assert!(matches!(
        link(
            &cat,
            Unit {
                name: "none",
                script: &none
            },
            &[],
            None
        ),
        Err(LinkError::NoLoader)
    ));
    let dup = compiled(
        &cat,
        "from loaders.basic import ip6_sc\ndef c():\n    return 0\n",
        &ChainTable::new(),
    );
    let err = link(
        &cat,
        Unit {
            name: "a",
            script: &dup,
        },
        &[Unit {
            name: "b",
            script: &dup,
        }],
        None,
    )
    .unwrap_err();
    assert!(matches!(err, LinkError::DuplicateChain { .. }), "{err}");
}
