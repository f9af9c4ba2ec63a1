//! The blobs replicas exchange during view changes and state transfer, and their encodings.
//! Each carries a window of the log (op numbers `first..first + entries.len()`); decoders are
//! total and refuse windows whose op numbers would overflow.

use super::types::{ENTRY_OVERHEAD, Entry};
use crate::codec::{CodecError, Reader, Writer, invalid};
use crate::kit::image_codec::{encode_to_vec, get_optional_bytes, put_optional_bytes};

fn entries_len(entries: &[Entry]) -> usize {
    entries.iter().map(Entry::encoded_len).sum()
}

fn put_entries(w: &mut Writer<'_>, entries: &[Entry]) -> Result<(), CodecError> {
    w.count(entries.len())?;
    entries.iter().try_for_each(|e| e.encode(w))
}

/// Reads a window starting at `first`, refusing op numbers that would overflow.
fn get_entries(r: &mut Reader<'_>, first: u64) -> Result<Vec<Entry>, CodecError> {
    let n = r.count(ENTRY_OVERHEAD)?;
    if first == 0 || first.checked_add(n as u64).is_none() {
        return Err(invalid("first op number", first));
    }
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        entries.push(Entry::decode(r)?);
    }
    Ok(entries)
}

/// Last op number of a window (`first - 1` when empty).
fn window_end(first: u64, len: usize) -> u64 {
    (first + len as u64).saturating_sub(1)
}

/// A replica's DO-VIEW-CHANGE: its last normal view, commit number and retained log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoViewChange {
    pub last_normal: u64,
    pub commit: u64,
    /// Op number of `entries[0]`; at most the sender's execution point + 1.
    pub first: u64,
    pub entries: Vec<Entry>,
}

impl DoViewChange {
    /// The sender's op number.
    pub fn op(&self) -> u64 {
        window_end(self.first, self.entries.len())
    }

    pub fn encode(&self) -> Vec<u8> {
        encode_to_vec(28 + entries_len(&self.entries), |w| {
            w.u64(self.last_normal)?;
            w.u64(self.commit)?;
            w.u64(self.first)?;
            put_entries(w, &self.entries)
        })
    }

    pub fn decode(bytes: &[u8]) -> Result<DoViewChange, CodecError> {
        let mut r = Reader::new(bytes);
        let last_normal = r.u64()?;
        let commit = r.u64()?;
        let first = r.u64()?;
        let entries = get_entries(&mut r, first)?;
        r.finish()?;
        Ok(DoViewChange {
            last_normal,
            commit,
            first,
            entries,
        })
    }
}

/// The new primary's START-VIEW: its commit number and retained log (the view is in the
/// chunk header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartView {
    pub commit: u64,
    pub first: u64,
    pub entries: Vec<Entry>,
}

impl StartView {
    pub fn op(&self) -> u64 {
        window_end(self.first, self.entries.len())
    }

    pub fn encode(&self) -> Vec<u8> {
        encode_to_vec(20 + entries_len(&self.entries), |w| {
            w.u64(self.commit)?;
            w.u64(self.first)?;
            put_entries(w, &self.entries)
        })
    }

    pub fn decode(bytes: &[u8]) -> Result<StartView, CodecError> {
        let mut r = Reader::new(bytes);
        let commit = r.u64()?;
        let first = r.u64()?;
        let entries = get_entries(&mut r, first)?;
        r.finish()?;
        Ok(StartView {
            commit,
            first,
            entries,
        })
    }
}

/// A NEW-STATE: the sender's view and commit number, and the log after op number `base`;
/// with a snapshot (application state and client table after executing up to `base`) when
/// the receiver cannot be expected to hold the log up to `base`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateImage {
    pub view: u64,
    pub commit: u64,
    pub base: u64,
    pub snapshot: Option<Vec<u8>>,
    pub entries: Vec<Entry>,
}

impl StateImage {
    pub fn op(&self) -> u64 {
        self.base.saturating_add(self.entries.len() as u64)
    }

    pub fn encode(&self) -> Vec<u8> {
        let snapshot_len = self.snapshot.as_ref().map_or(0, Vec::len);
        encode_to_vec(37 + snapshot_len + entries_len(&self.entries), |w| {
            w.u64(self.view)?;
            w.u64(self.commit)?;
            w.u64(self.base)?;
            put_optional_bytes(w, self.snapshot.as_deref())?;
            put_entries(w, &self.entries)
        })
    }

