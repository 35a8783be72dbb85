//! `deploy/kubernetes/`: every manifest read into the Kubernetes API types with unknown
//! fields refused (`eclat_deploy_tests::manifest`), then what the DaemonSet must do for
//! eclatd: the node name from the downward API, the fleet's etcd endpoints and client
//! certificates, the host's BPF filesystem with the propagation that keeps pins on the host,
//! the host directories that make a pod restart eclatd's kill -9 recovery, the capabilities
//! of the systemd unit, probes on the metrics endpoint, and every reference resolved.

use std::collections::BTreeSet;
use std::fs;

use eclat_deploy_tests::manifest::{self, Manifests, Object};
use eclat_deploy_tests::repo_root;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec, Volume};

fn manifests() -> Manifests {
    let dir = repo_root().join("deploy/kubernetes");
    manifest::read_dir(&dir).unwrap_or_else(|e| panic!("{e}"))
}

fn daemonset(m: &Manifests) -> &DaemonSet {
    let sets: Vec<&DaemonSet> = m
        .objects
        .iter()
        .filter_map(|d| match &d.object {
            Object::DaemonSet(ds) => Some(ds.as_ref()),
            _ => None,
        })
        .collect();
    assert_eq!(sets.len(), 1, "one DaemonSet in deploy/kubernetes/");
    sets[0]
}

fn pod(ds: &DaemonSet) -> &PodSpec {
    ds.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("the DaemonSet has a pod template")
}

fn eclatd(pod: &PodSpec) -> &Container {
    pod.containers
        .iter()
        .find(|c| c.name == "eclatd")
        .expect("a container named eclatd")
}

fn args(c: &Container) -> &[String] {
    c.args.as_deref().unwrap_or_default()
}

/// The value of `--flag=VALUE` in `c`'s arguments (the manifests write every flag so).
fn flag<'a>(c: &'a Container, name: &str) -> Option<&'a str> {
    let prefix = format!("--{name}=");
    args(c).iter().find_map(|a| a.strip_prefix(prefix.as_str()))
}

fn volume<'a>(pod: &'a PodSpec, name: &str) -> &'a Volume {
    pod.volumes
        .iter()
        .flatten()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no volume `{name}`"))
}

/// The volume mounted at `path` in `c`, and its mount.
fn mounted_at<'a>(
    pod: &'a PodSpec,
    c: &'a Container,
    path: &str,
) -> (&'a Volume, &'a k8s_openapi::api::core::v1::VolumeMount) {
    let mount = c
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.mount_path == path)
        .unwrap_or_else(|| panic!("container {} mounts nothing at {path}", c.name));
    (volume(pod, &mount.name), mount)
}

fn host_path(v: &Volume) -> (&str, Option<&str>) {
    let h = v
        .host_path
        .as_ref()
        .unwrap_or_else(|| panic!("volume {} is not a hostPath", v.name));
    (h.path.as_str(), h.type_.as_deref())
}

/// The env variable `$(NAME)` in `value` stands for, in `c`.
fn env_source<'a>(c: &'a Container, value: &str) -> &'a k8s_openapi::api::core::v1::EnvVarSource {
    let name = value
        .strip_prefix("$(")
        .and_then(|v| v.strip_suffix(')'))
        .unwrap_or_else(|| panic!("`{value}` is not a $(VARIABLE)"));
    c.env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .and_then(|e| e.value_from.as_ref())
        .unwrap_or_else(|| panic!("no env variable {name} from a source in {}", c.name))
}

