//! Speculative Paxos messages: an envelope (docs/wire-format.md) and a body of big-endian
//! fields. Client requests travel through the sequencer, so they carry an OUM header first.

use std::net::SocketAddrV4;

// The tests reach it through `super::*`.
#[cfg(test)]
use dataplane::wire::OumRepr;

use super::blob::ChunkIn;
use super::types::{LogHash, SpecViewId};
use crate::codec::{CodecError, Field, Reader, Writer, invalid};
use crate::kit::framing::{self, MessageSet};
pub use crate::kit::prevote::Ballot;
use crate::msg_type::SPEC_BASE;
use crate::{ClientId, RequestId};

pub use crate::kit::blob::ChunkKind;

/// A Speculative Paxos message (operation, result and chunk data borrow from the datagram).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    Request {
        client: ClientId,
        request: RequestId,
        reply_to: SocketAddrV4,
        op: &'a [u8],
    },
    /// The replica's log holds the request at `slot` in `view`, the prefix up to it hashes
    /// to `hash`, and executing it gave `result`; `committed` when the slot is committed
    /// (the client may then complete on this reply alone).
    SpecReply {
        view: SpecViewId,
        slot: u64,
        hash: LogHash,
        client: ClientId,
        request: RequestId,
        replica: u16,
        committed: bool,
        result: &'a [u8],
    },
    /// A client saw divergent replies or none in time: the leader synchronizes now.
    ReconcileRequest {
        view: SpecViewId,
    },
    /// The leader asks followers for their hash at `slot` (its log end), and tells them
    /// that its log is committed up to `commit` (hash `commit_hash`).
    Sync {
        view: SpecViewId,
        slot: u64,
        hash: LogHash,
        commit: u64,
        commit_hash: LogHash,
    },
    /// A follower's hash at the slot of a SYNC; `None` if its log no longer holds the slot.
    SyncReply {
        view: SpecViewId,
        slot: u64,
        hash: Option<LogHash>,
    },
    /// A superquorum agreed with the leader's log up to `slot`: committed.
    SyncCommit {
        view: SpecViewId,
        slot: u64,
        hash: LogHash,
    },
    ViewChangeRequest {
        view: SpecViewId,
    },
    Chunk {
        kind: ChunkKind,
        view: SpecViewId,
        id: u64,
        index: u32,
        count: u32,
        total: u32,
        data: &'a [u8],
    },
    StartViewReply {
        view: SpecViewId,
    },
    /// Asks for a state image of a replica normal in `view` or later: the log after
    /// `from` if the sender still holds it (the asker has the state at `from`), otherwise
    /// a snapshot and the log after it. `recovery` marks a replica recovering from memory
    /// loss, which only the leader serves.
    StateRequest {
        view: SpecViewId,
        nonce: u64,
        from: u64,
        recovery: bool,
    },
    Recovery {
        nonce: u64,
    },
    RecoveryResponse {
        view: SpecViewId,
        nonce: u64,
    },
    /// The pre-vote (see `protocol::prevote`): a follower whose leader timed out asks
    /// whether the others lost the leader of `view` (its own view) too, `attempt` numbering
    /// the ask; the answers carry the responder's own view.
    PreVote {
        view: SpecViewId,
        attempt: u64,
        ballot: Ballot,
    },
}

mod code {
    use super::SPEC_BASE as B;
    pub(super) const REQUEST: u8 = B;
    pub(super) const SPEC_REPLY: u8 = B + 1;
    pub(super) const RECONCILE_REQUEST: u8 = B + 2;
    pub(super) const SYNC: u8 = B + 3;
    pub(super) const SYNC_REPLY: u8 = B + 4;
    pub(super) const SYNC_COMMIT: u8 = B + 5;
    pub(super) const VIEW_CHANGE_REQUEST: u8 = B + 6;
    pub(super) const CHUNK: u8 = B + 7;
    pub(super) const START_VIEW_REPLY: u8 = B + 8;
    pub(super) const STATE_REQUEST: u8 = B + 9;
    pub(super) const RECOVERY: u8 = B + 10;
    pub(super) const RECOVERY_RESPONSE: u8 = B + 11;
    pub(super) const PRE_VOTE: u8 = B + 12;
}

