//! The DPDK test rig shared by the scenario files: one process per scenario (DPDK's EAL
//! initialises once per process), a ring port to inject frames and collect copies, and
//! the check that every mbuf came back.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Command;

use dataplane::io::dpdk::eal::{NO_HARDWARE_ARGS as EAL, running_as_root as is_root};
use dataplane::io::dpdk::{Eal, Mbuf, Mempool, Port, PortConfig, Queue, RingPort};
use dataplane::oum::Sequencer;
use dataplane::wire::MacAddr;
use sequencer_dpdk::dpdk_engine::{DpdkSequencer, EngineConfig, MemberAddr};

const SCENARIO: &str = "NOPAXOS_DPDK_SCENARIO";
/// Runs `body` in a child process (this test binary, filtered to `name`).
pub(crate) fn in_own_process(name: &str, body: fn()) {
    if std::env::var(SCENARIO).as_deref() == Ok(name) {
        body();
        return;
    }
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(SCENARIO, name)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "scenario {name} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

pub(crate) fn member_addr(m: u16) -> MemberAddr {
    MemberAddr {
        mac: MacAddr([2, 0, 0, 0, 1, m as u8]),
        addr: SocketAddrV4::new(Ipv4Addr::new(10, 1, (m >> 8) as u8, m as u8), 50000 + m),
    }
}

/// DPDK up with a pool, a clone pool and a started ring port.
pub(crate) struct Rig {
    _eal: Eal,
    pub(crate) pool: Mempool,
    pub(crate) clones: Mempool,
    pub(crate) ring: RingPort,
    pub(crate) port: Port,
}

pub(crate) fn rig() -> Rig {
    let eal = Eal::init(EAL).unwrap();
    let pool = Mempool::create(&eal, "test_pool", 4095, 32, Mempool::DEFAULT_DATA_ROOM).unwrap();
    let clones = Mempool::create(&eal, "test_clones", 4095, 32, 0).unwrap();
    let ring = RingPort::create(&eal, "seq", 1024).unwrap();
    let port = Port::start(&eal, ring.port, pool, PortConfig::default()).unwrap();
    Rig {
        _eal: eal,
        pool,
        clones,
        ring,
        port,
    }
}

impl Rig {
    pub(crate) fn engine(
        &self,
        sequencer: Sequencer,
        members: Vec<Vec<MemberAddr>>,
        copy_threshold: usize,
    ) -> DpdkSequencer {
        let q = Queue::new(&self.port, 0).unwrap();
        DpdkSequencer::new(
            sequencer,
            members,
            EngineConfig {
                rx: q,
                tx: q,
                burst: 32,
                copy_threshold,
                mac: self.port.mac(),
            },
            self.pool,
            self.clones,
        )
        .unwrap()
    }

    pub(crate) fn inject(&self, frame: &[u8]) {
        let mut m = Mbuf::alloc(self.pool).unwrap();
        m.append(frame.len()).unwrap().copy_from_slice(frame);
        self.ring.rx.enqueue(m).unwrap();
    }

    pub(crate) fn collect(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        self.ring.tx.dequeue(&mut out, 4096);
        out.iter()
            .map(|m| {
                let mut v = Vec::new();
                m.copy_to_vec(&mut v);
                v
            })
            .collect()
    }

    pub(crate) fn assert_all_mbufs_back(&self) {
        assert_eq!(self.ring.rx.count() + self.ring.tx.count(), 0);
        assert_eq!(
            self.pool.available(),
            self.pool.size(),
            "pool: mbufs leaked"
        );
        assert_eq!(
            self.clones.available(),
            self.clones.size(),
            "clone pool: mbufs leaked"
        );
    }
}
