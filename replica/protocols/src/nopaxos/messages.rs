//! NOPaxos messages: an envelope (docs/wire-format.md) and a body of big-endian fields.
//! Client requests travel through the sequencer, so they carry an OUM header first.

use std::net::SocketAddrV4;

// The tests reach it through `super::*`.
#[cfg(test)]
use dataplane::wire::OumRepr;
use dataplane::wire::{ENVELOPE_HEADER_LEN, EnvelopeRepr, MessageType};

use super::blob::ChunkIn;
use super::types::{Request, ViewId};
use crate::codec::{CodecError, Field, Reader, Writer, invalid};
use crate::kit::framing::{self, MessageSet, after_oum_header, decode_enveloped};
pub use crate::kit::prevote::Ballot;
use crate::msg_type::NOPAXOS_BASE;
use crate::{ClientId, RequestId};

pub use crate::kit::blob::ChunkKind;

/// What a leader answers a GAP-REQUEST with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GapAnswer {
    /// The decided entries from the slot asked for on, consecutive, as many as fit in one
    /// datagram (never empty): a follower far behind catches up a datagram at a time, not a
    /// slot per round trip.
    Entries(Vec<GapRun>),
    /// The slot is behind the leader's log: only a state transfer can help.
    Truncated,
}

/// Consecutive log slots in a GAP-REPLY: a run of NO-OPs costs five bytes however long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GapRun {
    /// This many NO-OPs (at least one).
    NoOps(u32),
    Request(Request),
}

impl GapRun {
    /// Slots the run covers.
    pub fn slots(&self) -> u64 {
        match self {
            GapRun::NoOps(n) => u64::from(*n),
            GapRun::Request(_) => 1,
        }
    }

    /// Bytes it takes encoded.
    pub fn encoded_len(&self) -> usize {
        match self {
            GapRun::NoOps(_) => 5,
            GapRun::Request(r) => 1 + request_len(r),
        }
    }
}

/// A kind byte, then the length of a NO-OP run (0) or a request (1).
impl Field<'_> for GapRun {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        match self {
            GapRun::NoOps(n) => {
                w.u8(0)?;
                w.u32(*n)
            }
            GapRun::Request(r) => {
                w.u8(1)?;
                w.field(r)
            }
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<GapRun, CodecError> {
        match r.u8()? {
            0 => match r.u32()? {
                0 => Err(invalid("empty NO-OP run", 0)),
                n => Ok(GapRun::NoOps(n)),
            },
            1 => Ok(GapRun::Request(r.field()?)),
            t => Err(invalid("gap run", u64::from(t))),
        }
    }
}

/// Whether runs follow (a boolean), then, if they do, their count and the runs: at least
/// one, covering at most [`MAX_GAP_REPLY_SLOTS`] slots, so a forged count cannot make a
/// follower append more than that.
impl Field<'_> for GapAnswer {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        match self {
            GapAnswer::Entries(runs) => {
                w.bool(true)?;
                w.count(runs.len())?;
                runs.iter().try_for_each(|run| w.field(run))
            }
            GapAnswer::Truncated => w.bool(false),
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<GapAnswer, CodecError> {
        if !r.bool()? {
            return Ok(GapAnswer::Truncated);
        }
        let n = r.count(5)?;
        if n == 0 {
            return Err(invalid("gap runs", 0));
        }
        let mut runs = Vec::with_capacity(n);
        let mut slots = 0u64;
        for _ in 0..n {
            let run: GapRun = r.field()?;
            slots += run.slots();
            if slots > MAX_GAP_REPLY_SLOTS {
                return Err(invalid("slots in a GAP-REPLY", slots));
            }
            runs.push(run);
        }
        Ok(GapAnswer::Entries(runs))
    }
}

/// Bytes a request takes encoded (client, request id, reply address, operation).
pub fn request_len(r: &Request) -> usize {
    REQUEST_MIN_LEN + r.op.len()
}

/// Bytes of a request with an empty operation.
const REQUEST_MIN_LEN: usize = 8 + 8 + 6 + 4;

/// Client, request id, reply address and operation, as in a REQUEST.
impl Field<'_> for Request {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.field(&self.client)?;
        w.field(&self.request)?;
        w.field(&self.reply_to)?;
        w.field(&self.op.as_slice())
    }

    fn read(r: &mut Reader<'_>) -> Result<Request, CodecError> {
        Ok(Request {
            client: r.field()?,
            request: r.field()?,
            reply_to: r.field()?,
            op: r.bytes()?.to_vec(),
        })
    }
}