    pub fn decode(bytes: &[u8]) -> Result<StateImage, CodecError> {
        let mut r = Reader::new(bytes);
        let view = r.u64()?;
        let commit = r.u64()?;
        let base = r.u64()?;
        let snapshot = get_optional_bytes(&mut r)?;
        let first = base
            .checked_add(1)
            .ok_or(invalid("state image base", base))?;
        let entries = get_entries(&mut r, first)?;
        r.finish()?;
        Ok(StateImage {
            view,
            commit,
            base,
            snapshot,
            entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::io::sim::SimRng;

    fn entry(i: u64) -> Entry {
        Entry {
            client: i,
            request: i + 1,
            reply_to: "10.0.0.1:4000".parse().unwrap(),
            op: vec![i as u8; (i % 5) as usize],
        }
    }

    fn samples() -> (Vec<DoViewChange>, Vec<StartView>, Vec<StateImage>) {
        let entries: Vec<Entry> = (0..4).map(entry).collect();
        (
            vec![
                DoViewChange {
                    last_normal: 3,
                    commit: 10,
                    first: 8,
                    entries: entries.clone(),
                },
                DoViewChange {
                    last_normal: 0,
                    commit: 0,
                    first: 1,
                    entries: Vec::new(),
                },
            ],
            vec![StartView {
                commit: 9,
                first: 7,
                entries: entries.clone(),
            }],
            vec![
                StateImage {
                    view: 2,
                    commit: 12,
                    base: 9,
                    snapshot: Some(b"snap".to_vec()),
                    entries: entries.clone(),
                },
                StateImage {
                    view: 2,
                    commit: 12,
                    base: 0,
                    snapshot: None,
                    entries,
                },
            ],
        )
    }

    /// Every image round-trips, every truncation fails, and random bytes never panic.
    #[test]
    fn images_round_trip_and_truncations_fail() {
        let (dvcs, svs, states) = samples();
        for d in &dvcs {
            let b = d.encode();
            assert_eq!(&DoViewChange::decode(&b).unwrap(), d);
            assert_eq!(d.op() + 1, d.first + d.entries.len() as u64);
        }
        for s in &svs {
            let b = s.encode();
            assert_eq!(&StartView::decode(&b).unwrap(), s);
            for len in 0..b.len() {
                assert!(StartView::decode(&b[..len]).is_err());
            }
        }
        for s in &states {
            let b = s.encode();
            assert_eq!(&StateImage::decode(&b).unwrap(), s);
        }
        for d in &dvcs {
            let b = d.encode();
            for len in 0..b.len() {
                assert!(DoViewChange::decode(&b[..len]).is_err());
            }
        }
        for s in &states {
            let b = s.encode();
            for len in 0..b.len() {
                assert!(StateImage::decode(&b[..len]).is_err());
            }
        }
        let mut rng = SimRng::new(7);
        for _ in 0..20_000 {
            let len = rng.up_to(80) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            let _ = DoViewChange::decode(&bytes);
            let _ = StartView::decode(&bytes);
            let _ = StateImage::decode(&bytes);
        }
    }

    #[test]
    fn overflowing_windows_and_forged_counts_are_refused() {
        let d = DoViewChange {
            last_normal: 1,
            commit: 0,
            first: u64::MAX,
            entries: vec![entry(1), entry(2)],
        };
        assert!(DoViewChange::decode(&d.encode()).is_err());
        let zero = StartView {
            commit: 0,
            first: 0,
            entries: Vec::new(),
        };
        assert!(StartView::decode(&zero.encode()).is_err());
        let s = StateImage {
            view: 0,
            commit: 0,
            base: u64::MAX,
            snapshot: None,
            entries: Vec::new(),
        };
        assert!(StateImage::decode(&s.encode()).is_err());
        // A count of 2^32 - 1 entries over a few bytes.
        let mut forged = vec![0u8; 24];
        forged[16..24].copy_from_slice(&1u64.to_be_bytes());
        forged.extend_from_slice(&[0xff; 4]);
        forged.extend_from_slice(&[0; 30]);
        assert!(DoViewChange::decode(&forged).is_err());
    }
}
