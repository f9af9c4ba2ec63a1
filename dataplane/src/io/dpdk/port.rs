//! An Ethernet port: configured with one rx/tx queue pair per worker, started, promiscuous,
//! stopped and closed on drop.
//!
//! Queues: with more than one worker, the port gets one queue pair per worker and RSS
//! (hash on IP addresses and UDP ports) when the device reports RSS hash functions
//! (`flow_type_rss_offloads`); each worker then polls its own queue with no locks. A device
//! without RSS (net_ring, net_null, most vdevs) gets a single queue pair, and spreading work
//! is the application's job (software dispatch: one core receives and hands packets to the
//! others, or, as the sequencer does, each core serves its own OUM group on its own port).

use super::error::{DpdkError, check};
use super::{Eal, Mempool};
use crate::wire::MacAddr;

/// How to set a port up.
#[derive(Debug, Clone, Copy)]
pub struct PortConfig {
    /// Workers wanting their own queue pair; the port may get fewer (see the module docs).
    pub workers: u16,
    pub rx_descriptors: u16,
    pub tx_descriptors: u16,
    pub promiscuous: bool,
}

impl Default for PortConfig {
    fn default() -> Self {
        PortConfig {
            workers: 1,
            rx_descriptors: 1024,
            tx_descriptors: 1024,
            promiscuous: true,
        }
    }
}

/// Link state as `rte_eth_link_get_nowait` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStatus {
    pub up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
}

/// The device's own counters (`rte_eth_stats_get`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    /// Dropped by the device because no rx descriptor was free (the poller was too slow).
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_no_mbuf: u64,
}

/// A started port. Dropping it stops and closes the port.
#[derive(Debug)]
pub struct Port {
    id: u16,
    queues: u16,
    rss: bool,
    mac: MacAddr,
    driver: String,
}

impl Port {
    /// Configures and starts port `id`, with rx descriptors filled from `pool`.
    pub fn start(eal: &Eal, id: u16, pool: Mempool, config: PortConfig) -> Result<Port, DpdkError> {
        // SAFETY: the EAL is initialised; any id may be asked about.
        if unsafe { dpdk_sys::rte_eth_dev_is_valid_port(id) } == 0 {
            return Err(DpdkError::NoSuchPort {
                port: id,
                available: eal.port_count(),
            });
        }
        let mut info = dpdk_sys::rte_eth_dev_info::default();
        // SAFETY: id is a valid port and info a writable struct of the right type.
        check(id, "rte_eth_dev_info_get", unsafe {
            dpdk_sys::rte_eth_dev_info_get(id, &mut info)
        })?;
        let driver = if info.driver_name.is_null() {
            String::from("?")
        } else {
            // SAFETY: driver_name is a static NUL-terminated string owned by the driver.
            unsafe { std::ffi::CStr::from_ptr(info.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        let max = info.max_rx_queues.min(info.max_tx_queues).max(1);
        // SAFETY: a plain function without arguments.
        let wanted_hf = unsafe { dpdk_sys::shim_rss_hf_ip_udp() };
        let rss_hf = info.flow_type_rss_offloads & wanted_hf;
        let rss = config.workers > 1 && rss_hf != 0 && max > 1;
        let queues = if rss { config.workers.min(max) } else { 1 };

        let mut conf = dpdk_sys::rte_eth_conf::default();
        if rss {
            conf.rxmode.mq_mode = dpdk_sys::rte_eth_rx_mq_mode_RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
        }
        // SAFETY: valid port, conf lives across the call.
        check(id, "rte_eth_dev_configure", unsafe {
            dpdk_sys::rte_eth_dev_configure(id, queues, queues, &conf)
        })?;
        let (mut rxd, mut txd) = (config.rx_descriptors, config.tx_descriptors);
        // SAFETY: valid port; the counts are adjusted in place to the device's limits.
        check(id, "rte_eth_dev_adjust_nb_rx_tx_desc", unsafe {
            dpdk_sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut rxd, &mut txd)
        })?;
        // SAFETY: valid port.
        let socket = unsafe { dpdk_sys::rte_eth_dev_socket_id(id) };
        let socket = if socket < 0 { 0 } else { socket as u32 };
        for q in 0..queues {
            // SAFETY: configured port, queue below the configured count; NULL conf means
            // the device's defaults; the pool outlives the port (pools are never freed).
            check(id, "rte_eth_rx_queue_setup", unsafe {
                dpdk_sys::rte_eth_rx_queue_setup(
                    id,
                    q,
                    rxd,
                    socket,
                    std::ptr::null(),
                    pool.as_ptr(),
                )
            })?;
            // SAFETY: as above.
            check(id, "rte_eth_tx_queue_setup", unsafe {
                dpdk_sys::rte_eth_tx_queue_setup(id, q, txd, socket, std::ptr::null())
            })?;
        }
        // SAFETY: configured port with its queues set up.
        check(id, "rte_eth_dev_start", unsafe {
            dpdk_sys::rte_eth_dev_start(id)
        })?;
        if config.promiscuous {
            // Devices without the notion (ring, null) say ENOTSUP: not an error for us.
            // SAFETY: started port.
            let ret = unsafe { dpdk_sys::rte_eth_promiscuous_enable(id) };
            if ret < 0 && ret != -libc::ENOTSUP {
                check(id, "rte_eth_promiscuous_enable", ret)?;
            }
        }
        let mut addr = dpdk_sys::rte_ether_addr::default();
        // SAFETY: valid port; addr is writable.
        check(id, "rte_eth_macaddr_get", unsafe {
            dpdk_sys::rte_eth_macaddr_get(id, &mut addr)
        })?;
        Ok(Port {
            id,
            queues,
            rss,
            mac: MacAddr(addr.addr_bytes),
            driver,
        })
    }

    pub fn id(&self) -> u16 {
        self.id
    }

    /// Queue pairs configured: one per worker with RSS, else 1.
    pub fn queues(&self) -> u16 {
        self.queues
    }

    pub fn rss(&self) -> bool {
        self.rss
    }

    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    pub fn driver(&self) -> &str {
        &self.driver
    }

    pub fn link(&self) -> LinkStatus {
        let mut link = dpdk_sys::rte_eth_link::default();
        // SAFETY: valid port; link is writable.
        let ret = unsafe { dpdk_sys::rte_eth_link_get_nowait(self.id, &mut link) };
        LinkStatus {
            up: ret == 0 && link.link_status() != 0,
            speed_mbps: link.link_speed,
            full_duplex: link.link_duplex() != 0,
        }
    }

    pub fn device_stats(&self) -> Result<DeviceStats, DpdkError> {
        let mut s = dpdk_sys::rte_eth_stats::default();
        // SAFETY: valid port; s is writable.
        check(self.id, "rte_eth_stats_get", unsafe {
            dpdk_sys::rte_eth_stats_get(self.id, &mut s)
        })?;
        Ok(DeviceStats {
            rx_packets: s.ipackets,
            tx_packets: s.opackets,
            rx_bytes: s.ibytes,
            tx_bytes: s.obytes,
            rx_missed: s.imissed,
            rx_errors: s.ierrors,
            tx_errors: s.oerrors,
            rx_no_mbuf: s.rx_nombuf,
        })
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        // SAFETY: a port we started; stopping twice or closing a stopped port is allowed.
        unsafe {
            dpdk_sys::rte_eth_dev_stop(self.id);
            dpdk_sys::rte_eth_dev_close(self.id);
        }
    }
}
