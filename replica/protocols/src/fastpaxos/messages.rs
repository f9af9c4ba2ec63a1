//! Fast Paxos messages: our envelope (docs/wire-format.md) and a body of big-endian fields.
//! Decoding borrows byte fields (operations, results, chunk data) from the datagram.

use std::net::SocketAddrV4;

use dataplane::wire::{ENVELOPE_HEADER_LEN, MessageType};

use super::types::{Entry, Round};
use crate::codec::{CodecError, Reader, Writer, decode_enveloped, invalid, write_envelope};
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

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        match *self {
            EntryRef::NoOp => w.u8(0),
            EntryRef::Request {
                client,
                request,
                reply_to,
                op,
            } => {
                w.u8(1)?;
                w.u64(client)?;
                w.u64(request)?;
                w.addr(reply_to)?;
                w.bytes(op)
            }
        }
    }

    fn decode(r: &mut Reader<'a>) -> Result<EntryRef<'a>, CodecError> {
        match r.u8()? {
            0 => Ok(EntryRef::NoOp),
            1 => Ok(EntryRef::Request {
                client: r.u64()?,
                request: r.u64()?,
                reply_to: r.addr()?,
                op: r.bytes()?,
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
        decode_enveloped(datagram, |msg_type, _, r| Message::decode_body(msg_type, r))
    }

    fn decode_body(msg_type: u8, r: &mut Reader<'a>) -> Result<Message<'a>, CodecError> {
        Ok(match msg_type {
            code::REQUEST => Message::Request {
                client: r.u64()?,
                request: r.u64()?,
                reply_to: r.addr()?,
                op: r.bytes()?,
            },
            code::REPLY => Message::Reply {
                view: r.u64()?,
                slot: r.u64()?,
                client: r.u64()?,
                request: r.u64()?,
                replica: r.u16()?,
                result: r.bytes()?,
            },
            code::FAST_ACCEPTED => Message::FastAccepted {
                view: r.u64()?,
                slot: r.u64()?,
                entry: EntryRef::decode(r)?,
            },
            code::SLOT_PREPARE => Message::SlotPrepare {
                view: r.u64()?,
                slot: r.u64()?,
            },
            code::SLOT_PROMISE => {
                let view = r.u64()?;
                let slot = r.u64()?;
                let vote = match r.u8()? {
                    0 => VoteRef::None,
                    1 => VoteRef::Vote(Round::decode(r)?, EntryRef::decode(r)?),
                    2 => VoteRef::Chosen(EntryRef::decode(r)?),
                    3 => VoteRef::Truncated,
                    t => return Err(invalid("vote kind", u64::from(t))),
                };
                Message::SlotPromise { view, slot, vote }
            }
            code::ACCEPT => Message::Accept {
                view: r.u64()?,
                slot: r.u64()?,
                entry: EntryRef::decode(r)?,
            },
            code::ACCEPT_OK => Message::AcceptOk {
                view: r.u64()?,
                slot: r.u64()?,
            },
            code::CHOSEN => Message::Chosen {
                view: r.u64()?,
                slot: r.u64()?,
                entry: EntryRef::decode(r)?,
            },
            code::SYNC => Message::Sync {
                view: r.u64()?,
                commit: r.u64()?,
                log_start: r.u64()?,
                frontier: r.u64()?,
            },
            code::SYNC_REPLY => Message::SyncReply {
                view: r.u64()?,
                commit: r.u64()?,
            },
            code::VIEW_CHANGE_REQUEST => Message::ViewChangeRequest { view: r.u64()? },
            code::CHUNK => Message::Chunk {
                kind: ChunkKind::from_code(r.u8()?)?,
                view: r.u64()?,
                id: r.u64()?,
                index: r.u32()?,
                count: r.u32()?,
                total: r.u32()?,
                data: r.bytes()?,
            },
            code::STATE_REQUEST => Message::StateRequest {
                view: r.u64()?,
                nonce: r.u64()?,
                min_commit: r.u64()?,
            },
            code::RECOVERY => Message::Recovery {
                nonce: r.u64()?,
                epoch: r.u64()?,
            },
            code::RECOVERY_RESPONSE => Message::RecoveryResponse {
                view: r.u64()?,
                nonce: r.u64()?,
                epoch: r.u64()?,
            },
            code::PRE_VOTE => Message::PreVote {
                view: r.u64()?,
                attempt: r.u64()?,
                ballot: Ballot::from_code(r.u8()?)?,
            },
            t => return Err(invalid("Fast Paxos message type", u64::from(t))),
        })
    }

    fn code(&self) -> u8 {
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

    /// Encodes the message with its envelope into `w`.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        let at = w.len();
        w.put(&[0; ENVELOPE_HEADER_LEN])?;
        self.encode_body(w)?;
        let body_len = w.len() - at - ENVELOPE_HEADER_LEN;
        write_envelope(w, at, MessageType(self.code()), body_len)
    }

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        match *self {
            Message::Request {
                client,
                request,
                reply_to,
                op,
            } => {
                w.u64(client)?;
                w.u64(request)?;
                w.addr(reply_to)?;
                w.bytes(op)
            }
            Message::Reply {
                view,
                slot,
                client,
                request,
                replica,
                result,
            } => {
                w.u64(view)?;
                w.u64(slot)?;
                w.u64(client)?;
                w.u64(request)?;
                w.u16(replica)?;
                w.bytes(result)
            }
            Message::FastAccepted { view, slot, entry }
            | Message::Accept { view, slot, entry }
            | Message::Chosen { view, slot, entry } => {
                w.u64(view)?;
                w.u64(slot)?;
                entry.encode(w)
            }
            Message::SlotPrepare { view, slot } | Message::AcceptOk { view, slot } => {
                w.u64(view)?;
                w.u64(slot)
            }
            Message::SlotPromise { view, slot, vote } => {
                w.u64(view)?;
                w.u64(slot)?;
                match vote {
                    VoteRef::None => w.u8(0),
                    VoteRef::Vote(round, entry) => {
                        w.u8(1)?;
                        round.encode(w)?;
                        entry.encode(w)
                    }
                    VoteRef::Chosen(entry) => {
                        w.u8(2)?;
                        entry.encode(w)
                    }
                    VoteRef::Truncated => w.u8(3),
                }
            }
            Message::Sync {
                view,
                commit,
                log_start,
                frontier,
            } => {
                w.u64(view)?;
                w.u64(commit)?;
                w.u64(log_start)?;
                w.u64(frontier)
            }
            Message::SyncReply { view, commit } => {
                w.u64(view)?;
                w.u64(commit)
            }
            Message::ViewChangeRequest { view } => w.u64(view),
            Message::Chunk {
                kind,
                view,
                id,
                index,
                count,
                total,
                data,
            } => {
                w.u8(kind.code())?;
                w.u64(view)?;
                w.u64(id)?;
                w.u32(index)?;
                w.u32(count)?;
                w.u32(total)?;
                w.bytes(data)
            }
            Message::StateRequest {
                view,
                nonce,
                min_commit,
            } => {
                w.u64(view)?;
                w.u64(nonce)?;
                w.u64(min_commit)
            }
            Message::Recovery { nonce, epoch } => {
                w.u64(nonce)?;
                w.u64(epoch)
            }
            Message::RecoveryResponse { view, nonce, epoch } => {
                w.u64(view)?;
                w.u64(nonce)?;
                w.u64(epoch)
            }
            Message::PreVote {
                view,
                attempt,
                ballot,
            } => {
                w.u64(view)?;
                w.u64(attempt)?;
                w.u8(ballot.code())
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
