//! `ddos_mark`: the marking task of the paper's section 7.3.1. A router marks with IPv6
//! traffic class 1 the packets whose source is in a blacklist of 1,000 addresses; 10% of the
//! traffic comes from blacklisted sources; every packet is passed on.
//!
//! Variants:
//! - `raw`: one hand-written XDP program, `bpf/bench/raw_ddos_mark.bpf.c` (`raw_ddos_mark`
//!   for ns, `raw_ddos_mark_fwd` for pps), with the blacklist in the same kind of map as
//!   the HIKe program's (`bpf/bench/ip6_src_set.h`).
//! - `hike`: the `basic.ip6_sc` loader and a chain in HIKe assembly ([`HAND_CHAINS`]) calling
//!   `ip6_src_in_set()` (`bpf/bench/ip6_src_in_set.bpf.c`, written with the SDK: no standard
//!   program looks up a source alone) and, for a blacklisted source, `ip6_set_tos(1)`; for
//!   pps, then `ip6_kroute()`.
//! - `eclat`: the same chains written in eCLAT (`ddos_mark.eclat`) and compiled by
//!   `eclat-compiler`, in the same VM (same programs, same IDs).
//! - `ipset` (pps only): no XDP program of its own; the router's kernel forwards, and
//!   `ip6tables -t mangle -A PREROUTING -m set --match-set BL src -j TOS --set-tos 0x01/0xff`
//!   marks, with the blacklist in an `ipset` of type `hash:ip`.
//!
//! Metrics: `ns_per_packet` with `BPF_PROG_TEST_RUN` on a mix of 10 packets from distinct
//! sources, one blacklisted, each run `repeat` times per trial (see `measure::Mix`); and `pps`
//! through the router of `hike_netlab::RouterLab` (see `pps`), where the XDP variants forward in XDP with
//! the kernel's FIB (`bpf_fib_lookup`, as `ip6_kroute`) and `ipset` forwards in the kernel.
//! Both are checked before they are measured: the marked packets are exactly those of
//! blacklisted sources, and nothing else in them changed.

use std::net::Ipv6Addr;
use std::os::fd::{AsFd, OwnedFd};

use anyhow::{bail, ensure, Context, Result};
use eclat_catalog::PackageCatalog;
use eclat_compiler::catalog::LoaderSig;
use eclat_compiler::{compile, Catalog, ChainTable, CompiledScript, ProgramSig};
use hike_isa::abi::{Fault, VmConfig};
use hike_isa::asm::assemble;
use hike_isa::Symbols;
use hike_netlab::RouterLab;
use hike_runtime::{ChainId, Loader, ProgramId, Vm, XdpAction, XdpMode};

use crate::measure::{self, timed, Case, Measured, Mix, MixPacket, Progress, Settings};
use crate::pps::{self, Attachment, PpsCase, PpsFigure, PpsMeasured, Traffic};
use crate::raw::RawObject;
use crate::report::{Bar, Record, ScenarioReport};
use crate::runstats;

/// The scenario's name.
pub const NAME: &str = "ddos_mark";

/// Blacklisted sources.
pub const BLACKLIST_LEN: u32 = 1000;

/// Packets of the ns mix (distinct sources), of which [`MIX_BLACKLISTED`] blacklisted.
const MIX_LEN: u32 = 10;
const MIX_BLACKLISTED: u32 = 1;

/// Sources of the pps traffic, in round robin: every tenth is blacklisted.
const PPS_SOURCES: u32 = 100;

/// Mix classes.
const CLEAN: usize = 0;
const BLACKLISTED: usize = 1;

const PASS: u32 = XdpAction::Pass as u32;

/// The traffic class of marked packets.
const MARK: u8 = 1;

/// Program slots of the VM.
const SET_PROG: u32 = 1;
const TOS_PROG: u32 = 2;
const KROUTE_PROG: u32 = 3;

/// Chain IDs: the hand-written chains, then the compiled ones.
const HIKE_MARK: u32 = 1;
const HIKE_MARK_FWD: u32 = 2;
const ECLAT_MARK: u32 = 3;
const ECLAT_MARK_FWD: u32 = 4;

