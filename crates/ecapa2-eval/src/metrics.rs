//! Verification metrics: equal error rate (EER) and minimum normalised detection cost (minDCF).
//!
//! # Operating points
//!
//! A decision threshold `τ` accepts a trial iff `score >= τ`. Sweeping `τ` over every distinct
//! score (ascending), followed by one threshold just above the highest score (reject everything),
//! gives the empirical DET curve: a staircase of points `(P_miss, P_fa)` running from `(0, 1)` to
//! `(1, 0)`, where `P_miss` is the fraction of target scores `< τ` and `P_fa` the fraction of
//! non-target scores `>= τ`. A target and a non-target with the *same* score can only be
//! accepted or rejected together, so ties give a diagonal step instead of two axis-parallel ones
//! (the points of `sklearn.metrics.roc_curve(..., drop_intermediate=False)`).
//!
//! # EER convention
//!
//! The points are joined by straight segments and the EER is where that polyline meets
//! `P_miss = P_fa` — the linear-interpolation rule of the NIST SRE scoring tools
//! (`compute_eer` there). The crossing is unique because `P_miss - P_fa` is non-decreasing
//! along the curve. Without ties the crossing is always at a staircase corner, so e.g. k targets
//! scored below k non-targets out of N of each give exactly `k/N`; a tie between `a` targets and
//! `b` non-targets is split linearly (the expected error of breaking it at random). The reported
//! threshold is interpolated between the two thresholds of the crossing segment with the same
//! weight. (The ROC-convex-hull EER of BOSARIS is never larger; it is not what is computed here.)
//!
//! # minDCF convention
//!
//! `C_det(τ) = C_miss · P_miss(τ) · P_target + C_fa · P_fa(τ) · (1 − P_target)`, normalised by
//! `C_def = min(C_miss · P_target, C_fa · (1 − P_target))` (the cost of the best threshold-free
//! decision), minimised over the operating points above — as in NIST SRE 2016+, Kaldi's
//! `compute_min_dcf.py` and the VoxCeleb tools. Both extremes are included, so the result is
//! always `<= 1`. On exact cost ties the lowest threshold wins.

/// Errors from computing metrics.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum MetricsError {
    /// No target (same-speaker) scores: miss rates are undefined.
    #[error("no target trials: EER/minDCF need at least one target score")]
    NoTargets,
    /// No non-target scores: false-alarm rates are undefined.
    #[error("no non-target trials: EER/minDCF need at least one non-target score")]
    NoNontargets,
    /// A score is NaN or infinite.
    #[error("{kind} score #{index} is not finite ({value})")]
    NonFiniteScore {
        /// `"target"` or `"non-target"`.
        kind: &'static str,
        /// 0-based index within its class.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// `scores` and `labels` have different lengths.
    #[error("{scores} scores but {labels} labels")]
    LengthMismatch {
        /// Number of scores.
        scores: usize,
        /// Number of labels.
        labels: usize,
    },
    /// `p_target` outside the open interval (0, 1).
    #[error("p_target must be in (0, 1), got {0}")]
    InvalidPrior(f64),
    /// A cost is not finite and positive.
    #[error("{name} must be finite and > 0, got {value}")]
    InvalidCost {
        /// `"c_miss"` or `"c_fa"`.
        name: &'static str,
        /// The offending value.
        value: f64,
    },
}

/// Target priors reported by default (VoxCeleb SRC uses 0.05, NIST SRE 2016+ uses 0.01).
pub const STANDARD_P_TARGETS: [f64; 2] = [0.01, 0.05];

/// One point of the DET curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OperatingPoint {
    /// Accept iff `score >= threshold`.
    pub threshold: f64,
    /// Fraction of target scores below the threshold (false rejection rate).
    pub p_miss: f64,
    /// Fraction of non-target scores at or above the threshold (false acceptance rate).
    pub p_fa: f64,
}

/// Equal error rate and where it occurs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eer {
    /// The EER as a fraction in [0, 1] (multiply by 100 for percent).
    pub eer: f64,
    /// Threshold at the crossing (interpolated between the two neighbouring thresholds).
    pub threshold: f64,
}

/// Parameters of the detection cost function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DcfParams {
    /// Prior probability of a target trial, in (0, 1).
    pub p_target: f64,
    /// Cost of a miss (false rejection).
    pub c_miss: f64,
    /// Cost of a false alarm (false acceptance).
    pub c_fa: f64,
}

impl DcfParams {
    /// `p_target` with `C_miss = C_fa = 1`.
    pub fn new(p_target: f64) -> Self {
        Self {
            p_target,
            c_miss: 1.0,
            c_fa: 1.0,
        }
    }

