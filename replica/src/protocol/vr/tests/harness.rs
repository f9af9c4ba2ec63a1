//! A VR cluster in memory: replicas and clients, datagrams delivered in FIFO order with zero
//! latency, time advanced to the next timer only when nothing is in flight. A filter decides
//! which datagrams are lost.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use dataplane::config::ClusterConfig;

use crate::app::kv::{KvOp, KvResult, KvStore};
use crate::protocol::pending::ClientTimeouts;
use crate::protocol::vr::messages::{ChunkKind, Message};
use crate::protocol::vr::{VrClient, VrConfig, VrReplica};
use crate::protocol::{Client, Destination, MAX_DATAGRAM, Node, Replica};
use crate::time::Time;

/// A datagram in flight.
#[derive(Debug, Clone)]
pub(super) struct Packet {
    pub(super) from: SocketAddrV4,
    pub(super) to: SocketAddrV4,
    pub(super) bytes: Vec<u8>,
}

impl Packet {
    pub(super) fn message(&self) -> Option<Message<'_>> {
        Message::decode(&self.bytes).ok()
    }

    pub(super) fn is_prepare(&self) -> bool {
        matches!(self.message(), Some(Message::Prepare { .. }))
    }

    pub(super) fn is_chunk(&self, kind: ChunkKind) -> bool {
        matches!(self.message(), Some(Message::Chunk(c)) if c.kind == kind)
    }
}

type Filter = Box<dyn FnMut(&Packet) -> bool>;

pub(super) struct Cluster {
    pub(super) config: ClusterConfig,
    pub(super) vr: VrConfig,
    pub(super) replicas: Vec<VrReplica<KvStore>>,
    pub(super) up: Vec<bool>,
    pub(super) clients: Vec<VrClient>,
    pub(super) client_addrs: Vec<SocketAddrV4>,
    pub(super) now: Time,
    pub(super) queue: VecDeque<Packet>,
    /// Returns false for datagrams to lose.
    filter: Filter,
    pub(super) delivered: u64,
    pub(super) lost: u64,
}

impl Cluster {
    pub(super) fn new(n: usize, clients: usize) -> Cluster {
        Cluster::with(n, clients, |_| {})
    }

    /// A cluster whose replicas' config `tweak` adjusts (batch size, log window).
    pub(super) fn with(n: usize, clients: usize, tweak: impl Fn(&mut VrConfig)) -> Cluster {
        let config = ClusterConfig::local(n, 42000, Ipv4Addr::new(127, 0, 0, 100));
        let mut vr = VrConfig::from_cluster(&config, 0);
        tweak(&mut vr);
        let replicas = (0..n)
            .map(|i| {
                VrReplica::new(
                    VrConfig {
                        index: i,
                        ..vr.clone()
                    },
                    KvStore::default(),
                )
            })
            .collect();
        let client_addrs: Vec<SocketAddrV4> = (0..clients)
            .map(|i| SocketAddrV4::new(Ipv4Addr::new(127, 0, 1, 1), 50000 + i as u16))
            .collect();
        let clients = (0..clients)
            .map(|i| VrClient::new(100 + i as u64, n, ClientTimeouts::default()))
            .collect();
        Cluster {
            config,
            vr,
            replicas,
            up: vec![true; n],
            clients,
            client_addrs,
            now: Time::ZERO,
            queue: VecDeque::new(),
            filter: Box::new(|_| true),
            delivered: 0,
            lost: 0,
        }
    }

    pub(super) fn replica_addr(&self, i: usize) -> SocketAddrV4 {
        self.config.replicas[i].address
    }

    pub(super) fn set_filter(&mut self, filter: impl FnMut(&Packet) -> bool + 'static) {
        self.filter = Box::new(filter);
    }

