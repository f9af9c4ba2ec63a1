//! Tiny protocols that misbehave on purpose (to see each check catch them), and one that
//! sends through the sequencer (to exercise the sequencer host before NOPaxos exists).

use std::collections::VecDeque;
use std::net::SocketAddrV4;

use dataplane::config::ClusterConfig;
use dataplane::wire::{OUM_HEADER_LEN, OumRepr};

use crate::routes::Routes;
use crate::time::Time;
use protocols::app::App;
use protocols::app::kv::KvStore;
use protocols::codec::Writer;
use protocols::kit::pending::ClientTimeouts;
use protocols::unreplicated::Unreplicated;
use protocols::unreplicated::{Message, UnreplicatedClient, UnreplicatedServer};
use protocols::{
    Client, ClientId, Completion, Destination, EntryId, Node, Replica, ReplicaStats, RequestId,
    Transmit,
};
use protocols::{Protocol, Tuning};

/// How a [`Faulty`] replica misbehaves.
pub(super) const DISAGREE: u8 = 0;
pub(super) const DIVERGE: u8 = 1;
pub(super) const SPIN: u8 = 2;
pub(super) const SILENT: u8 = 3;

/// The unreplicated server behind replica 0 of a cluster of `n`, with replicas lying about
/// their logs or state as `MODE` says.
#[derive(Debug)]
pub(super) struct FaultyReplica<const MODE: u8> {
    index: usize,
    inner: UnreplicatedServer<KvStore>,
}

impl<const MODE: u8> Node for FaultyReplica<MODE> {
    fn handle_datagram(&mut self, now: Time, from: SocketAddrV4, datagram: &[u8]) {
        if MODE != SILENT {
            self.inner.handle_datagram(now, from, datagram);
        }
    }

    fn handle_timeout(&mut self, _now: Time) {}

    fn poll_timeout(&self) -> Option<Time> {
        // A timer that is always due: time can never move on.
        (MODE == SPIN && self.index == 0).then_some(Time::ZERO)
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        self.inner.poll_transmit(buf)
    }
}

impl<const MODE: u8> Replica for FaultyReplica<MODE> {
    fn index(&self) -> usize {
        self.index
    }

    fn is_leader(&self) -> bool {
        self.index == 0
    }

    fn is_normal(&self) -> bool {
        true
    }

    fn commit_point(&self) -> u64 {
        u64::from(MODE == DISAGREE)
    }

    fn committed_entry(&self, slot: u64) -> Option<EntryId> {
        (MODE == DISAGREE && slot == 1).then_some(EntryId::Request {
            client: self.index as u64,
            request: 1,
        })
    }

    fn execution(&self) -> (u64, u64) {
        if MODE == DIVERGE {
            (1, self.index as u64)
        } else {
            (0, 0)
        }
    }

    fn stats(&self) -> ReplicaStats {
        self.inner.stats()
    }

    fn describe(&self) -> String {
        format!("faulty replica {} (mode {MODE})", self.index)
    }
}

/// A cluster of [`FaultyReplica`]s with unreplicated clients (which talk to replica 0).
#[derive(Debug)]
pub(super) struct Faulty<const MODE: u8>;

impl<const MODE: u8> Protocol for Faulty<MODE> {
    type Replica<A: App> = FaultyReplica<MODE>;
    type Client = UnreplicatedClient;
    const NAME: &'static str = "faulty";
    const SUMMARY: &'static str = "replicas with a planted bug, chosen by MODE";

    fn uses_sequencer() -> bool {
        false
    }

    /// Replica 0 answers alone, with the unreplicated baseline's replies.
    fn reply_quorum(_config: &ClusterConfig) -> usize {
        1
    }

    fn reply_client(datagram: &[u8]) -> Option<ClientId> {
        Unreplicated::reply_client(datagram)
    }

    fn replicas(config: &ClusterConfig) -> usize {
        config.n()
    }

    fn new_replica<A: App>(
        _config: &ClusterConfig,
        index: usize,
        _app: A,
        _tuning: &Tuning,
    ) -> Self::Replica<A> {
        FaultyReplica {
            index,
            inner: UnreplicatedServer::new(KvStore::default()),
        }
    }

