//! The report of `ddos_listing2`: records, the bar and the text.

use super::variants::{BLACKLISTED, IN_PROFILE};
use super::NAME;
use crate::measure::{Measured, Mix, Settings};
use crate::report::{Bar, Record, ScenarioReport};

pub fn report(settings: &Settings, mix: &Mix, measured: &[Measured]) -> ScenarioReport {
    let mut records = Record::of_mixes(NAME, measured);
    let get = |v: &str| measured.iter().find(|m| m.variant == v);
    let mut bars = Vec::new();
    let mut notes = Vec::new();
    // Per round (measure.rs: Measured::per_round_ratio), the ratio of the medians in the notes.
    if let (Some(f), Some(r)) = (get("fused"), get("raw")) {
        let ratio = f.per_round_ratio(r).unwrap_or(f64::NAN);
        notes.push(format!(
            "ns ratios are the median of the ratios of the same round; the ratios of the \
             medians: fused / raw {:.3}{}.",
            f.ns_per_packet.median / r.ns_per_packet.median,
            get("hike").map_or(String::new(), |h| format!(
                ", hike / raw {:.3}",
                h.ns_per_packet.median / r.ns_per_packet.median
            ))
        ));
        records.push(Record::derived(
            NAME,
            "ns_fused_vs_raw",
            "ratio",
            "ratio",
            ratio,
        ));
        bars.push(Bar {
            figure: "`ddos_listing2` fused ns / raw ns (per round)".to_owned(),
            paper: "(no fused mode)".to_owned(),
            goal: "≤ 1.10".to_owned(),
            value: ratio,
            met: ratio.is_finite() && ratio <= 1.10,
        });
    }
    if let (Some(h), Some(r)) = (get("hike"), get("raw")) {
        let ratio = h.per_round_ratio(r).unwrap_or(f64::NAN);
        records.push(Record::derived(
            NAME,
            "ns_hike_vs_raw",
            "ratio",
            "ratio",
            ratio,
        ));
        bars.push(Bar {
            figure: "`ddos_listing2` hike ns / raw ns (per round)".to_owned(),
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
