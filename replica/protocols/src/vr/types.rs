//! Log entries and the log of Viewstamped Replication. Op numbers count requests (one per
//! slot, from 1), so a batch of k requests occupies k consecutive op numbers; the agreement
//! checks then compare requests slot by slot, whatever batches they travelled in.

use std::collections::VecDeque;
use std::net::SocketAddrV4;

use crate::codec::{CodecError, Reader, Writer};
use crate::{ClientId, EntryId, RequestId};

/// Bytes an entry takes on the wire besides its operation: client, request, reply address,
/// operation length.
pub const ENTRY_OVERHEAD: usize = 8 + 8 + 6 + 4;

/// A client request as logged. `reply_to` is the address the request came from, so that a
/// primary of a later view can answer the client when it executes the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub client: ClientId,
    pub request: RequestId,
    pub reply_to: SocketAddrV4,
    pub op: Vec<u8>,
}

impl Entry {
    pub fn id(&self) -> EntryId {
        EntryId::Request {
            client: self.client,
            request: self.request,
        }
    }

    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        encode_entry(w, self.client, self.request, self.reply_to, &self.op)
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Entry, CodecError> {
        let e = EntryRef::decode(r)?;
        Ok(Entry {
            client: e.client,
            request: e.request,
            reply_to: e.reply_to,
            op: e.op.to_vec(),
        })
    }

    /// Bytes this entry takes encoded.
    pub fn encoded_len(&self) -> usize {
        ENTRY_OVERHEAD + self.op.len()
    }
}

/// An entry borrowed from a datagram (a PREPARE's batch), decoded without copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    pub client: ClientId,
    pub request: RequestId,
    pub reply_to: SocketAddrV4,
    pub op: &'a [u8],
}

impl<'a> EntryRef<'a> {
    pub fn decode(r: &mut Reader<'a>) -> Result<EntryRef<'a>, CodecError> {
        Ok(EntryRef {
            client: r.u64()?,
            request: r.u64()?,
            reply_to: r.addr()?,
            op: r.bytes()?,
        })
    }
}

pub(crate) fn encode_entry(
    w: &mut Writer<'_>,
    client: ClientId,
    request: RequestId,
    reply_to: SocketAddrV4,
    op: &[u8],
) -> Result<(), CodecError> {
    w.u64(client)?;
    w.u64(request)?;
    w.addr(reply_to)?;
    w.bytes(op)
}

/// The replica's log: op numbers from 1, kept from `start` on. Entries at or below the
/// execution point minus the configured window are dropped (checkpointing: the application
/// state stands for them, and state transfer sends it with the log suffix).
#[derive(Debug, Clone, Default)]
pub struct Log {
    /// Op number of `entries[0]`.
    start: u64,
    entries: VecDeque<Entry>,
}

impl Log {
    /// An empty log whose next op number is `next`.
    pub fn starting_at(next: u64) -> Log {
        Log {
            start: next.max(1),
            entries: VecDeque::new(),
        }
    }

    /// First op number still kept.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Last op number (`start - 1` when empty).
    pub fn end(&self) -> u64 {
        self.start + self.entries.len() as u64 - 1
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, op: u64) -> Option<&Entry> {
        let i = op.checked_sub(self.start)?;
        self.entries.get(usize::try_from(i).ok()?)
    }

    /// Appends at `end() + 1`; returns that op number.
    pub fn append(&mut self, entry: Entry) -> u64 {
        self.entries.push_back(entry);
        self.end()
    }

    /// Drops op numbers before `op` (keeps `op` and later), handing each dropped entry to
    /// `recycle`.
    pub fn truncate_before_with(&mut self, op: u64, mut recycle: impl FnMut(Entry)) {
        while self.start < op {
            let Some(e) = self.entries.pop_front() else {
                break;
            };
            recycle(e);
            self.start += 1;
        }
        if self.entries.is_empty() && self.start < op {
            self.start = op;
        }
    }

    /// Drops op numbers after `op`, handing each dropped entry to `recycle`.
    pub fn truncate_after_with(&mut self, op: u64, mut recycle: impl FnMut(Entry)) {
        while self.end() > op {
            let Some(e) = self.entries.pop_back() else {
                break;
            };
            recycle(e);
        }
    }

    /// Op numbers and entries from `from` (or the start) to the end.
    pub fn iter_from(&self, from: u64) -> impl Iterator<Item = (u64, &Entry)> + '_ {
        let skip = usize::try_from(from.saturating_sub(self.start)).unwrap_or(usize::MAX);
        self.entries
            .iter()
            .enumerate()
            .skip(skip)
            .map(move |(i, e)| (self.start + i as u64, e))
    }

    /// Entries `from..=to` (clamped to what is kept).
    pub fn range(&self, from: u64, to: u64) -> impl Iterator<Item = &Entry> + '_ {
        let n = to.saturating_sub(from.max(self.start)).saturating_add(1);
        let n = if to < from.max(self.start) {
            0
        } else {
            usize::try_from(n).unwrap_or(usize::MAX)
        };
        self.iter_from(from).take(n).map(|(_, e)| e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(request: u64) -> Entry {
        Entry {
            client: 1,
            request,
            reply_to: "127.0.0.1:9".parse().unwrap(),
            op: vec![request as u8],
        }
    }

    #[test]
    fn op_numbers_truncation_and_ranges() {
        let mut log = Log::starting_at(1);
        assert_eq!(log.end(), 0);
        for i in 1..=5 {
            assert_eq!(log.append(entry(i)), i);
        }
        log.truncate_before_with(3, drop);
        assert_eq!((log.start(), log.end()), (3, 5));
        assert!(log.get(2).is_none());
        assert_eq!(log.get(3).unwrap().request, 3);
        let r: Vec<u64> = log.range(2, 4).map(|e| e.request).collect();
        assert_eq!(r, vec![3, 4]);
        assert_eq!(log.range(5, 4).count(), 0);
        assert_eq!(log.range(6, 9).count(), 0);
        let mut dropped = Vec::new();
        log.truncate_after_with(3, |e| dropped.push(e.request));
        assert_eq!(dropped, vec![5, 4]);
        assert_eq!(log.end(), 3);
        log.truncate_before_with(10, drop);
        assert_eq!((log.start(), log.end(), log.len()), (10, 9, 0));
        assert_eq!(log.append(entry(10)), 10);
    }
}
