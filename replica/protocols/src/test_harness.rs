//! A cluster in memory, shared by the protocols' scenario tests: replicas, clients and (for
//! protocols that multicast through one) an OUM sequencer; datagrams delivered in FIFO order
//! with zero latency, time advanced to the next timer only when nothing is in flight. A
//! filter decides which datagrams are delivered, lost or held back (to reorder them).
//!
//! A protocol plugs in through [`TestProtocol`]; its `tests/harness.rs` holds the impl and
//! the helpers only it needs (as inherent impls on `Cluster<ItsProtocol>`). Tests of most
//! protocols poll the clients for completions; a protocol may instead have the cluster log
//! them as they come ([`TestProtocol::LOG_COMPLETIONS`], [`Cluster::run_until_done`]).

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use dataplane::config::ClusterConfig;
use dataplane::oum::{GroupId, GroupSpec, Sequencer, SessionNumber, Verdict};
use dataplane::wire::{OUM_HEADER_LEN, OUM_PREAMBLE, OumRepr};

use crate::app::kv::{KvOp, KvResult, KvStore};
use crate::registry::{Protocol, Tuning};
use crate::time::Time;
use crate::{Client, ClientId, Completion, Destination, MAX_DATAGRAM, Node, Replica, RequestId};

/// The sequencer's address; its IP is also the group address in the cluster config.
pub(crate) const SEQUENCER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 10), 22222);

/// A protocol's replica type, as the harness builds it.
pub(crate) type ReplicaOf<P> = <<P as TestProtocol>::Registered as Protocol>::Replica<KvStore>;
/// A protocol's client type, as the harness builds it.
pub(crate) type ClientOf<P> = <<P as TestProtocol>::Registered as Protocol>::Client;

/// What a protocol tells the harness. `Self` holds the settings tests may adjust before the
/// cluster is built (see [`Cluster::with`]); its default is what [`Cluster::new`] uses.
/// Replicas and clients are built from the protocol's registry entry ([`Protocol`]) unless the
/// protocol overrides [`TestProtocol::replica`], [`TestProtocol::recovering`] or
/// [`TestProtocol::client`] (to apply its settings).
pub(crate) trait TestProtocol: Default {
    /// The protocol's registry entry: the replica and client types, whether clients send
    /// through the sequencer, and how to build the nodes by default.
    type Registered: Protocol;
    /// A decoded datagram, for filters and assertions.
    type Message<'a>;

    /// Port of replica 0; replica `i` listens on the next ports.
    const BASE_PORT: u16 = 42000;

    /// Whether the cluster moves every completion into [`Cluster::done`] as it drains the
    /// clients (for [`Cluster::run_until_done`]). Off, tests poll the clients themselves
    /// ([`Cluster::wait`], [`Cluster::call`], [`Cluster::call_all`] need it off).
    const LOG_COMPLETIONS: bool = false;

    /// Decodes a datagram's payload (after the OUM header of a stamped datagram).
    fn decode(payload: &[u8]) -> Option<Self::Message<'_>>;

    /// Replica `index`, fresh.
    fn replica(&self, config: &ClusterConfig, index: usize) -> ReplicaOf<Self> {
        Self::Registered::new_replica(config, index, KvStore::default(), &Tuning::SIMULATION)
    }

    /// Replica `index` after losing its memory, starting to recover.
    fn recovering(
        &self,
        config: &ClusterConfig,
        index: usize,
        nonce: u64,
        now: Time,
    ) -> ReplicaOf<Self> {
        Self::Registered::recovering_replica(
            config,
            index,
            KvStore::default(),
            &Tuning::SIMULATION,
            nonce,
            now,
        )
        .expect("the protocol recovers")
    }

    /// Client `id`, whose replies come to `address`.
    fn client(
        &self,
        config: &ClusterConfig,
        id: ClientId,
        address: SocketAddrV4,
    ) -> ClientOf<Self> {
        Self::Registered::new_client(config, id, address)
    }

    /// Protocol-specific checks on one replica that [`Cluster::assert_agreement`] runs.
    fn assert_sound(_replica: &ReplicaOf<Self>) {}
}

/// A datagram in flight.
pub(crate) struct Packet<P> {
    pub(crate) from: SocketAddrV4,
    pub(crate) to: SocketAddrV4,
    pub(crate) bytes: Vec<u8>,
    protocol: PhantomData<fn() -> P>,
}

impl<P> Packet<P> {
    pub(crate) fn new(from: SocketAddrV4, to: SocketAddrV4, bytes: Vec<u8>) -> Packet<P> {
        Packet {
            from,
            to,
            bytes,
            protocol: PhantomData,
        }
    }

