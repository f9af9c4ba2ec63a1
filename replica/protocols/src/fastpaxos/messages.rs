//! Fast Paxos messages: our envelope (docs/wire-format.md) and a body of big-endian fields.
//! Decoding borrows byte fields (operations, results, chunk data) from the datagram.

use std::net::SocketAddrV4;

// The tests reach it through `super::*`.
#[cfg(test)]
use dataplane::wire::ENVELOPE_HEADER_LEN;

use super::types::{Entry, Round};
use crate::codec::{CodecError, Field, Reader, Writer, invalid};
use crate::kit::framing::{self, MessageSet};
pub use crate::kit::prevote::Ballot;
use crate::msg_type::FASTPAXOS_BASE;
use crate::{ClientId, RequestId};

/// A slot value inside a message, borrowing the operation from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryRef<'a> {
    NoOp,
    Request {
        client: ClientId,
        request: RequestId,
        reply_to: SocketAddrV4,
        op: &'a [u8],
    },
}

impl<'a> EntryRef<'a> {
    /// A borrowed view of a logged entry, to encode it without copying.
    pub fn of(entry: &'a Entry) -> EntryRef<'a> {
        match entry {
            Entry::NoOp => EntryRef::NoOp,
            Entry::Request(r) => EntryRef::Request {
                client: r.client,
                request: r.request,
                reply_to: r.reply_to,
                op: &r.op,
            },
        }
    }

    /// An owned copy, for the log.
    pub fn to_entry(&self) -> Entry {
        match *self {
            EntryRef::NoOp => Entry::NoOp,
            EntryRef::Request {
                client,
                request,
                reply_to,
                op,
            } => Entry::request(client, request, reply_to, op),
        }
    }

    /// Whether `entry` is this value (without copying it).
    pub fn matches(&self, entry: &Entry) -> bool {
        match (self, entry) {
            (EntryRef::NoOp, Entry::NoOp) => true,
            (
                EntryRef::Request {
                    client,
                    request,
                    reply_to,
                    op,
                },
                Entry::Request(r),
            ) => {
                *client == r.client
                    && *request == r.request
                    && *reply_to == r.reply_to
                    && *op == r.op
            }
            _ => false,
        }
    }
}

/// A kind byte (0 NO-OP, 1 request), then a request's client, request id, reply address
/// and operation.
impl<'a> Field<'a> for EntryRef<'a> {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        match self {
            EntryRef::NoOp => w.u8(0),
            EntryRef::Request {
                client,
                request,
                reply_to,
                op,
            } => {
                w.u8(1)?;
                w.field(client)?;
                w.field(request)?;
                w.field(reply_to)?;
                w.field(op)
            }
        }
    }

    fn read(r: &mut Reader<'a>) -> Result<EntryRef<'a>, CodecError> {
        match r.u8()? {
            0 => Ok(EntryRef::NoOp),
            1 => Ok(EntryRef::Request {
                client: r.field()?,
                request: r.field()?,
                reply_to: r.field()?,
                op: r.field()?,
            }),
            t => Err(invalid("entry kind", u64::from(t))),
        }
    }
}

/// An acceptor's answer to SLOT-PREPARE about one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteRef<'a> {
    /// It has not voted there (and now never will in the fast round).
    None,
    /// Its vote: the highest round it voted in, and the value.
    Vote(Round, EntryRef<'a>),
    /// It knows the slot chosen.
    Chosen(EntryRef<'a>),
    /// The slot is chosen, executed and truncated here: the asker is behind.
    Truncated,
}

/// A kind byte (0 none, 1 vote, 2 chosen, 3 truncated), then the round and the value.
impl<'a> Field<'a> for VoteRef<'a> {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        match self {
            VoteRef::None => w.u8(0),
            VoteRef::Vote(round, entry) => {
                w.u8(1)?;
                w.field(round)?;
                w.field(entry)
            }
            VoteRef::Chosen(entry) => {
                w.u8(2)?;
                w.field(entry)
            }
            VoteRef::Truncated => w.u8(3),
        }
    }

    fn read(r: &mut Reader<'a>) -> Result<VoteRef<'a>, CodecError> {
        Ok(match r.u8()? {
            0 => VoteRef::None,
            1 => VoteRef::Vote(r.field()?, r.field()?),
            2 => VoteRef::Chosen(r.field()?),
            3 => VoteRef::Truncated,
            t => return Err(invalid("vote kind", u64::from(t))),
        })
    }
}

impl Field<'_> for Round {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        self.encode(w)
    }

    fn read(r: &mut Reader<'_>) -> Result<Round, CodecError> {
        Round::decode(r)
    }
}

use super::blob::ChunkIn;
pub use crate::kit::blob::ChunkKind;

