#!/usr/bin/env bash
# Runs the benchmarks of PERFORMANCE.md (make bench): builds hike-bench in release mode and
# runs it as root. Results go to bench/results/ (latest.json, latest.md, one PNG per scenario).
# Arguments are passed to hike-bench, e.g. `scripts/bench.sh --scenario tailcall_loop --trials 9`.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p hike-bench
bin=target/release/hike-bench
if [[ $(id -u) -eq 0 ]]; then
  exec "$bin" "$@"
elif command -v sudo >/dev/null; then
  exec sudo "$bin" "$@"
else
  echo "bench: BPF_PROG_TEST_RUN needs root; run as root" >&2
  exit 1
fi