    /// Checks that the prior is in (0, 1) and the costs are finite and positive.
    pub fn validate(&self) -> Result<(), MetricsError> {
        // Negated comparison so NaN is rejected too.
        if !(self.p_target > 0.0 && self.p_target < 1.0) {
            return Err(MetricsError::InvalidPrior(self.p_target));
        }
        for (name, value) in [("c_miss", self.c_miss), ("c_fa", self.c_fa)] {
            if !(value.is_finite() && value > 0.0) {
                return Err(MetricsError::InvalidCost { name, value });
            }
        }
        Ok(())
    }

    /// Normaliser `min(C_miss · P_target, C_fa · (1 − P_target))`.
    pub fn c_default(&self) -> f64 {
        (self.c_miss * self.p_target).min(self.c_fa * (1.0 - self.p_target))
    }
}

/// Minimum normalised detection cost and where it occurs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinDcf {
    /// Minimum of `C_det / C_def`, in [0, 1].
    pub min_dcf: f64,
    /// Threshold achieving it (accept iff `score >= threshold`).
    pub threshold: f64,
    /// Miss rate at that threshold.
    pub p_miss: f64,
    /// False-alarm rate at that threshold.
    pub p_fa: f64,
    /// The cost parameters used.
    pub params: DcfParams,
}

/// EER plus minDCF at [`STANDARD_P_TARGETS`], the usual verification report.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Number of target scores.
    pub n_target: usize,
    /// Number of non-target scores.
    pub n_nontarget: usize,
    /// Equal error rate.
    pub eer: Eer,
    /// minDCF for each prior of [`STANDARD_P_TARGETS`], in that order.
    pub min_dcf: Vec<MinDcf>,
}

/// The empirical DET curve of a set of target and non-target scores.
#[derive(Debug, Clone, PartialEq)]
pub struct DetCurve {
    points: Vec<OperatingPoint>,
    n_target: usize,
    n_nontarget: usize,
}

impl DetCurve {
    /// Builds the curve from the two classes of scores. Fails on an empty class or a
    /// non-finite score.
    pub fn new(target: &[f64], nontarget: &[f64]) -> Result<Self, MetricsError> {
        if target.is_empty() {
            return Err(MetricsError::NoTargets);
        }
        if nontarget.is_empty() {
            return Err(MetricsError::NoNontargets);
        }
        let mut all = Vec::with_capacity(target.len() + nontarget.len());
        for (kind, scores, is_target) in
            [("target", target, true), ("non-target", nontarget, false)]
        {
            for (index, &value) in scores.iter().enumerate() {
                if !value.is_finite() {
                    return Err(MetricsError::NonFiniteScore { kind, index, value });
                }
                // `+ 0.0` turns -0.0 into 0.0 so equal scores group together after sorting.
                all.push((value + 0.0, is_target));
            }
        }
        all.sort_by(|a, b| a.0.total_cmp(&b.0));

        let (nt, nn) = (target.len(), nontarget.len());
        let rate = |count: usize, total: usize| count as f64 / total as f64;
        let mut points = Vec::new();
        points.push(OperatingPoint {
            threshold: all[0].0,
            p_miss: 0.0,
            p_fa: 1.0,
        });
        // Counts of scores strictly below the next threshold.
        let (mut tgt_below, mut non_below) = (0usize, 0usize);
        let mut i = 0;
        while i < all.len() {
            let s = all[i].0;
            while i < all.len() && all[i].0 == s {
                if all[i].1 {
                    tgt_below += 1;
                } else {
                    non_below += 1;
                }
                i += 1;
            }
            let threshold = if i < all.len() { all[i].0 } else { next_up(s) };
            points.push(OperatingPoint {
                threshold,
                p_miss: rate(tgt_below, nt),
                p_fa: rate(nn - non_below, nn),
            });
        }
        Ok(Self {
            points,
            n_target: nt,
            n_nontarget: nn,
        })
    }

    /// Builds the curve from scores and parallel labels (`true` = target).
    pub fn from_labeled(scores: &[f64], labels: &[bool]) -> Result<Self, MetricsError> {
        if scores.len() != labels.len() {
            return Err(MetricsError::LengthMismatch {
                scores: scores.len(),
                labels: labels.len(),
            });
        }
        let (mut tgt, mut non) = (Vec::new(), Vec::new());
        for (&s, &l) in scores.iter().zip(labels) {
            if l {
                tgt.push(s)
            } else {
                non.push(s)
            }
        }
        Self::new(&tgt, &non)
    }

