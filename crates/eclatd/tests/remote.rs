//! `eclatd --listen-tls`: remote management over mutual TLS. The certificates are made here
//! (`rcgen`): a client without a certificate, with one of another CA, or with an expired one
//! is refused; one with a good certificate loads and unloads a script; the Unix socket works
//! as before beside it. Needs root.

mod support;

use std::path::{Path, PathBuf};

use eclat_proto::v1 as pb;
use eclat_proto::{connect_tls, TlsFiles};
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, SanType,
};
use support::{count_and_drop, Daemon, Netns};

/// A CA: its certificate (PEM) and what signs with it.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    Ca {
        pem,
        issuer: Issuer::new(params, key),
    }
}

/// A leaf certificate signed by `ca`: `(certificate PEM, key PEM)`.
fn leaf(ca: &Ca, server: bool, expired: bool) -> (String, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    if server {
        params.subject_alt_names = vec![SanType::IpAddress("127.0.0.1".parse().unwrap())];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    } else {
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "operator");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    }
    if expired {
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(30);
        params.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Connects to `url` from inside `ns` with `files`, and runs `f` on the client.
fn remote<T: Send>(
    ns: &Netns,
    url: &str,
    files: &TlsFiles,
    f: impl FnOnce(
            &tokio::runtime::Runtime,
            eclat_proto::EclatClient<tonic::transport::Channel>,
        ) -> Result<T, String>
        + Send,
) -> Result<T, String> {
    ns.run_in(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = rt
            .block_on(connect_tls(url, files))
            .map_err(|e| chain(&e))?;
        f(&rt, client)
    })
}

/// An error and its sources, one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        text.push_str(&format!(": {s}"));
        next = s.source();
    }
    text
}

fn list(
    rt: &tokio::runtime::Runtime,
    mut c: eclat_proto::EclatClient<tonic::transport::Channel>,
) -> Result<pb::ListReply, String> {
    rt.block_on(c.list(pb::ListRequest {}))
        .map(|r| r.into_inner())
        .map_err(|s| {
            format!(
                "{:?}: {}{}",
                s.code(),
                s.message(),
                std::error::Error::source(&s).map_or(String::new(), |e| format!(": {}", chain(e)))
            )
        })
}

/// The daemon's `refused` lines of connections.
fn connect_refusals(d: &Daemon) -> usize {
    d.log
        .lock()
        .unwrap()
        .lines()
        .filter(|l| l.contains("refused") && l.contains("operation=\"connect\""))
        .count()
}

#[test]
fn only_clients_with_a_valid_certificate_of_the_client_ca_get_in() {
    let ns = Netns::new();
    let mut d = Daemon::new(Some(&ns));
    let dir = d.dir.join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    let server_ca = ca("eclat test server CA");
    let client_ca = ca("eclat test client CA");
    let other_ca = ca("some other CA");
    let (scert, skey) = leaf(&server_ca, true, false);
    let (ccert, ckey) = leaf(&client_ca, false, false);
    let (ocert, okey) = leaf(&other_ca, false, false);
    let (xcert, xkey) = leaf(&client_ca, false, true);
    let server_ca_file = write(&dir, "server-ca.pem", &server_ca.pem);
    d.extra_args = vec![
        "--listen-tls".into(),
        "127.0.0.1:0".into(),
        "--tls-cert".into(),
        write(&dir, "server.pem", &scert).display().to_string(),
        "--tls-key".into(),
        write(&dir, "server.key", &skey).display().to_string(),
        "--client-ca".into(),
        write(&dir, "client-ca.pem", &client_ca.pem)
            .display()
            .to_string(),
    ];
    d.spawn();
    assert!(d.wait_for_log("over TLS"), "{}", d.log.lock().unwrap());
    let addr = {
        let log = d.log.lock().unwrap();
        let line = log.lines().find(|l| l.contains("over TLS")).unwrap();
        line.rsplit(' ').next().unwrap().to_owned()
    };
    let url = format!("https://{addr}");
    let files = |identity: Option<(&str, &str, &str)>| TlsFiles {
        ca: server_ca_file.clone(),
        identity: identity.map(|(name, cert, key)| {
            (
                write(&dir, &format!("{name}.pem"), cert),
                write(&dir, &format!("{name}.key"), key),
            )
        }),
    };

    // Refused: the client's call fails (in TLS 1.3 the server checks the client's
    // certificate after the client has finished, so the client sees the connection closed),
    // and the daemon logs the reason with a `refused` line.
    let refused = |f: &TlsFiles, reason: &str| {
        let e = remote(&ns, &url, f, list).expect_err("the daemon let in a client it must refuse");
        assert!(
            d.wait_for_log(reason),
            "the client got `{e}`; the daemon logged no `{reason}`:\n{}",
            d.log.lock().unwrap()
        );
    };
    refused(&files(None), "peer sent no certificates");
    refused(
        &files(Some(("other", &ocert, &okey))),
        "invalid peer certificate: UnknownIssuer",
    );
    refused(
        &files(Some(("expired", &xcert, &xkey))),
        "invalid peer certificate: certificate expired",
    );
    let refusals_before = connect_refusals(&d);
    assert!(refusals_before >= 3, "{}", d.log.lock().unwrap());

    // A good certificate: load and unload, as on the socket.
    let good = files(Some(("operator", &ccert, &ckey)));
    let (loaded, listed, unloaded) = remote(&ns, &url, &good, |rt, mut c| {
        let load = pb::LoadRequest {
            name: String::new(),
            source: Some(pb::Source {
                file_name: "cnt.eclat".into(),
                text: count_and_drop(3),
                siblings: Default::default(),
            }),
            defines: vec![pb::Define {
                name: "DEVNAME".into(),
                value: "v0".into(),
            }],
            loader: String::new(),
            ..Default::default()
        };
        let loaded = rt
            .block_on(c.load(load))
            .map_err(|s| s.message().to_owned())?
            .into_inner();
        let listed = list(rt, c.clone())?;
        let unloaded = rt
            .block_on(c.unload(pb::UnloadRequest { name: "cnt".into() }))
            .map_err(|s| s.message().to_owned())?
            .into_inner();
        Ok((loaded, listed, unloaded))
    })
    .expect("a client with a good certificate");
    assert_eq!(loaded.script.unwrap().name, "cnt");
    assert_eq!(listed.scripts.len(), 1);
    assert_eq!(unloaded.script.unwrap().name, "cnt");
    assert_eq!(ns.xdp_prog("v0"), 0, "unloaded: detached");
    // The good client was not refused (the client may retry a refused connection, so the
    // refusals above are at least one per bad client).
    assert_eq!(
        connect_refusals(&d),
        refusals_before,
        "{}",
        d.log.lock().unwrap()
    );
    // The socket beside it still works.
    assert!(d.client().list().scripts.is_empty());
    // The operations were logged as text lines, with the script and generation.
    assert!(d.wait_for_log("unloaded"), "{}", d.log.lock().unwrap());
    let log = d.log.lock().unwrap().clone();
    let loaded = log.lines().find(|l| l.contains(" loaded ")).unwrap_or("");
    assert!(
        loaded.contains("INFO")
            && loaded.contains("script=\"cnt\"")
            && loaded.contains("generation=1"),
        "{log}"
    );
}
