//! Ordered Unreliable Multicast (NOPaxos paper, section 3).
//!
//! * [`Sequencer`]: the stamping core every software sequencer runs: given per-group
//!   counters and the session number, it stamps one packet or a burst in place and says
//!   which group's members get a copy, or why the packet is dropped.
//! * [`Receiver`]: the paper's libOUM receiver API. It turns stamped packets into a stream of
//!   [`Event`]s (a message, a drop notification per missing message number, or the end of
//!   a session) and starts delivery at a position with [`Receiver::listen`].
//! * [`SessionQuery`]: how a starting sequencer asks the replicas for the newest session
//!   they have seen.
//! * [`StampKey`]: the keyed tag of an authenticated stamp (docs/wire-format.md): the
//!   sequencer core seals the stamps of keyed groups, replicas' drivers open them.

mod auth;
mod drop_reason;
mod plain_frame;
mod receiver;
mod seal_frame;
mod sequencer;
mod session_query;
mod stream_digest;

pub use crate::wire::{SessionNumber, Stamp};
pub use auth::{AUTH_TAG_LEN, AuthError, OUM_AUTHENTICATED_HEADER_SIZE, StampKey};
pub use drop_reason::{DropCounts, DropReason};
pub use receiver::{
    CALM_EVENTS, Discard, Event, Receiver, ReceiverConfig, ReceiverStats, Rejected, WIDEN_STEP,
};
pub use sequencer::{
    GroupId, GroupSpec, GroupStats, Sequencer, SequencerError, SequencerStats, Verdict,
};
pub use session_query::{
    SESSION_QUERY_LEN, SESSION_QUERY_MAGIC, SESSION_QUERY_VERSION, SessionQuery, newest_session,
};
pub use stream_digest::StreamDigest;
