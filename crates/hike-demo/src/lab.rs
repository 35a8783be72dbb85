//! The demo's network: four namespaces, three veth links, all meeting at the router.
//!
//! ```text
//!   attacker ──── veth ───┐
//!   2001:db8:2::66        │  router (eclatd): the script on each ingress link, under two names;
//!                         ├─ the service [2001:db8:100::1]:5000 (a UDP socket of the demo)
//!   client ────── veth ───┤
//!   2001:db8:1::10        │
//!                         └── veth ──── collector (XDP: counts the sampled frames)
//! ```
//!
//! The attacker and the client each reach the router through a veth of their own, so the
//! script is loaded once per ingress link (`ddos-atk`, `ddos-cli`); the daemon shares the
//! programs, and with them their maps, between scripts, so the blacklist, the buckets and
//! the monitor are common to both links. Namespaces and interfaces carry the pid (see
//! `hike_netlab::LabTag`) and are deleted on drop.
//!
//! Only the router speaks IPv6 (its service is a local address); the other namespaces have
//! IPv6 disabled, so the kernel sends nothing of its own (neighbour discovery, MLD) that the
//! script would count, and the router's link to the collector has IPv6 disabled so that
//! only redirected frames reach the collector.

use std::net::Ipv6Addr;

use anyhow::{Context, Result};
use hike_netlab::{veth, LabTag, Netns, VethEnd};

/// MAC addresses: each sender's, and the router's on that sender's link.
pub const ATTACKER_MAC: [u8; 6] = [0x02, 0x68, 0x64, 0x02, 0x00, 0x02];
/// The router's MAC on the attacker's link.
pub const ROUTER_ATK_MAC: [u8; 6] = [0x02, 0x68, 0x64, 0x02, 0x00, 0x01];
/// The client's MAC.
pub const CLIENT_MAC: [u8; 6] = [0x02, 0x68, 0x64, 0x01, 0x00, 0x02];
/// The router's MAC on the client's link.
pub const ROUTER_CLI_MAC: [u8; 6] = [0x02, 0x68, 0x64, 0x01, 0x00, 0x01];
const COLLECTOR_MAC: [u8; 6] = [0x02, 0x68, 0x64, 0x03, 0x00, 0x02];
const ROUTER_COL_MAC: [u8; 6] = [0x02, 0x68, 0x64, 0x03, 0x00, 0x01];

/// The attacker's source address.
pub const ATTACKER_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x66);
/// The legitimate client's source address.
pub const CLIENT_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);
/// The protected service: a local address of the router.
pub const SERVICE_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 1);
/// The service's UDP port.
pub const SERVICE_PORT: u16 = 5000;

/// One namespace that sends or receives through one veth to the router.
#[derive(Debug)]
pub struct Host {
    /// Its namespace.
    pub netns: Netns,
    /// Its end of the link.
    pub dev: String,
    /// That end's index, in `netns`.
    pub ifindex: u32,
    /// The router's end of the link.
    pub router_dev: String,
    /// The router's end's index, in the router's namespace.
    pub router_ifindex: u32,
}

/// The whole network; see the module docs. Dropping it deletes everything.
#[derive(Debug)]
pub struct DemoLab {
    /// The router, where eclatd runs and the service listens.
    pub router: Netns,
    /// The attacker and its link.
    pub attacker: Host,
    /// The legitimate client and its link.
    pub client: Host,
    /// The collector of sampled frames and its link.
    pub collector: Host,
}

impl DemoLab {
    /// Builds the namespaces and links, addresses and sysctls.
    pub fn new() -> Result<DemoLab> {
        let tag = LabTag::new("hkd", "hd");
        let router = tag.netns("router")?;
        // Router: a plain host (no forwarding), no duplicate address detection (the service
        // address is usable at once) and no router solicitations.
        router.sysctl(&[
            "net.ipv6.conf.all.forwarding=0",
            "net.ipv6.conf.all.accept_dad=0",
            "net.ipv6.conf.default.accept_dad=0",
            "net.ipv6.conf.default.router_solicitations=0",
        ])?;
        router.ip(&["-6", "addr", "add", "2001:db8:100::1/128", "dev", "lo"])?;
        let host = |role: &str, suffix: &str, mac, router_mac| -> Result<Host> {
            let netns = tag.netns(role)?;
            netns.sysctl(&[
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ])?;
            let (dev, router_dev) = (tag.ifname(suffix), tag.ifname(&format!("r{suffix}")));
            veth(
                VethEnd {
                    netns: &netns,
                    name: &dev,
                    mac,
                },
                VethEnd {
                    netns: &router,
                    name: &router_dev,
                    mac: router_mac,
                },
            )
            .with_context(|| format!("link the {role} to the router"))?;
            netns.ip(&["link", "set", &dev, "up"])?;
            Ok(Host {
                ifindex: netns.ifindex(&dev)?,
                router_ifindex: router.ifindex(&router_dev)?,
                netns,
                dev,
                router_dev,
            })
        };
        let attacker = host("attacker", "atk", ATTACKER_MAC, ROUTER_ATK_MAC)?;
        let client = host("client", "cli", CLIENT_MAC, ROUTER_CLI_MAC)?;
        let collector = host("collector", "col", COLLECTOR_MAC, ROUTER_COL_MAC)?;
        // The router's link to the collector carries only what the script redirects there.
        router.sysctl(&[&format!(
            "net.ipv6.conf.{}.disable_ipv6=1",
            collector.router_dev
        )])?;
        for h in [&attacker, &client, &collector] {
            router.ip(&["link", "set", &h.router_dev, "up"])?;
        }
        Ok(DemoLab {
            router,
            attacker,
            client,
            collector,
        })
    }
}
