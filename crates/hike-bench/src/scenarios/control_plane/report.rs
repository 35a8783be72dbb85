//! The report of `control_plane`: records, the bar and the text.

use hike_netlab::SourceChoice;

use super::load_swap::{LoadSwap, SWAPS_PER_TRIAL};
use super::losses::{Control, LossTrial, GEN_PERIOD, TRAFFIC_GAP, TRAFFIC_LEAD};
use super::script::SWAP_EDIT;
use super::NAME;
use crate::measure::{Settings, Summary};
use crate::report::{Bar, Record, ScenarioReport};

pub fn report(
    settings: &Settings,
    compile: &Summary,
    compile_insns: usize,
    compile_runs: u32,
    ls: &LoadSwap,
    losses: &[LossTrial],
    control: &Control,
) -> ScenarioReport {
    // The source the generator used (decided once per process).
    let source = SourceChoice::detect().map_or_else(|e| e.to_string(), |c| c.to_string());
    let lost: Vec<f64> = losses.iter().map(|t| t.tally.lost() as f64).collect();
    let lost = Summary::of(&lost).expect("at least one trial");
    let records = vec![
        Record::of(NAME, "eclat", None, "compile_ms", "ms", compile),
        Record::of(NAME, "eclatd", None, "load_ms", "ms", &ls.load),
        Record::of(NAME, "eclatd", None, "swap_ms", "ms", &ls.swap),
        Record::of(NAME, "eclatd", None, "fused_load_ms", "ms", &ls.fused_load),
        Record::of(NAME, "eclatd", None, "swap_lost_packets", "packets", &lost),
    ];
    let bars = vec![
        Bar {
            figure: "`compile_ms` for Listing 2 (median)".to_owned(),
            paper: "seconds (clang per chain)".to_owned(),
            goal: "≤ 10 ms".to_owned(),
            value: compile.median,
            met: compile.median <= 10.0,
        },
        Bar {
            figure: "`fused_load_ms` for Listing 2 (median)".to_owned(),
            paper: "(no fused mode)".to_owned(),
            goal: "≤ 2000 ms".to_owned(),
            value: ls.fused_load.median,
            met: ls.fused_load.median <= 2000.0,
        },
        Bar {
            figure: format!("`swap_lost_packets` (the worst of {} trials)", losses.len()),
            paper: "(no swap)".to_owned(),
            goal: "0".to_owned(),
            value: lost.max,
            met: losses.iter().all(|t| t.tally.lost() == 0),
        },
    ];
    let rows: Vec<String> = losses
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let k = &t.tally;
            format!(
                "| {} | {} | {:.2} | {:.0} | {:.0} | {} | {} | {} | {} | {:.1} |",
                i + 1,
                t.swaps,
                k.secs,
                k.rate_kpps(),
                k.max_gap.as_secs_f64() * 1e6,
                k.sent,
                k.counted,
                k.rx_dropped,
                k.lost(),
                t.swap_ms
            )
        })
        .collect();
    let c = &control.tally;
    let notes = vec![
        format!(
            "`swap_lost_packets` per trial (gap: the largest time between two frames sent, \
             i.e. how steady the traffic was; sent: frames the generator sent; counted: the \
             chain's monitor map, summed; rx dropped: the router veth's receive drops, e.g. a \
             full ring; lost = sent − counted):\n\n\
             | trial | swaps | seconds | kpps | gap µs | sent | counted | rx dropped | lost | \
             swap ms (median, under traffic) |\n\
             |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n{}",
            rows.join("\n")
        ),
        format!(
            "Control, to show that the count sees lost frames: under the same traffic the \
             script was unloaded and loaded again instead of replaced (absent for {:.0} ms; a \
             second copy on the router's other veth kept the programs and the monitor's map): \
             {} frames sent, {} counted, {} lost ({} of them in the veth's receive drops; the \
             rest reached the veth with no script on it: with live frames a veth without an XDP \
             program refuses its peer's XDP frames without counting them, with a socket they go \
             to the kernel's stack).",
            control.absent_ms,
            c.sent,
            c.counted,
            c.lost(),
            c.rx_dropped
        ),
        format!(
            "Listing 2 compiles to one chain of {compile_insns} instructions ({} once linked by \
             the daemon) calling {} programs; `Unload` took {:.1} ms (median).",
            ls.chain_insns, ls.programs, ls.unload_ms
        ),
    ];
    ScenarioReport {
        name: NAME,
        description: format!(
            "The paper's Listing 2 (`examples/ddos_tb_2_lev.eclat`, `-D DEVNAME=<the router's \
             ingress veth> -D COLLECTOR_IFINDEX=<its veth to the sink>`) on the router of \
             `crates/hike-netlab/src/router.rs`, loaded by an `eclatd` running in the router's \
             namespace and driven over its gRPC socket from the benchmark (tonic, a \
             current-thread runtime). Every figure is a median over {trials} trials, min and \
             max beside it.\n\n\
             - **`compile_ms`**: `-D` substitution, parsing, checking, code generation and \
             validation by `eclat-compiler` in the benchmark's process, against the standard \
             catalog (read once, as the daemon holds it); a trial is the median of \
             {compile_runs} compilations.\n\
             - **`load_ms`**: wall time of the `Load` call that loads the whole script into the \
             running daemon and attaches it (the programs are embedded objects, nothing is \
             built; the daemon compiles, links, loads the {programs} programs and the loader \
             through the verifier and attaches); unloaded after each trial, after a warm-up \
             load.\n\
             - **`swap_ms`**: wall time of the `Load` call that replaces the loaded script by \
             a version whose chain differs (`{}` → `{}`) and back; it includes, by design, one \
             RCU grace period that the daemon waits for before freeing the old version. A \
             trial is the median of {SWAPS_PER_TRIAL} replacements.\n\
             - **`swap_lost_packets`**: steady traffic from a generator namespace into the \
             veth where the script is attached: a paced `hike_netlab::Sender` with {} (one \
             CPU, nice {}) sends one frame every {:.0} µs ({:.0} kpps, a few percent of the \
             router's saturation; one blacklisted source, so the chain drops and samples). After {:.1} s the script is \
             replaced {} times, {:.1} s apart, then the traffic runs {:.1} s more. A trial's \
             figure is the frames sent minus the frames the chain counted (every path of the \
             chain calls `monitor` once; its map summed over keys and CPUs with `DumpMap`); the \
             veth's receive drops are read too, to tell a full receive ring from a loss in the \
             swap. The generator's namespace has IPv6 disabled, so no packet of the kernel's own \
             (neighbour discovery, MLD) is counted.",
            SWAP_EDIT.0,
            SWAP_EDIT.1,
            source,
            hike_netlab::TRAFFIC_NICE,
            GEN_PERIOD.as_secs_f64() * 1e6,
            1.0 / GEN_PERIOD.as_secs_f64() / 1e3,
            TRAFFIC_LEAD.as_secs_f64(),
            losses.first().map_or(0, |t| t.swaps),
            TRAFFIC_GAP.as_secs_f64(),
            TRAFFIC_LEAD.as_secs_f64(),
            trials = settings.trials,
            programs = ls.programs,
        ),
        param_name: "script",
        param_labels: vec![(None, "Listing 2".to_owned())],
        records,
        metrics: vec![
            "compile_ms",
            "load_ms",
            "swap_ms",
            "fused_load_ms",
            "swap_lost_packets",
        ],
        bars,
        notes,
    }
}