/// A Fast Paxos message (docs/protocols.md has the table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// A client's request, sent to every replica; the leader re-proposes lost requests the
    /// same way.
    Request {
        client: ClientId,
        request: RequestId,
        reply_to: SocketAddrV4,
        op: &'a [u8],
    },
    /// The leader executed the request at a chosen slot.
    Reply {
        view: u64,
        slot: u64,
        client: ClientId,
        request: RequestId,
        replica: u16,
        result: &'a [u8],
    },
    /// Phase 2b of the fast round: the acceptor voted `entry` in `slot`.
    FastAccepted {
        view: u64,
        slot: u64,
        entry: EntryRef<'a>,
    },
    /// Phase 1a of the view's classic round for one slot.
    SlotPrepare {
        view: u64,
        slot: u64,
    },
    /// Phase 1b for one slot.
    SlotPromise {
        view: u64,
        slot: u64,
        vote: VoteRef<'a>,
    },
    /// Phase 2a of the classic round.
    Accept {
        view: u64,
        slot: u64,
        entry: EntryRef<'a>,
    },
    /// Phase 2b of the classic round.
    AcceptOk {
        view: u64,
        slot: u64,
    },
    /// The slot is chosen with `entry`.
    Chosen {
        view: u64,
        slot: u64,
        entry: EntryRef<'a>,
    },
    /// Leader heartbeat: its commit point, first kept slot, and the next free slot it knows.
    Sync {
        view: u64,
        commit: u64,
        log_start: u64,
        frontier: u64,
    },
    /// A follower's commit point; also acknowledges the view's START-VIEW.
    SyncReply {
        view: u64,
        commit: u64,
    },
    ViewChangeRequest {
        view: u64,
    },
    Chunk {
        kind: ChunkKind,
        view: u64,
        id: u64,
        index: u32,
        count: u32,
        total: u32,
        data: &'a [u8],
    },
    /// Asks for the chosen state up to at least `min_commit`.
    StateRequest {
        view: u64,
        nonce: u64,
        min_commit: u64,
    },
    /// A replica that lost its memory: `epoch` 0 asks which epochs the others know of it;
    /// then it announces the epoch it recovers under (one above all of those).
    Recovery {
        nonce: u64,
        epoch: u64,
    },
    /// The responder's view, and the highest recovery epoch it knows of the asker.
    RecoveryResponse {
        view: u64,
        nonce: u64,
        epoch: u64,
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

mod code {
    use super::FASTPAXOS_BASE as B;
    pub(super) const REQUEST: u8 = B;
    pub(super) const REPLY: u8 = B + 1;
    pub(super) const FAST_ACCEPTED: u8 = B + 2;
    pub(super) const SLOT_PREPARE: u8 = B + 3;
    pub(super) const SLOT_PROMISE: u8 = B + 4;
    pub(super) const ACCEPT: u8 = B + 5;
    pub(super) const ACCEPT_OK: u8 = B + 6;
    pub(super) const CHOSEN: u8 = B + 7;
    pub(super) const SYNC: u8 = B + 8;
    pub(super) const SYNC_REPLY: u8 = B + 9;
    pub(super) const VIEW_CHANGE_REQUEST: u8 = B + 10;
    pub(super) const CHUNK: u8 = B + 11;
    pub(super) const STATE_REQUEST: u8 = B + 12;
    pub(super) const RECOVERY: u8 = B + 13;
    pub(super) const RECOVERY_RESPONSE: u8 = B + 14;
    pub(super) const PRE_VOTE: u8 = B + 15;
}

/// Largest operation a replica accepts: a vote carrying it must fit a datagram.
pub const MAX_OP: usize = 7 * 1024;

impl<'a> Message<'a> {
    /// Decodes an enveloped message; any bytes give a message or an error.
    pub fn decode(datagram: &'a [u8]) -> Result<Message<'a>, CodecError> {
        framing::decode(datagram)
    }

    /// Encodes the message with its envelope into `w`.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        framing::encode(self, w)
    }
}

framing::chunk_variant!(Message, u64);

impl<'a> MessageSet<'a> for Message<'a> {
    fn decode_body(msg_type: u8, _: &'a [u8], r: &mut Reader<'a>) -> Result<Self, CodecError> {
        Ok(match msg_type {
            code::REQUEST => Message::Request {
                client: r.field()?,
                request: r.field()?,
                reply_to: r.field()?,
                op: r.field()?,
            },
            code::REPLY => Message::Reply {
                view: r.field()?,
                slot: r.field()?,
                client: r.field()?,
                request: r.field()?,
                replica: r.field()?,
                result: r.field()?,
            },
            code::FAST_ACCEPTED => Message::FastAccepted {
                view: r.field()?,
                slot: r.field()?,
                entry: r.field()?,
            },
            code::SLOT_PREPARE => Message::SlotPrepare {
                view: r.field()?,
                slot: r.field()?,
            },
            code::SLOT_PROMISE => Message::SlotPromise {
                view: r.field()?,
                slot: r.field()?,
                vote: r.field()?,
            },
            code::ACCEPT => Message::Accept {
                view: r.field()?,
                slot: r.field()?,
                entry: r.field()?,
            },
            code::ACCEPT_OK => Message::AcceptOk {
                view: r.field()?,
                slot: r.field()?,
            },
            code::CHOSEN => Message::Chosen {
                view: r.field()?,
                slot: r.field()?,
                entry: r.field()?,
            },
            code::SYNC => Message::Sync {
                view: r.field()?,
                commit: r.field()?,
                log_start: r.field()?,
                frontier: r.field()?,
            },
            code::SYNC_REPLY => Message::SyncReply {
                view: r.field()?,
                commit: r.field()?,
            },
            code::VIEW_CHANGE_REQUEST => Message::ViewChangeRequest { view: r.field()? },
            code::CHUNK => ChunkIn::read(r)?.into(),
            code::STATE_REQUEST => Message::StateRequest {
                view: r.field()?,
                nonce: r.field()?,
                min_commit: r.field()?,
            },
            code::RECOVERY => Message::Recovery {
                nonce: r.field()?,
                epoch: r.field()?,
            },
            code::RECOVERY_RESPONSE => Message::RecoveryResponse {
                view: r.field()?,
                nonce: r.field()?,
                epoch: r.field()?,
            },
            code::PRE_VOTE => Message::PreVote {
                view: r.field()?,
                attempt: r.field()?,
                ballot: r.field()?,
            },
            t => return Err(invalid("Fast Paxos message type", u64::from(t))),
        })
    }

    fn msg_type(&self) -> u8 {
        match self {
            Message::Request { .. } => code::REQUEST,
            Message::Reply { .. } => code::REPLY,
            Message::FastAccepted { .. } => code::FAST_ACCEPTED,
            Message::SlotPrepare { .. } => code::SLOT_PREPARE,
            Message::SlotPromise { .. } => code::SLOT_PROMISE,
            Message::Accept { .. } => code::ACCEPT,
            Message::AcceptOk { .. } => code::ACCEPT_OK,
            Message::Chosen { .. } => code::CHOSEN,
            Message::Sync { .. } => code::SYNC,
            Message::SyncReply { .. } => code::SYNC_REPLY,
            Message::ViewChangeRequest { .. } => code::VIEW_CHANGE_REQUEST,
            Message::Chunk { .. } => code::CHUNK,
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
                reply_to,
                op,
            } => {
                w.field(client)?;
                w.field(request)?;
                w.field(reply_to)?;
                w.field(op)
            }
            Message::Reply {
                view,
                slot,
                client,
                request,
                replica,
                result,
            } => {
                w.field(view)?;
                w.field(slot)?;
                w.field(client)?;
                w.field(request)?;
                w.field(replica)?;
                w.field(result)
            }
            Message::FastAccepted { view, slot, entry }
            | Message::Accept { view, slot, entry }
            | Message::Chosen { view, slot, entry } => {
                w.field(view)?;
                w.field(slot)?;
                w.field(entry)
            }
            Message::SlotPrepare { view, slot } | Message::AcceptOk { view, slot } => {
                w.field(view)?;
                w.field(slot)
            }
            Message::SlotPromise { view, slot, vote } => {
                w.field(view)?;
                w.field(slot)?;
                w.field(vote)
            }
            Message::Sync {
                view,
                commit,
                log_start,
                frontier,
            } => {
                w.field(view)?;
                w.field(commit)?;
                w.field(log_start)?;
                w.field(frontier)
            }
            Message::SyncReply { view, commit } => {
                w.field(view)?;
                w.field(commit)
            }
            Message::ViewChangeRequest { view } => w.field(view),
            // `as_chunk` is `Some` for every CHUNK.
            Message::Chunk { .. } => self.as_chunk().map_or(Ok(()), |c| w.field(&c)),
            Message::StateRequest {
                view,
                nonce,
                min_commit,
            } => {
                w.field(view)?;
                w.field(nonce)?;
                w.field(min_commit)
            }
            Message::Recovery { nonce, epoch } => {
                w.field(nonce)?;
                w.field(epoch)
            }
            Message::RecoveryResponse { view, nonce, epoch } => {
                w.field(view)?;
                w.field(nonce)?;
                w.field(epoch)
            }
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::MAX_DATAGRAM;

    fn addr() -> SocketAddrV4 {
        "10.0.0.7:4000".parse().unwrap()
    }

    /// One message of every type.
    pub(crate) fn samples() -> Vec<Message<'static>> {
        let req = EntryRef::Request {
            client: 3,
            request: 9,
            reply_to: addr(),
            op: b"put k v",
        };
        vec![
            Message::Request {
                client: 3,
                request: 9,
                reply_to: addr(),
                op: b"put k v",
            },
            Message::Reply {
                view: 2,
                slot: 17,
                client: 3,
                request: 9,
                replica: 1,
                result: b"ok",
            },
            Message::FastAccepted {
                view: 2,
                slot: 17,
                entry: req,
            },
            Message::SlotPrepare { view: 2, slot: 5 },
            Message::SlotPromise {
                view: 2,
                slot: 5,
                vote: VoteRef::None,
            },
            Message::SlotPromise {
                view: 2,
                slot: 5,
                vote: VoteRef::Vote(Round::classic(1), req),
            },
            Message::SlotPromise {
                view: 2,
                slot: 5,
                vote: VoteRef::Chosen(EntryRef::NoOp),
            },
            Message::SlotPromise {
                view: 2,
                slot: 5,
                vote: VoteRef::Truncated,
            },
            Message::Accept {
                view: 2,
                slot: 5,
                entry: EntryRef::NoOp,
            },
            Message::AcceptOk { view: 2, slot: 5 },
            Message::Chosen {
                view: 2,
                slot: 5,
                entry: req,
            },
            Message::Sync {
                view: 2,
                commit: 10,
                log_start: 4,
                frontier: 12,
            },
            Message::SyncReply { view: 2, commit: 9 },
            Message::ViewChangeRequest { view: 3 },
            Message::Chunk {
                kind: ChunkKind::StartView,
                view: 3,
                id: 77,
                index: 1,
                count: 2,
                total: 7003,
                data: b"xyz",
            },
            Message::StateRequest {
                view: 3,
                nonce: 99,
                min_commit: 40,
            },
            Message::Recovery { nonce: 5, epoch: 2 },
            Message::RecoveryResponse {
                view: 3,
                nonce: 5,
                epoch: 1,
            },
            Message::PreVote {
                view: 3,
                attempt: 6,
                ballot: Ballot::Ask,
            },
            Message::PreVote {
                view: 3,
                attempt: 6,
                ballot: Ballot::Grant,
            },
        ]
    }

    fn encode(m: &Message<'_>) -> Vec<u8> {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut w = Writer::new(&mut buf);
        m.encode(&mut w).unwrap();
        let n = w.len();
        buf.truncate(n);
        buf
    }

    #[test]
    fn every_message_round_trips_and_uses_its_type_range() {
        let mut types = Vec::new();
        for m in samples() {
            let bytes = encode(&m);
            assert_eq!(Message::decode(&bytes).unwrap(), m);
            let t = bytes[5];
            assert!(
                (FASTPAXOS_BASE..=FASTPAXOS_BASE + 0x0f).contains(&t),
                "{m:?}"
            );
            if !types.contains(&t) {
                types.push(t);
            }
        }
        assert_eq!(types.len(), 16, "every number of the range is used");
    }

    #[test]
    fn a_fixed_byte_array_decodes() {
        // ACCEPT-OK, view 2, slot 5, after the envelope.
        let mut bytes = encode(&Message::AcceptOk { view: 2, slot: 5 });
        let body = &bytes[ENVELOPE_HEADER_LEN..];
        assert_eq!(body, [0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 5]);
        // The range is full (PRE-VOTE took 0x5f): the next number is no Fast Paxos type.
        bytes[5] = FASTPAXOS_BASE + 0x10;
        assert!(Message::decode(&bytes).is_err(), "type 0x60");
    }

    #[test]
    fn truncation_at_every_length_and_trailing_bytes_are_errors() {
        for m in samples() {
            let bytes = encode(&m);
            for len in 0..bytes.len() {
                assert!(Message::decode(&bytes[..len]).is_err(), "{m:?} at {len}");
            }
            // A body with a byte too many (envelope length patched to cover it).
            let mut longer = bytes.clone();
            longer.push(0);
            let body_len = (longer.len() - ENVELOPE_HEADER_LEN) as u32;
            longer[8..12].copy_from_slice(&body_len.to_be_bytes());
            assert!(
                Message::decode(&longer).is_err(),
                "{m:?} with trailing byte"
            );
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let samples: Vec<Vec<u8>> = samples().iter().map(encode).collect();
        for i in 0..20_000 {
            // Half pure noise, half a valid message with a few bytes flipped.
            let mut bytes = if i % 2 == 0 {
                let len = (next() % 200) as usize;
                (0..len).map(|_| next() as u8).collect::<Vec<u8>>()
            } else {
                samples[(next() as usize) % samples.len()].clone()
            };
            if !bytes.is_empty() {
                for _ in 0..3 {
                    let at = (next() as usize) % bytes.len();
                    bytes[at] = next() as u8;
                }
            }
            let _ = Message::decode(&bytes);
        }
    }
}
