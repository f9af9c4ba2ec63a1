//! The client table: each client's latest request and its result, so a retried request is
//! answered from the table instead of executed twice (at-most-once semantics).

use std::collections::BTreeMap;

use crate::codec::{CodecError, Reader};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Entry {
    request: u64,
    result: Vec<u8>,
}

/// Latest request and result per client. Clients number their requests 1, 2, 3, ... and
/// have at most one outstanding, so one entry per client suffices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTable {
    entries: BTreeMap<u64, Entry>,
}

pub(super) enum Check {
    New,
    Duplicate,
    Stale,
}

/// What executing a request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Execution<'a> {
    /// Executed now; the result.
    Executed(&'a [u8]),
    /// Executed before; the recorded result.
    Duplicate(&'a [u8]),
    /// Older than the client's latest request: not executed, nothing to answer.
    Stale,
}

impl Execution<'_> {
    pub fn result(&self) -> Option<&[u8]> {
        match *self {
            Execution::Executed(r) | Execution::Duplicate(r) => Some(r),
            Execution::Stale => None,
        }
    }
}

impl ClientTable {
    pub(super) fn check(&self, client: u64, request: u64) -> Check {
        match self.entries.get(&client) {
            None => Check::New,
            Some(e) if request > e.request => Check::New,
            Some(e) if request == e.request => Check::Duplicate,
            Some(_) => Check::Stale,
        }
    }

    /// The client's previous result buffer, emptied, to reuse its allocation.
    pub(super) fn take_buffer(&mut self, client: u64) -> Vec<u8> {
        let mut buf = self
            .entries
            .get_mut(&client)
            .map(|e| std::mem::take(&mut e.result))
            .unwrap_or_default();
        buf.clear();
        buf
    }

    pub(super) fn record(&mut self, client: u64, request: u64, result: Vec<u8>) -> Execution<'_> {
        let entry = self.entries.entry(client).or_default();
        entry.request = request;
        entry.result = result;
        Execution::Executed(&entry.result)
    }

    pub(super) fn cached(&self, client: u64) -> Execution<'_> {
        match self.entries.get(&client) {
            Some(e) => Execution::Duplicate(&e.result),
            None => Execution::Stale,
        }
    }

    pub fn result_of(&self, client: u64, request: u64) -> Option<&[u8]> {
        self.entries
            .get(&client)
            .filter(|e| e.request == request)
            .map(|e| e.result.as_slice())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(super) fn snapshot(&self, out: &mut Vec<u8>) {
        super::write_section(out, |out| {
            out.extend_from_slice(&(self.entries.len() as u32).to_be_bytes());
            for (client, e) in &self.entries {
                out.extend_from_slice(&client.to_be_bytes());
                out.extend_from_slice(&e.request.to_be_bytes());
                out.extend_from_slice(&(e.result.len() as u32).to_be_bytes());
                out.extend_from_slice(&e.result);
            }
        });
    }

    /// Reads a table written by `snapshot`; returns it and the bytes after it.
    pub(super) fn restore(bytes: &[u8]) -> Result<(ClientTable, &[u8]), CodecError> {
        let mut r = Reader::new(bytes);
        let section = r.bytes()?;
        let rest = bytes.get(4 + section.len()..).unwrap_or(&[]);
        let mut r = Reader::new(section);
        let n = r.count(20)?;
        let mut entries = BTreeMap::new();
        for _ in 0..n {
            let client = r.u64()?;
            let request = r.u64()?;
            let result = r.bytes()?.to_vec();
            entries.insert(client, Entry { request, result });
        }
        r.finish()?;
        Ok((ClientTable { entries }, rest))
    }

    pub(super) fn digest(&self) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        for (client, e) in &self.entries {
            eat(&client.to_be_bytes());
            eat(&e.request.to_be_bytes());
            eat(&e.result);
        }
        h
    }
}
