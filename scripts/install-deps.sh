#!/usr/bin/env bash
# Installs the system packages the project needs, only those that are missing.
# Debian/Ubuntu with apt; run as root (make does). Idempotent and quiet when all is there.
set -euo pipefail

# ipset and iptables: the `ipset` variant of the ddos_mark benchmark (ip6tables mangle + ipset).
# python3-grpcio: a standard gRPC client in eclatd's tests (crates/eclatd/tests/regressions.rs).
# prometheus: only its `promtool check metrics` is used, to validate `eclatd --metrics-listen`
# (crates/eclatd/tests/metrics.rs); the package also brings a Prometheus server unit, unused.
# etcd-server: the fleet's store; the fleet tests start their own `etcd` on loopback ports
# (crates/hike-testkit/src/etcd.rs), the package's service is not used.
# protobuf-compiler, libprotobuf-dev: `protoc` and the well-known types (descriptor.proto), which
# the `etcd-client` crate's build script needs to compile etcd's API.
packages=(clang-19 llvm-19 libelf-dev zlib1g-dev pkg-config make iproute2 gcc libc6-dev linux-libc-dev
  ipset iptables python3-grpcio prometheus etcd-server protobuf-compiler libprotobuf-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages: ${missing[*]}; run as root (or install them yourself)" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The fleet tests run etcd themselves; a service the package may have started is not wanted.
  if [[ " ${missing[*]} " == *" etcd-server "* ]] && command -v systemctl >/dev/null; then
    systemctl disable --now etcd >/dev/null 2>&1 || true
  fi
fi

# bpffs, for pinned VM instances (the runtime also mounts it when needed).
if [[ $(id -u) -eq 0 ]] && ! mountpoint -q /sys/fs/bpf; then
  mount -t bpf bpf /sys/fs/bpf
fi
