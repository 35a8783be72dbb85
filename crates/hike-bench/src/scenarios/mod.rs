//! The benchmark scenarios (the README's "Performance"), one module each.
//!
//! A scenario sets up what it compares, builds [`Case`](crate::measure::Case)s, has
//! [`measure`](crate::measure::measure) run them, and returns a
//! [`ScenarioReport`]: its records, its figures of the bar and
//! notes. To add one, write its module with a `run(&Settings) -> Result<ScenarioReport>` and
//! add it to [`ScenarioName`].

use anyhow::Result;

use crate::measure::Settings;
use crate::report::ScenarioReport;

pub mod control_plane;
pub mod ddos_listing2;
pub mod ddos_mark;
pub mod ddos_mark_tc;
pub mod dispatch;
pub mod fleet;
pub mod tailcall_loop;

/// A scenario, by its name in the JSON and on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum ScenarioName {
    /// N calls of a program that does nothing: raw tail calls against HIKe program calls.
    #[value(name = "tailcall_loop")]
    TailcallLoop,
    /// Marking the packets of blacklisted sources: raw, HIKe, eCLAT, ipset (ns and pps).
    #[value(name = "ddos_mark")]
    DdosMark,
    /// The marking task at the TC ingress hook: a raw sched_cls program against HIKe.
    #[value(name = "ddos_mark_tc")]
    DdosMarkTc,
    /// The paper's Listing 2 as a HIKe chain against one hand-written program.
    #[value(name = "ddos_listing2")]
    DdosListing2,
    /// Compiling, loading and replacing Listing 2 through eclatd; packets lost in a swap.
    #[value(name = "control_plane")]
    ControlPlane,
    /// 1, 2, 8 scripts on one XDP hook against as many raw programs chained by tail calls.
    #[value(name = "dispatch")]
    Dispatch,
    /// A fleet rollout over etcd to 1, 2, 4 and 8 eclatd nodes: apply to all committed.
    #[value(name = "fleet")]
    Fleet,
}

impl ScenarioName {
    /// Every scenario, in the order `make bench` runs them.
    pub const ALL: [ScenarioName; 7] = [
        ScenarioName::TailcallLoop,
        ScenarioName::DdosMark,
        ScenarioName::DdosMarkTc,
        ScenarioName::DdosListing2,
        ScenarioName::ControlPlane,
        ScenarioName::Dispatch,
        ScenarioName::Fleet,
    ];

    /// Its name, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioName::TailcallLoop => tailcall_loop::NAME,
            ScenarioName::DdosMark => ddos_mark::NAME,
            ScenarioName::DdosMarkTc => ddos_mark_tc::NAME,
            ScenarioName::DdosListing2 => ddos_listing2::NAME,
            ScenarioName::ControlPlane => control_plane::NAME,
            ScenarioName::Dispatch => dispatch::NAME,
            ScenarioName::Fleet => fleet::NAME,
        }
    }

    /// Runs the scenario.
    pub fn run(self, settings: &Settings) -> Result<ScenarioReport> {
        match self {
            ScenarioName::TailcallLoop => tailcall_loop::run(settings),
            ScenarioName::DdosMark => ddos_mark::run(settings),
            ScenarioName::DdosMarkTc => ddos_mark_tc::run(settings),
            ScenarioName::DdosListing2 => ddos_listing2::run(settings),
            ScenarioName::ControlPlane => control_plane::run(settings),
            ScenarioName::Dispatch => dispatch::run(settings),
            ScenarioName::Fleet => fleet::run(settings),
        }
    }
}
