//! Identifiers and log entries of NOPaxos.

use std::fmt;
use std::net::SocketAddrV4;

use crate::codec::{CodecError, Reader, Writer};
use crate::{ClientId, EntryId, RequestId};

/// A view: (leader number, session number), ordered component-wise (NOPaxos section 5.2).
/// The leader of a view is replica `leader_num mod n`. A new OUM session (sequencer
/// failover) raises the session number; a leader change raises the leader number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ViewId {
    pub leader_num: u64,
    pub session_num: u64,
}

impl ViewId {
    pub const INITIAL: ViewId = ViewId {
        leader_num: 0,
        session_num: 0,
    };

    pub fn leader(&self, n: usize) -> usize {
        (self.leader_num % n.max(1) as u64) as usize
    }

    /// Component-wise `self >= other`.
    pub fn covers(&self, other: &ViewId) -> bool {
        self.leader_num >= other.leader_num && self.session_num >= other.session_num
    }

    /// The smallest view covering both.
    pub fn join(&self, other: &ViewId) -> ViewId {
        ViewId {
            leader_num: self.leader_num.max(other.leader_num),
            session_num: self.session_num.max(other.session_num),
        }
    }

    /// A total order that agrees with `covers` on comparable views; normal views are always
    /// comparable (each is built from a quorum that saw the one before).
    pub fn rank(&self) -> (u64, u64) {
        (
            self.leader_num.saturating_add(self.session_num),
            self.leader_num,
        )
    }

    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.u64(self.leader_num)?;
        w.u64(self.session_num)
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<ViewId, CodecError> {
        Ok(ViewId {
            leader_num: r.u64()?,
            session_num: r.u64()?,
        })
    }
}

impl fmt::Display for ViewId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.leader_num, self.session_num)
    }
}

/// A client request as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub client: ClientId,
    pub request: RequestId,
    pub reply_to: SocketAddrV4,
    pub op: Vec<u8>,
}

/// A log slot's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Request(Request),
    NoOp,
}

impl Entry {
    pub fn id(&self) -> EntryId {
        match self {
            Entry::Request(r) => EntryId::Request {
                client: r.client,
                request: r.request,
            },
            Entry::NoOp => EntryId::NoOp,
        }
    }

    pub fn is_noop(&self) -> bool {
        matches!(self, Entry::NoOp)
    }

    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        match self {
            Entry::NoOp => w.u8(0),
            Entry::Request(r) => {
                w.u8(1)?;
                w.u64(r.client)?;
                w.u64(r.request)?;
                w.addr(r.reply_to)?;
                w.bytes(&r.op)
            }
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Entry, CodecError> {
        match r.u8()? {
            0 => Ok(Entry::NoOp),
            1 => Ok(Entry::Request(Request {
                client: r.u64()?,
                request: r.u64()?,
                reply_to: r.addr()?,
                op: r.bytes()?.to_vec(),
            })),
            t => Err(CodecError::Invalid {
                field: "log entry",
                value: u64::from(t),
            }),
        }
    }

    /// Bytes this entry takes encoded, for chunking.
    pub fn encoded_len(&self) -> usize {
        match self {
            Entry::NoOp => 1,
            Entry::Request(r) => 1 + 8 + 8 + 6 + 4 + r.op.len(),
        }
    }
}

/// Partial blobs of a view the replica's current view does not supersede still matter.
impl crate::kit::blob::BlobView for ViewId {
    fn still_relevant(&self, current: &ViewId) -> bool {
        self.covers(current)
    }
}
