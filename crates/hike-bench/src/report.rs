//! The results: `latest.json` (a stable contract: one record per figure), `latest.md` (a table
//! and the bar per scenario) and one PNG plot per scenario.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::measure::{Measured, Settings, Summary};

/// One figure of `latest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The scenario (`tailcall_loop`, …).
    pub scenario: String,
    /// The variant (`raw`, `hike`, …).
    pub variant: String,
    /// The scenario's parameter (N for `tailcall_loop`), if it has one.
    pub param: Option<u64>,
    /// What is measured (`ns_per_packet`, …).
    pub metric: String,
    /// The median over the trials (or a figure derived from medians).
    pub value: f64,
    /// The unit of `value`, `min` and `max`.
    pub unit: String,
    /// The smallest trial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The largest trial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// How many trials `value` is the median of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trials: Option<u32>,
}

impl Record {
    /// The record of `metric` with the statistics `s` of its trials.
    pub fn of(
        scenario: &str,
        variant: &str,
        param: Option<u64>,
        metric: &str,
        unit: &str,
        s: &Summary,
    ) -> Record {
        Record {
            scenario: scenario.to_owned(),
            variant: variant.to_owned(),
            param,
            metric: metric.to_owned(),
            value: s.median,
            unit: unit.to_owned(),
            min: Some(s.min),
            max: Some(s.max),
            trials: Some(s.trials),
        }
    }

    /// The `ns_per_packet` records of packet-mix cases: the mix's figure (param none) and
    /// each traffic class's (param = class index).
    pub fn of_mixes(scenario: &str, measured: &[Measured]) -> Vec<Record> {
        let mut records = Vec::new();
        for m in measured {
            records.push(Record::of(
                scenario,
                m.variant,
                None,
                "ns_per_packet",
                "ns",
                &m.ns_per_packet,
            ));
            for (class, s) in m.classes.iter().enumerate() {
                let class = Some(class as u64);
                records.push(Record::of(
                    scenario,
                    m.variant,
                    class,
                    "ns_per_packet",
                    "ns",
                    s,
                ));
            }
        }
        records
    }

    /// A figure derived from medians (a ratio, say): no min, max or trials.
    pub fn derived(scenario: &str, variant: &str, metric: &str, unit: &str, value: f64) -> Record {
        Record {
            scenario: scenario.to_owned(),
            variant: variant.to_owned(),
            param: None,
            metric: metric.to_owned(),
            value,
            unit: unit.to_owned(),
            min: None,
            max: None,
            trials: None,
        }
    }

    /// The `ns_per_packet` record of one measured case.
    pub fn ns_per_packet(scenario: &str, m: &Measured) -> Record {
        Record {
            scenario: scenario.to_owned(),
            variant: m.variant.to_owned(),
            param: Some(m.param),
            metric: "ns_per_packet".to_owned(),
            value: m.ns_per_packet.median,
            unit: "ns".to_owned(),
            min: Some(m.ns_per_packet.min),
            max: Some(m.ns_per_packet.max),
            trials: Some(m.ns_per_packet.trials),
        }
    }
}

/// A figure of the bar (the goals of the README's "Performance" table, which each scenario
/// states with its figures), as measured.
#[derive(Clone, Debug)]
pub struct Bar {
    /// What the figure is, as the bar's table words it.
    pub figure: String,
    /// The paper's value, as text (`≈ 2`).
    pub paper: String,
    /// The goal, as text (`≤ 1.5`).
    pub goal: String,
    /// The measured value.
    pub value: f64,
    /// Whether `value` meets the goal.
    pub met: bool,
}

/// What a scenario hands to the report.
#[derive(Clone, Debug)]
pub struct ScenarioReport {
    /// The scenario's name, as in the JSON.
    pub name: &'static str,
    /// One paragraph of Markdown: what was measured and how.
    pub description: String,
    /// The name of the parameter in tables and on the plot's x axis (`N`).
    pub param_name: &'static str,
    /// When the parameter is a category rather than a number: the label of each value, one
    /// table row each in this order (`None` is a record without a parameter). Empty: the
    /// parameter is a number (N), plotted on the x axis.
    pub param_labels: Vec<(Option<u64>, String)>,
    /// Every figure, in the order of the table.
    pub records: Vec<Record>,
    /// The metrics that get a table and a plot panel, in order.
    pub metrics: Vec<&'static str>,
    /// The bar's figures this scenario measures.
    pub bars: Vec<Bar>,
    /// Further lines of Markdown after the bar (notes, derived figures).
    pub notes: Vec<String>,
}

