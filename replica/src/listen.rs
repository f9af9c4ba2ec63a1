//! `replica --mode listen`: an OUM group member on kernel UDP that delivers the ordered
//! stream, re-listens when a session ends, and reports what it saw. It checks a sequencer
//! and a network end to end before any protocol runs on top.

use std::fmt;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;

use dataplane::config::ClusterConfig;
use dataplane::io::{Packet, PacketBuf, PacketIo};
use dataplane::oum::{Event, Receiver, ReceiverStats, SessionNumber, SessionQuery};
use dataplane::time::MonotonicClock;

use crate::driver::RefusalCounts;
use crate::listen_keys::ListenKeys;
use dataplane::oum::StreamDigest;

#[derive(Debug, Clone, Copy, Default)]
pub struct ListenOptions {
    /// Print every event, not only the summary.
    pub events: bool,
}

/// What a listening member saw.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListenSummary {
    pub index: usize,
    pub digest: StreamDigest,
    pub receiver: ReceiverStats,
    pub last_session: Option<u16>,
    pub last_msgnum: u64,
    /// Stamps of keyed groups refused for a missing or wrong tag (no stranger count:
    /// listen mode takes stamps from any source).
    pub refused: RefusalCounts,
}

impl fmt::Display for ListenSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.receiver;
        write!(
            f,
            "summary replica={} delivered={} drops={} sessions_terminated={} session={} \
             last_msgnum={} digest={:016x} duplicate={} stale_session={} unsequenced={} \
             malformed={} superseded={} missing_tag={} bad_tag={}",
            self.index,
            r.delivered,
            r.drops_notified,
            r.sessions_terminated,
            self.last_session
                .map_or("none".to_string(), |s| s.to_string()),
            self.last_msgnum,
            self.digest.value(),
            r.duplicate,
            r.stale_session,
            r.unsequenced,
            r.malformed,
            r.superseded,
            self.refused.missing_tag,
            self.refused.bad_tag
        )
    }
}

const BURST: usize = 32;

/// Runs until SIGINT or SIGTERM; prints a `listening` line once bound and a `summary` line
/// at the end.
pub fn listen(
    config: &ClusterConfig,
    index: usize,
    options: ListenOptions,
) -> Result<ListenSummary, String> {
    let stop = crate::serve::stop_flag()?;
    let address = crate::serve::replica_address(config, index)?;
    let mut io = crate::serve::bind_replica_io(config, index)?;
    let keys = ListenKeys::new(config, index)?;
    let mut receiver: Receiver<PacketBuf> = Receiver::new(config.oum.receiver());
    let clock = MonotonicClock::new();
    let mut summary = ListenSummary {
        index,
        ..ListenSummary::default()
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(out, "listening replica={index} address={address}");
    let _ = out.flush();

    let mut rx = Vec::with_capacity(BURST);
    while !stop.load(Ordering::Relaxed) {
        io.recv_burst(&mut rx, BURST).map_err(|e| e.to_string())?;
        let now = clock.now();
        for mut buf in rx.drain(..) {
            if SessionQuery::looks_like(buf.as_ref()) {
                answer_session_query(&mut io, index, receiver.newest_session(), buf)?;
            } else if let Err(refusal) = keys.admit(&mut buf) {
                summary.refused.add(refusal);
                io.free(buf);
            } else if let Err(rejected) = receiver.on_payload(now, buf) {
                io.free(rejected.packet);
            }
        }
        while let Some(event) = receiver.poll_event(clock.now()) {
            match event {
                Event::Message { stamp, packet } => {
                    summary.digest.add(&stamp.session.0.to_be_bytes());
                    summary.digest.add(&stamp.msgnum.to_be_bytes());
                    summary.digest.add(packet.as_ref().get(16..).unwrap_or(&[]));
                    summary.last_session = Some(stamp.session.0);
                    summary.last_msgnum = stamp.msgnum;
                    if options.events {
                        let body = packet.as_ref().get(16..).unwrap_or(&[]);
                        let _ = writeln!(
                            out,
                            "message session={} msgnum={} bytes={} body={}",
                            stamp.session,
                            stamp.msgnum,
                            body.len(),
                            hex_prefix(body, 32)
                        );
                    }
                    io.free(packet);
                }
                Event::Drop(stamp) => {
                    if options.events {
                        let _ = writeln!(
                            out,
                            "drop session={} msgnum={}",
                            stamp.session, stamp.msgnum
                        );
                    }
                }
                Event::SessionTerminated { old, new } => {
                    let _ = writeln!(
                        out,
                        "session-terminated old={} new={}",
                        old.map_or("none".to_string(), |s| s.to_string()),
                        new
                    );
                    // A listening member has no protocol to agree on where the new session
                    // starts: it follows the sequencer from the new session's first message.
                    receiver.listen(new, 1);
                }
            }
        }
        if options.events {
            let _ = out.flush();
        }
        let wait = receiver
            .next_deadline()
            .map(|d| d.saturating_since(clock.now()))
            .unwrap_or(Duration::from_millis(50))
            .min(Duration::from_millis(50));
        io.wait(wait).map_err(|e| e.to_string())?;
    }
    summary.receiver = *receiver.stats();
    let _ = writeln!(out, "{summary}");
    let _ = out.flush();
    Ok(summary)
}

/// Tells a starting sequencer the newest session this member has seen (as replicas running
/// a protocol do, in their driver), so that it never starts an older one.
fn answer_session_query(
    io: &mut impl PacketIo<Buf = PacketBuf>,
    index: usize,
    newest: Option<SessionNumber>,
    mut buf: PacketBuf,
) -> Result<(), String> {
    let Some(SessionQuery::Query { nonce }) = SessionQuery::parse(buf.as_ref()) else {
        io.free(buf);
        return Ok(());
    };
    let answer = SessionQuery::Answer {
        nonce,
        replica: index as u16,
        newest,
    }
    .to_bytes();
    // The query's buffer carries the answer back to the address it came from.
    let Some(out) = buf.buffer_mut().get_mut(..answer.len()) else {
        io.free(buf);
        return Ok(());
    };
    out.copy_from_slice(&answer);
    buf.set_len(answer.len());
    io.send_burst(&mut vec![buf])
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The first `max` bytes of `bytes` in hex, for event lines.
fn hex_prefix(bytes: &[u8], max: usize) -> String {
    bytes.iter().take(max).map(|b| format!("{b:02x}")).collect()
}
