//! A replicated key-value store: get, put, append and compare-and-swap. Append and
//! compare-and-swap return results that depend on the order of earlier writes, so a
//! linearizability violation becomes visible in client histories.

use std::collections::BTreeMap;

use super::App;
use crate::codec::{CodecError, Reader};

/// An operation, borrowing its keys and values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvOp<'a> {
    Get {
        key: &'a [u8],
    },
    Put {
        key: &'a [u8],
        value: &'a [u8],
    },
    /// Appends `value` to the key's value (an absent key counts as empty); returns the new value.
    Append {
        key: &'a [u8],
        value: &'a [u8],
    },
    /// Sets the key to `new` if its value is `expected` (`None`: absent).
    Cas {
        key: &'a [u8],
        expected: Option<&'a [u8]>,
        new: &'a [u8],
    },
}

/// The result of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvResult {
    /// The value read by a get.
    Value(Option<Vec<u8>>),
    /// A put took effect.
    Done,
    /// The value after an append.
    Appended(Vec<u8>),
    /// Whether a compare-and-swap swapped, and the value it found.
    Cas {
        swapped: bool,
        found: Option<Vec<u8>>,
    },
    /// The operation bytes were not a valid operation.
    BadOp,
}

const GET: u8 = 1;
const PUT: u8 = 2;
const APPEND: u8 = 3;
const CAS: u8 = 4;

const R_VALUE: u8 = 1;
const R_DONE: u8 = 2;
const R_APPENDED: u8 = 3;
const R_CAS: u8 = 4;
const R_BAD_OP: u8 = 0xff;

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn put_option(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            out.push(1);
            put_bytes(out, b);
        }
        None => out.push(0),
    }
}

fn read_option<'a>(r: &mut Reader<'a>) -> Result<Option<&'a [u8]>, CodecError> {
    Ok(if r.bool()? { Some(r.bytes()?) } else { None })
}

impl<'a> KvOp<'a> {
    pub fn key(&self) -> &'a [u8] {
        match *self {
            KvOp::Get { key }
            | KvOp::Put { key, .. }
            | KvOp::Append { key, .. }
            | KvOp::Cas { key, .. } => key,
        }
    }

    pub fn is_read_only(&self) -> bool {
        matches!(self, KvOp::Get { .. })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            KvOp::Get { key } => {
                out.push(GET);
                put_bytes(out, key);
            }
            KvOp::Put { key, value } => {
                out.push(PUT);
                put_bytes(out, key);
                put_bytes(out, value);
            }
            KvOp::Append { key, value } => {
                out.push(APPEND);
                put_bytes(out, key);
                put_bytes(out, value);
            }
            KvOp::Cas { key, expected, new } => {
                out.push(CAS);
                put_bytes(out, key);
                put_option(out, expected);
                put_bytes(out, new);
            }
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    pub fn decode(bytes: &'a [u8]) -> Result<KvOp<'a>, CodecError> {
        let mut r = Reader::new(bytes);
        let op = match r.u8()? {
            GET => KvOp::Get { key: r.bytes()? },
            PUT => KvOp::Put {
                key: r.bytes()?,
                value: r.bytes()?,
            },
            APPEND => KvOp::Append {
                key: r.bytes()?,
                value: r.bytes()?,
            },
            CAS => KvOp::Cas {
                key: r.bytes()?,
                expected: read_option(&mut r)?,
                new: r.bytes()?,
            },
            tag => {
                return Err(CodecError::Invalid {
                    field: "key-value operation",
                    value: u64::from(tag),
                });
            }
        };
        r.finish()?;
        Ok(op)
    }
}

impl KvResult {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            KvResult::Value(v) => {
                out.push(R_VALUE);
                put_option(out, v.as_deref());
            }
            KvResult::Done => out.push(R_DONE),
            KvResult::Appended(v) => {
                out.push(R_APPENDED);
                put_bytes(out, v);
            }
            KvResult::Cas { swapped, found } => {
                out.push(R_CAS);
                out.push(u8::from(*swapped));
                put_option(out, found.as_deref());
            }
            KvResult::BadOp => out.push(R_BAD_OP),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<KvResult, CodecError> {
        let mut r = Reader::new(bytes);
        let result = match r.u8()? {
            R_VALUE => KvResult::Value(read_option(&mut r)?.map(<[u8]>::to_vec)),
            R_DONE => KvResult::Done,
            R_APPENDED => KvResult::Appended(r.bytes()?.to_vec()),
            R_CAS => KvResult::Cas {
                swapped: r.bool()?,
                found: read_option(&mut r)?.map(<[u8]>::to_vec),
            },
            R_BAD_OP => KvResult::BadOp,
            tag => {
                return Err(CodecError::Invalid {
                    field: "key-value result",
                    value: u64::from(tag),
                });
            }
        };
        r.finish()?;
        Ok(result)
    }
}

/// The key-value store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvStore {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl KvStore {
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.map.get(key).map(Vec::as_slice)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Applies a decoded operation.
    pub fn apply(&mut self, op: KvOp<'_>) -> KvResult {
        match op {
            KvOp::Get { key } => KvResult::Value(self.map.get(key).cloned()),
            KvOp::Put { key, value } => {
                match self.map.get_mut(key) {
                    Some(v) => {
                        v.clear();
                        v.extend_from_slice(value);
                    }
                    None => {
                        self.map.insert(key.to_vec(), value.to_vec());
                    }
                }
                KvResult::Done
            }
            KvOp::Append { key, value } => {
                let v = match self.map.get_mut(key) {
                    Some(v) => v,
                    None => self.map.entry(key.to_vec()).or_default(),
                };
                v.extend_from_slice(value);
                KvResult::Appended(v.clone())
            }
            KvOp::Cas { key, expected, new } => {
                let found = self.map.get(key).cloned();
                let swapped = found.as_deref() == expected;
                if swapped {
                    self.map.insert(key.to_vec(), new.to_vec());
                }
                KvResult::Cas { swapped, found }
            }
        }
    }
}

