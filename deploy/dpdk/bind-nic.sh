#!/usr/bin/env bash
# Hands a NIC port to DPDK (vfio-pci) or gives it back to its kernel driver.
#
#   bind-nic.sh PCI_ADDRESS                 bind to vfio-pci (Intel i40e/ice/ixgbe, ...)
#   bind-nic.sh --unbind PCI_ADDRESS DRIVER give it back (e.g. i40e)
#   bind-nic.sh --status                    what dpdk-devbind.py sees
#   add --dry-run to print the commands instead of running them
#
# NVIDIA/Mellanox ConnectX (mlx5) ports are NOT bound: the mlx5 driver is bifurcated and
# DPDK drives the port next to the kernel's mlx5_core (install rdma-core / libibverbs);
# pass the port to EAL with -a PCI_ADDRESS directly.
#
# The port must not be the one you are logged in through: binding takes it away from the
# kernel, with its addresses and routes. The script refuses a port whose interface has an
# IPv4 address or is up, unless --force.
set -euo pipefail

dry=0 force=0 mode=bind
args=()
while (($#)); do
  case "$1" in
    --dry-run) dry=1; shift ;;
    --force) force=1; shift ;;
    --unbind) mode=unbind; shift ;;
    --status) mode=status; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done
run() { if ((dry)); then echo "would run: $*"; else "$@"; fi; }

devbind=$(command -v dpdk-devbind.py || command -v dpdk-devbind || true)
if [ -z "$devbind" ]; then
  echo "bind-nic.sh: dpdk-devbind.py not found: apt-get install dpdk" >&2
  exit 1
fi

case "$mode" in
  status)
    exec "$devbind" --status-dev net
    ;;
  bind)
    ((${#args[@]} == 1)) || { echo "bind-nic.sh: give one PCI address, e.g. 0000:3b:00.0 (see --status)" >&2; exit 2; }
    pci=${args[0]}
    [[ "$pci" =~ ^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$ ]] || {
      echo "bind-nic.sh: $pci is not a PCI address like 0000:3b:00.0" >&2; exit 2; }
    if ((!dry)) && [ ! -d "/sys/bus/pci/devices/$pci" ]; then
      echo "bind-nic.sh: no PCI device $pci (see --status)" >&2
      exit 1
    fi
    # The kernel interfaces on this device (virtio and some others sit one level below it).
    for dev in /sys/class/net/*; do
      real=$(readlink -f "$dev/device" 2>/dev/null || true)
      case "$real/" in
        */"$pci"/*) ;;
        *) continue ;;
      esac
      ifc=$(basename "$dev")
      if ((!force)) && { ip -4 addr show dev "$ifc" | grep -q inet || ip link show dev "$ifc" | grep -q 'state UP'; }; then
        echo "bind-nic.sh: $pci is $ifc, which is up or has an address: bind it only if nothing uses it (ip link set $ifc down; ip addr flush dev $ifc), or pass --force" >&2
        exit 1
      fi
    done
    run modprobe vfio-pci
    if ((!dry)) && [ ! -e /sys/kernel/iommu_groups/0 ]; then
      echo "bind-nic.sh: no IOMMU groups: enable VT-d/AMD-Vi in firmware and add intel_iommu=on iommu=pt to the kernel command line (or, unsafe, echo 1 > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode)" >&2
      exit 1
    fi
    run "$devbind" --bind=vfio-pci "$pci"
    ;;
  unbind)
    ((${#args[@]} == 2)) || { echo "bind-nic.sh: --unbind PCI_ADDRESS KERNEL_DRIVER, e.g. --unbind 0000:3b:00.0 i40e" >&2; exit 2; }
    run "$devbind" --bind="${args[1]}" "${args[0]}"
    ;;
esac
