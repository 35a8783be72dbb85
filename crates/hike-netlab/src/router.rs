//! The router of the pps benchmarks: two network namespaces joined by two veth links.
//!
//! ```text
//!   edge namespace                      router namespace
//!   ┌──────────────────────┐            ┌───────────────────────────────┐
//!   │ gen  (bench_gen, run ├──veth──────┤ in   2001:db8:1::1/64  (XDP:   │
//!   │       with live      │            │      the variant's program)   │
//!   │       frames)        │            │                               │
//!   │ sink (bench_sink:    ├──veth──────┤ out  2001:db8:2::1/64         │
//!   │       counts, drops) │            │ 2001:db8:5::/64 via           │
//!   └──────────────────────┘            │   2001:db8:2::2 (permanent)   │
//!                                       └───────────────────────────────┘
//! ```
//!
//! [`RouterLab::traffic`] sets up the traffic: a [`Sender`] on the generator's veth and a
//! counting program on the sink's. The generator runs on one CPU and sends far more than the
//! router can forward; the router receives in a threaded NAPI context pinned to the other
//! CPU, so its CPU is saturated and the rate counted at the sink is its forwarding capacity
//! (the sink's own cost, an XDP program that counts and drops, runs on the router's CPU too,
//! in softirq after the router's redirect or transmit).
//!
//! Namespaces are `hkb<pid>x<n>-edge`/`-router`, interfaces `hb<tag>g/i/o/s` (see
//! [`LabTag`]); the router's interface names are unique across namespaces too, because its
//! receive thread is found by its name (`napi/<ifname>-<id>`).

use std::net::Ipv6Addr;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::netns::{mac_string, veth, LabTag, Netns, VethEnd};
use crate::packet::Ipv6Udp;
use crate::sender::{Sender, SourceChoice};
use crate::threads::{pin_tid, raise_priority, threads_named};
use crate::traffic::{xdp_link, TrafficObject, TrafficProgram, XdpLink};

/// MAC of the router's ingress interface: the generator's frames are addressed to it (the
/// kernel forwards only frames sent to its own address).
pub const ROUTER_IN_MAC: [u8; 6] = [0x02, 0x68, 0x6b, 0x00, 0x01, 0x01];
/// MAC of the router's egress interface.
pub const ROUTER_OUT_MAC: [u8; 6] = [0x02, 0x68, 0x6b, 0x00, 0x02, 0x01];
/// MAC of the sink, the next hop's link-layer address in the router's neighbour table.
pub const SINK_MAC: [u8; 6] = [0x02, 0x68, 0x6b, 0x00, 0x02, 0x02];
/// MAC of the generator's interface.
pub const GEN_MAC: [u8; 6] = [0x02, 0x68, 0x6b, 0x00, 0x01, 0x02];
/// The destination of the generated traffic: routed by the router towards the sink.
pub const DST_ADDR: &str = "2001:db8:5::1";

/// The two-namespace router; see the module docs.
#[derive(Debug)]
pub struct RouterLab {
    /// Generator and sink.
    pub edge: Netns,
    /// The router.
    pub router: Netns,
    /// The router's ingress interface (router).
    pub in_if: String,
    /// Index of the generator's interface in the edge namespace.
    pub gen_ifindex: u32,
    /// Index of `in_if` in the router namespace.
    pub in_ifindex: u32,
    /// The router's egress interface, towards the sink (router).
    pub out_if: String,
    /// Index of `out_if` in the router namespace.
    pub out_ifindex: u32,
    /// Index of the sink's interface in the edge namespace.
    pub sink_ifindex: u32,
    /// The CPU of the router's receive thread.
    pub router_cpu: usize,
}

