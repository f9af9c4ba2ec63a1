//! Writing a run's reports: the JSON summary, the `.hgrm` percentile distribution, and the
//! history (JSON lines) with its linearizability verdict.

use std::fmt::Write as _;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use checker::{CheckBudget, CheckOutcome, check_kv, write_jsonl};

use crate::engine::LoadOutcome;
use crate::report::write_hgrm;

/// Writes `<name>.json`, `<name>.hgrm` and, if recorded, `<name>.history.jsonl` into `dir`;
/// with `check`, runs the linearizability checker and fails on a violation.
pub fn write_reports(
    dir: &Path,
    name: &str,
    outcome: &LoadOutcome,
    check: bool,
    report: &mut String,
) -> Result<(), String> {
    let json = dir.join(format!("{name}.json"));
    std::fs::write(&json, outcome.summary.to_json_pretty())
        .map_err(|e| format!("cannot write {}: {e}", json.display()))?;
    let hgrm = dir.join(format!("{name}.hgrm"));
    let file = File::create(&hgrm).map_err(|e| format!("cannot write {}: {e}", hgrm.display()))?;
    write_hgrm(outcome.latency.histogram(), BufWriter::new(file))
        .map_err(|e| format!("cannot write {}: {e}", hgrm.display()))?;
    if !outcome.history.is_empty() {
        let path = dir.join(format!("{name}.history.jsonl"));
        write_history(&path, outcome)?;
    }
    report.push_str(&describe(name, outcome));
    if check {
        let verdict = check_history(outcome);
        let _ = writeln!(
            report,
            "{name}: history of {} operations: {verdict}",
            outcome.history.len()
        );
        if !verdict.starts_with("linearizable") {
            return Err(format!(
                "{name}: the history is not linearizable: {verdict}"
            ));
        }
    }
    Ok(())
}

/// The run in words: totals, every percentile, and throughput over time (where a killed
/// leader's dip and the recovery show).
pub fn describe(name: &str, outcome: &LoadOutcome) -> String {
    let s = &outcome.summary;
    let l = &s.latency;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{name}: {} ops in {:.1} s measured ({:.0} ops/s), {} errors, {} unfinished, {} resends \
         (whole run)",
        s.ops, s.measured_s, s.throughput_ops_s, s.errors, outcome.unfinished, outcome.resends
    );
    let _ = writeln!(
        out,
        "{name}: latency us: p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} max {:.1}",
        l.p50, l.p90, l.p99, l.p999, l.max
    );
    let series: Vec<String> = s
        .timeline
        .iter()
        .map(|p| format!("{:.0}", p.ops_per_s))
        .collect();
    if let (Some(first), Some(second)) = (s.timeline.first(), s.timeline.get(1)) {
        let _ = writeln!(
            out,
            "{name}: ops/s every {:.2} s: {}",
            second.t_s - first.t_s,
            series.join(" ")
        );
    }
    let _ = writeln!(out, "{name}: {}", s.cpu.describe());
    for note in &s.notes {
        let _ = writeln!(out, "{name}: {note}");
    }
    out
}

pub fn write_history(path: &Path, outcome: &LoadOutcome) -> Result<(), String> {
    let file = File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    write_jsonl(&outcome.history, BufWriter::new(file))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The checker's verdict in words.
pub fn check_history(outcome: &LoadOutcome) -> String {
    match check_kv(&outcome.history, &CheckBudget::default()) {
        CheckOutcome::Linearizable => "linearizable".to_string(),
        CheckOutcome::Violation(v) => format!("NOT linearizable: {v}"),
        CheckOutcome::Inconclusive { key, reason } => format!(
            "inconclusive on key {:?}: {reason}",
            String::from_utf8_lossy(&key)
        ),
    }
}