    fn recovering_replica<A: App>(
        _: &ClusterConfig,
        _: usize,
        _: A,
        _: &Tuning,
        _: u64,
        _: Time,
    ) -> Option<Self::Replica<A>> {
        None
    }

    fn new_client(config: &ClusterConfig, id: u64, _address: SocketAddrV4) -> Self::Client {
        UnreplicatedClient::new(id, ClientTimeouts::from_config(&config.timeouts))
    }
}

/// A server without at-most-once execution: it executes every request datagram it gets,
/// duplicates and resends included. Not linearizable once the network duplicates.
#[derive(Debug, Default)]
pub(super) struct SloppyServer {
    store: KvStore,
    replies: VecDeque<(SocketAddrV4, ClientId, RequestId, Vec<u8>)>,
}

impl Node for SloppyServer {
    fn handle_datagram(&mut self, _now: Time, from: SocketAddrV4, datagram: &[u8]) {
        if let Ok(Message::Request {
            client,
            request,
            op,
        }) = Message::decode(datagram)
        {
            let mut result = Vec::new();
            protocols::app::App::execute(&mut self.store, op, &mut result);
            self.replies.push_back((from, client, request, result));
        }
    }

    fn handle_timeout(&mut self, _now: Time) {}

    fn poll_timeout(&self) -> Option<Time> {
        None
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        let (to, client, request, result) = self.replies.pop_front()?;
        let mut w = Writer::new(buf);
        Message::Reply {
            client,
            request,
            result: &result,
        }
        .encode(&mut w)
        .ok()?;
        Some(Transmit {
            destination: Destination::Client(to),
            len: w.len(),
        })
    }
}

impl Replica for SloppyServer {
    fn index(&self) -> usize {
        0
    }
    fn is_leader(&self) -> bool {
        true
    }
    fn is_normal(&self) -> bool {
        true
    }
    fn commit_point(&self) -> u64 {
        0
    }
    fn committed_entry(&self, _slot: u64) -> Option<EntryId> {
        None
    }
    fn execution(&self) -> (u64, u64) {
        (0, 0)
    }
    fn stats(&self) -> ReplicaStats {
        ReplicaStats::default()
    }
    fn describe(&self) -> String {
        "sloppy server".into()
    }
}

#[derive(Debug)]
pub(super) struct Sloppy;

impl Protocol for Sloppy {
    type Replica<A: App> = SloppyServer;
    type Client = UnreplicatedClient;
    const NAME: &'static str = "sloppy";
    const SUMMARY: &'static str = "a server executing duplicates (a planted bug)";

    fn uses_sequencer() -> bool {
        false
    }

    /// Replica 0 answers alone, with the unreplicated baseline's replies.
    fn reply_quorum(_config: &ClusterConfig) -> usize {
        1
    }

    fn reply_client(datagram: &[u8]) -> Option<ClientId> {
        Unreplicated::reply_client(datagram)
    }
    fn replicas(_config: &ClusterConfig) -> usize {
        1
    }
    fn new_replica<A: App>(
        _config: &ClusterConfig,
        _index: usize,
        _app: A,
        _tuning: &Tuning,
    ) -> Self::Replica<A> {
        SloppyServer::default()
    }
    fn recovering_replica<A: App>(
        _: &ClusterConfig,
        _: usize,
        _: A,
        _: &Tuning,
        _: u64,
        _: Time,
    ) -> Option<Self::Replica<A>> {
        None
    }
    fn new_client(config: &ClusterConfig, id: u64, _address: SocketAddrV4) -> Self::Client {
        UnreplicatedClient::new(id, ClientTimeouts::from_config(&config.timeouts))
    }
    fn max_down(_config: &ClusterConfig) -> usize {
        1
    }
}

/// An unreplicated client whose requests go to the group, behind an unsequenced OUM header.
#[derive(Debug)]
pub(super) struct GroupClient(UnreplicatedClient);

impl Node for GroupClient {
    fn handle_datagram(&mut self, now: Time, from: SocketAddrV4, datagram: &[u8]) {
        self.0.handle_datagram(now, from, datagram);
    }
    fn handle_timeout(&mut self, now: Time) {
        self.0.handle_timeout(now);
    }
    fn poll_timeout(&self) -> Option<Time> {
        self.0.poll_timeout()
    }
    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        let (header, body) = buf.split_at_mut(OUM_HEADER_LEN);
        let inner = self.0.poll_transmit(body)?;
        OumRepr::Unsequenced.emit(header).ok()?;
        Some(Transmit {
            destination: Destination::Group,
            len: OUM_HEADER_LEN + inner.len,
        })
    }
}

