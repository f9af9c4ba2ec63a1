//! `replica --dpdk`: any protocol core on a DPDK port (`DpdkIo`), polled run to completion
//! on the EAL's main lcore (EAL pins the thread to the first core of `-l`), and
//! `replica bench --dpdk`: the NOPaxos leader's request rate on one core.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use dataplane::config::ClusterConfig;
use dataplane::io::dpdk::{
    DpdkIo, DpdkIoConfig, Eal, Mbuf, Mempool, Port, PortConfig, RingPort, dpdk_stats_line,
    static_macs,
};
use dataplane::oum::{AUTH_TAG_LEN, StampKey};
use dataplane::wire::build::UdpFrameSpec;
use dataplane::wire::{MacAddr, OumRepr, Stamp};

use crate::driver::udp::{LoopOptions, UdpLoop};
use crate::driver::{Addresses, RefusalCounts};
use crate::serve::{LoopRunner, ServeOptions, replica_address, stop_flag, with_node};
use protocols::ProtocolKind;
use protocols::app::kv::{KvOp, KvStore};
use protocols::codec::Writer;
use protocols::nopaxos::messages::Message;
use protocols::nopaxos::{NopaxosConfig, NopaxosReplica};
use protocols::unreplicated::{Message as UnreplicatedMessage, UnreplicatedServer};
use protocols::{MAX_DATAGRAM, Node, Replica};

/// Mbufs in the replica's pool.
const POOL_SIZE: u32 = 4095;
/// Data room of an mbuf: DPDK's 128-byte headroom (our Ethernet/IPv4/UDP headers go there)
/// plus 12 KiB, room for the largest datagram a core writes ([`MAX_DATAGRAM`]: VR's
/// prepares, chunked view-change and state-transfer messages) with its headers, so nothing
/// a core sends is cut. 12 KiB is three pages: `net_af_packet` copies a frame into one mbuf,
/// so its `framesz` must fit here, and its `blocksz` must be a multiple of both the page
/// size and `framesz` (`framesz=12288,blocksz=12288`). The link must carry jumbo frames
/// (MTU 9000 on the netns test's veths).
const DATA_ROOM: u16 = 128 + 12288;
const _: () = assert!(MAX_DATAGRAM + 42 <= 9014);

/// What `replica --dpdk` was asked for.
#[derive(Debug, Clone, Default)]
pub struct DpdkServeOptions {
    pub port: u16,
    pub eal_args: Vec<String>,
}

/// ", stamps only from MAC 02:..:64" for the start-up line, so the operator sees the check
/// is on (and against what); empty without `[sequencer] macs`.
fn stamp_mac_note(addresses: &Addresses) -> String {
    let macs = addresses.stamp_macs();
    if macs.is_empty() {
        return String::new();
    }
    let list: Vec<String> = macs.iter().map(MacAddr::to_string).collect();
    format!(", stamps only from MAC {}", list.join(" or "))
}

