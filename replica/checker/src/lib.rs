//! Linearizability checking of key-value client histories (DESIGN.md rule 4: every
//! simulator run must prove its history linearizable; `client-gen --check` checks recorded
//! ones).
//!
//! A history is a list of [`HistoryOp`]s: an encoded [`KvOp`], when it was invoked, and,
//! if the client got an answer, when and with which encoded [`KvResult`]. [`check_kv`]
//! decides whether some total order of the operations respects real time (an operation that
//! returned before another was invoked comes first) and the store's semantics, starting
//! from an empty store:
//!
//! - every operation touches one key, so each key is checked on its own (linearizability is
//!   compositional), in key order, and the first violation is reported;
//! - per key, the Wing–Gong/Lowe search with Porcupine's memoization explores orders, with
//!   the value as an interned id;
//! - an operation without an answer may take effect at any time after its invocation, or
//!   never, and its result is unconstrained;
//! - a return and an invocation at the same instant count as concurrent;
//! - a malformed entry (undecodable operation or result, a result of the wrong kind or
//!   `BadOp`, a return without a result or before the invocation) is a [`Violation`];
//! - each key's search stops after [`CheckBudget::max_states_per_key`] states and reports
//!   [`CheckOutcome::Inconclusive`] instead of running on (the problem is NP-complete).
//!
//! Histories are stored as JSON lines ([`write_jsonl`], [`read_jsonl`]), one operation a
//! line: `{"client":3,"invoke":1200,"ret":5400,"op":"<hex>","result":"<hex>"}`, where `op`
//! and `result` are the lowercase hex of the [`KvOp`] and [`KvResult`] encodings (hex keeps
//! any bytes, malformed ones included, so a recorded bug survives the round trip; reports
//! print them readably), and `ret` and `result` are `null` or missing when there was no
//! answer.

mod explain;
mod history;
mod model;
mod search;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

pub use history::{HistoryOp, read_jsonl, write_jsonl};

use model::{Step, Values};
use protocols::app::kv::{KvOp, KvResult};
use search::KeyOp;

/// Bounds the work per key, so a pathological history ends as inconclusive instead of
/// hanging a simulator run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckBudget {
    /// States (linearized set, value) a key's search may explore. Memory grows with it, by
    /// roughly 60 bytes a state.
    pub max_states_per_key: u64,
}

impl Default for CheckBudget {
    /// A million states: far more than linearizable histories of thousands of operations
    /// need (about one per operation), and about a second of search in a release build.
    fn default() -> CheckBudget {
        CheckBudget {
            max_states_per_key: 1_000_000,
        }
    }
}

/// The verdict on a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    Linearizable,
    Violation(Violation),
    /// No violation was found, but the search of `key` ran out of budget.
    Inconclusive {
        key: Vec<u8>,
        reason: String,
    },
}

impl CheckOutcome {
    pub fn is_linearizable(&self) -> bool {
        matches!(self, CheckOutcome::Linearizable)
    }
}

impl fmt::Display for CheckOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckOutcome::Linearizable => f.write_str("linearizable"),
            CheckOutcome::Violation(v) => write!(f, "{v}"),
            CheckOutcome::Inconclusive { key, reason } => {
                write!(f, "inconclusive for key {}: {reason}", explain::bytes(key))
            }
        }
    }
}

/// A key whose operations have no linearization (or a malformed history entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The key (empty when the entry's operation does not decode).
    pub key: Vec<u8>,
    /// Indexes into the history: every operation of the key, in invocation order (for a
    /// malformed entry, just that entry).
    pub ops: Vec<usize>,
    /// Indexes of the operations that could have come next at the furthest point the search
    /// reached, none of which worked: where to start reading.
    pub stuck: Vec<usize>,
    /// The operations with invoke/return times and results, and why the search stopped.
    pub explanation: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.explanation)
    }
}

/// An entry, decoded and checked for form.
struct Parsed<'a> {
    op: KvOp<'a>,
    result: Option<KvResult>,
}

