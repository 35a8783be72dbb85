//! Kernel test (root) of `hike_default.ip6_kroute`: the kernel FIB decides, in a private
//! network namespace with a veth pair, a permanent neighbour and blackhole, unreachable and
//! prohibit routes.

use std::ffi::CString;
use std::net::Ipv6Addr;
use std::process::Command;

use hike_testkit::packet::*;
use hike_testkit::*;

const V0_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xaa];
const NEIGH_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x22];

fn sh(cmd: &str) {
    let out = Command::new("sh")
        .args(["-c", cmd])
        .output()
        .unwrap_or_else(|e| panic!("run `{cmd}`: {e}"));
    assert!(
        out.status.success(),
        "`{cmd}` failed (iproute2 and veth are needed): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ifindex(name: &str) -> u32 {
    let c = CString::new(name).unwrap();
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    assert_ne!(i, 0, "no interface {name}");
    i
}

fn addr(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// Runs `f` on a new thread moved into a new network namespace. The namespace belongs to that
/// thread alone (and to the commands it runs) and disappears when the thread ends, even if the
/// test fails, so nothing is left behind and other tests are not affected.
fn in_private_netns(f: impl FnOnce() + Send + 'static) {
    let t = std::thread::spawn(move || {
        // SAFETY: unshare only changes the calling thread's namespaces.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        );
        f();
    });
    if let Err(panic) = t.join() {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn kernel_ip6_kroute_follows_the_fib() {
    in_private_netns(|| {
        sh("ip link set lo up");
        sh("ip link add v0 address 02:00:00:00:00:aa type veth peer name v1");
        sh("ip link set v0 up && ip link set v1 up");
        sh("ip -6 addr add 2001:db8:1::1/64 dev v0 nodad");
        sh("ip -6 neigh add 2001:db8:1::2 lladdr 02:00:00:00:00:22 dev v0 nud permanent");
        sh("ip -6 route add 2001:db8:2::/64 via 2001:db8:1::2 dev v0");
        sh("ip -6 route add blackhole 2001:db8:dead::/48");
        sh("ip -6 route add unreachable 2001:db8:beef::/48");
        sh("ip -6 route add prohibit 2001:db8:cafe::/48");
        sh("sysctl -qw net.ipv6.conf.all.forwarding=1");
        let v0 = ifindex("v0");

        let lab = Lab::new(&["ip6_kroute"]);
        let src = addr("2001:db8:9::1");
        let route = |dst: &str| lab.call_run("ip6_kroute", &[], &ipv6_udp(src, addr(dst), 1, 2, 8));

        // Forwarded: MACs from the FIB and the neighbour, hop limit 64 -> 63, out of v0.
        for dst in ["2001:db8:2::5", "2001:db8:1::2"] {
            let pkt = ipv6_udp(src, addr(dst), 1, 2, 8);
            let run = route(dst);
            let mut want = pkt.clone();
            want[0..6].copy_from_slice(&NEIGH_MAC);
            want[6..12].copy_from_slice(&V0_MAC);
            want[21] = 63;
            assert_eq!(
                (run.verdict, run.redirect_ifindex, run.fault),
                (xdp::REDIRECT, v0, 0),
                "{dst}"
            );
            assert_eq!(run.packet, want, "{dst}: rewritten MACs and hop limit");
        }
        // TCP too (the ports feed the multipath hash).
        let tcp_pkt = ipv6_packet(src, addr("2001:db8:2::5"), 6, &tcp(1, 2, 2));
        let run = lab.call_run("ip6_kroute", &[], &tcp_pkt);
        assert_eq!((run.verdict, run.redirect_ifindex), (xdp::REDIRECT, v0));

        // Reject routes: dropped here.
        for dst in ["2001:db8:dead::1", "2001:db8:beef::1", "2001:db8:cafe::1"] {
            let run = route(dst);
            assert_eq!((run.verdict, run.redirect_ifindex), (xdp::DROP, 0), "{dst}");
        }

        // Left to the kernel, unchanged: a local address, no neighbour entry yet, no route.
        for dst in ["2001:db8:1::1", "2001:db8:1::3", "2001:db8:7::1"] {
            let run = route(dst);
            assert_eq!(
                (run.verdict, run.redirect_ifindex, run.packet),
                (xdp::PASS, 0, ipv6_udp(src, addr(dst), 1, 2, 8)),
                "{dst}"
            );
        }
        // Hop limit 1: the kernel sends Time Exceeded.
        let mut last_hop = ipv6_udp(src, addr("2001:db8:2::5"), 1, 2, 8);
        last_hop[21] = 1;
        let run = lab.call_run("ip6_kroute", &[], &last_hop);
        assert_eq!((run.verdict, &run.packet), (xdp::PASS, &last_hop));
        // Too big for v0: the kernel sends Packet Too Big.
        sh("ip link set v0 mtu 1280");
        let big = ipv6_udp(src, addr("2001:db8:2::5"), 1, 2, 1300);
        let run = lab.call_run("ip6_kroute", &[], &big);
        assert_eq!((run.verdict, &run.packet), (xdp::PASS, &big));
        sh("ip link set v0 mtu 1500");
        assert_eq!(lab.call_run("ip6_kroute", &[], &big).verdict, xdp::REDIRECT);
        // Not IPv6.
        assert_eq!(
            lab.call_run("ip6_kroute", &[], &ipv4_udp(A4, B4, 1, 2, 0))
                .verdict,
            xdp::PASS
        );
        assert_eq!(lab.call_run("ip6_kroute", &[], &arp()).verdict, xdp::PASS);
        // Forwarding disabled: the kernel decides.
        sh("sysctl -qw net.ipv6.conf.all.forwarding=0");
        assert_eq!(route("2001:db8:2::5").verdict, xdp::PASS);
    });
}