impl ScenarioReport {
    /// The variants of `metric`, in order of first appearance.
    fn variants<'a>(&'a self, metric: &'a str) -> Vec<&'a str> {
        let mut v: Vec<&str> = Vec::new();
        for r in self.metric_records(metric) {
            if !v.contains(&r.variant.as_str()) {
                v.push(&r.variant);
            }
        }
        v
    }

    fn metric_records<'a>(&'a self, metric: &'a str) -> impl Iterator<Item = &'a Record> {
        self.records.iter().filter(move |r| r.metric == metric)
    }

    /// The parameter values of `metric`: in the order of `param_labels` if there are labels,
    /// else in order of first appearance.
    fn params(&self, metric: &str) -> Vec<Option<u64>> {
        let mut p = Vec::new();
        for r in self.metric_records(metric) {
            if !p.contains(&r.param) {
                p.push(r.param);
            }
        }
        if self.param_labels.is_empty() {
            return p;
        }
        self.param_labels
            .iter()
            .map(|(v, _)| *v)
            .filter(|v| p.contains(v))
            .collect()
    }

    fn param_label(&self, p: Option<u64>) -> String {
        self.param_labels
            .iter()
            .find(|(v, _)| *v == p)
            .map(|(_, l)| l.clone())
            .unwrap_or_else(|| p.map_or("–".to_owned(), |p| p.to_string()))
    }

    fn find<'a>(
        &'a self,
        metric: &'a str,
        variant: &str,
        param: Option<u64>,
    ) -> Option<&'a Record> {
        self.metric_records(metric)
            .find(|r| r.variant == variant && r.param == param)
    }
}

/// How a unit is shown: `pps` as kpps, everything else as is.
fn display_unit(unit: &str) -> (&str, f64) {
    match unit {
        "pps" => ("kpps", 1e-3),
        u => (u, 1.0),
    }
}

/// Facts about the run, for the report's header.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// The settings of the run.
    pub settings: Settings,
    /// `uname -r`.
    pub kernel: String,
    /// The CPU's model name.
    pub cpu_model: String,
    /// When the run started, as `YYYY-MM-DD HH:MM UTC`.
    pub started: String,
    /// Online CPUs.
    pub cpus: usize,
    /// `/proc/loadavg`'s first three fields at the start.
    pub load_average: String,
}

/// Writes `latest.json`, `latest.md` and a plot per scenario into `dir`.
pub fn write(dir: &Path, info: &RunInfo, scenarios: &[ScenarioReport]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("create `{}`", dir.display()))?;
    let records: Vec<&Record> = scenarios.iter().flat_map(|s| &s.records).collect();
    let json = serde_json::to_string_pretty(&records).context("serialize the records")?;
    write_file(&dir.join("latest.json"), &(json + "\n"))?;

    let mut md = String::new();
    header(&mut md, info);
    for s in scenarios {
        let png = format!("{}.png", s.name);
        plot(&dir.join(&png), s)?;
        section(&mut md, s, &png);
    }
    write_file(&dir.join("latest.md"), &md)
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("write `{}`", path.display()))
}

