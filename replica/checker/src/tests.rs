use std::time::{Duration, Instant};

use super::*;
use protocols::app::kv::KvStore;

// ---- building histories ----

fn get(client: u64, invoke: u64, ret: u64, key: &str, seen: Option<&str>) -> HistoryOp {
    HistoryOp::completed(
        client,
        invoke,
        ret,
        &KvOp::Get {
            key: key.as_bytes(),
        },
        &KvResult::Value(seen.map(|s| s.as_bytes().to_vec())),
    )
}

fn put(client: u64, invoke: u64, ret: u64, key: &str, value: &str) -> HistoryOp {
    HistoryOp::completed(
        client,
        invoke,
        ret,
        &KvOp::Put {
            key: key.as_bytes(),
            value: value.as_bytes(),
        },
        &KvResult::Done,
    )
}

fn append(client: u64, invoke: u64, ret: u64, key: &str, value: &str, now: &str) -> HistoryOp {
    HistoryOp::completed(
        client,
        invoke,
        ret,
        &KvOp::Append {
            key: key.as_bytes(),
            value: value.as_bytes(),
        },
        &KvResult::Appended(now.as_bytes().to_vec()),
    )
}

#[allow(clippy::too_many_arguments)]
fn cas(
    client: u64,
    invoke: u64,
    ret: u64,
    key: &str,
    expected: Option<&str>,
    new: &str,
    swapped: bool,
    found: Option<&str>,
) -> HistoryOp {
    HistoryOp::completed(
        client,
        invoke,
        ret,
        &KvOp::Cas {
            key: key.as_bytes(),
            expected: expected.map(str::as_bytes),
            new: new.as_bytes(),
        },
        &KvResult::Cas {
            swapped,
            found: found.map(|s| s.as_bytes().to_vec()),
        },
    )
}

fn pending_put(client: u64, invoke: u64, key: &str, value: &str) -> HistoryOp {
    HistoryOp::pending(
        client,
        invoke,
        &KvOp::Put {
            key: key.as_bytes(),
            value: value.as_bytes(),
        },
    )
}

fn pending_append(client: u64, invoke: u64, key: &str, value: &str) -> HistoryOp {
    HistoryOp::pending(
        client,
        invoke,
        &KvOp::Append {
            key: key.as_bytes(),
            value: value.as_bytes(),
        },
    )
}

fn pending_cas(
    client: u64,
    invoke: u64,
    key: &str,
    expected: Option<&str>,
    new: &str,
) -> HistoryOp {
    HistoryOp::pending(
        client,
        invoke,
        &KvOp::Cas {
            key: key.as_bytes(),
            expected: expected.map(str::as_bytes),
            new: new.as_bytes(),
        },
    )
}

fn check(history: &[HistoryOp]) -> CheckOutcome {
    check_kv(history, &CheckBudget::default())
}

#[track_caller]
fn assert_linearizable(history: &[HistoryOp]) {
    let outcome = check(history);
    assert_eq!(outcome, CheckOutcome::Linearizable, "{outcome}");
}

#[track_caller]
fn assert_violation(history: &[HistoryOp]) -> Violation {
    match check(history) {
        CheckOutcome::Violation(v) => v,
        other => panic!("expected a violation, got {other:?}"),
    }
}

// ---- sequential and concurrent basics ----

#[test]
fn empty_and_sequential_histories_pass() {
    assert_linearizable(&[]);
    assert_linearizable(&[
        get(1, 0, 1, "k", None),
        put(1, 2, 3, "k", "a"),
        get(2, 4, 5, "k", Some("a")),
        append(1, 6, 7, "k", "b", "ab"),
        cas(2, 8, 9, "k", Some("x"), "z", false, Some("ab")),
        cas(2, 10, 11, "k", Some("ab"), "z", true, Some("ab")),
        get(1, 12, 13, "k", Some("z")),
        append(1, 14, 15, "fresh", "q", "q"),
        cas(3, 16, 17, "new", None, "1", true, None),
        get(3, 18, 19, "new", Some("1")),
    ]);
}