impl App for KvStore {
    fn execute(&mut self, op: &[u8], result: &mut Vec<u8>) {
        let outcome = match KvOp::decode(op) {
            Ok(op) => self.apply(op),
            Err(_) => KvResult::BadOp,
        };
        outcome.encode(result);
    }

    fn snapshot(&self, out: &mut Vec<u8>) {
        super::write_section(out, |out| {
            out.extend_from_slice(&(self.map.len() as u32).to_be_bytes());
            for (k, v) in &self.map {
                put_bytes(out, k);
                put_bytes(out, v);
            }
        });
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), CodecError> {
        let mut outer = Reader::new(snapshot);
        let section = outer.bytes()?;
        outer.finish()?;
        let mut r = Reader::new(section);
        let n = r.count(8)?;
        let mut map = BTreeMap::new();
        for _ in 0..n {
            let k = r.bytes()?.to_vec();
            let v = r.bytes()?.to_vec();
            map.insert(k, v);
        }
        r.finish()?;
        self.map = map;
        Ok(())
    }

    fn digest(&self) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for (k, v) in &self.map {
            for &b in (k.len() as u32)
                .to_be_bytes()
                .iter()
                .chain(k)
                .chain(&(v.len() as u32).to_be_bytes())
                .chain(v)
            {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::StateMachine;

    fn run(kv: &mut KvStore, op: KvOp<'_>) -> KvResult {
        let mut out = Vec::new();
        kv.execute(&op.to_bytes(), &mut out);
        KvResult::decode(&out).unwrap()
    }

    #[test]
    fn operations_behave() {
        let mut kv = KvStore::default();
        assert_eq!(run(&mut kv, KvOp::Get { key: b"k" }), KvResult::Value(None));
        assert_eq!(
            run(
                &mut kv,
                KvOp::Append {
                    key: b"k",
                    value: b"a"
                }
            ),
            KvResult::Appended(b"a".to_vec())
        );
        assert_eq!(
            run(
                &mut kv,
                KvOp::Append {
                    key: b"k",
                    value: b"b"
                }
            ),
            KvResult::Appended(b"ab".to_vec())
        );
        assert_eq!(
            run(
                &mut kv,
                KvOp::Cas {
                    key: b"k",
                    expected: Some(b"x"),
                    new: b"z"
                }
            ),
            KvResult::Cas {
                swapped: false,
                found: Some(b"ab".to_vec())
            }
        );
        assert_eq!(
            run(
                &mut kv,
                KvOp::Cas {
                    key: b"k",
                    expected: Some(b"ab"),
                    new: b"z"
                }
            ),
            KvResult::Cas {
                swapped: true,
                found: Some(b"ab".to_vec())
            }
        );
        assert_eq!(
            run(
                &mut kv,
                KvOp::Put {
                    key: b"k",
                    value: b"p"
                }
            ),
            KvResult::Done
        );
        assert_eq!(
            run(&mut kv, KvOp::Get { key: b"k" }),
            KvResult::Value(Some(b"p".to_vec()))
        );
        assert_eq!(
            run(
                &mut kv,
                KvOp::Cas {
                    key: b"new",
                    expected: None,
                    new: b"1"
                }
            ),
            KvResult::Cas {
                swapped: true,
                found: None
            }
        );
    }

    #[test]
    fn bad_operations_get_an_error_result_not_a_panic() {
        let mut kv = KvStore::default();
        for bad in [&[][..], &[9], &[GET, 0, 0, 0, 9], &[PUT, 0, 0, 0, 1, b'k']] {
            let mut out = Vec::new();
            kv.execute(bad, &mut out);
            assert_eq!(KvResult::decode(&out).unwrap(), KvResult::BadOp);
        }
        assert!(kv.is_empty());
    }

    #[test]
    fn encodings_round_trip() {
        let ops = [
            KvOp::Get { key: b"a" },
            KvOp::Put {
                key: b"a",
                value: b"",
            },
            KvOp::Append {
                key: b"",
                value: b"v",
            },
            KvOp::Cas {
                key: b"a",
                expected: None,
                new: b"n",
            },
            KvOp::Cas {
                key: b"a",
                expected: Some(b""),
                new: b"n",
            },
        ];
        for op in ops {
            assert_eq!(KvOp::decode(&op.to_bytes()).unwrap(), op);
        }
        let results = [
            KvResult::Value(None),
            KvResult::Value(Some(vec![])),
            KvResult::Done,
            KvResult::Appended(b"xy".to_vec()),
            KvResult::Cas {
                swapped: true,
                found: Some(b"q".to_vec()),
            },
            KvResult::BadOp,
        ];
        for r in results {
            assert_eq!(KvResult::decode(&r.to_bytes()).unwrap(), r);
        }
    }

    #[test]
    fn snapshots_restore_state_and_client_table() {
        let mut sm = StateMachine::new(KvStore::default());
        let put = KvOp::Put {
            key: b"k",
            value: b"v",
        }
        .to_bytes();
        let app = KvOp::Append {
            key: b"k",
            value: b"w",
        }
        .to_bytes();
        sm.execute(1, 1, &put);
        let first = sm.execute(2, 7, &app).result().unwrap().to_vec();
        let mut snap = Vec::new();
        sm.snapshot(&mut snap);
        let mut copy = StateMachine::new(KvStore::default());
        copy.restore(&snap).unwrap();
        assert_eq!(copy.digest(), sm.digest());
        assert_eq!(copy.app().get(b"k"), Some(&b"vw"[..]));
        // The client table came along: a retry is answered, not re-executed.
        assert_eq!(
            copy.execute(2, 7, &app),
            crate::app::Execution::Duplicate(&first)
        );
        assert_eq!(copy.app().get(b"k"), Some(&b"vw"[..]));
        assert!(copy.restore(&snap[..snap.len() - 1]).is_err());
    }

    #[test]
    fn at_most_once_execution() {
        let mut sm = StateMachine::new(KvStore::default());
        let op = KvOp::Append {
            key: b"k",
            value: b"x",
        }
        .to_bytes();
        assert!(matches!(
            sm.execute(5, 1, &op),
            crate::app::Execution::Executed(_)
        ));
        assert!(matches!(
            sm.execute(5, 1, &op),
            crate::app::Execution::Duplicate(_)
        ));
        assert!(matches!(
            sm.execute(5, 2, &op),
            crate::app::Execution::Executed(_)
        ));
        assert_eq!(sm.execute(5, 1, &op), crate::app::Execution::Stale);
        assert_eq!(sm.app().get(b"k"), Some(&b"xx"[..]));
        assert_eq!(sm.executed(), 2);
    }
}
