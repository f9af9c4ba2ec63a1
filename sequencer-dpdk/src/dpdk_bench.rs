//! `sequencer bench --dpdk`: the real DPDK path on one core (receive burst, stamp, fan
//! out, transmit burst) timed on virtual devices, against plain forwarding on the same
//! ports as its limit. Frames come from a ring-backed port filled in advance (the filling
//! is not timed); copies leave through `--port` (net_null frees them as a NIC's completion
//! would, so the measured path ends at the driver).
//!
//! Absolute rates depend on the machine and its load; what the bench reports as the
//! result is stamped / forwarding, measured in the same run: for each burst size the two
//! alternate, one fill of the input ring (`--round` requests) each, and the medians of the
//! rounds are compared, so noise on a shared machine hits both. The forwarding baseline is
//! [`DpdkSequencer::poll_forward`]: the same engine, bursts, queues and fan-out copies,
//! without parsing, stamping or rewriting destinations.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use dataplane::io::dpdk::{
    Eal, FrameDrop, FrameDropCounts, Mbuf, Mempool, Port, PortConfig, Queue, RingPort,
};
use dataplane::oum::{GroupId, GroupSpec, Sequencer, SessionNumber, StampKey};
use dataplane::wire::build::{UdpFrameSpec, oum_payload};
use dataplane::wire::{MacAddr, OumRepr};

use crate::dpdk_engine::{
    DpdkSequencer, EngineConfig, EngineStats, Forwarding, MAX_BURST, MemberAddr,
};

#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Transmit port (net_null is the usual choice).
    pub port: u16,
    pub eal_args: Vec<String>,
    pub members: u16,
    /// Ethernet frame length of the requests (without FCS), at least 58 + 12.
    pub frame_len: usize,
    /// Requests per burst size and mode (forwarding, stamped).
    pub packets: u64,
    pub bursts: Vec<usize>,
    pub copy_threshold: usize,
    /// Frames put in the input ring per (untimed) fill, at most 8191: like a NIC's receive
    /// ring size, it sets how many mbufs are in flight and so the cache working set.
    pub round: usize,
    /// Key the group, so each stamp is sealed with a tag.
    pub auth: bool,
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
         tx on port {} ({}); {}-byte frames, copy threshold {} bytes, {} frames per fill{}",
        options.members,
        tx_port.id(),
        tx_port.driver(),
        template.len(),
        options.copy_threshold,
        per_round,
        if options.auth {
            "; stamps sealed with a tag (--auth)"
        } else {
            ""
        }
    );
    let mut summary = Vec::with_capacity(options.bursts.len());
    for &burst in &options.bursts {
        let mut sequencer = Sequencer::new(
            SessionNumber(1),
            dataplane::wire::OUM_DEFAULT_PORT,
            &[GroupSpec {
                address: group,
                members: (0..options.members).collect(),
            }],
        )
        .map_err(|e| e.to_string())?;
        if options.auth {
            sequencer.set_key(GroupId(0), Some(StampKey::new(*b"bench-stamp-key!")));
        }
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
        let feed = Feed {
            input: &input,
            pool,
            template: &template,
            per_fill: per_round,
        };
        // One round is one fill of the input ring per mode, back to back, so each pair
        // sees the same machine: on a shared machine a preemption or another process's
        // burst of work spoils a round of one mode, and the medians over many short rounds
        // leave such rounds out where one long timing per mode would absorb them.
        let rounds = options.packets.div_ceil(per_round as u64);
        // Per mode (in Mode::ALL's order), its rounds.
        let mut measured: [Vec<Measured>; 3] = Default::default();
        for r in 0..rounds {
            let n = (options.packets - r * per_round as u64).min(per_round as u64);
            // Rotate which mode goes first, so that what one round leaves behind (cache
            // contents, a drift in load or frequency) favours none of them.
            for i in 0..Mode::ALL.len() {
                let k = (i + r as usize) % Mode::ALL.len();
                measured[k].push(measure(
                    &mut engine,
                    Mode::ALL[k],
                    options.members,
                    &feed,
                    n,
                )?);
            }
        }
        let [forwarding, io, stamped] = &measured;
        let stamped_total = engine.sequencer().stats().stamped();
        let expected = options.packets;
        if stamped_total != expected {
            return Err(format!(
                "stamped {stamped_total} of {expected} requests: {:?}",
                engine.sequencer().stats().drops
            ));
        }
        let s = Totals::of(stamped);
        let f = Totals::of(forwarding);
        println!(
            "burst {burst:>2}: {:>7.2} Mpps stamped, {:>7.2} Mpps sent ({} copies, {} clones, {} tx-full), {:.1} ns/request",
            s.mpps(),
            s.sent_mpps(),
            s.stats.copies,
            s.stats.clones,
            s.stats.drops.get(FrameDrop::TxQueueFull),
            1e3 / s.mpps()
        );
        let (fwd, unchanged, stamp) = (median(forwarding), median(io), median(stamped));
        let ratio = stamp / fwd;
        println!(
            "burst {burst:>2}: forwarding {fwd:.2} Mpps, stamped {stamp:.2} Mpps, ratio {ratio:.3} \
             (medians of {rounds} interleaved rounds of {per_round} requests; frames \
             in/out: forwarding {}/{}, stamped {}/{}; ratio of the totals {:.3})",
            f.frames,
            f.stats.tx_frames,
            s.frames,
            s.stats.tx_frames,
            s.mpps() / f.mpps()
        );
        println!(
            "burst {burst:>2}: io forwarding (frames sent unchanged) {unchanged:.2} Mpps, \
             stamped/io {:.3}, forwarding/io {:.3}",
            stamp / unchanged,
            fwd / unchanged
        );
        summary.push((burst, fwd, stamp, ratio));
    }
    if let Some(&(burst, fwd, stamp, ratio)) = summary.iter().min_by(|a, b| a.3.total_cmp(&b.3)) {
        println!(
            "summary: stamped/forwarding by burst: {}; lowest {ratio:.3} at burst {burst} \
             (forwarding {fwd:.2} Mpps, stamped {stamp:.2} Mpps){}",
            summary
                .iter()
                .map(|(b, _, _, r)| format!("{b} {r:.3}"))
                .collect::<Vec<_>>()
                .join(", "),
            if ratio < TARGET_RATIO {
                format!(", below the {TARGET_RATIO} target")
            } else {
                String::new()
            }
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

/// What a timed stretch does with each received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The same fan-out, each copy addressed to its member; no parsing or stamping.
    Forward(Forwarding),
    /// The sequencer's path.
    Stamp,
}

impl Mode {
    const ALL: [Mode; 3] = [
        Mode::Forward(Forwarding::Addressed),
        Mode::Forward(Forwarding::Unchanged),
        Mode::Stamp,
    ];
}

/// The stamped path is meant to stay within 10% of plain forwarding on the same ports.
const TARGET_RATIO: f64 = 0.9;

/// Where a timed stretch's frames come from.
struct Feed<'a> {
    input: &'a RingPort,
    pool: Mempool,
    template: &'a [u8],
    per_fill: usize,
}

