#!/usr/bin/env bash
# The DDoS demo (make demo): builds eclat, eclatd and hike-demo (debug profile) and runs
# hike-demo as root. It builds a network of namespaces (attacker, client, router, collector),
# starts eclatd in the router's, loads the paper's Listing 2 (examples/ddos_tb_2_lev.eclat),
# sends real traffic, prints what happened, checks it, and removes everything. Arguments are
# passed to hike-demo, e.g. `scripts/demo.sh --attack-packets 2000000`.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "demo: building eclat, eclatd and hike-demo" >&2
cargo build -p eclat -p eclatd -p hike-demo
bin=target/debug/hike-demo
args=(--eclat target/debug/eclat --eclatd target/debug/eclatd "$@")
if [[ $(id -u) -eq 0 ]]; then
  exec "$bin" "${args[@]}"
elif command -v sudo >/dev/null; then
  exec sudo "$bin" "${args[@]}"
else
  echo "demo: network namespaces and eBPF need root; run as root" >&2
  exit 1
fi
