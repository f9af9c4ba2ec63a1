//! A Fast Paxos cluster in memory: replicas and clients, datagrams delivered in FIFO order
//! with zero latency, time advanced to the next timer only when nothing is in flight. A
//! filter decides each datagram's fate: delivered, lost, or held back until released.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use dataplane::config::ClusterConfig;

use crate::app::kv::{KvOp, KvStore};
use crate::protocol::fastpaxos::messages::Message;
use crate::protocol::fastpaxos::{FastPaxosClient, FastPaxosConfig, FastPaxosReplica};
use crate::protocol::pending::ClientTimeouts;
use crate::protocol::{Client, Completion, Destination, EntryId, MAX_DATAGRAM, Node, Replica};
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
}

/// What happens to a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    Deliver,
    Lose,
    /// Held until [`Cluster::release`].
    Hold,
}

type Filter = Box<dyn FnMut(&Cluster0, &Packet) -> Fate>;

/// The addresses of a cluster, which filters use to tell hosts apart.
#[derive(Debug, Clone)]
pub(super) struct Cluster0 {
    pub(super) replicas: Vec<SocketAddrV4>,
    pub(super) clients: Vec<SocketAddrV4>,
}

impl Cluster0 {
    pub(super) fn replica(&self, a: SocketAddrV4) -> Option<usize> {
        self.replicas.iter().position(|r| *r == a)
    }

    pub(super) fn client(&self, a: SocketAddrV4) -> Option<usize> {
        self.clients.iter().position(|r| *r == a)
    }
}

pub(super) struct Cluster {
    pub(super) config: ClusterConfig,
    pub(super) addrs: Cluster0,
    pub(super) replicas: Vec<FastPaxosReplica<KvStore>>,
    pub(super) up: Vec<bool>,
    pub(super) clients: Vec<FastPaxosClient>,
    pub(super) done: Vec<Vec<Completion>>,
    pub(super) now: Time,
    pub(super) queue: VecDeque<Packet>,
    pub(super) held: Vec<Packet>,
    filter: Filter,
    pub(super) delivered: u64,
    pub(super) lost: u64,
}

/// Replica config of the tests: the cluster's timeouts, a small retained window.
pub(super) fn replica_config(config: &ClusterConfig, index: usize, retain: u64) -> FastPaxosConfig {
    let mut cfg = FastPaxosConfig::from_cluster(config, index);
    cfg.retain = retain;
    cfg
}

impl Cluster {
    pub(super) fn new(n: usize, clients: usize) -> Cluster {
        Cluster::with_retain(n, clients, 1024)
    }

    pub(super) fn with_retain(n: usize, clients: usize, retain: u64) -> Cluster {
        let config = ClusterConfig::local(n, 42000, Ipv4Addr::new(127, 0, 0, 10));
        let replicas = (0..n)
            .map(|i| FastPaxosReplica::new(replica_config(&config, i, retain), KvStore::default()))
            .collect();
        let client_addrs: Vec<SocketAddrV4> = (0..clients)
            .map(|i| SocketAddrV4::new(Ipv4Addr::new(127, 0, 1, 1), 50000 + i as u16))
            .collect();
        let timeouts = ClientTimeouts {
            resend: Duration::from_millis(config.timeouts.client_resend_ms),
            give_up: Duration::from_secs(60),
        };
        let clients = client_addrs
            .iter()
            .enumerate()
            .map(|(i, a)| FastPaxosClient::new(100 + i as u64, *a, n, timeouts))
            .collect();
        Cluster {
            addrs: Cluster0 {
                replicas: config.replicas.iter().map(|r| r.address).collect(),
                clients: client_addrs.clone(),
            },
            config,
            replicas,
            up: vec![true; n],
            done: vec![Vec::new(); client_addrs.len()],
            clients,
            now: Time::ZERO,
            queue: VecDeque::new(),
            held: Vec::new(),
            filter: Box::new(|_, _| Fate::Deliver),
            delivered: 0,
            lost: 0,
        }
    }

    pub(super) fn set_filter(&mut self, filter: impl FnMut(&Cluster0, &Packet) -> Fate + 'static) {
        self.filter = Box::new(filter);
    }

    pub(super) fn clear_filter(&mut self) {
        self.filter = Box::new(|_, _| Fate::Deliver);
    }

    /// Puts every held datagram back in flight, in the order given by `order` (indexes
    /// into the held list) or as held.
    pub(super) fn release(&mut self) {
        let held = std::mem::take(&mut self.held);
        self.queue.extend(held);
    }

