//! The session query: how a starting sequencer learns the newest OUM session the replicas
//! have seen, so it never starts with an old one when its state file is gone (issue 13; the
//! original's defect 3 wedged the group that way).
//!
//! A sequencer sends a query to each replica's address; every replica process answers from
//! its I/O loop, whatever protocol it runs, with the newest session it has seen (or none).
//! Both are 20-byte datagrams with their own magic, so neither an OUM header nor our
//! envelope can be taken for one (docs/wire-format.md, "The session query"):
//!
//! | offset | size | field | value |
//! |---|---|---|---|
//! | 0 | 4 | magic | `4f 55 4d 53` ("OUMS") |
//! | 4 | 1 | version | 1 |
//! | 5 | 1 | kind | 1 query, 2 answer |
//! | 6 | 2 | flags | answer: bit 0 set when a session was seen; otherwise 0 |
//! | 8 | 8 | nonce | the query's, echoed by the answer |
//! | 16 | 2 | session | the newest session seen (answer with bit 0), else 0 |
//! | 18 | 2 | replica | the answering replica's index (answer), else 0 |

use std::cmp::Ordering;

use zerocopy::network_endian::{U16, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::SessionNumber;

pub const SESSION_QUERY_MAGIC: [u8; 4] = *b"OUMS";
pub const SESSION_QUERY_VERSION: u8 = 1;
pub const SESSION_QUERY_LEN: usize = 20;

const KIND_QUERY: u8 = 1;
const KIND_ANSWER: u8 = 2;
const FLAG_SEEN: u16 = 1;

#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct Layout {
    magic: [u8; 4],
    version: u8,
    kind: u8,
    flags: U16,
    nonce: U64,
    session: U16,
    replica: U16,
}

/// A session query or its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionQuery {
    /// "Which is the newest session you have seen?"
    Query { nonce: u64 },
    /// Replica `replica`'s newest session, `None` when it has seen none yet.
    Answer {
        nonce: u64,
        replica: u16,
        newest: Option<SessionNumber>,
    },
}

impl SessionQuery {
    /// Whether `bytes` start like a session query or answer: a cheap test for a receive
    /// loop, before [`SessionQuery::parse`].
    pub fn looks_like(bytes: &[u8]) -> bool {
        bytes.starts_with(&SESSION_QUERY_MAGIC)
    }

    /// Decodes a query or answer; `None` for anything else (wrong magic, version or kind,
    /// flags that mean nothing, a wrong length). Never panics.
    pub fn parse(bytes: &[u8]) -> Option<SessionQuery> {
        let (l, rest) = Layout::ref_from_prefix(bytes).ok()?;
        if !rest.is_empty() || l.magic != SESSION_QUERY_MAGIC {
            return None;
        }
        if l.version != SESSION_QUERY_VERSION {
            return None;
        }
        let nonce = l.nonce.get();
        match (l.kind, l.flags.get()) {
            (KIND_QUERY, 0) if l.session.get() == 0 && l.replica.get() == 0 => {
                Some(SessionQuery::Query { nonce })
            }
            (KIND_ANSWER, f) if f & !FLAG_SEEN == 0 => {
                let seen = f & FLAG_SEEN != 0;
                if !seen && l.session.get() != 0 {
                    return None;
                }
                Some(SessionQuery::Answer {
                    nonce,
                    replica: l.replica.get(),
                    newest: seen.then(|| SessionNumber(l.session.get())),
                })
            }
            _ => None,
        }
    }

    /// The 20 bytes on the wire.
    pub fn to_bytes(&self) -> [u8; SESSION_QUERY_LEN] {
        let (kind, flags, nonce, session, replica) = match *self {
            SessionQuery::Query { nonce } => (KIND_QUERY, 0, nonce, 0, 0),
            SessionQuery::Answer {
                nonce,
                replica,
                newest,
            } => (
                KIND_ANSWER,
                if newest.is_some() { FLAG_SEEN } else { 0 },
                nonce,
                newest.map_or(0, |s| s.0),
                replica,
            ),
        };
        let layout = Layout {
            magic: SESSION_QUERY_MAGIC,
            version: SESSION_QUERY_VERSION,
            kind,
            flags: U16::new(flags),
            nonce: U64::new(nonce),
            session: U16::new(session),
            replica: U16::new(replica),
        };
        let mut out = [0u8; SESSION_QUERY_LEN];
        out.copy_from_slice(layout.as_bytes());
        out
    }
}

/// The newer of two sessions by serial-number arithmetic; `None` only when both are.
pub fn newest_session(a: Option<SessionNumber>, b: Option<SessionNumber>) -> Option<SessionNumber> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y.serial_cmp(x) == Ordering::Greater {
            y
        } else {
            x
        }),
        (x, None) => x,
        (None, y) => y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_answers_round_trip_on_fixed_bytes() {
        let q = SessionQuery::Query {
            nonce: 0x0102_0304_0506_0708,
        };
        let bytes = q.to_bytes();
        assert_eq!(
            bytes,
            [
                0x4f, 0x55, 0x4d, 0x53, 1, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0
            ]
        );
        assert_eq!(SessionQuery::parse(&bytes), Some(q));
        let a = SessionQuery::Answer {
            nonce: 9,
            replica: 2,
            newest: Some(SessionNumber(0xbeef)),
        };
        let bytes = a.to_bytes();
        assert_eq!(&bytes[4..8], &[1, 2, 0, 1]);
        assert_eq!(&bytes[16..], &[0xbe, 0xef, 0, 2]);
        assert_eq!(SessionQuery::parse(&bytes), Some(a));
        let none = SessionQuery::Answer {
            nonce: 9,
            replica: 0,
            newest: None,
        };
        assert_eq!(SessionQuery::parse(&none.to_bytes()), Some(none));
    }

    #[test]
    fn anything_else_is_refused_never_a_panic() {
        let good = SessionQuery::Answer {
            nonce: 1,
            replica: 1,
            newest: Some(SessionNumber(3)),
        }
        .to_bytes();
        for len in 0..good.len() {
            assert_eq!(SessionQuery::parse(&good[..len]), None, "{len}");
        }
        let mut longer = good.to_vec();
        longer.push(0);
        assert_eq!(SessionQuery::parse(&longer), None);
        for (at, value) in [(0, b'X'), (4, 2), (5, 3), (6, 0x80), (7, 2)] {
            let mut bad = good;
            bad[at] = value;
            assert_eq!(SessionQuery::parse(&bad), None, "byte {at} = {value}");
        }
        // An answer that saw no session must not name one.
        let mut bad = good;
        bad[7] = 0;
        assert_eq!(SessionQuery::parse(&bad), None);
        // An OUM header and our envelope are not queries.
        assert!(!SessionQuery::looks_like(&[0x18, 0x03, 0x05, 0x20, 0, 0]));
        assert!(!SessionQuery::looks_like(b"NOPX\x01"));
    }

    #[test]
    fn the_newest_session_follows_serial_arithmetic() {
        let s = |n| Some(SessionNumber(n));
        assert_eq!(newest_session(s(5), s(40000)), s(5));
        assert_eq!(newest_session(s(5), s(32000)), s(32000));
        assert_eq!(newest_session(s(65535), s(0)), s(0));
        assert_eq!(newest_session(None, s(7)), s(7));
        assert_eq!(newest_session(s(7), None), s(7));
        assert_eq!(newest_session(None, None), None);
    }
}
