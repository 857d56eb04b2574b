//! DET plots to SVG or PNG (feature `plot`): one or more [`DetCurve`]s on normal-deviate axes
//! with their EER and minDCF operating points marked and their values in the legend.
//!
//! Drawn with plotters. Text is measured (both formats) and rasterised (PNG) with ab_glyph from
//! an embedded subset of DejaVu Sans, so no system font or fontconfig is needed; the SVG
//! keeps its text as `<text font-family="sans-serif">`, which any viewer renders. The curves
//! are thinned by [`det_polyline`] to about two points per pixel column, so a plot of
//! millions of trials stays a few tens of kilobytes.
//!
//! ```
//! use ecapa2_eval::det_plot::{render_svg, DetSeries, PlotOptions};
//! use ecapa2_eval::DetCurve;
//!
//! let curve = DetCurve::new(&[0.9, 0.8, 0.4], &[0.1, 0.5, 0.2, 0.3]).unwrap();
//! let svg = render_svg(&[DetSeries::new("system A", &curve)], &PlotOptions::default()).unwrap();
//! assert!(svg.starts_with("<svg") && svg.contains("system A"));
//! ```

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::det::{det_polyline, probit, DetAxis};
use crate::metrics::{DcfParams, DetCurve, MetricsError, STANDARD_P_TARGETS};

/// DejaVu Sans cut down to Latin (see `fonts/README.md` for its origin and licence).
static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans-subset.ttf");

/// The family the embedded font is registered under, and the SVG's `font-family`.
const FAMILY: &str = "sans-serif";

/// Accepted image sizes, per side: smaller leaves no room for the axes and the legend.
const SIDE: std::ops::RangeInclusive<u32> = 240..=8192;

/// Errors from drawing or writing a DET plot.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The output path's extension names no supported format.
    #[error("{}: unknown plot format (expected a .svg or .png file name)", .0.display())]
    UnknownFormat(PathBuf),
    /// No curve to draw.
    #[error("nothing to plot: no DET curve given")]
    NoCurves,
    /// An image side outside 240..=8192 pixels.
    #[error("plot size {width}x{height} is outside 240..=8192 pixels per side")]
    InvalidSize {
        /// Width asked for.
        width: u32,
        /// Height asked for.
        height: u32,
    },
    /// Invalid minDCF parameters.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// The embedded font could not be loaded (a build defect, not an input error).
    #[error("the embedded plot font could not be loaded")]
    Font,
    /// plotters failed to draw.
    #[error("drawing the plot: {0}")]
    Draw(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// PNG encoding failed.
    #[error("encoding the PNG: {0}")]
    Png(#[from] png::EncodingError),
    /// The file could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// File concerned.
        path: PathBuf,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Image format of a plot file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotFormat {
    /// Scalable vector graphics, text kept as text.
    Svg,
    /// 8-bit RGB PNG.
    Png,
}

impl PlotFormat {
    /// The format named by `path`'s extension (`.svg` or `.png`, any case).
    pub fn from_path(path: &Path) -> Result<Self, PlotError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("svg") => Ok(Self::Svg),
            Some("png") => Ok(Self::Png),
            _ => Err(PlotError::UnknownFormat(path.to_path_buf())),
        }
    }
}

/// One curve of a plot and its legend name.
#[derive(Debug, Clone, Copy)]
pub struct DetSeries<'a> {
    /// Legend name (e.g. the score file's name).
    pub name: &'a str,
    /// The curve.
    pub curve: &'a DetCurve,
}

impl<'a> DetSeries<'a> {
    /// A named curve.
    pub fn new(name: &'a str, curve: &'a DetCurve) -> Self {
        Self { name, curve }
    }
}

/// How a plot is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotOptions {
    /// Image width in pixels (the SVG's user units).
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// The minDCF operating points marked on every curve (at most two marker shapes besides
    /// the EER's are distinct; more reuse them).
    pub dcf: Vec<DcfParams>,
    /// Title above the plot.
    pub title: Option<String>,
}

impl Default for PlotOptions {
    /// 720×720 (DET plots are square: equal scales put the EER line on the diagonal), minDCF
    /// marked at [`STANDARD_P_TARGETS`], no title.
    fn default() -> Self {
        Self {
            width: 720,
            height: 720,
            dcf: STANDARD_P_TARGETS
                .iter()
                .map(|&p| DcfParams::new(p))
                .collect(),
            title: None,
        }
    }
}

