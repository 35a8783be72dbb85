//! A real etcd for the fleet tests and the fleet benchmark: the `etcd` binary of Debian's
//! `etcd-server` package (`scripts/install-deps.sh`), started by the test itself on free ports
//! (below the ephemeral range, picked again if one is taken before etcd binds it) with its
//! data in a temporary directory, waited for by polling its `/health` endpoint, and
//! killed on drop (also when a test panics; the parent-death signal covers a killed test).
//!
//! [`Etcd::start_tls`] serves clients over TLS with client certificates, all made here with
//! `rcgen` ([`TlsFiles`]). It is not a cluster (one member) and not a product API: it knows
//! etcd only by its command line and its health endpoint.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What went wrong with the test's etcd.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    /// The binary is not installed.
    #[error("cannot start `etcd` ({source}); install the `etcd-server` package (`make deps`)")]
    Spawn {
        /// Why.
        source: std::io::Error,
    },
    /// It exited or never became healthy.
    #[error("etcd did not become healthy within {waited:?}; the end of its log:\n{log}")]
    NotHealthy {
        /// How long we waited.
        waited: Duration,
        /// Its log's last lines.
        log: String,
    },
    /// A file or directory of its own could not be made.
    #[error("cannot prepare etcd's files in `{path}`: {source}")]
    Files {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The certificates could not be made.
    #[error("cannot make the test certificates: {0}")]
    Certificates(String),
}

/// The certificates of a TLS etcd, as files in its directory (PEM).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The CA that issued both certificates.
    pub ca: PathBuf,
    /// A client certificate and its key (for eclatd and the CLI).
    pub client_cert: PathBuf,
    /// The client certificate's key.
    pub client_key: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
}

/// A running single-member etcd.
#[derive(Debug)]
pub struct Etcd {
    child: Option<Child>,
    dir: PathBuf,
    listen: Vec<IpAddr>,
    client_port: u16,
    peer_port: u16,
    metrics_port: u16,
    tls: Option<TlsFiles>,
}

/// How long etcd may take to become healthy (it is ready in well under a second here).
const HEALTHY_WITHIN: Duration = Duration::from_secs(30);

/// How many times [`Etcd::start`] picks new ports when etcd finds one taken.
const START_ATTEMPTS: u32 = 5;

/// The lowest port the kernel hands out for outgoing connections
/// (`net.ipv4.ip_local_port_range`, 32768 unless set).
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
}

/// A free port for one of etcd's listeners, at random below the ephemeral range. A port the
/// kernel picked (binding port 0) is in that range, where any outgoing connection on the
/// machine may take it before etcd binds it: CI saw etcd's client port "already in use" 20 ms
/// after it was picked. Below the range only another test's pick can collide, and
/// [`Etcd::start`] then picks again.
fn free_port() -> std::io::Result<u16> {
    use std::hash::{BuildHasher, Hasher};
    let high = ephemeral_low().max(10_001);
    let low = high.saturating_sub(20_000).max(10_000);
    for i in 0..256u32 {
        // RandomState's keys are random per process and change with every instance.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(i);
        let port = low + (h.finish() % u64::from(high - low)) as u16;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        format!("no free port found in {low}..{high}"),
    ))
}

/// Three distinct free ports ([`free_port`]): client, peer, metrics.
fn free_ports() -> std::io::Result<[u16; 3]> {
    let mut ports = [free_port()?, 0, 0];
    for i in 1..3 {
        ports[i] = free_port()?;
        while ports[..i].contains(&ports[i]) {
            ports[i] = free_port()?;
        }
    }
    Ok(ports)
}

impl Etcd {
    /// Starts etcd serving plain HTTP on `127.0.0.1` and on each of `also` (addresses that
    /// exist on this host, say a bridge that network namespaces reach).
    pub fn start(also: &[IpAddr]) -> Result<Etcd, EtcdError> {
        Etcd::start_with(also, false)
    }