    fn enqueue(
        &mut self,
        from: SocketAddrV4,
        destination: Destination,
        bytes: &[u8],
        me: Option<usize>,
    ) {
        let targets: Vec<SocketAddrV4> = match destination {
            Destination::Replica(i) => vec![self.replica_addr(i)],
            Destination::OtherReplicas => (0..self.replicas.len())
                .filter(|i| Some(*i) != me)
                .map(|i| self.replica_addr(i))
                .collect(),
            Destination::Client(a) => vec![a],
            Destination::Group => panic!("VR never sends to the group"),
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
                assert!(t.len <= MAX_DATAGRAM);
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
        if !(self.filter)(&packet) {
            self.lost += 1;
            return true;
        }
        self.delivered += 1;
        if let Some(i) = (0..self.replicas.len()).find(|i| self.replica_addr(*i) == packet.to) {
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
        let mut consider = |t: Option<Time>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Time| n.min(t)));
            }
        };
        for (i, r) in self.replicas.iter().enumerate() {
            if self.up[i] {
                consider(r.poll_timeout());
            }
        }
        for c in &self.clients {
            consider(c.poll_timeout());
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

    /// Runs until `done` holds or `limit_ms` of virtual time pass; returns whether `done`
    /// held.
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

    pub(super) fn run_for(&mut self, ms: u64) {
        self.run_until(ms, |_| false);
    }

    /// Client `c` invokes `op` and the cluster runs until it completes (or `limit_ms`).
    pub(super) fn call(&mut self, c: usize, op: KvOp<'_>, limit_ms: u64) -> Option<KvResult> {
        let bytes = op.to_bytes();
        let now = self.now;
        let request = self.clients[c].invoke(now, &bytes).expect("client idle");
        let mut result = None;
        self.run_until(limit_ms, |cl| {
            if let Some(done) = cl.clients[c].poll_completion() {
                assert_eq!(done.request, request);
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

    /// Every client invokes an append to `key` at once; runs until all complete. Returns
    /// how many completed.
    pub(super) fn call_all(&mut self, key: &[u8], limit_ms: u64) -> usize {
        let now = self.now;
        for c in 0..self.clients.len() {
            let value = format!("c{c}t{}", now.as_nanos());
            let op = KvOp::Append {
                key,
                value: value.as_bytes(),
            }
            .to_bytes();
            self.clients[c].invoke(now, &op).expect("client idle");
        }
        let mut done = vec![false; self.clients.len()];
        self.run_until(limit_ms, |cl| {
            for (c, d) in done.iter_mut().enumerate() {
                if let Some(completion) = cl.clients[c].poll_completion() {
                    assert!(completion.result.is_ok(), "client {c} gave up");
                    *d = true;
                }
            }
            done.iter().all(|d| *d)
        });
        done.iter().filter(|d| **d).count()
    }

    /// The live normal primary of the highest view, if any.
    pub(super) fn primary(&self) -> Option<usize> {
        (0..self.replicas.len())
            .filter(|&i| self.up[i] && self.replicas[i].is_leader())
            .max_by_key(|&i| self.replicas[i].view())
    }

    /// Every pair of live replicas agrees on every committed op number both still hold, and
    /// replicas at the same execution point have the same state digest.
    pub(super) fn assert_agreement(&self) {
        for a in 0..self.replicas.len() {
            for b in a + 1..self.replicas.len() {
                let (ra, rb) = (&self.replicas[a], &self.replicas[b]);
                let upto = ra.commit_point().min(rb.commit_point());
                for op in 1..=upto {
                    if let (Some(x), Some(y)) = (ra.committed_entry(op), rb.committed_entry(op)) {
                        assert_eq!(x, y, "op {op}:\n{}\n{}", ra.describe(), rb.describe());
                    }
                }
                let (ea, da) = ra.execution();
                let (eb, db) = rb.execution();
                if ea == eb && ea > 0 {
                    assert_eq!(
                        da,
                        db,
                        "digests at {ea}:\n{}\n{}",
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

    /// Replica `i` loses its memory and starts recovering.
    pub(super) fn lose_memory(&mut self, i: usize, nonce: u64) {
        self.replicas[i] = VrReplica::recovering(
            VrConfig {
                index: i,
                ..self.vr.clone()
            },
            KvStore::default(),
            nonce,
            self.now,
        );
        self.up[i] = true;
    }

    pub(super) fn describe(&self) -> String {
        self.replicas
            .iter()
            .map(|r| r.describe())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// An append of `value` to `key`.
pub(super) fn append<'a>(key: &'a [u8], value: &'a [u8]) -> KvOp<'a> {
    KvOp::Append { key, value }
}
