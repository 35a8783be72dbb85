//! The crate's one error type.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// What can go wrong in a lab.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command could not be started (not installed, say).
    #[error("cannot run `{program}` (is it installed? `make deps`)")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A command ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    CommandFailed {
        /// The command line, for people.
        command: String,
        /// Its exit status.
        status: ExitStatus,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// `ip -j link show` did not give the interface's index.
    #[error("no ifindex for `{dev}` in network namespace `{netns}`")]
    NoIfindex {
        /// The namespace.
        netns: String,
        /// The interface.
        dev: String,
    },
    /// `ip -s -j link show` did not give the interface's counters.
    #[error("no counters for `{dev}` in network namespace `{netns}`")]
    NoStats {
        /// The namespace.
        netns: String,
        /// The interface.
        dev: String,
    },
    /// A namespace's file under `/run/netns` could not be opened.
    #[error("cannot open network namespace `{netns}`")]
    OpenNetns {
        /// The namespace.
        netns: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `setns` refused to move the thread into a namespace.
    #[error("cannot enter network namespace `{netns}`")]
    Setns {
        /// The namespace.
        netns: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The embedded traffic object could not be opened or loaded.
    #[error("cannot load the traffic programs (`netlab_traffic`)")]
    LoadObject {
        /// libbpf's error (with the verifier log, if it came to that).
        #[source]
        source: libbpf_rs::Error,
    },
    /// The traffic object lacks a program or map this crate expects (a build mismatch).
    #[error("the traffic object has no {kind} `{name}`")]
    Missing {
        /// `program` or `map`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A map operation failed.
    #[error("cannot {op} `{map}`")]
    Map {
        /// What was tried: `update`, `look up`, ...
        op: &'static str,
        /// The map.
        map: String,
        /// libbpf's error.
        #[source]
        source: libbpf_rs::Error,
    },
    /// A program's descriptor could not be duplicated.
    #[error("cannot duplicate the descriptor of `{program}`")]
    DupFd {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A frame of another length than a lab's frames.
    #[error("a frame of {len} bytes where the labs send frames of {expected}")]
    FrameLength {
        /// The frame's length.
        len: usize,
        /// The length the labs send.
        expected: usize,
    },
    /// A generator was given no frames, or more than it holds.
    #[error("{count} frames where a generator takes 1 to {max}")]
    FrameCount {
        /// How many were given.
        count: usize,
        /// How many it holds.
        max: usize,
    },
    /// An interface index that the kernel's `int` cannot hold.
    #[error("ifindex {ifindex} out of range")]
    IfindexRange {
        /// The index.
        ifindex: u32,
    },
    /// Attaching an XDP program failed.
    #[error("cannot attach an XDP program to ifindex {ifindex}")]
    Attach {
        /// Where.
        ifindex: u32,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// A live-frames test run failed.
    #[error("live-frames test run on ifindex {ifindex} failed")]
    LiveFrames {
        /// The interface the frames were sent from.
        ifindex: u32,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// The AF_PACKET socket could not be opened or bound.
    #[error("cannot open an AF_PACKET socket on ifindex {ifindex}")]
    PacketSocket {
        /// The interface.
        ifindex: u32,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// `sendmmsg` on the AF_PACKET socket failed (other than a frame dropped by a full queue).
    #[error("cannot send frames from ifindex {ifindex}")]
    PacketSend {
        /// The interface.
        ifindex: u32,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// No traffic source can be used (see [`crate::SourceChoice::detect`]).
    #[error("no traffic source: {why}")]
    Source {
        /// Why.
        why: String,
    },
    /// `setpriority` failed.
    #[error("cannot set the nice value of thread {tid}")]
    Priority {
        /// The thread (0: the caller).
        tid: i32,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `sched_setaffinity` failed, or the CPU does not exist.
    #[error("cannot pin thread {tid} to cpu {cpu}")]
    Affinity {
        /// The thread.
        tid: i32,
        /// The CPU.
        cpu: usize,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// No NAPI thread appeared after making a NAPI context threaded.
    #[error("no kernel thread `{name}-*` after making the NAPI threaded")]
    NoNapiThread {
        /// The thread name's prefix (`napi/<ifname>`).
        name: String,
    },
    /// A directory could not be created.
    #[error("cannot create directory `{path}`")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A file could not be created.
    #[error("cannot create `{path}`")]
    CreateFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The daemon could not be started.
    #[error("cannot start `{program}`")]
    StartDaemon {
        /// The binary.
        program: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The daemon exited while it was starting.
    #[error("`eclatd` exited at start ({status}); its log ends with:\n{log}")]
    DaemonExited {
        /// Its exit status.
        status: ExitStatus,
        /// The end of its log.
        log: String,
    },
    /// The daemon did not answer in time.
    #[error("`eclatd` did not answer within {waited:.0?}; its log ends with:\n{log}")]
    DaemonNotReady {
        /// How long it was given.
        waited: Duration,
        /// The end of its log.
        log: String,
    },
    /// The daemon exited with a failure when it was stopped.
    #[error("`eclatd` exited with {status}; its log ends with:\n{log}")]
    DaemonFailed {
        /// Its exit status.
        status: ExitStatus,
        /// The end of its log.
        log: String,
    },
    /// The daemon did not stop after SIGTERM and was killed.
    #[error("`eclatd` did not stop within {timeout:?} of SIGTERM and was killed")]
    DaemonKilled {
        /// How long it was given.
        timeout: Duration,
    },
    /// A terminating signal arrived (see [`crate::signals`]).
    #[error("interrupted")]
    Interrupted,
    /// The signal thread could not be set up.
    #[error("cannot set up signal handling")]
    Signals {
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `error` and its sources, joined by `: ` (for a one-line reason).
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
