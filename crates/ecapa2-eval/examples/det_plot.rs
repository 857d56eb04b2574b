//! Draws DET plots of two synthetic systems (binormal scores) to `det.svg` and `det.png` in
//! the folder given as argument (default: the current one).
//!
//! `cargo run -p ecapa2-eval --features plot --example det_plot -- /tmp`

use ecapa2_eval::det::probit;
use ecapa2_eval::det_plot::{save_plot, DetSeries, PlotOptions};
use ecapa2_eval::DetCurve;

/// `n` scores at the normal quantiles `(i + ½)/n`, scaled and shifted: a noise-free sample.
fn normal_scores(n: usize, mean: f64, sd: f64) -> Vec<f64> {
    (0..n)
        .map(|i| mean + sd * probit((i as f64 + 0.5) / n as f64))
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    let non = normal_scores(200_000, 0.0, 1.0);
    let a = DetCurve::new(&normal_scores(20_000, 4.0, 1.0), &non)?;
    let b = DetCurve::new(&normal_scores(20_000, 3.0, 1.4), &non)?;
    let series = [
        DetSeries::new("system A", &a),
        DetSeries::new("system B", &b),
    ];
    for name in ["det.svg", "det.png"] {
        let path = dir.join(name);
        let (_, bytes) = save_plot(&path, &series, &PlotOptions::default())?;
        println!("{}: {bytes} bytes", path.display());
    }
    Ok(())
}
