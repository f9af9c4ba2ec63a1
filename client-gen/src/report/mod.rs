//! Measurement and reporting: latency histograms, throughput over time, the saved run
//! summary, the servers' CPU per request, the side-by-side table and the live progress line.
//!
//! Units: latencies are recorded in nanoseconds ([`LatencyRecorder`]), summarised in
//! microseconds ([`LatencySummary`]), and written to `.hgrm` files in microseconds by
//! default ([`write_hgrm`]).

mod cpu;
mod hgrm;
mod latency;
mod progress;
mod summary;
mod table;
mod timeline;

pub use cpu::{CpuAccount, ProcessCpu};
pub use hgrm::{HgrmUnit, write_hgrm, write_hgrm_with};
pub use latency::{LatencyRecorder, LatencySummary};
pub use progress::Progress;
pub use summary::RunSummary;
pub use table::format_table;
pub use timeline::{Timeline, TimelinePoint};
