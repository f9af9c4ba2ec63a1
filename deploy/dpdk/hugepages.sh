#!/usr/bin/env bash
# Reserves hugepages for DPDK and mounts hugetlbfs. Run as root on every DPDK host, at boot
# (deploy/systemd/nopaxos-hugepages.service does) or by hand.
#
#   hugepages.sh [--pages N] [--size 2M|1G] [--node NUMA] [--dry-run]
#
# Defaults: 1024 pages of 2 MiB (2 GiB) on NUMA node 0: enough for the sequencer's or a
# replica's mbuf pools (8191 mbufs of 2 KiB each per port are 16 MiB) with plenty to spare.
# 1 GiB pages usually have to be reserved on the kernel command line instead
# (default_hugepagesz=1G hugepagesz=1G hugepages=4), since memory fragments after boot.
set -euo pipefail

pages=1024 size=2M node=0 dry=0
while (($#)); do
  case "$1" in
    --pages) pages=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --node) node=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "hugepages.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$size" in
  2M) kb=2048 ;;
  1G) kb=1048576 ;;
  *) echo "hugepages.sh: --size must be 2M or 1G, not $size" >&2; exit 2 ;;
esac
[[ "$pages" =~ ^[0-9]+$ ]] || { echo "hugepages.sh: --pages must be a number, not $pages" >&2; exit 2; }

run() { if ((dry)); then echo "would run: $*"; else "$@"; fi; }

nr="/sys/devices/system/node/node$node/hugepages/hugepages-${kb}kB/nr_hugepages"
if [ ! -e "$nr" ] && ((!dry)); then
  echo "hugepages.sh: $nr does not exist: no NUMA node $node or no $size pages on this CPU" >&2
  exit 1
fi
if ((dry)); then
  echo "would write $pages to $nr"
else
  echo "$pages" >"$nr"
  got=$(cat "$nr")
  if ((got < pages)); then
    echo "hugepages.sh: asked for $pages pages of $size on node $node, got $got (memory is fragmented: reserve them at boot on the kernel command line)" >&2
    exit 1
  fi
fi
mnt=/dev/hugepages
if ! mountpoint -q "$mnt" 2>/dev/null; then
  run mkdir -p "$mnt"
  run mount -t hugetlbfs -o "pagesize=$size" nodev "$mnt"
fi
((dry)) || grep -i huge /proc/meminfo