#[test]
fn sequential_mistakes_are_caught() {
    // Reading the initial value after a put completed.
    assert_violation(&[put(1, 0, 1, "k", "a"), get(1, 2, 3, "k", None)]);
    // A compare-and-swap that claims to swap although the value differs.
    assert_violation(&[
        put(1, 0, 1, "k", "a"),
        cas(1, 2, 3, "k", Some("b"), "c", true, Some("a")),
    ]);
    // An append on an absent key returning more than its value.
    assert_violation(&[append(1, 0, 1, "k", "a", "xa")]);
}

#[test]
fn stale_read_after_a_completed_put_is_a_violation() {
    let v = assert_violation(&[
        put(1, 0, 10, "k", "a"),
        put(2, 20, 30, "k", "b"),
        get(3, 40, 50, "k", Some("a")),
    ]);
    assert_eq!(v.key, b"k");
    assert_eq!(v.ops, vec![0, 1, 2]);
    assert_eq!(v.stuck, vec![2]);
    assert!(
        v.explanation
            .contains("#2 client 3 [40, 50] get \"k\" -> \"a\"")
    );
    assert!(v.explanation.contains("would have returned \"b\""), "{v}");
}

#[test]
fn a_read_overlapping_a_put_may_see_either_value() {
    for seen in ["a", "b"] {
        assert_linearizable(&[
            put(1, 0, 5, "k", "a"),
            put(2, 10, 30, "k", "b"),
            get(3, 15, 25, "k", Some(seen)),
        ]);
    }
    // But once one reader saw the new value, a later reader cannot see the old one.
    assert_violation(&[
        put(1, 0, 5, "k", "a"),
        put(2, 10, 100, "k", "b"),
        get(3, 15, 25, "k", Some("b")),
        get(4, 30, 40, "k", Some("a")),
    ]);
    // While reads that overlap each other can disagree in either order.
    assert_linearizable(&[
        put(1, 0, 5, "k", "a"),
        put(2, 10, 100, "k", "b"),
        get(3, 15, 25, "k", Some("b")),
        get(4, 20, 40, "k", Some("a")),
    ]);
}

#[test]
fn a_return_and_an_invoke_at_the_same_instant_are_concurrent() {
    assert_linearizable(&[put(1, 0, 10, "k", "a"), get(2, 10, 20, "k", None)]);
    assert_violation(&[put(1, 0, 10, "k", "a"), get(2, 11, 20, "k", None)]);
}

#[test]
fn a_read_of_a_value_never_written_is_a_violation() {
    let v = assert_violation(&[
        put(1, 0, 10, "k", "a"),
        put(2, 5, 15, "k", "b"),
        get(3, 0, 20, "k", Some("c")),
    ]);
    assert_eq!(v.stuck, vec![2], "{v}");
    assert_violation(&[get(1, 0, 1, "k", Some(""))]);
}

#[test]
fn concurrent_appends_must_see_each_other_in_one_order() {
    // Either order works.
    assert_linearizable(&[
        append(1, 0, 10, "k", "x", "x"),
        append(2, 0, 10, "k", "y", "xy"),
    ]);
    assert_linearizable(&[
        append(1, 0, 10, "k", "x", "yx"),
        append(2, 0, 10, "k", "y", "y"),
    ]);
    // Both missing the other is not an order.
    assert_violation(&[
        append(1, 0, 10, "k", "x", "x"),
        append(2, 0, 10, "k", "y", "y"),
    ]);
    // Nor is both seeing the other first.
    assert_violation(&[
        append(1, 0, 10, "k", "x", "yx"),
        append(2, 0, 10, "k", "y", "xy"),
    ]);
}

#[test]
fn a_compare_and_swap_cannot_succeed_twice_from_the_same_value() {
    let v = assert_violation(&[
        put(1, 0, 5, "k", "a"),
        cas(2, 10, 20, "k", Some("a"), "b", true, Some("a")),
        cas(3, 10, 20, "k", Some("a"), "c", true, Some("a")),
    ]);
    assert_eq!(v.key, b"k");
    // One of them failing, having found the other's value, is fine.
    assert_linearizable(&[
        put(1, 0, 5, "k", "a"),
        cas(2, 10, 20, "k", Some("a"), "b", true, Some("a")),
        cas(3, 10, 20, "k", Some("a"), "c", false, Some("b")),
    ]);
    // A swap that found the wrong value is never fine.
    assert_violation(&[
        put(1, 0, 5, "k", "a"),
        cas(2, 10, 20, "k", Some("a"), "b", false, Some("a")),
    ]);
}

