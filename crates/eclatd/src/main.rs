//! `eclatd [--socket PATH] [--state-dir DIR] [--metrics-listen ADDR] [--listen-tls ADDR ...]
//! [--etcd URL --node NAME ...]`:
//! the eCLAT daemon. See the crate docs
//! (`lib.rs`) for what it does; `main` only reads the command line and runs the server.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use eclatd::Options;
use hike_runtime::bpffs::{BpffsSource, Enter};

/// The eCLAT daemon: loads eCLAT scripts into a pinned HIKe VM and manages them, over gRPC
/// on a Unix socket that only root can use. Loaded scripts survive a restart of the daemon
/// (also `kill -9`): the next eclatd adopts them.
#[derive(Debug, Parser)]
#[command(name = "eclatd", version = eclat_proto::version::line(), about)]
struct Args {
    /// The Unix socket to serve on (created with mode 0600).
    #[arg(long, value_name = "PATH", default_value = "/run/eclat/eclatd.sock")]
    socket: PathBuf,
    /// Where the state file lives.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/eclat")]
    state_dir: PathBuf,
    /// The VM instance: its pins live in BPFFS/hike/INSTANCE.
    #[arg(long, value_name = "NAME", default_value = "eclatd")]
    instance: String,
    /// Where the BPF filesystem is mounted (it is mounted there if it is not).
    #[arg(long, value_name = "DIR", default_value = "/sys/fs/bpf")]
    bpffs: PathBuf,
    /// Start without a state file even if the instance has pinned loaders or programs, and
    /// remove them (normally eclatd refuses: they may be carrying traffic).
    #[arg(long)]
    reset: bool,
    /// A directory of user packages (`DIR/PKG/*.bpf.c`, compiled with clang on first use), read
    /// again by every check and load: a script loaded after a package changed runs its new
    /// build.
    #[arg(long = "package-dir", value_name = "DIR")]
    package_dirs: Vec<PathBuf>,
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics (off unless given).
    #[arg(long, value_name = "ADDR:PORT")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Also serve the gRPC API over TCP with TLS on ADDR:PORT, to clients presenting a
    /// certificate issued by --client-ca (off unless given; needs --tls-cert, --tls-key,
    /// --client-ca).
    #[arg(long, value_name = "ADDR:PORT", requires_all = ["tls_cert", "tls_key", "client_ca"])]
    listen_tls: Option<std::net::SocketAddr>,
    /// The daemon's TLS certificate chain (PEM), for --listen-tls.
    #[arg(long, value_name = "FILE", requires = "listen_tls")]
    tls_cert: Option<PathBuf>,
    /// The daemon's TLS private key (PEM), for --listen-tls.
    #[arg(long, value_name = "FILE", requires = "listen_tls")]
    tls_key: Option<PathBuf>,
    /// The CA certificate (PEM) that issues the certificates of remote clients.
    #[arg(long, value_name = "FILE", requires = "listen_tls")]
    client_ca: Option<PathBuf>,
    /// Join a fleet: the etcd endpoints (URL[,URL…]; `https://` with --etcd-ca). The daemon
    /// registers as --node, watches the fleet's desired state and converges to it; without
    /// it, eclatd is a single-node daemon.
    #[arg(long, value_name = "URL[,URL…]", requires = "node")]
    etcd: Vec<String>,
    /// This node's name in the fleet (with --etcd).
    #[arg(long, value_name = "NAME", requires = "etcd")]
    node: Option<String>,
    /// A label of this node (KEY=VALUE, repeatable), for `eclat fleet apply --selector`.
    #[arg(long = "label", value_name = "KEY=VALUE", requires = "etcd")]
    labels: Vec<String>,
    /// Where the fleet's keys live in etcd.
    #[arg(long, value_name = "PREFIX", default_value = eclat_fleet::keys::DEFAULT_PREFIX)]
    etcd_prefix: String,
    /// The CA certificate (PEM) that issued etcd's certificate.
    #[arg(long, value_name = "FILE", requires = "etcd")]
    etcd_ca: Option<PathBuf>,
    /// A client certificate (PEM) for etcd (with --etcd-key).
    #[arg(long, value_name = "FILE", requires_all = ["etcd", "etcd_key"])]
    etcd_cert: Option<PathBuf>,
    /// The client certificate's key (PEM).
    #[arg(long, value_name = "FILE", requires_all = ["etcd", "etcd_cert"])]
    etcd_key: Option<PathBuf>,
    /// Seconds without an answer after which the fleet no longer counts this node as live.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, hide = true)]
    etcd_lease_ttl: u64,
    /// How log lines are written: `text` or `json`.
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    log_format: eclatd::log::LogFormat,
    /// Write the man page (eclatd.1) into DIR and exit (`make install`).
    #[arg(long, value_name = "DIR", hide = true)]
    write_man: Option<PathBuf>,
}

