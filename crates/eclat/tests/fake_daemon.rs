//! The daemon subcommands against a stand-in eclatd: tonic's server for the `eclat.v1` API
//! on a Unix socket, with canned replies. It proves what the client sends (the script, its
//! siblings, defines) and how it shows replies and refusals, without a kernel or root; the
//! real daemon's tests live with `eclatd`.

mod support;

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use eclat_proto::v1::{
    Attachment, Chain, CheckReply, CheckRequest, ClearMapReply, DumpMapReply, Event, EventsRequest,
    FaultCount, ListReply, ListRequest, LoadReply, LoadRequest, Loader, MapEntry, MapEntryReply,
    MapKeyRequest, MapRequest, MapReset, Program, ResetStatsReply, Script, SetMapEntryRequest,
    StatsReply, StatsRequest, UnloadReply, UnloadRequest,
};
use eclat_proto::{Eclat, EclatServer};
use serde_json::json;
use support::{eclat, json_lines, text, TempDir};
use tonic::{Request, Response, Status};

/// What the stand-in daemon was asked.
#[derive(Default)]
struct Seen {
    loads: Vec<LoadRequest>,
    sets: Vec<SetMapEntryRequest>,
    gets: Vec<MapKeyRequest>,
    deletes: Vec<MapKeyRequest>,
    clears: Vec<MapRequest>,
    resets: Vec<StatsRequest>,
}

struct Fake {
    seen: Arc<Mutex<Seen>>,
}

/// The rendered diagnostics of a script that does not compile, as the daemon sends them.
const BAD_SCRIPT: &str = "\
bad.eclat:2:5: error: unknown program or chain `nope`
  2 |     nope()
    |     ^^^^
";

fn script() -> Script {
    Script {
        name: "ddos".into(),
        file_name: "ddos.eclat".into(),
        defines: vec![eclat_proto::v1::Define {
            name: "DEVNAME".into(),
            value: "veth0".into(),
        }],
        generation: 2,
        tc_placement: "first".into(),
        chains: vec![Chain {
            name: "ddos_tb_2_lev".into(),
            id: 1,
            params: 0,
            insns: 40,
        }],
        programs: vec!["hike_pass".into(), "ip6_hset_srcdst".into()],
        loader: Some(Loader {
            name: "ip6_simple_classifier".into(),
            package: "hike_default".into(),
            kernel_id: 40,
            maps: vec!["ipv6_sc_map".into()],
            attachments: vec![Attachment {
                device: "veth0".into(),
                ifindex: 5,
                hook: "xdp".into(),
                present: true,
            }],
        }),
        loaded_at: 1_704_067_200,
        priority: 100,
        proceed_on: vec!["pass".into()],
    }
}

fn stats() -> StatsReply {
    StatsReply {
        scripts: vec![],
        faults: vec![FaultCount {
            reason: "no_prog".into(),
            count: 2,
        }],
        packets: 10,
        coverage: None,
    }
}

fn event(n: u32) -> Event {
    Event {
        kind: "chain".into(),
        script: "ddos".into(),
        chain: "ddos_tb_2_lev".into(),
        program: String::new(),
        code: n,
        values: vec![u64::from(n)],
        text: format!("event {n}"),
        // The first has no time (a daemon that sends none).
        ts_ns: if n == 1 {
            0
        } else {
            1_000_000_000 * u64::from(n)
        },
    }
}

/// Whether `s` reads as `YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ`.
fn is_utc_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 30
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            29 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

#[tonic::async_trait]
impl Eclat for Fake {
    async fn check(&self, _: Request<CheckRequest>) -> Result<Response<CheckReply>, Status> {
        Err(Status::unimplemented("`eclat check` works alone"))
    }

    async fn load(&self, request: Request<LoadRequest>) -> Result<Response<LoadReply>, Status> {
        let request = request.into_inner();
        self.seen
            .lock()
            .expect("not poisoned")
            .loads
            .push(request.clone());
        let source = request.source.expect("a source");
        if source.file_name.ends_with("bad.eclat") {
            return Err(Status::invalid_argument(BAD_SCRIPT));
        }
        Ok(Response::new(LoadReply {
            script: Some(script()),
            replaced: true,
            diagnostics: "ddos.eclat:1:1: warning: something to know\n".into(),
            maps: vec![
                MapReset {
                    map: "ip6_sd_tbmon.ip6_sd_tbmon_cfg".into(),
                    written: 1,
                    reset: vec!["0".into()],
                },
                MapReset {
                    map: "ip6_simple_classifier.ipv6_simple_classifier_map".into(),
                    written: 1,
                    reset: vec![],
                },
            ],
        }))
    }

