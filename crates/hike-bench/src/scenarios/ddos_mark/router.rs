//! The pps part of `ddos_mark`: every variant attached in turn to the ingress of the router
//! of `hike_netlab::RouterLab`, measured by [`crate::pps`].

use std::os::fd::{AsFd, OwnedFd};

use anyhow::{Context, Result};
use hike_netlab::RouterLab;
use hike_runtime::XdpMode;

use super::ipset::set_up_ipset;
use super::setup::Hike;
use super::variants::{pps_sources, BLACKLIST_LEN, ECLAT_MARK_FWD, HIKE_MARK_FWD};
use crate::measure::{Progress, Settings};
use crate::pps::{self, Attachment, PpsCase, PpsMeasured, Traffic};
use crate::raw::RawObject;
use crate::runstats;

/// The pps part; returns no figures (and a note why) when it cannot run here.
pub fn run_pps(
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
            .run_in(|| -> Result<()> { Ok(hike.loader().attach_xdp(ifindex, XdpMode::Native)?) })
            .context("attach the ip6_sc loader")?;
        Ok(Attachment::Loader {
            loader: hike.loader(),
            ifindex,
        })
    };
    // The fused program: the compiled `ddos_mark_fwd`, its programs and the loader as one
    // program, which reads the same `ipv6_sc_map` as the loader.
    let attach_fused = |lab: &RouterLab| -> Result<Attachment<'_>> {
        hike.select(ECLAT_MARK_FWD)?;
        let ifindex = lab.in_ifindex;
        lab.router
            .run_in(|| -> Result<()> { Ok(hike.fused_fwd().attach_xdp(ifindex, XdpMode::Native)?) })
            .context("attach the fused program")?;
        Ok(Attachment::Loader {
            loader: hike.fused_fwd(),
            ifindex,
        })
    };
    let loader_id = Some(hike.loader().kernel_id());
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
        PpsCase {
            variant: "fused",
            attach: Box::new(attach_fused),
            xdp_prog_id: Some(hike.fused_fwd().kernel_id()),
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
