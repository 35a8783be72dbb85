//! Network labs for the benchmarks and the demo: network namespaces joined by veth links,
//! real traffic made by XDP programs run with `BPF_F_TEST_XDP_LIVE_FRAMES`, and XDP programs
//! that count what arrives.
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
//! use hike_netlab::{live_frames, veth, xdp_link, Ipv6Udp, LabTag, TrafficObject, TrafficProgram, VethEnd};
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
//! // The sending end: 1000 copies of one frame.
//! let sender = TrafficObject::load()?;
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
//! sender.set_frame(&frame)?;
//! let send = sender.program_fd(TrafficProgram::Send)?;
//! let a_ifindex = a.ifindex(&a_if)?;
//! a.run_in(|| live_frames(send.as_fd(), &frame, 1000, a_ifindex))?;
//! assert_eq!(counter.counted()?.total(), 1000);
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod cmd;
mod eclatd;
mod error;
mod netns;
mod packet;
mod router;
pub mod signals;
mod threads;
mod traffic;

pub use cmd::{have, run, run_with_input};
pub use eclatd::{Eclatd, EclatdOptions, ScratchDir, BPFFS_HIKE};
pub use error::{Error, Result};
pub use netns::{mac_string, veth, LabTag, LinkStats, Netns, VethEnd, MAX_IFNAME, NETNS_DIR};
pub use packet::{udp6_checksum, Ipv6Udp, ETH_LEN, HOP_LIMIT, IPV6_LEN, UDP_LEN};
pub use router::{RouterLab, DST_ADDR, GEN_MAC, ROUTER_IN_MAC, ROUTER_OUT_MAC, SINK_MAC};
pub use threads::{
    online_cpus, pin_tid, raise_priority, thread_runtime_ns, threads_named, TRAFFIC_NICE,
};
pub use traffic::{
    live_frames, sum_u64_fields, xdp_link, Counted, SinkCounts, TrafficObject, TrafficProgram,
    XdpLink, ROUND_ROBIN_FRAME_LEN, ROUND_ROBIN_MAX_SOURCES, SEND_FRAME_LEN,
};
