use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use checker::HistoryOp;
use dataplane::config::ClusterConfig;
use dataplane::io::udp::{UdpConfig, UdpIo};
use dataplane::io::{Packet, PacketIo};
use dataplane::time::{MonotonicClock, Time};
use protocols::RequestId;

use super::clients::{AnyClient, new_client, reply_client};
use crate::cpu::{ServerProcess, Snapshot};
use crate::report::{CpuAccount, LatencyRecorder, Progress, RunSummary, Timeline};
use crate::workload::{ArrivalClock, Arrivals, OpGenerator, WorkloadSpec};
use protocols::{AddressBook, ProtocolKind};

/// How requests are issued.
#[derive(Debug, Clone)]
pub enum LoadMode {
    /// Each client sends its next request `think` after its previous one completed.
    Closed { think: Duration },
    /// Requests at the times an arrival process gives, whatever the system's speed; a
    /// request waits for a free client if all are busy, and its latency counts the wait.
    Open { arrivals: Arrivals },
}

/// One load run against a running cluster.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub protocol: ProtocolKind,
    pub config: ClusterConfig,
    /// Closed loop: concurrent clients. Open loop: the pool of clients requests are given to.
    pub clients: usize,
    pub mode: LoadMode,
    /// Total run time, warm-up and cool-down included.
    pub duration: Duration,
    /// Stop issuing after this many requests (the run then ends when they are answered).
    pub max_ops: Option<u64>,
    pub warmup: Duration,
    pub cooldown: Duration,
    pub workload: WorkloadSpec,
    /// Width of the throughput-over-time buckets.
    pub interval: Duration,
    /// Local address to bind (port 0: any).
    pub bind: SocketAddrV4,
    pub record_history: bool,
    pub progress: bool,
    pub busy_poll: bool,
    /// Server processes on this machine whose CPU time per request is reported (empty:
    /// the servers are remote, or their PIDs were not given).
    pub servers: Vec<ServerProcess>,
}

/// What a run produced.
#[derive(Debug)]
pub struct LoadOutcome {
    pub summary: RunSummary,
    pub latency: LatencyRecorder,
    pub history: Vec<HistoryOp>,
    /// Requests still unanswered when the run ended (in the history without a return).
    pub unfinished: u64,
    /// Requests sent again after their resend timer ran out, over the whole run (warm-up
    /// and cool-down included): what lost requests and replies cost the clients.
    pub resends: u64,
}

struct InFlight {
    request: RequestId,
    intended: Time,
    invoked: Time,
    op: Vec<u8>,
}

struct Slot {
    client: AnyClient,
    ops: OpGenerator,
    in_flight: Option<InFlight>,
}

/// Client ids differ between runs, so a cluster's client table never mistakes a new run's
/// request 1 for an old run's.
fn client_id_base(seed: u64) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = now ^ seed.rotate_left(29) ^ u64::from(std::process::id()).rotate_left(47);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x & !0xff_ffff) | 1 << 63
}

/// The load on kernel UDP, from a socket bound to `spec.bind`.
pub fn run_load(spec: &LoadSpec, stop: &AtomicBool) -> Result<LoadOutcome, String> {
    validate(spec)?;
    let udp = UdpConfig {
        socket_buffer: 8 << 20,
        ..UdpConfig::default()
    };
    let mut io = UdpIo::bind(&[spec.bind], udp).map_err(|e| format!("client socket: {e}"))?;
    let me = io.local_addrs()[0];
    let me = if me.ip().is_unspecified() {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, me.port())
    } else {
        me
    };
    run_load_on(spec, &mut io, me, stop)
}

/// Checks what every run needs before it starts.
fn validate(spec: &LoadSpec) -> Result<(), String> {
    spec.workload.validate()?;
    if spec.clients == 0 {
        return Err("--clients 0: at least one client is needed (for example --clients 8)".into());
    }
    if spec.warmup + spec.cooldown >= spec.duration && spec.max_ops.is_none() {
        return Err(format!(
            "warm-up ({:?}) plus cool-down ({:?}) leave nothing of the {:?} run to measure; \
             lengthen --duration or shorten them",
            spec.warmup, spec.cooldown, spec.duration
        ));
    }
    Ok(())
}

