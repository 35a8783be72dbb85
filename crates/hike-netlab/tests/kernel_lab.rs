//! Kernel tests (root): a two-namespace lab sends frames over a veth with each traffic source
//! (an AF_PACKET socket always; live frames where the kernel allows them, else the test says
//! it is skipped and why), the far end counts them by source, and everything is gone after
//! the guards drop.

use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use hike_netlab::{
    live_frames_allowed, veth, xdp_link, Ipv6Udp, LabTag, Netns, Sender, SourceKind, TrafficObject,
    TrafficProgram, VethEnd, XdpLink,
};

const A_MAC: [u8; 6] = [0x02, 0x6e, 0x6c, 0, 0, 1];
const B_MAC: [u8; 6] = [0x02, 0x6e, 0x6c, 0, 0, 2];

fn frame(src: &str) -> Vec<u8> {
    Ipv6Udp {
        dst_mac: B_MAC,
        src_mac: A_MAC,
        src: src.parse().unwrap(),
        dst: "2001:db8::ff".parse().unwrap(),
        src_port: 4000,
        dst_port: 7,
        payload: b"hi",
    }
    .frame()
}

/// A line in the test output even when the test passes (the harness captures `eprintln!`, not
/// writes to the standard error itself).
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Two namespaces joined by a veth, `a` → `b`, with a counter on `b`'s end.
struct Lab {
    tag: LabTag,
    a: Netns,
    #[expect(
        dead_code,
        reason = "held until dropped: dropping it deletes the namespace"
    )]
    b: Netns,
    a_ifindex: u32,
    counter: TrafficObject,
    _link: XdpLink,
}

impl Lab {
    fn new() -> Lab {
        let tag = LabTag::new("hkt", "ht");
        let a = tag.netns("a").expect("namespace a");
        let b = tag.netns("b").expect("namespace b");
        for ns in [&a, &b] {
            ns.sysctl(&[
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ])
            .unwrap();
        }
        let (a_if, b_if) = (tag.ifname("a"), tag.ifname("b"));
        veth(
            VethEnd {
                netns: &a,
                name: &a_if,
                mac: A_MAC,
            },
            VethEnd {
                netns: &b,
                name: &b_if,
                mac: B_MAC,
            },
        )
        .unwrap();
        a.ip(&["link", "set", &a_if, "up"]).unwrap();
        b.ip(&["link", "set", &b_if, "up"]).unwrap();
        let (a_ifindex, b_ifindex) = (a.ifindex(&a_if).unwrap(), b.ifindex(&b_if).unwrap());
        let counter = TrafficObject::load().unwrap();
        let count = counter.program_fd(TrafficProgram::Count).unwrap();
        let link = b
            .run_in(|| xdp_link(count.as_fd(), b_ifindex))
            .expect("attach the counter");
        assert_eq!(link.ifindex(), b_ifindex);
        Lab {
            tag,
            a,
            b,
            a_ifindex,
            counter,
            _link: link,
        }
    }