    /// The OUM message number, if this is a stamped packet.
    pub(crate) fn msgnum(&self) -> Option<u64> {
        match OumRepr::parse_bytes(&self.bytes) {
            Ok(OumRepr::Sequenced(s)) => Some(s.msgnum),
            _ => None,
        }
    }
}

impl<P: TestProtocol> Packet<P> {
    pub(crate) fn message(&self) -> Option<P::Message<'_>> {
        if P::Registered::uses_sequencer() && self.bytes.starts_with(&OUM_PREAMBLE) {
            P::decode(self.bytes.get(OUM_HEADER_LEN..)?)
        } else {
            P::decode(&self.bytes)
        }
    }
}

impl<P> Clone for Packet<P> {
    fn clone(&self) -> Self {
        Packet::new(self.from, self.to, self.bytes.clone())
    }
}

impl<P> fmt::Debug for Packet<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Packet")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("bytes", &self.bytes)
            .finish()
    }
}

/// What the filter does with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    Deliver,
    Lose,
    /// Kept aside until [`Cluster::release`].
    Hold,
}

/// Filters that only deliver or lose return whether to deliver.
impl From<bool> for Fate {
    fn from(deliver: bool) -> Fate {
        if deliver { Fate::Deliver } else { Fate::Lose }
    }
}

type Filter<P> = Box<dyn FnMut(&Packet<P>) -> Fate>;

/// The addresses of a cluster's replicas and clients, for filters that tell hosts apart
/// ([`Cluster::set_host_filter`]).
#[derive(Debug, Clone)]
pub(crate) struct Hosts {
    pub(crate) replicas: Vec<SocketAddrV4>,
    pub(crate) clients: Vec<SocketAddrV4>,
}

impl Hosts {
    /// The index of the replica at `a`, if one is.
    pub(crate) fn replica(&self, a: SocketAddrV4) -> Option<usize> {
        self.replicas.iter().position(|r| *r == a)
    }

    /// The index of the client at `a`, if one is.
    pub(crate) fn client(&self, a: SocketAddrV4) -> Option<usize> {
        self.clients.iter().position(|c| *c == a)
    }
}

pub(crate) struct Cluster<P: TestProtocol> {
    pub(crate) config: ClusterConfig,
    /// The settings the replicas were built from.
    pub(crate) protocol: P,
    pub(crate) replicas: Vec<ReplicaOf<P>>,
    pub(crate) up: Vec<bool>,
    /// Present when the protocol's clients send through the sequencer.
    pub(crate) sequencer: Option<Sequencer>,
    pub(crate) clients: Vec<ClientOf<P>>,
    pub(crate) client_addrs: Vec<SocketAddrV4>,
    pub(crate) now: Time,
    pub(crate) queue: VecDeque<Packet<P>>,
    filter: Filter<P>,
    pub(crate) held: Vec<Packet<P>>,
    pub(crate) delivered: u64,
    pub(crate) lost: Vec<Packet<P>>,
    /// Each client's completions, in order, when [`TestProtocol::LOG_COMPLETIONS`] is on
    /// (empty otherwise).
    pub(crate) done: Vec<Vec<Completion>>,
}

impl<P: TestProtocol> Cluster<P> {
    pub(crate) fn new(n: usize, clients: usize) -> Cluster<P> {
        Cluster::with(n, clients, |_| {})
    }

    /// A cluster whose protocol settings `tweak` adjusts (batch size, log window).
    pub(crate) fn with(n: usize, clients: usize, tweak: impl FnOnce(&mut P)) -> Cluster<P> {
        let config = ClusterConfig::local(n, P::BASE_PORT, *SEQUENCER.ip());
        let mut protocol = P::default();
        tweak(&mut protocol);
        let replicas = (0..n).map(|i| protocol.replica(&config, i)).collect();
        let sequencer = P::Registered::uses_sequencer().then(|| {
            Sequencer::new(
                SessionNumber(1),
                SEQUENCER.port(),
                &[GroupSpec {
                    address: *SEQUENCER.ip(),
                    members: (0..n as u16).collect(),
                }],
            )
            .unwrap()
        });
        let client_addrs: Vec<SocketAddrV4> = (0..clients)
            .map(|i| SocketAddrV4::new(Ipv4Addr::new(127, 0, 1, 1), 50000 + i as u16))
            .collect();
        let done = (0..clients).map(|_| Vec::new()).collect();
        let clients = client_addrs
            .iter()
            .enumerate()
            .map(|(i, a)| protocol.client(&config, 100 + i as u64, *a))
            .collect();
        Cluster {
            config,
            protocol,
            replicas,
            up: vec![true; n],
            sequencer,
            clients,
            client_addrs,
            now: Time::ZERO,
            queue: VecDeque::new(),
            filter: Box::new(|_| Fate::Deliver),
            held: Vec::new(),
            delivered: 0,
            lost: Vec::new(),
            done,
        }
    }

