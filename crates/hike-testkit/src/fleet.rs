//! The network of the fleet tests and the fleet benchmark: a bridge of the host with its own
//! `/24` (the management network), a real etcd listening on it ([`crate::etcd`]), and each
//! node's network namespace joined to it by a veth (`m0` in the namespace, `10.254.S.(10+i)`),
//! with the command line that makes an eclatd a fleet node ([`node_args`]).
//!
//! Names come from the caller's [`LabTag`], so two runs (a test and the benchmark, say) never
//! share a bridge or an interface. Dropping a [`FleetNet`] kills etcd and then deletes the
//! bridge; the nodes' veths go with their namespaces, which (like the nodes' daemons, their
//! directories and pins) stay the caller's: the test and the benchmark run eclatd through
//! different handles. It is not a product API.

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use hike_netlab::{run, LabTag};

use crate::etcd::{Etcd, EtcdError};

/// What went wrong setting up the fleet's network.
#[derive(Debug, thiserror::Error)]
pub enum FleetNetError {
    /// An `ip` command (the bridge, a node's veth) failed.
    #[error("cannot set up the fleet's management network")]
    Net(#[from] hike_netlab::Error),
    /// etcd did not start.
    #[error("cannot start the fleet's etcd")]
    Etcd(#[from] EtcdError),
}

/// The management bridge and etcd on it; see the module docs.
#[derive(Debug)]
pub struct FleetNet {
    // Fields drop in order: etcd before the bridge it listens on.
    etcd: Etcd,
    bridge: Bridge,
    tag: LabTag,
}

impl FleetNet {
    /// Creates the bridge (named from `tag`) and starts etcd on it and on loopback, over TLS
    /// with client certificates when `tls` ([`Etcd::start_tls`]).
    pub fn start(tag: &LabTag, tls: bool) -> Result<FleetNet, FleetNetError> {
        let bridge = Bridge::new(tag.ifname("b"))?;
        let also = [IpAddr::V4(bridge.addr)];
        let etcd = if tls {
            Etcd::start_tls(&also)?
        } else {
            Etcd::start(&also)?
        };
        Ok(FleetNet {
            etcd,
            bridge,
            tag: tag.clone(),
        })
    }

    /// The etcd.
    pub fn etcd(&self) -> &Etcd {
        &self.etcd
    }

    /// The etcd, to stop and restart it under the fleet.
    pub fn etcd_mut(&mut self) -> &mut Etcd {
        &mut self.etcd
    }

    /// The bridge's address: where the nodes reach etcd.
    pub fn addr(&self) -> Ipv4Addr {
        self.bridge.addr
    }

    /// etcd's client URL for the nodes (on the bridge).
    pub fn node_url(&self) -> String {
        self.etcd.url_on(IpAddr::V4(self.bridge.addr))
    }

    /// Joins network namespace `netns` to the bridge as node `i`: a veth whose end `m0` in
    /// `netns` has the address `10.254.S.(10+i)`, returned, and is up. The host end is named
    /// from the tag and `i`, so `i` must be unique among the nodes of this net.
    pub fn connect(&self, netns: &str, i: u8) -> Result<Ipv4Addr, FleetNetError> {
        let host = self.tag.ifname(&format!("m{i}"));
        run(
            "ip",
            &[
                "link", "add", &host, "type", "veth", "peer", "name", "m0", "netns", netns,
            ],
        )?;
        run(
            "ip",
            &["link", "set", &host, "master", &self.bridge.name, "up"],
        )?;
        let [a, b, c, _] = self.bridge.addr.octets();
        let addr = Ipv4Addr::new(a, b, c, 10 + i);
        run(
            "ip",
            &[
                "-n",
                netns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "m0",
            ],
        )?;
        run("ip", &["-n", netns, "link", "set", "m0", "up"])?;
        Ok(addr)
    }
}

/// The arguments that make an eclatd node `node` of the fleet whose keys are under `prefix`
/// in the etcd at `url`, with `labels` (`key=value`), each as one `--label`.
pub fn node_args(url: &str, node: &str, prefix: &str, labels: &[String]) -> Vec<String> {
    let mut args: Vec<String> = ["--etcd", url, "--node", node, "--etcd-prefix", prefix]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for label in labels {
        args.push("--label".into());
        args.push(label.clone());
    }
    args
}

/// The host's bridge with its `/24`, deleted on drop.
#[derive(Debug)]
struct Bridge {
    name: String,
    addr: Ipv4Addr,
}

impl Bridge {
    fn new(name: String) -> Result<Bridge, FleetNetError> {
        // Each bridge of this process its own /24; other processes most likely another.
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let subnet = (std::process::id().wrapping_mul(4).wrapping_add(seq) % 250) as u8;
        // One left by a killed run of the same process id.
        let _ = Command::new("ip")
            .args(["link", "del", &name])
            .stderr(Stdio::null())
            .status();
        run("ip", &["link", "add", &name, "type", "bridge"])?;
        // From here on, the drop deletes the bridge, also when the next commands fail.
        let bridge = Bridge {
            name,
            addr: Ipv4Addr::new(10, 254, subnet, 1),
        };
        run(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}/24", bridge.addr),
                "dev",
                &bridge.name,
            ],
        )?;
        run("ip", &["link", "set", &bridge.name, "up"])?;
        Ok(bridge)
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    fn link_exists(name: &str) -> bool {
        run("ip", &["link", "show", name]).is_ok()
    }

    #[test]
    fn a_fleet_net_joins_a_namespace_to_etcd_and_leaves_nothing_behind() {
        let tag = LabTag::new("hike-testkit-fleet-", "htf");
        let ns = tag.netns("n0").expect("netns");
        let net = FleetNet::start(&tag, false).expect("fleet net");
        let bridge = net.bridge.name.clone();
        assert!(link_exists(&bridge));
        let addr = net.connect(ns.name(), 3).expect("connect");
        assert_eq!(addr.octets()[3], 13);
        assert_eq!(addr.octets()[..3], net.addr().octets()[..3]);
        // etcd answers on the bridge from inside the namespace.
        let url = net.node_url();
        let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
        let health = ns
            .run_in(|| -> Result<String, FleetNetError> {
                let mut s = TcpStream::connect((net.addr(), port)).expect("connect to etcd");
                s.write_all(b"GET /health HTTP/1.0\r\n\r\n").unwrap();
                let mut body = String::new();
                s.read_to_string(&mut body).unwrap();
                Ok(body)
            })
            .expect("enter the namespace");
        assert!(health.contains("\"health\":\"true\""), "{health}");
        let dir = net.etcd().dir().to_owned();
        drop(net);
        assert!(!link_exists(&bridge), "the bridge outlived its FleetNet");
        assert!(!dir.exists(), "etcd's directory outlived its FleetNet");
    }

    #[test]
    fn node_args_name_the_etcd_the_node_the_prefix_and_each_label() {
        let args = node_args(
            "http://10.254.1.1:2379",
            "n1",
            "/p/",
            &["role=edge".into(), "g2=yes".into()],
        );
        assert_eq!(
            args,
            [
                "--etcd",
                "http://10.254.1.1:2379",
                "--node",
                "n1",
                "--etcd-prefix",
                "/p/",
                "--label",
                "role=edge",
                "--label",
                "g2=yes"
            ]
        );
    }
}