impl Client for GroupClient {
    fn id(&self) -> ClientId {
        self.0.id()
    }
    fn invoke(&mut self, now: Time, op: &[u8]) -> Option<RequestId> {
        self.0.invoke(now, op)
    }
    fn poll_completion(&mut self) -> Option<Completion> {
        self.0.poll_completion()
    }
    fn resends(&self) -> u64 {
        self.0.resends()
    }
}

/// A member of the group: checks that stamps arrive in order within a session and that
/// sessions only move forward; replica 0 also executes and answers.
#[derive(Debug)]
pub(super) struct GroupMember {
    index: usize,
    routes: Routes,
    inner: UnreplicatedServer<KvStore>,
    session: Option<u16>,
    last: u64,
    received: u64,
    /// A stamp not after the previous one in its session, or an older session.
    regressions: u64,
    sessions_seen: u64,
}

impl Node for GroupMember {
    fn handle_datagram(&mut self, now: Time, from: SocketAddrV4, datagram: &[u8]) {
        let Ok(OumRepr::Sequenced(stamp)) = OumRepr::parse_bytes(datagram) else {
            return;
        };
        self.received += 1;
        match self.session {
            Some(s) if s == stamp.session.0 => {
                // Duplicates and reordering are the network's; only count a step back.
                if stamp.msgnum + 64 < self.last {
                    self.regressions += 1;
                }
                self.last = self.last.max(stamp.msgnum);
            }
            Some(s)
                if !stamp
                    .session
                    .is_newer_than(dataplane::oum::SessionNumber(s)) =>
            {
                // A straggler of an older session.
            }
            _ => {
                self.session = Some(stamp.session.0);
                self.sessions_seen += 1;
                self.last = stamp.msgnum;
            }
        }
        if self.index == 0 {
            self.inner
                .handle_datagram(now, from, &datagram[OUM_HEADER_LEN..]);
        }
    }
    fn handle_timeout(&mut self, _now: Time) {}
    fn poll_timeout(&self) -> Option<Time> {
        None
    }
    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        let t = self.inner.poll_transmit(buf)?;
        // The request came from the sequencer: answer the client at its own address.
        let Ok(Message::Reply { client, .. }) = Message::decode(&buf[..t.len]) else {
            return None;
        };
        let to = *self
            .routes
            .clients
            .get(usize::try_from(client).ok()?.checked_sub(1)?)?;
        Some(Transmit {
            destination: Destination::Client(to),
            len: t.len,
        })
    }
}

impl Replica for GroupMember {
    fn index(&self) -> usize {
        self.index
    }
    fn is_leader(&self) -> bool {
        self.index == 0
    }
    fn is_normal(&self) -> bool {
        true
    }
    fn commit_point(&self) -> u64 {
        0
    }
    fn committed_entry(&self, _slot: u64) -> Option<EntryId> {
        None
    }
    fn execution(&self) -> (u64, u64) {
        (0, 0)
    }
    fn stats(&self) -> ReplicaStats {
        ReplicaStats::default()
    }
    fn describe(&self) -> String {
        format!(
            "member {} session={:?} last={} received={} sessions_seen={} regressions={}",
            self.index,
            self.session,
            self.last,
            self.received,
            self.sessions_seen,
            self.regressions
        )
    }
}

/// Clients send through the sequencer to a group of `n` members; member 0 answers.
#[derive(Debug)]
pub(super) struct Grouped;

impl Protocol for Grouped {
    type Replica<A: App> = GroupMember;
    type Client = GroupClient;
    const NAME: &'static str = "grouped";
    const SUMMARY: &'static str = "group members checking the order of the OUM stream";

    fn uses_sequencer() -> bool {
        true
    }

    /// Replica 0 answers alone, with the unreplicated baseline's replies.
    fn reply_quorum(_config: &ClusterConfig) -> usize {
        1
    }