/// The load on any packet backend (kernel UDP, DPDK): the clients' replies come to `me`,
/// the backend's address.
pub fn run_load_on<I: PacketIo>(
    spec: &LoadSpec,
    io: &mut I,
    me: SocketAddrV4,
    stop: &AtomicBool,
) -> Result<LoadOutcome, String> {
    validate(spec)?;
    let addresses = AddressBook::new(&spec.config);
    let reply_of = reply_client(spec.protocol);
    let base = client_id_base(spec.workload.seed);
    let mut slots: Vec<Slot> = (0..spec.clients)
        .map(|i| Slot {
            client: new_client(spec.protocol, &spec.config, base + i as u64, me),
            ops: OpGenerator::new(&spec.workload, i as u64),
            in_flight: None,
        })
        .collect();

    let clock = MonotonicClock::new();
    let start = clock.now();
    let end = start + spec.duration;
    let window = (
        start + spec.warmup,
        start + spec.duration.saturating_sub(spec.cooldown).max(spec.warmup),
    );
    let in_window = |t: Time| t >= window.0 && t < window.1;

    let mut latency = LatencyRecorder::new();
    let mut timeline = Timeline::new(
        spec.interval,
        spec.warmup,
        spec.duration.saturating_sub(spec.cooldown),
    );
    let mut progress = Progress::new(spec.progress);
    let mut history = Vec::new();
    let mut errors = 0u64;
    let mut completed = 0u64;
    let mut issued = 0u64;

    let mut timers: BinaryHeap<Reverse<(Time, usize)>> = BinaryHeap::new();
    let mut ready: BinaryHeap<Reverse<(Time, usize)>> = BinaryHeap::new();
    let mut idle: Vec<usize> = Vec::new();
    let mut backlog: VecDeque<Time> = VecDeque::new();
    let mut arrivals = match &spec.mode {
        LoadMode::Open { arrivals } => {
            Some(ArrivalClock::new(arrivals.clone(), spec.workload.seed))
        }
        LoadMode::Closed { .. } => None,
    };
    let mut next_arrival = arrivals.as_mut().map(|a| start + a.next());
    match spec.mode {
        LoadMode::Closed { .. } => {
            for i in 0..slots.len() {
                ready.push(Reverse((start, i)));
            }
        }
        LoadMode::Open { .. } => idle.extend((0..slots.len()).rev()),
    }
    let think = match spec.mode {
        LoadMode::Closed { think } => think,
        LoadMode::Open { .. } => Duration::ZERO,
    };

    let mut rx: Vec<I::Buf> = Vec::with_capacity(64);
    let mut tx: Vec<I::Buf> = Vec::with_capacity(256);
    let mut targets: Vec<SocketAddrV4> = Vec::with_capacity(8);
    let mut dirty: Vec<usize> = Vec::with_capacity(spec.clients);
    let mut op = Vec::with_capacity(256);
    let mut next_progress = start + Duration::from_millis(200);
    let issuing_done =
        |issued: u64, now: Time| spec.max_ops.is_some_and(|m| issued >= m) || now >= end;
    // The servers' CPU time when the measured window opens and closes.
    let mut cpu_before: Option<Snapshot> = None;
    let mut cpu_after: Option<Snapshot> = None;
    // When issuing stopped: the timeline ends there, not after the drain of the last
    // in-flight requests (see Timeline::series).
    let mut load_end: Option<Time> = None;

    loop {
        let now = clock.now();
        if cpu_before.is_none() && now >= window.0 {
            cpu_before = Some(Snapshot::take(&spec.servers));
        }
        if cpu_after.is_none() && cpu_before.is_some() && now >= window.1 {
            cpu_after = Some(Snapshot::take(&spec.servers));
        }
        if stop.load(Ordering::Relaxed) {
            progress.finish();
            return Err("interrupted".into());
        }
        if load_end.is_none() && issuing_done(issued, now) {
            // Nothing is issued at or after `end`, so a timed run's load ends exactly there.
            load_end = Some(now.min(end));
        }
        let all_idle = slots.iter().all(|s| s.in_flight.is_none());
        if issuing_done(issued, now) && (all_idle || now >= end + spec.config_give_up()) {
            break;
        }
        let mut busy = false;

        // Issue.
        if !issuing_done(issued, now) {
            if let (Some(clock_a), Some(at)) = (arrivals.as_mut(), next_arrival.as_mut()) {
                while *at <= now {
                    backlog.push_back(*at);
                    *at = start + clock_a.next();
                }
            }
            loop {
                if issuing_done(issued, now) {
                    break;
                }
                let (i, intended) = match spec.mode {
                    LoadMode::Closed { .. } => match ready.peek() {
                        Some(&Reverse((t, i))) if t <= now => {
                            ready.pop();
                            (i, now)
                        }
                        _ => break,
                    },
                    LoadMode::Open { .. } => match (backlog.front(), idle.last()) {
                        (Some(&t), Some(&i)) => {
                            backlog.pop_front();
                            idle.pop();
                            (i, t)
                        }
                        _ => break,
                    },
                };
                let slot = &mut slots[i];
                op.clear();
                slot.ops.next_op(&mut op);
                let Some(request) = slot.client.invoke(now, &op) else {
                    continue;
                };
                slot.in_flight = Some(InFlight {
                    request,
                    intended,
                    invoked: now,
                    op: op.clone(),
                });
                issued += 1;
                dirty.push(i);
                busy = true;
            }
        }

        // Receive.
        io.recv_burst(&mut rx, 64)
            .map_err(|e| format!("receive: {e}"))?;
        let now = clock.now();
        for buf in rx.drain(..) {
            busy = true;
            if let Some(id) = reply_of(buf.as_ref()) {
                let i = id.wrapping_sub(base) as usize;
                if let Some(slot) = slots.get_mut(i) {
                    slot.client.handle_datagram(now, buf.peer(), buf.as_ref());
                    dirty.push(i);
                }
            }
            io.free(buf);
        }

        // Client timers.
        while let Some(&Reverse((t, i))) = timers.peek() {
            if t > now {
                break;
            }
            timers.pop();
            if slots[i].client.poll_timeout() == Some(t) {
                slots[i].client.handle_timeout(now);
                dirty.push(i);
            }
        }

        // Completions, transmissions, new deadlines.
        dirty.sort_unstable();
        dirty.dedup();
        for &i in &dirty {
            let slot = &mut slots[i];
            while let Some(done) = slot.client.poll_completion() {
                let Some(f) = slot.in_flight.take() else {
                    continue;
                };
                if f.request != done.request {
                    continue;
                }
                let measured_from = f.intended;
                let ok = done.result.is_ok();
                if in_window(now) {
                    if ok {
                        latency.record(now.saturating_since(measured_from));
                    } else {
                        errors += 1;
                    }
                }
                timeline.record(now.saturating_since(start), ok);
                completed += u64::from(ok);
                if spec.record_history {
                    history.push(HistoryOp {
                        client: base.wrapping_add(i as u64),
                        invoke: f.invoked.saturating_since(start).as_nanos() as u64,
                        ret: ok.then(|| now.saturating_since(start).as_nanos() as u64),
                        op: f.op,
                        result: done.result.ok(),
                    });
                }
                match spec.mode {
                    LoadMode::Closed { .. } => ready.push(Reverse((now + think, i))),
                    LoadMode::Open { .. } => idle.push(i),
                }
            }
            loop {
                let mut buf = io.alloc();
                let Some(t) = slot.client.poll_transmit(buf.buffer_mut()) else {
                    io.free(buf);
                    break;
                };
                buf.set_len(t.len);
                targets.clear();
                addresses.resolve(t.destination, None, |a| targets.push(a));
                let Some((&last, rest)) = targets.split_last() else {
                    io.free(buf);
                    continue;
                };
                for &a in rest {
                    let mut copy = io.duplicate(&buf);
                    copy.set_peer(a);
                    tx.push(copy);
                }
                buf.set_peer(last);
                tx.push(buf);
            }
            if let Some(t) = slot.client.poll_timeout() {
                timers.push(Reverse((t, i)));
            }
        }
        dirty.clear();
        if !tx.is_empty() {
            io.send_burst(&mut tx).map_err(|e| format!("send: {e}"))?;
        }

        if now >= next_progress {
            next_progress = now + Duration::from_millis(200);
            progress.update(now.saturating_since(start), completed, &latency);
        }
        if !busy && !spec.busy_poll {
            let mut wake = now + Duration::from_millis(2);
            if let Some(&Reverse((t, _))) = timers.peek() {
                wake = wake.min(t);
            }
            if let Some(&Reverse((t, _))) = ready.peek() {
                wake = wake.min(t);
            }
            if let Some(t) = next_arrival {
                wake = wake.min(t);
            }
            let wait = wake.saturating_since(now);
            if !wait.is_zero() {
                io.wait(wait).map_err(|e| format!("poll: {e}"))?;
            }
        }
    }
    progress.finish();

    let now = clock.now();
    // A run that stopped early (--ops) closes its window here.
    if cpu_before.is_some() && cpu_after.is_none() {
        cpu_after = Some(Snapshot::take(&spec.servers));
    }
    let mut unfinished = 0;
    for (i, slot) in slots.iter_mut().enumerate() {
        if let Some(f) = slot.in_flight.take() {
            unfinished += 1;
            if spec.record_history {
                history.push(HistoryOp {
                    client: base.wrapping_add(i as u64),
                    invoke: f.invoked.saturating_since(start).as_nanos() as u64,
                    ret: None,
                    op: f.op,
                    result: None,
                });
            }
        }
    }
    let resends = slots.iter().map(|s| s.client.resends()).sum();
    let measured = window
        .1
        .saturating_since(window.0)
        .min(now.saturating_since(window.0));
    timeline.set_end(load_end.unwrap_or(now).saturating_since(start));
    let mut summary = summarize(spec, &latency, &timeline, errors, measured);
    summary.cpu = match (&cpu_before, &cpu_after) {
        (Some(before), Some(after)) => {
            crate::cpu::account(&spec.servers, before, after, summary.throughput_ops_s)
        }
        _ => CpuAccount::unmeasured("the run ended before its measured window began"),
    };
    Ok(LoadOutcome {
        summary,
        latency,
        history,
        unfinished,
        resends,
    })
}