fn header(md: &mut String, info: &RunInfo) {
    let s = &info.settings;
    // Writing to a String cannot fail.
    let _ = writeln!(md, "# Benchmark results\n");
    let _ = writeln!(
        md,
        "Run of {}: kernel {}, {} ({} CPUs online), load average {} at the start (the \
         machine is shared: other work runs beside the benchmark). The thread that runs \
         `BPF_PROG_TEST_RUN` is pinned to CPU {cpu}; the pps threads (generator, router) run at \
         nice {nice}.\n",
        info.started,
        info.kernel,
        info.cpu_model,
        info.cpus,
        info.load_average,
        cpu = s.cpu,
        nice = hike_netlab::TRAFFIC_NICE,
    );
    let _ = writeln!(
        md,
        "How to read it:\n\n\
         - Every figure is the **median of its trials** ({} for `ns_per_packet`, {} for \
         `pps`), min and max beside it; variants are interleaved trial by trial (the order \
         reversed every other round), so that a drift of the machine affects them alike.\n\
         - **`ns_per_packet`**: a trial is one `BPF_PROG_TEST_RUN` of {} repeats of a packet (of \
         each packet, for a mix of packets: the trial's figure is then the average over the \
         packets, i.e. the cost of an average packet of that traffic), timed by the thread's \
         CPU time in the syscall (the kernel's own figure is whole nanoseconds) and checked \
         against the kernel's figure; a disturbed run is redone (see \
         `crates/hike-bench/src/measure.rs`). It includes `BPF_PROG_TEST_RUN`'s own cost per \
         packet, the same for every variant.\n\
         - **`pps`**: a trial counts for {:.1} s the frames a router delivers, from a traffic \
         source ({}) on another CPU: at saturation with live frames, per second of the router's \
         CPU time with the AF_PACKET socket (see `ddos_mark` and \
         `crates/hike-bench/src/pps.rs`). Being wall time, it is exposed to \
         the speed of the whole machine, which here changes by a third within seconds (other \
         guests): hence more trials, and pps ratios taken per round (the median of the \
         per-round ratios, leaving out rounds whose two windows ran at different speeds, as the \
         generator's offered rate shows); the ratio of the medians is shown beside them.\n\
         - Nothing is timed blindly: every run's verdict is checked, packets are checked byte \
         by byte or counted at the sink before and while they are measured, and a wrong result \
         stops the benchmark.\n\
         - The bar's ratios are computed from the same run: `ns_per_packet` ratios from the \
         medians, pps ratios per round as above.\n",
        s.trials,
        s.pps_trials,
        s.repeat,
        s.pps_window.as_secs_f64(),
        hike_netlab::SourceChoice::detect().map_or_else(|e| e.to_string(), |c| c.to_string()),
    );
    if s.trials < 5 || s.pps_trials < 5 || s.repeat < 1_000_000 {
        let _ = writeln!(
            md,
            "**Below the minimum of the method** (5 trials of 1,000,000 repeats): a quick \
             run, not a result.\n"
        );
    }
}

fn fmt_value(x: f64, scale: f64) -> String {
    if scale == 1.0 {
        fmt_plain(x)
    } else {
        format!("{:.1}", x * scale)
    }
}

/// Two decimals; two significant digits below 0.1 (a compilation in milliseconds); a bare
/// `0` for zero (packets lost).
fn fmt_plain(x: f64) -> String {
    if x == 0.0 {
        "0".to_owned()
    } else if x.abs() < 0.1 {
        let digits = 1 + (-x.abs().log10()).ceil() as usize;
        format!("{x:.digits$}")
    } else {
        format!("{x:.2}")
    }
}

/// A figure of the bar: three decimals from 0.1 up, so that a ratio just under its goal does
/// not print as the goal itself (0.945 is not "0.95, not met"); as [`fmt_plain`] below.
fn fmt_bar(x: f64) -> String {
    if x.abs() >= 0.1 {
        format!("{x:.3}")
    } else {
        fmt_plain(x)
    }
}

