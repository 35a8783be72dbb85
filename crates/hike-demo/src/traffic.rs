//! The demo's traffic: the two senders (`hike_netlab::Sender`: live frames where the kernel
//! allows them, else an AF_PACKET socket), the service that the passed packets reach (a UDP
//! socket in the router's namespace), and the collector's counter (an XDP program on its veth).

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hike_netlab::{
    signals, xdp_link, Counted, Ipv6Udp, SourceKind, TrafficObject, TrafficProgram, XdpLink,
};

use crate::lab::{Host, SERVICE_ADDR, SERVICE_PORT};

/// The service's receive buffer: room for every packet the script may pass at once.
const SERVICE_RCVBUF: libc::c_int = 4 << 20;

/// Frames per send of the attacker: it checks for Ctrl-C in between.
const ATTACK_CHUNK: u32 = 50_000;

/// One sender: one frame, sent from its host.
pub struct Sender<'a> {
    host: &'a Host,
    sender: hike_netlab::Sender,
}

impl<'a> Sender<'a> {
    /// A sender of UDP packets from `src` (through `host`'s link, whose router end has
    /// `router_mac`) to the service, with `source`.
    pub fn new(
        host: &'a Host,
        src: Ipv6Addr,
        src_mac: [u8; 6],
        router_mac: [u8; 6],
        src_port: u16,
        source: SourceKind,
    ) -> Result<Sender<'a>> {
        let frame = Ipv6Udp {
            dst_mac: router_mac,
            src_mac,
            src,
            dst: SERVICE_ADDR,
            src_port,
            dst_port: SERVICE_PORT,
            payload: b"hi",
        }
        .frame();
        let sender = hike_netlab::Sender::new(&host.netns, host.ifindex, &[frame], source)?;
        Ok(Sender { host, sender })
    }

    /// Sends `count` frames now, at full speed. Call it on a thread in the host's namespace.
    fn burst(&self, count: u32) -> Result<()> {
        Ok(self.sender.send(u64::from(count))?)
    }

    /// Frames sent so far.
    pub fn sent(&self) -> Result<u64> {
        Ok(self.sender.sent()?)
    }
}

/// What the two senders did.
#[derive(Clone, Copy, Debug)]
pub struct Sent {
    /// Client packets.
    pub client: u64,
    /// Attacker packets.
    pub attacker: u64,
    /// How long the attack lasted.
    pub attack_time: Duration,
}

/// The client's and the attacker's traffic.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Client packets, one every `client_interval`.
    pub client_packets: u32,
    /// The client's pace.
    pub client_interval: Duration,
    /// The attack starts after this many client packets.
    pub attack_after: u32,
    /// Attacker packets, as fast as the attacker can.
    pub attack_packets: u32,
}

/// Runs `plan`: the client on one thread, paced; the attacker on another, flat out, from
/// the moment the client has sent `plan.attack_after` packets.
pub fn run(client: &Sender<'_>, attacker: &Sender<'_>, plan: Plan) -> Result<Sent> {
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (client_result, attack_result) = std::thread::scope(|s| {
        let client_thread = s.spawn(move || -> Result<()> {
            client.host.netns.enter()?;
            let start = Instant::now();
            for i in 0..plan.client_packets {
                if i == plan.attack_after {
                    let _ = started_tx.send(());
                }
                // Paced against the start, so that the send time does not add up.
                let due = start + plan.client_interval * i;
                signals::sleep(due.saturating_duration_since(Instant::now()))?;
                client.burst(1).context("the client")?;
            }
            Ok(())
            // `started_tx` drops here: an attacker still waiting starts now.
        });
        let attack_thread = s.spawn(move || -> Result<Duration> {
            attacker.host.netns.enter()?;
            let _ = started_rx.recv();
            let start = Instant::now();
            let mut left = plan.attack_packets;
            while left > 0 {
                signals::check()?;
                let n = left.min(ATTACK_CHUNK);
                attacker.burst(n).context("the attacker")?;
                left -= n;
            }
            Ok(start.elapsed())
        });
        (join(client_thread), join(attack_thread))
    });
    client_result?;
    let attack_time = attack_result?;
    Ok(Sent {
        client: client.sent()?,
        attacker: attacker.sent()?,
        attack_time,
    })
}

