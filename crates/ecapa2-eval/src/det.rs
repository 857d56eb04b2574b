//! DET curves on normal-deviate axes: the probit transform, the axis range and its ticks, and
//! the polyline a plot draws, clipped to the axes and thinned to a bounded number of points.
//!
//! A DET plot (Martin et al., 1997) draws [`DetCurve`]'s operating points with both rates
//! mapped through the probit `Φ⁻¹`, so that normal score distributions give straight lines.
//! The curve comes from the same sorted-threshold sweep as the EER and minDCF, so its
//! markers lie on it.
//!
//! ```
//! use ecapa2_eval::det::{det_polyline, probit, DetAxis};
//! use ecapa2_eval::DetCurve;
//!
//! let curve = DetCurve::new(&[0.9, 0.8, 0.4], &[0.1, 0.5, 0.2, 0.3]).unwrap();
//! let axis = DetAxis::DEFAULT;
//! let line = det_polyline(&curve, axis, 500);
//! // (Φ⁻¹(P_fa), Φ⁻¹(P_miss)) pairs, all inside the axes.
//! let (lo, hi) = axis.deviates();
//! assert!(line.iter().all(|&(x, y)| (lo..=hi).contains(&x) && (lo..=hi).contains(&y)));
//! assert!((probit(0.975) - 1.959963984540054).abs() < 1e-9);
//! ```

use crate::metrics::DetCurve;

/// Inverse of the standard normal CDF, `Φ⁻¹(p)`: `-∞` at 0, `+∞` at 1, NaN outside [0, 1]
/// or for NaN. Computed as `-√2 · erfc⁻¹(2p)` with statrs (Boost's rational approximations,
/// close to f64 precision in both tails).
pub fn probit(p: f64) -> f64 {
    // Negated test so NaN lands here too.
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    -std::f64::consts::SQRT_2 * statrs::function::erf::erfc_inv(2.0 * p)
}

/// The usual DET tick marks: probability and its label in percent (0.1, 0.2, 0.5, 1, 2, 5,
/// 10, 20, 40 % and their extensions to both ends). Labels are stored, not formatted, so that
/// `0.001 × 100` never prints as `0.09999999999999999`.
pub const DET_TICKS: [(f64, &str); 24] = [
    (0.00001, "0.001"),
    (0.00002, "0.002"),
    (0.00005, "0.005"),
    (0.0001, "0.01"),
    (0.0002, "0.02"),
    (0.0005, "0.05"),
    (0.001, "0.1"),
    (0.002, "0.2"),
    (0.005, "0.5"),
    (0.01, "1"),
    (0.02, "2"),
    (0.05, "5"),
    (0.1, "10"),
    (0.2, "20"),
    (0.4, "40"),
    (0.6, "60"),
    (0.8, "80"),
    (0.9, "90"),
    (0.95, "95"),
    (0.98, "98"),
    (0.99, "99"),
    (0.995, "99.5"),
    (0.998, "99.8"),
    (0.999, "99.9"),
];

/// The probability range shown on both axes of a DET plot (the same for miss and false
/// alarm, so that the EER line is the diagonal).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetAxis {
    lo: f64,
    hi: f64,
}

impl DetAxis {
    /// 0.1 % to 50 %: the range of the classic NIST DET plots.
    pub const DEFAULT: DetAxis = DetAxis { lo: 0.001, hi: 0.5 };

    /// The range `[lo, hi]`, or `None` unless `0 < lo < hi < 1`.
    pub fn new(lo: f64, hi: f64) -> Option<Self> {
        (lo > 0.0 && lo < hi && hi < 1.0).then_some(Self { lo, hi })
    }

    /// [`DetAxis::DEFAULT`], widened out to the next tick of [`DET_TICKS`] where a rate in
    /// `rates` lies outside it (rates of 0 or 1, which are at infinity, and non-finite values
    /// are ignored), so that the points a plot marks are visible. Never wider than the ticks.
    pub fn covering(rates: impl IntoIterator<Item = f64>) -> Self {
        let mut axis = Self::DEFAULT;
        let (first, last) = (DET_TICKS[0].0, DET_TICKS[DET_TICKS.len() - 1].0);
        for r in rates.into_iter().filter(|r| *r > 0.0 && *r < 1.0) {
            if r < axis.lo {
                axis.lo = DET_TICKS
                    .iter()
                    .rev()
                    .map(|t| t.0)
                    .find(|&t| t <= r)
                    .unwrap_or(first);
            }
            if r > axis.hi {
                axis.hi = DET_TICKS
                    .iter()
                    .map(|t| t.0)
                    .find(|&t| t >= r)
                    .unwrap_or(last);
            }
        }
        axis
    }

    /// Lowest probability shown.
    pub fn lo(&self) -> f64 {
        self.lo
    }

