#!/usr/bin/env bash
# Prints the simulator's fingerprint of behaviour: operations completed by every protocol's
# sweep (n=3 seeds 0..2000, n=5 seeds 0..500, every fault), to compare with the table in
# docs/benchmarks.md ("A fingerprint of behaviour"). A restructuring that must not change
# behaviour reproduces it exactly. About 2 minutes on 2 cores.
# Usage: bash scripts/sim-fingerprint.sh [path to replica-sim]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
if [ -z "$bin" ]; then
  cargo build --release -q -p simulator --bin replica-sim
  bin="${CARGO_TARGET_DIR:-target}/release/replica-sim"
fi
ops() { "$bin" "$@" | tail -1 | tr ' ' '\n' | sed -n 's/^ops=//p'; }
echo "| protocol | n=3, seeds 0..2000 | n=5, seeds 0..500 |"
echo "|---|---|---|"
for p in unreplicated nopaxos vr spec fastpaxos; do
  echo "| $p | $(ops --protocol "$p" --seeds 0..2000) | $(ops --protocol "$p" --replicas 5 --seeds 0..500) |"
done