impl Field<'_> for ViewId {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        self.encode(w)
    }

    fn read(r: &mut Reader<'_>) -> Result<ViewId, CodecError> {
        ViewId::decode(r)
    }
}

/// Most slots one GAP-REPLY covers (a follower appends that many entries at most per
/// message): `max_gap`'s default, so a jump the receiver accepts is one message's worth.
pub const MAX_GAP_REPLY_SLOTS: u64 = 1 << 16;

/// Bytes of runs one GAP-REPLY (or of requests one GAP-FIND-REPLY) carries at most: a
/// datagram less its envelope and fixed fields, with room to spare.
pub const GAP_REPLY_RUN_BYTES: usize = crate::MAX_DATAGRAM - 128;

/// A NOPaxos message (the request's operation and chunk data borrow from the datagram).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    Request {
        client: ClientId,
        request: RequestId,
        reply_to: SocketAddrV4,
        op: &'a [u8],
    },
    Reply {
        view: ViewId,
        slot: u64,
        client: ClientId,
        request: RequestId,
        replica: u16,
        /// Only the leader executes, so only its reply carries a result.
        result: Option<&'a [u8]>,
    },
    GapRequest {
        view: ViewId,
        slot: u64,
    },
    GapReply {
        view: ViewId,
        slot: u64,
        answer: GapAnswer,
    },
    /// The leader asks peers for requests it missed in slots `first..=last` before
    /// committing NO-OPs there.
    GapFind {
        view: ViewId,
        first: u64,
        last: u64,
    },
    /// The answer to GAP-FIND `first..=last`: slots `first..=clear` hold no request here
    /// (they are NO-OPs here, or known lost), and `found` are the requests this replica holds
    /// in the slots from `clear + 1` on, consecutive, as many as fit in a datagram (none if
    /// it holds none in the run). A replica says nothing about slots it has not reached.
    GapFindReply {
        view: ViewId,
        first: u64,
        last: u64,
        clear: u64,
        found: Vec<Request>,
    },
    /// Slots `first..=last` hold NO-OPs.
    GapCommit {
        view: ViewId,
        first: u64,
        last: u64,
    },
    GapCommitReply {
        view: ViewId,
        first: u64,
        last: u64,
    },
    ViewChangeRequest {
        view: ViewId,
    },
    Chunk {
        kind: ChunkKind,
        view: ViewId,
        id: u64,
        index: u32,
        count: u32,
        total: u32,
        data: &'a [u8],
    },
    StartViewReply {
        view: ViewId,
    },
    /// Slots up to `slot` are final at the leader; `noops` lists its NO-OPs in
    /// `(prev, slot]` as ranges `(first, last)`, `prev` being the previous sync point (a run
    /// of NO-OPs that gap agreement committed at once costs one range).
    SyncPrepare {
        view: ViewId,
        prev: u64,
        slot: u64,
        noops: Vec<(u64, u64)>,
    },
    /// A follower that missed a SYNC-PREPARE asks for the NO-OPs after `from`.
    SyncFetch {
        view: ViewId,
        from: u64,
    },
    SyncReply {
        view: ViewId,
        slot: u64,
    },
    SyncCommit {
        view: ViewId,
        slot: u64,
    },
    StateRequest {
        view: ViewId,
        nonce: u64,
    },
    /// `epoch` 0 asks for the epochs the others know; above 0 it announces the sender's new
    /// recovery epoch.
    Recovery {
        nonce: u64,
        epoch: u64,
    },
    /// `epochs`: the highest recovery epoch the responder knows of each replica.
    RecoveryResponse {
        view: ViewId,
        nonce: u64,
        epochs: Vec<u64>,
    },
    /// The pre-vote (see `protocol::prevote`): a follower whose leader timed out asks
    /// whether the others lost the leader of `view` (its own view) too, `attempt` numbering
    /// the ask; the answers carry the responder's own view.
    PreVote {
        view: ViewId,
        attempt: u64,
        ballot: Ballot,
    },
}

/// The fixed part of a REPLY's body: view, slot, client, request, replica, whether a
/// result follows and, if so, its length.
pub(crate) const REPLY_HEAD_MAX: usize = 16 + 8 + 8 + 8 + 2 + 1 + 4;