/// One round of one mode: frames received, time spent in the engine and what the engine
/// counted meanwhile.
struct Measured {
    frames: u64,
    busy: Duration,
    stats: EngineStats,
}

impl Measured {
    fn mpps(&self) -> f64 {
        self.frames as f64 / self.busy.as_secs_f64().max(1e-9) / 1e6
    }
}

/// Rounds of one mode added up.
struct Totals {
    frames: u64,
    busy: Duration,
    stats: EngineStats,
}

impl Totals {
    fn of(rounds: &[Measured]) -> Totals {
        let mut t = Totals {
            frames: 0,
            busy: Duration::ZERO,
            stats: EngineStats::default(),
        };
        for m in rounds {
            t.frames += m.frames;
            t.busy += m.busy;
            t.stats.tx_frames += m.stats.tx_frames;
            t.stats.copies += m.stats.copies;
            t.stats.clones += m.stats.clones;
            for (reason, n) in m.stats.drops.nonzero() {
                t.stats.drops.add_n(reason, n);
            }
        }
        t
    }

    fn mpps(&self) -> f64 {
        self.frames as f64 / self.busy.as_secs_f64().max(1e-9) / 1e6
    }

    fn sent_mpps(&self) -> f64 {
        self.stats.tx_frames as f64 / self.busy.as_secs_f64().max(1e-9) / 1e6
    }
}

fn median(rounds: &[Measured]) -> f64 {
    let mut v: Vec<f64> = rounds.iter().map(Measured::mpps).collect();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Pushes `frames` requests through the engine in `mode`, timing only the engine's steps
/// (each fill of the input ring happens before the clock starts). Fails unless every frame
/// was received and every copy either sent or counted.
fn measure(
    engine: &mut DpdkSequencer,
    mode: Mode,
    members: u16,
    feed: &Feed<'_>,
    frames: u64,
) -> Result<Measured, String> {
    let before = engine.stats();
    let mut done = 0u64;
    let mut busy = Duration::ZERO;
    while done < frames {
        let n = fill(feed, feed.per_fill.min((frames - done) as usize))?;
        let start = Instant::now();
        let mut got = 0;
        match mode {
            Mode::Forward(how) => {
                while got < n {
                    got += engine.poll_forward(GroupId(0), how);
                }
            }
            Mode::Stamp => {
                while got < n {
                    got += engine.poll();
                }
            }
        }
        busy += start.elapsed();
        done += n as u64;
    }
    let after = engine.stats();
    let stats = EngineStats {
        rx_frames: after.rx_frames - before.rx_frames,
        tx_frames: after.tx_frames - before.tx_frames,
        copies: after.copies - before.copies,
        clones: after.clones - before.clones,
        arp_replies: after.arp_replies - before.arp_replies,
        unsealed: after.unsealed - before.unsealed,
        drops: FrameDropCounts::default(),
    };
    let mut stats = stats;
    for reason in FrameDrop::ALL {
        stats
            .drops
            .add_n(reason, after.drops.get(reason) - before.drops.get(reason));
    }
    let lost = stats.drops.get(FrameDrop::TxQueueFull) + stats.drops.get(FrameDrop::NoMbuf);
    if stats.rx_frames != done || stats.tx_frames + lost != done * u64::from(members) {
        return Err(format!(
            "{mode:?}: {done} frames in, engine received {} and sent {} (+{lost} refused) \
             for {members} member(s)",
            stats.rx_frames, stats.tx_frames
        ));
    }
    Ok(Measured {
        frames: done,
        busy,
        stats,
    })
}

/// Puts `n` copies of the template into the port's input ring (not timed).
fn fill(feed: &Feed<'_>, n: usize) -> Result<usize, String> {
    for i in 0..n {
        let mut m = Mbuf::alloc(feed.pool).ok_or_else(|| format!("pool empty after {i} frames"))?;
        m.append(feed.template.len())
            .ok_or("frame larger than an mbuf")?
            .copy_from_slice(feed.template);
        feed.input.rx.enqueue(m).map_err(|_| "input ring full")?;
    }
    Ok(n)
}