fn section(md: &mut String, s: &ScenarioReport, png: &str) {
    let _ = writeln!(md, "## `{}`\n\n{}\n", s.name, s.description);
    for metric in &s.metrics {
        let variants = s.variants(metric);
        if variants.is_empty() {
            continue;
        }
        let unit = s
            .metric_records(metric)
            .next()
            .map_or("", |r| r.unit.as_str());
        let (shown, scale) = display_unit(unit);
        let _ = writeln!(md, "`{metric}` ({shown}):\n");
        let mut head = format!("| {} |", s.param_name);
        let mut rule = String::from(if s.param_labels.is_empty() {
            "|---:|"
        } else {
            "|---|"
        });
        for v in &variants {
            let _ = write!(head, " {v} median | {v} min | {v} max |");
            rule.push_str("---:|---:|---:|");
        }
        let _ = writeln!(md, "{head}\n{rule}");
        for p in s.params(metric) {
            let mut row = format!("| {} |", s.param_label(p));
            for v in &variants {
                match s.find(metric, v, p) {
                    Some(r) => {
                        let opt =
                            |x: Option<f64>| x.map_or("–".to_owned(), |x| fmt_value(x, scale));
                        let _ = write!(
                            row,
                            " {} | {} | {} |",
                            fmt_value(r.value, scale),
                            opt(r.min),
                            opt(r.max)
                        );
                    }
                    None => row.push_str(" – | – | – |"),
                }
            }
            let _ = writeln!(md, "{row}");
        }
        let _ = writeln!(md);
    }
    if !s.bars.is_empty() {
        let _ = writeln!(
            md,
            "| figure | paper | goal | measured | |\n|---|---|---|---:|---|"
        );
        for b in &s.bars {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                b.figure,
                b.paper,
                b.goal,
                fmt_bar(b.value),
                if b.met { "met" } else { "**not met**" }
            );
        }
    }
    for n in &s.notes {
        let _ = writeln!(md, "\n{n}");
    }
    let _ = writeln!(md, "\n![{}: {}]({png})\n", s.name, s.metrics.join(", "));
}

/// A y-axis label: whole numbers, unless the axis is short (milliseconds of a compilation).
fn axis_label(y: f64, y_max: f64) -> String {
    if y_max < 2.0 {
        format!("{y:.2}")
    } else if y_max < 20.0 {
        format!("{y:.1}")
    } else {
        format!("{y:.0}")
    }
}

/// The family name the plots use; registered once with the embedded DejaVu Sans.
const FONT: &str = "sans-serif";

fn register_font() -> Result<()> {
    static ONCE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *ONCE.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    anyhow::ensure!(ok, "the embedded DejaVu Sans font does not parse");
    Ok(())
}

const COLORS: [RGBColor; 4] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
];

/// Draws the scenario: the first metric against a numeric parameter (a line per variant), or
/// a panel of bars per metric when the parameter is a category; min–max of the trials as
/// error bars.
fn plot(path: &Path, s: &ScenarioReport) -> Result<()> {
    register_font()?;
    if s.param_labels.is_empty() {
        plot_lines(path, s)
    } else {
        plot_bars(path, s)
    }
}

fn plot_lines(path: &Path, s: &ScenarioReport) -> Result<()> {
    let metric = s.metrics.first().copied().unwrap_or("");
    let points: Vec<(String, Vec<&Record>)> = s
        .variants(metric)
        .into_iter()
        .map(|v| {
            let rs = s
                .metric_records(metric)
                .filter(|r| r.variant == v && r.param.is_some())
                .collect();
            (v.to_owned(), rs)
        })
        .collect();
    let x_max = s
        .params(metric)
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(1)
        .max(1);
    let y_max = s
        .metric_records(metric)
        .map(|r| r.max.unwrap_or(r.value))
        .fold(0.0f64, f64::max)
        * 1.1;
    let unit = s
        .metric_records(metric)
        .next()
        .map_or("", |r| r.unit.as_str());

    let draw = || -> std::result::Result<(), Box<dyn std::error::Error>> {
        let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{}: {} by {}", s.name, metric, s.param_name),
                (FONT, 22),
            )
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0u64..x_max, 0f64..y_max.max(1.0))?;
        chart
            .configure_mesh()
            .x_desc(s.param_name)
            .y_desc(format!("{metric} ({unit})"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style((FONT, 14))
            .draw()?;
        for (i, (variant, rs)) in points.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let line: Vec<(u64, f64)> =
                rs.iter().map(|r| (r.param.unwrap_or(0), r.value)).collect();
            chart
                .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))?
                .label(variant.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart.draw_series(line.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
            chart.draw_series(rs.iter().filter_map(|r| {
                let (lo, hi) = (r.min?, r.max?);
                Some(PathElement::new(
                    vec![(r.param.unwrap_or(0), lo), (r.param.unwrap_or(0), hi)],
                    color.stroke_width(1),
                ))
            }))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, 16))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| anyhow::anyhow!("draw `{}`: {e}", path.display()))
}