/// Serves `protocol` as replica `index` on DPDK port `dpdk.port` until SIGINT or SIGTERM,
/// then stops and closes the port and cleans up the EAL.
pub fn serve_dpdk(
    config: &ClusterConfig,
    index: usize,
    protocol: ProtocolKind,
    options: ServeOptions,
    dpdk: &DpdkServeOptions,
) -> Result<(), String> {
    let address = replica_address(config, index)?;
    let eal = Eal::init(&dpdk.eal_args).map_err(|e| e.to_string())?;
    let result = (|| {
        let pool = Mempool::create(&eal, "replica_pool", POOL_SIZE, 256, DATA_ROOM)
            .map_err(|e| e.to_string())?;
        let port =
            Port::start(&eal, dpdk.port, pool, PortConfig::default()).map_err(|e| e.to_string())?;
        let mut io = DpdkIo::new(
            &port,
            0,
            pool,
            DpdkIoConfig {
                local_addrs: vec![address],
                static_macs: static_macs(config),
                ..DpdkIoConfig::default()
            },
        )
        .map_err(|e| e.to_string())?;
        let stop = stop_flag()?;
        let addresses = Addresses::new(config, Some(index))?;
        let link = port.link();
        println!(
            "replica {index} serving {protocol:?} on {address} over DPDK port {} ({}, {}, link {}){}{}",
            port.id(),
            port.driver(),
            port.mac(),
            if link.up { "up" } else { "down" },
            if options.busy_poll {
                ", busy-polling"
            } else {
                ""
            },
            stamp_mac_note(&addresses)
        );
        let runner = LoopRunner {
            io: &mut io,
            addresses: &addresses,
            options: &options,
            stop: &stop,
            extra_stats: |io: &DpdkIo| dpdk_stats_line(io, &port),
        };
        let served = with_node(config, index, protocol, &options, runner);
        drop(io);
        drop(port);
        served
    })();
    // SAFETY: the backend and the port are gone and every mbuf with them; nothing DPDK is
    // used after this.
    unsafe { eal.cleanup() };
    result
}

/// Which core `replica bench --dpdk` drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchMode {
    /// The NOPaxos leader, fed requests a sequencer stamped.
    Nopaxos,
    /// The unreplicated server, fed plain requests: the baseline.
    Unreplicated,
}

/// What `replica bench --dpdk` measures.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub mode: BenchMode,
    /// Transmit port for the replies (net_null frees them, as a NIC's completion would).
    pub port: u16,
    pub eal_args: Vec<String>,
    /// Requests to handle.
    pub requests: u64,
    /// Requests put in the input ring per (untimed) fill, at most 8191.
    pub round: usize,
    /// Distinct client ids the requests come from.
    pub clients: u64,
    /// Replicas in the (otherwise absent) group the leader belongs to.
    pub replicas: usize,
    /// Fraction of requests that are gets; the rest are puts.
    pub reads: f64,
    pub value_size: usize,
    pub keys: u64,
    /// Seal every NOPaxos request with the group's key (the config gets one).
    pub auth: bool,
    /// Precede every NOPaxos request with a forged copy from [`STRANGER_MAC`].
    pub forged: bool,
}

const RING: u32 = 8192;

/// The bench's DPDK sequencer port, the source MAC of every stamped frame it feeds, and
/// the one its config lists in `[sequencer] macs`, so the MAC check runs on every request.
const SEQUENCER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x64]);
/// The source of `--forged` frames: a host that is not the sequencer.
const STRANGER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 9, 9]);
/// Where `--forged` requests ask the reply to go: no ARP entry, so a forged request that
/// were executed would show as a transmit error.
const FORGER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 9, 9), 40000);

/// The bench group's key with `--auth` (a test key: the bench is self-contained).
const BENCH_KEY: [u8; 16] = *b"replica-bench-ky";

/// The bench's cluster: `n` replicas with addresses and MACs, one group.
fn bench_config(n: usize, auth: bool) -> Result<ClusterConfig, String> {
    // Alone (`--replicas 1`) the leader commits each synchronization by itself and
    // truncates its log, as a cluster's leader does once its followers answer: a short
    // period keeps the log at a cluster's steady-state size (with the default one second it
    // grows through the whole run). With absent followers nothing commits, and a short
    // period would only rescan the growing log more often.
    let sync = if n == 1 {
        "[timeouts]\nsync_period_ms = 5\n"
    } else {
        ""
    };
    // The frames stand for a DPDK sequencer's: stamped, with the client's source address
    // and the sequencer's MAC.
    let mut text = format!(
        "f = {}\n{sync}[sequencer]\nkind = \"dpdk\"\nmacs = [\"{SEQUENCER_MAC}\"]\n[[group]]\nname = \"bench\"\naddress = \"10.0.0.100\"\n{}",
        n / 2,
        if auth {
            let hex: String = BENCH_KEY.iter().map(|b| format!("{b:02x}")).collect();
            format!("auth_key = \"{hex}\"\n")
        } else {
            String::new()
        }
    );
    for i in 0..n {
        text.push_str(&format!(
            "[[replica]]\naddress = \"10.0.0.{}:51000\"\nmac = \"02:00:00:00:00:{:02x}\"\n",
            11 + i,
            11 + i
        ));
    }
    ClusterConfig::parse(&text).map_err(|e| e.to_string())
}

