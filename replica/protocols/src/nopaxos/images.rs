//! The blobs replicas exchange during view changes and state transfer, and their encodings.

use super::types::{Entry, ViewId};
use crate::codec::{CodecError, Reader, Writer, invalid};
use crate::kit::image_codec::{self, encode_to_vec};

fn put_session(w: &mut Writer<'_>, s: Option<u16>) -> Result<(), CodecError> {
    match s {
        Some(s) => {
            w.bool(true)?;
            w.u16(s)
        }
        None => w.bool(false),
    }
}

fn get_session(r: &mut Reader<'_>) -> Result<Option<u16>, CodecError> {
    Ok(if r.bool()? { Some(r.u16()?) } else { None })
}

fn entries_len(entries: &[Entry]) -> usize {
    entries.iter().map(Entry::encoded_len).sum()
}

fn put_entries(w: &mut Writer<'_>, first: u64, entries: &[Entry]) -> Result<(), CodecError> {
    w.u64(first)?;
    w.count(entries.len())?;
    entries.iter().try_for_each(|e| e.encode(w))
}

fn get_entries(r: &mut Reader<'_>) -> Result<(u64, Vec<Entry>), CodecError> {
    let first = r.u64()?;
    let n = r.count(1)?;
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        entries.push(Entry::decode(r)?);
    }
    Ok((first, entries))
}

/// Replicas a table of recovery epochs may name.
const MAX_EPOCHS: usize = 1024;

pub(crate) use crate::kit::image_codec::put_epochs;

/// A table of recovery epochs, one per replica.
pub(crate) fn get_epochs(r: &mut Reader<'_>) -> Result<Vec<u64>, CodecError> {
    image_codec::get_epochs(r, MAX_EPOCHS)
}

/// A replica's VIEW-CHANGE: what the new leader needs to merge logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewChangeImage {
    pub last_normal_view: ViewId,
    /// OUM session of the last normal view.
    pub oum_session: Option<u16>,
    /// Newest OUM session this replica has seen packets of.
    pub latest_oum_seen: Option<u16>,
    /// Slot of message 0 of `oum_session`: message m sits at slot `session_base + m`.
    pub session_base: u64,
    pub sync_point: u64,
    /// Slot of `entries[0]` (the slot after `sync_point` when the log reaches that far back).
    pub first_slot: u64,
    pub entries: Vec<Entry>,
    /// NO-OPs this replica acknowledged for slots beyond its log, as ranges `(first, last)`:
    /// they win the merge too.
    pub noops_ahead: Vec<(u64, u64)>,
    /// The highest recovery epoch the sender knows of each replica, its own included (the
    /// recovery fence: a report whose sender's epoch is below one its leader knows was sent
    /// before the sender lost its memory, and is not counted).
    pub epochs: Vec<u64>,
}

impl ViewChangeImage {
    pub fn encode(&self) -> Vec<u8> {
        encode_to_vec(
            80 + entries_len(&self.entries) + 16 * self.noops_ahead.len() + 8 * self.epochs.len(),
            |w| {
                self.last_normal_view.encode(w)?;
                put_session(w, self.oum_session)?;
                put_session(w, self.latest_oum_seen)?;
                w.u64(self.session_base)?;
                w.u64(self.sync_point)?;
                put_entries(w, self.first_slot, &self.entries)?;
                w.count(self.noops_ahead.len())?;
                self.noops_ahead.iter().try_for_each(|(first, last)| {
                    w.u64(*first)?;
                    w.u64(*last)
                })?;
                put_epochs(w, &self.epochs)
            },
        )
    }

    pub fn decode(bytes: &[u8]) -> Result<ViewChangeImage, CodecError> {
        let mut r = Reader::new(bytes);
        let last_normal_view = ViewId::decode(&mut r)?;
        let oum_session = get_session(&mut r)?;
        let latest_oum_seen = get_session(&mut r)?;
        let session_base = r.u64()?;
        let sync_point = r.u64()?;
        let (first_slot, entries) = get_entries(&mut r)?;
        let n = r.count(16)?;
        let mut noops_ahead = Vec::with_capacity(n);
        for _ in 0..n {
            let (first, last) = (r.u64()?, r.u64()?);
            if last < first {
                return Err(invalid("NO-OP range", first));
            }
            noops_ahead.push((first, last));
        }
        let epochs = get_epochs(&mut r)?;
        r.finish()?;
        Ok(ViewChangeImage {
            last_normal_view,
            oum_session,
            latest_oum_seen,
            session_base,
            sync_point,
            first_slot,
            entries,
            noops_ahead,
            epochs,
        })
    }

    /// Last slot in the image.
    pub fn end(&self) -> u64 {
        self.first_slot + self.entries.len() as u64 - 1
    }
}

