//! A protocol core on any [`PacketIo`] backend (kernel UDP, DPDK, the simulator's), run to
//! completion: receive a burst, hand each datagram to the core, fire due timers, and encode
//! the core's output straight into transmit buffers. The name is historical: the unit is a
//! UDP datagram whatever moves it.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use std::net::SocketAddrV4;

use dataplane::io::{Packet, PacketIo};
use dataplane::oum::SessionQuery;
use dataplane::time::{MonotonicClock, Time};

use super::{Addresses, RefusalCounts};
use protocols::Node;

const BURST: usize = 32;
/// Longest sleep when idle, so stop requests are noticed.
const IDLE_WAIT: Duration = Duration::from_millis(20);

/// How the loop behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoopOptions {
    /// Spin instead of sleeping in poll(2) when idle.
    pub busy_poll: bool,
    /// Drop this fraction of received datagrams (fault injection for experiments).
    pub drop_rate: f64,
}

/// Drives a node: [`UdpLoop::run`] until stopped, or [`UdpLoop::round`] by hand when the
/// caller has work of its own between rounds (a load generator).
pub struct UdpLoop<'a, N, I: PacketIo> {
    pub node: &'a mut N,
    pub io: &'a mut I,
    pub addresses: &'a Addresses,
    pub clock: MonotonicClock,
    pub options: LoopOptions,
    rx: Vec<I::Buf>,
    tx: Vec<I::Buf>,
    /// Destinations beyond the first of one datagram, reused so sending allocates nothing.
    extra: Vec<SocketAddrV4>,
    rng: u64,
    pub dropped: u64,
    /// Stamped datagrams dropped before the core saw them: from a source that is not a
    /// sequencer (forged, or a replica port reached by someone who is not the sequencer),
    /// and, for a keyed group, without a tag or with a wrong one.
    pub refused: RefusalCounts,
    /// Session queries answered, and datagrams with the query's magic that were not one.
    pub session_queries: SessionQueryStats,
}

/// What the loop did with session queries (they never reach the core).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionQueryStats {
    pub answered: u64,
    pub malformed: u64,
}

impl<N, I: PacketIo> std::fmt::Debug for UdpLoop<'_, N, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpLoop")
            .field("addresses", &self.addresses)
            .field("options", &self.options)
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

impl<'a, N: Node, I: PacketIo> UdpLoop<'a, N, I> {
    pub fn new(
        node: &'a mut N,
        io: &'a mut I,
        addresses: &'a Addresses,
        options: LoopOptions,
    ) -> Self {
        UdpLoop {
            node,
            io,
            addresses,
            clock: MonotonicClock::new(),
            options,
            rx: Vec::with_capacity(BURST),
            tx: Vec::with_capacity(BURST * 4),
            extra: Vec::with_capacity(8),
            rng: 0x9e37_79b9_7f4a_7c15,
            dropped: 0,
            refused: RefusalCounts::default(),
            session_queries: SessionQueryStats::default(),
        }
    }

    pub fn now(&self) -> Time {
        self.clock.now()
    }

    fn lose(&mut self) -> bool {
        if self.options.drop_rate <= 0.0 {
            return false;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        ((self.rng >> 11) as f64 / (1u64 << 53) as f64) < self.options.drop_rate
    }

    /// One round: receive, handle, time out, transmit. Returns datagrams received.
    pub fn round(&mut self) -> io::Result<usize> {
        let received = self.io.recv_burst(&mut self.rx, BURST)?;
        let now = self.clock.now();
        let mut rx = std::mem::take(&mut self.rx);
        for mut buf in rx.drain(..) {
            if self.lose() {
                self.dropped += 1;
            } else if SessionQuery::looks_like(buf.as_ref()) {
                // Answered here, for every protocol, and never shown to the core.
                self.answer_session_query(&buf);
            } else if !self.addresses.must_admit(buf.as_ref()) {
                self.node.handle_datagram(now, buf.peer(), buf.as_ref());
            } else {
                // Only a sequencer stamps: one forged datagram would otherwise be executed
                // as the next request (issue 13). A keyed group's tag is checked and
                // removed here, so the core sees the plain stamped datagram.
                let peer = buf.peer();
                match self
                    .addresses
                    .admit_stamp(peer, buf.src_mac(), buf.as_mut())
                {
                    Ok(len) => {
                        let datagram = buf.as_ref().get(..len).unwrap_or_default();
                        self.node.handle_datagram(now, peer, datagram);
                    }
                    Err(refusal) => self.refused.add(refusal),
                }
            }
            self.io.free(buf);
        }
        self.rx = rx;
        let now = self.clock.now();
        if self.node.poll_timeout().is_some_and(|t| t <= now) {
            self.node.handle_timeout(now);
        }
        self.flush()?;
        Ok(received)
    }

    /// A starting sequencer asks for the newest OUM session seen (docs/wire-format.md, "The
    /// session query"); the answer goes back to the asking address. Anything else with the
    /// query's magic is counted and dropped.
    fn answer_session_query(&mut self, query: &I::Buf) {
        let Some(SessionQuery::Query { nonce }) = SessionQuery::parse(query.as_ref()) else {
            self.session_queries.malformed += 1;
            return;
        };
        self.session_queries.answered += 1;
        let answer = SessionQuery::Answer {
            nonce,
            replica: self.addresses.me().map_or(u16::MAX, |i| i as u16),
            newest: self.node.newest_oum_session(),
        }
        .to_bytes();
        let mut buf = self.io.alloc();
        let Some(out) = buf.buffer_mut().get_mut(..answer.len()) else {
            self.io.free(buf);
            return;
        };
        out.copy_from_slice(&answer);
        buf.set_len(answer.len());
        buf.set_peer(query.peer());
        self.tx.push(buf);
    }

    /// Encodes every pending output into transmit buffers and sends them.
    pub fn flush(&mut self) -> io::Result<()> {
        loop {
            let mut buf = self.io.alloc();
            let Some(t) = self.node.poll_transmit(buf.buffer_mut()) else {
                self.io.free(buf);
                break;
            };
            buf.set_len(t.len);
            let mut first = true;
            let mut extra = std::mem::take(&mut self.extra);
            extra.clear();
            self.addresses.resolve(t.destination, |addr| {
                if first {
                    first = false;
                    buf.set_peer(addr);
                } else {
                    extra.push(addr);
                }
            });
            if first {
                self.extra = extra;
                self.io.free(buf);
                continue;
            }
            for &addr in &extra {
                let mut copy = self.io.duplicate(&buf);
                copy.set_peer(addr);
                self.tx.push(copy);
            }
            self.extra = extra;
            self.tx.push(buf);
            if self.tx.len() >= BURST {
                self.io.send_burst(&mut self.tx)?;
            }
        }
        if !self.tx.is_empty() {
            self.io.send_burst(&mut self.tx)?;
        }
        Ok(())
    }

    /// Sleeps until a datagram may be waiting or the core's next deadline, unless busy-polling.
    pub fn idle(&mut self) -> io::Result<()> {
        if self.options.busy_poll {
            return Ok(());
        }
        let now = self.clock.now();
        let wait = self
            .node
            .poll_timeout()
            .map_or(IDLE_WAIT, |t| t.saturating_since(now))
            .min(IDLE_WAIT);
        if !wait.is_zero() {
            self.io.wait(wait)?;
        }
        Ok(())
    }

    /// Runs until `stop` is set.
    pub fn run(&mut self, stop: &AtomicBool) -> io::Result<()> {
        while !stop.load(Ordering::Relaxed) {
            if self.round()? == 0 {
                self.idle()?;
            }
        }
        Ok(())
    }
}
