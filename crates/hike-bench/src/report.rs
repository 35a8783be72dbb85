//! The results: `latest.json` (the stable contract of PERFORMANCE.md), `latest.md` (a table
//! and the bar per scenario) and one PNG plot per scenario.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::measure::{Measured, Settings};

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

/// A figure of PERFORMANCE.md's bar, as measured.
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
    /// Every figure, in the order of the table.
    pub records: Vec<Record>,
    /// The metric of the table and the plot.
    pub main_metric: &'static str,
    /// The bar's figures this scenario measures.
    pub bars: Vec<Bar>,
    /// Further lines of Markdown after the bar (notes, derived figures).
    pub notes: Vec<String>,
}

impl ScenarioReport {
    /// The variants of the main metric, in order of first appearance.
    fn variants(&self) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        for r in self.main_records() {
            if !v.contains(&r.variant.as_str()) {
                v.push(&r.variant);
            }
        }
        v
    }

    fn main_records(&self) -> impl Iterator<Item = &Record> {
        self.records
            .iter()
            .filter(move |r| r.metric == self.main_metric)
    }

    /// The parameter values of the main metric, in order of first appearance.
    fn params(&self) -> Vec<Option<u64>> {
        let mut p = Vec::new();
        for r in self.main_records() {
            if !p.contains(&r.param) {
                p.push(r.param);
            }
        }
        p
    }

    fn find(&self, variant: &str, param: Option<u64>) -> Option<&Record> {
        self.main_records()
            .find(|r| r.variant == variant && r.param == param)
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
        "Run of {}: kernel {}, {}, measuring thread pinned to CPU {}. Each figure is the \
         median of {} trials (min and max beside it); a trial is one `BPF_PROG_TEST_RUN` of \
         {} repeats, timed by the thread's CPU time in the syscall (the kernel's own \
         duration is whole nanoseconds) and checked against the kernel's figure (see `crates/hike-bench/src/measure.rs`). Every run's \
         verdict was checked. Variants are interleaved trial by trial.\n",
        info.started, info.kernel, info.cpu_model, s.cpu, s.trials, s.repeat
    );
    if s.trials < 5 || s.repeat < 1_000_000 {
        let _ = writeln!(
            md,
            "**Below the minimum of PERFORMANCE.md** (5 trials of 1,000,000 repeats): a quick \
             run, not a result.\n"
        );
    }
}

fn fmt_ns(x: f64) -> String {
    format!("{x:.2}")
}

fn section(md: &mut String, s: &ScenarioReport, png: &str) {
    let _ = writeln!(md, "## `{}`\n\n{}\n", s.name, s.description);
    let variants = s.variants();
    let unit = s.main_records().next().map_or("", |r| r.unit.as_str());
    let mut head = format!("| {} |", s.param_name);
    let mut rule = String::from("|---:|");
    for v in &variants {
        let _ = write!(head, " {v} median ({unit}) | {v} min | {v} max |");
        rule.push_str("---:|---:|---:|");
    }
    let _ = writeln!(md, "{head}\n{rule}");
    for p in s.params() {
        let mut row = format!("| {} |", p.map_or("–".to_owned(), |p| p.to_string()));
        for v in &variants {
            match s.find(v, p) {
                Some(r) => {
                    let opt = |x: Option<f64>| x.map_or("–".to_owned(), fmt_ns);
                    let _ = write!(
                        row,
                        " {} | {} | {} |",
                        fmt_ns(r.value),
                        opt(r.min),
                        opt(r.max)
                    );
                }
                None => row.push_str(" – | – | – |"),
            }
        }
        let _ = writeln!(md, "{row}");
    }
    if !s.bars.is_empty() {
        let _ = writeln!(
            md,
            "\n| figure | paper | goal | measured | |\n|---|---|---|---:|---|"
        );
        for b in &s.bars {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.2} | {} |",
                b.figure,
                b.paper,
                b.goal,
                b.value,
                if b.met { "met" } else { "**not met**" }
            );
        }
    }
    for n in &s.notes {
        let _ = writeln!(md, "\n{n}");
    }
    let _ = writeln!(
        md,
        "\n![{}: {} by {}]({png})\n",
        s.name, s.main_metric, s.param_name
    );
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

/// Draws the main metric against the parameter, one line per variant, with the min–max range
/// of the trials as error bars.
fn plot(path: &Path, s: &ScenarioReport) -> Result<()> {
    register_font()?;
    let points: Vec<(String, Vec<&Record>)> = s
        .variants()
        .into_iter()
        .map(|v| {
            let rs = s
                .main_records()
                .filter(|r| r.variant == v && r.param.is_some())
                .collect();
            (v.to_owned(), rs)
        })
        .collect();
    let x_max = s.params().into_iter().flatten().max().unwrap_or(1).max(1);
    let y_max = s
        .main_records()
        .map(|r| r.max.unwrap_or(r.value))
        .fold(0.0f64, f64::max)
        * 1.1;
    let unit = s.main_records().next().map_or("", |r| r.unit.as_str());

    let draw = || -> std::result::Result<(), Box<dyn std::error::Error>> {
        let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{}: {} by {}", s.name, s.main_metric, s.param_name),
                (FONT, 22),
            )
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0u64..x_max, 0f64..y_max.max(1.0))?;
        chart
            .configure_mesh()
            .x_desc(s.param_name)
            .y_desc(format!("{} ({unit})", s.main_metric))
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
