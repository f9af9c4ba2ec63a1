//! The blobs replicas exchange in view changes and state transfers, and their encodings.
//! Decoders are total and check every count against the bytes present.

use super::types::{Entry, Round};
use crate::codec::{CodecError, Reader, Writer};
use crate::kit::image_codec::{encode_to_vec, get_epochs, put_epochs};

/// One slot of a replica's log as reported or sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRecord {
    pub slot: u64,
    /// The round of the vote (for a chosen slot, the round it was voted in here, if known).
    pub round: Round,
    pub chosen: bool,
    pub entry: Entry,
}

impl SlotRecord {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.u64(self.slot)?;
        self.round.encode(w)?;
        w.bool(self.chosen)?;
        self.entry.encode(w)
    }

    fn decode(r: &mut Reader<'_>) -> Result<SlotRecord, CodecError> {
        Ok(SlotRecord {
            slot: r.u64()?,
            round: Round::decode(r)?,
            chosen: r.bool()?,
            entry: Entry::decode(r)?,
        })
    }

    /// Smallest encoding: slot, round, flag, a NO-OP.
    const MIN_LEN: usize = 8 + 9 + 1 + 1;

    fn encoded_len(&self) -> usize {
        8 + 9 + 1 + self.entry.encoded_len()
    }
}

fn put_records(w: &mut Writer<'_>, records: &[SlotRecord]) -> Result<(), CodecError> {
    w.count(records.len())?;
    records.iter().try_for_each(|s| s.encode(w))
}

/// Reads records in strictly increasing slot order (so a slot is never reported twice).
fn get_records(r: &mut Reader<'_>) -> Result<Vec<SlotRecord>, CodecError> {
    let n = r.count(SlotRecord::MIN_LEN)?;
    let mut records: Vec<SlotRecord> = Vec::with_capacity(n);
    for _ in 0..n {
        let s = SlotRecord::decode(r)?;
        if records.last().is_some_and(|last| last.slot >= s.slot) || s.slot == 0 {
            return Err(CodecError::Invalid {
                field: "slot order",
                value: s.slot,
            });
        }
        records.push(s);
    }
    Ok(records)
}

/// Most replicas an epoch list may name (the cluster size limit).
const MAX_REPLICAS: usize = 64;

fn records_len(records: &[SlotRecord]) -> usize {
    records.iter().map(SlotRecord::encoded_len).sum()
}

/// A replica's VIEW-CHANGE, its phase-1b answer for every slot at once: its commit point
/// and every vote it holds above it (chosen slots it knows out of order are flagged), with
/// the recovery epochs that fence reports sent before a memory loss (docs/protocols.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewChangeReport {
    pub commit: u64,
    /// The sender's epoch: 0 until it first recovers from memory loss, then the epoch of
    /// its latest recovery. A report whose epoch is below one the leader knows for its
    /// sender was sent before the sender lost its memory, and is not counted.
    pub epoch: u64,
    /// The highest recovery epoch the sender knows of each replica.
    pub epochs: Vec<u64>,
    pub votes: Vec<SlotRecord>,
}

impl ViewChangeReport {
    pub fn encode(&self) -> Vec<u8> {
        let size = 28 + 8 * self.epochs.len() + records_len(&self.votes);
        encode_to_vec(size, |w| {
            w.u64(self.commit)?;
            w.u64(self.epoch)?;
            put_epochs(w, &self.epochs)?;
            put_records(w, &self.votes)
        })
    }

    /// Total: any bytes give an image or an error; counts are checked before reserving.
    pub fn decode(bytes: &[u8]) -> Result<ViewChangeReport, CodecError> {
        let mut r = Reader::new(bytes);
        let commit = r.u64()?;
        let epoch = r.u64()?;
        let epochs = get_epochs(&mut r, MAX_REPLICAS)?;
        let votes = get_records(&mut r)?;
        r.finish()?;
        if votes.first().is_some_and(|v| v.slot <= commit) {
            return Err(CodecError::Invalid {
                field: "vote at or below the commit point",
                value: commit,
            });
        }
        Ok(ViewChangeReport {
            commit,
            epoch,
            epochs,
            votes,
        })
    }
}

/// The new leader's START-VIEW: its log from its first kept slot, every slot up to
/// `fast_from − 1` filled (chosen, or the value it proposes in the view's classic round),
/// plus chosen slots beyond.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartViewImage {
    /// The leader's commit point.
    pub commit: u64,
    /// First slot of `entries` (the leader's first kept slot).
    pub first_slot: u64,
    /// Slots from here on are free for the view's fast round.
    pub fast_from: u64,
    /// Where acceptors start voting (at least `fast_from`).
    pub frontier: u64,
    /// Per replica, the lowest recovery epoch every report the view was formed from knew
    /// of it: a replica recovering under epoch e joins the view only if its entry is at
    /// least e (every member of the view's phase-1 quorum heard of the recovery first).
    pub vouched: Vec<u64>,
    pub entries: Vec<SlotRecord>,
}

impl StartViewImage {
    pub fn encode(&self) -> Vec<u8> {
        let size = 44 + 8 * self.vouched.len() + records_len(&self.entries);
        encode_to_vec(size, |w| {
            w.u64(self.commit)?;
            w.u64(self.first_slot)?;
            w.u64(self.fast_from)?;
            w.u64(self.frontier)?;
            put_epochs(w, &self.vouched)?;
            put_records(w, &self.entries)
        })
    }

