#!/usr/bin/env bash
# The demo of what the project does today (make demo): builds hike-demo and runs it as root.
# It loads the HIKe VM, the test loader and test programs into the kernel, installs chains
# written in HIKe assembly and runs packets through them with BPF_PROG_TEST_RUN. The full DDoS
# demo (the paper's Listing 2 in eCLAT, loaded by the daemon) comes later; hike-demo says so.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet -p hike-demo
bin=target/debug/hike-demo
if [[ $(id -u) -eq 0 ]]; then
  exec "$bin" "$@"
elif command -v sudo >/dev/null; then
  exec sudo "$bin" "$@"
else
  echo "demo: loading eBPF programs needs root; run as root" >&2
  exit 1
fi