    async fn unload(
        &self,
        request: Request<UnloadRequest>,
    ) -> Result<Response<UnloadReply>, Status> {
        let name = request.into_inner().name;
        if !["ddos", "ddos_tb_2_lev", "count", "no_v6_out"].contains(&name.as_str()) {
            return Err(Status::not_found(format!(
                "no script `{name}`: `eclat list` shows the loaded scripts"
            )));
        }
        Ok(Response::new(UnloadReply {
            script: Some(script()),
        }))
    }

    async fn list(&self, _: Request<ListRequest>) -> Result<Response<ListReply>, Status> {
        Ok(Response::new(ListReply {
            scripts: vec![script()],
            programs: vec![Program {
                name: "hike_pass".into(),
                package: "hike_default".into(),
                id: 3,
                kernel_id: 41,
                maps: vec![],
                used_by: vec!["ddos".into()],
                build: String::new(),
            }],
            hooks: vec![],
            instance: "eclat".into(),
            pin_dir: "/sys/fs/bpf/eclat".into(),
        }))
    }

    async fn dump_map(
        &self,
        request: Request<MapRequest>,
    ) -> Result<Response<DumpMapReply>, Status> {
        let request = request.into_inner();
        Ok(Response::new(DumpMapReply {
            map: request.map,
            key_type: "struct ipv6_pair {\n    struct in6_addr src;\n    struct in6_addr dst;\n}"
                .into(),
            value_type: "u64".into(),
            percpu: false,
            entries: vec![MapEntry {
                // Fields in layout order, which is not alphabetical.
                key: "{\"src\": \"fc00::1\", \"dst\": \"fc00::2\"}".into(),
                value: "7".into(),
            }],
        }))
    }

    async fn get_map_entry(
        &self,
        request: Request<MapKeyRequest>,
    ) -> Result<Response<MapEntryReply>, Status> {
        let request = request.into_inner();
        self.seen
            .lock()
            .expect("not poisoned")
            .gets
            .push(request.clone());
        // Every key but 9 has an entry.
        let entry = (request.key != "9").then(|| MapEntry {
            key: "0".into(),
            value: "{\"packets\":2}".into(),
        });
        Ok(Response::new(MapEntryReply {
            map: request.map,
            entry,
        }))
    }

    async fn set_map_entry(
        &self,
        request: Request<SetMapEntryRequest>,
    ) -> Result<Response<MapEntryReply>, Status> {
        let request = request.into_inner();
        self.seen
            .lock()
            .expect("not poisoned")
            .sets
            .push(request.clone());
        Ok(Response::new(MapEntryReply {
            map: request.map,
            entry: Some(MapEntry {
                key: request.key,
                value: request.value,
            }),
        }))
    }

    async fn stats(&self, _: Request<StatsRequest>) -> Result<Response<StatsReply>, Status> {
        Ok(Response::new(stats()))
    }

    async fn delete_map_entry(
        &self,
        request: Request<MapKeyRequest>,
    ) -> Result<Response<MapEntryReply>, Status> {
        let request = request.into_inner();
        self.seen
            .lock()
            .expect("not poisoned")
            .deletes
            .push(request.clone());
        Ok(Response::new(MapEntryReply {
            map: request.map,
            // The daemon shows the key decoded, whatever form it was given in.
            entry: Some(MapEntry {
                key: "{\"src\":\"fc00::1\",\"dst\":\"fc00::2\"}".into(),
                value: "{\"added_ns\":5}".into(),
            }),
        }))
    }

    async fn clear_map(
        &self,
        request: Request<MapRequest>,
    ) -> Result<Response<ClearMapReply>, Status> {
        let request = request.into_inner();
        self.seen
            .lock()
            .expect("not poisoned")
            .clears
            .push(request.clone());
        Ok(Response::new(ClearMapReply {
            map: request.map,
            cleared: 3,
        }))
    }

    async fn reset_stats(
        &self,
        request: Request<StatsRequest>,
    ) -> Result<Response<ResetStatsReply>, Status> {
        let request = request.into_inner();
        self.seen
            .lock()
            .expect("not poisoned")
            .resets
            .push(request.clone());
        Ok(Response::new(ResetStatsReply {
            chains: vec!["ddos_tb_2_lev".into()],
            programs: vec!["hike_pass".into(), "monitor".into()],
            sharing: vec!["other".into()],
            vm_faults: false,
        }))
    }

