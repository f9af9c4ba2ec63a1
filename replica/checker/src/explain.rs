//! Human-readable reports: operations with their times and results, and why the search
//! could not go on.

use std::fmt::Write as _;

use super::history::HistoryOp;
use super::model::Values;
use super::search::{KeyOp, Stuck};
use protocols::app::kv::{KvOp, KvResult, KvStore};

/// Reports list every operation of the key up to this many; beyond, only the stuck point.
const LIST_ALL_UP_TO: usize = 40;
/// Longest value shown in full.
const SHOW_BYTES: usize = 48;

/// A byte string as a quoted string when printable, as hex otherwise; long ones shortened.
pub(super) fn bytes(b: &[u8]) -> String {
    let printable = b.iter().all(|c| (0x20..0x7f).contains(c));
    let piece = |part: &[u8]| -> String {
        if printable {
            part.iter()
                .map(|&c| match c {
                    b'"' => "\\\"".to_owned(),
                    b'\\' => "\\\\".to_owned(),
                    c => char::from(c).to_string(),
                })
                .collect()
        } else {
            part.iter().map(|c| format!("{c:02x}")).collect()
        }
    };
    let body = if b.len() <= SHOW_BYTES {
        piece(b)
    } else {
        let half = SHOW_BYTES / 2 - 4;
        format!(
            "{}…{} ({} bytes)",
            piece(&b[..half]),
            piece(&b[b.len() - half..]),
            b.len()
        )
    };
    if printable {
        format!("\"{body}\"")
    } else {
        format!("0x{body}")
    }
}

pub(super) fn value(v: Option<&[u8]>) -> String {
    v.map_or_else(|| "absent".to_owned(), bytes)
}

pub(super) fn op(op: &KvOp<'_>) -> String {
    match *op {
        KvOp::Get { key } => format!("get {}", bytes(key)),
        KvOp::Put { key, value } => format!("put {} {}", bytes(key), bytes(value)),
        KvOp::Append { key, value } => format!("append {} {}", bytes(key), bytes(value)),
        KvOp::Cas { key, expected, new } => format!(
            "cas {} expecting {} to {}",
            bytes(key),
            self::value(expected),
            bytes(new)
        ),
    }
}

pub(super) fn result(r: &KvResult) -> String {
    match r {
        KvResult::Value(v) => value(v.as_deref()),
        KvResult::Done => "done".to_owned(),
        KvResult::Appended(v) => bytes(v),
        KvResult::Cas { swapped, found } => format!(
            "{}, found {}",
            if *swapped { "swapped" } else { "not swapped" },
            value(found.as_deref())
        ),
        KvResult::BadOp => "bad operation".to_owned(),
    }
}

/// `#index client c [invoke, return] operation -> result`.
pub(super) fn entry(index: usize, h: &HistoryOp) -> String {
    let what = match KvOp::decode(&h.op) {
        Ok(o) => op(&o),
        Err(_) => format!("undecodable operation {}", bytes(&h.op)),
    };
    let outcome = match &h.result {
        None => "no answer".to_owned(),
        Some(r) => match KvResult::decode(r) {
            Ok(r) => result(&r),
            Err(_) => format!("undecodable result {}", bytes(r)),
        },
    };
    let ret = h.ret.map_or_else(|| "never".to_owned(), |t| t.to_string());
    format!(
        "#{index} client {} [{}, {ret}] {what} -> {outcome}",
        h.client, h.invoke
    )
}

/// Why a completed operation cannot be linearized when the value is `state`.
fn why_not(state: Option<&[u8]>, h: &HistoryOp) -> String {
    let (Ok(o), Some(Ok(actual))) = (
        KvOp::decode(&h.op),
        h.result.as_deref().map(KvResult::decode),
    ) else {
        return "malformed".to_owned();
    };
    let mut kv = KvStore::default();
    if let Some(v) = state {
        kv.apply(KvOp::Put {
            key: o.key(),
            value: v,
        });
    }
    let expected = kv.apply(o);
    if expected == actual {
        "fits that value, but no linearization of the rest follows from it".to_owned()
    } else {
        format!("would have returned {}", result(&expected))
    }
}

/// The explanation of a key that is not linearizable. `key_ops` maps the key's operations
/// (the search's numbering) to history indexes.
pub(super) fn violation(
    history: &[HistoryOp],
    key: &[u8],
    key_ops: &[usize],
    ops: &[KeyOp],
    values: &Values,
    stuck: &Stuck,
) -> String {
    let mut s = String::new();
    let pending = ops.iter().filter(|o| o.ret.is_none()).count();
    let _ = writeln!(
        s,
        "key {}: not linearizable ({} operations, {} without an answer)",
        bytes(key),
        ops.len(),
        pending
    );
    let _ = writeln!(
        s,
        "The longest partial linearization orders {} of {} completed operations.",
        stuck.linearized, stuck.completed
    );
    if !stuck.tail.is_empty() {
        let _ = writeln!(s, "Its last operations, with the value after each:");
        for &(o, after) in &stuck.tail {
            let i = key_ops[o];
            let _ = writeln!(
                s,
                "  {}  => {}",
                entry(i, &history[i]),
                value(values.get(after))
            );
        }
    }
    let state = values.get(stuck.state);
    let _ = writeln!(
        s,
        "With the value {}, no operation that could come next works:",
        value(state)
    );
    for &o in &stuck.candidates {
        let i = key_ops[o];
        let _ = writeln!(
            s,
            "  {}: {}",
            entry(i, &history[i]),
            why_not(state, &history[i])
        );
    }
    if key_ops.len() <= LIST_ALL_UP_TO {
        let _ = writeln!(s, "All operations of the key:");
        for &i in key_ops {
            let _ = writeln!(s, "  {}", entry(i, &history[i]));
        }
    }
    s.truncate(s.trim_end().len());
    s
}
