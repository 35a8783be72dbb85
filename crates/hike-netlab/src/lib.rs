//! Network labs for the benchmarks, the demo and end-to-end tests: network namespaces joined
//! by veth links, real traffic, and XDP programs that count what arrives.
//!
//! Traffic comes from a [`Sender`]: XDP programs run with `BPF_F_TEST_XDP_LIVE_FRAMES` where
//! the kernel allows it, else an AF_PACKET socket ([`SourceChoice::detect`] probes once per
//! process; `HIKE_NETLAB_SOURCE` forces one). A receiving veth must have an XDP program (a
//! counter, a sink, a router's program) to take frames sent with live frames.
//!
//! Everything a lab creates is uniquely named after the process ([`LabTag`]) and removed by a
//! guard's `Drop` (namespaces, and with them their veths and attached programs; XDP links;
//! loaded objects), also when the caller fails or panics; [`signals`] turns Ctrl-C into an
//! [`Error::Interrupted`] that the caller's loops return, so the guards run then too.
//!
//! It is not HIKe: nothing here knows of the VM, chains or eCLAT. The one exception is
//! [`Eclatd`], which starts the `eclatd` binary in a lab's namespace (for the demo and the
//! benchmarks), knowing it only by its command line. The traffic programs
//! (`bpf/netlab/netlab_traffic.bpf.c`, compiled by `hike-bpf`) are loaded with libbpf-rs directly.
//! Needs root (namespaces, BPF).
//!
//! ```no_run
//! use std::os::fd::AsFd;
//! use hike_netlab::{veth, xdp_link, Ipv6Udp, LabTag, Sender, SourceChoice, TrafficObject, TrafficProgram, VethEnd};
//!
//! # fn main() -> hike_netlab::Result<()> {
//! let tag = LabTag::new("hkx", "hx");
//! let (a, b) = (tag.netns("a")?, tag.netns("b")?);
//! let (a_if, b_if) = (tag.ifname("a"), tag.ifname("b"));
//! veth(
//!     VethEnd { netns: &a, name: &a_if, mac: [2, 0, 0, 0, 0, 1] },
//!     VethEnd { netns: &b, name: &b_if, mac: [2, 0, 0, 0, 0, 2] },
//! )?;
//! a.ip(&["link", "set", &a_if, "up"])?;
//! b.ip(&["link", "set", &b_if, "up"])?;
//! // The receiving end counts (and must have an XDP program to accept XDP frames).
//! let counter = TrafficObject::load()?;
//! let count = counter.program_fd(TrafficProgram::Count)?;
//! let b_ifindex = b.ifindex(&b_if)?;
//! let _link = b.run_in(|| xdp_link(count.as_fd(), b_ifindex))?;
//! // The sending end: 1000 copies of one frame, from the source this kernel allows.
//! let frame = Ipv6Udp {
//!     dst_mac: [2, 0, 0, 0, 0, 2],
//!     src_mac: [2, 0, 0, 0, 0, 1],
//!     src: "2001:db8::1".parse().unwrap(),
//!     dst: "2001:db8::2".parse().unwrap(),
//!     src_port: 1,
//!     dst_port: 2,
//!     payload: b"hi",
//! }
//! .frame();
//! let source = SourceChoice::detect()?;
//! let a_ifindex = a.ifindex(&a_if)?;
//! let sender = Sender::new(&a, a_ifindex, &[frame], source.kind)?;
//! a.run_in(|| sender.send(1000))?;
//! assert_eq!(sender.sent()?, 1000);
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod cmd;
mod eclatd;
mod error;
mod live;
mod netns;
mod packet;
mod packet_socket;
mod router;
mod sender;
pub mod signals;
mod threads;
mod traffic;

pub use cmd::{have, run, run_with_input};
pub use eclatd::{Eclatd, EclatdOptions, ScratchDir, BPFFS_HIKE};
pub use error::{Error, Result};
pub use live::{live_frames, live_frames_allowed};
pub use netns::{mac_string, veth, LabTag, LinkStats, Netns, VethEnd, MAX_IFNAME, NETNS_DIR};
pub use packet::vlan_tagged;
pub use packet::{
    arp_request, ethernet, internet_checksum, tcp, udp, udp6_checksum, Ipv4Header, Ipv6Header,
    Ipv6Udp, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETH_LEN, HOP_LIMIT, IPPROTO_TCP,
    IPPROTO_UDP, IPV4_LEN, IPV6_LEN, TCP_LEN, TPID_8021AD, TPID_8021Q, UDP_LEN,
};
pub use packet_socket::{PacketSocket, Sent, BATCH};
pub use router::{
    RouterLab, RouterTraffic, DST_ADDR, GEN_MAC, ROUTER_IN_MAC, ROUTER_OUT_MAC, SINK_MAC,
};
pub use sender::{PacedStats, Sender, SourceChoice, SourceKind, SOURCE_ENV};
pub use threads::{
    online_cpus, pin_tid, precise_sleeps, raise_priority, thread_runtime_ns, threads_named,
    TRAFFIC_NICE,
};
pub use traffic::{
    sum_u64_fields, xdp_link, Counted, SinkCounts, TrafficObject, TrafficProgram, XdpLink,
    FRAME_LEN, MAX_FRAMES,
};
