//! Latency-versus-throughput curves from a sweep, as the paper's Figure 5: one line per
//! protocol, one point per load level, median and 99th-percentile latency, PNG and SVG.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::report::RunSummary;

/// Where the label font comes from: plotters renders text itself, from a TrueType file.
const FONT_PATHS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

fn register_font() -> Result<(), String> {
    static REGISTERED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let from_env = std::env::var_os("NOPAXOS_FONT").map(PathBuf::from);
            let path = from_env
                .into_iter()
                .chain(FONT_PATHS.iter().map(PathBuf::from))
                .find(|p| p.is_file())
                .ok_or_else(|| {
                    "no font for the plot labels: install one (apt-get install fonts-dejavu-core) \
                     or set NOPAXOS_FONT=/path/to/font.ttf"
                        .to_string()
                })?;
            let bytes = std::fs::read(&path)
                .map_err(|e| format!("cannot read font {}: {e}", path.display()))?;
            // plotters keeps fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| format!("{} is not a usable TrueType font", path.display()))
        })
        .clone()
}

/// One protocol's curve: (throughput ops/s, latency us) points in load order.
#[derive(Debug, Clone)]
struct Curve {
    protocol: String,
    p50: Vec<(f64, f64)>,
    p99: Vec<(f64, f64)>,
}

fn curves(points: &[RunSummary]) -> Vec<Curve> {
    let mut out: Vec<Curve> = Vec::new();
    for s in points {
        let curve = match out.iter_mut().position(|c| c.protocol == s.protocol) {
            Some(i) => &mut out[i],
            None => {
                out.push(Curve {
                    protocol: s.protocol.clone(),
                    p50: Vec::new(),
                    p99: Vec::new(),
                });
                let last = out.len() - 1;
                &mut out[last]
            }
        };
        curve.p50.push((s.throughput_ops_s, s.latency.p50));
        curve.p99.push((s.throughput_ops_s, s.latency.p99));
    }
    out
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    curves: &[Curve],
    title: &str,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("plot: {e:?}");
    root.fill(&WHITE).map_err(err)?;
    let x_max = curves
        .iter()
        .flat_map(|c| c.p50.iter().chain(&c.p99))
        .map(|p| p.0)
        .fold(1.0f64, f64::max)
        * 1.1;
    let y_max = curves
        .iter()
        .flat_map(|c| c.p99.iter())
        .map(|p| p.1)
        .fold(1.0f64, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("throughput (operations/s)")
        .y_desc("latency (us)")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    for (i, c) in curves.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(
                c.p50.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(format!("{} p50", c.protocol))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(c.p50.iter().map(|p| Circle::new(*p, 4, color.filled())))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                c.p99.iter().copied(),
                color.stroke_width(1),
            ))
            .map_err(err)?
            .label(format!("{} p99", c.protocol))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(1))
            });
        chart
            .draw_series(c.p99.iter().map(|p| TriangleMarker::new(*p, 5, color)))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// Draws `points` into `<stem>.png` and `<stem>.svg`; returns both paths.
pub fn plot(points: &[RunSummary], stem: &Path, title: &str) -> Result<(PathBuf, PathBuf), String> {
    if points.is_empty() {
        return Err("nothing to plot: the sweep has no points".into());
    }
    register_font()?;
    let curves = curves(points);
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    draw(
        BitMapBackend::new(&png, (1000, 650)).into_drawing_area(),
        &curves,
        title,
    )?;
    draw(
        SVGBackend::new(&svg, (1000, 650)).into_drawing_area(),
        &curves,
        title,
    )?;
    Ok((png, svg))
}

/// Reads a sweep file written by `client-gen sweep` (a JSON array of run summaries).
pub fn read_sweep(path: &Path) -> Result<Vec<RunSummary>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not a sweep file: {e}", path.display()))
}