/// The thread's result, or its panic again.
fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// The service at `[SERVICE_ADDR]:SERVICE_PORT` in the router's namespace: a UDP socket
/// whose thread counts datagrams by source address; stopped on drop.
pub struct Service {
    counts: Arc<Mutex<BTreeMap<Ipv6Addr, u64>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Service {
    /// Binds the socket in `router` (a thread enters the namespace to create it; the socket
    /// stays in that namespace) and starts counting.
    pub fn start(router: &hike_netlab::Netns) -> Result<Service> {
        let socket = router.run_in(|| -> Result<UdpSocket> {
            let addr = SocketAddrV6::new(SERVICE_ADDR, SERVICE_PORT, 0, 0);
            UdpSocket::bind(addr).with_context(|| format!("bind the service to {addr}"))
        })?;
        set_rcvbuf(&socket)?;
        socket.set_read_timeout(Some(Duration::from_millis(50)))?;
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (counts, stop) = (counts.clone(), stop.clone());
            std::thread::Builder::new()
                .name("service".into())
                .spawn(move || serve(&socket, &counts, &stop))?
        };
        Ok(Service {
            counts,
            stop,
            thread: Some(thread),
        })
    }

    /// Datagrams received so far, by source.
    pub fn counts(&self) -> BTreeMap<Ipv6Addr, u64> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits (at most `timeout`) until `src` has `n` datagrams; the counts then.
    pub fn wait_for(
        &self,
        src: Ipv6Addr,
        n: u64,
        timeout: Duration,
    ) -> Result<BTreeMap<Ipv6Addr, u64>> {
        let deadline = Instant::now() + timeout;
        loop {
            let counts = self.counts();
            if counts.get(&src).copied().unwrap_or(0) >= n || Instant::now() >= deadline {
                return Ok(counts);
            }
            signals::sleep(Duration::from_millis(20))?;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(socket: &UdpSocket, counts: &Mutex<BTreeMap<Ipv6Addr, u64>>, stop: &AtomicBool) {
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        match socket.recv_from(&mut buf) {
            Ok((_, SocketAddr::V6(from))) => {
                *counts
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(*from.ip())
                    .or_default() += 1;
            }
            // Bound to an IPv6 address: no IPv4 sender.
            Ok((_, SocketAddr::V4(_))) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("hike-demo: the service stops: {e}");
                return;
            }
        }
    }
}

/// A receive buffer of [`SERVICE_RCVBUF`] (`SO_RCVBUFFORCE`: root may exceed the system's
/// maximum).
fn set_rcvbuf(socket: &UdpSocket) -> Result<()> {
    let size = SERVICE_RCVBUF;
    // SAFETY: `size` is a valid c_int for the duration of the call and its length is given.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            std::ptr::from_ref(&size).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("set the service's receive buffer");
    }
    Ok(())
}

/// The collector: `netlab_count` on its veth (which also makes the veth accept the frames
/// that the router redirects to it with XDP). Detached on drop.
pub struct Collector {
    object: TrafficObject,
    _link: XdpLink,
}

impl Collector {
    /// Attaches the counter to the collector's end of its link.
    pub fn attach(host: &Host) -> Result<Collector> {
        let object = TrafficObject::load()?;
        let count = object.program_fd(TrafficProgram::Count)?;
        let link = host
            .netns
            .run_in(|| xdp_link(count.as_fd(), host.ifindex))
            .context("attach the collector's counter")?;
        Ok(Collector {
            object,
            _link: link,
        })
    }

    /// What it counted.
    pub fn counted(&self) -> Result<Counted> {
        Ok(self.object.counted()?)
    }
}
