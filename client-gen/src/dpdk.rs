//! `client-gen run --dpdk`: the load engine's clients on a DPDK port (`DpdkIo`) instead of
//! a kernel socket, polling on the EAL's main lcore.

use std::net::SocketAddrV4;
use std::sync::atomic::AtomicBool;

use dataplane::io::dpdk::{DpdkIo, DpdkIoConfig, Eal, Mempool, Port, PortConfig};
use dataplane::io::dpdk::{dpdk_stats_line, static_macs};

use crate::engine::{LoadOutcome, LoadSpec, run_load_on};

/// Mbufs in the client's pool: requests in flight, replies and the port's rx ring.
const POOL_SIZE: u32 = 8191;

/// Runs `spec` from address `me` on DPDK port `port`; returns the outcome and a line of
/// the backend's and the device's counters.
pub fn run_load_dpdk(
    spec: &LoadSpec,
    me: SocketAddrV4,
    port: u16,
    eal_args: &[String],
    stop: &AtomicBool,
) -> Result<(LoadOutcome, String), String> {
    if me.ip().is_unspecified() || me.port() == 0 {
        return Err(format!(
            "--bind {me}: on DPDK the clients' address must be given in full (the IPv4 \
             address on the port's network and a UDP port, e.g. 10.0.0.50:40000)"
        ));
    }
    let eal = Eal::init(eal_args).map_err(|e| e.to_string())?;
    let result = (|| {
        let pool = Mempool::create(
            &eal,
            "client_pool",
            POOL_SIZE,
            256,
            Mempool::DEFAULT_DATA_ROOM,
        )
        .map_err(|e| e.to_string())?;
        let port =
            Port::start(&eal, port, pool, PortConfig::default()).map_err(|e| e.to_string())?;
        let mut io = DpdkIo::new(
            &port,
            0,
            pool,
            DpdkIoConfig {
                local_addrs: vec![me],
                static_macs: static_macs(&spec.config),
                ..DpdkIoConfig::default()
            },
        )
        .map_err(|e| e.to_string())?;
        let outcome = run_load_on(spec, &mut io, me, stop);
        let line = dpdk_stats_line(&io, &port);
        drop(io);
        drop(port);
        outcome.map(|o| (o, line))
    })();
    // SAFETY: the backend and the port are gone with every mbuf; nothing DPDK is used
    // after this.
    unsafe { eal.cleanup() };
    result
}