    pub(crate) fn replica_addr(&self, i: usize) -> SocketAddrV4 {
        self.config.replicas[i].address
    }

    /// Decides each datagram's fate from now on: a [`Fate`], or whether to deliver it.
    pub(crate) fn set_filter<F: Into<Fate>>(
        &mut self,
        mut filter: impl FnMut(&Packet<P>) -> F + 'static,
    ) {
        self.filter = Box::new(move |p| filter(p).into());
    }

    /// Like [`Cluster::set_filter`], for a filter that also sees the cluster's addresses.
    pub(crate) fn set_host_filter<F: Into<Fate>>(
        &mut self,
        mut filter: impl FnMut(&Hosts, &Packet<P>) -> F + 'static,
    ) {
        let hosts = self.hosts();
        self.filter = Box::new(move |p| filter(&hosts, p).into());
    }

    /// The addresses of the replicas and clients.
    pub(crate) fn hosts(&self) -> Hosts {
        Hosts {
            replicas: (0..self.replicas.len())
                .map(|i| self.replica_addr(i))
                .collect(),
            clients: self.client_addrs.clone(),
        }
    }

    pub(crate) fn clear_filter(&mut self) {
        self.filter = Box::new(|_| Fate::Deliver);
    }

    /// Puts the held datagrams back in flight, behind what is already queued.
    pub(crate) fn release(&mut self) {
        self.queue.extend(self.held.drain(..));
    }

    fn enqueue(
        &mut self,
        from: SocketAddrV4,
        destination: Destination,
        bytes: &[u8],
        sender: Option<usize>,
    ) {
        let targets: Vec<SocketAddrV4> = match destination {
            Destination::Replica(i) => vec![self.replica_addr(i)],
            Destination::OtherReplicas => (0..self.replicas.len())
                .filter(|i| Some(*i) != sender)
                .map(|i| self.replica_addr(i))
                .collect(),
            Destination::Client(a) => vec![a],
            Destination::Group => {
                assert!(
                    P::Registered::uses_sequencer(),
                    "the protocol never sends to the group"
                );
                vec![SEQUENCER]
            }
        };
        for to in targets {
            self.queue.push_back(Packet::new(from, to, bytes.to_vec()));
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
            if P::LOG_COMPLETIONS {
                while let Some(done) = self.clients[c].poll_completion() {
                    self.done[c].push(done);
                }
            }
        }
    }