    /// Total: any bytes give an image or an error; counts are checked before reserving.
    pub fn decode(bytes: &[u8]) -> Result<StartViewImage, CodecError> {
        let mut r = Reader::new(bytes);
        let commit = r.u64()?;
        let first_slot = r.u64()?;
        let fast_from = r.u64()?;
        let frontier = r.u64()?;
        let vouched = get_epochs(&mut r, MAX_REPLICAS)?;
        let entries = get_records(&mut r)?;
        r.finish()?;
        let shape_ok = first_slot >= 1
            && fast_from > commit
            && frontier >= fast_from
            && entries.first().is_none_or(|e| e.slot >= first_slot);
        if !shape_ok {
            return Err(CodecError::Invalid {
                field: "START-VIEW bounds",
                value: fast_from,
            });
        }
        Ok(StartViewImage {
            commit,
            first_slot,
            fast_from,
            frontier,
            vouched,
            entries,
        })
    }
}

/// A replica's chosen state for a state transfer: the application with its client table
/// after executing every slot up to `commit`. Images hold nothing but chosen state, so any
/// replica may serve one and any image that is ahead may be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateImage {
    pub commit: u64,
    pub machine: Vec<u8>,
}

impl StateImage {
    pub fn encode(&self) -> Vec<u8> {
        encode_to_vec(12 + self.machine.len(), |w| {
            w.u64(self.commit)?;
            w.bytes(&self.machine)
        })
    }

    /// Total: any bytes give an image or an error; counts are checked before reserving.
    pub fn decode(bytes: &[u8]) -> Result<StateImage, CodecError> {
        let mut r = Reader::new(bytes);
        let commit = r.u64()?;
        let machine = r.bytes()?.to_vec();
        r.finish()?;
        Ok(StateImage { commit, machine })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records() -> Vec<SlotRecord> {
        vec![
            SlotRecord {
                slot: 5,
                round: Round::fast(1),
                chosen: false,
                entry: Entry::NoOp,
            },
            SlotRecord {
                slot: 7,
                round: Round::classic(2),
                chosen: true,
                entry: Entry::request(1, 2, "1.2.3.4:5".parse().unwrap(), &[9; 300]),
            },
        ]
    }

    fn all_prefixes_fail(bytes: &[u8], decode: impl Fn(&[u8]) -> bool) {
        for len in 0..bytes.len() {
            assert!(!decode(&bytes[..len]), "prefix of {len} bytes decoded");
        }
    }

    #[test]
    fn images_round_trip_and_reject_truncation() {
        let vc = ViewChangeReport {
            commit: 4,
            epoch: 2,
            epochs: vec![0, 2, 1],
            votes: records(),
        };
        let bytes = vc.encode();
        assert_eq!(ViewChangeReport::decode(&bytes).unwrap(), vc);
        all_prefixes_fail(&bytes, |b| ViewChangeReport::decode(b).is_ok());

        let sv = StartViewImage {
            commit: 4,
            first_slot: 3,
            fast_from: 8,
            frontier: 9,
            vouched: vec![0, 2, 0],
            entries: records(),
        };
        let bytes = sv.encode();
        assert_eq!(StartViewImage::decode(&bytes).unwrap(), sv);
        all_prefixes_fail(&bytes, |b| StartViewImage::decode(b).is_ok());

        let st = StateImage {
            commit: 9,
            machine: vec![1, 2, 3],
        };
        let bytes = st.encode();
        assert_eq!(StateImage::decode(&bytes).unwrap(), st);
        all_prefixes_fail(&bytes, |b| StateImage::decode(b).is_ok());
    }

    #[test]
    fn inconsistent_images_are_refused() {
        // Votes out of order, a vote at the commit point, a START-VIEW whose fast round
        // starts at its commit point, a forged count.
        let mut unordered = records();
        unordered.reverse();
        let vc = ViewChangeReport {
            commit: 1,
            epoch: 0,
            epochs: Vec::new(),
            votes: unordered,
        };
        assert!(ViewChangeReport::decode(&vc.encode()).is_err());
        let vc = ViewChangeReport {
            commit: 5,
            epoch: 0,
            epochs: vec![0; 3],
            votes: records(),
        };
        assert!(ViewChangeReport::decode(&vc.encode()).is_err());
        let sv = StartViewImage {
            commit: 8,
            first_slot: 1,
            fast_from: 8,
            frontier: 8,
            vouched: Vec::new(),
            entries: Vec::new(),
        };
        assert!(StartViewImage::decode(&sv.encode()).is_err());
        let mut forged = 0u64.to_be_bytes().to_vec();
        forged.extend_from_slice(&0u64.to_be_bytes());
        forged.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(ViewChangeReport::decode(&forged).is_err());
        // More epochs than a cluster has replicas.
        let vc = ViewChangeReport {
            commit: 0,
            epoch: 0,
            epochs: vec![0; 65],
            votes: Vec::new(),
        };
        assert!(ViewChangeReport::decode(&vc.encode()).is_err());
    }
}
