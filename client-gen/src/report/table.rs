//! The side-by-side comparison printed at the end of a run: ratios measured in one run
//! are what the project reports (DESIGN.md, "Tests and benchmarks").

use std::fmt::Write as _;

use super::summary::RunSummary;

/// One row per run: measured throughput, latency percentiles (microseconds) and errors,
/// then the bottleneck: the busiest server process, its CPU microseconds per request and the
/// throughput with one core per process. With a `baseline` protocol name, both throughputs
/// also as multiples of that protocol's first run; a baseline absent from `rows` is said
/// below the table. About 100 columns wide.
pub fn format_table(rows: &[RunSummary], baseline: Option<&str>) -> String {
    let base = baseline.map(|name| {
        rows.iter()
            .find(|r| r.protocol == name)
            .filter(|r| r.throughput_ops_s.is_finite() && r.throughput_ops_s > 0.0)
    });
    let vs = baseline.map(|name| format!("vs {}", abbreviate(name)));
    let mut columns: Vec<Column<'_>> = Vec::new();
    let mut measured = vec![Column::new("ops/s", |r| number(r.throughput_ops_s, 0))];
    let mut projected = vec![
        Column::text("busiest", busiest),
        Column::new("us/req", |r| {
            optional(r.cpu.busiest.as_ref().and(r.cpu.busiest_us_per_op), 1)
        }),
        Column::new("ops/s", |r| optional(r.cpu.projected_ops_s, 0)),
    ];
    if let (Some(vs), Some(base)) = (&vs, base) {
        measured.push(Column::ratio(vs, move |r| {
            ratio(Some(r.throughput_ops_s), base.map(|b| b.throughput_ops_s))
        }));
        projected.push(Column::ratio(vs, move |r| {
            ratio(
                r.cpu.projected_ops_s,
                base.and_then(|b| b.cpu.projected_ops_s),
            )
        }));
    }
    let mut groups = Vec::new();
    columns.push(Column::text("protocol", |r| r.protocol.clone()));
    groups.push((columns.len(), measured.len(), "measured"));
    columns.extend(measured);
    groups.push((columns.len(), 3, "latency us"));
    columns.push(Column::new("p50", |r| number(r.latency.p50, 1)));
    columns.push(Column::new("p99", |r| number(r.latency.p99, 1)));
    columns.push(Column::new("p99.9", |r| number(r.latency.p999, 1)));
    columns.push(Column::new("errors", |r| r.errors.to_string()));
    groups.push((columns.len(), projected.len(), "one core per process"));
    columns.extend(projected);

    let mut out = render(&columns, &groups, rows);
    match (baseline, base) {
        (Some(name), Some(None)) if rows.iter().any(|r| r.protocol == name) => {
            let _ = writeln!(out, "({name} completed nothing: no ratios)");
        }
        (Some(name), Some(None)) => {
            let _ = writeln!(out, "(no {name} run to compare with)");
        }
        _ => {}
    }
    if let Some(vs) = &vs {
        let _ = writeln!(
            out,
            "{vs}: throughput as a multiple of {}'s.",
            baseline.unwrap_or_default()
        );
    }
    out.push_str(
        "busiest: the server process with the most CPU per request in the measured window;\n\
         one core per process: 1e6 / its us/req (docs/benchmarks.md, bottleneck accounting).\n",
    );
    out
}

/// A table column: its header and how a row fills it.
struct Column<'a> {
    header: String,
    cell: Box<dyn Fn(&RunSummary) -> String + 'a>,
    /// Text (names) reads left-aligned, numbers right-aligned.
    left: bool,
}