    /// [`Etcd::start`] with TLS and client certificates required; see [`Etcd::tls`].
    pub fn start_tls(also: &[IpAddr]) -> Result<Etcd, EtcdError> {
        Etcd::start_with(also, true)
    }

    fn start_with(also: &[IpAddr], tls: bool) -> Result<Etcd, EtcdError> {
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hike-etcd-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let files = |source| EtcdError::Files {
            path: dir.clone(),
            source,
        };
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(files)?;
        let mut listen = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
        listen.extend_from_slice(also);
        let tls = if tls {
            Some(make_certificates(&dir, &listen)?)
        } else {
            None
        };
        let mut etcd = Etcd {
            child: None,
            client_port: 0,
            peer_port: 0,
            metrics_port: 0,
            dir,
            listen,
            tls,
        };
        let mut attempt = 1;
        loop {
            [etcd.client_port, etcd.peer_port, etcd.metrics_port] =
                free_ports().map_err(|source| EtcdError::Files {
                    path: etcd.dir.clone(),
                    source,
                })?;
            match etcd.spawn() {
                Err(EtcdError::NotHealthy { log, .. })
                    if attempt < START_ATTEMPTS && log.contains("address already in use") =>
                {
                    // Another test took a port between the pick and etcd's bind: start
                    // afresh on new ones (its data names its peer URL, so it goes too).
                    attempt += 1;
                    etcd.stop();
                    let _ = std::fs::remove_dir_all(etcd.dir.join("data"));
                    let _ = std::fs::remove_file(etcd.log_path());
                }
                other => return other.map(|()| etcd),
            }
        }
    }

    /// The client URLs (one per listening address), `http://` or `https://`.
    pub fn urls(&self) -> Vec<String> {
        self.listen.iter().map(|ip| self.url_on(*ip)).collect()
    }

