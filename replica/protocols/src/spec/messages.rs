//! Speculative Paxos messages: an envelope (docs/wire-format.md) and a body of big-endian
//! fields. Client requests travel through the sequencer, so they carry an OUM header first.

use std::net::SocketAddrV4;

use dataplane::wire::{ENVELOPE_HEADER_LEN, MessageType, OUM_HEADER_LEN, OumRepr};

use super::types::{LogHash, ViewId};
use crate::codec::{
    CodecError, Reader, Writer, after_oum_header, decode_enveloped, invalid, write_envelope,
};
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
        view: ViewId,
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
        view: ViewId,
    },
    /// The leader asks followers for their hash at `slot` (its log end), and tells them
    /// that its log is committed up to `commit` (hash `commit_hash`).
    Sync {
        view: ViewId,
        slot: u64,
        hash: LogHash,
        commit: u64,
        commit_hash: LogHash,
    },
    /// A follower's hash at the slot of a SYNC; `None` if its log no longer holds the slot.
    SyncReply {
        view: ViewId,
        slot: u64,
        hash: Option<LogHash>,
    },
    /// A superquorum agreed with the leader's log up to `slot`: committed.
    SyncCommit {
        view: ViewId,
        slot: u64,
        hash: LogHash,
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
    /// Asks for a state image of a replica normal in `view` or later: the log after
    /// `from` if the sender still holds it (the asker has the state at `from`), otherwise
    /// a snapshot and the log after it. `recovery` marks a replica recovering from memory
    /// loss, which only the leader serves.
    StateRequest {
        view: ViewId,
        nonce: u64,
        from: u64,
        recovery: bool,
    },
    Recovery {
        nonce: u64,
    },
    RecoveryResponse {
        view: ViewId,
        nonce: u64,
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
        decode_enveloped(datagram, |msg_type, _, r| Message::decode_body(msg_type, r))
    }

    /// Decodes a message that came through the sequencer: OUM header, then the message.
    pub fn decode_sequenced(datagram: &'a [u8]) -> Result<Message<'a>, CodecError> {
        Message::decode(after_oum_header(datagram)?)
    }

    fn decode_body(msg_type: u8, r: &mut Reader<'a>) -> Result<Message<'a>, CodecError> {
        Ok(match msg_type {
            code::REQUEST => Message::Request {
                client: r.u64()?,
                request: r.u64()?,
                reply_to: r.addr()?,
                op: r.bytes()?,
            },
            code::SPEC_REPLY => Message::SpecReply {
                view: ViewId::decode(r)?,
                slot: r.u64()?,
                hash: LogHash::decode(r)?,
                client: r.u64()?,
                request: r.u64()?,
                replica: r.u16()?,
                committed: r.bool()?,
                result: r.bytes()?,
            },
            code::RECONCILE_REQUEST => Message::ReconcileRequest {
                view: ViewId::decode(r)?,
            },
            code::SYNC => Message::Sync {
                view: ViewId::decode(r)?,
                slot: r.u64()?,
                hash: LogHash::decode(r)?,
                commit: r.u64()?,
                commit_hash: LogHash::decode(r)?,
            },
            code::SYNC_REPLY => {
                let view = ViewId::decode(r)?;
                let slot = r.u64()?;
                let hash = if r.bool()? {
                    Some(LogHash::decode(r)?)
                } else {
                    None
                };
                Message::SyncReply { view, slot, hash }
            }
            code::SYNC_COMMIT => Message::SyncCommit {
                view: ViewId::decode(r)?,
                slot: r.u64()?,
                hash: LogHash::decode(r)?,
            },
            code::VIEW_CHANGE_REQUEST => Message::ViewChangeRequest {
                view: ViewId::decode(r)?,
            },
            code::CHUNK => Message::Chunk {
                kind: ChunkKind::from_code(r.u8()?)?,
                view: ViewId::decode(r)?,
                id: r.u64()?,
                index: r.u32()?,
                count: r.u32()?,
                total: r.u32()?,
                data: r.bytes()?,
            },
            code::START_VIEW_REPLY => Message::StartViewReply {
                view: ViewId::decode(r)?,
            },
            code::STATE_REQUEST => Message::StateRequest {
                view: ViewId::decode(r)?,
                nonce: r.u64()?,
                from: r.u64()?,
                recovery: r.bool()?,
            },
            code::RECOVERY => Message::Recovery { nonce: r.u64()? },
            code::RECOVERY_RESPONSE => Message::RecoveryResponse {
                view: ViewId::decode(r)?,
                nonce: r.u64()?,
            },
            code::PRE_VOTE => Message::PreVote {
                view: ViewId::decode(r)?,
                attempt: r.u64()?,
                ballot: Ballot::from_code(r.u8()?)?,
            },
            t => return Err(invalid("Speculative Paxos message type", u64::from(t))),
        })
    }

    fn code(&self) -> u8 {
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

    /// Writes envelope and body.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        let at = w.len();
        w.put(&[0; ENVELOPE_HEADER_LEN])?;
        self.encode_body(w)?;
        let body_len = w.len() - at - ENVELOPE_HEADER_LEN;
        write_envelope(w, at, MessageType(self.code()), body_len)
    }

    /// Writes an unsequenced OUM header, then the message: a request for the sequencer.
    pub fn encode_sequenced(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        let mut header = [0u8; OUM_HEADER_LEN];
        OumRepr::Unsequenced
            .emit(&mut header)
            .map_err(|_| invalid("OUM header", 0))?;
        w.put(&header)?;
        self.encode(w)
    }

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        match self {
            Message::Request {
                client,
                request,
                reply_to,
                op,
            } => {
                w.u64(*client)?;
                w.u64(*request)?;
                w.addr(*reply_to)?;
                w.bytes(op)
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
                view.encode(w)?;
                w.u64(*slot)?;
                hash.encode(w)?;
                w.u64(*client)?;
                w.u64(*request)?;
                w.u16(*replica)?;
                w.bool(*committed)?;
                w.bytes(result)
            }
            Message::ReconcileRequest { view }
            | Message::ViewChangeRequest { view }
            | Message::StartViewReply { view } => view.encode(w),
            Message::Sync {
                view,
                slot,
                hash,
                commit,
                commit_hash,
            } => {
                view.encode(w)?;
                w.u64(*slot)?;
                hash.encode(w)?;
                w.u64(*commit)?;
                commit_hash.encode(w)
            }
            Message::SyncReply { view, slot, hash } => {
                view.encode(w)?;
                w.u64(*slot)?;
                match hash {
                    Some(h) => {
                        w.bool(true)?;
                        h.encode(w)
                    }
                    None => w.bool(false),
                }
            }
            Message::SyncCommit { view, slot, hash } => {
                view.encode(w)?;
                w.u64(*slot)?;
                hash.encode(w)
            }
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
                view.encode(w)?;
                w.u64(*id)?;
                w.u32(*index)?;
                w.u32(*count)?;
                w.u32(*total)?;
                w.bytes(data)
            }
            Message::StateRequest {
                view,
                nonce,
                from,
                recovery,
            } => {
                view.encode(w)?;
                w.u64(*nonce)?;
                w.u64(*from)?;
                w.bool(*recovery)
            }
            Message::Recovery { nonce } => w.u64(*nonce),
            Message::RecoveryResponse { view, nonce } => {
                view.encode(w)?;
                w.u64(*nonce)
            }
            Message::PreVote {
                view,
                attempt,
                ballot,
            } => {
                view.encode(w)?;
                w.u64(*attempt)?;
                w.u8(ballot.code())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MAX_DATAGRAM;

    pub(crate) fn samples() -> Vec<Message<'static>> {
        let v = ViewId {
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
            view: ViewId::INITIAL,
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