    fn enqueue(
        &mut self,
        from: SocketAddrV4,
        destination: Destination,
        bytes: &[u8],
        sender: Option<usize>,
    ) {
        let targets: Vec<SocketAddrV4> = match destination {
            Destination::Replica(i) => self.addrs.replicas.get(i).copied().into_iter().collect(),
            Destination::OtherReplicas => (0..self.replicas.len())
                .filter(|i| Some(*i) != sender)
                .map(|i| self.addrs.replicas[i])
                .collect(),
            Destination::Client(a) => vec![a],
            Destination::Group => panic!("Fast Paxos never sends to the group"),
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
                    let from = self.addrs.replicas[i];
                    let bytes = buf[..t.len].to_vec();
                    self.enqueue(from, t.destination, &bytes, Some(i));
                }
            }
        }
        for c in 0..self.clients.len() {
            while let Some(t) = self.clients[c].poll_transmit(&mut buf) {
                let from = self.addrs.clients[c];
                let bytes = buf[..t.len].to_vec();
                self.enqueue(from, t.destination, &bytes, None);
            }
            while let Some(done) = self.clients[c].poll_completion() {
                self.done[c].push(done);
            }
        }
    }

    /// Delivers one datagram; false when nothing is in flight.
    pub(super) fn step(&mut self) -> bool {
        self.drain_outputs();
        let Some(packet) = self.queue.pop_front() else {
            return false;
        };
        let addrs = self.addrs.clone();
        match (self.filter)(&addrs, &packet) {
            Fate::Lose => {
                self.lost += 1;
                return true;
            }
            Fate::Hold => {
                self.held.push(packet);
                return true;
            }
            Fate::Deliver => {}
        }
        self.delivered += 1;
        if let Some(i) = self.addrs.replica(packet.to) {
            if self.up[i] {
                self.replicas[i].handle_datagram(self.now, packet.from, &packet.bytes);
            }
        } else if let Some(c) = self.addrs.client(packet.to) {
            self.clients[c].handle_datagram(self.now, packet.from, &packet.bytes);
        }
        self.drain_outputs();
        true
    }

    /// Delivers until nothing is in flight.
    pub(super) fn settle(&mut self) {
        let mut steps = 0;
        while self.step() {
            steps += 1;
            assert!(steps < 1_000_000, "message storm");
        }
    }

    /// Fires every timer due at the earliest deadline; false if there is none by `limit`.
    fn advance(&mut self, limit: Time) -> bool {
        let mut next: Option<Time> = None;
        for (i, r) in self.replicas.iter().enumerate() {
            if self.up[i] {
                if let Some(t) = r.poll_timeout() {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
            }
        }
        for c in &self.clients {
            if let Some(t) = c.poll_timeout() {
                next = Some(next.map_or(t, |n| n.min(t)));
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
        true
    }

    /// Runs for `ms` of virtual time: delivers, then fires timers, and so on.
    pub(super) fn run_for(&mut self, ms: u64) {
        let limit = self.now + Duration::from_millis(ms);
        loop {
            self.settle();
            if !self.advance(limit) {
                break;
            }
        }
        self.now = limit;
    }

    /// Runs until client `c` has `count` completions (or `ms` pass).
    pub(super) fn run_until_done(&mut self, c: usize, count: usize, ms: u64) -> bool {
        let limit = self.now + Duration::from_millis(ms);
        loop {
            self.settle();
            if self.done[c].len() >= count {
                return true;
            }
            if !self.advance(limit) {
                return self.done[c].len() >= count;
            }
        }
    }

    pub(super) fn invoke(&mut self, c: usize, op: &[u8]) -> u64 {
        let now = self.now;
        self.clients[c]
            .invoke(now, op)
            .expect("one request at a time")
    }

    /// Invokes an append of `value` to key `k` at client `c`.
    pub(super) fn append(&mut self, c: usize, value: &str) -> u64 {
        let op = KvOp::Append {
            key: b"k",
            value: value.as_bytes(),
        }
        .to_bytes();
        self.invoke(c, &op)
    }

    /// Runs `count` appends from client `c`, one after the other.
    pub(super) fn appends(&mut self, c: usize, count: usize, prefix: &str) {
        for i in 0..count {
            let before = self.done[c].len();
            self.append(c, &format!("{prefix}{i};"));
            assert!(
                self.run_until_done(c, before + 1, 10_000),
                "append {i} of client {c} did not complete: {}",
                self.describe()
            );
        }
    }

    pub(super) fn describe(&self) -> String {
        self.replicas
            .iter()
            .map(|r| r.describe())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Checks that every pair of replicas agrees on every slot both report committed, and
    /// on the state digest where their commit points meet.
    pub(super) fn assert_agreement(&self) {
        for a in 0..self.replicas.len() {
            for b in a + 1..self.replicas.len() {
                let (ra, rb) = (&self.replicas[a], &self.replicas[b]);
                let upto = ra.commit_point().min(rb.commit_point());
                for slot in 1..=upto {
                    if let (Some(x), Some(y)) = (ra.committed_entry(slot), rb.committed_entry(slot))
                    {
                        assert_eq!(x, y, "slot {slot}: replicas {a} and {b} disagree");
                    }
                }
                if ra.commit_point() == rb.commit_point() {
                    assert_eq!(
                        ra.execution(),
                        rb.execution(),
                        "replicas {a} and {b} diverge"
                    );
                }
            }
        }
    }

    /// The committed entries of replica `i` from its first kept slot.
    pub(super) fn committed(&self, i: usize) -> Vec<EntryId> {
        let r = &self.replicas[i];
        (r.log_start()..=r.commit_point())
            .filter_map(|s| r.committed_entry(s))
            .collect()
    }

    /// The leader, if exactly one replica that is up leads.
    pub(super) fn leader(&self) -> Option<usize> {
        let leaders: Vec<usize> = (0..self.replicas.len())
            .filter(|&i| self.up[i] && self.replicas[i].is_leader())
            .collect();
        (leaders.len() == 1).then(|| leaders[0])
    }
}
