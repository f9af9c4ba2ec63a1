//! The static ARP entries a cluster config gives a DPDK backend.

use std::net::Ipv4Addr;

use crate::config::ClusterConfig;
use crate::wire::MacAddr;

/// Every replica's MAC the config gives, for the backend's static ARP table.
pub fn static_macs(config: &ClusterConfig) -> Vec<(Ipv4Addr, MacAddr)> {
    (0..config.n())
        .filter_map(|i| Some((*config.replica_address(i)?.ip(), config.replica_mac(i)?)))
        .collect()
}