#[test]
fn absent_and_empty_values_differ() {
    assert_linearizable(&[
        append(1, 0, 1, "k", "", ""),
        get(1, 2, 3, "k", Some("")),
        cas(1, 4, 5, "k", None, "x", false, Some("")),
    ]);
    assert_violation(&[append(1, 0, 1, "k", "", ""), get(1, 2, 3, "k", None)]);
}

// ---- operations without an answer ----

#[test]
fn a_pending_write_that_a_later_read_sees_took_effect() {
    assert_linearizable(&[
        put(1, 0, 5, "k", "a"),
        pending_put(2, 10, "k", "b"),
        get(3, 100, 110, "k", Some("b")),
        get(3, 120, 130, "k", Some("b")),
    ]);
    // Chains of pending appends, in either order, seen by a later append.
    for seen in ["xyz", "yxz", "xz", "yz", "z"] {
        assert_linearizable(&[
            pending_append(1, 0, "k", "x"),
            pending_append(2, 1, "k", "y"),
            append(3, 50, 60, "k", "z", seen),
        ]);
    }
    // A pending put then a pending compare-and-swap on its value, seen by a read.
    assert_linearizable(&[
        pending_put(1, 0, "k", "p"),
        pending_cas(2, 1, "k", Some("p"), "q"),
        get(3, 50, 60, "k", Some("q")),
    ]);
    // A pending compare-and-swap whose expected value is produced by pending appends.
    assert_linearizable(&[
        pending_append(1, 0, "k", "a"),
        pending_append(2, 0, "k", "b"),
        pending_cas(4, 0, "k", Some("ba"), "c"),
        append(3, 50, 60, "k", "d", "cd"),
    ]);
}

#[test]
fn a_pending_write_may_never_take_effect() {
    assert_linearizable(&[
        put(1, 0, 5, "k", "a"),
        pending_put(2, 10, "k", "b"),
        get(3, 100, 110, "k", Some("a")),
    ]);
    // ... or take effect late, after reads of the old value.
    assert_linearizable(&[
        put(1, 0, 5, "k", "a"),
        pending_put(2, 10, "k", "b"),
        get(3, 100, 110, "k", Some("a")),
        get(3, 200, 210, "k", Some("b")),
    ]);
    // Pending reads and compare-and-swaps constrain nothing.
    assert_linearizable(&[
        HistoryOp::pending(1, 0, &KvOp::Get { key: b"k" }),
        pending_cas(2, 0, "k", None, "x"),
        get(3, 10, 20, "k", None),
    ]);
}

#[test]
fn a_pending_write_cannot_act_before_its_invocation_or_twice() {
    assert_violation(&[get(1, 0, 10, "k", Some("b")), pending_put(2, 20, "k", "b")]);
    assert_violation(&[
        put(1, 0, 5, "k", "a"),
        pending_put(2, 10, "k", "b"),
        get(3, 100, 110, "k", Some("b")),
        put(1, 120, 130, "k", "a"),
        get(3, 140, 150, "k", Some("b")),
    ]);
    assert_violation(&[
        pending_append(1, 0, "k", "x"),
        append(2, 10, 20, "k", "y", "xy"),
        append(2, 30, 40, "k", "z", "xyxz"),
    ]);
}