/// Writes the frame of request number `i` (stamped with message number `i + 1`) into
/// `out`: Ethernet/IPv4/UDP to the leader, the OUM header as a sequencer leaves it, then a
/// NOPaxos request carrying a get or a put.
/// `src_mac` is the Ethernet source: the sequencer's, or a forger's.
fn request_frame(
    i: u64,
    options: &BenchOptions,
    (client, src_mac): (SocketAddrV4, MacAddr),
    leader: SocketAddrV4,
    scratch: &mut Vec<u8>,
) -> Result<Vec<u8>, String> {
    let key = format!(
        "key{:08}",
        i.wrapping_mul(0x9e37_79b9) % options.keys.max(1)
    );
    let value = vec![b'v'; options.value_size];
    // A fixed-point coin from the request number: the same sequence every run.
    let coin = (i.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
    let op = if coin < options.reads {
        KvOp::Get {
            key: key.as_bytes(),
        }
    } else {
        KvOp::Put {
            key: key.as_bytes(),
            value: &value,
        }
    };
    scratch.clear();
    op.encode(scratch);
    let clients = options.clients.max(1);
    let (client_id, request) = (1 + i % clients, 1 + i / clients);
    let mut payload = vec![0u8; MAX_DATAGRAM];
    let mut w = Writer::new(&mut payload);
    let encoded = match options.mode {
        BenchMode::Nopaxos => Message::Request {
            client: client_id,
            request,
            reply_to: client,
            op: scratch,
        }
        .encode_sequenced(&mut w),
        BenchMode::Unreplicated => UnreplicatedMessage::Request {
            client: client_id,
            request,
            op: scratch,
        }
        .encode(&mut w),
    };
    encoded.map_err(|e| format!("encoding a request: {e:?}"))?;
    let len = w.len();
    payload.truncate(len);
    if options.mode == BenchMode::Nopaxos {
        OumRepr::Sequenced(Stamp::new(1, i + 1))
            .emit(&mut payload)
            .map_err(|e| e.to_string())?;
        if options.auth {
            // As a keyed sequencer leaves it: header size 18 and the tag as a trailer.
            payload.extend_from_slice(&[0; AUTH_TAG_LEN]);
            StampKey::new(BENCH_KEY)
                .seal(0, &mut payload)
                .map_err(|e| format!("sealing a request: {e:?}"))?;
        }
    }
    UdpFrameSpec {
        src_mac,
        dst_mac: MacAddr([2, 0, 0, 0, 0, 11]),
        src_ip: *client.ip(),
        dst_ip: *leader.ip(),
        src_port: client.port(),
        dst_port: leader.port(),
        udp_checksum: false,
        ..UdpFrameSpec::default()
    }
    .build(&payload)
    .map_err(|e| e.to_string())
}

/// The NOPaxos leader on one core: requests a sequencer stamped come from a ring-backed
/// port (filled before each timed stretch), go through `DpdkIo` and the real poll loop
/// (`UdpLoop::round`: receive burst, OUM receiver, protocol, key-value store, reply
/// encoded into an mbuf, headers prepended, transmit burst) and the replies leave through
/// `options.port`.
pub fn bench(options: &BenchOptions) -> Result<(), String> {
    if options.replicas == 0 || options.replicas % 2 == 0 || options.replicas > 63 {
        return Err(format!(
            "--replicas {}: give an odd number of replicas, 2f+1 (for example 3)",
            options.replicas
        ));
    }
    if (options.auth || options.forged) && options.mode != BenchMode::Nopaxos {
        return Err(
            "--auth and --forged are for --mode nopaxos (the unreplicated server takes no \
             stamps)"
                .into(),
        );
    }
    let config = bench_config(options.replicas, options.auth)?;
    let leader = replica_address(&config, 0)?;
    let client = SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 1), 40000);
    let client_mac = MacAddr([2, 0, 0, 0, 1, 1]);
    // With --forged each request takes two frames in the ring.
    let per_frame = if options.forged { 2 } else { 1 };
    let per_round = options.round.clamp(1, (RING - 1) as usize / per_frame);

    let eal = Eal::init(&options.eal_args).map_err(|e| e.to_string())?;
    let pool = Mempool::create(
        &eal,
        "bench_pool",
        RING * 2 + 4096,
        256,
        Mempool::DEFAULT_DATA_ROOM,
    )
    .map_err(|e| e.to_string())?;
    let tx_port =
        Port::start(&eal, options.port, pool, PortConfig::default()).map_err(|e| e.to_string())?;
    let input = RingPort::create(&eal, "replica_in", RING).map_err(|e| e.to_string())?;
    let rx_port =
        Port::start(&eal, input.port, pool, PortConfig::default()).map_err(|e| e.to_string())?;
    let mut macs = static_macs(&config);
    macs.push((*client.ip(), client_mac));
    let mut io = DpdkIo::new(
        &rx_port,
        0,
        pool,
        DpdkIoConfig {
            local_addrs: vec![leader],
            static_macs: macs,
            ..DpdkIoConfig::default()
        },
    )
    .map_err(|e| e.to_string())?;
    io.set_tx(&tx_port, 0).map_err(|e| e.to_string())?;
    let addresses = Addresses::new(&config, Some(0))?;
    let what = match options.mode {
        BenchMode::Nopaxos => format!(
            "NOPaxos leader (replica 0 of {}): requests a sequencer stamped",
            options.replicas
        ),
        BenchMode::Unreplicated => "unreplicated server: plain requests".to_string(),
    };
    println!(
        "bench: {what} from a ring port through DpdkIo on one core, replies to port {} ({}); \
         {} clients, {:.0}% gets, {}-byte values, {} keys, {} requests per fill{}",
        tx_port.id(),
        tx_port.driver(),
        options.clients,
        options.reads * 100.0,
        options.value_size,
        options.keys,
        per_round,
        match (options.auth, options.forged) {
            (false, false) => "",
            (true, false) => "; every request sealed with a tag (--auth)",
            (false, true) => "; every request preceded by a forged copy (--forged)",
            (true, true) => "; every request sealed and preceded by a forged copy",
        }
    );
    let mut rig = Rig {
        io: &mut io,
        addresses: &addresses,
        input,
        pool,
        client,
        leader,
        per_round,
        options,
    };
    let (done, busy, executed, refused, describe) = match options.mode {
        BenchMode::Nopaxos => rig.drive(NopaxosReplica::serving_first_session(
            NopaxosConfig::from_cluster(&config, 0),
            KvStore::default(),
            1,
        ))?,
        BenchMode::Unreplicated => rig.drive(UnreplicatedServer::new(KvStore::default()))?,
    };
    let stats = io.dpdk_stats();
    let secs = busy.as_secs_f64().max(1e-9);
    println!(
        "{}: {done} requests in {:.3} s busy: {:.3} M requests/s, {:.0} ns/request; \
         executed {executed}, datagrams sent {}, tx errors {}, frame drops {}, \
         stranger_stamp {}",
        match options.mode {
            BenchMode::Nopaxos => "nopaxos leader",
            BenchMode::Unreplicated => "unreplicated server",
        },
        secs,
        done as f64 / secs / 1e6,
        secs * 1e9 / done.max(1) as f64,
        stats.io.tx_packets,
        stats.io.tx_errors,
        stats.drops.total(),
        refused.stranger_stamp
    );
    // Every request is answered (sync messages to the absent followers may add a few), and
    // every forged copy refused for its MAC.
    let forged = if options.forged { done } else { 0 };
    let result = if executed != done || stats.io.tx_packets < done {
        Err(format!(
            "the leader executed {executed} and answered {} of {done} requests: {}",
            stats.io.tx_packets, describe
        ))
    } else if refused.stranger_stamp != forged {
        Err(format!(
            "the leader refused {} stamps from strangers; {forged} were forged",
            refused.stranger_stamp
        ))
    } else {
        Ok(())
    };
    drop(io);
    drop(rx_port);
    drop(tx_port);
    // SAFETY: the backend and the ports are gone, no mbuf is held; nothing DPDK is used
    // after this.
    unsafe { eal.cleanup() };
    result
}

