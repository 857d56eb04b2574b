//! The DET curve on probit axes: the probit against reference values, the DET points against
//! a brute-force count, and the plotted polyline's clipping, size bound and shape.

use ecapa2_eval::det::{det_polyline, probit, DetAxis, DET_TICKS};
use ecapa2_eval::DetCurve;

/// Reference values of Φ⁻¹ from Python's `statistics.NormalDist().inv_cdf` (Wichura's AS241,
/// an algorithm independent of statrs' Boost-derived `erfc_inv`).
#[test]
fn probit_matches_reference_values() {
    let reference = [
        (0.975, 1.9599639845400536),
        (0.025, -1.9599639845400538),
        (0.5, 0.0),
        (0.95, 1.6448536269514715),
        (0.99, 2.3263478740408408),
        (0.001, -3.090232306167813),
        (1e-10, -6.361340902404056),
        (0.8413447460685429, 1.0), // Φ(1)
        (1e-300, -37.0470962993612),
    ];
    for (p, want) in reference {
        let got = probit(p);
        // 1e-9 absolute, as asked of the DET axes; relative in the far tail.
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "probit({p}) = {got}, want {want}"
        );
    }
    assert!((probit(0.975) - 1.959963984540054).abs() < 1e-9);
    assert_eq!(probit(0.0), f64::NEG_INFINITY);
    assert_eq!(probit(1.0), f64::INFINITY);
    for bad in [-0.1, 1.1, f64::NAN, f64::INFINITY] {
        assert!(probit(bad).is_nan(), "probit({bad})");
    }
}

#[test]
fn probit_is_odd_and_increasing() {
    let mut prev = f64::NEG_INFINITY;
    for i in 1..1000 {
        let p = i as f64 / 1000.0;
        let z = probit(p);
        assert!(z > prev, "not increasing at {p}");
        assert!((z + probit(1.0 - p)).abs() < 1e-12, "not odd at {p}");
        prev = z;
    }
}

/// `(P_fa, P_miss)` at every candidate threshold (each distinct score, ascending, then one
/// above them all), counted directly from the definitions: accept iff `score >= τ`.
fn brute_force_points(tgt: &[f64], non: &[f64]) -> Vec<(f64, f64)> {
    let mut thresholds: Vec<f64> = tgt.iter().chain(non).copied().collect();
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    thresholds.push(f64::INFINITY);
    let mut out = vec![(1.0, 0.0)];
    for &t in &thresholds[1..] {
        let miss = tgt.iter().filter(|&&s| s < t).count() as f64 / tgt.len() as f64;
        let fa = non.iter().filter(|&&s| s >= t).count() as f64 / non.len() as f64;
        out.push((fa, miss));
    }
    out
}

/// 4 targets, 5 non-targets, one target/non-target tie at 0.5.
const TGT: [f64; 4] = [0.9, 0.7, 0.5, 0.35];
const NON: [f64; 5] = [0.1, 0.2, 0.4, 0.5, 0.8];

#[test]
fn det_points_match_a_brute_force_count() {
    let curve = DetCurve::new(&TGT, &NON).unwrap();
    let got: Vec<(f64, f64)> = curve.points().iter().map(|p| (p.p_fa, p.p_miss)).collect();
    assert_eq!(got, brute_force_points(&TGT, &NON));
    // By hand: thresholds 0.1 0.2 0.35 0.4 0.5 0.7 0.8 0.9 then above all.
    let by_hand = [
        (5, 0),
        (4, 0),
        (3, 0),
        (3, 1),
        (2, 1),
        (1, 2), // the tie at 0.5: one target and one non-target rejected together
        (1, 3),
        (0, 3),
        (0, 4),
    ];
    let expect: Vec<(f64, f64)> = std::iter::once((1.0, 0.0))
        .chain(
            by_hand
                .iter()
                .skip(1)
                .map(|&(fa, miss)| (fa as f64 / 5.0, miss as f64 / 4.0)),
        )
        .collect();
    assert_eq!(got, expect);
}

#[test]
fn polyline_is_the_probit_of_the_points_inside_the_axes() {
    let curve = DetCurve::new(&TGT, &NON).unwrap();
    let axis = DetAxis::new(0.01, 0.99).unwrap();
    let (lo, hi) = axis.deviates();
    // Cells far finer than the gaps between points: nothing is thinned away.
    let line = det_polyline(&curve, axis, 1_000_000);
    for p in curve.points() {
        if axis.contains(p.p_fa) && axis.contains(p.p_miss) {
            let want = (probit(p.p_fa), probit(p.p_miss));
            assert!(line.contains(&want), "{want:?} missing from {line:?}");
        }
    }
    let inside = |v: f64| v >= lo - 1e-12 && v <= hi + 1e-12;
    assert!(line.iter().all(|&(x, y)| inside(x) && inside(y)));
    // The curve runs from P_fa = 1 to P_fa = 0 (and P_miss 0 to 1): clipped, it starts on the
    // right or bottom edge and ends on the left or top one.
    let (first, last) = (line[0], line[line.len() - 1]);
    assert!(
        (first.0 - hi).abs() < 1e-12 || (first.1 - lo).abs() < 1e-12,
        "{first:?}"
    );
    assert!(
        (last.0 - lo).abs() < 1e-12 || (last.1 - hi).abs() < 1e-12,
        "{last:?}"
    );
    // Monotone: P_fa falls and P_miss rises along the sweep.
    for w in line.windows(2) {
        assert!(w[1].0 <= w[0].0 && w[1].1 >= w[0].1, "{w:?}");
    }
}

