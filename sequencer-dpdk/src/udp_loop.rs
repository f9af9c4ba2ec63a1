//! Serving on kernel UDP: one socket per group address (the kernel's demultiplexing picks the
//! group), stamped copies sent to each member from that same socket, run to completion.

use std::net::SocketAddrV4;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dataplane::config::ClusterConfig;
use dataplane::io::udp::{UdpConfig, UdpIo};
use dataplane::io::{Endpoint, Packet, PacketBuf, PacketIo};
use dataplane::oum::{AUTH_TAG_LEN, GroupId, SessionNumber, Verdict};

use crate::report::{final_report, stats_line};
use crate::session_state::SessionState;

#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Print a counters line this often.
    pub stats_interval: Option<Duration>,
    pub busy_poll: bool,
}

/// Packets taken per burst.
const BURST: usize = 32;
/// Longest sleep when idle; bounds how late a signal or a stats line is noticed.
const IDLE_WAIT: Duration = Duration::from_millis(50);

/// Runs until SIGINT or SIGTERM, then prints the final counters.
pub fn run(
    config: &ClusterConfig,
    state: SessionState,
    session: SessionNumber,
    options: RunOptions,
) -> Result<(), String> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("cannot install a handler for signal {signal}: {e}"))?;
    }

    let group_sockets: Vec<SocketAddrV4> = config
        .groups
        .iter()
        .map(|g| config.group_socket(g))
        .collect();
    let mut io = UdpIo::bind(&group_sockets, UdpConfig::default()).map_err(|e| {
        format!(
            "{e}. On kernel UDP the sequencer binds each group address, so it must be an \
             address of this host (any 127.x.y.z on loopback) and the port free"
        )
    })?;
    let mut sequencer = config.sequencer(session)?;
    // Per group, where its stamped copies go: its multicast address (one send; the kernel
    // copies it to every member), or else each member's UDP address in member order.
    let destinations: Vec<Vec<SocketAddrV4>> = config
        .groups
        .iter()
        .map(|g| match config.multicast_socket(g) {
            Some(m) => vec![m],
            None => config
                .members(g)
                .iter()
                .filter_map(|&m| config.replica_address(usize::from(m)))
                .collect(),
        })
        .collect();
    for (i, g) in config.groups.iter().enumerate() {
        if g.multicast.is_some() {
            io.set_multicast_interface(Endpoint(i as u16), g.address)
                .map_err(|e| {
                    format!(
                        "group {}: {e}; give the group no `multicast` to send one copy per \
                         member instead",
                        g.name
                    )
                })?;
        }
    }

    println!(
        "sequencer: session {} on {}{}",
        session,
        group_sockets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        crate::report::keyed_note(config)
    );

    let mut rx: Vec<PacketBuf> = Vec::with_capacity(BURST);
    let mut tx: Vec<PacketBuf> = Vec::with_capacity(BURST * 8);
    let mut last_stats = Instant::now();
    let mut last_stamped = 0;
    while !stop.load(Ordering::Relaxed) {
        let received = io
            .recv_burst(&mut rx, BURST)
            .map_err(|e| format!("receive: {e}"))?;
        for mut buf in rx.drain(..) {
            let group = GroupId(buf.endpoint().0);
            // A keyed group's tag goes in the buffer after the datagram; one that leaves no
            // room for it is refused by the core before it takes a number.
            let len = buf.as_ref().len();
            let room = buf.capacity().saturating_sub(len);
            match sequencer.stamp_datagram_in(group, buf.as_mut(), room) {
                Some(Verdict::Multicast { group, .. }) => {
                    if sequencer.seals(group) {
                        let sealed = len + AUTH_TAG_LEN;
                        let whole = buf.buffer_mut();
                        // Cannot fail: the room was checked and the datagram just stamped.
                        if !whole
                            .get_mut(..sealed)
                            .is_some_and(|d| sequencer.seal_datagram(group, d))
                        {
                            io.free(buf);
                            continue;
                        }
                        buf.set_len(sealed);
                    }
                    fan_out(&mut io, buf, &destinations[usize::from(group.0)], &mut tx);
                }
                Some(Verdict::Drop(_)) | None => io.free(buf),
            }
        }
        if sequencer.needs_new_session() {
            let next = sequencer.session().next();
            state.record(next).map_err(|e| e.to_string())?;
            sequencer.start_session(next);
            tracing::warn!(session = %next, "a message number reached 2^64-1: new session");
            println!("sequencer: a message number reached 2^64-1; now session {next}");
        }
        if !tx.is_empty() {
            io.send_burst(&mut tx).map_err(|e| format!("send: {e}"))?;
        }
        if let Some(interval) = options.stats_interval {
            let elapsed = last_stats.elapsed();
            if elapsed >= interval {
                let stats = sequencer.stats();
                println!(
                    "{}",
                    stats_line(&stats, last_stamped, elapsed.as_secs_f64())
                );
                last_stamped = stats.stamped();
                last_stats = Instant::now();
            }
        }
        if received == 0 && !options.busy_poll {
            io.wait(IDLE_WAIT).map_err(|e| format!("poll: {e}"))?;
        }
    }
    print!(
        "{}",
        final_report(config, &sequencer.stats(), Some(io.stats()))
    );
    Ok(())
}

/// Queues one copy of `buf` per destination; the last destination gets `buf` itself.
fn fan_out(io: &mut UdpIo, buf: PacketBuf, destinations: &[SocketAddrV4], tx: &mut Vec<PacketBuf>) {
    let Some((&last, others)) = destinations.split_last() else {
        io.free(buf);
        return;
    };
    for &to in others {
        let mut copy = io.duplicate(&buf);
        copy.set_peer(to);
        tx.push(copy);
    }
    let mut buf = buf;
    buf.set_peer(last);
    tx.push(buf);
}