/// The timed part of the bench: what it drives and where requests come from.
struct Rig<'a> {
    io: &'a mut DpdkIo,
    addresses: &'a Addresses,
    input: RingPort,
    pool: Mempool,
    client: SocketAddrV4,
    leader: SocketAddrV4,
    per_round: usize,
    options: &'a BenchOptions,
}

impl Rig<'_> {
    /// Feeds `options.requests` requests to `node` a fill at a time, timing only the poll
    /// loop; returns the requests, the busy time, the requests executed, the stamps the
    /// driver refused and the node's description.
    fn drive<N: Node + Replica>(
        &mut self,
        mut node: N,
    ) -> Result<(u64, Duration, u64, RefusalCounts, String), String> {
        let options = self.options;
        let mut frames: Vec<Vec<u8>> = Vec::with_capacity(self.per_round);
        let mut scratch = Vec::new();
        let mut done = 0u64;
        let mut busy = Duration::ZERO;
        let mut last_report = Instant::now();
        let mut reported = (0u64, Duration::ZERO);
        let mut driver = UdpLoop::new(
            &mut node,
            &mut *self.io,
            self.addresses,
            LoopOptions {
                busy_poll: true,
                drop_rate: 0.0,
            },
        );
        while done < options.requests {
            let n = self.per_round.min((options.requests - done) as usize);
            frames.clear();
            for k in 0..n as u64 {
                if options.forged {
                    // Same stamp, first in line: executed unless refused for its MAC.
                    let forger = (FORGER, STRANGER_MAC);
                    frames.push(request_frame(
                        done + k,
                        options,
                        forger,
                        self.leader,
                        &mut scratch,
                    )?);
                }
                let client = (self.client, SEQUENCER_MAC);
                frames.push(request_frame(
                    done + k,
                    options,
                    client,
                    self.leader,
                    &mut scratch,
                )?);
            }
            for (k, frame) in frames.iter().enumerate() {
                let mut m =
                    Mbuf::alloc(self.pool).ok_or_else(|| format!("pool empty after {k} frames"))?;
                m.append(frame.len())
                    .ok_or("a request larger than an mbuf")?
                    .copy_from_slice(frame);
                self.input.rx.enqueue(m).map_err(|_| "input ring full")?;
            }
            let start = Instant::now();
            let mut got = 0;
            while got < frames.len() {
                got += driver.round().map_err(|e| e.to_string())?;
            }
            busy += start.elapsed();
            done += n as u64;
            if last_report.elapsed() >= Duration::from_secs(1) {
                let (d0, b0) = reported;
                let secs = (busy - b0).as_secs_f64().max(1e-9);
                println!(
                    "  {done} requests, {:.3} M requests/s over the last {}",
                    (done - d0) as f64 / secs / 1e6,
                    done - d0
                );
                reported = (done, busy);
                last_report = Instant::now();
            }
        }
        let refused = driver.refused;
        drop(driver);
        Ok((done, busy, node.stats().executed, refused, node.describe()))
    }
}
