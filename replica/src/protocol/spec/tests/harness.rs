//! A cluster in memory: replicas, a sequencer and clients, datagrams delivered in FIFO order
//! with zero latency, time advanced to the next timer only when nothing is in flight. A
//! filter decides which datagrams are delivered, lost or held back (to reorder them).

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use dataplane::config::ClusterConfig;
use dataplane::oum::{GroupId, GroupSpec, Sequencer, SessionNumber, Verdict};
use dataplane::wire::{OUM_HEADER_LEN, OUM_PREAMBLE};

use crate::app::kv::{KvOp, KvResult, KvStore};
use crate::protocol::pending::ClientTimeouts;
use crate::protocol::spec::messages::Message;
use crate::protocol::spec::{SpecClient, SpecConfig, SpecReplica};
use crate::protocol::{Client, Destination, MAX_DATAGRAM, Node, Replica};
use crate::time::Time;

pub(super) const SEQUENCER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 10), 22222);

/// A datagram in flight.
#[derive(Debug, Clone)]
pub(super) struct Packet {
    pub(super) from: SocketAddrV4,
    pub(super) to: SocketAddrV4,
    pub(super) bytes: Vec<u8>,
}

impl Packet {
    pub(super) fn message(&self) -> Option<Message<'_>> {
        if self.bytes.starts_with(&OUM_PREAMBLE) {
            Message::decode(self.bytes.get(OUM_HEADER_LEN..)?).ok()
        } else {
            Message::decode(&self.bytes).ok()
        }
    }

    /// The (client, request) of a stamped request on its way to a replica.
    pub(super) fn stamped_request(&self) -> Option<(u64, u64)> {
        if self.from != SEQUENCER {
            return None;
        }
        match self.message()? {
            Message::Request {
                client, request, ..
            } => Some((client, request)),
            _ => None,
        }
    }
}

/// What the filter does with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    Deliver,
    Lose,
    /// Kept aside until [`Cluster::release`].
    Hold,
}

type Filter = Box<dyn FnMut(&Packet) -> Fate>;

pub(super) struct Cluster {
    pub(super) config: ClusterConfig,
    pub(super) replicas: Vec<SpecReplica<KvStore>>,
    pub(super) up: Vec<bool>,
    pub(super) sequencer: Sequencer,
    pub(super) clients: Vec<SpecClient>,
    pub(super) client_addrs: Vec<SocketAddrV4>,
    pub(super) now: Time,
    pub(super) queue: VecDeque<Packet>,
    pub(super) filter: Filter,
    pub(super) held: Vec<Packet>,
    pub(super) lost: Vec<Packet>,
}

impl Cluster {
    pub(super) fn new(n: usize, clients: usize) -> Cluster {
        let config = ClusterConfig::local(n, 42000, *SEQUENCER.ip());
        let replicas = (0..n)
            .map(|i| SpecReplica::new(SpecConfig::from_cluster(&config, i), KvStore::default()))
            .collect();
        let sequencer = Sequencer::new(
            SessionNumber(1),
            SEQUENCER.port(),
            &[GroupSpec {
                address: *SEQUENCER.ip(),
                members: (0..n as u16).collect(),
            }],
        )
        .unwrap();
        let client_addrs: Vec<SocketAddrV4> = (0..clients)
            .map(|i| SocketAddrV4::new(Ipv4Addr::new(127, 0, 1, 1), 50000 + i as u16))
            .collect();
        let clients = client_addrs
            .iter()
            .enumerate()
            .map(|(i, a)| {
                SpecClient::new(100 + i as u64, *a, n, config.f, ClientTimeouts::default())
            })
            .collect();
        Cluster {
            config,
            replicas,
            up: vec![true; n],
            sequencer,
            clients,
            client_addrs,
            now: Time::ZERO,
            queue: VecDeque::new(),
            filter: Box::new(|_| Fate::Deliver),
            held: Vec::new(),
            lost: Vec::new(),
        }
    }

    pub(super) fn replica_addr(&self, i: usize) -> SocketAddrV4 {
        self.config.replicas[i].address
    }

    pub(super) fn set_filter(&mut self, filter: impl FnMut(&Packet) -> Fate + 'static) {
        self.filter = Box::new(filter);
    }

    pub(super) fn clear_filter(&mut self) {
        self.filter = Box::new(|_| Fate::Deliver);
    }