#[test]
fn many_pending_operations_do_not_blow_up_the_search() {
    // 40 pending appends and puts, none ever seen, then a violation the search must prove
    // by exhausting everything.
    let mut h = Vec::new();
    for i in 0..40u64 {
        let v = format!("v{i};");
        h.push(if i % 2 == 0 {
            pending_append(i, i, "k", &v)
        } else {
            pending_put(i, i, "k", &v)
        });
    }
    for i in 0..20u64 {
        h.push(append(
            100,
            1000 + 10 * i,
            1005 + 10 * i,
            "k",
            "z",
            &"z".repeat(i as usize + 1),
        ));
    }
    let start = Instant::now();
    assert_linearizable(&h);
    h.push(get(101, 2000, 2010, "k", Some("zz")));
    let v = assert_violation(&h);
    assert_eq!(v.stuck, vec![60]);
    assert!(start.elapsed() < Duration::from_secs(2));
}

// ---- partitioning and reports ----

#[test]
fn a_violation_on_one_key_among_many_names_that_key() {
    let mut h = Vec::new();
    let mut bad = None;
    for round in 0..5u64 {
        for k in 0..10u64 {
            let key = format!("key{k}");
            let t = round * 100 + k;
            let value = format!("r{round}");
            h.push(put(k, t, t + 50, &key, &value));
            // Key 7 reads the previous round's value after this round's put completed.
            let seen = if k == 7 && round == 3 {
                bad = Some(h.len());
                format!("r{}", round - 1)
            } else {
                value
            };
            h.push(get(k + 10, t + 60, t + 70, &key, Some(&seen)));
        }
    }
    let v = assert_violation(&h);
    assert_eq!(v.key, b"key7");
    assert_eq!(v.ops.len(), 10);
    for &i in &v.ops {
        assert!(matches!(KvOp::decode(&h[i].op), Ok(op) if op.key() == b"key7"));
    }
    assert_eq!(v.stuck, vec![bad.unwrap()]);
    assert!(
        v.explanation.starts_with("key \"key7\": not linearizable"),
        "{v}"
    );
}

#[test]
fn outcomes_are_deterministic() {
    let h = [
        put(1, 0, 10, "b", "1"),
        get(2, 20, 30, "b", Some("2")),
        put(1, 0, 10, "a", "1"),
        get(2, 20, 30, "a", Some("2")),
    ];
    let first = check(&h);
    assert_eq!(check(&h), first);
    // Keys are checked in order: "a" is reported.
    assert!(matches!(&first, CheckOutcome::Violation(v) if v.key == b"a"));
}

// ---- malformed input ----

#[test]
fn malformed_entries_are_violations_not_panics() {
    let good = put(1, 0, 10, "k", "a");
    let mut undecodable = good.clone();
    undecodable.op = vec![9, 9];
    let v = assert_violation(&[good.clone(), undecodable]);
    assert_eq!((v.key.as_slice(), v.ops.as_slice()), (&b""[..], &[1][..]));
    assert!(v.explanation.contains("does not decode"), "{v}");

    let mut bad_result = good.clone();
    bad_result.result = Some(vec![0x77]);
    let v = assert_violation(&[bad_result]);
    assert_eq!(v.key, b"k");
    assert!(v.explanation.contains("result does not decode"), "{v}");

    let mut bad_op = good.clone();
    bad_op.result = Some(KvResult::BadOp.to_bytes());
    assert!(assert_violation(&[bad_op]).explanation.contains("BadOp"));

    let mut wrong_kind = good.clone();
    wrong_kind.result = Some(KvResult::Value(None).to_bytes());
    assert!(
        assert_violation(&[wrong_kind])
            .explanation
            .contains("wrong kind")
    );

    let mut no_result = good.clone();
    no_result.result = None;
    assert!(
        assert_violation(&[no_result])
            .explanation
            .contains("without a result")
    );

    let mut no_ret = good.clone();
    no_ret.ret = None;
    assert!(
        assert_violation(&[no_ret])
            .explanation
            .contains("no return")
    );

    let mut backwards = good.clone();
    backwards.invoke = 11;
    assert!(
        assert_violation(&[backwards])
            .explanation
            .contains("before it was invoked")
    );

    // Every truncation of every field.
    let full = cas(1, 0, 10, "k", Some("a"), "b", true, Some("a"));
    let op = full.op.clone();
    let result = full.result.clone().unwrap();
    for n in 0..op.len() {
        let mut h = full.clone();
        h.op.truncate(n);
        assert!(matches!(check(&[h]), CheckOutcome::Violation(_)));
    }
    for n in 0..result.len() {
        let mut h = full.clone();
        h.result = Some(result[..n].to_vec());
        assert!(matches!(check(&[h]), CheckOutcome::Violation(_)));
    }
}