/// A REPLY's body up to its result bytes, in one piece (see [`REPLY_HEAD_MAX`]).
fn reply_body_head(
    view: ViewId,
    slot: u64,
    client: ClientId,
    request: RequestId,
    replica: u16,
    result: Option<&[u8]>,
) -> ReplyHead {
    let mut bytes = [0u8; REPLY_HEAD_MAX];
    bytes[0..8].copy_from_slice(&view.leader_num.to_be_bytes());
    bytes[8..16].copy_from_slice(&view.session_num.to_be_bytes());
    bytes[16..24].copy_from_slice(&slot.to_be_bytes());
    bytes[24..32].copy_from_slice(&client.to_be_bytes());
    bytes[32..40].copy_from_slice(&request.to_be_bytes());
    bytes[40..42].copy_from_slice(&replica.to_be_bytes());
    let len = match result {
        Some(r) => {
            bytes[42] = 1;
            // A result over 4 GiB cannot be in a datagram; the writer refuses it anyway.
            bytes[43..47].copy_from_slice(&(r.len().min(u32::MAX as usize) as u32).to_be_bytes());
            REPLY_HEAD_MAX
        }
        None => REPLY_HEAD_MAX - 4,
    };
    ReplyHead { bytes, len }
}

/// [`reply_body_head`]'s bytes.
struct ReplyHead {
    bytes: [u8; REPLY_HEAD_MAX],
    len: usize,
}