/// Draws the plot as an SVG document.
pub fn render_svg(series: &[DetSeries], options: &PlotOptions) -> Result<String, PlotError> {
    let prepared = prepare(series, options)?;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (options.width, options.height)).into_drawing_area();
        draw(&root, &prepared, options)?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

/// Draws the plot as a PNG file's bytes.
pub fn render_png(series: &[DetSeries], options: &PlotOptions) -> Result<Vec<u8>, PlotError> {
    let prepared = prepare(series, options)?;
    let (w, h) = (options.width, options.height);
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw(&root, &prepared, options)?;
        root.present().map_err(draw_error)?;
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&rgb)?;
    writer.finish()?;
    Ok(out)
}

/// Draws the plot in the format of `path`'s extension and writes it there; returns the format
/// and the number of bytes written.
pub fn save_plot(
    path: &Path,
    series: &[DetSeries],
    options: &PlotOptions,
) -> Result<(PlotFormat, usize), PlotError> {
    let format = PlotFormat::from_path(path)?;
    let bytes = match format {
        PlotFormat::Svg => render_svg(series, options)?.into_bytes(),
        PlotFormat::Png => render_png(series, options)?,
    };
    std::fs::write(path, &bytes).map_err(|source| PlotError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((format, bytes.len()))
}

/// What is drawn of one curve: its polyline and its marked points with their legend text.
struct PreparedCurve {
    legend: String,
    line: Vec<(f64, f64)>,
    /// `(shape index, (Φ⁻¹(P_fa), Φ⁻¹(P_miss)))`; 0 is the EER, then one per DCF prior.
    marks: Vec<(usize, (f64, f64))>,
}

struct Prepared {
    axis: DetAxis,
    curves: Vec<PreparedCurve>,
}

/// Checks the inputs, computes the metrics, the shared axis range and the thinned curves.
fn prepare(series: &[DetSeries], options: &PlotOptions) -> Result<Prepared, PlotError> {
    if series.is_empty() {
        return Err(PlotError::NoCurves);
    }
    let (width, height) = (options.width, options.height);
    if !SIDE.contains(&width) || !SIDE.contains(&height) {
        return Err(PlotError::InvalidSize { width, height });
    }
    let mut points = Vec::new();
    for s in series {
        let eer = s.curve.eer().eer;
        let mut legend = format!("{}: EER {:.3} %", s.name, 100.0 * eer);
        let mut marks = vec![(0, (eer, eer))];
        for (i, &params) in options.dcf.iter().enumerate() {
            let m = s.curve.min_dcf(params)?;
            legend.push_str(&format!(", minDCF({}) {:.4}", params.p_target, m.min_dcf));
            marks.push((i + 1, (m.p_fa, m.p_miss)));
        }
        points.push((legend, marks));
    }
    // One range for every curve, wide enough for every marked point.
    let axis = DetAxis::covering(
        points
            .iter()
            .flat_map(|(_, marks)| marks.iter().flat_map(|&(_, (fa, miss))| [fa, miss])),
    );
    let cells = width.max(height) as usize;
    let curves = series
        .iter()
        .zip(points)
        .map(|(s, (legend, marks))| PreparedCurve {
            legend,
            line: det_polyline(s.curve, axis, cells),
            // A rate of 0 or 1 is at infinity: its value is in the legend, its marker nowhere.
            marks: marks
                .into_iter()
                .filter(|&(_, (fa, miss))| axis.contains(fa) && axis.contains(miss))
                .map(|(shape, (fa, miss))| (shape, (probit(fa), probit(miss))))
                .collect(),
        })
        .collect();
    Ok(Prepared { axis, curves })
}

/// A normal-deviate axis for plotters: linear in `Φ⁻¹(p)`, with grid lines and labels (in %)
/// at the ticks of [`DetAxis::ticks`] only. (plotters' `with_key_points` would do the lines,
/// but loses the label formatting of `f64` ranges.)
struct DeviateAxis {
    linear: RangedCoordf64,
    /// `(Φ⁻¹(p), label)` of each tick.
    ticks: Vec<(f64, &'static str)>,
}

impl DeviateAxis {
    fn new(axis: DetAxis) -> Self {
        let (lo, hi) = axis.deviates();
        Self {
            linear: (lo..hi).into(),
            ticks: axis
                .ticks()
                .into_iter()
                .map(|(p, l)| (probit(p), l))
                .collect(),
        }
    }
}

impl Ranged for DeviateAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.linear.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Bold lines at the ticks, no light lines in between.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.iter().map(|t| t.0).collect()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.linear.range()
    }
}

