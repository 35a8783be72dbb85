//! The scenarios of PERFORMANCE.md, one module each.
//!
//! A scenario sets up what it compares, builds [`Case`](crate::measure::Case)s, has
//! [`measure`](crate::measure::measure) run them, and returns a
//! [`ScenarioReport`](crate::report::ScenarioReport): its records, its figures of the bar and
//! notes. To add one (`ddos_mark`, `ddos_listing2`, `control_plane`), write its module with a
//! `run(&Settings) -> Result<ScenarioReport>` and add it to [`ScenarioName`].

use anyhow::Result;

use crate::measure::Settings;
use crate::report::ScenarioReport;

pub mod tailcall_loop;

/// A scenario, by its name in the JSON and on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum ScenarioName {
    /// N calls of a program that does nothing: raw tail calls against HIKe program calls.
    #[value(name = "tailcall_loop")]
    TailcallLoop,
}

impl ScenarioName {
    /// Every scenario, in the order `make bench` runs them.
    pub const ALL: [ScenarioName; 1] = [ScenarioName::TailcallLoop];

    /// Runs the scenario.
    pub fn run(self, settings: &Settings) -> Result<ScenarioReport> {
        match self {
            ScenarioName::TailcallLoop => tailcall_loop::run(settings),
        }
    }
}