    /// Highest probability shown.
    pub fn hi(&self) -> f64 {
        self.hi
    }

    /// The range in normal deviates, `(Φ⁻¹(lo), Φ⁻¹(hi))`.
    pub fn deviates(&self) -> (f64, f64) {
        (probit(self.lo), probit(self.hi))
    }

    /// Whether probability `p` lies on the axis (at a finite deviate within the range).
    pub fn contains(&self, p: f64) -> bool {
        (self.lo..=self.hi).contains(&p)
    }

    /// The ticks of [`DET_TICKS`] within the range, ascending.
    pub fn ticks(&self) -> Vec<(f64, &'static str)> {
        DET_TICKS
            .iter()
            .copied()
            .filter(|t| self.contains(t.0))
            .collect()
    }
}

/// Deviates beyond the largest on any axis: where `Φ⁻¹(0) = -∞` and `Φ⁻¹(1) = +∞` are put
/// before clipping (the axes end at `Φ⁻¹(10⁻⁵) ≈ -4.3` at most).
const FAR: f64 = 12.0;

/// Pieces each tie step (a diagonal in probability space) is cut into before the transform,
/// since a straight segment does not stay straight on probit axes.
const TIE_PIECES: usize = 16;

/// The DET curve as a plot draws it: `(Φ⁻¹(P_fa), Φ⁻¹(P_miss))` pairs in the order of
/// [`DetCurve::points`] (ascending threshold), clipped to `axis` on both coordinates and thinned
/// to at most `2 · cells + 1` points.
///
/// Thinning lays a `cells × cells` grid over the plot square and keeps a point only when it
/// enters a new cell (and the last point). The curve is monotone, so it never comes back to a
/// cell: the bound holds however many trials there are, and the drawn line stays within one
/// cell diagonal of the exact one; with `cells` at least the plot's width in pixels that is
/// below a pixel or two. `cells = 0` is taken as 1.
pub fn det_polyline(curve: &DetCurve, axis: DetAxis, cells: usize) -> Vec<(f64, f64)> {
    let (lo, hi) = axis.deviates();
    let deviate = |p: f64| probit(p).clamp(-FAR, FAR);
    let mut clipped: Vec<(f64, f64)> = Vec::new();
    let mut push = |p: (f64, f64)| {
        if clipped.last() != Some(&p) {
            clipped.push(p);
        }
    };
    let mut prev: Option<(f64, f64)> = None;
    for op in curve.points() {
        let (fa, miss) = (op.p_fa, op.p_miss);
        let Some((fa0, miss0)) = prev.replace((fa, miss)) else {
            continue;
        };
        let pieces = if fa != fa0 && miss != miss0 {
            TIE_PIECES
        } else {
            1
        };
        let mut a = (deviate(fa0), deviate(miss0));
        for k in 1..=pieces {
            let b = if k == pieces {
                (deviate(fa), deviate(miss))
            } else {
                let t = k as f64 / pieces as f64;
                (
                    deviate(fa0 + t * (fa - fa0)),
                    deviate(miss0 + t * (miss - miss0)),
                )
            };
            if let Some((c, d)) = clip_segment(a, b, lo, hi) {
                push(c);
                push(d);
            }
            a = b;
        }
    }
    thin(&clipped, lo, hi, cells.max(1))
}

/// The part of segment `a`–`b` inside the square `[lo, hi]²` (Liang–Barsky), if any.
fn clip_segment(
    a: (f64, f64),
    b: (f64, f64),
    lo: f64,
    hi: f64,
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    // Each edge as `p · t <= q`.
    for (p, q) in [
        (-dx, a.0 - lo),
        (dx, hi - a.0),
        (-dy, a.1 - lo),
        (dy, hi - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    // The exact ends where unclipped, so that consecutive segments join without rounding.
    let at = |t: f64| {
        if t == 0.0 {
            a
        } else if t == 1.0 {
            b
        } else {
            (a.0 + t * dx, a.1 + t * dy)
        }
    };
    Some((at(t0), at(t1)))
}

/// Keeps the first point of each grid cell the polyline enters, and its last point.
fn thin(points: &[(f64, f64)], lo: f64, hi: f64, cells: usize) -> Vec<(f64, f64)> {
    let width = (hi - lo) / cells as f64;
    let cell_of = |v: f64| (((v - lo) / width).floor().max(0.0) as usize).min(cells - 1);
    let cell = |p: &(f64, f64)| (cell_of(p.0), cell_of(p.1));
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut last_cell = None;
    for p in points {
        let c = cell(p);
        if last_cell != Some(c) {
            out.push(*p);
            last_cell = Some(c);
        }
    }
    if let (Some(&end), Some(&kept)) = (points.last(), out.last()) {
        if end != kept {
            out.push(end);
        }
    }
    out
}
