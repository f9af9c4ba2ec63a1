//! Protocol cores, sans-IO (DESIGN.md rule 1): plain structs driven by datagrams and timer
//! ticks with the current time passed in, handing back datagrams to send and their next
//! deadline. The same core runs in the simulator, on kernel UDP and on DPDK.
//!
//! Every protocol provides a replica and a client implementing [`Replica`] and [`Client`],
//! and one entry in the [`registry`] that says how to build them; drivers, the simulator
//! and client-gen need nothing else. The replicated applications ([`app`]) live here too:
//! a core executes through them.

mod address_book;
pub mod app;
pub mod codec;
pub mod fastpaxos;
pub mod kit;
pub mod nopaxos;
pub mod registry;
pub mod specpaxos;
#[cfg(test)]
mod test_harness;
pub mod unreplicated;
pub mod vr;

use std::fmt;
use std::net::SocketAddrV4;

use crate::time::Time;

pub use address_book::AddressBook;
pub use dataplane::time;
pub use kit::outbox::Outbox;
pub use registry::{Protocol, ProtocolKind, ProtocolVisitor, Tuning};

pub type ClientId = u64;
pub type RequestId = u64;

/// Message type numbers, one range per protocol, so a datagram of one protocol can never be
/// mistaken for another's (docs/wire-format.md).
pub mod msg_type {
    pub const UNREPLICATED_REQUEST: u8 = 0x01;
    pub const UNREPLICATED_REPLY: u8 = 0x02;
    /// NOPaxos uses 0x10..=0x2f.
    pub const NOPAXOS_BASE: u8 = 0x10;
    /// Viewstamped Replication uses 0x30..=0x3f.
    pub const VR_BASE: u8 = 0x30;
    /// Speculative Paxos uses 0x40..=0x4f.
    pub const SPEC_BASE: u8 = 0x40;
    /// Fast Paxos uses 0x50..=0x5f.
    pub const FASTPAXOS_BASE: u8 = 0x50;
}

/// Largest datagram a core writes; chunked messages (logs, snapshots) stay below it.
pub const MAX_DATAGRAM: usize = 8192;

/// Where a datagram goes; drivers map replica indexes and the group to addresses from the
/// cluster config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    Replica(usize),
    /// Every replica but the sender.
    OtherReplicas,
    Client(SocketAddrV4),
    /// The OUM group: through the sequencer to every member.
    Group,
}

/// A datagram a core wrote into the driver's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    pub destination: Destination,
    pub len: usize,
}

/// What every protocol node (replica or client) looks like to a driver.
pub trait Node {
    /// A datagram arrived from `from` (its UDP source address).
    fn handle_datagram(&mut self, now: Time, from: SocketAddrV4, datagram: &[u8]);
    /// Called at or after the time [`Node::poll_timeout`] gave.
    fn handle_timeout(&mut self, now: Time);
    /// The next time the node wants [`Node::handle_timeout`], if any.
    fn poll_timeout(&self) -> Option<Time>;
    /// Writes the next datagram to send into `buf` ([`MAX_DATAGRAM`] bytes suffice).
    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit>;
    /// The newest OUM session this node has seen, which its process reports to a starting
    /// sequencer's session query (`dataplane::oum::SessionQuery`); `None` when it has seen
    /// none, or follows no OUM session (the default).
    fn newest_oum_session(&self) -> Option<dataplane::oum::SessionNumber> {
        None
    }
}

/// A replica slot's content, as the agreement checks compare it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntryId {
    Request {
        client: ClientId,
        request: RequestId,
    },
    NoOp,
}

/// Counters every replica keeps of what it ignored, and why: one counter per reason, so a
/// stats line says what is wrong (docs/operations.md, "Replica counters", lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplicaStats {
    pub requests: u64,
    pub executed: u64,
    /// Datagrams that did not decode (our envelope, or an OUM header that is not one).
    pub malformed: u64,
    /// OUM datagrams no sequencer stamped: a client sending straight to a replica instead
    /// of to the group address, never trusted (the original's defect 2).
    pub unstamped: u64,
    /// Protocol messages from an address that is not a replica of the configuration.
    pub stranger: u64,
    /// Messages this replica's role never takes now: a request or reply sent to a replica,
    /// a leader's message from a replica that does not lead that view, a leader-only
    /// message at a follower.
    pub unexpected: u64,
    /// Messages of a past view, or answers to an exchange that is already over.
    pub stale: u64,
    /// Stamps of an OUM session older than the one being delivered: a sequencer started
    /// with an old session (docs/operations.md, "Sessions") or stragglers after a failover.
    pub stale_session: u64,
    /// Stamps already delivered or reported dropped (the network duplicated them).
    pub duplicate: u64,
    /// Messages too far ahead (slot or view) to act on.
    pub too_far_ahead: u64,
    /// Stamps held out of order that the receiver's ring had no room for.
    pub beyond_window: u64,
    /// Lone stamps of a newer session or beyond the receiver's ring that no second stamp
    /// confirmed (docs/protocols.md, "Stray stamps"): stray or forged, or a real jump whose
    /// confirming stamp was lost.
    pub unconfirmed: u64,
    pub view_changes: u64,
    pub state_transfers: u64,
}

impl ReplicaStats {
    /// Every datagram ignored, whatever the reason.
    pub fn ignored(&self) -> u64 {
        self.malformed
            + self.unstamped
            + self.stranger
            + self.unexpected
            + self.stale
            + self.stale_session
            + self.duplicate
            + self.too_far_ahead
            + self.beyond_window
            + self.unconfirmed
    }
}

/// A replica core.
pub trait Replica: Node {
    fn index(&self) -> usize;
    fn is_leader(&self) -> bool;
    /// Whether the replica takes part in the protocol (not recovering or transferring).
    fn is_normal(&self) -> bool;
    /// Highest slot known committed here (0 when none).
    fn commit_point(&self) -> u64;
    /// The entry at a committed slot, while the replica still keeps it.
    fn committed_entry(&self, slot: u64) -> Option<EntryId>;
    /// Slot up to which the application has executed, and its digest there, when every
    /// executed entry is committed; (0, 0) while the state includes speculative execution
    /// (a NOPaxos leader runs ahead of its sync point, and an isolated old leader may run
    /// ahead of what the next view keeps).
    fn execution(&self) -> (u64, u64);
    fn stats(&self) -> ReplicaStats;
    /// One line describing the replica's state, for failure reports.
    fn describe(&self) -> String;
}

/// Why a client request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// No commit within the client's give-up time, after `attempts` sends. The operation may
    /// or may not have taken effect.
    GaveUp { attempts: u32 },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::GaveUp { attempts } => {
                write!(
                    f,
                    "no committed reply after {attempts} attempts; the outcome is unknown"
                )
            }
        }
    }
}

/// A finished request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub request: RequestId,
    pub result: Result<Vec<u8>, ClientError>,
}

/// A client core: one outstanding request at a time.
pub trait Client: Node {
    fn id(&self) -> ClientId;
    /// Starts a request; `None` while another is outstanding.
    fn invoke(&mut self, now: Time, op: &[u8]) -> Option<RequestId>;
    fn poll_completion(&mut self) -> Option<Completion>;
    /// Requests sent again so far, after their resend timer ran out.
    fn resends(&self) -> u64;
}
