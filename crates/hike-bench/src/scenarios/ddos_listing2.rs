//! `ddos_listing2`: the paper's Listing 2 (`ddos_tb_2_lev`: two token buckets, a blacklist, a
//! sampler and a monitor).
//!
//! - `hike`: the chain in HIKe assembly ([`CHAIN`], statement by statement as in the eCLAT
//!   script, the same as `crates/hike-stdlib-tests/tests/kernel_ddos_listing2.rs`) on the
//!   standard programs, behind the `basic.ip6_sc` loader, VM counters off.
//! - `raw`: `bpf/bench/raw_ddos_listing2.bpf.c`, one hand-written XDP program with maps of
//!   the same types, keys, values and semantics, making the same decisions.
//!
//! Before measuring, both run the same packet sequence from a clean state with tiny buckets
//! (the flood of the stdlib test: passed while the buckets allow it, then blacklisted and
//! dropped, one in 500 redirected) and must agree, packet by packet, with each other and with
//! the expected verdicts and counters. Then the state is reset and the buckets made large, so
//! that in-profile traffic stays in profile however fast the test runs go, and one (source,
//! destination) pair is blacklisted by the control plane.
//!
//! Metric `ns_per_packet` on a mix of 10 packets: 9 in-profile pairs (the common path:
//! blacklist lookup, destination bucket, monitor, pass) and 1 blacklisted pair (blacklist hit,
//! sampler, monitor, drop; every 500th redirected). After measuring, each side's monitor
//! counters must equal the packets it ran of each kind: the same decisions, at full speed.

use std::cell::Cell;
use std::net::Ipv6Addr;

use anyhow::{bail, ensure, Context, Result};
use hike_isa::abi::xdp::{DROP, PASS, REDIRECT};
use hike_isa::abi::{Fault, VmConfig};
use hike_isa::asm::assemble;
use hike_isa::Symbols;
use hike_runtime::{ChainId, Loader, MapRef, ProgramId, Vm};

use crate::measure::{self, timed, Case, Measured, Mix, MixPacket, Progress, Settings, Timed};
use crate::raw::RawObject;
use crate::report::{Bar, Record, ScenarioReport};

/// The scenario's name.
pub const NAME: &str = "ddos_listing2";

/// Listing 2 in HIKe assembly, statement by statement as in the eCLAT script.
pub const CHAIN: &str = include_str!("../../../../examples/ddos_tb_2_lev.hasm");

/// The standard programs of the chain, in slot order 1, 2, …
const PROGRAMS: [&str; 8] = [
    "hike_drop",
    "hike_pass",
    "ip6_hset_srcdst",
    "ip6_sd_tbmon",
    "monitor",
    "ip6_dst_tbmon",
    "ip6_sd_dec2zero",
    "l2_redirect",
];

const CHAIN_ID: u32 = 42;

/// Monitor events.
const EV_PASS: u64 = 0;
const EV_DROP: u64 = 1;
const EV_REDIRECT: u64 = 2;
/// One blacklisted packet in this many is redirected.
const SAMPLE_EVERY: u64 = 500;

/// Mix classes.
const IN_PROFILE: usize = 0;
const BLACKLISTED: usize = 1;

/// Packets of the mix, of which the last is blacklisted.
const MIX_LEN: u32 = 10;

/// Large buckets for the measurement (tokens per second, tokens): a packet every few tens of
/// nanoseconds refills far more than it takes, so in-profile traffic stays in profile.
const FAST_RATE: u64 = 1_000_000_000;
const FAST_BUCKET: u64 = 1_000_000;
/// How long a blacklist entry lasts during the measurement.
const LONG_TIMEOUT_NS: u64 = 3600 * 1_000_000_000;

fn addr(net: u16, host: u32) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(Ipv6Addr::new(0x2001, 0xdb8, net, 0, 0, 0, 0, 0)) + u128::from(host))
}

/// The destination of every packet.
fn dst() -> Ipv6Addr {
    addr(0xd57, 1)
}

/// The pair the control plane blacklists.
fn attacker() -> Ipv6Addr {
    addr(0xbad, 1)
}

/// A `{src, dst}` key as the maps store it.
fn sd_key(src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    [src.octets(), dst.octets()].concat()
}

