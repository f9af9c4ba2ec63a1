//! `sequencer bench --dpdk`: the real DPDK path on one core (receive burst, stamp, fan
//! out, transmit burst) timed on virtual devices. Frames come from a ring-backed port
//! filled in advance (the filling is not timed); copies leave through `--port` (net_null
//! frees them as a NIC's completion would, so the measured path ends at the driver).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

use dataplane::io::dpdk::{Eal, Mbuf, Mempool, Port, PortConfig, Queue, RingPort};
use dataplane::oum::{GroupSpec, Sequencer, SessionNumber};
use dataplane::wire::build::{UdpFrameSpec, oum_payload};
use dataplane::wire::{MacAddr, OumRepr};

use crate::dpdk_engine::{DpdkSequencer, EngineConfig, MAX_BURST, MemberAddr};

#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Transmit port (net_null is the usual choice).
    pub port: u16,
    pub eal_args: Vec<String>,
    pub members: u16,
    /// Ethernet frame length of the requests (without FCS), at least 58 + 12.
    pub frame_len: usize,
    /// Requests per burst size.
    pub packets: u64,
    pub bursts: Vec<usize>,
    pub copy_threshold: usize,
    /// Frames put in the input ring per (untimed) fill, at most 8191: like a NIC's receive
    /// ring size, it sets how many mbufs are in flight and so the cache working set.
    pub round: usize,
}

/// Frames in the input ring per round.
const RING: u32 = 8192;

pub fn run(options: &BenchOptions) -> Result<(), String> {
    if options.bursts.iter().any(|b| !(1..=MAX_BURST).contains(b)) {
        return Err(format!("burst sizes must be within 1..={MAX_BURST}"));
    }
    let group = Ipv4Addr::new(10, 0, 0, 100);
    let header = UdpFrameSpec {
        dst_ip: group,
        udp_checksum: false,
        ..UdpFrameSpec::default()
    };
    let base = header
        .build(&oum_payload(OumRepr::Unsequenced, &[]))
        .map_err(|e| e.to_string())?
        .len();
    let body = vec![0x5a; options.frame_len.saturating_sub(base)];
    let template = header
        .build(&oum_payload(OumRepr::Unsequenced, &body))
        .map_err(|e| e.to_string())?;

    let eal = Eal::init(&options.eal_args).map_err(|e| e.to_string())?;
    let per_round = options.round.clamp(1, (RING - 1) as usize);
    let pool_size = (RING * 2 + MAX_BURST as u32 * u32::from(options.members) * 2).max(4095);
    let pool = Mempool::create(
        &eal,
        "bench_pool",
        pool_size,
        256,
        Mempool::DEFAULT_DATA_ROOM,
    )
    .map_err(|e| e.to_string())?;
    let clone_pool =
        Mempool::create(&eal, "bench_clones", pool_size, 256, 0).map_err(|e| e.to_string())?;
    let tx_port =
        Port::start(&eal, options.port, pool, PortConfig::default()).map_err(|e| e.to_string())?;
    let input = RingPort::create(&eal, "bench_in", RING).map_err(|e| e.to_string())?;
    let rx_port =
        Port::start(&eal, input.port, pool, PortConfig::default()).map_err(|e| e.to_string())?;
    let members: Vec<MemberAddr> = (0..options.members)
        .map(|m| MemberAddr {
            mac: MacAddr([2, 0, 0, 0, 1, m as u8]),
            addr: SocketAddrV4::new(Ipv4Addr::new(10, 1, (m >> 8) as u8, m as u8), 51000 + m),
        })
        .collect();
    println!(
        "bench: DPDK sequencer on one core: rx from a ring port, stamp, fan out to {} member(s), \
         tx on port {} ({}); {}-byte frames, copy threshold {} bytes, {} frames per fill",
        options.members,
        tx_port.id(),
        tx_port.driver(),
        template.len(),
        options.copy_threshold,
        per_round
    );
    for &burst in &options.bursts {
        let sequencer = Sequencer::new(
            SessionNumber(1),
            dataplane::wire::OUM_DEFAULT_PORT,
            &[GroupSpec {
                address: group,
                members: (0..options.members).collect(),
            }],
        )
        .map_err(|e| e.to_string())?;
        let mut engine = DpdkSequencer::new(
            sequencer,
            vec![members.clone()],
            EngineConfig {
                rx: Queue::new(&rx_port, 0).ok_or("no rx queue")?,
                tx: Queue::new(&tx_port, 0).ok_or("no tx queue")?,
                burst,
                copy_threshold: options.copy_threshold,
                mac: tx_port.mac(),
            },
            pool,
            clone_pool,
        )?;
        let mut done = 0u64;
        let mut busy = std::time::Duration::ZERO;
        while done < options.packets {
            let n = fill(
                &input,
                pool,
                &template,
                per_round.min((options.packets - done) as usize),
            )?;
            let start = Instant::now();
            let mut got = 0;
            while got < n {
                got += engine.poll();
            }
            busy += start.elapsed();
            done += n as u64;
        }
        let stats = engine.stats();
        let stamped = engine.sequencer().stats().stamped();
        if stamped != done {
            return Err(format!(
                "stamped {stamped} of {done} requests: {:?}",
                engine.sequencer().stats().drops
            ));
        }
        let secs = busy.as_secs_f64().max(1e-9);
        println!(
            "burst {burst:>2}: {:>7.2} Mpps stamped, {:>7.2} Mpps sent ({} copies, {} clones, {} tx-full), {:.1} ns/request",
            done as f64 / secs / 1e6,
            stats.tx_frames as f64 / secs / 1e6,
            stats.copies,
            stats.clones,
            stats.drops.get(dataplane::io::dpdk::FrameDrop::TxQueueFull),
            secs * 1e9 / done as f64
        );
    }
    drop(rx_port);
    drop(tx_port);
    if pool.in_use() != 0 {
        return Err(format!(
            "{} mbufs were not returned to the pool",
            pool.in_use()
        ));
    }
    // SAFETY: ports and engines are gone, no mbuf is held; nothing DPDK is used after this.
    unsafe { eal.cleanup() };
    Ok(())
}

/// Puts `n` copies of `template` into the port's input ring (not timed).
fn fill(input: &RingPort, pool: Mempool, template: &[u8], n: usize) -> Result<usize, String> {
    for i in 0..n {
        let mut m = Mbuf::alloc(pool).ok_or_else(|| format!("pool empty after {i} frames"))?;
        m.append(template.len())
            .ok_or("frame larger than an mbuf")?
            .copy_from_slice(template);
        input.rx.enqueue(m).map_err(|_| "input ring full")?;
    }
    Ok(n)
}