impl std::ops::Deref for ReplyHead {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

mod code {
    use super::NOPAXOS_BASE as B;
    pub(super) const REQUEST: u8 = B;
    pub(super) const REPLY: u8 = B + 1;
    pub(super) const GAP_REQUEST: u8 = B + 2;
    pub(super) const GAP_REPLY: u8 = B + 3;
    pub(super) const GAP_FIND: u8 = B + 4;
    pub(super) const GAP_FIND_REPLY: u8 = B + 5;
    pub(super) const GAP_COMMIT: u8 = B + 6;
    pub(super) const GAP_COMMIT_REPLY: u8 = B + 7;
    pub(super) const VIEW_CHANGE_REQUEST: u8 = B + 8;
    pub(super) const CHUNK: u8 = B + 9;
    pub(super) const START_VIEW_REPLY: u8 = B + 10;
    pub(super) const SYNC_PREPARE: u8 = B + 11;
    pub(super) const SYNC_REPLY: u8 = B + 12;
    pub(super) const SYNC_COMMIT: u8 = B + 13;
    pub(super) const STATE_REQUEST: u8 = B + 14;
    pub(super) const RECOVERY: u8 = B + 15;
    pub(super) const RECOVERY_RESPONSE: u8 = B + 16;
    pub(super) const SYNC_FETCH: u8 = B + 17;
    pub(super) const PRE_VOTE: u8 = B + 18;
}

/// Most NO-OP ranges one SYNC-PREPARE lists (6400 bytes); the leader syncs to an earlier
/// slot if there are more.
pub const MAX_SYNC_NOOP_RANGES: usize = 400;

impl<'a> Message<'a> {
    /// Decodes an enveloped message (no OUM header).
    pub fn decode(datagram: &'a [u8]) -> Result<Message<'a>, CodecError> {
        framing::decode(datagram)
    }

    /// Decodes a request that came through the sequencer: OUM header, then the message.
    pub fn decode_sequenced(datagram: &'a [u8]) -> Result<Message<'a>, CodecError> {
        framing::decode_sequenced(datagram)
    }

    /// The fields of a REQUEST that came through the sequencer, without building a
    /// [`Message`]: the replicas' per-request path. Any other message is an error, as is
    /// anything [`Message::decode_sequenced`] refuses.
    pub fn decode_sequenced_request(
        datagram: &'a [u8],
    ) -> Result<(ClientId, RequestId, SocketAddrV4, &'a [u8]), CodecError> {
        decode_enveloped(after_oum_header(datagram)?, |msg_type, _, r| {
            if msg_type != code::REQUEST {
                return Err(invalid(
                    "message type of a sequenced request",
                    msg_type.into(),
                ));
            }
            Ok((r.u64()?, r.u64()?, r.addr()?, r.bytes()?))
        })
    }

    /// Writes envelope and body.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        framing::encode(self, w)
    }

    /// A REPLY, as [`Message::encode`] writes it, from its fields: the replicas'
    /// per-request path (no `Message` built, the fixed part written at once).
    pub fn encode_reply(
        w: &mut Writer<'_>,
        view: ViewId,
        slot: u64,
        client: ClientId,
        request: RequestId,
        replica: u16,
        result: Option<&[u8]>,
    ) -> Result<(), CodecError> {
        let head = reply_body_head(view, slot, client, request, replica, result);
        let result = result.unwrap_or_default();
        let body_len = head.len() + result.len();
        // One reservation, everything written in place: this runs once per request.
        let dst = w.take(ENVELOPE_HEADER_LEN + body_len)?;
        let (envelope, body) = dst.split_at_mut(ENVELOPE_HEADER_LEN);
        EnvelopeRepr {
            msg_type: MessageType(code::REPLY),
            body_len,
        }
        .emit(envelope)
        .map_err(|_| CodecError::TooLong {
            needed: body_len,
            room: u32::MAX as usize,
        })?;
        // Copies of a constant length (the head with or without its result length) compile
        // to a few moves; a slice of either length would be a call to memcpy.
        const NO_RESULT: usize = REPLY_HEAD_MAX - 4;
        let (fixed, rest) = body.split_at_mut(head.len());
        if let Ok(fixed) = <&mut [u8; REPLY_HEAD_MAX]>::try_from(&mut *fixed) {
            *fixed = head.bytes;
        } else if let Ok(fixed) = <&mut [u8; NO_RESULT]>::try_from(&mut *fixed) {
            fixed.copy_from_slice(&head.bytes[..NO_RESULT]);
        }
        if !result.is_empty() {
            rest.copy_from_slice(result);
        }
        Ok(())
    }

    /// Writes an unsequenced OUM header, then the message: a request for the sequencer.
    pub fn encode_sequenced(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        framing::encode_sequenced(self, w)
    }
}

framing::chunk_variant!(Message, ViewId);

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
            code::GAP_REQUEST => Message::GapRequest {
                view: r.field()?,
                slot: r.field()?,
            },
            code::GAP_REPLY => Message::GapReply {
                view: r.field()?,
                slot: r.field()?,
                answer: r.field()?,
            },
            code::GAP_FIND => Message::GapFind {
                view: r.field()?,
                first: r.field()?,
                last: r.field()?,
            },
            code::GAP_FIND_REPLY => {
                let view = r.field()?;
                let first = r.field()?;
                let last = r.field()?;
                let clear = r.field()?;
                let n = r.count(REQUEST_MIN_LEN)?;
                let mut found = Vec::with_capacity(n);
                for _ in 0..n {
                    found.push(r.field()?);
                }
                Message::GapFindReply {
                    view,
                    first,
                    last,
                    clear,
                    found,
                }
            }
            code::GAP_COMMIT => Message::GapCommit {
                view: r.field()?,
                first: r.field()?,
                last: r.field()?,
            },
            code::GAP_COMMIT_REPLY => Message::GapCommitReply {
                view: r.field()?,
                first: r.field()?,
                last: r.field()?,
            },
            code::VIEW_CHANGE_REQUEST => Message::ViewChangeRequest { view: r.field()? },
            code::CHUNK => ChunkIn::read(r)?.into(),
            code::START_VIEW_REPLY => Message::StartViewReply { view: r.field()? },
            code::PRE_VOTE => Message::PreVote {
                view: r.field()?,
                attempt: r.field()?,
                ballot: r.field()?,
            },
            code::SYNC_PREPARE => {
                let view = ViewId::decode(r)?;
                let prev = r.u64()?;
                let slot = r.u64()?;
                let n = r.count(16)?;
                if n > MAX_SYNC_NOOP_RANGES {
                    return Err(invalid("NO-OP range count", n as u64));
                }
                let mut noops = Vec::with_capacity(n);
                for _ in 0..n {
                    let (first, last) = (r.u64()?, r.u64()?);
                    if last < first {
                        return Err(invalid("NO-OP range", first));
                    }
                    noops.push((first, last));
                }
                Message::SyncPrepare {
                    view,
                    prev,
                    slot,
                    noops,
                }
            }
            code::SYNC_FETCH => Message::SyncFetch {
                view: r.field()?,
                from: r.field()?,
            },
            code::SYNC_REPLY => Message::SyncReply {
                view: r.field()?,
                slot: r.field()?,
            },
            code::SYNC_COMMIT => Message::SyncCommit {
                view: r.field()?,
                slot: r.field()?,
            },
            code::STATE_REQUEST => Message::StateRequest {
                view: r.field()?,
                nonce: r.field()?,
            },
            code::RECOVERY => Message::Recovery {
                nonce: r.field()?,
                epoch: r.field()?,
            },
            code::RECOVERY_RESPONSE => {
                let view = r.field()?;
                let nonce = r.field()?;
                let epochs = super::images::get_epochs(r)?;
                Message::RecoveryResponse {
                    view,
                    nonce,
                    epochs,
                }
            }
            t => return Err(invalid("NOPaxos message type", u64::from(t))),
        })
    }

    fn msg_type(&self) -> u8 {
        match self {
            Message::Request { .. } => code::REQUEST,
            Message::Reply { .. } => code::REPLY,
            Message::GapRequest { .. } => code::GAP_REQUEST,
            Message::GapReply { .. } => code::GAP_REPLY,
            Message::GapFind { .. } => code::GAP_FIND,
            Message::GapFindReply { .. } => code::GAP_FIND_REPLY,
            Message::GapCommit { .. } => code::GAP_COMMIT,
            Message::GapCommitReply { .. } => code::GAP_COMMIT_REPLY,
            Message::ViewChangeRequest { .. } => code::VIEW_CHANGE_REQUEST,
            Message::Chunk { .. } => code::CHUNK,
            Message::StartViewReply { .. } => code::START_VIEW_REPLY,
            Message::SyncPrepare { .. } => code::SYNC_PREPARE,
            Message::SyncFetch { .. } => code::SYNC_FETCH,
            Message::SyncReply { .. } => code::SYNC_REPLY,
            Message::SyncCommit { .. } => code::SYNC_COMMIT,
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
            } => w
                .put(&reply_body_head(
                    *view, *slot, *client, *request, *replica, *result,
                ))
                .and_then(|()| w.put(result.unwrap_or_default())),
            Message::GapFind { view, first, last }
            | Message::GapCommit { view, first, last }
            | Message::GapCommitReply { view, first, last } => {
                w.field(view)?;
                w.field(first)?;
                w.field(last)
            }
            Message::GapRequest { view, slot }
            | Message::SyncReply { view, slot }
            | Message::SyncCommit { view, slot }
            | Message::SyncFetch { view, from: slot } => {
                w.field(view)?;
                w.field(slot)
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
            Message::GapReply { view, slot, answer } => {
                w.field(view)?;
                w.field(slot)?;
                w.field(answer)
            }
            Message::GapFindReply {
                view,
                first,
                last,
                clear,
                found,
            } => {
                w.field(view)?;
                w.field(first)?;
                w.field(last)?;
                w.field(clear)?;
                w.count(found.len())?;
                found.iter().try_for_each(|q| w.field(q))
            }
            Message::ViewChangeRequest { view } | Message::StartViewReply { view } => w.field(view),
            // `as_chunk` is `Some` for every CHUNK.
            Message::Chunk { .. } => self.as_chunk().map_or(Ok(()), |c| w.field(&c)),
            Message::SyncPrepare {
                view,
                prev,
                slot,
                noops,
            } => {
                w.field(view)?;
                w.field(prev)?;
                w.field(slot)?;
                w.count(noops.len())?;
                for (first, last) in noops {
                    w.u64(*first)?;
                    w.u64(*last)?;
                }
                Ok(())
            }
            Message::StateRequest { view, nonce } => {
                w.field(view)?;
                w.field(nonce)
            }
            Message::RecoveryResponse {
                view,
                nonce,
                epochs,
            } => {
                w.field(view)?;
                w.field(nonce)?;
                super::images::put_epochs(w, epochs)
            }
            Message::Recovery { nonce, epoch } => {
                w.field(nonce)?;
                w.field(epoch)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MAX_DATAGRAM;

    fn samples() -> Vec<Message<'static>> {
        let v = ViewId {
            leader_num: 3,
            session_num: 2,
        };
        let req = Request {
            client: 7,
            request: 9,
            reply_to: "10.0.0.1:4000".parse().unwrap(),
            op: b"op".to_vec(),
        };
        vec![
            Message::Request {
                client: 1,
                request: 2,
                reply_to: "127.0.0.1:5".parse().unwrap(),
                op: b"hello",
            },
            Message::Reply {
                view: v,
                slot: 4,
                client: 1,
                request: 2,
                replica: 0,
                result: Some(b"r"),
            },
            Message::Reply {
                view: v,
                slot: 4,
                client: 1,
                request: 2,
                replica: 1,
                result: None,
            },
            Message::GapRequest { view: v, slot: 5 },
            Message::GapReply {
                view: v,
                slot: 5,
                answer: GapAnswer::Entries(vec![GapRun::Request(req.clone())]),
            },
            Message::GapReply {
                view: v,
                slot: 5,
                answer: GapAnswer::Entries(vec![
                    GapRun::NoOps(60_000),
                    GapRun::Request(req.clone()),
                    GapRun::NoOps(1),
                ]),
            },
            Message::GapReply {
                view: v,
                slot: 5,
                answer: GapAnswer::Truncated,
            },
            Message::GapFind {
                view: v,
                first: 6,
                last: 60_005,
            },
            Message::GapFindReply {
                view: v,
                first: 6,
                last: 60_005,
                clear: 9,
                found: vec![req.clone(), req],
            },
            Message::GapFindReply {
                view: v,
                first: 6,
                last: 60_005,
                clear: 60_005,
                found: vec![],
            },
            Message::GapCommit {
                view: v,
                first: 7,
                last: 9,
            },
            Message::GapCommitReply {
                view: v,
                first: 7,
                last: 9,
            },
            Message::ViewChangeRequest { view: v },
            Message::Chunk {
                kind: ChunkKind::StartView,
                view: v,
                id: 11,
                index: 1,
                count: 3,
                total: 20000,
                data: b"chunk",
            },
            Message::StartViewReply { view: v },
            Message::PreVote {
                view: v,
                attempt: 12,
                ballot: Ballot::Ask,
            },
            Message::PreVote {
                view: v,
                attempt: 12,
                ballot: Ballot::Grant,
            },
            Message::PreVote {
                view: v,
                attempt: 13,
                ballot: Ballot::Refuse,
            },
            Message::SyncPrepare {
                view: v,
                prev: 2,
                slot: 100,
                noops: vec![(3, 3), (50, 60_049)],
            },
            Message::SyncFetch { view: v, from: 40 },
            Message::SyncReply { view: v, slot: 100 },
            Message::SyncCommit { view: v, slot: 100 },
            Message::StateRequest { view: v, nonce: 77 },
            Message::Recovery {
                nonce: 78,
                epoch: 2,
            },
            Message::RecoveryResponse {
                view: v,
                nonce: 78,
                epochs: vec![0, 2, 1],
            },
        ]
    }

    #[test]
    fn every_message_round_trips_and_every_truncation_fails() {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        for m in samples() {
            let mut w = Writer::new(&mut buf);
            m.encode(&mut w).unwrap();
            let n = w.len();
            assert_eq!(Message::decode(&buf[..n]).unwrap(), m);
            for len in 0..n {
                assert!(Message::decode(&buf[..len]).is_err(), "{m:?} at {len}");
            }
        }
    }

    fn encoded(m: &Message<'_>) -> Vec<u8> {
        let mut buf = vec![0u8; 4 * MAX_DATAGRAM];
        let mut w = Writer::new(&mut buf);
        m.encode(&mut w).unwrap();
        let n = w.len();
        buf.truncate(n);
        buf
    }

    #[test]
    fn gap_replies_refuse_empty_zero_and_oversized_runs() {
        let view = ViewId::INITIAL;
        let reply = |runs: Vec<GapRun>| Message::GapReply {
            view,
            slot: 1,
            answer: GapAnswer::Entries(runs),
        };
        assert!(Message::decode(&encoded(&reply(vec![]))).is_err());
        assert!(Message::decode(&encoded(&reply(vec![GapRun::NoOps(0)]))).is_err());
        let most = reply(vec![GapRun::NoOps(MAX_GAP_REPLY_SLOTS as u32)]);
        assert_eq!(Message::decode(&encoded(&most)).unwrap(), most);
        let over = reply(vec![
            GapRun::NoOps(MAX_GAP_REPLY_SLOTS as u32),
            GapRun::NoOps(1),
        ]);
        assert!(Message::decode(&encoded(&over)).is_err());
        assert!(Message::decode(&encoded(&reply(vec![GapRun::NoOps(u32::MAX)]))).is_err());
    }

    #[test]
    fn a_gap_reply_filled_to_its_budget_fits_a_datagram() {
        let request = Request {
            client: u64::MAX,
            request: u64::MAX,
            reply_to: "255.255.255.255:65535".parse().unwrap(),
            op: vec![7; 100],
        };
        let mut runs = Vec::new();
        let mut bytes = 0;
        loop {
            let run = if runs.len() % 2 == 0 {
                GapRun::NoOps(3)
            } else {
                GapRun::Request(request.clone())
            };
            if bytes + run.encoded_len() > GAP_REPLY_RUN_BYTES {
                break;
            }
            bytes += run.encoded_len();
            runs.push(run);
        }
        let m = Message::GapReply {
            view: ViewId {
                leader_num: u64::MAX,
                session_num: u64::MAX,
            },
            slot: u64::MAX,
            answer: GapAnswer::Entries(runs.clone()),
        };
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut w = Writer::new(&mut buf);
        // Encoded into one datagram, the runs' sizes as `encoded_len` counts them.
        m.encode(&mut w).unwrap();
        let n = w.len();
        let fixed = n - bytes;
        assert!(fixed <= MAX_DATAGRAM - GAP_REPLY_RUN_BYTES, "{fixed}");
        assert_eq!(Message::decode(&buf[..n]).unwrap(), m);
    }

    #[test]
    fn the_replicas_reply_encoder_writes_what_the_general_one_does() {
        let view = ViewId {
            leader_num: 3,
            session_num: 9,
        };
        for result in [None, Some(&b""[..]), Some(&b"forty-two"[..])] {
            let m = Message::Reply {
                view,
                slot: 77,
                client: 5,
                request: 6,
                replica: 2,
                result,
            };
            let mut general = vec![0u8; 256];
            let mut w = Writer::new(&mut general);
            m.encode(&mut w).unwrap();
            let n = w.len();
            general.truncate(n);
            let mut direct = vec![0u8; 256];
            let mut w = Writer::new(&mut direct);
            Message::encode_reply(&mut w, view, 77, 5, 6, 2, result).unwrap();
            let n = w.len();
            direct.truncate(n);
            assert_eq!(direct, general);
            assert_eq!(Message::decode(&direct).unwrap(), m);
            // Too small a buffer is an error, never a panic or a short datagram.
            for room in 0..direct.len() {
                let mut small = vec![0u8; room];
                let mut w = Writer::new(&mut small);
                assert!(Message::encode_reply(&mut w, view, 77, 5, 6, 2, result).is_err());
            }
        }
    }

    #[test]
    fn requests_round_trip_through_the_oum_header() {
        let mut buf = vec![0u8; 256];
        let m = samples().remove(0);
        let mut w = Writer::new(&mut buf);
        m.encode_sequenced(&mut w).unwrap();
        let n = w.len();
        assert_eq!(
            OumRepr::parse_bytes(&buf[..n]).unwrap(),
            OumRepr::Unsequenced
        );
        assert_eq!(Message::decode_sequenced(&buf[..n]).unwrap(), m);
        assert!(Message::decode_sequenced(&buf[..10]).is_err());
        // The replicas' request decoder agrees with the general one, refuses what it
        // refuses, and refuses every other message.
        let Message::Request {
            client,
            request,
            reply_to,
            op,
        } = &m
        else {
            unreachable!("samples start with a request")
        };
        assert_eq!(
            Message::decode_sequenced_request(&buf[..n]).unwrap(),
            (*client, *request, *reply_to, *op)
        );
        for len in 0..n {
            assert!(Message::decode_sequenced_request(&buf[..len]).is_err());
        }
        for other in samples().into_iter().skip(1) {
            let mut w = Writer::new(&mut buf);
            other.encode_sequenced(&mut w).unwrap();
            let n = w.len();
            assert!(
                Message::decode_sequenced_request(&buf[..n]).is_err(),
                "{other:?}"
            );
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 200) as usize;
            let mut bytes: Vec<u8> = (0..len)
                .map(|i| (state.rotate_left(i as u32 % 64) >> 3) as u8)
                .collect();
            if bytes.len() >= 12 {
                bytes[..4].copy_from_slice(b"NOPX");
                bytes[4] = 1;
                bytes[5] = NOPAXOS_BASE + (state % 20) as u8;
                bytes[6] = 0;
                bytes[7] = 0;
                let body = (len - 12) as u32;
                bytes[8..12].copy_from_slice(&body.to_be_bytes());
            }
            let _ = Message::decode(&bytes);
            let _ = Message::decode_sequenced(&bytes);
            let _ = Message::decode_sequenced_request(&bytes);
        }
    }
}