fn mix() -> Mix {
    let packets = (0..MIX_LEN)
        .map(|i| {
            if i == MIX_LEN - 1 {
                MixPacket {
                    bytes: measure::ipv6_udp(attacker(), dst()),
                    class: BLACKLISTED,
                    verdicts: &[DROP, REDIRECT],
                }
            } else {
                MixPacket {
                    bytes: measure::ipv6_udp(addr(0xc1ea, i + 1), dst()),
                    class: IN_PROFILE,
                    verdicts: &[PASS],
                }
            }
        })
        .collect();
    Mix {
        packets,
        classes: vec!["in-profile", "blacklisted"],
    }
}

/// The maps of Listing 2, by role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum L2Map {
    Hset,
    HsetCfg,
    DstTb,
    DstTbCfg,
    SdTb,
    SdTbCfg,
    Dec2zero,
    Monitor,
}

impl L2Map {
    const STATE: [L2Map; 5] = [
        L2Map::Hset,
        L2Map::DstTb,
        L2Map::SdTb,
        L2Map::Dec2zero,
        L2Map::Monitor,
    ];
}

/// What the checks need of a variant.
trait Side {
    /// The variant's name.
    fn name(&self) -> &'static str;
    /// Runs `packet` `repeat` times, timed.
    fn run(&self, packet: &[u8], repeat: u32) -> Result<Timed>;
    /// Writes `value` at `key` of `map` (not a per-CPU map).
    fn write(&self, map: L2Map, key: &[u8], value: &[u8]) -> Result<()>;
    /// Deletes every key of `map`.
    fn clear(&self, map: L2Map) -> Result<()>;
    /// Every key of `map`.
    fn keys(&self, map: L2Map) -> Result<Vec<Vec<u8>>>;
    /// The monitor's count of `event`, over all CPUs.
    fn monitor(&self, event: u64) -> Result<u64>;
}

struct Raw {
    obj: RawObject,
}

impl Raw {
    fn map_name(map: L2Map) -> &'static str {
        match map {
            L2Map::Hset => "raw_l2_hset",
            L2Map::HsetCfg => "raw_l2_hset_cfg",
            L2Map::DstTb => "raw_l2_dst_tb",
            L2Map::DstTbCfg => "raw_l2_dst_tb_cfg",
            L2Map::SdTb => "raw_l2_sd_tb",
            L2Map::SdTbCfg => "raw_l2_sd_tb_cfg",
            L2Map::Dec2zero => "raw_l2_dec2zero",
            L2Map::Monitor => "raw_l2_monitor",
        }
    }
}

impl Side for Raw {
    fn name(&self) -> &'static str {
        "raw"
    }

    fn run(&self, packet: &[u8], repeat: u32) -> Result<Timed> {
        self.obj.test_run("raw_ddos_listing2", packet, repeat)
    }

    fn write(&self, map: L2Map, key: &[u8], value: &[u8]) -> Result<()> {
        self.obj.update(Raw::map_name(map), key, value)
    }

    fn clear(&self, map: L2Map) -> Result<()> {
        self.obj.clear(Raw::map_name(map))
    }

    fn keys(&self, map: L2Map) -> Result<Vec<Vec<u8>>> {
        self.obj.keys(Raw::map_name(map))
    }

    fn monitor(&self, event: u64) -> Result<u64> {
        Ok(self
            .obj
            .percpu_sum(Raw::map_name(L2Map::Monitor), &event.to_ne_bytes())?
            .map_or(0, |v| v[0]))
    }
}

struct Hike {
    vm: Vm,
    loader: Loader,
    cpu: usize,
}

impl Hike {
    fn set_up(cpu: usize) -> Result<Hike> {
        let vm = Vm::new().context("create a private vm")?;
        vm.set_config(VmConfig {
            budget: 0,
            flags: 0,
        })?;
        let mut symbols = Symbols::new();
        for (i, name) in PROGRAMS.iter().enumerate() {
            let id = i as u32 + 1;
            let bytes = hike_bpf::object(name)
                .with_context(|| format!("`hike-bpf` has no object `{name}`"))?;
            vm.load_program(bytes, name, ProgramId::new(id).expect("a valid slot"))
                .with_context(|| format!("load `{name}`"))?;
            symbols.add_prog(id, *name);
        }
        let code = assemble(CHAIN)
            .context("assemble Listing 2")?
            .link(&symbols)
            .context("link Listing 2")?;
        vm.install_chain(ChainId::new(CHAIN_ID).expect("valid"), &code, 0)?;
        let loader_elf = hike_bpf::object("ip6_sc").context("`hike-bpf` has no `ip6_sc`")?;
        let loader = vm.load_loader("listing2", loader_elf, "ip6_sc")?;
        // The map holds a `hike_chain_ref`: the chain ID + 1.
        loader.map("ipv6_sc_map")?.update(
            &0u32.to_ne_bytes(),
            &hike_isa::abi::chain_ref(CHAIN_ID).to_ne_bytes(),
            Default::default(),
        )?;
        Ok(Hike { vm, loader, cpu })
    }

