//! Client histories and their JSON-lines form.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use protocols::app::kv::{KvOp, KvResult};

/// One operation of a history. Times are nanoseconds of any one clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryOp {
    /// Who issued it; only used in reports (linearizability needs no per-client order beyond
    /// real time).
    pub client: u64,
    pub invoke: u64,
    /// None: the client never got an answer (it gave up, or the run ended): the operation may
    /// or may not have taken effect, at any time after `invoke`.
    pub ret: Option<u64>,
    /// A [`KvOp`] encoding.
    pub op: Vec<u8>,
    /// A [`KvResult`] encoding; None iff `ret` is None.
    pub result: Option<Vec<u8>>,
}

impl HistoryOp {
    /// An operation that was answered.
    pub fn completed(
        client: u64,
        invoke: u64,
        ret: u64,
        op: &KvOp<'_>,
        result: &KvResult,
    ) -> HistoryOp {
        HistoryOp {
            client,
            invoke,
            ret: Some(ret),
            op: op.to_bytes(),
            result: Some(result.to_bytes()),
        }
    }

    /// An operation whose outcome the client never learned.
    pub fn pending(client: u64, invoke: u64, op: &KvOp<'_>) -> HistoryOp {
        HistoryOp {
            client,
            invoke,
            ret: None,
            op: op.to_bytes(),
            result: None,
        }
    }
}

/// One line of the JSON-lines form.
#[derive(Serialize, Deserialize)]
struct Line {
    client: u64,
    invoke: u64,
    ret: Option<u64>,
    op: String,
    result: Option<String>,
}

/// Writes one JSON object per line: `{"client":1,"invoke":10,"ret":25,"op":"<hex>",
/// "result":"<hex>"}`, where `op` and `result` are the lowercase hex of the [`KvOp`] and
/// [`KvResult`] encodings (lossless, so malformed operations survive a round trip) and
/// `ret`/`result` are `null` for an operation that never returned.
pub fn write_jsonl(history: &[HistoryOp], mut out: impl Write) -> std::io::Result<()> {
    for op in history {
        let line = Line {
            client: op.client,
            invoke: op.invoke,
            ret: op.ret,
            op: to_hex(&op.op),
            result: op.result.as_deref().map(to_hex),
        };
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Reads what [`write_jsonl`] writes. Blank lines are skipped; `ret` and `result` may be
/// missing instead of `null`; unknown fields are ignored. Errors name the (1-based) line.
pub fn read_jsonl(input: impl BufRead) -> Result<Vec<HistoryOp>, String> {
    let mut history = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| format!("line {n}: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(&line).map_err(|e| format!("line {n}: {e}"))?;
        let op = from_hex(&l.op).map_err(|e| format!("line {n}: field `op`: {e}"))?;
        let result = match &l.result {
            Some(r) => Some(from_hex(r).map_err(|e| format!("line {n}: field `result`: {e}"))?),
            None => None,
        };
        match (l.ret, &result) {
            (Some(_), None) => return Err(format!("line {n}: `ret` is set but `result` is not")),
            (None, Some(_)) => return Err(format!("line {n}: `result` is set but `ret` is not")),
            (Some(ret), Some(_)) if ret < l.invoke => {
                return Err(format!(
                    "line {n}: `ret` ({ret}) is before `invoke` ({})",
                    l.invoke
                ));
            }
            _ => {}
        }
        history.push(HistoryOp {
            client: l.client,
            invoke: l.invoke,
            ret: l.ret,
            op,
            result,
        });
    }
    Ok(history)
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

fn from_hex(s: &str) -> Result<Vec<u8>, String> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", b.len()));
    }
    b.chunks_exact(2)
        .enumerate()
        .map(|(i, pair)| match (digit(pair[0]), digit(pair[1])) {
            (Some(hi), Some(lo)) => Ok(hi << 4 | lo),
            (None, _) => Err(format!("not a hex digit at position {}", 2 * i)),
            (Some(_), None) => Err(format!("not a hex digit at position {}", 2 * i + 1)),
        })
        .collect()
}
