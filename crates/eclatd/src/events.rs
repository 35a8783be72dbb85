//! Events of the VM's ring buffer, fanned out to every `Events` stream.
//!
//! One thread drains the ring buffer (it has one consumer) and sends each event, with chain
//! and program names resolved, to a broadcast channel; each client stream subscribes. A slow
//! client misses events (the channel keeps the latest 4096) rather than slowing the others.

use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eclat_proto::v1::Event;
use hike_isa::abi::{self, EVENT_CHAIN, NO_ID};
use tokio::sync::broadcast;

use crate::daemon::{Daemon, Names};

/// `show_pkt_info` event codes (`bpf/programs/info/show_pkt_info.h`).
mod show_pkt_info {
    pub const SUMMARY: u32 = 0x5350_0001;
    pub const ETH: u32 = 0x5350_0002;
    pub const IPV4: u32 = 0x5350_0003;
    pub const IPV6: u32 = 0x5350_0004;
    pub const IPV6_DST: u32 = 0x5350_0005;
    pub const L4: u32 = 0x5350_0006;
}

/// Starts the thread that drains the ring buffer until `stop` is set.
pub fn spawn(
    daemon: Arc<Daemon>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<(broadcast::Sender<Event>, std::thread::JoinHandle<()>)> {
    let reader = daemon.event_reader()?;
    let (tx, _) = broadcast::channel(4096);
    let sender = tx.clone();
    let handle = std::thread::Builder::new()
        .name("eclatd-events".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let events = match reader.poll(Duration::from_millis(200)) {
                    Ok(e) => e,
                    Err(e) => {
                        eprintln!("eclatd: warning: reading events: {e}");
                        std::thread::sleep(Duration::from_millis(200));
                        continue;
                    }
                };
                if events.is_empty() || sender.receiver_count() == 0 {
                    continue;
                }
                let names = daemon.names();
                for ev in events {
                    // No receiver between the check and now: nothing to do.
                    let _ = sender.send(convert(&ev, &names));
                }
            }
        })?;
    Ok((tx, handle))
}

/// An event with names and a readable text.
pub fn convert(ev: &abi::Event, names: &Names) -> Event {
    let (script, chain) = names
        .chains
        .get(&ev.chain_id)
        .cloned()
        .unwrap_or_else(|| (String::new(), id_or_empty(ev.chain_id)));
    let program = if ev.prog_id == NO_ID {
        String::new()
    } else {
        names
            .programs
            .get(&ev.prog_id)
            .cloned()
            .unwrap_or_else(|| format!("#{}", ev.prog_id))
    };
    let kind = if ev.kind == EVENT_CHAIN {
        "chain"
    } else {
        "program"
    };
    let text = render(ev, &program, &chain);
    Event {
        kind: kind.into(),
        script,
        chain,
        program,
        code: ev.code,
        values: ev.values.to_vec(),
        text,
        ts_ns: ev.ts_ns,
    }
}

fn id_or_empty(id: u32) -> String {
    if id == NO_ID {
        String::new()
    } else {
        format!("#{id}")
    }
}

fn mac(v: u64) -> String {
    let b = v.to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

fn render(ev: &abi::Event, program: &str, chain: &str) -> String {
    let [a, b, c, _] = ev.values;
    let who = if program.is_empty() {
        format!("chain {chain}")
    } else {
        format!("{program} (chain {chain})")
    };
    let what = match ev.code {
        show_pkt_info::SUMMARY => format!(
            "packet: user_info {a}, {} bytes, ingress ifindex {}",
            c & 0xffff_ffff,
            c >> 32
        ),
        show_pkt_info::ETH => format!("eth {} -> {} type {:#06x}", mac(b), mac(a), c),
        show_pkt_info::IPV4 => format!(
            "ipv4 {} -> {} proto {} ttl {}",
            std::net::Ipv4Addr::from(a as u32),
            std::net::Ipv4Addr::from(b as u32),
            c & 0xff,
            (c >> 8) & 0xff
        ),
        show_pkt_info::IPV6 => format!(
            "ipv6 src {} next {} hop limit {}",
            Ipv6Addr::from((u128::from(a) << 64) | u128::from(b)),
            c & 0xff,
            (c >> 8) & 0xff
        ),
        show_pkt_info::IPV6_DST => format!(
            "ipv6 dst {} flow label {c}",
            Ipv6Addr::from((u128::from(a) << 64) | u128::from(b))
        ),
        show_pkt_info::L4 => format!("l4 proto {a} ports/type {:#x} flags {c:#x}", b),
        code => format!("code {code:#x} values {:?}", ev.values),
    };
    format!("{who}: {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_pkt_info_events_read_as_text() {
        let mut names = Names::default();
        names.chains.insert(3, ("ddos".into(), "main".into()));
        names.programs.insert(7, "show_pkt_info".into());
        let ev = abi::Event {
            kind: abi::EVENT_PROGRAM,
            chain_id: 3,
            prog_id: 7,
            code: show_pkt_info::IPV6_DST,
            values: [0xfc00 << 48, 2, 0, 0],
            ts_ns: 123_456_789,
        };
        let e = convert(&ev, &names);
        assert_eq!(e.ts_ns, 123_456_789, "the time goes through as it is");
        assert_eq!(e.script, "ddos");
        assert_eq!(e.chain, "main");
        assert_eq!(e.program, "show_pkt_info");
        assert_eq!(e.kind, "program");
        assert_eq!(
            e.text,
            "show_pkt_info (chain main): ipv6 dst fc00::2 flow label 0"
        );
    }
}
