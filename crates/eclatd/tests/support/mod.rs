//! Test support for eclatd's end-to-end tests: a network namespace with a veth pair, an
//! `eclatd` process running in it (its own instance, state dir and socket), a gRPC client,
//! and frames sent with `hike_netlab`'s packet socket. Everything is removed on drop, also when a test fails.

#![allow(dead_code)] // each test binary uses a part

use std::io::{BufRead, BufReader};
use std::net::Ipv6Addr;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use eclat_proto::v1 as pb;
use eclat_proto::EclatClient;
use hike_netlab::{PacketSocket, BATCH};
use tonic::transport::Channel;

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A name unique to this process and call: `PREFIX<pid>x<n>` (`ecd…` for namespaces, `t…`
/// for VM instances). The first call removes what test processes that were killed (so their
/// `Drop`s never ran) left under these names: namespaces, daemons, pins, scratch directories.
pub fn unique(prefix: &str) -> String {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(remove_leftovers_of_dead_runs);
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// The pid in a name made by [`unique`] with `prefix`, if it is one.
fn pid_of(name: &str, prefix: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?;
    let (pid, n) = rest.split_once('x')?;
    n.parse::<u32>().ok()?;
    pid.parse().ok()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn remove_leftovers_of_dead_runs() {
    if let Ok(out) = Command::new("ip").args(["netns", "list"]).output() {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            if pid_of(name, "ecd").is_some_and(|p| !alive(p)) {
                let _ = Command::new("ip").args(["netns", "del", name]).status();
            }
        }
    }
    let Ok(rd) = std::fs::read_dir("/sys/fs/bpf/hike") else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if pid_of(&name, "t").is_some_and(|p| !alive(p)) {
            // Its daemon may still run (the test process was killed, not the daemon).
            let _ = Command::new("pkill")
                .args(["-KILL", "-f", &format!("instance {name} ")])
                .status();
            let _ = std::fs::remove_dir_all(e.path());
            let _ =
                std::fs::remove_dir_all(std::env::temp_dir().join(format!("eclatd-test-{name}")));
        }
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace with a veth pair `dev` (where scripts attach) and `peer` (where
/// frames are sent from), both up.
pub struct Netns {
    pub name: String,
    pub dev: String,
    pub peer: String,
}

impl Netns {
    pub fn new() -> Netns {
        let name = unique("ecd");
        ip(&["netns", "add", &name]);
        let ns = Netns {
            dev: "v0".into(),
            peer: "v1".into(),
            name,
        };
        // The kernel's own IPv6 packets (neighbour discovery, MLD) would be counted with the
        // test's: no IPv6 on the namespace's interfaces.
        ns.run_in(|| {
            for conf in ["all", "default"] {
                std::fs::write(format!("/proc/sys/net/ipv6/conf/{conf}/disable_ipv6"), "1")
                    .expect("disable ipv6 in the netns");
            }
        });
        ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
        ns.ip(&["link", "set", "v0", "up"]);
        ns.ip(&["link", "set", "v1", "up"]);
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// Adds another veth pair `a`/`b`.
    pub fn add_pair(&self, a: &str, b: &str) {
        self.ip(&["link", "add", a, "type", "veth", "peer", "name", b]);
        self.ip(&["link", "set", a, "up"]);
        self.ip(&["link", "set", b, "up"]);
    }

    fn file(&self) -> std::fs::File {
        std::fs::File::open(format!("/run/netns/{}", self.name)).expect("open the netns")
    }

    /// Runs `f` on a thread inside the namespace.
    pub fn run_in<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let file = self.file();
        std::thread::scope(|s| {
            s.spawn(move || {
                // SAFETY: setns on a valid namespace fd; it moves only this thread.
                let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .expect("thread in netns")
        })
    }

    pub fn ifindex(&self, dev: &str) -> u32 {
        let dev = dev.to_owned();
        self.run_in(move || {
            let c = std::ffi::CString::new(dev).unwrap();
            // SAFETY: valid C string.
            unsafe { libc::if_nametoindex(c.as_ptr()) }
        })
    }

    /// The XDP program attached to `dev` (0 if none).
    pub fn xdp_prog(&self, dev: &str) -> u32 {
        let idx = self.ifindex(dev);
        self.run_in(move || hike_runtime::attached_xdp_program(idx).expect("query xdp"))
    }

    /// Sends `frames` out of `dev` with a raw packet socket; returns how many were sent.
    pub fn send(&self, dev: &str, frames: &[Vec<u8>]) -> usize {
        let idx = self.ifindex(dev);
        self.run_in(move || send_raw(idx, frames))
    }

    /// A counter of `/sys/class/net/DEV/statistics/`.
    pub fn stat(&self, dev: &str, counter: &str) -> u64 {
        let path = format!("/sys/class/net/{dev}/statistics/{counter}");
        // /sys shows the namespace of the process that mounted it: read it via the thread's
        // netns with a fresh sysfs view is not possible, so use `ip -s` instead.
        let _ = path;
        let out = Command::new("ip")
            .args(["-n", &self.name, "-s", "-j", "link", "show", dev])
            .output()
            .expect("ip -s");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ip -j output");
        let (dir, name) = counter.split_once('_').expect("rx_x or tx_x");
        let group = if dir == "rx" { "rx" } else { "tx" };
        v[0]["stats64"][group][name].as_u64().unwrap_or(0)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Sends `frames` out of `ifindex` of the calling thread's namespace with an AF_PACKET socket
/// (`hike_netlab::PacketSocket`); returns how many the interface took.
pub fn send_raw(ifindex: u32, frames: &[Vec<u8>]) -> usize {
    let socket = PacketSocket::open(ifindex).expect("open a packet socket");
    frames
        .chunks(BATCH)
        .map(|batch| {
            let batch: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
            socket.send(&batch).expect("send frames").sent
        })
        .sum()
}

/// A packet socket on an interface of a namespace: sees the frames the interface's XDP hook
/// passed to the stack (taps run after XDP), to count what was delivered.
pub struct Tap {
    fd: std::os::fd::OwnedFd,
}

impl Tap {
    /// Opens it on `dev` of `ns`.
    pub fn open(ns: &Netns, dev: &str) -> Tap {
        let ifindex = ns.ifindex(dev);
        ns.run_in(move || {
            let proto = (libc::ETH_P_ALL as u16).to_be();
            // SAFETY: plain socket(2); the result is checked.
            let fd = unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    i32::from(proto),
                )
            };
            assert!(
                fd >= 0,
                "packet socket: {}",
                std::io::Error::last_os_error()
            );
            // SAFETY: `fd` is a new descriptor owned here.
            let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
            // SAFETY: an all-zero sockaddr_ll is valid; the fields that matter are set.
            let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            addr.sll_family = libc::AF_PACKET as u16;
            addr.sll_protocol = proto;
            addr.sll_ifindex = ifindex as i32;
            // SAFETY: `addr` is a valid sockaddr_ll of the size given.
            let r = unsafe {
                libc::bind(
                    std::os::fd::AsRawFd::as_raw_fd(&fd),
                    &addr as *const libc::sockaddr_ll as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            assert_eq!(r, 0, "bind: {}", std::io::Error::last_os_error());
            Tap { fd }
        })
    }

    /// Reads every frame queued so far and counts the IPv6/UDP frames to port 53 (those of
    /// [`frames`]).
    pub fn delivered(&self) -> u64 {
        let mut n = 0;
        let mut buf = [0u8; 2048];
        loop {
            // SAFETY: `buf` is valid for its length.
            let r = unsafe {
                libc::recv(
                    std::os::fd::AsRawFd::as_raw_fd(&self.fd),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                )
            };
            if r < 0 {
                return n;
            }
            let f = &buf[..r as usize];
            // Ethernet (14) + IPv6 (40): next header UDP, destination port 53.
            if f.len() >= 58 && f[12..14] == [0x86, 0xdd] && f[20] == 17 && f[56..58] == [0, 53] {
                n += 1;
            }
        }
    }
}

/// `count` IPv6/UDP frames from `src` to `dst`.
pub fn frames(src: &str, dst: &str, count: usize) -> Vec<Vec<u8>> {
    let src: Ipv6Addr = src.parse().unwrap();
    let dst: Ipv6Addr = dst.parse().unwrap();
    (0..count)
        .map(|i| hike_testkit::packet::ipv6_udp(src, dst, 1000 + (i % 1000) as u16, 53, 18))
        .collect()
}

/// The path of the eclatd binary.
pub fn eclatd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_eclatd")
}

/// How a daemon in a namespace is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Launch {
    /// `setns` into the network namespace before `exec` (what `nsenter --net` does).
    Setns,
    /// `ip netns exec NS eclatd …`: also a private mount namespace with a fresh `/sys`.
    IpNetnsExec,
    /// `nsenter --net=/run/netns/NS -- eclatd …`.
    Nsenter,
}

/// An eclatd process with its own instance, state dir and socket, optionally inside a netns.
pub struct Daemon {
    pub instance: String,
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub bpffs: PathBuf,
    netns: Option<String>,
    child: Option<Child>,
    pub log: Arc<Mutex<String>>,
    /// More command-line arguments for the next spawn.
    pub extra_args: Vec<String>,
    /// Environment variables for the next spawn.
    pub extra_env: Vec<(String, String)>,
    /// Unmount `bpffs` on drop (a test mounted its own).
    pub unmount_bpffs: bool,
    /// How it enters its network namespace.
    pub launch: Launch,
}

impl Daemon {
    /// Starts a new daemon (in `netns` if given) and waits until it listens.
    pub fn start(netns: Option<&Netns>) -> Daemon {
        let mut d = Daemon::new(netns);
        d.spawn();
        d
    }

    /// A daemon not started yet (set `bpffs`, `extra_args`, then `spawn`).
    pub fn new(netns: Option<&Netns>) -> Daemon {
        let instance = unique("t");
        let dir = std::env::temp_dir().join(format!("eclatd-test-{instance}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Daemon {
            socket: dir.join("eclatd.sock"),
            bpffs: PathBuf::from("/sys/fs/bpf"),
            instance,
            dir,
            netns: netns.map(|n| n.name.clone()),
            child: None,
            log: Arc::new(Mutex::new(String::new())),
            extra_args: Vec::new(),
            extra_env: Vec::new(),
            unmount_bpffs: false,
            launch: Launch::Setns,
        }
    }

    /// Whether the daemon's log contains `text`, waiting up to 10 s for its stderr reader to
    /// catch up (the daemon wrote it before the event the caller observed).
    pub fn wait_for_log(&self, text: &str) -> bool {
        for _ in 0..1000 {
            if self.log.lock().unwrap().contains(text) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        false
    }

    /// The process ID of the running daemon.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// Starts the process (again) and waits for its "listening" line.
    pub fn spawn(&mut self) {
        let (child, ok) = self.spawn_raw();
        self.child = Some(child);
        assert!(ok, "eclatd did not start:\n{}", self.log.lock().unwrap());
    }

    /// Starts the process and reads its stderr until it listens (true) or exits (false).
    pub fn spawn_raw(&mut self) -> (Child, bool) {
        let mut cmd = match (&self.netns, self.launch) {
            (Some(ns), Launch::IpNetnsExec) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(eclatd_bin());
                c
            }
            (Some(ns), Launch::Nsenter) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/run/netns/{ns}"))
                    .arg("--")
                    .arg(eclatd_bin());
                c
            }
            _ => Command::new(eclatd_bin()),
        };
        cmd.arg("--socket")
            .arg(&self.socket)
            .arg("--state-dir")
            .arg(self.state_dir())
            .arg("--instance")
            .arg(&self.instance)
            .arg("--bpffs")
            .arg(&self.bpffs)
            .args(&self.extra_args)
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let (Some(ns), Launch::Setns) = (&self.netns, self.launch) {
            let file = std::fs::File::open(format!("/run/netns/{ns}")).unwrap();
            // SAFETY: setns is async-signal-safe; the fd stays open until exec.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().expect("spawn eclatd");
        let stderr = child.stderr.take().unwrap();
        let log = self.log.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut told = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log.lock().unwrap().push_str(&format!("{line}\n"));
                if !told && line.contains("listening on") {
                    let _ = tx.send(true);
                    told = true;
                }
            }
            if !told {
                let _ = tx.send(false);
            }
        });
        // A daemon that neither listens nor exits within a minute is a failure, not a hang.
        let ok = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or(false);
        if !ok {
            let _ = child.kill();
        }
        (child, ok)
    }

    /// Starts the process and returns whether it listens; if not, waits for it to exit.
    pub fn try_spawn(&mut self) -> bool {
        let (mut child, ok) = self.spawn_raw();
        if ok {
            self.child = Some(child);
        } else {
            let _ = child.wait();
        }
        ok
    }

    /// Waits (at most a minute, then kills it) for the daemon to exit by itself; how it ended.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        for _ in 0..6000 {
            if let Some(status) = c.try_wait().expect("wait for eclatd") {
                return status;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = c.kill();
        c.wait().expect("wait for eclatd")
    }

    /// `kill -9`, and wait for the process.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, and wait.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }

    pub fn pin_dir(&self) -> PathBuf {
        self.bpffs.join("hike").join(&self.instance)
    }

    /// A connected client.
    pub fn client(&self) -> Client {
        Client::connect(&self.socket)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
        // Unpinning everything detaches the loaders and frees programs and maps.
        let _ = std::fs::remove_dir_all(self.pin_dir());
        // The instances' directory, when this was the last instance in it (the daemon's lock
        // creates it; other tests' instances may still live there, and then it stays).
        let _ = std::fs::remove_dir(self.bpffs.join("hike"));
        if self.unmount_bpffs {
            let _ = Command::new("umount").arg(&self.bpffs).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A blocking gRPC client.
pub struct Client {
    rt: tokio::runtime::Runtime,
    pub inner: EclatClient<Channel>,
}

impl Client {
    pub fn connect(socket: &Path) -> Client {
        Client::try_connect(socket).expect("connect to eclatd")
    }

    pub fn try_connect(socket: &Path) -> Result<Client, tonic::transport::Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let inner = rt.block_on(eclat_proto::connect(socket))?;
        Ok(Client { rt, inner })
    }

    pub fn load(
        &mut self,
        name: &str,
        file: &str,
        text: &str,
        defines: &[(&str, &str)],
    ) -> Result<pb::LoadReply, tonic::Status> {
        let req = self.load_request(name, file, text, defines);
        self.load_req(req)
    }

    /// The request [`Client::load`] sends.
    pub fn load_request(
        &self,
        name: &str,
        file: &str,
        text: &str,
        defines: &[(&str, &str)],
    ) -> pb::LoadRequest {
        pb::LoadRequest {
            name: name.into(),
            source: Some(pb::Source {
                file_name: file.into(),
                text: text.into(),
                siblings: Default::default(),
            }),
            defines: defines
                .iter()
                .map(|(n, v)| pb::Define {
                    name: (*n).into(),
                    value: (*v).into(),
                })
                .collect(),
            ..Default::default()
        }
    }

    /// Loads `text` as script `name` at `--priority priority` with `--proceed-on proceed_on`
    /// (`None`: the defaults).
    pub fn load_placed(
        &mut self,
        name: &str,
        text: &str,
        defines: &[(&str, &str)],
        priority: Option<u32>,
        proceed_on: Option<&str>,
    ) -> Result<pb::LoadReply, tonic::Status> {
        let mut req = self.load_request(name, &format!("{name}.eclat"), text, defines);
        req.priority = priority;
        req.proceed_on = proceed_on.map(String::from);
        self.load_req(req)
    }

    pub fn load_req(&mut self, req: pb::LoadRequest) -> Result<pb::LoadReply, tonic::Status> {
        let c = &mut self.inner;
        self.rt.block_on(c.load(req)).map(|r| r.into_inner())
    }

    pub fn unload(&mut self, name: &str) -> Result<pb::UnloadReply, tonic::Status> {
        let c = &mut self.inner;
        self.rt
            .block_on(c.unload(pb::UnloadRequest { name: name.into() }))
            .map(|r| r.into_inner())
    }

    pub fn check(&mut self, req: pb::CheckRequest) -> Result<pb::CheckReply, tonic::Status> {
        let c = &mut self.inner;
        self.rt.block_on(c.check(req)).map(|r| r.into_inner())
    }

    pub fn try_list(&mut self) -> Result<pb::ListReply, tonic::Status> {
        let c = &mut self.inner;
        self.rt
            .block_on(c.list(pb::ListRequest {}))
            .map(|r| r.into_inner())
    }

    /// Subscribes to the events of `script`.
    pub fn subscribe(&mut self, script: &str) -> tonic::Streaming<pb::Event> {
        let c = &mut self.inner;
        self.rt
            .block_on(c.events(pb::EventsRequest {
                script: script.into(),
            }))
            .expect("subscribe to events")
            .into_inner()
    }

    /// The next event of a subscription (`None` when the stream ends).
    /// Panics after 30 s without one, rather than hanging the test run.
    pub fn next_event(&mut self, s: &mut tonic::Streaming<pb::Event>) -> Option<pb::Event> {
        self.rt
            .block_on(async {
                tokio::time::timeout(std::time::Duration::from_secs(30), s.message()).await
            })
            .expect("an event within 30 s")
            .expect("event stream")
    }

    pub fn list(&mut self) -> pb::ListReply {
        let c = &mut self.inner;
        self.rt
            .block_on(c.list(pb::ListRequest {}))
            .expect("list")
            .into_inner()
    }

    pub fn stats(&mut self, script: &str) -> Result<pb::StatsReply, tonic::Status> {
        let c = &mut self.inner;
        self.rt
            .block_on(c.stats(pb::StatsRequest {
                script: script.into(),
            }))
            .map(|r| r.into_inner())
    }

    pub fn dump(&mut self, script: &str, map: &str) -> Result<pb::DumpMapReply, tonic::Status> {
        let c = &mut self.inner;
        self.rt
            .block_on(c.dump_map(pb::MapRequest {
                script: script.into(),
                map: map.into(),
            }))
            .map(|r| r.into_inner())
    }

    pub fn get(
        &mut self,
        script: &str,
        map: &str,
        key: &str,
    ) -> Result<pb::MapEntryReply, tonic::Status> {
        let c = &mut self.inner;
        self.rt
            .block_on(c.get_map_entry(pb::MapKeyRequest {
                script: script.into(),
                map: map.into(),
                key: key.into(),
            }))
            .map(|r| r.into_inner())
    }

    pub fn set(
        &mut self,
        script: &str,
        map: &str,
        key: &str,
        value: &str,
    ) -> Result<pb::MapEntryReply, tonic::Status> {
        let c = &mut self.inner;
        self.rt
            .block_on(c.set_map_entry(pb::SetMapEntryRequest {
                script: script.into(),
                map: map.into(),
                key: key.into(),
                value: value.into(),
            }))
            .map(|r| r.into_inner())
    }

    pub fn delete(
        &mut self,
        script: &str,
        map: &str,
        key: &str,
    ) -> Result<pb::MapEntryReply, tonic::Status> {
        let c = &mut self.inner;
        self.rt
            .block_on(c.delete_map_entry(pb::MapKeyRequest {
                script: script.into(),
                map: map.into(),
                key: key.into(),
            }))
            .map(|r| r.into_inner())
    }

    pub fn clear(&mut self, script: &str, map: &str) -> Result<pb::ClearMapReply, tonic::Status> {
        let c = &mut self.inner;
        self.rt
            .block_on(c.clear_map(pb::MapRequest {
                script: script.into(),
                map: map.into(),
            }))
            .map(|r| r.into_inner())
    }

    pub fn reset_stats(&mut self, script: &str) -> Result<pb::ResetStatsReply, tonic::Status> {
        let c = &mut self.inner;
        self.rt
            .block_on(c.reset_stats(pb::StatsRequest {
                script: script.into(),
            }))
            .map(|r| r.into_inner())
    }

    /// `monitor.monitor_map` of `script` as {key: packets}.
    pub fn monitor(&mut self, script: &str) -> std::collections::BTreeMap<u64, u64> {
        let dump = self
            .dump(script, "monitor.monitor_map")
            .expect("dump monitor");
        dump.entries
            .iter()
            .map(|e| {
                let k: serde_json::Value = serde_json::from_str(&e.key).unwrap();
                let v: serde_json::Value = serde_json::from_str(&e.value).unwrap();
                let v = v
                    .as_u64()
                    .or_else(|| v["packets"].as_u64())
                    .unwrap_or_else(|| panic!("monitor value {v}"));
                (k.as_u64().unwrap(), v)
            })
            .collect()
    }
}

/// What the daemon process holds: open descriptors, of which BPF programs, maps and links
/// (from `/proc/PID/fdinfo`), and its resident memory in KiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Holdings {
    pub fds: usize,
    pub progs: usize,
    pub maps: usize,
    pub links: usize,
    pub rss_kib: u64,
}

pub fn holdings(pid: u32) -> Holdings {
    let mut h = Holdings {
        fds: 0,
        progs: 0,
        maps: 0,
        links: 0,
        rss_kib: 0,
    };
    for e in std::fs::read_dir(format!("/proc/{pid}/fdinfo")).expect("fdinfo") {
        let Ok(info) = std::fs::read_to_string(e.unwrap().path()) else {
            continue;
        };
        h.fds += 1;
        h.progs += usize::from(info.contains("\nprog_id:"));
        h.maps += usize::from(info.contains("\nmap_id:"));
        h.links += usize::from(info.contains("\nlink_id:"));
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    h.rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    h
}

/// Every file under `dir`, recursively (pins).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A script that counts every IPv6 packet under monitor key `key` and drops it.
/// A script that counts every IPv6 packet of DEVNAME under `monitor` key `key` and passes it
/// (its chain returns: the loader's default verdict, XDP_PASS).
pub fn count_and_pass(key: u32) -> String {
    format!(
        "\
from programs.net import monitor
from loaders.basic import ip6_sc

ip6_sc[ip6_sc_map] = {{ (0): (count_pass) }}
ip6_sc.attach('DEVNAME', 'xdp')

def count_pass():
    monitor({key})
    return 0
"
    )
}

pub fn count_and_drop(key: u32) -> String {
    format!(
        "\
from programs.net import hike_drop, monitor
from loaders.basic import ip6_sc

ip6_sc[ip6_sc_map] = {{ (0): (count_drop) }}
ip6_sc.attach('DEVNAME', 'xdp')

def count_drop():
    monitor({key})
    hike_drop()
    return 0
"
    )
}
