//! A lab's traffic: frames sent out of one veth, from whichever source this kernel allows.
//!
//! Two sources put frames on a veth:
//! - **live frames** ([`SourceKind::LiveFrames`]): `netlab_send` run with
//!   `BPF_PROG_TEST_RUN` and `BPF_F_TEST_XDP_LIVE_FRAMES`; its `XDP_TX` sends each frame. The
//!   fastest (millions of frames per second from one CPU, no socket buffer per frame), but
//!   some kernel builds refuse the flag (`EPERM`, root included).
//! - **an AF_PACKET socket** ([`SourceKind::PacketSocket`], [`crate::PacketSocket`]):
//!   `sendmmsg` with `PACKET_QDISC_BYPASS`, which every kernel allows; a few hundred thousand
//!   frames per second from one CPU.
//!
//! [`SourceChoice::detect`] probes once per process whether live frames are allowed (a one-frame
//! run) and picks them if so, else the socket; `HIKE_NETLAB_SOURCE=live-frames|af-packet`
//! forces one (the tests use it to run both where both work). A [`Sender`] sends a fixed set
//! of frames in round robin with either source: a number of them now ([`Sender::send`]), flat
//! out from threads of its own while the caller works ([`Sender::flat_out_during`]), or paced
//! ([`Sender::paced_during`]), and counts what it offered.

use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::live::{live_frames, live_frames_allowed};
use crate::netns::Netns;
use crate::packet_socket::{PacketSocket, BATCH};
use crate::signals;
use crate::traffic::{check_frames, TrafficObject, TrafficProgram};

/// The environment variable that forces a source: `live-frames` or `af-packet` (unset or
/// `auto`: probe).
pub const SOURCE_ENV: &str = "HIKE_NETLAB_SOURCE";

/// How frames are put on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// XDP test runs with `BPF_F_TEST_XDP_LIVE_FRAMES`.
    LiveFrames,
    /// An AF_PACKET socket (`sendmmsg`, `PACKET_QDISC_BYPASS`).
    PacketSocket,
}

impl SourceKind {
    /// Its name, as [`SOURCE_ENV`] takes it and reports print it.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::LiveFrames => "live-frames",
            SourceKind::PacketSocket => "af-packet",
        }
    }

    /// What it is, for people.
    pub fn describe(self) -> &'static str {
        match self {
            SourceKind::LiveFrames => "XDP test runs with BPF_F_TEST_XDP_LIVE_FRAMES",
            SourceKind::PacketSocket => "an AF_PACKET socket (sendmmsg, PACKET_QDISC_BYPASS)",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The source a process uses, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceChoice {
    /// The source.
    pub kind: SourceKind,
    /// Why it was chosen: `live frames allowed`, the probe's error, or the variable that
    /// forced it.
    pub reason: String,
}

impl fmt::Display for SourceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}; {})",
            self.kind,
            self.kind.describe(),
            self.reason
        )
    }
}

impl SourceChoice {
    /// The source of this process: the one [`SOURCE_ENV`] names, else live frames if a
    /// one-frame run works, else the AF_PACKET socket. Decided once per process.
    pub fn detect() -> Result<SourceChoice> {
        static CHOICE: OnceLock<Result<SourceChoice, String>> = OnceLock::new();
        CHOICE
            .get_or_init(|| {
                let forced = std::env::var(SOURCE_ENV).unwrap_or_default();
                choose(&forced, live_frames_allowed)
            })
            .clone()
            .map_err(|why| Error::Source { why })
    }
}

/// The choice for the value `forced` of [`SOURCE_ENV`], given the live-frames probe.
fn choose(
    forced: &str,
    probe: impl FnOnce() -> Result<(), String>,
) -> Result<SourceChoice, String> {
    match forced {
        "" | "auto" => Ok(match probe() {
            Ok(()) => SourceChoice {
                kind: SourceKind::LiveFrames,
                reason: "this kernel allows live frames".to_owned(),
            },
            Err(why) => SourceChoice {
                kind: SourceKind::PacketSocket,
                reason: format!("live frames refused by this kernel: {why}"),
            },
        }),
        "live-frames" => match probe() {
            Ok(()) => Ok(SourceChoice {
                kind: SourceKind::LiveFrames,
                reason: format!("{SOURCE_ENV}=live-frames"),
            }),
            Err(why) => Err(format!(
                "{SOURCE_ENV}=live-frames, but this kernel refuses live frames ({why}); unset it \
                 to send with an AF_PACKET socket"
            )),
        },
        "af-packet" => Ok(SourceChoice {
            kind: SourceKind::PacketSocket,
            reason: format!("{SOURCE_ENV}=af-packet"),
        }),
        other => Err(format!(
            "{SOURCE_ENV}={other:?}: expected `live-frames`, `af-packet` or `auto`"
        )),
    }
}