impl<'a> Message<'a> {
    /// Decodes an enveloped message (no OUM header).
    pub fn decode(datagram: &'a [u8]) -> Result<Message<'a>, CodecError> {
        framing::decode(datagram)
    }

    /// Decodes a message that came through the sequencer: OUM header, then the message.
    pub fn decode_sequenced(datagram: &'a [u8]) -> Result<Message<'a>, CodecError> {
        framing::decode_sequenced(datagram)
    }

    /// Writes envelope and body.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        framing::encode(self, w)
    }

    /// Writes an unsequenced OUM header, then the message: a request for the sequencer.
    pub fn encode_sequenced(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        framing::encode_sequenced(self, w)
    }
}

framing::chunk_variant!(Message, SpecViewId);

impl Field<'_> for SpecViewId {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        self.encode(w)
    }

    fn read(r: &mut Reader<'_>) -> Result<SpecViewId, CodecError> {
        SpecViewId::decode(r)
    }
}

impl Field<'_> for LogHash {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        self.encode(w)
    }

    fn read(r: &mut Reader<'_>) -> Result<LogHash, CodecError> {
        LogHash::decode(r)
    }
}

impl<'a> MessageSet<'a> for Message<'a> {
    fn decode_body(msg_type: u8, _: &'a [u8], r: &mut Reader<'a>) -> Result<Self, CodecError> {
        Ok(match msg_type {
            code::REQUEST => Message::Request {
                client: r.field()?,
                request: r.field()?,
                reply_to: r.field()?,
                op: r.field()?,
            },
            code::SPEC_REPLY => Message::SpecReply {
                view: r.field()?,
                slot: r.field()?,
                hash: r.field()?,
                client: r.field()?,
                request: r.field()?,
                replica: r.field()?,
                committed: r.field()?,
                result: r.field()?,
            },
            code::RECONCILE_REQUEST => Message::ReconcileRequest { view: r.field()? },
            code::SYNC => Message::Sync {
                view: r.field()?,
                slot: r.field()?,
                hash: r.field()?,
                commit: r.field()?,
                commit_hash: r.field()?,
            },
            code::SYNC_REPLY => Message::SyncReply {
                view: r.field()?,
                slot: r.field()?,
                hash: r.field()?,
            },
            code::SYNC_COMMIT => Message::SyncCommit {
                view: r.field()?,
                slot: r.field()?,
                hash: r.field()?,
            },
            code::VIEW_CHANGE_REQUEST => Message::ViewChangeRequest { view: r.field()? },
            code::CHUNK => ChunkIn::read(r)?.into(),
            code::START_VIEW_REPLY => Message::StartViewReply { view: r.field()? },
            code::STATE_REQUEST => Message::StateRequest {
                view: r.field()?,
                nonce: r.field()?,
                from: r.field()?,
                recovery: r.field()?,
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
            t => return Err(invalid("Speculative Paxos message type", u64::from(t))),
        })
    }

    fn msg_type(&self) -> u8 {
        match self {
            Message::Request { .. } => code::REQUEST,
            Message::SpecReply { .. } => code::SPEC_REPLY,
            Message::ReconcileRequest { .. } => code::RECONCILE_REQUEST,
            Message::Sync { .. } => code::SYNC,
            Message::SyncReply { .. } => code::SYNC_REPLY,
            Message::SyncCommit { .. } => code::SYNC_COMMIT,
            Message::ViewChangeRequest { .. } => code::VIEW_CHANGE_REQUEST,
            Message::Chunk { .. } => code::CHUNK,
            Message::StartViewReply { .. } => code::START_VIEW_REPLY,
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
            Message::SpecReply {
                view,
                slot,
                hash,
                client,
                request,
                replica,
                committed,
                result,
            } => {
                w.field(view)?;
                w.field(slot)?;
                w.field(hash)?;
                w.field(client)?;
                w.field(request)?;
                w.field(replica)?;
                w.field(committed)?;
                w.field(result)
            }
            Message::ReconcileRequest { view }
            | Message::ViewChangeRequest { view }
            | Message::StartViewReply { view } => w.field(view),
            Message::Sync {
                view,
                slot,
                hash,
                commit,
                commit_hash,
            } => {
                w.field(view)?;
                w.field(slot)?;
                w.field(hash)?;
                w.field(commit)?;
                w.field(commit_hash)
            }
            Message::SyncReply { view, slot, hash } => {
                w.field(view)?;
                w.field(slot)?;
                w.field(hash)
            }
            Message::SyncCommit { view, slot, hash } => {
                w.field(view)?;
                w.field(slot)?;
                w.field(hash)
            }
            // `as_chunk` is `Some` for every CHUNK.
            Message::Chunk { .. } => self.as_chunk().map_or(Ok(()), |c| w.field(&c)),
            Message::StateRequest {
                view,
                nonce,
                from,
                recovery,
            } => {
                w.field(view)?;
                w.field(nonce)?;
                w.field(from)?;
                w.field(recovery)
            }
            Message::Recovery { nonce } => w.field(nonce),
            Message::RecoveryResponse { view, nonce } => {
                w.field(view)?;
                w.field(nonce)
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
mod tests {
    use super::*;
    use crate::MAX_DATAGRAM;

    pub(crate) fn samples() -> Vec<Message<'static>> {
        let v = SpecViewId {
            leader_num: 3,
            epoch: 2,
        };
        let h = LogHash(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
        vec![
            Message::Request {
                client: 1,
                request: 2,
                reply_to: "127.0.0.1:5".parse().unwrap(),
                op: b"hello",
            },
            Message::SpecReply {
                view: v,
                slot: 4,
                hash: h,
                client: 1,
                request: 2,
                replica: 2,
                committed: false,
                result: b"r",
            },
            Message::SpecReply {
                view: v,
                slot: 0,
                hash: LogHash::ZERO,
                client: 1,
                request: 2,
                replica: 0,
                committed: true,
                result: b"",
            },
            Message::ReconcileRequest { view: v },
            Message::Sync {
                view: v,
                slot: 10,
                hash: h,
                commit: 7,
                commit_hash: LogHash(9),
            },
            Message::SyncReply {
                view: v,
                slot: 10,
                hash: Some(h),
            },
            Message::SyncReply {
                view: v,
                slot: 10,
                hash: None,
            },
            Message::SyncCommit {
                view: v,
                slot: 10,
                hash: h,
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
            Message::StateRequest {
                view: v,
                nonce: 77,
                from: 12,
                recovery: true,
            },
            Message::Recovery { nonce: 78 },
            Message::RecoveryResponse { view: v, nonce: 78 },
            Message::PreVote {
                view: v,
                attempt: 4,
                ballot: Ballot::Ask,
            },
            Message::PreVote {
                view: v,
                attempt: 4,
                ballot: Ballot::Refuse,
            },
        ]
    }

    #[test]
    fn every_message_round_trips_and_every_truncation_fails() {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut codes = std::collections::BTreeSet::new();
        for m in samples() {
            let mut w = Writer::new(&mut buf);
            m.encode(&mut w).unwrap();
            let n = w.len();
            assert_eq!(Message::decode(&buf[..n]).unwrap(), m);
            assert!((SPEC_BASE..=SPEC_BASE + 0x0f).contains(&buf[5]));
            codes.insert(buf[5]);
            for len in 0..n {
                assert!(Message::decode(&buf[..len]).is_err(), "{m:?} at {len}");
            }
            // A byte too many is an error too.
            buf[n] = 0;
            let mut longer = buf[..=n].to_vec();
            let body = u32::from_be_bytes([longer[8], longer[9], longer[10], longer[11]]) + 1;
            longer[8..12].copy_from_slice(&body.to_be_bytes());
            assert!(
                Message::decode(&longer).is_err(),
                "{m:?} with a trailing byte"
            );
        }
        assert_eq!(codes.len(), 13, "every type is sampled");
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
        for len in 0..n {
            assert!(Message::decode_sequenced(&buf[..len]).is_err());
        }
    }

    #[test]
    fn invalid_tags_are_errors() {
        let mut buf = vec![0u8; 256];
        let m = Message::SyncReply {
            view: SpecViewId::INITIAL,
            slot: 1,
            hash: None,
        };
        let mut w = Writer::new(&mut buf);
        m.encode(&mut w).unwrap();
        let n = w.len();
        buf[n - 1] = 2; // not a boolean
        assert!(Message::decode(&buf[..n]).is_err());
        buf[5] = SPEC_BASE + 0x0d; // unused type
        assert!(Message::decode(&buf[..n]).is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut decoded = 0;
        for _ in 0..50_000 {
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
                bytes[5] = SPEC_BASE + (state % 13) as u8;
                bytes[6] = 0;
                bytes[7] = 0;
                let body = (len - 12) as u32;
                bytes[8..12].copy_from_slice(&body.to_be_bytes());
            }
            decoded += usize::from(Message::decode(&bytes).is_ok());
            let _ = Message::decode_sequenced(&bytes);
        }
        // Mostly errors, but the envelope is right often enough to reach the bodies.
        assert!(decoded < 50_000);
    }
}
