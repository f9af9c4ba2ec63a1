//! A live status line for people watching a run. It goes to stderr and only to a terminal,
//! so redirected output and CI logs stay clean.

use std::fmt::{self, Write as _};
use std::io::{IsTerminal, Write};
use std::time::Duration;

use super::latency::LatencyRecorder;

/// A single line rewritten in place (carriage return) with elapsed time, completed
/// operations, throughput since the previous update and p50/p99. Cosmetic: write errors
/// are ignored.
pub struct Progress {
    out: Option<Box<dyn Write + Send>>,
    last: Option<(Duration, u64)>,
    /// Characters of the line on screen, to blank a longer previous line.
    shown: usize,
    line: String,
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Progress")
            .field("active", &self.is_active())
            .field("shown", &self.shown)
            .finish()
    }
}

impl Progress {
    /// Prints to stderr if `enabled` and stderr is a terminal; otherwise does nothing.
    pub fn new(enabled: bool) -> Progress {
        let out: Option<Box<dyn Write + Send>> = if enabled && std::io::stderr().is_terminal() {
            Some(Box::new(std::io::stderr()))
        } else {
            None
        };
        Progress::with_output(out)
    }

    /// Prints to `out` unconditionally (tests, or a caller that chose its own terminal).
    pub fn to_writer(out: Box<dyn Write + Send>) -> Progress {
        Progress::with_output(Some(out))
    }

    fn with_output(out: Option<Box<dyn Write + Send>>) -> Progress {
        Progress {
            out,
            last: None,
            shown: 0,
            line: String::new(),
        }
    }

    /// Whether anything is printed.
    pub fn is_active(&self) -> bool {
        self.out.is_some()
    }

    /// Shows the state `elapsed` into the run with `ops` completed so far.
    pub fn update(&mut self, elapsed: Duration, ops: u64, latency: &LatencyRecorder) {
        if self.out.is_none() {
            return;
        }
        let rate = match self.last {
            Some((t, n)) if elapsed > t => {
                Some(ops.saturating_sub(n) as f64 / (elapsed - t).as_secs_f64())
            }
            None if !elapsed.is_zero() => Some(ops as f64 / elapsed.as_secs_f64()),
            _ => None,
        };
        self.last = Some((elapsed, ops));
        let mut text = String::new();
        let _ = write!(text, "{:7.1} s  {ops:>10} ops", elapsed.as_secs_f64());
        match rate {
            Some(r) => {
                let _ = write!(text, "  {r:>9.0} ops/s");
            }
            None => text.push_str("          - ops/s"),
        }
        if latency.count() > 0 {
            let _ = write!(
                text,
                "  p50 {:.1} us  p99 {:.1} us",
                latency.quantile_us(0.5),
                latency.quantile_us(0.99)
            );
        } else {
            text.push_str("  p50 -  p99 -");
        }
        self.show(&text);
    }

    /// Clears the line, leaving the cursor at its start for whatever is printed next.
    pub fn finish(&mut self) {
        if self.shown > 0 {
            self.show("");
            self.shown = 0;
        }
    }

    fn show(&mut self, text: &str) {
        let Some(out) = self.out.as_mut() else {
            return;
        };
        let len = text.chars().count();
        self.line.clear();
        self.line.push('\r');
        self.line.push_str(text);
        // Blank what is left of a longer previous line, then return to the start if clearing.
        for _ in len..self.shown {
            self.line.push(' ');
        }
        if text.is_empty() {
            self.line.push('\r');
        }
        let _ = out.write_all(self.line.as_bytes());
        let _ = out.flush();
        self.shown = len;
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn take(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
        }
    }

    #[test]
    fn one_line_rewritten_in_place_then_cleared() {
        let buf = Shared::default();
        let mut p = Progress::to_writer(Box::new(buf.clone()));
        assert!(p.is_active());
        let mut latency = LatencyRecorder::new();
        p.update(Duration::ZERO, 0, &latency);
        let first = buf.take();
        assert!(
            first.starts_with('\r') && !first.contains('\n'),
            "{first:?}"
        );
        assert!(
            first.contains("- ops/s") && first.contains("p50 -"),
            "{first:?}"
        );

        latency.record(Duration::from_micros(40));
        p.update(Duration::from_secs(1), 5000, &latency);
        p.update(Duration::from_secs(2), 7000, &latency);
        let lines = buf.take();
        let last = lines.rsplit('\r').next().unwrap();
        assert!(last.contains("7000 ops"), "{last:?}");
        assert!(
            last.contains(" 2000 ops/s"),
            "throughput since the last update: {last:?}"
        );
        assert!(last.contains("p50 40.0 us  p99 40.0 us"), "{last:?}");
        let shown = last.chars().count();

        p.finish();
        let cleared = buf.take();
        assert_eq!(cleared, format!("\r{}\r", " ".repeat(shown)));
        p.finish();
        drop(p);
        assert_eq!(
            buf.take(),
            "",
            "finish once; drop after finish prints nothing"
        );
    }

    #[test]
    fn disabled_prints_nothing() {
        let mut p = Progress::new(false);
        assert!(!p.is_active());
        p.update(Duration::from_secs(1), 10, &LatencyRecorder::new());
        p.finish();
    }
}