    fn map(&self, map: L2Map) -> Result<MapRef> {
        let (prog, name) = match map {
            L2Map::Hset => ("ip6_hset_srcdst", "ip6_hset_srcdst_map"),
            L2Map::HsetCfg => ("ip6_hset_srcdst", "ip6_hset_srcdst_cfg"),
            L2Map::DstTb => ("ip6_dst_tbmon", "ip6_dst_tbmon_map"),
            L2Map::DstTbCfg => ("ip6_dst_tbmon", "ip6_dst_tbmon_cfg"),
            L2Map::SdTb => ("ip6_sd_tbmon", "ip6_sd_tbmon_map"),
            L2Map::SdTbCfg => ("ip6_sd_tbmon", "ip6_sd_tbmon_cfg"),
            L2Map::Dec2zero => ("ip6_sd_dec2zero", "ip6_sd_dec2zero_map"),
            L2Map::Monitor => ("monitor", "monitor_map"),
        };
        let slot = PROGRAMS
            .iter()
            .position(|p| *p == prog)
            .expect("a program of the chain") as u32
            + 1;
        Ok(self
            .vm
            .program_map(ProgramId::new(slot).expect("valid"), name)?)
    }
}

impl Side for Hike {
    fn name(&self) -> &'static str {
        "hike"
    }

    fn run(&self, packet: &[u8], repeat: u32) -> Result<Timed> {
        let t = timed(repeat, || {
            let out = self.loader.test_run(packet, repeat)?;
            Ok((out.retval, out.duration_ns))
        })?;
        let st = self.vm.vm_state(self.cpu)?;
        if st.fault != 0 {
            let f = Fault::from_code(st.fault).map_or("unknown", |f| f.name());
            bail!(
                "hike: Listing 2 faulted ({f}) at instruction {}",
                st.fault_pc
            );
        }
        Ok(t)
    }

    fn write(&self, map: L2Map, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(self.map(map)?.update(key, value, Default::default())?)
    }

    fn clear(&self, map: L2Map) -> Result<()> {
        let m = self.map(map)?;
        for k in m.keys() {
            m.delete(&k)?;
        }
        Ok(())
    }

    fn keys(&self, map: L2Map) -> Result<Vec<Vec<u8>>> {
        Ok(self.map(map)?.keys())
    }

    fn monitor(&self, event: u64) -> Result<u64> {
        Ok(self
            .map(L2Map::Monitor)?
            .lookup(&event.to_ne_bytes())?
            .map_or(0, |v| {
                u64::from_ne_bytes(v[..8].try_into().expect("8 bytes"))
            }))
    }
}