/// One panel per metric: a group of bars per variant, one bar per parameter value (category),
/// the median with its min–max as an error bar and its value written above.
fn plot_bars(path: &Path, s: &ScenarioReport) -> Result<()> {
    let metrics: Vec<&str> = s
        .metrics
        .iter()
        .copied()
        .filter(|m| s.metric_records(m).next().is_some())
        .collect();
    let panels = metrics.len().max(1);
    let draw = || -> std::result::Result<(), Box<dyn std::error::Error>> {
        let root = BitMapBackend::new(path, (900, 420 * panels as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        for (area, metric) in root.split_evenly((panels, 1)).iter().zip(&metrics) {
            let variants = s.variants(metric);
            let params = s.params(metric);
            let unit = s
                .metric_records(metric)
                .next()
                .map_or("", |r| r.unit.as_str());
            let (shown, scale) = display_unit(unit);
            let y_max = s
                .metric_records(metric)
                .map(|r| r.max.unwrap_or(r.value) * scale)
                .fold(0.0f64, f64::max)
                * if params.len() > 1 { 1.45 } else { 1.2 };
            // All zeros (no packet lost): an axis of 0..10 rather than an empty one.
            let y_top = if y_max > 0.0 { y_max } else { 10.0 };
            let n = variants.len();
            let names: Vec<String> = variants.iter().map(|v| (*v).to_owned()).collect();
            let mut chart = ChartBuilder::on(area)
                .caption(format!("{}: {metric}", s.name), (FONT, 20))
                .margin(14)
                .x_label_area_size(36)
                .y_label_area_size(70)
                .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..y_top)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(n.max(2))
                .x_label_formatter(&|x| {
                    let i = x.round();
                    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                        names[i as usize].clone()
                    } else {
                        String::new()
                    }
                })
                .y_desc(format!("{metric} ({shown})"))
                .y_label_formatter(&|y| axis_label(*y, y_top))
                .light_line_style(RGBColor(0xee, 0xee, 0xee))
                .label_style((FONT, 14))
                .draw()?;
            let width = 0.8 / params.len().max(1) as f64;
            for (j, p) in params.iter().enumerate() {
                let color = COLORS[j % COLORS.len()];
                let bars: Vec<(f64, &Record)> = variants
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| {
                        let x = i as f64 - 0.4 + width * j as f64;
                        s.find(metric, v, *p).map(|r| (x, r))
                    })
                    .collect();
                chart
                    .draw_series(bars.iter().map(|(x, r)| {
                        Rectangle::new(
                            [
                                (*x + width * 0.05, 0.0),
                                (*x + width * 0.95, r.value * scale),
                            ],
                            color.mix(0.8).filled(),
                        )
                    }))?
                    .label(s.param_label(*p))
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled())
                    });
                chart.draw_series(bars.iter().filter_map(|(x, r)| {
                    let (lo, hi) = (r.min?, r.max?);
                    let c = *x + width / 2.0;
                    Some(PathElement::new(
                        vec![(c, lo * scale), (c, hi * scale)],
                        BLACK.stroke_width(1),
                    ))
                }))?;
                chart.draw_series(bars.iter().map(|(x, r)| {
                    let top = r.max.unwrap_or(r.value).max(r.value) * scale;
                    EmptyElement::at((*x + width * 0.1, top))
                        + Text::new(fmt_value(r.value, scale), (0, -16), (FONT, 13))
                }))?;
            }
            if params.len() > 1 {
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperRight)
                    .label_font((FONT, 14))
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()?;
            }
        }
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| anyhow::anyhow!("draw `{}`: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::{fmt_bar, fmt_plain};

    #[test]
    fn a_bar_ratio_just_under_its_goal_does_not_print_as_the_goal() {
        assert_eq!(fmt_bar(0.9451), "0.945");
        assert_eq!(fmt_bar(1.3049), "1.305");
        assert_eq!(fmt_bar(0.043), "0.043");
        assert_eq!(fmt_bar(0.0), "0");
    }

    #[test]
    fn plain_figures_have_two_decimals_or_two_significant_digits() {
        assert_eq!(fmt_plain(63.191), "63.19");
        assert_eq!(fmt_plain(0.0431), "0.043");
        assert_eq!(fmt_plain(0.0), "0");
    }
}