/// Checks that an entry is well formed: the only checks that do not need a search.
fn parse(index: usize, h: &HistoryOp) -> Result<Parsed<'_>, Violation> {
    let malformed = |key: &[u8], why: String| Violation {
        key: key.to_vec(),
        ops: vec![index],
        stuck: vec![index],
        explanation: format!(
            "malformed history entry: {}: {why}",
            explain::entry(index, h)
        ),
    };
    let op = KvOp::decode(&h.op)
        .map_err(|e| malformed(&[], format!("the operation does not decode ({e})")))?;
    let key = op.key();
    let result = match (h.ret, &h.result) {
        (None, None) => None,
        (Some(_), None) => return Err(malformed(key, "it returned without a result".into())),
        (None, Some(_)) => return Err(malformed(key, "it has a result but no return".into())),
        (Some(ret), Some(_)) if ret < h.invoke => {
            return Err(malformed(key, "it returned before it was invoked".into()));
        }
        (Some(_), Some(r)) => Some(
            KvResult::decode(r)
                .map_err(|e| malformed(key, format!("the result does not decode ({e})")))?,
        ),
    };
    if let Some(r) = &result {
        let fits = matches!(
            (&op, r),
            (KvOp::Get { .. }, KvResult::Value(_))
                | (KvOp::Put { .. }, KvResult::Done)
                | (KvOp::Append { .. }, KvResult::Appended(_))
                | (KvOp::Cas { .. }, KvResult::Cas { .. })
        );
        if *r == KvResult::BadOp {
            return Err(malformed(
                key,
                "the store answered a valid operation with BadOp".into(),
            ));
        }
        if !fits {
            return Err(malformed(key, "the result is of the wrong kind".into()));
        }
    }
    Ok(Parsed { op, result })
}

/// Checks a key-value history for linearizability. Deterministic: the same history gives the
/// same outcome and report.
pub fn check_kv(history: &[HistoryOp], budget: &CheckBudget) -> CheckOutcome {
    let mut parsed = Vec::with_capacity(history.len());
    for (i, h) in history.iter().enumerate() {
        match parse(i, h) {
            Ok(p) => parsed.push(p),
            Err(v) => return CheckOutcome::Violation(v),
        }
    }
    let mut keys: BTreeMap<&[u8], Vec<usize>> = BTreeMap::new();
    for (i, p) in parsed.iter().enumerate() {
        keys.entry(p.op.key()).or_default().push(i);
    }
    let mut inconclusive = None;
    for (key, mut indexes) in keys {
        indexes.sort_by_key(|&i| (history[i].invoke, i));
        match check_key(history, &parsed, key, &indexes, budget) {
            CheckOutcome::Linearizable => {}
            v @ CheckOutcome::Violation(_) => return v,
            i @ CheckOutcome::Inconclusive { .. } => {
                inconclusive.get_or_insert(i);
            }
        }
    }
    inconclusive.unwrap_or(CheckOutcome::Linearizable)
}

fn check_key(
    history: &[HistoryOp],
    parsed: &[Parsed<'_>],
    key: &[u8],
    indexes: &[usize],
    budget: &CheckBudget,
) -> CheckOutcome {
    let mut values = Values::new();
    let ops: Vec<KeyOp> = indexes
        .iter()
        .map(|&i| KeyOp {
            invoke: history[i].invoke,
            ret: history[i].ret,
            step: Step::compile(&mut values, &parsed[i].op, parsed[i].result.as_ref()),
        })
        .collect();
    match search::search(&ops, &mut values, budget.max_states_per_key) {
        search::Outcome::Linearizable => CheckOutcome::Linearizable,
        search::Outcome::Violation(stuck) => CheckOutcome::Violation(Violation {
            key: key.to_vec(),
            ops: indexes.to_vec(),
            stuck: stuck.candidates.iter().map(|&o| indexes[o]).collect(),
            explanation: explain::violation(history, key, indexes, &ops, &values, &stuck),
        }),
        search::Outcome::Exhausted { explored } => CheckOutcome::Inconclusive {
            key: key.to_vec(),
            reason: format!(
                "the search explored {explored} states of {} operations without a verdict \
                 (budget {})",
                ops.len(),
                budget.max_states_per_key
            ),
        },
    }
}