    /// The client URL on `ip` (one of the listening addresses).
    pub fn url_on(&self, ip: IpAddr) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", SocketAddr::new(ip, self.client_port))
    }

    /// The loopback client URL.
    pub fn url(&self) -> String {
        self.url_on(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// The certificates, for a TLS etcd.
    pub fn tls(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// Whether it runs.
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills it (`SIGKILL`) and waits; its data stays for [`Etcd::restart`].
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same ports with the same data, and waits until it is healthy.
    pub fn restart(&mut self) -> Result<(), EtcdError> {
        self.stop();
        self.spawn()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("etcd.log")
    }

    fn spawn(&mut self) -> Result<(), EtcdError> {
        let files = |source| EtcdError::Files {
            path: self.dir.clone(),
            source,
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(files)?;
        let log_err = log.try_clone().map_err(files)?;
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let clients = self.urls().join(",");
        let mut cmd = Command::new("etcd");
        cmd.arg("--name")
            .arg("test")
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .arg("--listen-client-urls")
            .arg(&clients)
            .arg("--advertise-client-urls")
            .arg(self.url())
            .arg("--listen-peer-urls")
            .arg(&peer)
            .arg("--initial-advertise-peer-urls")
            .arg(&peer)
            .arg("--initial-cluster")
            .arg(format!("test={peer}"))
            .arg("--listen-metrics-urls")
            .arg(format!("http://127.0.0.1:{}", self.metrics_port))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        if let Some(t) = &self.tls {
            cmd.arg("--cert-file")
                .arg(&t.server_cert)
                .arg("--key-file")
                .arg(&t.server_key)
                .arg("--trusted-ca-file")
                .arg(&t.ca)
                .arg("--client-cert-auth");
        }
        // SAFETY: prctl is async-signal-safe and allocates nothing.
        unsafe {
            cmd.pre_exec(|| {
                // etcd dies with the test process, even one killed without its drops.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|source| EtcdError::Spawn { source })?;
        self.child = Some(child);
        self.wait_healthy()
    }

    /// Polls `/health` on the metrics port (plain HTTP even when clients use TLS) until it
    /// says `true`, failing early if the process exits.
    fn wait_healthy(&mut self) -> Result<(), EtcdError> {
        let started = Instant::now();
        while started.elapsed() < HEALTHY_WITHIN {
            if let Some(c) = self.child.as_mut() {
                if c.try_wait().ok().flatten().is_some() {
                    self.child = None;
                    break;
                }
            }
            if self.healthy() {
                return Ok(());
            }
            // Polling, not synchronisation: the next question is asked 20 ms later.
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(EtcdError::NotHealthy {
            waited: started.elapsed(),
            log: self.log_tail(),
        })
    }

    /// Whether `/health` answers `"health":"true"`.
    pub fn healthy(&self) -> bool {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.metrics_port));
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut body = String::new();
        let _ = s.read_to_string(&mut body);
        body.replace(' ', "").contains("\"health\":\"true\"")
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Its directory (data, log, certificates).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A CA, a server certificate for `ips` and a client certificate, written into `dir`.
fn make_certificates(dir: &Path, ips: &[IpAddr]) -> Result<TlsFiles, EtcdError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose, SanType,
    };
    let err = |e: rcgen::Error| EtcdError::Certificates(e.to_string());
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "hike-testkit etcd CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().map_err(err)?;
    let ca_pem = ca_params.self_signed(&ca_key).map_err(err)?.pem();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |server: bool| -> Result<(String, String), EtcdError> {
        let mut p = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        if server {
            p.subject_alt_names = ips.iter().map(|ip| SanType::IpAddress(*ip)).collect();
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        } else {
            p.distinguished_name.push(DnType::CommonName, "fleet");
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        let key = KeyPair::generate().map_err(err)?;
        let cert = p.signed_by(&key, &issuer).map_err(err)?;
        Ok((cert.pem(), key.serialize_pem()))
    };
    let (server_pem, server_key) = leaf(true)?;
    let (client_pem, client_key) = leaf(false)?;
    let write = |name: &str, text: &str| -> Result<PathBuf, EtcdError> {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|source| EtcdError::Files {
            path: p.clone(),
            source,
        })?;
        Ok(p)
    };
    Ok(TlsFiles {
        ca: write("ca.pem", &ca_pem)?,
        server_cert: write("server.pem", &server_pem)?,
        server_key: write("server-key.pem", &server_key)?,
        client_cert: write("client.pem", &client_pem)?,
        client_key: write("client-key.pem", &client_key)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn its_ports_are_distinct_and_below_the_ephemeral_range() {
        let low = ephemeral_low();
        for _ in 0..50 {
            let ports = free_ports().unwrap();
            assert!(ports.iter().all(|&p| p < low), "{ports:?} not below {low}");
            assert!(ports[0] != ports[1] && ports[1] != ports[2] && ports[0] != ports[2]);
        }
    }

    #[test]
    fn etcd_starts_healthy_stops_and_restarts_with_its_data() {
        let mut etcd = Etcd::start(&[]).expect("etcd");
        assert!(etcd.healthy());
        assert!(etcd.url().starts_with("http://127.0.0.1:"));
        let data = etcd.dir().join("data");
        etcd.stop();
        assert!(!etcd.healthy(), "a stopped etcd answers no health check");
        assert!(data.exists(), "its data outlives a stop");
        etcd.restart().expect("restart");
        assert!(etcd.healthy());
        let dir = etcd.dir().to_owned();
        drop(etcd);
        assert!(!dir.exists(), "dropping it removes its directory");
    }

    #[test]
    fn a_tls_etcd_has_https_urls_and_certificates() {
        let etcd = Etcd::start_tls(&[]).expect("etcd");
        assert!(etcd.url().starts_with("https://127.0.0.1:"));
        let tls = etcd.tls().expect("tls files");
        for f in [&tls.ca, &tls.client_cert, &tls.client_key] {
            assert!(std::fs::read_to_string(f).unwrap().contains("-----BEGIN"));
        }
        assert!(etcd.healthy());
    }
}