/// The hand-written chains, in HIKe assembly: (chain ID, name, code). A blacklisted source
/// is marked; the chain then returns (the loader's default verdict, XDP_PASS) or, for pps,
/// routes the packet with `ip6_kroute` (terminal).
pub const HAND_CHAINS: [(u32, &str, &str); 2] = [
    (
        HIKE_MARK,
        "ddos_mark",
        "
    call prog ip6_src_in_set        ; 0: blacklisted
    if r0 != 0 goto out
    r1 = 1                          ; traffic class 1
    call prog ip6_set_tos
out:
    exit
",
    ),
    (
        HIKE_MARK_FWD,
        "ddos_mark_fwd",
        "
    call prog ip6_src_in_set        ; 0: blacklisted
    if r0 != 0 goto route
    r1 = 1                          ; traffic class 1
    call prog ip6_set_tos
route:
    call prog ip6_kroute            ; terminal: redirect, drop or pass
    exit
",
    ),
];

/// The same chains in eCLAT.
pub const ECLAT_SCRIPT: &str = include_str!("ddos_mark.eclat");

/// A blacklisted source: `2001:db8:bad::/64`, host `i + 1`.
pub fn blacklisted(i: u32) -> Ipv6Addr {
    Ipv6Addr::from(
        u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0xbad, 0, 0, 0, 0, 0)) + u128::from(i) + 1,
    )
}

/// A clean source: `2001:db8:c1ea::/64`, host `i + 1`.
pub fn clean(i: u32) -> Ipv6Addr {
    Ipv6Addr::from(
        u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0xc1ea, 0, 0, 0, 0, 0)) + u128::from(i) + 1,
    )
}

/// The blacklist as map entries: the address as on the wire -> `{flags: 1}`.
fn blacklist_entries() -> impl Iterator<Item = ([u8; 16], [u8; 4])> {
    (0..BLACKLIST_LEN).map(|i| (blacklisted(i).octets(), 1u32.to_ne_bytes()))
}

/// The ns mix: [`MIX_LEN`] packets from distinct sources to the router's destination, the
/// last [`MIX_BLACKLISTED`] of them blacklisted.
fn mix() -> Mix {
    let dst: Ipv6Addr = hike_netlab::DST_ADDR.parse().expect("a valid address");
    let packets = (0..MIX_LEN)
        .map(|i| {
            let bad = i >= MIX_LEN - MIX_BLACKLISTED;
            // Blacklisted sources from across the list, not only its first entry.
            let src = if bad {
                blacklisted((i * 337) % BLACKLIST_LEN)
            } else {
                clean(i)
            };
            MixPacket {
                bytes: measure::ipv6_udp(src, dst),
                class: if bad { BLACKLISTED } else { CLEAN },
                verdicts: &[PASS],
            }
        })
        .collect();
    Mix {
        packets,
        classes: vec!["clean", "blacklisted"],
    }
}

/// The pps traffic: [`PPS_SOURCES`] sources with the traffic class each must come out with.
fn pps_sources() -> Vec<(Ipv6Addr, u8)> {
    (0..PPS_SOURCES)
        .map(|i| {
            if i % 10 == 9 {
                (blacklisted((i * 97) % BLACKLIST_LEN), MARK)
            } else {
                (clean(i), 0)
            }
        })
        .collect()
}

/// The standard catalog plus the benchmark's package `bench` (`ip6_src_in_set`).
struct BenchCatalog {
    std: PackageCatalog,
    set: ProgramSig,
}

impl BenchCatalog {
    fn new() -> Result<BenchCatalog> {
        let std = PackageCatalog::standard().context("the standard catalog")?;
        // Built from a standard signature of the same shape (no parameter, returns to the
        // chain), so that fields the compiler may add keep their defaults.
        let mut set = std
            .program("meter", "ip6_dst_meter")
            .context("the standard catalog has no meter.ip6_dst_meter")?
            .clone();
        set.name = "ip6_src_in_set".into();
        set.home = "bench".into();
        set.params = Vec::new();
        set.terminal = false;
        // The script configures no map of it: the benchmark fills the blacklist.
        set.maps = Vec::new();
        Ok(BenchCatalog { std, set })
    }
}

impl Catalog for BenchCatalog {
    fn program_packages(&self) -> Vec<String> {
        let mut p = self.std.program_packages();
        p.push("bench".into());
        p.sort();
        p
    }

    fn program(&self, package: &str, name: &str) -> Option<&ProgramSig> {
        if package == "bench" {
            return (name == self.set.name).then_some(&self.set);
        }
        self.std.program(package, name)
    }

    fn loader_packages(&self) -> Vec<String> {
        self.std.loader_packages()
    }

    fn loader(&self, package: &str, name: &str) -> Option<&LoaderSig> {
        self.std.loader(package, name)
    }
}