    /// Operating points in ascending threshold order, from `(P_miss, P_fa) = (0, 1)` to `(1, 0)`.
    pub fn points(&self) -> &[OperatingPoint] {
        &self.points
    }

    /// Number of target scores.
    pub fn n_target(&self) -> usize {
        self.n_target
    }

    /// Number of non-target scores.
    pub fn n_nontarget(&self) -> usize {
        self.n_nontarget
    }

    /// Equal error rate by linear interpolation of the DET polyline (see the module docs).
    pub fn eer(&self) -> Eer {
        let d = |p: &OperatingPoint| p.p_miss - p.p_fa;
        // d goes from -1 at the first point to +1 at the last, so a first j with d >= 0 exists and is >= 1.
        let j = self
            .points
            .iter()
            .position(|p| d(p) >= 0.0)
            .unwrap_or(self.points.len() - 1);
        let (a, b) = (self.points[j.saturating_sub(1)], self.points[j]);
        if d(&b) == 0.0 || j == 0 {
            return Eer {
                eer: b.p_miss,
                threshold: b.threshold,
            };
        }
        let w = -d(&a) / (d(&b) - d(&a));
        Eer {
            eer: a.p_miss + w * (b.p_miss - a.p_miss),
            threshold: a.threshold + w * (b.threshold - a.threshold),
        }
    }

    /// The lowest threshold whose false-alarm rate is at most `p_fa` (the operating point a
    /// deployment picks for "at most 1 % false accepts"), or `None` when `p_fa` is not in
    /// [0, 1]. The last point (`P_fa = 0`) always qualifies, so any valid `p_fa` has one.
    pub fn at_false_alarm_rate(&self, p_fa: f64) -> Option<OperatingPoint> {
        if !(0.0..=1.0).contains(&p_fa) {
            return None;
        }
        // Points run in ascending threshold order with P_fa non-increasing.
        self.points.iter().copied().find(|p| p.p_fa <= p_fa)
    }

    /// Minimum normalised detection cost for `params` (see the module docs).
    pub fn min_dcf(&self, params: DcfParams) -> Result<MinDcf, MetricsError> {
        params.validate()?;
        let c_def = params.c_default();
        let cost = |p: &OperatingPoint| {
            (params.c_miss * p.p_miss * params.p_target
                + params.c_fa * p.p_fa * (1.0 - params.p_target))
                / c_def
        };
        let mut best = self.points[0];
        let mut best_cost = cost(&best);
        for p in &self.points[1..] {
            let c = cost(p);
            if c < best_cost {
                best = *p;
                best_cost = c;
            }
        }
        Ok(MinDcf {
            min_dcf: best_cost,
            threshold: best.threshold,
            p_miss: best.p_miss,
            p_fa: best.p_fa,
            params,
        })
    }

    /// EER plus minDCF at [`STANDARD_P_TARGETS`] with unit costs.
    pub fn metrics(&self) -> Metrics {
        let min_dcf = STANDARD_P_TARGETS
            .iter()
            // The standard priors are valid, so validation cannot fail here.
            .filter_map(|&p| self.min_dcf(DcfParams::new(p)).ok())
            .collect();
        Metrics {
            n_target: self.n_target,
            n_nontarget: self.n_nontarget,
            eer: self.eer(),
            min_dcf,
        }
    }
}

/// EER of target vs non-target scores. See [`DetCurve::eer`].
pub fn compute_eer(target: &[f64], nontarget: &[f64]) -> Result<Eer, MetricsError> {
    Ok(DetCurve::new(target, nontarget)?.eer())
}

/// minDCF with `C_miss = C_fa = 1` at `p_target`. See [`DetCurve::min_dcf`].
pub fn compute_min_dcf(
    target: &[f64],
    nontarget: &[f64],
    p_target: f64,
) -> Result<MinDcf, MetricsError> {
    DcfParams::new(p_target).validate()?;
    DetCurve::new(target, nontarget)?.min_dcf(DcfParams::new(p_target))
}

/// EER and minDCF at [`STANDARD_P_TARGETS`] in one pass over the sorted scores.
pub fn compute_metrics(target: &[f64], nontarget: &[f64]) -> Result<Metrics, MetricsError> {
    Ok(DetCurve::new(target, nontarget)?.metrics())
}

/// Smallest f64 greater than finite `x` (`f64::next_up` needs Rust 1.86; the MSRV is 1.85).
fn next_up(x: f64) -> f64 {
    if x == 0.0 {
        f64::from_bits(1)
    } else if x > 0.0 {
        f64::from_bits(x.to_bits() + 1)
    } else {
        f64::from_bits(x.to_bits() - 1)
    }
}