    /// Waits (a bounded time) until the counter has `n` frames in all: with a socket the
    /// peer's NAPI may run a little after `sendmmsg` returns.
    fn counted_total(&self, n: u64) -> hike_netlab::Counted {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let counted = self.counter.counted().unwrap();
            if counted.total() >= n || Instant::now() >= deadline {
                return counted;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Checks the namespaces are gone once dropped.
    fn drop_and_check(self) {
        let names = [self.tag.netns_name("a"), self.tag.netns_name("b")];
        drop(self);
        for name in names {
            assert!(
                !Path::new(hike_netlab::NETNS_DIR).join(&name).exists(),
                "{name} left behind"
            );
        }
    }
}

/// Frames from two senders of `kind` arrive, each counted under its source; a sender takes
/// several frames in round robin; a paced sender keeps its pace.
fn frames_reach_the_peer(kind: SourceKind) {
    let lab = Lab::new();
    let sent: Vec<(&str, u64)> = vec![("2001:db8::1", 1000), ("2001:db8::2", 7)];
    let started = Instant::now();
    for (src, n) in &sent {
        let sender = Sender::new(&lab.a, lab.a_ifindex, &[frame(src)], kind).unwrap();
        assert_eq!(sender.kind(), kind);
        lab.a
            .run_in(|| sender.send(*n))
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(sender.sent().unwrap(), *n);
    }
    let counted = lab.counted_total(1007);
    let secs = started.elapsed().as_secs_f64();
    for (src, n) in &sent {
        assert_eq!(
            counted.by_source.get(&src.parse().unwrap()),
            Some(n),
            "{kind}: {counted:?}"
        );
    }
    assert_eq!(counted.other, 0, "{kind}: {counted:?}");
    assert_eq!(counted.total(), 1007);

    // Round robin over three frames: 30 frames, 10 of each.
    let srcs = ["2001:db8::a", "2001:db8::b", "2001:db8::c"];
    let frames: Vec<Vec<u8>> = srcs.iter().map(|s| frame(s)).collect();
    let sender = Sender::new(&lab.a, lab.a_ifindex, &frames, kind).unwrap();
    lab.a.run_in(|| sender.send(30)).unwrap();
    let counted = lab.counted_total(1037);
    for s in srcs {
        assert_eq!(
            counted.by_source.get(&s.parse().unwrap()),
            Some(&10),
            "{kind}: {counted:?}"
        );
    }

    // Frames of the wrong size or number are refused before anything is sent.
    let e = Sender::new(&lab.a, lab.a_ifindex, &[vec![0; 10]], kind).unwrap_err();
    assert_eq!(
        e.to_string(),
        "a frame of 10 bytes where the labs send frames of 64"
    );
    let e = Sender::new(&lab.a, lab.a_ifindex, &[], kind).unwrap_err();
    assert_eq!(e.to_string(), "0 frames where a generator takes 1 to 1024");

    // Paced: one frame every millisecond for as long as `during` takes (at least 100 ms
    // here); at that pace nothing is dropped, and the count follows the clock within a few
    // frames at either end, however fast the source could go.
    let paced = Sender::new(&lab.a, lab.a_ifindex, &[frame("2001:db8::3")], kind).unwrap();
    let cpu = hike_netlab::online_cpus()[0];
    let during = Instant::now();
    let (waited, stats) = paced
        .paced_during(Duration::from_millis(1), cpu, || {
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(100) {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok::<_, hike_netlab::Error>(t.elapsed())
        })
        .unwrap();
    let elapsed = during.elapsed();
    assert!(waited >= Duration::from_millis(100));
    let most = elapsed.as_millis() as u64 + 2;
    assert!(
        stats.sent >= 50 && stats.sent <= most,
        "{kind}: {} frames paced 1 ms apart in {elapsed:?}",
        stats.sent
    );
    assert!(stats.calls > 0);
    let counted = lab.counted_total(1037 + stats.sent);
    assert_eq!(
        counted.by_source.get(&"2001:db8::3".parse().unwrap()),
        Some(&stats.sent),
        "{kind}: {counted:?}"
    );
    report(&format!(
        "netlab: {kind} ({}): 1,037 frames counted at the peer in {:.0} ms; paced 1 ms: {} \
         frames in {elapsed:.0?}, largest gap {:.1?}",
        kind.describe(),
        secs * 1e3,
        stats.sent,
        stats.max_gap
    ));
    lab.drop_and_check();
}

#[test]
fn kernel_af_packet_frames_reach_the_peer_and_are_counted_by_source() {
    frames_reach_the_peer(SourceKind::PacketSocket);
}

#[test]
fn kernel_live_frames_reach_the_peer_and_are_counted_by_source() {
    if let Err(why) = live_frames_allowed() {
        report(&format!(
            "SKIPPED kernel_live_frames_reach_the_peer_and_are_counted_by_source: this kernel \
             refuses live frames ({why}); the labs send with an AF_PACKET socket"
        ));
        return;
    }
    frames_reach_the_peer(SourceKind::LiveFrames);
}

#[test]
fn kernel_a_full_queue_counts_as_offered_not_as_an_error() {
    // No XDP program on the far end: the veth has no NAPI receiver, so AF_PACKET frames go
    // through the backlog; a burst far larger than any queue must still return, every frame
    // either taken or dropped, never an error.
    let tag = LabTag::new("hkq", "hq");
    let a = tag.netns("a").expect("namespace a");
    let b = tag.netns("b").expect("namespace b");
    let (a_if, b_if) = (tag.ifname("a"), tag.ifname("b"));
    veth(
        VethEnd {
            netns: &a,
            name: &a_if,
            mac: A_MAC,
        },
        VethEnd {
            netns: &b,
            name: &b_if,
            mac: B_MAC,
        },
    )
    .unwrap();
    a.ip(&["link", "set", &a_if, "up"]).unwrap();
    b.ip(&["link", "set", &b_if, "up"]).unwrap();
    let a_ifindex = a.ifindex(&a_if).unwrap();
    let sender = Sender::new(
        &a,
        a_ifindex,
        &[frame("2001:db8::9")],
        SourceKind::PacketSocket,
    )
    .unwrap();
    sender.send(20_000).unwrap();
    assert_eq!(sender.sent().unwrap(), 20_000);
    assert!(sender.dropped_at_source() <= 20_000);
}
