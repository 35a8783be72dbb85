//! `eclatd --metrics-listen`: the exposition passes Prometheus's own checker
//! (`promtool check metrics`) and its figures are those of the traffic sent and the
//! operations made; `--log-format json` writes one JSON line per operation. Needs root.

mod support;

use std::io::{Read, Write};

use support::{count_and_drop, frames, Daemon, Netns};

/// The address in the daemon's "serving metrics on http://ADDR/metrics" line.
fn metrics_addr(d: &Daemon) -> String {
    assert!(
        d.wait_for_log("serving metrics on"),
        "{}",
        d.log.lock().unwrap()
    );
    let log = d.log.lock().unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("serving metrics on"))
        .unwrap();
    let url = line.rsplit(' ').next().unwrap();
    url.trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_owned()
}

/// GET `/metrics` (from inside the daemon's namespace): `(status line, content type, body)`.
fn scrape(ns: &Netns, addr: &str) -> (String, String, String) {
    let addr = addr.to_owned();
    let raw = ns.run_in(move || {
        let mut s = std::net::TcpStream::connect(&addr).expect("connect to the metrics port");
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    });
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP reply");
    let status = head.lines().next().unwrap().to_owned();
    let ctype = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap_or("")
        .to_owned();
    (status, ctype, body.to_owned())
}

/// The value of the sample `name{labels}` exactly as written (labels sorted by name).
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// `promtool check metrics` on `body`: its verdict (exit status and output).
fn promtool(body: &str) -> (bool, String) {
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package `prometheus`; `make deps` installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_metrics_pass_promtool_and_count_the_traffic_and_operations() {
    let ns = Netns::new();
    let mut d = Daemon::new(Some(&ns));
    d.extra_args = vec![
        "--metrics-listen".into(),
        "127.0.0.1:0".into(),
        "--log-format".into(),
        "json".into(),
    ];
    d.spawn();
    let addr = metrics_addr(&d);
    let mut c = d.client();

    // Nothing loaded: valid, with the build and zero operations.
    let (status, ctype, body) = scrape(&ns, &addr);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let (ok, why) = promtool(&body);
    assert!(ok, "promtool: {why}\n{body}");
    let build = format!(
        "eclat_build_info{{abi=\"{}\",git=\"{}\",version=\"{}\"}}",
        eclat_proto::version::ABI,
        eclat_proto::version::GIT,
        eclat_proto::version::VERSION
    );
    assert_eq!(sample(&body, &build), Some(1.0), "{body}");
    assert_eq!(sample(&body, "eclat_loads_total"), Some(0.0), "{body}");
    assert_eq!(sample(&body, "eclat_scripts"), Some(0.0), "{body}");

    c.load("", "cnt.eclat", &count_and_drop(1), &[("DEVNAME", "v0")])
        .expect("load");
    assert_eq!(ns.send("v1", &frames("fc00::1", "fc00::2", 37)), 37);
    // A refused load: a script with an error.
    let refused = c
        .load("cnt", "cnt.eclat", "def broken(:\n", &[])
        .unwrap_err();

    let (_, _, body) = scrape(&ns, &addr);
    let (ok, why) = promtool(&body);
    assert!(ok, "promtool: {why}\n{body}");
    let g1 = "{chain=\"count_drop\",generation=\"1\",script=\"cnt\"}";
    assert_eq!(
        sample(&body, &format!("eclat_chain_runs_total{g1}")),
        Some(37.0),
        "{body}"
    );
    let calls = |program: &str| {
        body.lines()
            .find(|l| {
                l.starts_with("eclat_program_calls_total{")
                    && l.contains(&format!("program=\"{program}\""))
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
    };
    assert_eq!(calls("monitor"), Some(37.0), "{body}");
    assert_eq!(calls("hike_drop"), Some(37.0), "{body}");
    assert_eq!(
        sample(&body, "eclat_vm_packets_total"),
        Some(37.0),
        "{body}"
    );
    assert_eq!(
        sample(
            &body,
            "eclat_attachment_info{generation=\"1\",hook=\"xdp\",interface=\"v0\",script=\"cnt\"}"
        ),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(
            &body,
            "eclat_packets_total{hook=\"xdp\",interface=\"v0\",script=\"cnt\",verdict=\"drop\"}"
        ),
        Some(37.0),
        "packets by verdict per interface and hook: {body}"
    );
    assert!(
        !body.contains("verdict=\"pass\""),
        "no packet passed: {body}"
    );
    assert_eq!(sample(&body, "eclat_loads_total"), Some(1.0), "{body}");
    assert_eq!(
        sample(&body, "eclat_load_duration_seconds_count"),
        Some(1.0),
        "{body}"
    );
    let code = format!("{:?}", refused.code());
    assert_eq!(code, "InvalidArgument", "{refused:?}");
    assert_eq!(
        sample(
            &body,
            "eclat_refusals_total{code=\"invalid_argument\",operation=\"load\"}"
        ),
        Some(1.0),
        "{body}"
    );

    // A replacement starts the new generation's counters at zero.
    c.load("", "cnt.eclat", &count_and_drop(2), &[("DEVNAME", "v0")])
        .expect("replace");
    assert_eq!(ns.send("v1", &frames("fc00::1", "fc00::2", 5)), 5);
    let (_, _, body) = scrape(&ns, &addr);
    assert_eq!(
        sample(
            &body,
            "eclat_packets_total{hook=\"xdp\",interface=\"v0\",script=\"cnt\",verdict=\"drop\"}"
        ),
        Some(42.0),
        "a script's packets by verdict go on across a replace: {body}"
    );
    c.unload("cnt").expect("unload");
    let (_, _, body) = scrape(&ns, &addr);
    let (ok, why) = promtool(&body);
    assert!(ok, "promtool: {why}\n{body}");
    assert_eq!(sample(&body, "eclat_replaces_total"), Some(1.0), "{body}");
    assert_eq!(
        sample(&body, "eclat_replace_duration_seconds_count"),
        Some(1.0),
        "{body}"
    );
    assert_eq!(sample(&body, "eclat_unloads_total"), Some(1.0), "{body}");
    assert_eq!(sample(&body, "eclat_scripts"), Some(0.0), "{body}");
    assert_eq!(
        sample(&body, "eclat_vm_packets_total"),
        Some(42.0),
        "{body}"
    );
    assert!(!body.contains("eclat_chain_runs_total{"), "{body}");

    // One JSON line per operation, with the script, generation and duration.
    assert!(d.wait_for_log("\"unloaded\""), "{}", d.log.lock().unwrap());
    let log = d.log.lock().unwrap().clone();
    let ops: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("a JSON log line"))
        .collect();
    let op = |message: &str| {
        ops.iter()
            .find(|v| v["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("no `{message}` line in:\n{log}"))
    };
    assert_eq!(op("loaded")["fields"]["script"], "cnt");
    assert_eq!(op("loaded")["fields"]["generation"], 1);
    assert!(op("loaded")["fields"]["duration_s"].as_f64().unwrap() > 0.0);
    assert_eq!(op("replaced")["fields"]["generation"], 2);
    assert_eq!(op("unloaded")["fields"]["generation"], 2);
    assert_eq!(op("refused")["fields"]["operation"], "load");
    assert_eq!(op("refused")["fields"]["code"], "invalid_argument");
    assert_eq!(op("refused")["level"], "WARN");
}
