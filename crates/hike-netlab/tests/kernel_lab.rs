//! Kernel tests (root): a two-namespace lab sends live frames over a veth, the far end counts
//! them by source, and everything is gone after the guards drop.

use std::os::fd::AsFd;
use std::path::Path;

use hike_netlab::{
    live_frames, veth, xdp_link, Ipv6Udp, LabTag, TrafficObject, TrafficProgram, VethEnd,
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

#[test]
fn kernel_live_frames_reach_the_peer_and_are_counted_by_source() {
    let tag = LabTag::new("hkt", "ht");
    let (a_name, b_name) = (tag.netns_name("a"), tag.netns_name("b"));
    {
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

        // Two senders, each its own object (its own frame and counter).
        let sent: Vec<(&str, u32)> = vec![("2001:db8::1", 1000), ("2001:db8::2", 7)];
        for (src, n) in &sent {
            let sender = TrafficObject::load().unwrap();
            let f = frame(src);
            sender.set_frame(&f).unwrap();
            let send = sender.program_fd(TrafficProgram::Send).unwrap();
            a.run_in(|| live_frames(send.as_fd(), &f, *n, a_ifindex))
                .expect("live frames");
            assert_eq!(sender.sent().unwrap(), u64::from(*n));
        }
        // The peer's NAPI ran in softirq on this CPU, during or right after each run.
        let counted = counter.counted().unwrap();
        for (src, n) in &sent {
            assert_eq!(
                counted.by_source.get(&src.parse().unwrap()),
                Some(&u64::from(*n)),
                "{counted:?}"
            );
        }
        assert_eq!(counted.other, 0, "{counted:?}");
        assert_eq!(counted.total(), 1007);

        // A frame of the wrong size is refused before anything is sent.
        let sender = TrafficObject::load().unwrap();
        assert!(sender.set_frame(&[0; 10]).is_err());

        // Paced: with a period of an hour, however fast the runs go, the first run sends and
        // the others wait; a reset starts the schedule again. The schedule is per CPU: every
        // run on one CPU.
        let paced = TrafficObject::load().unwrap();
        let f = frame("2001:db8::3");
        paced.set_frame(&f).unwrap();
        let prog = paced.program_fd(TrafficProgram::Paced).unwrap();
        let cpu = hike_netlab::online_cpus()[0];
        let run = || {
            a.run_in(|| {
                hike_netlab::pin_tid(0, cpu)?;
                live_frames(prog.as_fd(), &f, 10_000, a_ifindex)
            })
        };
        run().expect("paced live frames");
        assert_eq!(paced.sent().unwrap(), 0, "no period yet: every run aborts");
        paced
            .set_pace(std::time::Duration::from_secs(3600))
            .unwrap();
        run().expect("paced live frames");
        run().expect("paced live frames");
        assert_eq!(paced.sent().unwrap(), 1);
        paced.reset_pace().unwrap();
        run().expect("paced live frames");
        assert_eq!(paced.sent().unwrap(), 2);
        assert_eq!(paced.paced_max_gap().unwrap(), std::time::Duration::ZERO);
        let counted = counter.counted().unwrap();
        assert_eq!(
            counted.by_source.get(&"2001:db8::3".parse().unwrap()),
            Some(&2),
            "{counted:?}"
        );
        drop(link);
    }
    for name in [a_name, b_name] {
        assert!(
            !Path::new(hike_netlab::NETNS_DIR).join(&name).exists(),
            "{name} left behind"
        );
    }
}
