//! VR messages: our envelope (docs/wire-format.md) and a body of big-endian fields. Decoding
//! borrows operations, results, batches and chunk data from the datagram; a PREPARE's batch
//! is checked entry by entry when decoded and read in place afterwards.

use dataplane::wire::ENVELOPE_HEADER_LEN;

use super::types::{ENTRY_OVERHEAD, Entry, EntryRef, encode_entry};
use crate::codec::{CodecError, Field, Reader, Writer, invalid};
use crate::kit::framing::{self, MessageSet};
pub use crate::kit::prevote::Ballot;
use crate::msg_type::VR_BASE;
use crate::{ClientId, MAX_DATAGRAM, RequestId};

/// Message type numbers (0x30..=0x3f).
pub mod code {
    use super::VR_BASE as B;
    pub const REQUEST: u8 = B;
    pub const REPLY: u8 = B + 1;
    pub const PREPARE: u8 = B + 2;
    pub const PREPARE_OK: u8 = B + 3;
    pub const COMMIT: u8 = B + 4;
    pub const START_VIEW_CHANGE: u8 = B + 5;
    /// DO-VIEW-CHANGE, START-VIEW and NEW-STATE travel as chunks of a blob.
    pub const CHUNK: u8 = B + 6;
    pub const STATE_REQUEST: u8 = B + 7;
    pub const RECOVERY: u8 = B + 8;
    pub const RECOVERY_RESPONSE: u8 = B + 9;
    pub const PRE_VOTE: u8 = B + 10;
}

/// Envelope, view, first op number, commit number and entry count.
pub const PREPARE_HEADER: usize = ENVELOPE_HEADER_LEN + 8 + 8 + 8 + 4;

/// The largest operation a primary accepts: one that fits a PREPARE on its own.
pub const MAX_OP: usize = MAX_DATAGRAM - PREPARE_HEADER - ENTRY_OVERHEAD;

pub use crate::kit::blob::ChunkKind;

/// What a STATE-REQUEST asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateMode {
    /// A replica behind its view's log: the log after its op number (same view) or commit
    /// number (older view), or a snapshot plus the log when that part is truncated. Served
    /// by replicas normal in the same view or a later one.
    CatchUp,
    /// A new primary whose execution is behind the retained log of the best DO-VIEW-CHANGE:
    /// just the sender's executed (hence committed) state. Served by anyone not recovering.
    Snapshot,
    /// A recovering replica: the primary's whole state. Served only by a primary in a view
    /// at least the one asked for.
    Recovery,
}

/// One byte.
impl Field<'_> for StateMode {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.u8(match self {
            StateMode::CatchUp => 0,
            StateMode::Snapshot => 1,
            StateMode::Recovery => 2,
        })
    }

    fn read(r: &mut Reader<'_>) -> Result<StateMode, CodecError> {
        match r.u8()? {
            0 => Ok(StateMode::CatchUp),
            1 => Ok(StateMode::Snapshot),
            2 => Ok(StateMode::Recovery),
            v => Err(invalid("state mode", u64::from(v))),
        }
    }
}

/// The entries of a PREPARE, validated when decoded and read in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entries<'a> {
    count: u32,
    bytes: &'a [u8],
}

impl<'a> Entries<'a> {
    /// Reads `count` then that many entries from `r`, a reader over `body`, checking every
    /// one; the entries' bytes are then borrowed from `body`.
    fn decode(body: &'a [u8], r: &mut Reader<'a>) -> Result<Entries<'a>, CodecError> {
        let count = r.count(ENTRY_OVERHEAD)?;
        let from = body.len() - r.remaining();
        for _ in 0..count {
            EntryRef::decode(r)?;
        }
        let to = body.len() - r.remaining();
        let bytes = body.get(from..to).ok_or(invalid("entries", to as u64))?;
        Ok(Entries {
            count: count as u32,
            bytes,
        })
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = EntryRef<'a>> + 'a {
        let mut r = Reader::new(self.bytes);
        (0..self.count).map_while(move |_| EntryRef::decode(&mut r).ok())
    }
}

/// A chunk of a blob as received.
pub type ChunkIn<'a> = crate::kit::blob::ChunkIn<'a, ChunkKind, u64>;

/// A VR message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// Client to the replica it believes is primary (resends go to every replica).
    Request {
        client: ClientId,
        request: RequestId,
        op: &'a [u8],
    },
    /// Primary to client, after the request committed and executed.
    Reply {
        view: u64,
        client: ClientId,
        request: RequestId,
        result: &'a [u8],
    },
    /// Primary to backups: the batch at op numbers `first..first + entries.len()`, and the
    /// commit number.
    Prepare {
        view: u64,
        first: u64,
        commit: u64,
        entries: Entries<'a>,
    },
    /// Backup to primary: its log holds every op number up to `op` (cumulative).
    PrepareOk {
        view: u64,
        op: u64,
    },
    /// Primary to backups when idle, and as the heartbeat.
    Commit {
        view: u64,
        commit: u64,
    },
    StartViewChange {
        view: u64,
    },
    Chunk(ChunkIn<'a>),
    /// Asks for state: `view`, `op` and `commit` are the asker's, `nonce` names the answer.
    StateRequest {
        view: u64,
        op: u64,
        commit: u64,
        nonce: u64,
        mode: StateMode,
    },
    Recovery {
        nonce: u64,
    },
    /// A replica normal in `view` answers a recovering one.
    RecoveryResponse {
        view: u64,
        nonce: u64,
    },
    /// The pre-vote (see `protocol::prevote`): a follower whose leader timed out asks
    /// whether the others lost the leader of `view` (its own view) too, `attempt` numbering
    /// the ask; the answers carry the responder's own view.
    PreVote {
        view: u64,
        attempt: u64,
        ballot: Ballot,
    },
}

