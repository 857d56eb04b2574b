//! DET plots: the SVG parses and holds the curve, the markers where they belong and the legend
//! values; the PNG is a PNG of the asked size with text drawn; bad requests are errors.

use ecapa2_eval::det_plot::{
    render_png, render_svg, save_plot, DetSeries, PlotError, PlotFormat, PlotOptions,
};
use ecapa2_eval::{DcfParams, DetCurve, MetricsError};

/// 100 targets at 1..=100, 90 non-targets far below and 10 in (10, 11): EER exactly 10 %.
fn ten_percent() -> DetCurve {
    let tgt: Vec<f64> = (1..=100).map(f64::from).collect();
    let mut non: Vec<f64> = (1..=90).map(|j| -f64::from(j)).collect();
    non.extend((1..=10).map(|m| 10.0 + f64::from(m) / 11.0));
    DetCurve::new(&tgt, &non).unwrap()
}

fn points(attr: &str) -> Vec<(f64, f64)> {
    attr.split_whitespace()
        .map(|xy| {
            let (x, y) = xy.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

/// Distance from `p` to the line through `a` and `b`.
fn line_distance(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    ((p.0 - a.0) * dy - (p.1 - a.1) * dx).abs() / (dx * dx + dy * dy).sqrt()
}

#[test]
fn svg_has_the_curve_the_eer_marker_and_the_legend() {
    let curve = ten_percent();
    let options = PlotOptions::default();
    let svg = render_svg(&[DetSeries::new("sys<&>A", &curve)], &options).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("width"), Some("720"));
    assert_eq!(root.attribute("height"), Some("720"));

    let polylines: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .collect();
    // The first curve's colour, 2 px wide: the curve, then its legend sample.
    let curve_line = polylines
        .iter()
        .find(|n| {
            n.attribute("stroke") == Some("#1F77B4") && n.attribute("stroke-width") == Some("2")
        })
        .expect("the curve");
    let curve_points = points(curve_line.attribute("points").unwrap());
    assert!(curve_points.len() >= 4, "{curve_points:?}");
    // The P_miss = P_fa diagonal, from its lowest to highest corner.
    let diagonal = polylines
        .iter()
        .find(|n| n.attribute("opacity") == Some("0.3"))
        .expect("the EER diagonal");
    let diag = points(diagonal.attribute("points").unwrap());

    let eer_marker = doc
        .descendants()
        .find(|n| n.has_tag_name("circle") && n.attribute("fill") == Some("#1F77B4"))
        .expect("the EER marker");
    let centre: (f64, f64) = (
        eer_marker.attribute("cx").unwrap().parse().unwrap(),
        eer_marker.attribute("cy").unwrap().parse().unwrap(),
    );
    // On the diagonal and on the curve, to the pixel rounding of each.
    assert!(
        line_distance(centre, diag[0], diag[1]) < 1.5,
        "{centre:?} vs {diag:?}"
    );
    let on_curve = curve_points
        .windows(2)
        .map(|w| {
            // Distance to the segment (the polyline's corners are integer pixels).
            let (a, b) = (w[0], w[1]);
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let len2 = dx * dx + dy * dy;
            let t = if len2 == 0.0 {
                0.0
            } else {
                (((centre.0 - a.0) * dx + (centre.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
            };
            ((centre.0 - a.0 - t * dx).powi(2) + (centre.1 - a.1 - t * dy).powi(2)).sqrt()
        })
        .fold(f64::INFINITY, f64::min);
    assert!(on_curve < 2.0, "EER marker {on_curve} px from the curve");

    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    let legend = format!(
        "sys<&>A: EER 10.000 %, minDCF(0.01) {:.4}, minDCF(0.05) {:.4}",
        curve.min_dcf(DcfParams::new(0.01)).unwrap().min_dcf,
        curve.min_dcf(DcfParams::new(0.05)).unwrap().min_dcf
    );
    assert!(texts.contains(&legend.as_str()), "{texts:?}");
    for label in [
        "0.1",
        "1",
        "10",
        "40",
        "Miss rate (%)",
        "False alarm rate (%)",
        "EER",
    ] {
        assert!(texts.contains(&label), "{label} missing from {texts:?}");
    }
}

/// `n` evenly spread scores in [mean − 3, mean + 3].
fn spread(n: usize, mean: f64) -> Vec<f64> {
    (0..n)
        .map(|i| mean - 3.0 + 6.0 * i as f64 / (n - 1) as f64)
        .collect()
}

#[test]
fn a_million_trials_make_a_small_svg() {
    let a = DetCurve::new(&spread(100_000, 2.0), &spread(900_000, 0.0)).unwrap();
    let b = DetCurve::new(&spread(100_000, 1.0), &spread(900_000, 0.0)).unwrap();
    let svg = render_svg(
        &[DetSeries::new("a", &a), DetSeries::new("b", &b)],
        &PlotOptions::default(),
    )
    .unwrap();
    assert!(svg.len() < 100_000, "{} bytes", svg.len());
    roxmltree::Document::parse(&svg).unwrap();
    // Each curve has its EER marker in its colour.
    assert!(svg.contains(r##"<circle cx"##) && svg.contains(r##"fill="#FF7F0E""##));
}

#[test]
fn png_has_the_signature_the_size_and_drawn_text() {
    let curve = ten_percent();
    let options = PlotOptions {
        width: 640,
        height: 480,
        title: Some("DET".into()),
        ..PlotOptions::default()
    };
    let bytes = render_png(&[DetSeries::new("a", &curve)], &options).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    // IHDR is the first chunk: length, "IHDR", then width and height, big-endian.
    assert_eq!(&bytes[12..16], b"IHDR");
    assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), 640);
    assert_eq!(u32::from_be_bytes(bytes[20..24].try_into().unwrap()), 480);

    let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut rgb).unwrap();
    assert_eq!((info.width, info.height), (640, 480));
    let pixel = |x: usize, y: usize| {
        let i = (y * 640 + x) * 3;
        (rgb[i], rgb[i + 1], rgb[i + 2])
    };
    let curve_pixels = (0..480)
        .flat_map(|y| (0..640).map(move |x| (x, y)))
        .filter(|&(x, y)| pixel(x, y) == (31, 119, 180))
        .count();
    assert!(curve_pixels > 200, "{curve_pixels} curve pixels");
    // The y-axis title and tick labels are left of the plot (x < 56): glyphs drawn there mean
    // the embedded font was found and rasterised.
    let dark_left = (0..480)
        .flat_map(|y| (0..50).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let (r, g, b) = pixel(x, y);
            u32::from(r) + u32::from(g) + u32::from(b) < 200
        })
        .count();
    assert!(dark_left > 100, "{dark_left} dark pixels of text");
}

#[test]
fn a_perfect_system_has_its_values_but_no_markers() {
    // EER 0 and minDCF 0 sit at P = 0, at infinity on probit axes.
    let curve = DetCurve::new(&[2.0, 3.0], &[0.0, 1.0]).unwrap();
    let svg = render_svg(&[DetSeries::new("p", &curve)], &PlotOptions::default()).unwrap();
    assert!(svg.contains("p: EER 0.000 %, minDCF(0.01) 0.0000"), "{svg}");
    assert!(!svg.contains(r##"fill="#1F77B4""##));
}

#[test]
fn save_plot_picks_the_format_and_reports_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let curve = ten_percent();
    let series = [DetSeries::new("a", &curve)];
    let options = PlotOptions::default();

    let svg = dir.path().join("det.SVG");
    let (format, n) = save_plot(&svg, &series, &options).unwrap();
    assert_eq!(format, PlotFormat::Svg);
    assert_eq!(std::fs::metadata(&svg).unwrap().len(), n as u64);
    let png = dir.path().join("det.png");
    assert_eq!(
        save_plot(&png, &series, &options).unwrap().0,
        PlotFormat::Png
    );

    let pdf = dir.path().join("det.pdf");
    assert!(matches!(
        save_plot(&pdf, &series, &options),
        Err(PlotError::UnknownFormat(p)) if p == pdf
    ));
    assert!(!pdf.exists());
    let none = dir.path().join("det");
    assert!(matches!(
        save_plot(&none, &series, &options),
        Err(PlotError::UnknownFormat(_))
    ));
    let unwritable = dir.path().join("no-such-dir").join("det.svg");
    let err = save_plot(&unwritable, &series, &options).unwrap_err();
    assert!(matches!(err, PlotError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-dir"), "{err}");

    assert!(matches!(
        render_svg(&[], &options),
        Err(PlotError::NoCurves)
    ));
    let tiny = PlotOptions {
        width: 10,
        ..PlotOptions::default()
    };
    assert!(matches!(
        render_png(&series, &tiny),
        Err(PlotError::InvalidSize { width: 10, .. })
    ));
    let bad_prior = PlotOptions {
        dcf: vec![DcfParams::new(1.5)],
        ..PlotOptions::default()
    };
    assert!(matches!(
        render_svg(&series, &bad_prior),
        Err(PlotError::Metrics(MetricsError::InvalidPrior(_)))
    ));
}