    fn reply_client(datagram: &[u8]) -> Option<ClientId> {
        Unreplicated::reply_client(datagram)
    }
    fn replicas(config: &ClusterConfig) -> usize {
        config.n()
    }
    fn new_replica<A: App>(
        config: &ClusterConfig,
        index: usize,
        _app: A,
        _tuning: &Tuning,
    ) -> Self::Replica<A> {
        GroupMember {
            index,
            // Client addresses do not depend on the client count (it only bounds them).
            routes: Routes::new(config, config.n(), 64),
            inner: UnreplicatedServer::new(KvStore::default()),
            session: None,
            last: 0,
            received: 0,
            regressions: 0,
            sessions_seen: 0,
        }
    }
    fn recovering_replica<A: App>(
        _: &ClusterConfig,
        _: usize,
        _: A,
        _: &Tuning,
        _: u64,
        _: Time,
    ) -> Option<Self::Replica<A>> {
        None
    }
    fn new_client(config: &ClusterConfig, id: u64, _address: SocketAddrV4) -> Self::Client {
        GroupClient(UnreplicatedClient::new(
            id,
            ClientTimeouts::from_config(&config.timeouts),
        ))
    }
    /// Member 0 keeps its memory through a crash, and only member 0 matters to clients.
    fn max_down(_config: &ClusterConfig) -> usize {
        1
    }
}

/// A replica with nothing to replicate that, restarted without memory, reports itself not
/// normal for 50 ms: enough to watch the driver's memory-loss bookkeeping.
#[derive(Debug)]
pub(super) struct AmnesiacReplica {
    index: usize,
    nonce: Option<u64>,
    normal_at: Option<Time>,
}

impl Node for AmnesiacReplica {
    fn handle_datagram(&mut self, _now: Time, _from: SocketAddrV4, _datagram: &[u8]) {}
    fn handle_timeout(&mut self, now: Time) {
        if self.normal_at.is_some_and(|t| t <= now) {
            self.normal_at = None;
        }
    }
    fn poll_timeout(&self) -> Option<Time> {
        self.normal_at
    }
    fn poll_transmit(&mut self, _buf: &mut [u8]) -> Option<Transmit> {
        None
    }
}

impl Replica for AmnesiacReplica {
    fn index(&self) -> usize {
        self.index
    }
    fn is_leader(&self) -> bool {
        self.index == 0
    }
    fn is_normal(&self) -> bool {
        self.normal_at.is_none()
    }
    fn commit_point(&self) -> u64 {
        0
    }
    fn committed_entry(&self, _slot: u64) -> Option<EntryId> {
        None
    }
    fn execution(&self) -> (u64, u64) {
        (0, 0)
    }
    fn stats(&self) -> ReplicaStats {
        ReplicaStats::default()
    }
    fn describe(&self) -> String {
        format!("amnesiac {} nonce={:?}", self.index, self.nonce)
    }
}

#[derive(Debug)]
pub(super) struct Amnesiac;

impl Protocol for Amnesiac {
    type Replica<A: App> = AmnesiacReplica;
    type Client = UnreplicatedClient;
    const NAME: &'static str = "amnesiac";
    const SUMMARY: &'static str = "replicas that lose their memory and recover";

    fn uses_sequencer() -> bool {
        false
    }

    /// Replica 0 answers alone, with the unreplicated baseline's replies.
    fn reply_quorum(_config: &ClusterConfig) -> usize {
        1
    }

    fn reply_client(datagram: &[u8]) -> Option<ClientId> {
        Unreplicated::reply_client(datagram)
    }
    fn replicas(config: &ClusterConfig) -> usize {
        config.n()
    }
    fn new_replica<A: App>(
        _config: &ClusterConfig,
        index: usize,
        _app: A,
        _tuning: &Tuning,
    ) -> Self::Replica<A> {
        AmnesiacReplica {
            index,
            nonce: None,
            normal_at: None,
        }
    }
    fn recovering_replica<A: App>(
        _config: &ClusterConfig,
        index: usize,
        _app: A,
        _tuning: &Tuning,
        nonce: u64,
        now: Time,
    ) -> Option<Self::Replica<A>> {
        Some(AmnesiacReplica {
            index,
            nonce: Some(nonce),
            normal_at: Some(now + std::time::Duration::from_millis(50)),
        })
    }
    fn new_client(config: &ClusterConfig, id: u64, _address: SocketAddrV4) -> Self::Client {
        UnreplicatedClient::new(id, ClientTimeouts::from_config(&config.timeouts))
    }
}
