//! The blobs replicas exchange during view changes, repairs and state transfer, and their
//! encodings. Every one carries a log segment: the slot and prefix hash it continues from
//! and the requests after it. Hashes of the entries are not sent: the receiver recomputes
//! them from the requests, so a segment cannot claim a hash its entries do not have.

use super::types::{LogHash, Request, SpecViewId};
use crate::codec::{CodecError, Reader, Writer};
use crate::kit::image_codec::{encode_to_vec, get_optional_bytes, put_optional_bytes};

/// Requests after `prev_slot`, whose prefix hashes to `prev_hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSegment {
    pub prev_slot: u64,
    pub prev_hash: LogHash,
    pub entries: Vec<Request>,
}

impl LogSegment {
    /// An empty segment at `slot`.
    pub fn empty(slot: u64, hash: LogHash) -> LogSegment {
        LogSegment {
            prev_slot: slot,
            prev_hash: hash,
            entries: Vec::new(),
        }
    }

    /// Last slot covered (the previous slot when empty).
    pub fn end(&self) -> u64 {
        self.prev_slot.saturating_add(self.entries.len() as u64)
    }

    /// The prefix hash at every slot from `prev_slot` to `end()`, in order.
    pub fn hashes(&self) -> Vec<LogHash> {
        let mut out = Vec::with_capacity(self.entries.len() + 1);
        let mut h = self.prev_hash;
        out.push(h);
        for e in &self.entries {
            h = e.chain(h);
            out.push(h);
        }
        out
    }

    /// The prefix hash at `slot`, if the segment covers it.
    pub fn hash_at(&self, slot: u64) -> Option<LogHash> {
        let upto = slot.checked_sub(self.prev_slot)?;
        if upto > self.entries.len() as u64 {
            return None;
        }
        Some(
            self.entries[..upto as usize]
                .iter()
                .fold(self.prev_hash, |h, e| e.chain(h)),
        )
    }

    fn encoded_len(&self) -> usize {
        8 + 16 + 4 + self.entries.iter().map(Request::encoded_len).sum::<usize>()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.u64(self.prev_slot)?;
        self.prev_hash.encode(w)?;
        w.count(self.entries.len())?;
        self.entries.iter().try_for_each(|e| e.encode(w))
    }

    fn decode(r: &mut Reader<'_>) -> Result<LogSegment, CodecError> {
        let prev_slot = r.u64()?;
        let prev_hash = LogHash::decode(r)?;
        let n = r.count(Request::MIN_ENCODED_LEN)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            entries.push(Request::decode(r)?);
        }
        if prev_slot.checked_add(n as u64).is_none() {
            return Err(CodecError::Invalid {
                field: "segment end",
                value: prev_slot,
            });
        }
        Ok(LogSegment {
            prev_slot,
            prev_hash,
            entries,
        })
    }
}

/// A replica's log for the new leader of a view change (the paper's DO-VIEW-CHANGE): its
/// log is committed up to `segment.prev_slot`, speculative after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewChangeImage {
    pub last_normal_view: SpecViewId,
    pub segment: LogSegment,
}

impl ViewChangeImage {
    pub fn commit(&self) -> u64 {
        self.segment.prev_slot
    }

    pub fn encode(&self) -> Vec<u8> {
        encode_to_vec(16 + self.segment.encoded_len(), |w| {
            self.last_normal_view.encode(w)?;
            self.segment.encode(w)
        })
    }

    pub fn decode(bytes: &[u8]) -> Result<ViewChangeImage, CodecError> {
        let mut r = Reader::new(bytes);
        let last_normal_view = SpecViewId::decode(&mut r)?;
        let segment = LogSegment::decode(&mut r)?;
        r.finish()?;
        Ok(ViewChangeImage {
            last_normal_view,
            segment,
        })
    }
}

/// The new leader's START-VIEW: the merged log after the committed point
/// `segment.prev_slot`, and the leader's commit point (at least that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartViewImage {
    pub commit: u64,
    pub segment: LogSegment,
}

impl StartViewImage {
    pub fn encode(&self) -> Vec<u8> {
        encode_to_vec(8 + self.segment.encoded_len(), |w| {
            w.u64(self.commit)?;
            self.segment.encode(w)
        })
    }

    pub fn decode(bytes: &[u8]) -> Result<StartViewImage, CodecError> {
        let mut r = Reader::new(bytes);
        let commit = r.u64()?;
        let segment = LogSegment::decode(&mut r)?;
        r.finish()?;
        Ok(StartViewImage { commit, segment })
    }
}