impl ValueFormatter<f64> for DeviateAxis {
    // Overridden because the default panics; plotters calls `format_ext` below.
    fn format(value: &f64) -> String {
        value.to_string()
    }

    fn format_ext(&self, value: &f64) -> String {
        // Asked at the key points only, so the nearest tick is the one.
        self.ticks
            .iter()
            .min_by(|a, b| (a.0 - value).abs().total_cmp(&(b.0 - value).abs()))
            .map_or_else(String::new, |t| t.1.to_string())
    }
}

/// Colour of the `i`-th curve: the 10 "tableau" colours, cycled.
fn colour(i: usize) -> RGBColor {
    const TAB10: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = TAB10[i % TAB10.len()];
    RGBColor(r, g, b)
}

/// A marker of `shape` (0 EER: filled circle; 1: triangle; 2 and later: cross).
fn marker<'x, DB: DrawingBackend>(
    shape: usize,
    at: (i32, i32),
    c: RGBColor,
) -> DynElement<'x, DB, (i32, i32)> {
    match shape {
        0 => Circle::new(at, 5, c.filled()).into_dyn(),
        1 => TriangleMarker::new(at, 7, c.filled()).into_dyn(),
        _ => Cross::new(at, 5, c.stroke_width(2)).into_dyn(),
    }
}

fn draw_error<E: std::error::Error + Send + Sync + 'static>(
    e: DrawingAreaErrorKind<E>,
) -> PlotError {
    PlotError::Draw(Box::new(e))
}

/// Registers the embedded font once per process (plotters keeps a global font table).
fn register_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    prepared: &Prepared,
    options: &PlotOptions,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    register_font()?;
    root.fill(&WHITE).map_err(draw_error)?;
    let (lo, hi) = prepared.axis.deviates();
    let mut builder = ChartBuilder::on(root);
    builder
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(56);
    if let Some(title) = &options.title {
        builder.caption(title, (FAMILY, 20));
    }
    let mut chart = builder
        .build_cartesian_2d(
            DeviateAxis::new(prepared.axis),
            DeviateAxis::new(prepared.axis),
        )
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc("False alarm rate (%)")
        .y_desc("Miss rate (%)")
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 16))
        .bold_line_style(BLACK.mix(0.15))
        .draw()
        .map_err(draw_error)?;

    // P_miss = P_fa: every EER marker lies on it.
    chart
        .draw_series(LineSeries::new([(lo, lo), (hi, hi)], BLACK.mix(0.3)))
        .map_err(draw_error)?;
    for (i, curve) in prepared.curves.iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(
                curve.line.iter().copied(),
                c.stroke_width(2),
            ))
            .map_err(draw_error)?
            .label(curve.legend.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    // Markers after every line, so that no curve hides another's.
    for (i, curve) in prepared.curves.iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(
                curve
                    .marks
                    .iter()
                    .map(|&(shape, at)| EmptyElement::at(at) + marker::<DB>(shape, (0, 0), c)),
            )
            .map_err(draw_error)?;
    }
    // One legend entry per marker shape, in black.
    let shapes = std::iter::once("EER".to_string()).chain(
        options
            .dcf
            .iter()
            .map(|d| format!("minDCF({})", d.p_target)),
    );
    for (shape, text) in shapes.enumerate() {
        chart
            .draw_series(std::iter::empty::<EmptyElement<(f64, f64), DB>>())
            .map_err(draw_error)?
            .label(text)
            .legend(move |(x, y)| marker::<DB>(shape, (x + 10, y), BLACK));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FAMILY, 14))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.5))
        .draw()
        .map_err(draw_error)?;
    Ok(())
}