/// The new leader's START-VIEW: the merged log and where OUM delivery resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartViewImage {
    pub oum_session: Option<u16>,
    pub session_base: u64,
    /// Highest sync point among the merged logs: slots up to it are stable.
    pub sync_point: u64,
    pub first_slot: u64,
    pub entries: Vec<Entry>,
}

impl StartViewImage {
    pub fn encode(&self) -> Vec<u8> {
        encode_to_vec(64 + entries_len(&self.entries), |w| {
            put_session(w, self.oum_session)?;
            w.u64(self.session_base)?;
            w.u64(self.sync_point)?;
            put_entries(w, self.first_slot, &self.entries)
        })
    }

    pub fn decode(bytes: &[u8]) -> Result<StartViewImage, CodecError> {
        let mut r = Reader::new(bytes);
        let oum_session = get_session(&mut r)?;
        let session_base = r.u64()?;
        let sync_point = r.u64()?;
        let (first_slot, entries) = get_entries(&mut r)?;
        r.finish()?;
        Ok(StartViewImage {
            oum_session,
            session_base,
            sync_point,
            first_slot,
            entries,
        })
    }

    pub fn end(&self) -> u64 {
        self.first_slot + self.entries.len() as u64 - 1
    }
}

/// A whole replica's state for a state transfer: the application at `exec_point`, the log
/// (whose executed part lets the receiver detect a later rollback), and the OUM position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateImage {
    pub view: ViewId,
    pub oum_session: Option<u16>,
    pub session_base: u64,
    pub sync_point: u64,
    pub exec_point: u64,
    /// Every NO-OP the leader committed up to this slot is in `entries`.
    pub noops_applied: u64,
    pub first_slot: u64,
    pub entries: Vec<Entry>,
    pub machine: Vec<u8>,
}

impl StateImage {
    pub fn encode(&self) -> Vec<u8> {
        encode_to_vec(96 + entries_len(&self.entries) + self.machine.len(), |w| {
            self.view.encode(w)?;
            put_session(w, self.oum_session)?;
            w.u64(self.session_base)?;
            w.u64(self.sync_point)?;
            w.u64(self.exec_point)?;
            w.u64(self.noops_applied)?;
            put_entries(w, self.first_slot, &self.entries)?;
            w.bytes(&self.machine)
        })
    }

    pub fn decode(bytes: &[u8]) -> Result<StateImage, CodecError> {
        let mut r = Reader::new(bytes);
        let view = ViewId::decode(&mut r)?;
        let oum_session = get_session(&mut r)?;
        let session_base = r.u64()?;
        let sync_point = r.u64()?;
        let exec_point = r.u64()?;
        let noops_applied = r.u64()?;
        let (first_slot, entries) = get_entries(&mut r)?;
        let machine = r.bytes()?.to_vec();
        r.finish()?;
        Ok(StateImage {
            view,
            oum_session,
            session_base,
            sync_point,
            exec_point,
            noops_applied,
            first_slot,
            entries,
            machine,
        })
    }

    pub fn end(&self) -> u64 {
        self.first_slot + self.entries.len() as u64 - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nopaxos::types::Request;

    fn entries() -> Vec<Entry> {
        vec![
            Entry::NoOp,
            Entry::Request(Request {
                client: 1,
                request: 2,
                reply_to: "1.2.3.4:5".parse().unwrap(),
                op: vec![9; 300],
            }),
        ]
    }

    #[test]
    fn images_round_trip_and_reject_truncation() {
        let vc = ViewChangeImage {
            last_normal_view: ViewId {
                leader_num: 2,
                session_num: 1,
            },
            oum_session: Some(5),
            latest_oum_seen: Some(6),
            session_base: 10,
            sync_point: 12,
            first_slot: 13,
            entries: entries(),
            noops_ahead: vec![(20, 21), (30, 60_029)],
            epochs: vec![0, 3, 1],
        };
        let bytes = vc.encode();
        assert_eq!(ViewChangeImage::decode(&bytes).unwrap(), vc);
        for len in 0..bytes.len() {
            assert!(ViewChangeImage::decode(&bytes[..len]).is_err(), "at {len}");
        }
        assert_eq!(vc.end(), 14);
        let sv = StartViewImage {
            oum_session: None,
            session_base: 0,
            sync_point: 0,
            first_slot: 1,
            entries: entries(),
        };
        assert_eq!(StartViewImage::decode(&sv.encode()).unwrap(), sv);
        let st = StateImage {
            view: ViewId::INITIAL,
            oum_session: Some(1),
            session_base: 3,
            sync_point: 4,
            exec_point: 6,
            noops_applied: 6,
            first_slot: 5,
            entries: entries(),
            machine: vec![1, 2, 3],
        };
        let bytes = st.encode();
        assert_eq!(StateImage::decode(&bytes).unwrap(), st);
        for len in 0..bytes.len() {
            assert!(StateImage::decode(&bytes[..len]).is_err());
        }
    }
}