    /// Delivers one datagram; false when nothing is in flight.
    pub(crate) fn step(&mut self) -> bool {
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
        self.delivered += 1;
        if let Some(sequencer) = self.sequencer.as_mut().filter(|_| packet.to == SEQUENCER) {
            let mut payload = packet.bytes.clone();
            if let Verdict::Multicast { .. } = sequencer.stamp_datagram(GroupId(0), &mut payload) {
                for i in 0..self.replicas.len() {
                    let to = self.replica_addr(i);
                    self.queue
                        .push_back(Packet::new(SEQUENCER, to, payload.clone()));
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
        let replicas = (self.replicas.iter().zip(&self.up))
            .filter(|(_, up)| **up)
            .map(|(r, _)| r.poll_timeout());
        let clients = self.clients.iter().map(|c| c.poll_timeout());
        let Some(t) = replicas.chain(clients).flatten().min() else {
            return false;
        };
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
    pub(crate) fn run_until(
        &mut self,
        limit_ms: u64,
        mut done: impl FnMut(&mut Cluster<P>) -> bool,
    ) -> bool {
        let limit = self.now + Duration::from_millis(limit_ms);
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
    pub(crate) fn run_for(&mut self, ms: u64) {
        self.run_until(ms, |_| false);
    }

    /// Delivers everything in flight without advancing time.
    pub(crate) fn settle(&mut self) {
        let mut steps = 0u64;
        while self.step() {
            steps += 1;
            assert!(steps < 1_000_000, "message storm");
        }
    }

    /// Runs until client `c` has logged `count` completions ([`TestProtocol::LOG_COMPLETIONS`])
    /// or virtual time passes `limit_ms` from now; returns whether it has. Counts only when
    /// nothing is in flight: it delivers everything, then fires the next timers, and so on.
    pub(crate) fn run_until_done(&mut self, c: usize, count: usize, limit_ms: u64) -> bool {
        assert!(P::LOG_COMPLETIONS, "the cluster logs no completions");
        let limit = self.now + Duration::from_millis(limit_ms);
        loop {
            self.settle();
            if self.done[c].len() >= count {
                return true;
            }
            if !self.advance(limit) {
                self.now = self.now.max(limit);
                return self.done[c].len() >= count;
            }
        }
    }

    /// Client `c` invokes `op` (and nothing runs yet); returns the request id.
    pub(crate) fn invoke(&mut self, c: usize, op: KvOp<'_>) -> RequestId {
        let now = self.now;
        let id = self.clients[c]
            .invoke(now, &op.to_bytes())
            .expect("client idle");
        self.drain_outputs();
        id
    }

    /// Runs until client `c` completes (or `limit_ms`); returns its result.
    pub(crate) fn wait(&mut self, c: usize, limit_ms: u64) -> Option<KvResult> {
        self.wait_for(c, None, limit_ms)
    }

    /// Runs until client `c` completes `request` (any request if `None`) or `limit_ms`
    /// pass; returns the result.
    fn wait_for(
        &mut self,
        c: usize,
        request: Option<RequestId>,
        limit_ms: u64,
    ) -> Option<KvResult> {
        assert!(!P::LOG_COMPLETIONS, "completions go to the log");
        let mut result = None;
        self.run_until(limit_ms, |cl| {
            if let Some(done) = cl.clients[c].poll_completion() {
                if let Some(request) = request {
                    assert_eq!(done.request, request);
                }
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

    /// Client `c` runs `op` to completion (or `limit_ms`); returns the result.
    pub(crate) fn call(&mut self, c: usize, op: KvOp<'_>, limit_ms: u64) -> Option<KvResult> {
        let request = self.invoke(c, op);
        self.wait_for(c, Some(request), limit_ms)
    }

    /// Every client invokes an append to `key` at once; runs until all complete. Returns
    /// how many completed.
    pub(crate) fn call_all(&mut self, key: &[u8], limit_ms: u64) -> usize {
        assert!(!P::LOG_COMPLETIONS, "completions go to the log");
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

    /// Every pair of replicas agrees on every committed slot both still hold, and replicas
    /// at the same execution point have the same state digest; each replica passes
    /// [`TestProtocol::assert_sound`].
    pub(crate) fn assert_agreement(&self) {
        for a in 0..self.replicas.len() {
            P::assert_sound(&self.replicas[a]);
            for b in a + 1..self.replicas.len() {
                let (ra, rb) = (&self.replicas[a], &self.replicas[b]);
                let upto = ra.commit_point().min(rb.commit_point());
                for slot in 1..=upto {
                    if let (Some(x), Some(y)) = (ra.committed_entry(slot), rb.committed_entry(slot))
                    {
                        assert_eq!(x, y, "slot {slot}:\n{}\n{}", ra.describe(), rb.describe());
                    }
                }
                let (ea, da) = ra.execution();
                let (eb, db) = rb.execution();
                if ea == eb && ea > 0 {
                    assert_eq!(
                        da,
                        db,
                        "digests at slot {ea}:\n{}\n{}",
                        ra.describe(),
                        rb.describe()
                    );
                }
            }
        }
    }

    pub(crate) fn crash(&mut self, i: usize) {
        self.up[i] = false;
    }

    pub(crate) fn restart(&mut self, i: usize) {
        self.up[i] = true;
    }

    /// Replica `i` loses its memory and starts recovering.
    pub(crate) fn lose_memory(&mut self, i: usize, nonce: u64) {
        self.replicas[i] = self.protocol.recovering(&self.config, i, nonce, self.now);
        self.up[i] = true;
        self.drain_outputs();
    }

    /// The sequencer fails over: a new session, numbers from 1 again.
    pub(crate) fn fail_over_sequencer(&mut self) {
        let sequencer = self.sequencer.as_mut().expect("a sequenced protocol");
        let next = sequencer.session().next();
        sequencer.start_session(next);
    }

    pub(crate) fn describe(&self) -> String {
        self.replicas
            .iter()
            .map(|r| r.describe())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// An append of `value` to `key`.
pub(crate) fn append<'a>(key: &'a [u8], value: &'a [u8]) -> KvOp<'a> {
    KvOp::Append { key, value }
}

/// The value an append returned.
pub(crate) fn appended(r: Option<KvResult>) -> Vec<u8> {
    match r {
        Some(KvResult::Appended(v)) => v,
        other => panic!("expected an append result, got {other:?}"),
    }
}