    type EventsStream =
        Pin<Box<dyn tokio_stream::Stream<Item = Result<Event, Status>> + Send + 'static>>;

    async fn events(
        &self,
        _: Request<EventsRequest>,
    ) -> Result<Response<Self::EventsStream>, Status> {
        let events: Vec<Result<Event, Status>> = (1..=3).map(|n| Ok(event(n))).collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(events))))
    }
}

/// The stand-in daemon, serving on a socket in a temporary directory until dropped.
struct FakeDaemon {
    dir: TempDir,
    socket: PathBuf,
    seen: Arc<Mutex<Seen>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeDaemon {
    fn start() -> FakeDaemon {
        let dir = TempDir::new("fake-daemon");
        let socket = dir.path().join("eclatd.sock");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        // Bound here, so that the socket exists before the first test command runs.
        let listener = {
            let _guard = runtime.enter();
            tokio::net::UnixListener::bind(&socket).expect("bind the socket")
        };
        let fake = Fake { seen: seen.clone() };
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                tonic::transport::Server::builder()
                    .serve_with_incoming_shutdown(
                        EclatServer::new(fake),
                        tokio_stream::wrappers::UnixListenerStream::new(listener),
                        async {
                            let _ = stopped.await;
                        },
                    )
                    .await
                    .expect("the fake daemon serves");
            });
        });
        FakeDaemon {
            dir,
            socket,
            seen,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `eclat --socket SOCKET ARGS` in `dir`.
    fn eclat(&self, args: &[&str], dir: &Path) -> std::process::Output {
        let mut all = vec!["--socket", self.socket.to_str().expect("a UTF-8 path")];
        all.extend_from_slice(args);
        eclat(&all, dir)
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn load_sends_the_script_its_siblings_and_defines() {
    let daemon = FakeDaemon::start();
    let dir = &daemon.dir;
    dir.write(
        "scripts/ddos.eclat",
        "from chains.helpers import h\nfrom chains.fast import f\ndef ddos():\n    return h()\n",
    );
    dir.write(
        "scripts/helpers.eclat",
        "from chains.deep import d\ndef h():\n    return d()\n",
    );
    dir.write("scripts/deep.eclat", "def d():\n    return 1\n");
    dir.write("scripts/fast.hike.c", "/* C chains */\n");
    dir.write("scripts/unrelated.eclat", "def u():\n    return 1\n");
    let out = daemon.eclat(
        &[
            "load",
            "scripts/ddos.eclat",
            "-D",
            "DEVNAME=veth0",
            "--name",
            "edge",
            "--loader",
            "ip6_simple_classifier",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "ddos.eclat:1:1: warning: something to know\n"
    );
    assert_eq!(
        text(&out.stdout),
        "\
replaced `ddos` from ddos.eclat (generation 2)
  chains:    ddos_tb_2_lev #1
  programs:  hike_pass, ip6_hset_srcdst
  loader:    ip6_simple_classifier (hike_default), kernel id 40
  attached:  veth0 (ifindex 5, xdp)
  defines:   DEVNAME=veth0
  maps:      ip6_sd_tbmon.ip6_sd_tbmon_cfg (1 entry), ip6_simple_classifier.ipv6_simple_classifier_map (1 entry)
  reset:     ip6_sd_tbmon.ip6_sd_tbmon_cfg key 0 (changed since the last load; now the script's configuration)
"
    );
    let seen = daemon.seen.lock().expect("not poisoned");
    let load = &seen.loads[0];
    assert_eq!(load.name, "edge");
    assert_eq!(load.loader, "ip6_simple_classifier");
    assert_eq!(
        (
            load.defines[0].name.as_str(),
            load.defines[0].value.as_str()
        ),
        ("DEVNAME", "veth0")
    );
    let source = load.source.as_ref().expect("a source");
    assert_eq!(source.file_name, "scripts/ddos.eclat");
    assert!(source.text.starts_with("from chains.helpers import h\n"));
    let mut siblings: Vec<&str> = source.siblings.keys().map(String::as_str).collect();
    siblings.sort();
    assert_eq!(siblings, ["deep.eclat", "fast.hike.c", "helpers.eclat"]);
    assert_eq!(source.siblings["fast.hike.c"], "/* C chains */\n");
}

#[test]
fn load_json_is_the_reply() {
    let daemon = FakeDaemon::start();
    daemon
        .dir
        .write("ddos.eclat", "def ddos():\n    return 1\n");
    let out = daemon.eclat(&["load", "ddos.eclat", "--json"], daemon.dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["replaced"], true);
    assert_eq!(lines[0]["script"]["name"], "ddos");
    assert_eq!(
        lines[0]["script"]["chains"][0],
        json!({"name": "ddos_tb_2_lev", "id": 1, "params": 0, "insns": 40})
    );
    assert_eq!(
        lines[0]["script"]["loader"]["attachments"][0],
        json!({"device": "veth0", "ifindex": 5, "hook": "xdp", "present": true})
    );
}

#[test]
fn refusals_print_the_daemons_message_as_is_and_exit_1() {
    let daemon = FakeDaemon::start();
    daemon.dir.write("bad.eclat", "def c():\n    nope()\n");
    let out = daemon.eclat(&["load", "bad.eclat"], daemon.dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    // As the daemon rendered it, without a blank line after it.
    assert_eq!(text(&out.stderr), format!("eclat: error: {BAD_SCRIPT}"));
    let out = daemon.eclat(&["unload", "nothing"], daemon.dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "eclat: error: no script `nothing`: `eclat list` shows the loaded scripts\n"
    );
}

#[test]
fn list_is_a_table_and_json_the_reply() {
    let daemon = FakeDaemon::start();
    let out = daemon.eclat(&["list"], daemon.dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "\
instance `eclat`, pinned in /sys/fs/bpf/eclat

SCRIPT  FILE        GEN  LOADER                                ATTACHED                CHAINS
ddos    ddos.eclat  2    ip6_simple_classifier (hike_default)  veth0 (ifindex 5, xdp)  ddos_tb_2_lev #1

ID  PROGRAM    PACKAGE       KERNEL ID  BUILD  USED BY
3   hike_pass  hike_default  41         -      ddos
"
    );
    let out = daemon.eclat(&["list", "--json"], daemon.dir.path());
    let lines = json_lines(&out);
    assert_eq!(lines[0]["programs"][0]["used_by"], json!(["ddos"]));
    assert_eq!(lines[0]["scripts"][0]["loaded_at"], 1_704_067_200);
}

#[test]
fn map_entries_are_json_values_in_the_daemons_order() {
    let daemon = FakeDaemon::start();
    let dir = daemon.dir.path();
    let out = daemon.eclat(&["map", "dump", "ddos", "ip6_sc.ipv6_sc_map"], dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "\
# ip6_sc.ipv6_sc_map: 1 entry; key struct ipv6_pair { struct in6_addr src; struct in6_addr dst; }; value u64
{\"src\":\"fc00::1\",\"dst\":\"fc00::2\"} -> 7
"
    );
    let out = daemon.eclat(
        &["map", "dump", "ddos", "ip6_sc.ipv6_sc_map", "--json"],
        dir,
    );
    assert_eq!(
        text(&out.stdout),
        "{\"map\":\"ip6_sc.ipv6_sc_map\",\"key_type\":\"struct ipv6_pair {\\n    struct in6_addr src;\\n    struct in6_addr dst;\\n}\",\"value_type\":\"u64\",\"percpu\":false,\"entries\":[{\"key\":{\"src\":\"fc00::1\",\"dst\":\"fc00::2\"},\"value\":7}]}\n"
    );

    let out = daemon.eclat(&["map", "get", "ddos", "monitor.monitor_map", "0"], dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "0 -> {\"packets\":2}\n");
    let out = daemon.eclat(
        &["map", "get", "ddos", "monitor.monitor_map", "9", "--json"],
        dir,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "{\"map\":\"monitor.monitor_map\",\"entry\":null}\n"
    );
    assert_eq!(
        text(&out.stderr),
        "eclat: error: map `monitor.monitor_map` of script `ddos` has no entry with key 9; \
         `eclat map dump ddos monitor.monitor_map` shows its entries\n"
    );

    let key = r#"{"src":"fc00::1","dst":"fc00::2"}"#;
    let out = daemon.eclat(
        &[
            "map",
            "set",
            "ddos",
            "ip6_sc.ipv6_sc_map",
            key,
            "2",
            "--json",
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("{{\"map\":\"ip6_sc.ipv6_sc_map\",\"entry\":{{\"key\":{key},\"value\":2}}}}\n")
    );
    let seen = daemon.seen.lock().expect("not poisoned");
    assert_eq!(seen.sets[0].key, key);
    assert_eq!(seen.sets[0].value, "2");
}

#[test]
fn stats_json_is_the_reply() {
    let daemon = FakeDaemon::start();
    let out = daemon.eclat(&["stats", "--json"], daemon.dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let expected = serde_json::to_value(stats()).expect("serializable");
    assert_eq!(json_lines(&out), [expected]);
    let out = daemon.eclat(&["stats"], daemon.dir.path());
    assert_eq!(
        text(&out.stdout),
        "VM: 10 packets booted a chain; faults no_prog 2\n"
    );
}

#[test]
fn events_stop_after_count_or_when_the_stream_ends() {
    let daemon = FakeDaemon::start();
    let dir = daemon.dir.path();
    let out = daemon.eclat(&["events", "--count", "2"], dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0], "ddos/ddos_tb_2_lev: event 1", "no time, no date");
    let (date, rest) = lines[1].split_once(' ').expect("a date, then the event");
    assert!(is_utc_date(date), "{date}");
    assert_eq!(rest, "ddos/ddos_tb_2_lev: event 2");
    let out = daemon.eclat(&["events", "ddos", "--json"], dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3);
    // The daemon's fields as they came, the monotonic time among them, and `time`, the same
    // as a date.
    let mut third = lines[2].clone();
    let time = third
        .as_object_mut()
        .and_then(|o| o.remove("time"))
        .expect("a time");
    assert!(is_utc_date(time.as_str().expect("a string")), "{time}");
    assert_eq!(third, serde_json::to_value(event(3)).expect("serializable"));
    assert_eq!(third["ts_ns"], 3_000_000_000u64);
    assert!(lines[0].get("time").is_none());
}

#[test]
fn unload_says_what_was_removed() {
    let daemon = FakeDaemon::start();
    let out = daemon.eclat(&["unload", "ddos"], daemon.dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "\
unloaded `ddos` (ddos.eclat, generation 2)
  chains:    ddos_tb_2_lev #1
  programs:  hike_pass, ip6_hset_srcdst
  loader:    ip6_simple_classifier (hike_default), kernel id 40
  detached:  veth0 (ifindex 5, xdp)
  defines:   DEVNAME=veth0
"
    );
    let out = daemon.eclat(&["unload", "ddos", "--json"], daemon.dir.path());
    assert_eq!(json_lines(&out)[0]["script"]["name"], "ddos");
}

/// `text` split as a POSIX shell splits a simple command line: words separated by spaces,
/// single and double quotes grouping (no escapes, no expansions: the examples need none). A
/// pipeline stops at its first `|`: what follows is another program's.
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.get_or_insert_with(String::new).push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            None if c.is_whitespace() => words.extend(word.take()),
            None if c == '|' => break,
            None => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(quote.is_none(), "unclosed quote in `{text}`");
    words.extend(word);
    words
}

/// The `Example:` lines of `eclat ARGS --help`, as printed.
fn help_examples(daemon: &FakeDaemon, args: &[&str]) -> Vec<String> {
    let mut all = args.to_vec();
    all.push("--help");
    let out = daemon.eclat(&all, daemon.dir.path());
    assert_eq!(out.status.code(), Some(0), "{all:?}");
    text(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Example: `"))
        .map(|l| {
            l.strip_suffix('`')
                .expect("an example in backquotes")
                .to_owned()
        })
        .collect()
}

/// The `$E ...` lines of the README's daemon section (`$E` is `eclat`), comments removed.
fn readme_examples() -> Vec<String> {
    let readme = std::fs::read_to_string(support::repo().join("README.md")).expect("README.md");
    readme
        .lines()
        .filter_map(|l| l.strip_prefix("$E "))
        .map(|l| {
            // A `#` outside quotes starts a comment.
            let mut quote = None;
            let end = l
                .char_indices()
                .find(|&(_, c)| {
                    match quote {
                        Some(q) if c == q => quote = None,
                        None if c == '\'' || c == '"' => quote = Some(c),
                        None if c == '#' => return true,
                        _ => {}
                    }
                    false
                })
                .map_or(l.len(), |(i, _)| i);
            format!("eclat {}", l[..end].trim())
        })
        .collect()
}

#[test]
fn every_example_of_the_help_and_the_readme_runs_as_printed() {
    let daemon = FakeDaemon::start();
    let dir = daemon.dir.path();
    let example = std::fs::read_to_string(support::repo().join("examples/ddos_tb_2_lev.eclat"))
        .expect("the example script");
    daemon.dir.write("examples/ddos_tb_2_lev.eclat", &example);
    daemon.dir.write("ddos.eclat", &example);
    let count = std::fs::read_to_string(support::repo().join("examples/count.eclat"))
        .expect("the counting example");
    daemon.dir.write("examples/count.eclat", &count);
    let no_v6 = std::fs::read_to_string(support::repo().join("examples/no_v6_out.eclat"))
        .expect("the TC example");
    daemon.dir.write("examples/no_v6_out.eclat", &no_v6);
    // `eclat programs --package-dir ./pkgs`: an empty package directory.
    std::fs::create_dir_all(dir.join("pkgs")).expect("pkgs");
    let mut examples = Vec::new();
    for args in [
        &["load"][..],
        &["unload"],
        &["list"],
        &["map"],
        &["map", "dump"],
        &["map", "get"],
        &["map", "set"],
        &["map", "delete"],
        &["map", "clear"],
        &["stats"],
        &["events"],
        &["programs"],
        &["describe"],
    ] {
        examples.extend(help_examples(&daemon, args));
    }
    let from_help = examples.len();
    assert!(from_help >= 21, "{examples:#?}");
    let readme = readme_examples();
    assert!(readme.len() >= 16, "{readme:#?}");
    examples.extend(readme);
    for example in &examples {
        let words = shell_words(example);
        assert_eq!(words[0], "eclat", "{example}");
        let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        let out = daemon.eclat(&args, dir);
        assert_eq!(
            out.status.code(),
            Some(0),
            "`{example}`: {}",
            text(&out.stderr)
        );
        // The map's key and value reach the daemon as written: the forms are the daemon's
        // to read (crates/eclatd/tests/e2e.rs runs the same examples against the real one).
        let seen = daemon.seen.lock().expect("not poisoned");
        match &args[..] {
            ["map", "set", script, map, key, value, ..] => {
                let last = seen.sets.last().expect("a set");
                assert_eq!(
                    (&last.script, &last.map, &last.key, &last.value),
                    (
                        &script.to_string(),
                        &map.to_string(),
                        &key.to_string(),
                        &value.to_string()
                    ),
                    "{example}"
                );
            }
            ["map", "get" | "delete", script, map, key, ..] => {
                let last = if args[1] == "get" {
                    seen.gets.last()
                } else {
                    seen.deletes.last()
                }
                .expect("a request");
                assert_eq!(
                    (&last.script, &last.map, &last.key),
                    (&script.to_string(), &map.to_string(), &key.to_string()),
                    "{example}"
                );
            }
            ["map", "clear", script, map, ..] => {
                let last = seen.clears.last().expect("a clear");
                assert_eq!(
                    (&last.script, &last.map),
                    (&script.to_string(), &map.to_string())
                );
            }
            ["stats", script, .., "--reset"] => {
                assert_eq!(&seen.resets.last().expect("a reset").script, script);
            }
            _ => {}
        }
    }
}

#[test]
fn map_delete_clear_and_stats_reset_say_what_they_did() {
    let daemon = FakeDaemon::start();
    let dir = daemon.dir.path();
    let out = daemon.eclat(&["map", "delete", "ddos", "m.m", "fc00::1,fc00::2"], dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "deleted {\"src\":\"fc00::1\",\"dst\":\"fc00::2\"} -> {\"added_ns\":5}\n"
    );
    let out = daemon.eclat(&["map", "clear", "ddos", "m.m"], dir);
    assert_eq!(
        text(&out.stdout),
        "cleared `m.m`: 3 entries removed or zeroed\n"
    );
    let out = daemon.eclat(&["map", "clear", "ddos", "m.m", "--json"], dir);
    assert_eq!(text(&out.stdout), "{\"map\":\"m.m\",\"cleared\":3}\n");
    let out = daemon.eclat(&["stats", "ddos", "--reset"], dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "zeroed: chains ddos_tb_2_lev; programs hike_pass, monitor\n\
         note: scripts other call some of these programs: their program calls restarted too\n"
    );
    let out = daemon.eclat(&["stats", "--reset", "--json"], dir);
    assert_eq!(
        json_lines(&out),
        [
            json!({"chains":["ddos_tb_2_lev"],"programs":["hike_pass","monitor"],"sharing":["other"],"vm_faults":false})
        ]
    );
}