impl RouterLab {
    /// Builds the namespaces, links, addresses, route and neighbour; the router's receive
    /// path will run on `router_cpu`.
    pub fn new(router_cpu: usize) -> Result<RouterLab> {
        let tag = LabTag::new("hkb", "hb");
        let edge = tag.netns("edge")?;
        let router = tag.netns("router")?;
        let (gen_if, in_if, out_if, sink_if) = (
            tag.ifname("g"),
            tag.ifname("i"),
            tag.ifname("o"),
            tag.ifname("s"),
        );
        // The edge side has no addresses and sends nothing of its own.
        edge.sysctl(&[
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ])?;
        router.sysctl(&[
            "net.ipv6.conf.all.forwarding=1",
            "net.ipv6.conf.default.accept_dad=0",
            "net.ipv6.conf.all.accept_dad=0",
        ])?;
        for (a, a_mac, b, b_mac) in [
            (&gen_if, GEN_MAC, &in_if, ROUTER_IN_MAC),
            (&sink_if, SINK_MAC, &out_if, ROUTER_OUT_MAC),
        ] {
            veth(
                VethEnd {
                    netns: &edge,
                    name: a,
                    mac: a_mac,
                },
                VethEnd {
                    netns: &router,
                    name: b,
                    mac: b_mac,
                },
            )?;
            edge.ip(&["link", "set", a, "up"])?;
            router.ip(&["link", "set", b, "up"])?;
        }
        router.ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8:1::1/64",
            "dev",
            &in_if,
            "nodad",
        ])?;
        router.ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8:2::1/64",
            "dev",
            &out_if,
            "nodad",
        ])?;
        router.ip(&[
            "-6",
            "neigh",
            "add",
            "2001:db8:2::2",
            "lladdr",
            &mac_string(SINK_MAC),
            "dev",
            &out_if,
            "nud",
            "permanent",
        ])?;
        router.ip(&[
            "-6",
            "route",
            "add",
            "2001:db8:5::/64",
            "via",
            "2001:db8:2::2",
            "dev",
            &out_if,
        ])?;
        let gen_ifindex = edge.ifindex(&gen_if)?;
        let sink_ifindex = edge.ifindex(&sink_if)?;
        let in_ifindex = router.ifindex(&in_if)?;
        let out_ifindex = router.ifindex(&out_if)?;
        Ok(RouterLab {
            edge,
            router,
            in_if,
            gen_ifindex,
            in_ifindex,
            out_if,
            out_ifindex,
            sink_ifindex,
            router_cpu,
        })
    }

    /// A frame of the generator to the router: from `src` to [`DST_ADDR`], addressed to the
    /// router's ingress ([`Ipv6Udp`]: a valid UDP checksum, hop limit 64).
    pub fn frame(src: Ipv6Addr, src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
        Ipv6Udp {
            dst_mac: ROUTER_IN_MAC,
            src_mac: GEN_MAC,
            src,
            dst: DST_ADDR.parse().expect("a valid address"),
            src_port,
            dst_port,
            payload,
        }
        .frame()
    }

    /// The traffic through the router: a [`Sender`] of `frames` (see [`RouterLab::frame`]) on
    /// the generator's veth, from the source this process uses, and the traffic program
    /// `receiver` on the sink's veth, which takes (counts, drops) what the router forwards.
    pub fn traffic(&self, frames: &[Vec<u8>], receiver: TrafficProgram) -> Result<RouterTraffic> {
        let source = SourceChoice::detect()?;
        let sender = Sender::new(&self.edge, self.gen_ifindex, frames, source.kind)?;
        let object = TrafficObject::load()?;
        let program = object.program_fd(receiver)?;
        let sink_ifindex = self.sink_ifindex;
        let link = self
            .edge
            .run_in(|| xdp_link(program.as_fd(), sink_ifindex))?;
        Ok(RouterTraffic {
            sender,
            source,
            receiver: object,
            _link: link,
        })
    }

    /// After an XDP program was attached to the router's ingress (which gives the veth its
    /// NAPI context): makes that context a kernel thread, pins it to the router's CPU and
    /// returns its thread IDs. Attaching again creates a new context, so call this after every
    /// attach.
    pub fn pin_router_rx(&self) -> Result<Vec<i32>> {
        let path = format!("/sys/class/net/{}/threaded", self.in_if);
        self.router.write_file(&path, "1")?;
        let comm = format!("napi/{}", self.in_if);
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let tids = threads_named(&comm);
            if !tids.is_empty() {
                for &tid in &tids {
                    pin_tid(tid, self.router_cpu)?;
                    raise_priority(tid)?;
                }
                return Ok(tids);
            }
            if Instant::now() >= deadline {
                return Err(Error::NoNapiThread { name: comm });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The traffic of a [`RouterLab`] ([`RouterLab::traffic`]); the receiver is detached and
/// unloaded on drop.
pub struct RouterTraffic {
    sender: Sender,
    source: SourceChoice,
    receiver: TrafficObject,
    _link: XdpLink,
}

impl RouterTraffic {
    /// The sender on the generator's veth ([`Sender::flat_out_during`],
    /// [`Sender::paced_during`]).
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// The source it sends from, and why.
    pub fn source(&self) -> &SourceChoice {
        &self.source
    }

    /// The traffic object whose program receives on the sink's veth: its counters
    /// ([`TrafficObject::sink_counts`], [`TrafficObject::counted`]), and its other programs.
    pub fn receiver(&self) -> &TrafficObject {
        &self.receiver
    }
}