    /// Puts the held datagrams back in flight, behind what is already queued.
    pub(super) fn release(&mut self) {
        self.queue.extend(self.held.drain(..));
    }

    fn enqueue(&mut self, from: SocketAddrV4, to: Destination, bytes: &[u8], me: Option<usize>) {
        let targets: Vec<SocketAddrV4> = match to {
            Destination::Replica(i) => vec![self.replica_addr(i)],
            Destination::OtherReplicas => (0..self.replicas.len())
                .filter(|i| Some(*i) != me)
                .map(|i| self.replica_addr(i))
                .collect(),
            Destination::Client(a) => vec![a],
            Destination::Group => vec![SEQUENCER],
        };
        for to in targets {
            self.queue.push_back(Packet {
                from,
                to,
                bytes: bytes.to_vec(),
            });
        }
    }

    fn drain_outputs(&mut self) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        for i in 0..self.replicas.len() {
            while let Some(t) = self.replicas[i].poll_transmit(&mut buf) {
                if self.up[i] {
                    let from = self.replica_addr(i);
                    let bytes = buf[..t.len].to_vec();
                    self.enqueue(from, t.destination, &bytes, Some(i));
                }
            }
        }
        for c in 0..self.clients.len() {
            while let Some(t) = self.clients[c].poll_transmit(&mut buf) {
                let from = self.client_addrs[c];
                let bytes = buf[..t.len].to_vec();
                self.enqueue(from, t.destination, &bytes, None);
            }
        }
    }

    /// Delivers one datagram; false when nothing is in flight.
    pub(super) fn step(&mut self) -> bool {
        self.drain_outputs();
        let Some(packet) = self.queue.pop_front() else {
            return false;
        };
        match (self.filter)(&packet) {
            Fate::Deliver => {}
            Fate::Lose => {
                self.lost.push(packet);
                return true;
            }
            Fate::Hold => {
                self.held.push(packet);
                return true;
            }
        }
        if packet.to == SEQUENCER {
            let mut payload = packet.bytes.clone();
            if let Verdict::Multicast { .. } =
                self.sequencer.stamp_datagram(GroupId(0), &mut payload)
            {
                for i in 0..self.replicas.len() {
                    let to = self.replica_addr(i);
                    self.queue.push_back(Packet {
                        from: SEQUENCER,
                        to,
                        bytes: payload.clone(),
                    });
                }
            }
        } else if let Some(i) =
            (0..self.replicas.len()).find(|i| self.replica_addr(*i) == packet.to)
        {
            if self.up[i] {
                self.replicas[i].handle_datagram(self.now, packet.from, &packet.bytes);
            }
        } else if let Some(c) = self.client_addrs.iter().position(|a| *a == packet.to) {
            self.clients[c].handle_datagram(self.now, packet.from, &packet.bytes);
        }
        self.drain_outputs();
        true
    }

    /// Fires every timer due at the earliest deadline; false if there is none before `limit`.
    fn advance(&mut self, limit: Time) -> bool {
        let mut next: Option<Time> = None;
        for (i, r) in self.replicas.iter().enumerate() {
            if let Some(t) = r.poll_timeout().filter(|_| self.up[i]) {
                next = Some(next.map_or(t, |n: Time| n.min(t)));
            }
        }
        for c in &self.clients {
            if let Some(t) = c.poll_timeout() {
                next = Some(next.map_or(t, |n: Time| n.min(t)));
            }
        }
        let Some(t) = next else { return false };
        if t > limit {
            return false;
        }
        self.now = self.now.max(t);
        for i in 0..self.replicas.len() {
            if self.up[i]
                && self.replicas[i]
                    .poll_timeout()
                    .is_some_and(|d| d <= self.now)
            {
                self.replicas[i].handle_timeout(self.now);
            }
        }
        for c in 0..self.clients.len() {
            if self.clients[c]
                .poll_timeout()
                .is_some_and(|d| d <= self.now)
            {
                self.clients[c].handle_timeout(self.now);
            }
        }
        self.drain_outputs();
        true
    }

    /// Runs until `done` holds or virtual time passes `limit_ms` from now; returns whether
    /// `done` held.
    pub(super) fn run_until(
        &mut self,
        limit_ms: u64,
        mut done: impl FnMut(&mut Cluster) -> bool,
    ) -> bool {
        let limit = self.now + std::time::Duration::from_millis(limit_ms);
        let mut guard = 0u64;
        loop {
            if done(self) {
                return true;
            }
            guard += 1;
            assert!(guard < 5_000_000, "harness made no progress");
            if self.step() {
                continue;
            }
            if !self.advance(limit) {
                self.now = self.now.max(limit);
                return done(self);
            }
        }
    }

    /// Runs for `ms` of virtual time.
    pub(super) fn run_for(&mut self, ms: u64) {
        self.run_until(ms, |_| false);
    }

    /// Delivers everything in flight without advancing time.
    pub(super) fn settle(&mut self) {
        while self.step() {}
    }

    /// Client `c` invokes `op` (and nothing runs yet); returns the request id.
    pub(super) fn invoke(&mut self, c: usize, op: KvOp<'_>) -> u64 {
        let now = self.now;
        let id = self.clients[c]
            .invoke(now, &op.to_bytes())
            .expect("client idle");
        self.drain_outputs();
        id
    }

    /// Runs until client `c` completes (or `limit_ms`); returns its result.
    pub(super) fn wait(&mut self, c: usize, limit_ms: u64) -> Option<KvResult> {
        let mut result = None;
        self.run_until(limit_ms, |cl| {
            if let Some(done) = cl.clients[c].poll_completion() {
                result = Some(done.result);
                return true;
            }
            false
        });
        match result? {
            Ok(bytes) => Some(KvResult::decode(&bytes).expect("a KV result")),
            Err(_) => None,
        }
    }

    /// Client `c` runs `op` to completion (or `limit_ms`).
    pub(super) fn call(&mut self, c: usize, op: KvOp<'_>, limit_ms: u64) -> Option<KvResult> {
        self.invoke(c, op);
        self.wait(c, limit_ms)
    }

    /// Every pair of replicas agrees on every committed slot both still hold, and replicas
    /// whose whole state is committed at the same slot have the same digest.
    pub(super) fn assert_agreement(&self) {
        for a in 0..self.replicas.len() {
            assert_eq!(
                self.replicas[a].spec_stats().safety_alarms,
                0,
                "{}",
                self.replicas[a].describe()
            );
            for b in a + 1..self.replicas.len() {
                let (ra, rb) = (&self.replicas[a], &self.replicas[b]);
                let upto = ra.commit_point().min(rb.commit_point());
                for slot in 1..=upto {
                    if let (Some(x), Some(y)) = (ra.committed_entry(slot), rb.committed_entry(slot))
                    {
                        assert_eq!(x, y, "slot {slot}: {} vs {}", ra.describe(), rb.describe());
                    }
                }
                let (ea, da) = ra.execution();
                let (eb, db) = rb.execution();
                if ea == eb && ea > 0 {
                    assert_eq!(
                        da,
                        db,
                        "digests at {ea}: {} vs {}",
                        ra.describe(),
                        rb.describe()
                    );
                }
            }
        }
    }

    pub(super) fn crash(&mut self, i: usize) {
        self.up[i] = false;
    }

    pub(super) fn restart(&mut self, i: usize) {
        self.up[i] = true;
    }

    /// The replica loses its memory and starts recovering.
    pub(super) fn lose_memory(&mut self, i: usize, nonce: u64) {
        self.replicas[i] = SpecReplica::recovering(
            SpecConfig::from_cluster(&self.config, i),
            KvStore::default(),
            nonce,
            self.now,
        );
        self.up[i] = true;
        self.drain_outputs();
    }

    pub(super) fn describe(&self) -> String {
        self.replicas
            .iter()
            .map(|r| r.describe())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The value of `key` at replica `i`.
    pub(super) fn value(&self, i: usize, key: &[u8]) -> Option<Vec<u8>> {
        self.replicas[i]
            .ledger()
            .machine()
            .app()
            .get(key)
            .map(<[u8]>::to_vec)
    }
}

/// An append of `value` to `key`.
pub(super) fn append<'a>(key: &'a [u8], value: &'a [u8]) -> KvOp<'a> {
    KvOp::Append { key, value }
}

/// The value an append returned.
pub(super) fn appended(r: Option<KvResult>) -> Vec<u8> {
    match r {
        Some(KvResult::Appended(v)) => v,
        other => panic!("expected an append result, got {other:?}"),
    }
}