/// Compiles [`ECLAT_SCRIPT`]; fails with the compiler's diagnostics.
pub fn compile_eclat() -> Result<CompiledScript> {
    let out = compile(ECLAT_SCRIPT, &BenchCatalog::new()?, &ChainTable::new());
    if out.has_errors() || out.script.is_none() {
        let file = eclat_syntax::diagnostic::SourceFile::new("ddos_mark.eclat", ECLAT_SCRIPT);
        bail!("the eCLAT script does not compile:\n{}", out.render(&file));
    }
    Ok(out.script.expect("checked"))
}

fn object(name: &str) -> Result<&'static [u8]> {
    hike_bpf::object(name).with_context(|| format!("`hike-bpf` has no object `{name}`"))
}

/// The HIKe side: one private VM with the three programs, the loader, and the hand-written and
/// compiled chains.
struct Hike {
    vm: Vm,
    loader: Loader,
    /// The compiled chains, disassembled, for the report.
    eclat_asm: String,
}

impl Hike {
    fn set_up() -> Result<Hike> {
        let vm = Vm::new().context("create a private vm")?;
        // Counters off, default budget: the VM's fast path, as a production loader runs it.
        vm.set_config(VmConfig {
            budget: 0,
            flags: 0,
        })?;
        let mut symbols = Symbols::new();
        for (id, name) in [
            (SET_PROG, "ip6_src_in_set"),
            (TOS_PROG, "ip6_set_tos"),
            (KROUTE_PROG, "ip6_kroute"),
        ] {
            let slot = ProgramId::new(id).expect("a valid slot");
            vm.load_program(object(name)?, name, slot)
                .with_context(|| format!("load `{name}`"))?;
            symbols.add_prog(id, name);
        }
        let set = vm.program_map(
            ProgramId::new(SET_PROG).expect("valid"),
            "ip6_src_in_set_map",
        )?;
        for (k, v) in blacklist_entries() {
            set.update(&k, &v, Default::default())?;
        }
        for (id, name, text) in HAND_CHAINS {
            let code = assemble(text)
                .with_context(|| format!("assemble `{name}`"))?
                .link(&symbols)
                .with_context(|| format!("link `{name}`"))?;
            vm.install_chain(ChainId::new(id).expect("valid"), &code, 0)
                .with_context(|| format!("install `{name}`"))?;
        }
        let script = compile_eclat()?;
        for (id, name) in [(ECLAT_MARK, "ddos_mark"), (ECLAT_MARK_FWD, "ddos_mark_fwd")] {
            let chain = script
                .chain(name)
                .with_context(|| format!("the eCLAT script has no chain `{name}`"))?;
            let code = chain
                .assembly
                .link(&symbols)
                .with_context(|| format!("link the compiled `{name}`"))?;
            vm.install_chain(ChainId::new(id).expect("valid"), &code, 0)
                .with_context(|| format!("install the compiled `{name}`"))?;
        }
        let loader = vm
            .load_loader("ddos_mark", object("ip6_sc")?, "ip6_sc")
            .context("load the ip6_sc loader")?;
        Ok(Hike {
            vm,
            loader,
            eclat_asm: script.disassemble(),
        })
    }

    /// Makes the loader run chain `chain` for every IPv6 packet (the map holds a
    /// `hike_chain_ref`, the chain ID + 1).
    fn select(&self, chain: u32) -> Result<()> {
        self.loader
            .map("ipv6_sc_map")?
            .update(
                &0u32.to_ne_bytes(),
                &hike_isa::abi::chain_ref(chain).to_ne_bytes(),
                Default::default(),
            )
            .context("write `ipv6_sc_map`")
    }

    /// Instructions of an installed chain.
    fn chain_len(&self, chain: u32) -> usize {
        self.vm
            .chain_code(ChainId::new(chain).expect("valid"))
            .map_or(0, |c| c.len())
    }
}

/// Checks that `out` is `input` with the traffic class set to `tc` and nothing else changed.
fn check_marked(what: &str, input: &[u8], out: &[u8], tc: u8) -> Result<()> {
    let mut want = input.to_vec();
    want[14] = (want[14] & 0xf0) | (tc >> 4);
    want[15] = (want[15] & 0x0f) | (tc << 4);
    if out != want.as_slice() {
        bail!(
            "{what}: the packet came out as {out:02x?}, expected traffic class {tc} and no other \
             change: {want:02x?}"
        );
    }
    Ok(())
}

