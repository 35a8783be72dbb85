#!/usr/bin/env bash
# Runs the benchmarks of PERFORMANCE.md (make bench): builds hike-bench and eclatd in release
# mode, side by side in target/release (the control_plane scenario starts the eclatd beside
# hike-bench), and runs hike-bench as root. Results go to bench/results/ (latest.json,
# latest.md, one PNG per scenario). Arguments are passed to hike-bench, e.g.
# `scripts/bench.sh --scenario tailcall_loop --trials 9`.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p hike-bench -p eclatd
bin=target/release/hike-bench
if [[ $(id -u) -eq 0 ]]; then
  exec "$bin" "$@"
elif command -v sudo >/dev/null; then
  exec sudo "$bin" "$@"
else
  echo "bench: BPF_PROG_TEST_RUN needs root; run as root" >&2
  exit 1
fi