/// How a [`Sender`] sends.
enum Engine {
    Live {
        object: TrafficObject,
        send: OwnedFd,
        paced: OwnedFd,
        /// The packet each test run starts from (the program overwrites it).
        frame: Vec<u8>,
    },
    Packet {
        socket: PacketSocket,
        frames: Vec<Vec<u8>>,
        next: AtomicUsize,
        sent: AtomicU64,
        dropped: AtomicU64,
    },
}

/// Sends a fixed set of frames, in round robin, out of one interface of a namespace.
pub struct Sender {
    kind: SourceKind,
    netns: PathBuf,
    netns_name: String,
    ifindex: u32,
    engine: Engine,
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("kind", &self.kind)
            .field("netns", &self.netns_name)
            .field("ifindex", &self.ifindex)
            .finish_non_exhaustive()
    }
}

/// What [`Sender::paced_during`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacedStats {
    /// Frames offered meanwhile.
    pub sent: u64,
    /// The largest time between two frames (live frames) or two batches (AF_PACKET).
    pub max_gap: Duration,
    /// Test runs or `sendmmsg` batches.
    pub calls: u64,
    /// The longest of them.
    pub longest_call: Duration,
}

/// The live-frames test runs of [`Sender::paced_during`]'s threads, each a different length so
/// that their pauses between runs (each run ends with an RCU grace period) fall at different
/// times and the others' runs cover them.
const PACED_LIVE_RUNS: [u32; 3] = [400_000, 520_000, 680_000];

/// The most frames an AF_PACKET paced sender sends at once after falling behind (a late
/// wake-up); beyond that it starts afresh rather than burst.
const PACED_MAX_CATCH_UP: u64 = 64;

impl SourceKind {
    /// Frames per send of a flat-out thread ([`Sender::flat_out_during`]): about a tenth of a
    /// second with live frames, less with a socket; the traffic stops within one.
    fn flat_out_chunk(self) -> u64 {
        match self {
            SourceKind::LiveFrames => 500_000,
            SourceKind::PacketSocket => 16_384,
        }
    }

    /// Threads of [`Sender::flat_out_during`], all on one CPU. Each live-frames test run ends
    /// with an RCU grace period (the kernel tears down its page pool), during which that
    /// thread sleeps for tens of milliseconds: a second thread keeps the traffic flowing
    /// meanwhile, so that the receiver never runs dry. A socket has no such pause, and a
    /// second thread would only share the CPU.
    fn flat_out_threads(self) -> usize {
        match self {
            SourceKind::LiveFrames => 2,
            SourceKind::PacketSocket => 1,
        }
    }
}

impl Sender {
    /// A sender of `frames` (1 to [`crate::MAX_FRAMES`], each [`crate::FRAME_LEN`] bytes) out of
    /// `ifindex` of `netns`, with `kind`.
    pub fn new(
        netns: &Netns,
        ifindex: u32,
        frames: &[Vec<u8>],
        kind: SourceKind,
    ) -> Result<Sender> {
        check_frames(frames)?;
        let engine = match kind {
            SourceKind::LiveFrames => {
                let object = TrafficObject::load()?;
                object.set_frames(frames)?;
                Engine::Live {
                    send: object.program_fd(TrafficProgram::Send)?,
                    paced: object.program_fd(TrafficProgram::Paced)?,
                    object,
                    frame: frames[0].clone(),
                }
            }
            SourceKind::PacketSocket => Engine::Packet {
                socket: netns.run_in(|| PacketSocket::open(ifindex))?,
                frames: frames.to_vec(),
                next: AtomicUsize::new(0),
                sent: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
            },
        };
        Ok(Sender {
            kind,
            netns: netns.path(),
            netns_name: netns.name().to_owned(),
            ifindex,
            engine,
        })
    }

    /// Its source.
    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    /// Moves the calling thread into the sender's namespace (for [`Sender::send`] with live
    /// frames).
    pub fn enter(&self) -> Result<()> {
        crate::netns::enter_path(&self.netns, &self.netns_name)
    }