/// Runs every packet of the mix once through each eBPF variant and checks the bytes.
fn check_ns_variants(raw: &RawObject, hike: &Hike, mix: &Mix, cpu: usize) -> Result<()> {
    for (i, p) in mix.packets.iter().enumerate() {
        let tc = if p.class == BLACKLISTED { MARK } else { 0 };
        ensure!(
            measure::ipv6_traffic_class(&p.bytes) == 0,
            "the mix starts unmarked"
        );
        let (t, out) = raw.test_run_out("raw_ddos_mark", &p.bytes, 1)?;
        measure::check_verdict(t.verdict, &[PASS], &format!("raw, packet {i}"))?;
        check_marked(&format!("raw, packet {i}"), &p.bytes, &out, tc)?;
        for (variant, chain) in [("hike", HIKE_MARK), ("eclat", ECLAT_MARK)] {
            hike.select(chain)?;
            let run = hike.loader.test_run(&p.bytes, 1)?;
            let what = format!("{variant}, packet {i}");
            measure::check_verdict(run.retval, &[PASS], &what)?;
            let st = hike.vm.vm_state(cpu)?;
            if st.fault != 0 {
                let f = Fault::from_code(st.fault).map_or("unknown", |f| f.name());
                bail!("{what}: the chain faulted ({f})");
            }
            check_marked(&what, &p.bytes, &run.data_out, tc)?;
        }
    }
    Ok(())
}

/// The ipset variant's configuration of the router: the set and the mangle rule.
fn set_up_ipset(lab: &RouterLab) -> Result<&'static str> {
    // The legacy backend when there is one: the classic netfilter path of the paper's time.
    let iptables = if hike_netlab::have("ip6tables-legacy") {
        "ip6tables-legacy"
    } else {
        "ip6tables"
    };
    let mut restore =
        String::from("create hkbl hash:ip family inet6 hashsize 1024 maxelem 65536\n");
    for i in 0..BLACKLIST_LEN {
        restore.push_str(&format!("add hkbl {}\n", blacklisted(i)));
    }
    lab.router
        .exec_with_input("ipset", &["restore"], &restore)
        .context("create the ipset")?;
    lab.router
        .exec(
            iptables,
            &[
                "-t",
                "mangle",
                "-A",
                "PREROUTING",
                "-m",
                "set",
                "--match-set",
                "hkbl",
                "src",
                "-j",
                "TOS",
                "--set-tos",
                "0x01/0xff",
            ],
        )
        .context("add the mangle rule")?;
    Ok(iptables)
}

/// Runs the scenario.
pub fn run(settings: &Settings) -> Result<ScenarioReport> {
    let progress = Progress::new(NAME);
    progress.update("setting up");
    let mix = mix();

    let raw = RawObject::load("raw_ddos_mark")?;
    for (k, v) in blacklist_entries() {
        raw.update("ip6_src_in_set_map", &k, &v)?;
    }
    let hike = Hike::set_up()?;
    check_ns_variants(&raw, &hike, &mix, settings.cpu)?;

    let mut cases = Vec::new();
    {
        let (raw, mix) = (&raw, &mix);
        cases.push(Case {
            variant: "raw",
            param: 0,
            run: Box::new(move |_, repeat| {
                mix.run(&"raw", repeat, |p, r| raw.test_run("raw_ddos_mark", p, r))
            }),
        });
    }
    for (variant, chain) in [("hike", HIKE_MARK), ("eclat", ECLAT_MARK)] {
        let (hike, mix) = (&hike, &mix);
        cases.push(Case {
            variant,
            param: 0,
            run: Box::new(move |_, repeat| {
                hike.select(chain)?;
                mix.run(&variant, repeat, |p, r| {
                    timed(r, || {
                        let out = hike.loader.test_run(p, r)?;
                        Ok((out.retval, out.duration_ns))
                    })
                })
            }),
        });
    }
    let measured = measure::measure(&mut cases, &mix.packets[0].bytes, settings, &progress)?;
    drop(cases);

    let (pps, pps_notes) = run_pps(settings, &raw, &hike, &progress)?;
    progress.finish("ns and pps done");
    Ok(report(settings, &mix, &measured, &pps, pps_notes, &hike))
}