impl<'a> Message<'a> {
    pub fn decode(datagram: &'a [u8]) -> Result<Message<'a>, CodecError> {
        framing::decode(datagram)
    }

    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        framing::encode(self, w)
    }
}

impl<'a> MessageSet<'a> for Message<'a> {
    fn decode_body(
        msg_type: u8,
        body: &'a [u8],
        r: &mut Reader<'a>,
    ) -> Result<Message<'a>, CodecError> {
        Ok(match msg_type {
            code::REQUEST => Message::Request {
                client: r.field()?,
                request: r.field()?,
                op: r.field()?,
            },
            code::REPLY => Message::Reply {
                view: r.field()?,
                client: r.field()?,
                request: r.field()?,
                result: r.field()?,
            },
            code::PREPARE => {
                let view = r.field()?;
                let first: u64 = r.field()?;
                let commit = r.field()?;
                let entries = Entries::decode(body, r)?;
                if first == 0 || first.checked_add(entries.len() as u64).is_none() {
                    return Err(invalid("first op number", first));
                }
                Message::Prepare {
                    view,
                    first,
                    commit,
                    entries,
                }
            }
            code::PREPARE_OK => Message::PrepareOk {
                view: r.field()?,
                op: r.field()?,
            },
            code::COMMIT => Message::Commit {
                view: r.field()?,
                commit: r.field()?,
            },
            code::START_VIEW_CHANGE => Message::StartViewChange { view: r.field()? },
            code::CHUNK => Message::Chunk(r.field()?),
            code::STATE_REQUEST => Message::StateRequest {
                view: r.field()?,
                op: r.field()?,
                commit: r.field()?,
                nonce: r.field()?,
                mode: r.field()?,
            },
            code::RECOVERY => Message::Recovery { nonce: r.field()? },
            code::RECOVERY_RESPONSE => Message::RecoveryResponse {
                view: r.field()?,
                nonce: r.field()?,
            },
            code::PRE_VOTE => Message::PreVote {
                view: r.field()?,
                attempt: r.field()?,
                ballot: r.field()?,
            },
            t => return Err(invalid("message type", u64::from(t))),
        })
    }

    fn msg_type(&self) -> u8 {
        match self {
            Message::Request { .. } => code::REQUEST,
            Message::Reply { .. } => code::REPLY,
            Message::Prepare { .. } => code::PREPARE,
            Message::PrepareOk { .. } => code::PREPARE_OK,
            Message::Commit { .. } => code::COMMIT,
            Message::StartViewChange { .. } => code::START_VIEW_CHANGE,
            Message::Chunk(_) => code::CHUNK,
            Message::StateRequest { .. } => code::STATE_REQUEST,
            Message::Recovery { .. } => code::RECOVERY,
            Message::RecoveryResponse { .. } => code::RECOVERY_RESPONSE,
            Message::PreVote { .. } => code::PRE_VOTE,
        }
    }

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        match self {
            Message::Request {
                client,
                request,
                op,
            } => {
                w.field(client)?;
                w.field(request)?;
                w.field(op)
            }
            Message::Reply {
                view,
                client,
                request,
                result,
            } => {
                w.field(view)?;
                w.field(client)?;
                w.field(request)?;
                w.field(result)
            }
            Message::Prepare {
                view,
                first,
                commit,
                entries,
            } => {
                w.field(view)?;
                w.field(first)?;
                w.field(commit)?;
                w.u32(entries.count)?;
                w.put(entries.bytes)
            }
            Message::PrepareOk { view, op: second }
            | Message::Commit {
                view,
                commit: second,
            }
            | Message::RecoveryResponse {
                view,
                nonce: second,
            } => {
                w.field(view)?;
                w.field(second)
            }
            Message::StartViewChange { view } => w.field(view),
            Message::Chunk(c) => w.field(c),
            Message::StateRequest {
                view,
                op,
                commit,
                nonce,
                mode,
            } => {
                w.field(view)?;
                w.field(op)?;
                w.field(commit)?;
                w.field(nonce)?;
                w.field(mode)
            }
            Message::Recovery { nonce } => w.field(nonce),
            Message::PreVote {
                view,
                attempt,
                ballot,
            } => {
                w.field(view)?;
                w.field(attempt)?;
                w.field(ballot)
            }
        }
    }
}

/// Encodes a PREPARE straight from log entries (no intermediate copy of the batch).
pub fn encode_prepare<'e>(
    w: &mut Writer<'_>,
    view: u64,
    first: u64,
    commit: u64,
    entries: impl Iterator<Item = &'e Entry>,
) -> Result<(), CodecError> {
    framing::enveloped(w, code::PREPARE, |w| {
        w.u64(view)?;
        w.u64(first)?;
        w.u64(commit)?;
        let count_at = w.reserve_u32()?;
        let mut count = 0u32;
        for e in entries {
            encode_entry(w, e.client, e.request, e.reply_to, &e.op)?;
            count += 1;
        }
        w.patch_u32(count_at, count);
        Ok(())
    })
}

/// Encodes a REPLY (used by the replica with a result it owns).
pub fn encode_reply(
    w: &mut Writer<'_>,
    view: u64,
    client: ClientId,
    request: RequestId,
    result: &[u8],
) -> Result<(), CodecError> {
    Message::Reply {
        view,
        client,
        request,
        result,
    }
    .encode(w)
}
