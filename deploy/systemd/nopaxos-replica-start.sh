#!/usr/bin/env bash
# Starts replica INDEX on DPDK: plainly the first time, with --recover every time after,
# because a replica that ran has promised things it no longer remembers (NOPaxos and VR
# recovery). Delete /var/lib/nopaxos/replica-INDEX.joined only when the whole cluster is
# started afresh.
#   nopaxos-replica-start.sh INDEX     (MODE, EAL_ARGS, CONFIG from the environment)
set -euo pipefail
index=${1:?usage: nopaxos-replica-start.sh INDEX}
[[ "$index" =~ ^[0-9]+$ ]] || { echo "nopaxos-replica-start.sh: INDEX must be a number, not $index" >&2; exit 2; }
config=${CONFIG:-/etc/nopaxos/cluster.toml}
state=${STATE_DIRECTORY:-/var/lib/nopaxos}
marker="$state/replica-$index.joined"
extra=()
if [ -e "$marker" ]; then
  extra+=(--recover)
else
  mkdir -p "$state"
  touch "$marker"
fi
# shellcheck disable=SC2086 # EAL_ARGS is a list of words
exec "${REPLICA:-/usr/local/bin/replica}" --dpdk --config "$config" --index "$index" \
  --mode "${MODE:-nopaxos}" --stats 10 "${extra[@]}" -- ${EAL_ARGS:-}
