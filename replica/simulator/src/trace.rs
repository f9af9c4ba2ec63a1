//! `--verbose` output: one line per event of a single run, with its virtual time.

use std::fmt;
use std::io::Write;

use dataplane::wire::{ENVELOPE_MAGIC, OUM_PREAMBLE};

use crate::time::Time;
use protocols::app::kv::{KvOp, KvResult};

/// Where trace lines go, and how many: level 1 traces faults, operations and replica role
/// changes; level 2 adds every datagram delivered.
pub(crate) struct Trace<'a> {
    level: u8,
    out: Option<&'a mut dyn Write>,
}

impl fmt::Debug for Trace<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("level", &self.level)
            .field("enabled", &self.out.is_some())
            .finish()
    }
}

impl<'a> Trace<'a> {
    pub(crate) fn new(level: u8, out: Option<&'a mut dyn Write>) -> Trace<'a> {
        let level = if out.is_some() { level } else { 0 };
        Trace { level, out }
    }

    /// Whether lines of `level` are written; check it before formatting anything costly.
    pub(crate) fn on(&self, level: u8) -> bool {
        self.level >= level && self.out.is_some()
    }

    pub(crate) fn line(&mut self, now: Time, args: fmt::Arguments<'_>) {
        if let Some(out) = self.out.as_mut() {
            let _ = writeln!(out, "{now} {args}");
        }
    }
}

/// Bytes as text when printable, else hex.
pub(crate) fn show_bytes(b: &[u8]) -> String {
    if b.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        String::from_utf8_lossy(b).into_owned()
    } else {
        b.iter().map(|c| format!("{c:02x}")).collect()
    }
}

fn show_option(b: Option<&[u8]>) -> String {
    b.map_or_else(|| "-".to_string(), |b| format!("{:?}", show_bytes(b)))
}

/// A key-value operation, readably.
pub(crate) fn show_op(op: &[u8]) -> String {
    match KvOp::decode(op) {
        Ok(KvOp::Get { key }) => format!("get {}", show_bytes(key)),
        Ok(KvOp::Put { key, value }) => format!("put {} {:?}", show_bytes(key), show_bytes(value)),
        Ok(KvOp::Append { key, value }) => {
            format!("append {} {:?}", show_bytes(key), show_bytes(value))
        }
        Ok(KvOp::Cas { key, expected, new }) => format!(
            "cas {} {} -> {:?}",
            show_bytes(key),
            show_option(expected),
            show_bytes(new)
        ),
        Err(_) => format!("op {}", show_bytes(op)),
    }
}

/// A key-value result, readably.
pub(crate) fn show_result(result: &[u8]) -> String {
    match KvResult::decode(result) {
        Ok(KvResult::Value(v)) => format!("value {}", show_option(v.as_deref())),
        Ok(KvResult::Done) => "done".to_string(),
        Ok(KvResult::Appended(v)) => format!("appended {:?}", show_bytes(&v)),
        Ok(KvResult::Cas { swapped, found }) => {
            format!(
                "cas swapped={swapped} found {}",
                show_option(found.as_deref())
            )
        }
        Ok(KvResult::BadOp) => "bad op".to_string(),
        Err(_) => format!("result {}", show_bytes(result)),
    }
}

/// What a datagram is, from its first bytes: an OUM packet with its stamp, one of our
/// enveloped messages with its type, or something else.
pub(crate) fn show_datagram(d: &[u8]) -> String {
    if d.starts_with(&OUM_PREAMBLE) && d.len() >= 16 {
        let size = u16::from_be_bytes([d[4], d[5]]);
        let session = u16::from_be_bytes([d[6], d[7]]);
        let mut n = [0u8; 8];
        n.copy_from_slice(&d[8..16]);
        let inner = show_datagram(&d[16..]);
        if size == 0 {
            format!("oum unsequenced [{inner}]")
        } else {
            format!(
                "oum session={session} msgnum={} [{inner}]",
                u64::from_be_bytes(n)
            )
        }
    } else if d.starts_with(&ENVELOPE_MAGIC) && d.len() > 5 {
        format!("msg type=0x{:02x} len={}", d[5], d.len())
    } else {
        format!("raw len={}", d.len())
    }
}