impl Args {
    /// The same arguments with every path absolute (against the working directory now), so
    /// that they mean the same after the process changes mount namespace.
    fn absolute(self) -> std::io::Result<Args> {
        let abs = |p: PathBuf| std::path::absolute(&p);
        Ok(Args {
            socket: abs(self.socket)?,
            state_dir: abs(self.state_dir)?,
            bpffs: abs(self.bpffs)?,
            tls_cert: self.tls_cert.map(abs).transpose()?,
            tls_key: self.tls_key.map(abs).transpose()?,
            client_ca: self.client_ca.map(abs).transpose()?,
            etcd_ca: self.etcd_ca.map(abs).transpose()?,
            etcd_cert: self.etcd_cert.map(abs).transpose()?,
            etcd_key: self.etcd_key.map(abs).transpose()?,
            package_dirs: self
                .package_dirs
                .into_iter()
                .map(abs)
                .collect::<std::io::Result<_>>()?,
            ..self
        })
    }
}

/// `--write-man DIR`: eclatd.1, from the definition above, DIR created if missing (as
/// `eclat man DIR` does).
fn write_man(dir: &std::path::Path) -> ExitCode {
    use clap::CommandFactory;
    match std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(Args::command(), dir))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "eclatd: error: cannot write the man page into `{}`: {e}",
                dir.display()
            );
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(dir) = &args.write_man {
        return write_man(dir);
    }
    let args = match args.absolute() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("eclatd: error: cannot resolve the paths given: {e}");
            return ExitCode::FAILURE;
        }
    };
    let fleet = match fleet_options(&args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("eclatd: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    unblock_signals();
    eclatd::log::init(args.log_format);
    // Before any thread exists: this may move the process into the host's mount namespace.
    match hike_runtime::bpffs::prepare(&args.bpffs, Enter::Allowed) {
        Ok(BpffsSource::Mounted) => {}
        Ok(BpffsSource::MountedNow) => eprintln!(
            "eclatd: mounted a BPF filesystem at `{}`",
            args.bpffs.display()
        ),
        Ok(BpffsSource::EnteredHost { host }) => eprintln!(
            "eclatd: `{}` is not a BPF filesystem in the mount namespace eclatd was started in \
             (`ip netns exec` makes one with a fresh /sys): eclatd entered the host's mount \
             namespace (that of {}), where it is, so that its pins outlive it; its network \
             namespace is unchanged",
            args.bpffs.display(),
            host.display()
        ),
        Err(e) => {
            eprintln!("eclatd: error: {e}");
            return ExitCode::FAILURE;
        }
    }
    // Every temporary file of the daemon and of what it runs (clang compiling a client's C
    // chains, say) goes into its own 0700 working directory (created by `Daemon::start` once
    // the state directory is checked), not the shared /tmp.
    // SAFETY: no other thread exists yet that could read the environment concurrently.
    unsafe { std::env::set_var("TMPDIR", eclatd::daemon::temp_dir(&args.state_dir)) };
    let extras = eclatd::server::Extras {
        metrics: args.metrics_listen,
        tls: args.listen_tls.map(|listen| eclatd::tls::TlsOptions {
            listen,
            cert: args.tls_cert.clone().expect("required by clap"),
            key: args.tls_key.clone().expect("required by clap"),
            client_ca: args.client_ca.clone().expect("required by clap"),
        }),
        fleet,
    };
    let opts = Options {
        state_dir: args.state_dir,
        instance: args.instance,
        bpffs: args.bpffs,
        package_dirs: args.package_dirs,
        grace: Duration::from_secs(1),
        reset: args.reset,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("eclatd: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(eclatd::server::serve_with(
        opts,
        args.socket,
        extras,
        shutdown_signal(),
    ));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eclatd: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `--etcd` and its options, checked: a node name and labels that fit in the fleet's keys.
fn fleet_options(args: &Args) -> Result<Option<eclatd::fleet::FleetOptions>, String> {
    let endpoints = eclat_fleet::EtcdOptions::split_endpoints(&args.etcd);
    if endpoints.is_empty() {
        return Ok(None);
    }
    let node = args.node.clone().expect("required by clap");
    eclat_fleet::keys::check_name("node", &node).map_err(|e| format!("--node: {e}"))?;
    let labels =
        eclat_fleet::selector::parse_labels(&args.labels).map_err(|e| format!("--label: {e}"))?;
    Ok(Some(eclatd::fleet::FleetOptions {
        etcd: eclat_fleet::EtcdOptions {
            endpoints,
            ca: args.etcd_ca.clone(),
            cert: args.etcd_cert.clone(),
            key: args.etcd_key.clone(),
        },
        prefix: args.etcd_prefix.clone(),
        node,
        labels,
        lease_ttl: Duration::from_secs(args.etcd_lease_ttl.max(1)),
    }))
}

/// SIGINT or SIGTERM: stop serving (what is loaded stays loaded).
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// A parent may start us with signals blocked (a `std::process::Command` child inherits the
/// mask): SIGTERM and SIGINT must reach the shutdown handler.
fn unblock_signals() {
    // SAFETY: an empty set built by sigemptyset, then sigprocmask on this (only) thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}
