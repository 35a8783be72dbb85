//! The report of `ddos_mark`: records, the bar's ratios, where the router's time goes, and the
//! text.

use super::setup::Hike;
use super::variants::{
    BLACKLISTED, BLACKLIST_LEN, CLEAN, ECLAT_MARK, ECLAT_MARK_FWD, HIKE_MARK, HIKE_MARK_FWD,
    PPS_SOURCES,
};
use super::NAME;
use crate::measure::{Measured, Mix, Settings};
use crate::pps::{self, PpsFigure, PpsMeasured};
use crate::raw::RawObject;
use crate::report::{Bar, Record, ScenarioReport};
use crate::runstats::{self, ProgSize};

/// The size after verification of the programs measured for `ns_per_packet`: the raw
/// program, the `ip6_sc` loader alone (the programs it tail-calls are separate) and the fused
/// program (loader, chains and program bodies).
pub fn program_sizes(
    raw: &RawObject,
    hike: &Hike,
) -> anyhow::Result<Vec<(&'static str, ProgSize)>> {
    use std::os::fd::AsFd;
    let raw_id = runstats::prog_id(raw.program_fd("raw_ddos_mark")?.as_fd())?;
    Ok(vec![
        ("raw", ProgSize::of_id(raw_id)?),
        ("hike loader", ProgSize::of_id(hike.loader().kernel_id())?),
        ("fused", ProgSize::of_id(hike.fused().kernel_id())?),
    ])
}

/// The note on the sizes of [`program_sizes`].
fn sizes_note(sizes: &[(&str, ProgSize)]) -> Option<String> {
    if sizes.is_empty() {
        return None;
    }
    let each: Vec<String> = sizes
        .iter()
        .map(|(what, s)| format!("{what} {} ({} bytes)", s.xlated_insns, s.jited_bytes))
        .collect();
    Some(format!(
        "Programs after verification, eBPF instructions (JIT bytes): {}. A packet runs one \
         path through them.",
        each.join(", ")
    ))
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

/// `a / b`, ns per packet, per round ([`Measured::per_round_ratio`]).
fn ns_per_round(measured: &[Measured], a: &str, b: &str) -> Option<f64> {
    let find = |v: &str| measured.iter().find(|m| m.variant == v);
    find(a)?.per_round_ratio(find(b)?)
}

pub fn report(
    settings: &Settings,
    mix: &Mix,
    measured: &[Measured],
    pps: &[PpsMeasured],
    pps_notes: Vec<String>,
    hike: &Hike,
    sizes: &[(&str, ProgSize)],
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
        "`ddos_mark` ns hike / ns raw (program cost alone, per round)",
        "(not measured)",
        "≤ 1.35",
        ns_per_round(measured, "hike", "raw"),
        |v| v <= 1.35,
    );
    ratio(
        &mut records,
        "ns_eclat_vs_hike",
        "`ddos_mark` eclat ns / hike ns (per round)",
        "(not measured)",
        "≤ 1.02",
        ns_per_round(measured, "eclat", "hike"),
        |v| v <= 1.02,
    );
    ratio(
        &mut records,
        "ns_fused_vs_raw",
        "`ddos_mark` ns fused / ns raw (eCLAT chains fused, per round)",
        "(no fused mode)",
        "≤ 1.05",
        ns_per_round(measured, "fused", "raw"),
        |v| v <= 1.05,
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
        ("fused_vs_raw", "fused / raw", "fused", "raw"),
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
    let of_medians: Vec<String> = [("hike", "raw"), ("eclat", "hike"), ("fused", "raw")]
        .iter()
        .filter_map(|(a, b)| {
            let v = median(measured, a)? / median(measured, b)?;
            Some(format!("{a} / {b} {v:.3}"))
        })
        .collect();
    notes.push(format!(
        "ns ratios are taken per round too: the median over the rounds of the two variants' \
         ratio in the same round (each round runs every variant once, a second or two apart). \
         The ratios of the medians: {}.",
        of_medians.join(", ")
    ));
    if let (Some(h), Some(r)) = (median(measured, "hike"), median(measured, "raw")) {
        notes.push(format!(
            "HIKe's extra cost per packet (mix): {:.2} ns (hike {h:.2} − raw {r:.2}).",
            h - r
        ));
    }
    notes.extend(router_time_note(&mut records, pps));
    notes.extend(sizes_note(sizes));
    let offered: Vec<String> = pps
        .iter()
        .map(|p| {
            format!(
                "{} {:.0} kpps offered, {:.0}% delivered, router thread busy {:.0}% of the \
                 time ({} windows redone)",
                p.variant,
                p.offered_pps / 1e3,
                100.0 * p.delivered_pps / p.offered_pps.max(1.0),
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
             `eclat-compiler`. `fused`: the eCLAT chains, the programs' bodies and the \
             loader compiled into one program (`hike-fused`, `eclat load --mode fused`), on \
             the same maps. `ipset`: ip6tables mangle + ipset `hash:ip` + `TOS` target, no \
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