fn u64s(fields: &[u64]) -> Vec<u8> {
    fields.iter().flat_map(|f| f.to_ne_bytes()).collect()
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock of `bpf_ktime_get_ns()`.
fn monotonic_ns() -> Result<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        bail!("clock_gettime: {}", std::io::Error::last_os_error());
    }
    Ok(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Resets a side: empty state maps, buckets of `(rate, bucket)` for both meters, blacklist
/// timeout `timeout_ns` (0: the default).
fn reset(side: &dyn Side, rate: u64, bucket: u64, timeout_ns: u64) -> Result<()> {
    for m in L2Map::STATE {
        side.clear(m)?;
    }
    let zero = 0u32.to_ne_bytes();
    side.write(L2Map::DstTbCfg, &zero, &u64s(&[rate, bucket]))?;
    side.write(L2Map::SdTbCfg, &zero, &u64s(&[rate, bucket]))?;
    side.write(L2Map::HsetCfg, &zero, &u64s(&[timeout_ns]))?;
    Ok(())
}

/// The verdicts of `packets` run one by one.
fn verdicts(side: &dyn Side, packet: &[u8], n: usize) -> Result<Vec<u32>> {
    (0..n).map(|_| Ok(side.run(packet, 1)?.verdict)).collect()
}

/// The flood of the stdlib test, from a clean state with buckets of 2 tokens at 1 token/s:
/// both sides must make the expected decisions, packet by packet.
fn check_decisions(sides: &[&dyn Side]) -> Result<()> {
    let flood = measure::ipv6_udp(attacker(), dst());
    let other = measure::ipv6_udp(addr(0xc1ea, 1), dst());
    let mut expected = vec![PASS, PASS, PASS, PASS, DROP];
    for i in 1..=2 * SAMPLE_EVERY as usize {
        expected.push(if i % SAMPLE_EVERY as usize == 0 {
            REDIRECT
        } else {
            DROP
        });
    }
    for side in sides {
        reset(*side, 1, 2, 0)?;
        let got = verdicts(*side, &flood, expected.len())?;
        if got != expected {
            let at = got.iter().zip(&expected).position(|(a, b)| a != b);
            bail!(
                "{}: Listing 2 decides differently from the chain's contract at flood packet \
                 {at:?}: {:?}…",
                side.name(),
                &got[..got.len().min(12)]
            );
        }
        let counts = (
            side.monitor(EV_PASS)?,
            side.monitor(EV_DROP)?,
            side.monitor(EV_REDIRECT)?,
        );
        ensure!(
            counts == (4, 1 + 2 * (SAMPLE_EVERY - 1), 2),
            "{}: monitor counted {counts:?}",
            side.name()
        );
        ensure!(
            side.keys(L2Map::Hset)? == [sd_key(attacker(), dst())],
            "{}: the blacklist should hold the flooding pair only",
            side.name()
        );
        // Another source to the same destination: its own pair's bucket has tokens.
        ensure!(
            side.run(&other, 1)?.verdict == PASS,
            "{}: a new pair is not passed",
            side.name()
        );
    }
    Ok(())
}

/// Prepares a side for the measurement: large buckets, the attacker's pair blacklisted.
fn prepare(side: &dyn Side) -> Result<()> {
    reset(side, FAST_RATE, FAST_BUCKET, LONG_TIMEOUT_NS)?;
    side.write(
        L2Map::Hset,
        &sd_key(attacker(), dst()),
        &monotonic_ns()?.to_ne_bytes(),
    )
}

/// Checks that a side's monitor counted exactly the packets it ran.
fn check_counts(side: &dyn Side, in_profile: u64, blacklisted: u64) -> Result<()> {
    let got = (
        side.monitor(EV_PASS)?,
        side.monitor(EV_DROP)?,
        side.monitor(EV_REDIRECT)?,
    );
    let redirected = blacklisted / SAMPLE_EVERY;
    let want = (in_profile, blacklisted - redirected, redirected);
    ensure!(
        got == want,
        "{}: after the measurement the monitor counted (pass, drop, redirect) {got:?}, but it \
         ran {in_profile} in-profile and {blacklisted} blacklisted packets: expected {want:?}",
        side.name()
    );
    Ok(())
}

/// Runs the scenario.
pub fn run(settings: &Settings) -> Result<ScenarioReport> {
    let progress = Progress::new(NAME);
    progress.update("setting up");
    let raw = Raw {
        obj: RawObject::load("raw_ddos_listing2")?,
    };
    let hike = Hike::set_up(settings.cpu)?;
    let sides: [&dyn Side; 2] = [&raw, &hike];
    progress.update("checking decisions");
    check_decisions(&sides)?;
    for side in sides {
        prepare(side)?;
    }

    let mix = mix();
    // Packets each side ran, per class, to check its counters afterwards.
    let ran: [[Cell<u64>; 2]; 2] = Default::default();
    let mut cases: Vec<Case<'_>> = sides
        .iter()
        .zip(&ran)
        .map(|(side, ran)| {
            let (side, mix) = (*side, &mix);
            Case {
                variant: side.name(),
                param: 0,
                run: Box::new(move |_, repeat| {
                    let mut i = 0;
                    mix.run(&side.name(), repeat, |p, r| {
                        let class = mix.packets[i].class;
                        i += 1;
                        let t = side.run(p, r)?;
                        ran[class].set(ran[class].get() + u64::from(r.max(1)));
                        Ok(t)
                    })
                }),
            }
        })
        .collect();
    let measured = measure::measure(&mut cases, &mix.packets[0].bytes, settings, &progress)?;
    drop(cases);
    for (side, ran) in sides.iter().zip(&ran) {
        check_counts(*side, ran[IN_PROFILE].get(), ran[BLACKLISTED].get())?;
    }
    progress.finish("done");
    Ok(report(settings, &mix, &measured))
}

fn report(settings: &Settings, mix: &Mix, measured: &[Measured]) -> ScenarioReport {
    let mut records = Record::of_mixes(NAME, measured);
    let get = |v: &str| measured.iter().find(|m| m.variant == v);
    let mut bars = Vec::new();
    let mut notes = Vec::new();
    if let (Some(h), Some(r)) = (get("hike"), get("raw")) {
        let ratio = h.ns_per_packet.median / r.ns_per_packet.median;
        records.push(Record::derived(
            NAME,
            "ns_hike_vs_raw",
            "ratio",
            "ratio",
            ratio,
        ));
        bars.push(Bar {
            figure: "`ddos_listing2` hike ns / raw ns".to_owned(),
            paper: "(not measured)".to_owned(),
            goal: "≤ 1.5".to_owned(),
            value: ratio,
            met: ratio.is_finite() && ratio <= 1.5,
        });
        let per_class: Vec<String> = mix
            .classes
            .iter()
            .enumerate()
            .filter_map(|(c, name)| {
                let (h, r) = (h.classes.get(c)?.median, r.classes.get(c)?.median);
                Some(format!("{name} {:.2} ({h:.2} vs {r:.2} ns)", h / r))
            })
            .collect();
        notes.push(format!(
            "hike / raw by kind of packet: {}. HIKe's extra cost per packet (mix): {:.2} ns.",
            per_class.join(", "),
            h.ns_per_packet.median - r.ns_per_packet.median
        ));
    }
    ScenarioReport {
        name: NAME,
        description: format!(
            "The paper's Listing 2 (`ddos_tb_2_lev`: two token buckets, a blacklist, a sampler \
             and a monitor). `hike`: the chain in HIKe assembly on the standard programs behind \
             `basic.ip6_sc` (`crates/hike-bench/src/scenarios/ddos_listing2.rs`), VM counters \
             off. `raw`: one hand-written XDP program with maps of the same types and \
             semantics (`bpf/bench/raw_ddos_listing2.bpf.c`). Both first make the same \
             decisions on the flood of the stdlib test (tiny buckets: pass, then blacklist and \
             drop, one in 500 redirected); then, with large buckets and one pair blacklisted \
             by the control plane, `ns_per_packet` is measured on a mix of {} packets of 64 \
             bytes: {} in-profile pairs (blacklist miss, destination bucket, monitor, pass) \
             and {} blacklisted pair (blacklist hit, sampler, monitor, drop; one in 500 \
             redirected), each run {} times per trial; the figure is the average over the \
             packets. Afterwards each side's monitor counters must equal the packets it ran \
             of each kind.",
            mix.packets.len(),
            mix.packets.iter().filter(|p| p.class == IN_PROFILE).count(),
            mix.packets
                .iter()
                .filter(|p| p.class == BLACKLISTED)
                .count(),
            settings.repeat,
        ),
        param_name: "traffic",
        param_labels: vec![
            (None, "mix (10% blacklisted)".to_owned()),
            (Some(IN_PROFILE as u64), "in-profile".to_owned()),
            (Some(BLACKLISTED as u64), "blacklisted".to_owned()),
        ],
        records,
        metrics: vec!["ns_per_packet"],
        bars,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_assembles_with_its_programs() {
        let mut symbols = Symbols::new();
        for (i, p) in PROGRAMS.iter().enumerate() {
            symbols.add_prog(i as u32 + 1, *p);
        }
        let code = assemble(CHAIN).unwrap().link(&symbols).unwrap();
        assert_eq!(code.len(), 33);
    }

    #[test]
    fn the_mix_is_ten_percent_blacklisted() {
        let m = mix();
        assert_eq!(m.share(BLACKLISTED), 0.1);
        assert_eq!(
            m.packets[9].bytes[22..38],
            attacker().octets(),
            "the blacklisted packet comes from the attacker"
        );
    }
}