// ---- JSON lines ----

#[test]
fn json_lines_round_trip() {
    let h = vec![
        put(1, 0, 10, "k", "a"),
        pending_append(2, 5, "k", "\"quoted\"\n"),
        HistoryOp {
            client: u64::MAX,
            invoke: u64::MAX - 1,
            ret: Some(u64::MAX),
            op: vec![0xff, 0x00],
            result: Some(vec![]),
        },
    ];
    let mut out = Vec::new();
    write_jsonl(&h, &mut out).unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(
        text.starts_with(r#"{"client":1,"invoke":0,"ret":10,"op":"02"#),
        "{text}"
    );
    assert!(text.contains(r#""ret":null"#));
    assert_eq!(read_jsonl(&out[..]).unwrap(), h);
    // Blank lines are skipped and a missing ret/result means no answer.
    let loose = "\n{\"client\":2,\"invoke\":5,\"op\":\"0100000001\"}\n\n";
    let read = read_jsonl(loose.as_bytes()).unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!((read[0].ret, &read[0].result), (None, &None));
}

#[test]
fn bad_json_lines_name_their_line() {
    let good = r#"{"client":1,"invoke":0,"ret":10,"op":"00","result":"02"}"#;
    let cases = [
        ("{not json", "line 3:"),
        (
            r#"{"client":1,"invoke":0,"ret":1,"op":"0g","result":"02"}"#,
            "line 3: field `op`: not a hex digit at position 1",
        ),
        (
            r#"{"client":1,"invoke":0,"ret":1,"op":"000","result":"02"}"#,
            "line 3: field `op`: odd number",
        ),
        (
            r#"{"client":1,"invoke":0,"ret":1,"op":"00","result":"x"}"#,
            "line 3: field `result`",
        ),
        (
            r#"{"client":1,"invoke":0,"ret":1,"op":"00"}"#,
            "line 3: `ret` is set but `result` is not",
        ),
        (
            r#"{"client":1,"invoke":0,"op":"00","result":"02"}"#,
            "line 3: `result` is set but `ret` is not",
        ),
        (
            r#"{"client":1,"invoke":5,"ret":1,"op":"00","result":"02"}"#,
            "line 3: `ret` (1) is before `invoke` (5)",
        ),
        (r#"{"client":-1,"invoke":0,"op":"00"}"#, "line 3:"),
        (
            r#"{"invoke":0,"op":"00"}"#,
            "line 3: missing field `client`",
        ),
    ];
    for (bad, want) in cases {
        let text = format!("{good}\n\n{bad}\n{good}\n");
        let err = read_jsonl(text.as_bytes()).unwrap_err();
        assert!(err.starts_with(want), "{bad}: {err}");
    }
}

// ---- the budget ----

#[test]
fn the_budget_turns_an_adversarial_history_into_inconclusive() {
    // 30 concurrent puts and a read of a value none wrote: disproving it means trying every
    // subset of the puts (times the value last written), 30 * 2^29 states.
    let mut h: Vec<HistoryOp> = (0..30)
        .map(|i| put(i, 0, 100, "k", &format!("v{i}")))
        .collect();
    h.push(get(99, 200, 210, "k", Some("never")));
    let start = Instant::now();
    let outcome = check_kv(
        &h,
        &CheckBudget {
            max_states_per_key: 20_000,
        },
    );
    match &outcome {
        CheckOutcome::Inconclusive { key, reason } => {
            assert_eq!(key, b"k");
            assert!(reason.contains("budget 20000"), "{reason}");
        }
        other => panic!("expected inconclusive, got {other:?}"),
    }
    // A different key with a real violation still wins over inconclusive.
    h.push(put(1, 0, 1, "other", "a"));
    h.push(get(1, 2, 3, "other", Some("b")));
    let outcome = check_kv(
        &h,
        &CheckBudget {
            max_states_per_key: 20_000,
        },
    );
    assert!(matches!(&outcome, CheckOutcome::Violation(v) if v.key == b"other"));
    assert!(start.elapsed() < Duration::from_secs(5));
}

// ---- generated histories ----

/// SplitMix64: deterministic randomness without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

struct GenConfig {
    clients: u64,
    ops_per_client: u64,
    keys: u64,
    /// Percent of operations that never get an answer (half of those take effect).
    pending: u64,
    /// Few distinct values (ambiguous histories) instead of unique ones.
    small_values: bool,
    max_latency: u64,
}

/// A linearizable history: each operation takes effect at a random instant inside its
/// interval, in that order, on a real [`KvStore`].
fn generate(rng: &mut Rng, cfg: &GenConfig) -> Vec<HistoryOp> {
    struct Planned {
        op: HistoryOp,
        at: u64,
        effective: bool,
    }
    let mut planned = Vec::new();
    for client in 0..cfg.clients {
        let mut t = rng.below(10);
        for seq in 0..cfg.ops_per_client {
            let key = format!("k{}", rng.below(cfg.keys));
            let value = if cfg.small_values {
                ["a", "b"][rng.below(2) as usize].to_owned()
            } else {
                format!("{client}.{seq};")
            };
            let expected = match rng.below(3) {
                0 => None,
                1 if cfg.small_values => Some("a".to_owned()),
                _ => Some(format!(
                    "{}.{};",
                    rng.below(cfg.clients),
                    seq.saturating_sub(rng.below(3))
                )),
            };
            let op = match rng.below(4) {
                0 => KvOp::Get {
                    key: key.as_bytes(),
                },
                1 => KvOp::Put {
                    key: key.as_bytes(),
                    value: value.as_bytes(),
                },
                2 => KvOp::Append {
                    key: key.as_bytes(),
                    value: value.as_bytes(),
                },
                _ => KvOp::Cas {
                    key: key.as_bytes(),
                    expected: expected.as_deref().map(str::as_bytes),
                    new: value.as_bytes(),
                },
            };
            let latency = 1 + rng.below(cfg.max_latency);
            let pending = rng.chance(cfg.pending);
            let at = t + rng.below(if pending { 3 * latency } else { latency + 1 });
            planned.push(Planned {
                op: HistoryOp {
                    client,
                    invoke: t,
                    ret: (!pending).then_some(t + latency),
                    op: op.to_bytes(),
                    result: None,
                },
                at,
                effective: !pending || rng.chance(50),
            });
            t += latency + rng.below(3);
        }
    }
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|&i| (planned[i].at, i));
    let mut kv = KvStore::default();
    for i in order {
        let p = &mut planned[i];
        if p.effective {
            let result = kv.apply(KvOp::decode(&p.op.op).unwrap());
            if p.op.ret.is_some() {
                p.op.result = Some(result.to_bytes());
            }
        }
    }
    planned.into_iter().map(|p| p.op).collect()
}

#[test]
fn a_large_generated_history_is_linearizable_and_checked_quickly() {
    let mut rng = Rng(7);
    let h = generate(
        &mut rng,
        &GenConfig {
            clients: 10,
            ops_per_client: 2000,
            keys: 10,
            pending: 1,
            small_values: false,
            max_latency: 20,
        },
    );
    assert_eq!(h.len(), 20_000);
    let start = Instant::now();
    assert_linearizable(&h);
    let took = start.elapsed();
    eprintln!("20000 operations checked in {took:?}");
    assert!(took < Duration::from_secs(10));
}

#[test]
fn a_large_history_with_one_bad_result_is_a_violation() {
    let mut rng = Rng(11);
    let h = generate(
        &mut rng,
        &GenConfig {
            clients: 10,
            ops_per_client: 500,
            keys: 5,
            pending: 1,
            small_values: false,
            max_latency: 20,
        },
    );
    // Corrupt a late read, then a late append.
    let read = (0..h.len())
        .rev()
        .find(|&i| {
            matches!(
                h[i].result.as_deref().map(KvResult::decode),
                Some(Ok(KvResult::Value(Some(_))))
            )
        })
        .unwrap();
    let mut bad = h.clone();
    bad[read].result = Some(KvResult::Value(Some(b"never written".to_vec())).to_bytes());
    let start = Instant::now();
    let v = assert_violation(&bad);
    assert!(v.stuck.contains(&read), "{v}");

    let appended = (0..h.len())
        .rev()
        .find(|&i| {
            matches!(h[i].result.as_deref().map(KvResult::decode), Some(Ok(KvResult::Appended(v))) if v.len() > 12)
        })
        .unwrap();
    let mut bad = h.clone();
    let Some(Ok(KvResult::Appended(mut value))) =
        bad[appended].result.as_deref().map(KvResult::decode)
    else {
        unreachable!()
    };
    value.remove(2);
    bad[appended].result = Some(KvResult::Appended(value).to_bytes());
    assert_violation(&bad);
    eprintln!(
        "two corrupted 5000-operation histories checked in {:?}",
        start.elapsed()
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}

/// Decides linearizability by trying every order (and every subset of the operations that
/// never returned): the reference the search is compared with.
fn brute_force(history: &[HistoryOp]) -> bool {
    fn go(history: &[HistoryOp], used: &mut Vec<bool>, kv: &KvStore) -> bool {
        let all_completed = history
            .iter()
            .zip(used.iter())
            .all(|(h, &u)| u || h.ret.is_none());
        if all_completed {
            return true;
        }
        for i in 0..history.len() {
            if used[i] {
                continue;
            }
            // Everything that returned before this was invoked must come first.
            let ready = history
                .iter()
                .zip(used.iter())
                .all(|(p, &u)| u || p.ret.is_none_or(|r| r >= history[i].invoke));
            if !ready {
                continue;
            }
            let mut next = kv.clone();
            let result = next.apply(KvOp::decode(&history[i].op).unwrap());
            if history[i]
                .result
                .as_ref()
                .is_some_and(|r| *r != result.to_bytes())
            {
                continue;
            }
            used[i] = true;
            let ok = go(history, used, &next);
            used[i] = false;
            if ok {
                return true;
            }
        }
        false
    }
    go(
        history,
        &mut vec![false; history.len()],
        &KvStore::default(),
    )
}

#[test]
fn small_random_histories_agree_with_brute_force() {
    let mut rng = Rng(3);
    let (mut linearizable, mut violations) = (0, 0);
    for _ in 0..3000 {
        let cfg = GenConfig {
            clients: 1 + rng.below(3),
            ops_per_client: 1 + rng.below(3),
            keys: 1,
            pending: 30,
            small_values: true,
            max_latency: 6,
        };
        let mut h = generate(&mut rng, &cfg);
        // Corrupt some results into other plausible ones.
        if rng.chance(50) {
            let i = rng.below(h.len() as u64) as usize;
            if h[i].ret.is_some() {
                let value = [
                    None,
                    Some(b"a".to_vec()),
                    Some(b"ab".to_vec()),
                    Some(b"b".to_vec()),
                ][rng.below(4) as usize]
                    .clone();
                h[i].result = Some(
                    match KvOp::decode(&h[i].op).unwrap() {
                        KvOp::Get { .. } => KvResult::Value(value),
                        KvOp::Put { .. } => KvResult::Done,
                        KvOp::Append { .. } => KvResult::Appended(value.unwrap_or_default()),
                        KvOp::Cas { .. } => KvResult::Cas {
                            swapped: rng.chance(50),
                            found: value,
                        },
                    }
                    .to_bytes(),
                );
            }
        }
        let expected = brute_force(&h);
        let outcome = check(&h);
        assert_eq!(
            outcome.is_linearizable(),
            expected,
            "{outcome}\n{}",
            h.iter()
                .enumerate()
                .map(|(i, o)| explain::entry(i, o))
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(!matches!(outcome, CheckOutcome::Inconclusive { .. }));
        if expected {
            linearizable += 1;
        } else {
            violations += 1;
        }
    }
    // Both verdicts were exercised.
    assert!(
        linearizable > 500 && violations > 500,
        "{linearizable} {violations}"
    );
}