    /// Sends `count` frames now, as fast as the source goes. With live frames the calling
    /// thread must be in the sender's namespace ([`Sender::enter`]); a socket sends from any
    /// thread. Frames a full queue dropped count as sent (offered).
    pub fn send(&self, count: u64) -> Result<()> {
        match &self.engine {
            Engine::Live { send, frame, .. } => {
                let mut left = count;
                while left > 0 {
                    let n = left.min(u64::from(i32::MAX as u32)) as u32;
                    live_frames(send.as_fd(), frame, n, self.ifindex)?;
                    left -= u64::from(n);
                }
                Ok(())
            }
            Engine::Packet { .. } => {
                let mut left = count;
                while left > 0 {
                    let n = left.min(BATCH as u64) as usize;
                    self.send_batch(n)?;
                    left -= n as u64;
                }
                Ok(())
            }
        }
    }

    /// Sends the next `n` (≤ [`BATCH`]) frames with one `sendmmsg` (AF_PACKET only).
    fn send_batch(&self, n: usize) -> Result<()> {
        let Engine::Packet {
            socket,
            frames,
            next,
            sent,
            dropped,
            ..
        } = &self.engine
        else {
            unreachable!("send_batch is for the AF_PACKET engine");
        };
        let first = next.fetch_add(n, Ordering::Relaxed);
        let batch: Vec<&[u8]> = (first..first + n)
            .map(|i| frames[i % frames.len()].as_slice())
            .collect();
        let done = socket.send(&batch)?;
        sent.fetch_add(done.sent as u64, Ordering::Relaxed);
        dropped.fetch_add(done.dropped as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Frames sent so far (offered: those a full queue dropped included).
    pub fn sent(&self) -> Result<u64> {
        match &self.engine {
            Engine::Live { object, .. } => object.sent(),
            Engine::Packet { sent, dropped, .. } => {
                Ok(sent.load(Ordering::Relaxed) + dropped.load(Ordering::Relaxed))
            }
        }
    }

    /// Frames the sending interface dropped because its queue was full (AF_PACKET only: live
    /// frames do not tell, and count them as sent).
    pub fn dropped_at_source(&self) -> u64 {
        match &self.engine {
            Engine::Live { .. } => 0,
            Engine::Packet { dropped, .. } => dropped.load(Ordering::Relaxed),
        }
    }

    /// Runs `during` on the calling thread while frames leave steadily, one every `period`,
    /// from threads of the sender's namespace pinned to `cpu` at nice
    /// [`crate::TRAFFIC_NICE`]; stops the traffic when `during` returns (also on an error)
    /// and says what was sent. `during`'s error comes first: a failing sender is then only a
    /// consequence of it.
    pub fn paced_during<T, E: From<Error>>(
        &self,
        period: Duration,
        cpu: usize,
        during: impl FnOnce() -> Result<T, E>,
    ) -> Result<(T, PacedStats), E> {
        let period = period.max(Duration::from_nanos(1));
        let stop = AtomicBool::new(false);
        let sent_before = self.sent()?;
        if let Engine::Live { object, .. } = &self.engine {
            object.set_pace(period)?;
            object.reset_pace()?;
        }
        let (value, threads) = std::thread::scope(|s| {
            let threads: Vec<_> = match &self.engine {
                Engine::Live { .. } => PACED_LIVE_RUNS
                    .iter()
                    .map(|&runs| {
                        let stop = &stop;
                        s.spawn(move || self.paced_live(runs, cpu, stop))
                    })
                    .collect(),
                Engine::Packet { .. } => {
                    vec![s.spawn(|| self.paced_packet(period, cpu, &stop))]
                }
            };
            let value = during();
            stop.store(true, Ordering::Relaxed);
            let threads: Vec<Result<PacedStats>> = threads
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect();
            (value, threads)
        });
        let value = value?;
        let mut stats = PacedStats::default();
        for t in threads {
            let t = t?;
            stats.calls += t.calls;
            stats.longest_call = stats.longest_call.max(t.longest_call);
            stats.max_gap = stats.max_gap.max(t.max_gap);
        }
        if let Engine::Live { object, .. } = &self.engine {
            stats.max_gap = object.paced_max_gap()?;
        }
        stats.sent = self.sent()? - sent_before;
        Ok((value, stats))
    }

    /// Runs `during` on the calling thread while frames leave as fast as the source goes, from
    /// threads of the sender's namespace pinned to `cpu` at nice [`crate::TRAFFIC_NICE`] (two
    /// with live frames, whose test runs pause; one socket); stops the traffic when `during`
    /// returns (also on an error), within one chunk of frames. `during`'s error comes first:
    /// a failing sender is then only a consequence of it.
    pub fn flat_out_during<T, E: From<Error>>(
        &self,
        cpu: usize,
        during: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let stop = AtomicBool::new(false);
        let chunk = self.kind.flat_out_chunk();
        let (value, threads) = std::thread::scope(|s| {
            let threads: Vec<_> = (0..self.kind.flat_out_threads())
                .map(|_| {
                    let stop = &stop;
                    s.spawn(move || -> Result<()> {
                        self.enter()?;
                        crate::threads::pin_tid(0, cpu)?;
                        crate::threads::raise_priority(0)?;
                        while !stop.load(Ordering::Relaxed) {
                            self.send(chunk)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            let value = during();
            stop.store(true, Ordering::Relaxed);
            let threads: Vec<Result<()>> = threads
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect();
            (value, threads)
        });
        let value = value?;
        for t in threads {
            t?;
        }
        Ok(value)
    }

    /// One live-frames thread of [`Sender::paced_during`]: test runs of `netlab_paced` of
    /// `runs` repeats until `stop`.
    fn paced_live(&self, runs: u32, cpu: usize, stop: &AtomicBool) -> Result<PacedStats> {
        let Engine::Live { paced, frame, .. } = &self.engine else {
            unreachable!("paced_live is for the live-frames engine");
        };
        self.enter()?;
        crate::threads::pin_tid(0, cpu)?;
        crate::threads::raise_priority(0)?;
        let mut stats = PacedStats::default();
        while !stop.load(Ordering::Relaxed) {
            signals::check()?;
            let started = Instant::now();
            live_frames(paced.as_fd(), frame, runs, self.ifindex)?;
            stats.calls += 1;
            stats.longest_call = stats.longest_call.max(started.elapsed());
        }
        Ok(stats)
    }

    /// The AF_PACKET thread of [`Sender::paced_during`]: sleeps until the next frame is due
    /// and sends every frame due by then (a late wake-up sends the few it missed at once, at
    /// most [`PACED_MAX_CATCH_UP`], so that the rate holds), until `stop`.
    fn paced_packet(&self, period: Duration, cpu: usize, stop: &AtomicBool) -> Result<PacedStats> {
        crate::threads::pin_tid(0, cpu)?;
        crate::threads::raise_priority(0)?;
        crate::threads::precise_sleeps();
        let mut stats = PacedStats::default();
        let mut next_due = Instant::now();
        let mut last_batch: Option<Instant> = None;
        while !stop.load(Ordering::Relaxed) {
            signals::check()?;
            let now = Instant::now();
            if now < next_due {
                std::thread::sleep((next_due - now).min(Duration::from_millis(10)));
                continue;
            }
            let behind =
                u64::try_from((now - next_due).as_nanos() / period.as_nanos()).unwrap_or(u64::MAX);
            let n = behind.saturating_add(1).min(PACED_MAX_CATCH_UP);
            self.send_batch(n as usize)?;
            stats.calls += 1;
            stats.longest_call = stats.longest_call.max(now.elapsed());
            if let Some(last) = last_batch {
                stats.max_gap = stats.max_gap.max(now - last);
            }
            last_batch = Some(now);
            next_due = if behind >= PACED_MAX_CATCH_UP {
                now + period
            } else {
                next_due + period * n as u32
            };
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_frames_are_used_where_the_kernel_allows_them() {
        let c = choose("", || Ok(())).unwrap();
        assert_eq!(c.kind, SourceKind::LiveFrames);
        let c = choose("auto", || Err("live-frames test run failed: EPERM".into())).unwrap();
        assert_eq!(c.kind, SourceKind::PacketSocket);
        assert_eq!(
            c.reason,
            "live frames refused by this kernel: live-frames test run failed: EPERM"
        );
    }

    #[test]
    fn the_variable_forces_a_source_and_a_refused_one_is_an_error() {
        let c = choose("af-packet", || panic!("no probe needed")).unwrap();
        assert_eq!(c.kind, SourceKind::PacketSocket);
        assert_eq!(c.reason, "HIKE_NETLAB_SOURCE=af-packet");
        let c = choose("live-frames", || Ok(())).unwrap();
        assert_eq!(c.kind, SourceKind::LiveFrames);
        let e = choose("live-frames", || Err("EPERM".into())).unwrap_err();
        assert!(e.contains("refuses live frames (EPERM)"), "{e}");
        let e = choose("pktgen", || Ok(())).unwrap_err();
        assert!(
            e.contains("expected `live-frames`, `af-packet` or `auto`"),
            "{e}"
        );
    }
}