fn summarize(
    spec: &LoadSpec,
    latency: &LatencyRecorder,
    timeline: &Timeline,
    errors: u64,
    measured: Duration,
) -> RunSummary {
    let summary = latency.summary();
    let measured_s = measured.as_secs_f64();
    let mut notes = Vec::new();
    if latency.saturated() > 0 {
        notes.push(format!(
            "{} latencies above {:?} were recorded at that bound",
            latency.saturated(),
            latency.max_trackable()
        ));
    }
    RunSummary {
        protocol: spec.protocol.name().to_string(),
        replicas: spec.protocol.replicas(&spec.config),
        clients: spec.clients,
        mode: match spec.mode {
            LoadMode::Closed { .. } => "closed".into(),
            LoadMode::Open { .. } => "open".into(),
        },
        offered_rate: match &spec.mode {
            LoadMode::Open { arrivals } => Some(arrivals.rate()),
            LoadMode::Closed { .. } => None,
        },
        warmup_s: spec.warmup.as_secs_f64(),
        measured_s,
        cooldown_s: spec.cooldown.as_secs_f64(),
        ops: summary.count,
        errors,
        throughput_ops_s: if measured_s > 0.0 {
            summary.count as f64 / measured_s
        } else {
            0.0
        },
        latency: summary,
        timeline: timeline.series(),
        seed: spec.workload.seed,
        workload: spec.workload.to_string(),
        drops_injected: None,
        notes,
        // Filled in by the caller, which holds the CPU snapshots.
        cpu: CpuAccount::unmeasured("not measured"),
    }
}

impl LoadSpec {
    /// How long a client keeps trying before it gives up: the engine waits that long after
    /// the end for requests still in flight.
    fn config_give_up(&self) -> Duration {
        Duration::from_millis(self.config.timeouts.client_give_up_ms)
    }
}