/// `n` scores at the normal quantiles `(i + ½)/n`, shifted by `mean`: a noise-free sample.
fn normal_scores(n: usize, mean: f64) -> Vec<f64> {
    (0..n)
        .map(|i| mean + probit((i as f64 + 0.5) / n as f64))
        .collect()
}

/// Equal-variance normal scores draw a straight line of slope −1 on probit axes:
/// `Φ⁻¹(P_miss) = τ − d` and `Φ⁻¹(P_fa) = −τ`, so `x + y = −d`. A million trials are thinned to
/// the bound, and what is left still lies on that line.
#[test]
fn a_million_trials_thin_to_a_bounded_straight_line() {
    let d = 2.5;
    let curve = DetCurve::new(&normal_scores(100_000, d), &normal_scores(900_000, 0.0)).unwrap();
    let cells = 600;
    let line = det_polyline(&curve, DetAxis::DEFAULT, cells);
    assert!(
        line.len() <= 2 * cells + 1,
        "{} points for {cells} cells",
        line.len()
    );
    assert!(line.len() > 100, "only {} points", line.len());
    // Sampling error: a rate r counted over n trials moves its deviate by about
    // (1/n)/φ(Φ⁻¹(r)), under 2e-3 within the axes here; 0.01 leaves room for the staircase.
    for &(x, y) in &line {
        assert!(
            (x + y + d).abs() < 0.01,
            "({x}, {y}) off the line x + y = {}",
            -d
        );
    }
}

/// Distance from point `p` to segment `a`–`b`.
fn segment_distance(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    };
    ((p.0 - a.0 - t * dx).powi(2) + (p.1 - a.1 - t * dy).powi(2)).sqrt()
}

/// Thinning moves the line by at most one cell diagonal: every point of the unthinned
/// polyline is that close to the thinned one.
#[test]
fn thinning_keeps_the_shape_within_a_cell() {
    // Unequal variances and a coarse score grid (ties) for a curve with bends and diagonals.
    let tgt: Vec<f64> = normal_scores(3000, 2.0)
        .iter()
        .map(|s| (1.7 * s * 20.0).round() / 20.0)
        .collect();
    let non = normal_scores(7000, 0.0);
    let curve = DetCurve::new(&tgt, &non).unwrap();
    let axis = DetAxis::DEFAULT;
    let exact = det_polyline(&curve, axis, 1 << 30);
    let cells = 50;
    let thin = det_polyline(&curve, axis, cells);
    assert!(thin.len() <= 2 * cells + 1);
    assert!(
        thin.len() * 4 < exact.len(),
        "{} vs {}",
        thin.len(),
        exact.len()
    );
    let (lo, hi) = axis.deviates();
    let diagonal = (hi - lo) / cells as f64 * std::f64::consts::SQRT_2;
    assert_eq!(thin.first(), exact.first());
    assert_eq!(thin.last(), exact.last());
    for &p in &exact {
        let d = thin
            .windows(2)
            .map(|w| segment_distance(p, w[0], w[1]))
            .fold(f64::INFINITY, f64::min);
        assert!(d <= diagonal * (1.0 + 1e-9), "{p:?} is {d} away");
    }
}

#[test]
fn axis_widens_to_the_ticks_around_marked_rates() {
    assert_eq!(DetAxis::covering([0.01, 0.3]), DetAxis::DEFAULT);
    // 0 and 1 are at infinity, NaN is no rate: ignored.
    assert_eq!(DetAxis::covering([0.0, 1.0, f64::NAN]), DetAxis::DEFAULT);
    let a = DetAxis::covering([0.0003, 0.7]);
    assert_eq!((a.lo(), a.hi()), (0.0002, 0.8));
    // Exactly on a tick: that tick.
    let a = DetAxis::covering([0.0005]);
    assert_eq!(a.lo(), 0.0005);
    // Beyond the ticks: the outermost ones.
    let a = DetAxis::covering([1e-9, 0.99999]);
    assert_eq!(
        (a.lo(), a.hi()),
        (DET_TICKS[0].0, DET_TICKS[DET_TICKS.len() - 1].0)
    );
    let labels: Vec<&str> = DetAxis::DEFAULT.ticks().iter().map(|t| t.1).collect();
    assert_eq!(
        labels,
        ["0.1", "0.2", "0.5", "1", "2", "5", "10", "20", "40"]
    );
    assert!(DetAxis::new(0.5, 0.1).is_none());
    assert!(DetAxis::new(0.0, 0.1).is_none());
    assert!(DetAxis::new(0.1, 1.0).is_none());
}

#[test]
fn tick_labels_are_the_probabilities_in_percent() {
    for (p, label) in DET_TICKS {
        let percent: f64 = label.parse().unwrap();
        assert!((percent / 100.0 - p).abs() < 1e-15, "{label} vs {p}");
    }
}