/// The pps part; returns no figures (and a note why) when it cannot run here.
fn run_pps(
    settings: &Settings,
    raw: &RawObject,
    hike: &Hike,
    progress: &Progress,
) -> Result<(Vec<PpsMeasured>, Vec<String>)> {
    let mut notes = Vec::new();
    let Some(router_cpu) = pps::router_cpu(settings.cpu) else {
        notes.push(
            "**pps not measured**: the router and the generator need two CPUs, this machine \
             has one."
                .to_owned(),
        );
        return Ok((Vec::new(), notes));
    };
    progress.update("pps: building the router");
    let lab = RouterLab::new(router_cpu)?;
    let traffic = Traffic::new(&lab, &pps_sources())?;
    // The object's two programs share its blacklist, filled above.
    let raw_prog = raw.program_fd("raw_ddos_mark_fwd")?;
    let pass_prog = traffic.pass_program()?;
    let ipset = if hike_netlab::have("ipset")
        && (hike_netlab::have("ip6tables-legacy") || hike_netlab::have("ip6tables"))
    {
        Some(set_up_ipset(&lab)?)
    } else {
        notes.push(
            "**`ipset` not measured**: `ipset` or `ip6tables` is not installed (`make deps` \
             installs them)."
                .to_owned(),
        );
        None
    };

    let link = |fd: &OwnedFd, lab: &RouterLab| -> Result<Attachment<'static>> {
        let fd = fd.as_fd();
        let ifindex = lab.in_ifindex;
        Ok(Attachment::Link(
            lab.router
                .run_in(move || hike_netlab::xdp_link(fd, ifindex))?,
        ))
    };
    let attach_hike = |chain: u32, lab: &RouterLab| -> Result<Attachment<'_>> {
        hike.select(chain)?;
        let ifindex = lab.in_ifindex;
        lab.router
            .run_in(|| -> Result<()> { Ok(hike.loader.attach_xdp(ifindex, XdpMode::Native)?) })
            .context("attach the ip6_sc loader")?;
        Ok(Attachment::Loader {
            loader: &hike.loader,
            ifindex,
        })
    };
    let loader_id = Some(hike.loader.kernel_id());
    let mut cases: Vec<PpsCase<'_>> = vec![
        PpsCase {
            variant: "raw",
            attach: Box::new(|lab| link(&raw_prog, lab)),
            xdp_prog_id: Some(runstats::prog_id(raw_prog.as_fd())?),
        },
        PpsCase {
            variant: "hike",
            attach: Box::new(|lab| attach_hike(HIKE_MARK_FWD, lab)),
            xdp_prog_id: loader_id,
        },
        PpsCase {
            variant: "eclat",
            attach: Box::new(|lab| attach_hike(ECLAT_MARK_FWD, lab)),
            xdp_prog_id: loader_id,
        },
    ];
    if let Some(tool) = ipset {
        cases.push(PpsCase {
            variant: "ipset",
            attach: Box::new(|lab| link(&pass_prog, lab)),
            xdp_prog_id: Some(runstats::prog_id(pass_prog.as_fd())?),
        });
        notes.push(format!(
            "`ipset` ran with `{tool}` (mangle PREROUTING, `-m set --match-set … src -j TOS \
             --set-tos 0x01/0xff`) and an `ipset` `hash:ip` of {BLACKLIST_LEN} addresses; the \
             router's ingress had `bench_pass` (XDP_PASS) attached, which a veth needs to \
             accept frames its peer sends with XDP."
        ));
    }
    let measured = pps::measure(&lab, &traffic, &mut cases, settings, progress)?;
    notes.push(format!(
        "pps traffic source: {}. The pps figures are the **{}**.",
        traffic.source(),
        traffic.figure().describe()
    ));
    Ok((measured, notes))
}

/// Where the router's time per frame goes: its CPU time per delivered frame in the pps windows,
/// and the part of it in the XDP program (a window of its own with the kernel's run-time
/// statistics on). Records both per variant; returns the report's note, if there is anything
/// to say.
fn router_time_note(records: &mut Vec<Record>, pps: &[PpsMeasured]) -> Option<String> {
    let mut router = Vec::new();
    let mut xdp = Vec::new();
    for p in pps {
        let per_frame = p.router_ns_per_frame;
        records.push(Record::derived(
            NAME,
            p.variant,
            "router_ns_per_frame",
            "ns",
            per_frame,
        ));
        router.push(format!("{} {per_frame:.0}", p.variant));
        if let Some(ns) = p.xdp_ns_per_frame {
            records.push(Record::derived(
                NAME,
                p.variant,
                "xdp_ns_per_frame",
                "ns",
                ns,
            ));
            xdp.push(format!("{} {ns:.0}", p.variant));
        }
    }
    if router.is_empty() {
        return None;
    }
    let find = |v: &str| pps.iter().find(|p| p.variant == v);
    let extra = find("hike").zip(find("raw")).map(|(h, r)| {
        let total = h.router_ns_per_frame - r.router_ns_per_frame;
        let progs = h
            .xdp_ns_per_frame
            .zip(r.xdp_ns_per_frame)
            .map_or(String::new(), |(h, r)| {
                format!(", {:.0} ns of it in the XDP programs", h - r)
            });
        format!(
            " HIKe's extra per frame in the router: {total:.0} ns{progs} (compare HIKe's extra \
             cost per packet above, from `BPF_PROG_TEST_RUN`, for the marking chain: one \
             program call fewer than the router's)."
        )
    });
    Some(format!(
        "Where the router's time per frame goes. Router CPU per delivered frame (its receive \
         thread's busy time / frames delivered, median over the pps windows), ns: {}. Of it in \
         the XDP program with every program it tail-calls (one more window per variant with \
         the kernel's BPF run-time statistics on, `BPF_ENABLE_STATS`, which add two clock \
         reads to each run), ns: {}.{}",
        router.join(", "),
        if xdp.is_empty() {
            "not measured".to_owned()
        } else {
            xdp.join(", ")
        },
        extra.unwrap_or_default()
    ))
}