fn config_map<'a>(m: &'a Manifests, name: &str) -> &'a ConfigMap {
    m.objects
        .iter()
        .find_map(|d| match &d.object {
            Object::ConfigMap(c) if c.metadata.name.as_deref() == Some(name) => Some(c),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no ConfigMap `{name}` in deploy/kubernetes/"))
}

#[test]
fn every_manifest_is_read_and_listed_by_the_kustomization() {
    let m = manifests();
    let k = &m.kustomization;
    assert_eq!(k.api_version, "kustomize.config.k8s.io/v1beta1");
    assert_eq!(k.kind, "Kustomization");
    let listed: BTreeSet<&str> = k.resources.iter().map(String::as_str).collect();
    let present: BTreeSet<&str> = m.files.iter().map(String::as_str).collect();
    assert_eq!(
        listed, present,
        "kustomization.yaml's resources are the manifest files of deploy/kubernetes/"
    );
    // Every object is in the kustomization's namespace (the Namespace itself is it).
    let ns = k.namespace.as_deref().expect("a namespace");
    for d in &m.objects {
        let meta = match &d.object {
            Object::Namespace(n) => {
                assert_eq!(n.metadata.name.as_deref(), Some(ns));
                continue;
            }
            Object::ServiceAccount(o) => &o.metadata,
            Object::ConfigMap(o) => &o.metadata,
            Object::Secret(o) => &o.metadata,
            Object::DaemonSet(o) => &o.metadata,
        };
        assert_eq!(meta.namespace.as_deref(), Some(ns), "{}", d.file.display());
    }
    // The image the manifests name is the one the kustomization replaces.
    let ds = daemonset(&m);
    let images: BTreeSet<&str> = k.images.iter().map(|i| i.name.as_str()).collect();
    let p = pod(ds);
    for c in p
        .containers
        .iter()
        .chain(p.init_containers.iter().flatten())
    {
        let image = c.image.as_deref().expect("an image");
        assert!(
            images.contains(image),
            "{}'s image `{image}` is not in kustomization.yaml's images",
            c.name
        );
    }
}

#[test]
fn the_node_joins_the_fleet_under_its_kubernetes_name() {
    let m = manifests();
    let c = eclatd(pod(daemonset(&m)));
    let node = flag(c, "node").expect("--node");
    let source = env_source(c, node);
    let field = source
        .field_ref
        .as_ref()
        .expect("--node from the downward API");
    assert_eq!(field.field_path, "spec.nodeName");
    // The etcd endpoints and prefix come from the fleet's ConfigMap, which has those keys.
    for name in ["etcd", "etcd-prefix"] {
        let value = flag(c, name).unwrap_or_else(|| panic!("--{name}"));
        let key = env_source(c, value)
            .config_map_key_ref
            .as_ref()
            .unwrap_or_else(|| panic!("--{name} from a ConfigMap"));
        let cm = config_map(&m, &key.name);
        let data = cm.data.as_ref().expect("data");
        let v = data
            .get(&key.key)
            .unwrap_or_else(|| panic!("ConfigMap {} has no {}", key.name, key.key));
        assert!(!v.is_empty());
        if name == "etcd" {
            for url in v.split(',') {
                assert!(
                    url.starts_with("https://"),
                    "etcd endpoint `{url}`: TLS, since client certificates are given"
                );
            }
        }
    }
    assert!(
        args(c)
            .iter()
            .any(|a| a.starts_with("--label=") && a[8..].contains('=')),
        "at least one --label=KEY=VALUE"
    );
}

#[test]
fn the_etcd_client_certificates_come_read_only_from_a_secret_the_docs_create() {
    let m = manifests();
    let p = pod(daemonset(&m));
    let c = eclatd(p);
    let mut secrets = BTreeSet::new();
    let mut keys = BTreeSet::new();
    for name in ["etcd-ca", "etcd-cert", "etcd-key"] {
        let path = flag(c, name).unwrap_or_else(|| panic!("--{name}"));
        let (dir, file) = path.rsplit_once('/').expect("an absolute path");
        let (v, mount) = mounted_at(p, c, dir);
        assert_eq!(mount.read_only, Some(true), "{dir} is mounted read-only");
        let secret = v
            .secret
            .as_ref()
            .unwrap_or_else(|| panic!("{dir} is a Secret volume"));
        assert_eq!(secret.default_mode, Some(0o400), "the key is root's only");
        let item = secret
            .items
            .iter()
            .flatten()
            .find(|i| i.path == file)
            .unwrap_or_else(|| panic!("the Secret volume at {dir} provides no {file}"));
        keys.insert(item.key.clone());
        secrets.insert(secret.secret_name.clone().expect("a secret name"));
    }
    assert_eq!(secrets.len(), 1, "one Secret");
    let secret = secrets.pop_first().unwrap();
    // Not in the manifests (it carries a private key): the docs say how to create it, with
    // every key the volume reads.
    let in_manifests = m.objects.iter().find_map(|d| match &d.object {
        Object::Secret(s) if s.metadata.name.as_deref() == Some(secret.as_str()) => Some(s),
        _ => None,
    });
    if let Some(s) = in_manifests {
        let data = s.data.as_ref().expect("the Secret's data");
        for key in &keys {
            assert!(data.contains_key(key), "Secret {secret} has no key {key}");
        }
        return;
    }
    let docs = fs::read_to_string(repo_root().join("docs/fleet.md")).expect("docs/fleet.md");
    let start = docs
        .find(&format!("create secret generic {secret}"))
        .unwrap_or_else(|| {
            panic!("docs/fleet.md has no `kubectl create secret generic {secret}` command")
        });
    // The command, continuation lines included.
    let command: String = docs[start..]
        .lines()
        .scan(true, |more, line| {
            let take = *more;
            *more = line.ends_with('\\');
            take.then_some(line)
        })
        .collect();
    for key in &keys {
        assert!(
            command.contains(&format!("--from-file={key}=")),
            "docs/fleet.md's command does not create the key {key}: {command}"
        );
    }
}

#[test]
fn the_hosts_bpffs_is_mounted_so_that_pins_outlive_the_pod() {
    let m = manifests();
    let p = pod(daemonset(&m));
    let c = eclatd(p);
    let bpffs = flag(c, "bpffs").expect("--bpffs");
    let (v, mount) = mounted_at(p, c, bpffs);
    assert_eq!(host_path(v), ("/sys/fs/bpf", Some("Directory")));
    // The daemon sees mounts the host makes later; it makes none that need to reach the host.
    assert_eq!(mount.mount_propagation.as_deref(), Some("HostToContainer"));
    // The init container mounts a bpffs there when the host has none, and that mount must
    // reach the host: Bidirectional, which the API allows only to privileged containers.
    let inits = p.init_containers.as_deref().unwrap_or_default();
    let init = inits
        .iter()
        .find(|i| i.name == "mount-bpffs")
        .expect("the mount-bpffs init container");
    let (iv, imount) = mounted_at(p, init, "/sys/fs/bpf");
    assert_eq!(iv.name, v.name);
    assert_eq!(imount.mount_propagation.as_deref(), Some("Bidirectional"));
    let script = init.command.as_ref().expect("a command").join(" ");
    assert!(
        script.contains("mount -t bpf bpf /sys/fs/bpf") && script.contains("bpf_fs"),
        "{script}"
    );
    for c in p.containers.iter().chain(inits) {
        let bidirectional = c
            .volume_mounts
            .iter()
            .flatten()
            .any(|m| m.mount_propagation.as_deref() == Some("Bidirectional"));
        let privileged = c.security_context.as_ref().and_then(|s| s.privileged) == Some(true);
        assert_eq!(
            bidirectional, privileged,
            "{}: privileged exactly when it mounts Bidirectional",
            c.name
        );
    }
}

#[test]
fn state_and_socket_live_on_the_host_so_a_restart_is_a_kill_9_recovery() {
    let m = manifests();
    let p = pod(daemonset(&m));
    let c = eclatd(p);
    let state = flag(c, "state-dir").expect("--state-dir");
    assert_eq!(
        host_path(mounted_at(p, c, state).0),
        ("/var/lib/eclat", Some("DirectoryOrCreate"))
    );
    let socket = flag(c, "socket").expect("--socket");
    let run = socket.rsplit_once('/').unwrap().0;
    assert_eq!(
        host_path(mounted_at(p, c, run).0),
        ("/run/eclat", Some("DirectoryOrCreate"))
    );
    // The same paths as the systemd unit, so `eclat` on the node finds the socket.
    let unit = fs::read_to_string(repo_root().join("packaging/eclatd.service")).unwrap();
    assert!(unit.contains(&format!(
        "--socket {socket} --state-dir {state} --bpffs {}",
        flag(c, "bpffs").unwrap()
    )));
}

#[test]
fn the_daemon_has_the_host_network_and_the_units_capabilities_only() {
    let m = manifests();
    let p = pod(daemonset(&m));
    assert_eq!(p.host_network, Some(true));
    assert_ne!(p.host_pid, Some(true), "eclatd needs no host PID namespace");
    assert_eq!(p.automount_service_account_token, Some(false));
    let sa = p
        .service_account_name
        .as_deref()
        .expect("a service account");
    assert!(m.objects.iter().any(|d| matches!(&d.object,
        Object::ServiceAccount(s) if s.metadata.name.as_deref() == Some(sa))));
    let sc = eclatd(p)
        .security_context
        .as_ref()
        .expect("a security context");
    assert_ne!(sc.privileged, Some(true));
    let caps = sc.capabilities.as_ref().expect("capabilities");
    assert_eq!(caps.drop.as_deref(), Some(&["ALL".to_owned()][..]));
    let added: BTreeSet<String> = caps
        .add
        .iter()
        .flatten()
        .map(|c| format!("CAP_{c}"))
        .collect();
    // The unit's bounding set is what eclatd is known to run with.
    let unit = fs::read_to_string(repo_root().join("packaging/eclatd.service")).unwrap();
    let bounding: BTreeSet<String> = unit
        .lines()
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .expect("the unit's CapabilityBoundingSet")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(added, bounding);
    // Kubernetes refuses allowPrivilegeEscalation: false with CAP_SYS_ADMIN.
    assert_ne!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(
        sc.app_armor_profile.as_ref().map(|a| a.type_.as_str()),
        Some("Unconfined")
    );
}

#[test]
fn probes_read_the_metrics_endpoint_eclatd_serves() {
    let m = manifests();
    let c = eclatd(pod(daemonset(&m)));
    let listen = flag(c, "metrics-listen").expect("--metrics-listen");
    let addr: std::net::SocketAddr = listen.parse().expect("ADDR:PORT, as eclatd parses it");
    for (what, probe) in [
        ("startup", &c.startup_probe),
        ("liveness", &c.liveness_probe),
        ("readiness", &c.readiness_probe),
    ] {
        let get = probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .unwrap_or_else(|| panic!("a {what} probe over HTTP"));
        assert_eq!(get.path.as_deref(), Some("/metrics"), "{what}");
        assert_eq!(
            get.port,
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(addr.port().into()),
            "{what}"
        );
        // The kubelet reaches a loopback listener only when told to (it runs in the host's
        // network namespace, as the pod does).
        if addr.ip().is_loopback() {
            assert_eq!(
                get.host.as_deref(),
                Some(addr.ip().to_string().as_str()),
                "{what}"
            );
        }
    }
}

#[test]
fn it_runs_on_every_node_one_at_a_time_with_bounded_resources() {
    let m = manifests();
    let ds = daemonset(&m);
    let spec = ds.spec.as_ref().unwrap();
    let strategy = spec.update_strategy.as_ref().expect("an update strategy");
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let rolling = strategy.rolling_update.as_ref().expect("rollingUpdate");
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(1)));
    assert_eq!(
        rolling.max_surge,
        Some(IntOrString::Int(0)),
        "never two eclatd on one instance"
    );
    let p = pod(ds);
    let tolerates_all =
        p.tolerations.iter().flatten().any(|t| {
            t.operator.as_deref() == Some("Exists") && t.key.is_none() && t.effect.is_none()
        });
    assert!(tolerates_all, "a toleration of every taint");
    // The selector matches the template's labels.
    let labels = ds
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref())
        .unwrap();
    for (k, v) in spec.selector.match_labels.iter().flatten() {
        assert_eq!(labels.get(k), Some(v));
    }
    for c in p
        .containers
        .iter()
        .chain(p.init_containers.iter().flatten())
    {
        let r = c
            .resources
            .as_ref()
            .unwrap_or_else(|| panic!("{} has resources", c.name));
        for (what, set) in [("requests", &r.requests), ("limits", &r.limits)] {
            let set = set
                .as_ref()
                .unwrap_or_else(|| panic!("{} has {what}", c.name));
            assert!(
                set.contains_key("cpu") && set.contains_key("memory"),
                "{}: {what} of cpu and memory",
                c.name
            );
        }
    }
}