impl<'a> Column<'a> {
    fn new(header: &str, cell: impl Fn(&RunSummary) -> String + 'a) -> Column<'a> {
        Column {
            header: header.to_string(),
            cell: Box::new(cell),
            left: false,
        }
    }

    fn text(header: &str, cell: impl Fn(&RunSummary) -> String + 'a) -> Column<'a> {
        Column {
            left: true,
            ..Column::new(header, cell)
        }
    }

    fn ratio(header: &str, value: impl Fn(&RunSummary) -> Option<f64> + 'a) -> Column<'a> {
        Column::new(header, move |r| match value(r) {
            Some(x) => format!("{x:.2}x"),
            None => "-".to_string(),
        })
    }
}

/// Header lines (groups over their columns, then column names) and one line per row, each
/// column as wide as its widest cell and a group's last column widened until the group's
/// label fits over it.
fn render(columns: &[Column<'_>], groups: &[(usize, usize, &str)], rows: &[RunSummary]) -> String {
    let table: Vec<Vec<String>> =
        std::iter::once(columns.iter().map(|c| c.header.clone()).collect())
            .chain(
                rows.iter()
                    .map(|r| columns.iter().map(|c| (c.cell)(r)).collect()),
            )
            .collect();
    let mut widths: Vec<usize> = (0..columns.len())
        .map(|c| {
            table
                .iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for &(first, count, label) in groups {
        let span: usize = widths[first..first + count].iter().sum::<usize>() + 2 * (count - 1);
        if let Some(short) = label.chars().count().checked_sub(span).filter(|&s| s > 0) {
            widths[first + count - 1] += short;
        }
    }
    let mut out = String::new();
    let mut line = String::new();
    for &(first, _, label) in groups {
        let at: usize = widths[..first].iter().map(|w| w + 2).sum();
        let _ = write!(line, "{:w$}{label}", "", w = at - line.chars().count());
    }
    out.push_str(line.trim_end());
    out.push('\n');
    for row in &table {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let gap = if c == 0 { "" } else { "  " };
            if columns[c].left {
                let _ = write!(line, "{gap}{cell:<w$}", w = widths[c]);
            } else {
                let _ = write!(line, "{gap}{cell:>w$}", w = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `unreplicated` as `unrep`: ratio headers stay narrow.
fn abbreviate(name: &str) -> String {
    if name.chars().count() > 8 {
        name.chars().take(5).collect()
    } else {
        name.to_string()
    }
}

fn ratio(value: Option<f64>, base: Option<f64>) -> Option<f64> {
    match (value, base) {
        (Some(v), Some(b)) if v.is_finite() && b.is_finite() && b > 0.0 => Some(v / b),
        _ => None,
    }
}

/// The busiest process, or `n/a: ` and the short reason there is none (`remote`,
/// `replica 0 exited`).
fn busiest(r: &RunSummary) -> String {
    match (&r.cpu.busiest, r.cpu.missing()) {
        (Some(name), _) => name.clone(),
        (None, Some(why)) => format!("n/a: {}", why.split(':').next().unwrap_or(&why)),
        (None, None) => "n/a".to_string(),
    }
}

fn optional(x: Option<f64>, decimals: usize) -> String {
    x.map_or("-".to_string(), |x| number(x, decimals))
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
    use crate::report::{CpuAccount, ProcessCpu};

    #[test]
    fn side_by_side_with_ratios() {
        let rows = [
            sample("unreplicated", 200_000.0),
            sample("nopaxos", 150_000.0),
        ];
        let table = format_table(&rows, Some("unreplicated"));
        let want = [
            "              measured          latency us                  one core per process",
            "protocol       ops/s  vs unrep   p50    p99  p99.9  errors  busiest    us/req   ops/s  vs unrep",
            "unreplicated  200000     1.00x  45.1  120.5  250.3       2  replica 0     5.0  200000     1.00x",
            "nopaxos       150000     0.75x  45.1  120.5  250.3       2  sequencer    20.0   50000     0.25x",
            "vs unrep: throughput as a multiple of unreplicated's.",
            "busiest: the server process with the most CPU per request in the measured window;",
            "one core per process: 1e6 / its us/req (docs/benchmarks.md, bottleneck accounting).",
        ];
        assert_eq!(table.lines().collect::<Vec<_>>(), want, "{table}");
        assert!(table.lines().all(|l| l.chars().count() <= 100), "{table}");
    }

    #[test]
    fn without_baseline_and_with_missing_ones() {
        let rows = [sample("nopaxos", 1234.4)];
        let table = format_table(&rows, None);
        assert_eq!(table.lines().count(), 5, "{table}");
        assert!(!table.contains("vs "));
        assert!(
            table
                .lines()
                .nth(2)
                .unwrap()
                .starts_with("nopaxos       1234 "),
            "{table}"
        );

        let table = format_table(&rows, Some("unreplicated"));
        assert!(table.lines().nth(2).unwrap().ends_with('-'), "{table}");
        assert!(table.contains("(no unreplicated run to compare with)\n"));

        let zero = [sample("unreplicated", 0.0), sample("nopaxos", f64::NAN)];
        let table = format_table(&zero, Some("unreplicated"));
        assert!(table.contains("unreplicated completed nothing"), "{table}");
        let nopaxos = table.lines().nth(3).unwrap();
        assert!(
            nopaxos.starts_with("nopaxos           -         -"),
            "{table}"
        );
        let unreplicated = table.lines().nth(2).unwrap();
        assert!(unreplicated.starts_with("unreplicated      0  "), "{table}");

        assert_eq!(format_table(&[], None).lines().count(), 4);
    }

    #[test]
    fn cpu_that_could_not_be_had_says_why() {
        let mut remote = sample("nopaxos", 1000.0);
        remote.cpu = CpuAccount::unmeasured("remote: no server PIDs (client-gen run --server-pid)");
        let mut exited = sample("vr", 1000.0);
        exited.cpu = CpuAccount::new(vec![
            ProcessCpu::measured("replica 1", 2, 1.0, 3.0, "schedstat"),
            ProcessCpu::unavailable("replica 0", Some(1), "exited"),
        ]);
        let table = format_table(&[remote, exited], None);
        let lines: Vec<&str> = table.lines().collect();
        // Cells are separated by at least two spaces.
        let tail = |line: &str| -> Vec<String> {
            let cells: Vec<String> = line
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect();
            cells[cells.len() - 3..].to_vec()
        };
        assert_eq!(tail(lines[2]), ["n/a: remote", "-", "-"], "{table}");
        assert_eq!(
            tail(lines[3]),
            ["n/a: replica 0 exited", "-", "-"],
            "{table}"
        );
        assert!(!table.contains(" 0.0 "), "never a zero cost: {table}");
    }
}