/// A replica's state for another: its log from `segment.prev_slot`, and, when the asker
/// cannot continue from there on its own, the application snapshot at that slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateImage {
    /// The sender's last normal view: its log is a log of that view.
    pub view: SpecViewId,
    pub commit: u64,
    pub segment: LogSegment,
    /// The state machine (application and client table) at `segment.prev_slot`.
    pub snapshot: Option<Vec<u8>>,
}

impl StateImage {
    pub fn encode(&self) -> Vec<u8> {
        let snapshot = self.snapshot.as_ref().map_or(0, Vec::len);
        encode_to_vec(16 + 8 + 5 + snapshot + self.segment.encoded_len(), |w| {
            self.view.encode(w)?;
            w.u64(self.commit)?;
            put_optional_bytes(w, self.snapshot.as_deref())?;
            self.segment.encode(w)
        })
    }

    pub fn decode(bytes: &[u8]) -> Result<StateImage, CodecError> {
        let mut r = Reader::new(bytes);
        let view = SpecViewId::decode(&mut r)?;
        let commit = r.u64()?;
        let snapshot = get_optional_bytes(&mut r)?;
        let segment = LogSegment::decode(&mut r)?;
        r.finish()?;
        Ok(StateImage {
            view,
            commit,
            segment,
            snapshot,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn request(client: u64, request: u64, op: &[u8]) -> Request {
        Request {
            client,
            request,
            reply_to: "10.0.0.1:4000".parse().unwrap(),
            op: op.to_vec(),
        }
    }

    fn segment() -> LogSegment {
        LogSegment {
            prev_slot: 12,
            prev_hash: LogHash(77),
            entries: vec![request(1, 2, b"a"), request(3, 4, &[9; 300])],
        }
    }

    #[test]
    fn segments_hash_like_a_log() {
        let s = segment();
        let hashes = s.hashes();
        assert_eq!(hashes.len(), 3);
        assert_eq!(s.end(), 14);
        assert_eq!(s.hash_at(12), Some(LogHash(77)));
        assert_eq!(s.hash_at(13), Some(LogHash(77).chain(1, 2, b"a")));
        assert_eq!(s.hash_at(14), Some(hashes[2]));
        assert_eq!(s.hash_at(11), None);
        assert_eq!(s.hash_at(15), None);
    }

    #[test]
    fn images_round_trip_and_reject_truncation_and_forged_counts() {
        let vc = ViewChangeImage {
            last_normal_view: SpecViewId {
                leader_num: 2,
                epoch: 1,
            },
            segment: segment(),
        };
        let sv = StartViewImage {
            commit: 13,
            segment: segment(),
        };
        let st = StateImage {
            view: SpecViewId::INITIAL,
            commit: 12,
            segment: segment(),
            snapshot: Some(vec![1, 2, 3]),
        };
        let st2 = StateImage {
            snapshot: None,
            ..st.clone()
        };
        assert_eq!(ViewChangeImage::decode(&vc.encode()).unwrap(), vc);
        assert_eq!(vc.commit(), 12);
        assert_eq!(StartViewImage::decode(&sv.encode()).unwrap(), sv);
        assert_eq!(StateImage::decode(&st.encode()).unwrap(), st);
        assert_eq!(StateImage::decode(&st2.encode()).unwrap(), st2);
        let (a, b, c) = (vc.encode(), sv.encode(), st.encode());
        for len in 0..a.len() {
            assert!(ViewChangeImage::decode(&a[..len]).is_err());
        }
        for len in 0..b.len() {
            assert!(StartViewImage::decode(&b[..len]).is_err());
        }
        for len in 0..c.len() {
            assert!(StateImage::decode(&c[..len]).is_err());
        }
        // A count of 2^32-1 entries in a few bytes is refused before anything is reserved.
        let mut forged = sv.encode();
        forged[8 + 24..8 + 28].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(StartViewImage::decode(&forged).is_err());
        // A segment that would end past the last slot.
        let far = StartViewImage {
            commit: 0,
            segment: LogSegment {
                prev_slot: u64::MAX,
                prev_hash: LogHash::ZERO,
                entries: vec![request(1, 1, b"")],
            },
        };
        assert!(StartViewImage::decode(&far.encode()).is_err());
    }
}
