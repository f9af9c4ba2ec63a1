//! The side-by-side comparison printed at the end of a run: ratios measured in one run
//! are what the project reports (DESIGN.md, "Tests and benchmarks").

use std::fmt::Write as _;

use super::summary::RunSummary;

/// One row per run: protocol, throughput, p50/p99/p99.9 latency (microseconds), errors,
/// and with a `baseline` protocol name, each run's throughput as a multiple of the first
/// run of that protocol. A baseline absent from `rows` is said below the table.
pub fn format_table(rows: &[RunSummary], baseline: Option<&str>) -> String {
    let base = baseline.map(|name| {
        rows.iter()
            .find(|r| r.protocol == name)
            .map(|r| r.throughput_ops_s)
            .filter(|t| t.is_finite() && *t > 0.0)
    });
    let mut header = vec![
        "protocol".to_string(),
        "ops/s".to_string(),
        "p50 us".to_string(),
        "p99 us".to_string(),
        "p99.9 us".to_string(),
        "errors".to_string(),
    ];
    if let Some(name) = baseline {
        header.push(format!("vs {name}"));
    }
    let mut table = vec![header];
    for r in rows {
        let mut row = vec![
            r.protocol.clone(),
            number(r.throughput_ops_s, 0),
            number(r.latency.p50, 1),
            number(r.latency.p99, 1),
            number(r.latency.p999, 1),
            r.errors.to_string(),
        ];
        if let Some(base) = base {
            row.push(match base {
                Some(b) if r.throughput_ops_s.is_finite() => {
                    format!("{:.2}x", r.throughput_ops_s / b)
                }
                _ => "-".to_string(),
            });
        }
        table.push(row);
    }
    let columns = table[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            table
                .iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &table {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c == 0 {
                let _ = write!(line, "{cell:<w$}", w = widths[c]);
            } else {
                let _ = write!(line, "  {cell:>w$}", w = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    match (baseline, base) {
        (Some(name), Some(None)) if rows.iter().any(|r| r.protocol == name) => {
            let _ = writeln!(out, "({name} completed nothing: no ratios)");
        }
        (Some(name), Some(None)) => {
            let _ = writeln!(out, "(no {name} run to compare with)");
        }
        _ => {}
    }
    out
}

fn number(x: f64, decimals: usize) -> String {
    if x.is_finite() {
        format!("{x:.decimals$}")
    } else {
        "-".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::summary::tests::sample;

    #[test]
    fn side_by_side_with_ratios() {
        let rows = [
            sample("unreplicated", 200_000.0),
            sample("nopaxos", 150_000.0),
        ];
        let table = format_table(&rows, Some("unreplicated"));
        assert_eq!(
            table,
            "\
protocol       ops/s  p50 us  p99 us  p99.9 us  errors  vs unreplicated
unreplicated  200000    45.1   120.5     250.3       2            1.00x
nopaxos       150000    45.1   120.5     250.3       2            0.75x
"
        );
    }

    #[test]
    fn without_baseline_and_with_missing_ones() {
        let rows = [sample("nopaxos", 1234.4)];
        let table = format_table(&rows, None);
        assert_eq!(table.lines().count(), 2);
        assert!(!table.contains(" vs "));
        assert!(
            table
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("nopaxos    1234 ")
        );

        let table = format_table(&rows, Some("unreplicated"));
        assert!(table.lines().nth(1).unwrap().ends_with('-'), "{table}");
        assert!(table.ends_with("(no unreplicated run to compare with)\n"));

        let zero = [sample("unreplicated", 0.0), sample("nopaxos", f64::NAN)];
        let table = format_table(&zero, Some("unreplicated"));
        assert!(table.contains("unreplicated completed nothing"), "{table}");
        let nopaxos = format!("nopaxos{}-  ", " ".repeat(11));
        assert!(
            table.lines().nth(2).unwrap().starts_with(&nopaxos),
            "{table}"
        );
        let unreplicated = table.lines().nth(1).unwrap();
        assert!(unreplicated.starts_with("unreplicated      0  "), "{table}");

        assert_eq!(format_table(&[], None).lines().count(), 1);
    }
}
