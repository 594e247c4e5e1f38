//! PNG plots of profiles (density, velocity against position or radius) with `plotters`' bitmap
//! backend. Text is drawn with DejaVu Sans compiled into the binary (`assets/DejaVuSans.ttf`,
//! Bitstream Vera license, see `assets/README.md`) through plotters' `ab_glyph` renderer, so no
//! system fonts or fontconfig are needed.
//!
//! ```
//! use hemoscale::output::{plot_profile, Series};
//!
//! let dir = std::env::temp_dir().join(format!("hemoscale-doc-plot-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let png = dir.join("profile.png");
//! let measured: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 0.1 * i as f64)).collect();
//! let fit = Series::line("fit", vec![(0.0, 0.0), (9.0, 0.9)]);
//! plot_profile(&png, "Couette profile", "z (rc)", "vx (rc/tau)", &[Series::points("measured", measured), fit]).unwrap();
//! assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
//! // Nothing to plot is refused, and nothing is written.
//! assert!(plot_profile(dir.join("empty.png"), "t", "x", "y", &[]).is_err());
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;

use super::OutputError;

/// DejaVu Sans, registered with plotters as `sans-serif`.
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Width and height of the plots, in pixels.
pub const PLOT_SIZE: (u32, u32) = (800, 600);

/// Line colours, cycled through by series (Tableau 10).
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesStyle {
    /// Points joined by straight lines, in the given order.
    Line,
    /// Filled circles.
    Points,
}

/// One named data set of a plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// `(x, y)` points; all must be finite.
    pub points: Vec<(f64, f64)>,
    /// Line or points.
    pub style: SeriesStyle,
}

impl Series {
    /// A series drawn as a line.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self { name: name.into(), points, style: SeriesStyle::Line }
    }
    /// A series drawn as points.
    pub fn points(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self { name: name.into(), points, style: SeriesStyle::Points }
    }
}

fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
                .map_err(|_| "the embedded DejaVu Sans font could not be loaded".to_string())
        })
        .clone()
}

/// The range `[lo, hi]` padded by `pad` of its span (or by a unit-ish margin when it is a point).
fn padded(lo: f64, hi: f64, pad: f64) -> (f64, f64) {
    let span = hi - lo;
    if span > 0.0 {
        (lo - pad * span, hi + pad * span)
    } else {
        let m = if lo == 0.0 { 1.0 } else { 0.1 * lo.abs() };
        (lo - m, hi + m)
    }
}

/// Draws `series` on one pair of axes into a PNG of [`PLOT_SIZE`] at `path`, with `title`, axis
/// labels and a legend of the series' names. The axes span the data (padded by 2 % in x, 5 % in y). Refuses,
/// without writing anything, when there is no series, a series has no point, or a coordinate is
/// not finite. The image is drawn to `{path}.tmp.png` and renamed, so `path` is never a partial file.
pub fn plot_profile(
    path: impl AsRef<Path>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), OutputError> {
    let path = path.as_ref();
    if series.is_empty() {
        return Err(OutputError::data(path, "nothing to plot: no series"));
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for s in series {
        if s.points.is_empty() {
            return Err(OutputError::data(path, format!("series {:?} has no points", s.name)));
        }
        if let Some((i, p)) = s.points.iter().enumerate().find(|(_, p)| !(p.0.is_finite() && p.1.is_finite())) {
            return Err(OutputError::data(path, format!("series {:?}: point {i} {p:?} is not finite", s.name)));
        }
        for &(x, y) in &s.points {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
    }
    let (x0, x1) = padded(x0, x1, 0.02);
    let (y0, y1) = padded(y0, y1, 0.05);
    if !(x1 - x0).is_finite() || !(y1 - y0).is_finite() {
        return Err(OutputError::data(path, "the data span more than the largest finite number"));
    }
    register_font().map_err(|what| OutputError::Plot { path: path.to_path_buf(), what })?;

    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp.png");
    let tmp = PathBuf::from(tmp);
    let plot_err = |e: &dyn std::fmt::Display| OutputError::Plot { path: path.to_path_buf(), what: e.to_string() };
    {
        let root = BitMapBackend::new(&tmp, PLOT_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 26))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| plot_err(&e))?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 18))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| plot_err(&e))?;
        for (k, s) in series.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            let drawn = match s.style {
                SeriesStyle::Line => chart
                    .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
                    .map_err(|e| plot_err(&e))?
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2))),
                SeriesStyle::Points => chart
                    .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(|e| plot_err(&e))?
                    .legend(move |(x, y)| Circle::new((x + 12, y), 3, color.filled())),
            };
            drawn.label(s.name.as_str());
        }
        if series.iter().any(|s| !s.name.is_empty()) {
            chart
                .configure_series_labels()
                .label_font(("sans-serif", 16))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(|e| plot_err(&e))?;
        }
        root.present().map_err(|e| plot_err(&e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| OutputError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_and_refuses_bad_data() {
        let dir = std::env::temp_dir().join(format!("hemoscale-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.png");
        let pts: Vec<(f64, f64)> = (0..20).map(|i| (i as f64 * 0.1, (i as f64 * 0.1).sin())).collect();
        plot_profile(&path, "t", "x", "y", &[Series::line("a", pts.clone()), Series::points("b", pts)]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        // A single point (zero span) and unnamed series draw too.
        plot_profile(&path, "", "", "", &[Series::points("", vec![(1.0, 1.0)])]).unwrap();

        let bad = |s: &[Series]| plot_profile(dir.join("bad.png"), "t", "x", "y", s).unwrap_err().to_string();
        assert!(bad(&[]).contains("no series"));
        assert!(bad(&[Series::line("e", vec![])]).contains("\"e\" has no points"));
        assert!(bad(&[Series::line("n", vec![(0.0, 1.0), (1.0, f64::NAN)])]).contains("point 1"));
        assert!(bad(&[Series::line("i", vec![(f64::INFINITY, 1.0)])]).contains("not finite"));
        assert!(bad(&[Series::line("w", vec![(-f64::MAX, 0.0), (f64::MAX, 1.0)])]).contains("largest finite"));
        assert!(!dir.join("bad.png").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