fn median(measured: &[Measured], variant: &str) -> Option<f64> {
    measured
        .iter()
        .find(|m| m.variant == variant)
        .map(|m| m.ns_per_packet.median)
}

fn report(
    settings: &Settings,
    mix: &Mix,
    measured: &[Measured],
    pps: &[PpsMeasured],
    pps_notes: Vec<String>,
    hike: &Hike,
) -> ScenarioReport {
    let mut records = Record::of_mixes(NAME, measured);
    for p in pps {
        records.push(Record::of(NAME, p.variant, None, "pps", "pps", &p.pps));
    }

    let mut bars = Vec::new();
    let mut ratio = |records: &mut Vec<Record>,
                     name: &str,
                     figure: &str,
                     paper: &str,
                     goal: &str,
                     value: Option<f64>,
                     met: fn(f64) -> bool| {
        if let Some(v) = value {
            records.push(Record::derived(NAME, name, "ratio", "ratio", v));
            bars.push(Bar {
                figure: figure.to_owned(),
                paper: paper.to_owned(),
                goal: goal.to_owned(),
                value: v,
                met: v.is_finite() && met(v),
            });
        }
    };
    let div = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
    let find = |v: &str| pps.iter().find(|p| p.variant == v);
    // pps ratios per round, so that the machine's speed (which changes within seconds here)
    // is the same for both sides (pps.rs).
    let per_round = |a: &str, b: &str| {
        find(a)
            .zip(find(b))
            .and_then(|(a, b)| pps::paired_ratio(a, b))
    };
    ratio(
        &mut records,
        "pps_hike_vs_raw",
        "`ddos_mark` pps hike / pps raw (per round)",
        "0.73",
        "≥ 0.95",
        per_round("hike", "raw").map(|r| r.0),
        |v| v >= 0.95,
    );
    ratio(
        &mut records,
        "ns_hike_vs_raw",
        "`ddos_mark` ns hike / ns raw (program cost alone)",
        "(not measured)",
        "≤ 1.35",
        div(median(measured, "hike"), median(measured, "raw")),
        |v| v <= 1.35,
    );
    ratio(
        &mut records,
        "ns_eclat_vs_hike",
        "`ddos_mark` eclat ns / hike ns",
        "(not measured)",
        "≤ 1.02",
        div(median(measured, "eclat"), median(measured, "hike")),
        |v| v <= 1.02,
    );
    ratio(
        &mut records,
        "pps_ipset_vs_hike",
        "`ddos_mark` ipset pps / hike pps (per round)",
        "0.53",
        "≤ 0.50",
        per_round("ipset", "hike").map(|r| r.0),
        |v| v <= 0.50,
    );

    let mut notes = Vec::new();
    let pairs = [
        ("hike_vs_raw", "hike / raw", "hike", "raw"),
        ("eclat_vs_raw", "eclat / raw", "eclat", "raw"),
        ("ipset_vs_hike", "ipset / hike", "ipset", "hike"),
    ];
    let figures: Vec<String> = pairs
        .iter()
        .filter_map(|(name, label, a, b)| {
            let (x, y) = (find(a)?, find(b)?);
            let (paired, rounds) = pps::paired_ratio(x, y)?;
            let of_medians = x.pps.median / y.pps.median;
            records.push(Record::derived(
                NAME,
                &format!("pps_{name}_paired"),
                "ratio",
                "ratio",
                paired,
            ));
            records.push(Record::derived(
                NAME,
                &format!("pps_{name}_medians"),
                "ratio",
                "ratio",
                of_medians,
            ));
            Some(format!(
                "{label} {paired:.3} over {rounds} of {} rounds (ratio of the medians \
                 {of_medians:.3})",
                x.rounds.len()
            ))
        })
        .collect();
    if !figures.is_empty() {
        notes.push(format!(
            "pps ratios are taken per round: the median over the rounds of the two variants' \
             ratio in the same round, leaving out a round whose two windows ran at different \
             machine speeds (their offered rates more than {:.0}% apart beyond the usual; this \
             machine's speed changes by a third within seconds, see \
             `crates/hike-bench/src/pps.rs`): {}.",
            pps::SAME_SPEED_TOLERANCE * 100.0,
            figures.join("; ")
        ));
    }
    if let (Some(h), Some(r)) = (median(measured, "hike"), median(measured, "raw")) {
        notes.push(format!(
            "HIKe's extra cost per packet (mix): {:.2} ns (hike {h:.2} − raw {r:.2}).",
            h - r
        ));
    }
    notes.extend(router_time_note(&mut records, pps));
    let offered: Vec<String> = pps
        .iter()
        .map(|p| {
            format!(
                "{} {:.0} kpps offered, {:.0}% delivered, router thread busy {:.0}% of the \
                 time ({} windows redone)",
                p.variant,
                p.offered_pps / 1e3,
                100.0 * p.pps.median / p.offered_pps.max(1.0),
                100.0 * p.router_busy,
                p.redone
            )
        })
        .collect();
    let figure = pps.first().map(|p| p.figure);
    if !offered.is_empty() && figure == Some(PpsFigure::DeliveredAtSaturation) {
        notes.push(format!(
            "Saturation (medians over the windows): {}. The router is saturated when the \
             generator offers more than it delivers and its receive thread runs all the time; \
             a window in which that thread ran less than {:.0}% of the time (preempted by other \
             work, or short of traffic) is redone, {} times at most.",
            offered.join("; "),
            pps::MIN_ROUTER_BUSY * 100.0,
            pps::MAX_REDOS
        ));
    }
    if !offered.is_empty() && figure == Some(PpsFigure::CpuEquivalent) {
        notes.push(format!(
            "Load (medians over the windows): {}. The figure is frames delivered per second of \
             the router's CPU time (delivered / busy share = 1e9 / router ns per frame); with \
             the router's thread busy all the time it is the delivered rate at saturation, \
             the paper's figure, and below that it stays comparable between the variants, \
             which all get the same offered load. How it relates to the paper's maximum \
             throughput: the AF_PACKET source hands the router socket buffers, which its \
             XDP path first copies into a page of its own (a NIC's driver, and live frames, \
             hand it a page directly), so every variant's time per frame carries that copy, \
             and a ratio of rates is closer to 1 than the same extra nanoseconds would give on \
             a NIC. HIKe's extra nanoseconds per frame (the router note above) are the figure \
             that carries over: divide by the raw router's time per frame on the target \
             machine for the ratio there.",
            offered.join("; ")
        ));
    }
    notes.extend(pps_notes);
    notes.push(format!(
        "Chains: hand-written `ddos_mark` {} instructions, `ddos_mark_fwd` {}; compiled by \
         eCLAT {} and {}. The compiled chains:\n\n```text\n{}```",
        hike.chain_len(HIKE_MARK),
        hike.chain_len(HIKE_MARK_FWD),
        hike.chain_len(ECLAT_MARK),
        hike.chain_len(ECLAT_MARK_FWD),
        hike.eclat_asm
    ));

    ScenarioReport {
        name: NAME,
        description: format!(
            "A router marks with IPv6 traffic class 1 the packets whose source is in a blacklist \
             of {BLACKLIST_LEN} addresses (paper, section 7.3.1); every packet is passed on. \
             `raw`: one hand-written XDP program (`bpf/bench/raw_ddos_mark.bpf.c`). `hike`: the \
             `basic.ip6_sc` loader and a chain in HIKe assembly calling `ip6_src_in_set()` \
             (`bpf/bench/ip6_src_in_set.bpf.c`, same map type and key as `raw`) then, for a \
             blacklisted source, `ip6_set_tos(1)`. `eclat`: the same chain written in eCLAT \
             (`crates/hike-bench/src/scenarios/ddos_mark.eclat`) and compiled by \
             `eclat-compiler`. `ipset`: ip6tables mangle + ipset `hash:ip` + `TOS` target, no \
             XDP. VM counters off.\n\n\
             **`ns_per_packet`** (program cost alone: mark, then XDP_PASS): \
             `BPF_PROG_TEST_RUN` of a mix of {} packets of 64 bytes from distinct sources, {} of \
             them blacklisted ({:.0}% blacklisted traffic); each packet is run {} times per \
             trial and the trial's figure is the average over the packets. Rows `clean` and \
             `blacklisted` are the averages of each kind of packet in the same trials.\n\n\
             **`pps`**: a router namespace forwarding between two veth links \
             (`crates/hike-netlab/src/router.rs`). A generator (`hike_netlab::Sender`: live \
             frames where the kernel allows them, else an AF_PACKET socket; the notes say which \
             ran, pinned to CPU {}) sends 64-byte frames from {} \
             sources in round robin, 10% of them blacklisted; the router's ingress runs the \
             variant's XDP program in a threaded NAPI context pinned to another CPU; the XDP \
             variants forward in XDP with the kernel's FIB (`raw_ddos_mark_fwd`; the chains \
             `ddos_mark_fwd` end with `ip6_kroute()`), `ipset` in the kernel. An XDP program on the sink's veth counts \
             and drops, and checks every frame's traffic class and hop limit. With live frames \
             the figure is the **delivered rate at saturation** (the generator offers more than \
             the router can forward; the surplus is dropped at the router's receive ring); with \
             the AF_PACKET source, the **CPU-equivalent rate**, frames delivered per second of \
             the router's CPU time (see the notes). Each over {:.1} s after a \
             warm-up of {:.1} s, in {} interleaved rounds. The sink's counting runs on the router's CPU too (its cost is \
             the same for every XDP variant; for `ipset` the sink also turns the kernel's skb \
             into an XDP frame, so `ipset` pays a little more there).",
            mix.packets.len(),
            mix.packets
                .iter()
                .filter(|p| p.class == BLACKLISTED)
                .count(),
            mix.share(BLACKLISTED) * 100.0,
            settings.repeat,
            settings.cpu,
            PPS_SOURCES,
            settings.pps_window.as_secs_f64(),
            settings.pps_window.as_secs_f64() / 3.0,
            settings.pps_trials,
        ),
        param_name: "traffic",
        param_labels: vec![
            (None, "mix (10% blacklisted)".to_owned()),
            (Some(CLEAN as u64), "clean".to_owned()),
            (Some(BLACKLISTED as u64), "blacklisted".to_owned()),
        ],
        records,
        metrics: vec!["ns_per_packet", "pps"],
        bars,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hand_chains_assemble_with_the_three_programs() {
        let mut symbols = Symbols::new();
        symbols.add_prog(SET_PROG, "ip6_src_in_set");
        symbols.add_prog(TOS_PROG, "ip6_set_tos");
        symbols.add_prog(KROUTE_PROG, "ip6_kroute");
        for (_, name, text) in HAND_CHAINS {
            let code = assemble(text).unwrap().link(&symbols).unwrap();
            assert!(code.len() <= 6, "{name}: {}", code.len());
        }
    }

    #[test]
    fn the_eclat_script_compiles_to_both_chains() {
        let script = compile_eclat().unwrap();
        for name in ["ddos_mark", "ddos_mark_fwd"] {
            let chain = script.chain(name).unwrap();
            let called: Vec<&str> = chain
                .assembly
                .relocations
                .iter()
                .map(|r| r.name.as_str())
                .collect();
            assert!(called.contains(&"ip6_src_in_set"), "{name}: {called:?}");
            assert!(called.contains(&"ip6_set_tos"), "{name}: {called:?}");
        }
    }

    #[test]
    fn the_traffic_is_ten_percent_blacklisted() {
        let m = mix();
        assert_eq!(m.share(BLACKLISTED), 0.1);
        let srcs = pps_sources();
        let bad = srcs.iter().filter(|(_, tc)| *tc == MARK).count();
        assert_eq!(bad * 10, srcs.len());
        // Blacklisted sources are in the list, clean ones are not.
        let list: Vec<Ipv6Addr> = (0..BLACKLIST_LEN).map(blacklisted).collect();
        for (a, tc) in srcs {
            assert_eq!(list.contains(&a), tc == MARK, "{a}");
        }
        assert_eq!(
            blacklisted(0),
            "2001:db8:bad::1".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(clean(9), "2001:db8:c1ea::a".parse::<Ipv6Addr>().unwrap());
    }

    #[test]
    fn a_marked_packet_differs_only_in_its_traffic_class() {
        let p = measure::ipv6_udp(clean(0), blacklisted(0));
        let mut m = p.clone();
        m[15] |= 0x10;
        check_marked("t", &p, &m, 1).unwrap();
        assert_eq!(measure::ipv6_traffic_class(&m), 1);
        assert!(check_marked("t", &p, &p, 1).is_err());
        assert!(check_marked("t", &p, &m, 0).is_err());
    }
}
