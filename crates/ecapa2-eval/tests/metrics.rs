//! EER/minDCF on score sets whose answers are known in closed form.
//!
//! Convention reminder (see `metrics` module docs): accept iff `score >= τ`; the DET points
//! are taken at every distinct score plus "reject all"; EER is where the polyline through them
//! meets P_miss = P_fa; minDCF is min over those points of C_det / min(C_miss·P_t, C_fa·(1−P_t)).

use ecapa2_eval::metrics::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12
}

/// N targets at 1, 2, …, N; N non-targets of which N−k lie far below every target and k lie in
/// the open interval (k, k+1), i.e. above the k lowest targets and below target k+1:
///
/// ```text
///   non(N−k)   tgt 1..k   non(k)   tgt k+1..N
/// ```
///
/// Raising τ through the k low targets moves P_miss from 0 to k/N while P_fa stays k/N, so the
/// staircase has a corner at (k/N, k/N) exactly on the diagonal: EER = k/N, reached at the
/// threshold equal to the lowest of the k high non-targets.
fn block_overlap(n: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
    let targets = (1..=n).map(|i| i as f64).collect();
    let mut non: Vec<f64> = (1..=n - k).map(|j| -(j as f64)).collect();
    non.extend((1..=k).map(|m| k as f64 + m as f64 / (k as f64 + 1.0)));
    (targets, non)
}

#[test]
fn eer_block_overlap_is_k_over_n() {
    let n = 100;
    for k in [1usize, 2, 5, 17, 50, 99] {
        let (t, nt) = block_overlap(n, k);
        let e = compute_eer(&t, &nt).unwrap();
        assert!(close(e.eer, k as f64 / n as f64), "k={k}: eer={}", e.eer);
        let lowest_high_non = k as f64 + 1.0 / (k as f64 + 1.0);
        assert!(
            close(e.threshold, lowest_high_non),
            "k={k}: thr={}",
            e.threshold
        );
    }
}

#[test]
fn eer_perfect_separation_is_zero() {
    // k = 0: every non-target is below every target. The curve reaches (0, 0) at τ = lowest
    // target score (1.0), so EER = 0 there.
    let (t, nt) = block_overlap(100, 0);
    let e = compute_eer(&t, &nt).unwrap();
    assert_eq!(e.eer, 0.0);
    assert_eq!(e.threshold, 1.0);
    // Perfect separation also costs nothing at any prior: the τ = 1.0 point has P_miss = P_fa = 0.
    for p in STANDARD_P_TARGETS {
        let m = compute_min_dcf(&t, &nt, p).unwrap();
        assert_eq!(
            (m.min_dcf, m.threshold, m.p_miss, m.p_fa),
            (0.0, 1.0, 0.0, 0.0)
        );
    }
}

#[test]
fn eer_total_inversion_is_one() {
    // k = N: all targets below all non-targets; the corner is (1, 1).
    let (t, nt) = block_overlap(100, 100);
    assert!(close(compute_eer(&t, &nt).unwrap().eer, 1.0));
    // Best decision is then to reject everything: C_det = P_t, normalised to exactly 1, at a
    // threshold above every score.
    let m = compute_min_dcf(&t, &nt, 0.01).unwrap();
    assert!(close(m.min_dcf, 1.0));
    let max_score = nt.iter().cloned().fold(f64::MIN, f64::max);
    assert!(m.threshold > max_score);
    assert_eq!((m.p_miss, m.p_fa), (1.0, 0.0));
}

#[test]
fn eer_unequal_class_sizes() {
    // 100 targets at 1..=100; 200 non-targets: 190 far below, 10 in (5, 6).
    // Corner after the 5 low targets: P_miss = 5/100 = 0.05 and P_fa = 10/200 = 0.05 → EER = 0.05.
    let t: Vec<f64> = (1..=100).map(|i| i as f64).collect();
    let mut nt: Vec<f64> = (1..=190).map(|j| -(j as f64)).collect();
    nt.extend((1..=10).map(|m| 5.0 + m as f64 / 11.0));
    let e = compute_eer(&t, &nt).unwrap();
    assert!(close(e.eer, 0.05), "{}", e.eer);
}

#[test]
fn eer_interpolates_across_ties() {
    // 100 targets: 10 at 0.0 and 90 at 1..=90. 50 non-targets: 40 at −1..=−40 and 10 at 0.0.
    // DET points around the crossing:
    //   τ = 0: P_miss = 0,          P_fa = 10/50 = 0.2   (d = P_miss − P_fa = −0.2)
    //   τ = 1: P_miss = 10/100 = 0.1, P_fa = 0           (d = +0.1)
    // The tie makes this one diagonal segment; it meets the diagonal at weight w = 0.2/0.3 = 2/3:
    //   EER = 0 + (2/3)·0.1 = 1/15, threshold = 0 + (2/3)·(1 − 0) = 2/3.
    let mut t = vec![0.0; 10];
    t.extend((1..=90).map(|i| i as f64));
    let mut nt: Vec<f64> = (1..=40).map(|j| -(j as f64)).collect();
    nt.extend([0.0; 10]);
    let e = compute_eer(&t, &nt).unwrap();
    assert!(close(e.eer, 1.0 / 15.0), "{}", e.eer);
    assert!(close(e.threshold, 2.0 / 3.0), "{}", e.threshold);
}

#[test]
fn eer_identical_distributions_is_half() {
    // Targets and non-targets both 1..=N (N odd, each value tied once across the classes).
    // Point j (τ = j): P_miss = (j−1)/N, P_fa = (N−j+1)/N, so d = (2j−2−N)/N never hits 0 for odd N;
    // it crosses between j = (N+1)/2 (d = −1/N) and j+1 (d = +1/N) at w = 1/2:
    //   EER = ((N−1)/2 + 1/2)/N = 1/2, threshold = (N+1)/2 + 1/2.
    let n = 51;
    let s: Vec<f64> = (1..=n).map(|i| i as f64).collect();
    let e = compute_eer(&s, &s).unwrap();
    assert!(close(e.eer, 0.5));
    assert!(close(e.threshold, (n as f64 + 1.0) / 2.0 + 0.5));
}

#[test]
fn min_dcf_block_overlap() {
    // Block case k = 5, N = 100. With C_miss = C_fa = 1 and P_t ≤ 0.5, C_def = P_t and
    //   C_det/C_def = P_miss + ((1−P_t)/P_t)·P_fa = P_miss + 99·P_fa (P_t = 0.01) or + 19·P_fa (0.05).
    // Any point with P_fa ≥ 1/N costs ≥ 19/100 > 0.05; among P_fa = 0 points the smallest
    // P_miss is k/N = 0.05, first reached at τ = target k+1 = 6.0. So minDCF = 0.05 for both.
    let (t, nt) = block_overlap(100, 5);
    for p in [0.01, 0.05] {
        let m = compute_min_dcf(&t, &nt, p).unwrap();
        assert!(close(m.min_dcf, 0.05), "p={p}: {}", m.min_dcf);
        assert_eq!(m.threshold, 6.0);
        assert!(close(m.p_miss, 0.05));
        assert_eq!(m.p_fa, 0.0);
    }
}

/// Hand-worked case where the two priors pick different operating points.
///
/// Targets (4): 0.1, 0.5, 0.7, 0.9. Non-targets (990): 986 at −1..=−986, plus 0.2, 0.3, 0.4, 0.6.
///
/// ```text
/// τ       P_miss  #FA   P_t=0.01: P_miss + 99·FA/990 = P_miss + FA/10   P_t=0.05: P_miss + 19·FA/990
/// ≤−1     0       ≥5    ≥ 0.5                                            ≥ 95/990 ≈ 0.0960
/// 0.1     0       4     0.40                                             76/990  ≈ 0.0768  ← min
/// 0.2     1/4     4     0.65                                             0.25 + 76/990
/// 0.3     1/4     3     0.55                                             …
/// 0.4     1/4     2     0.45
/// 0.5     1/4     1     0.35  ← min                                      0.25 + 19/990
/// 0.6     1/2     1     0.60
/// 0.7     1/2     0     0.50
/// 0.9     3/4     0     0.75
/// reject  1       0     1.00
/// ```
fn hand_case() -> (Vec<f64>, Vec<f64>) {
    let t = vec![0.1, 0.5, 0.7, 0.9];
    let mut nt: Vec<f64> = (1..=986).map(|j| -(j as f64)).collect();
    nt.extend([0.2, 0.3, 0.4, 0.6]);
    (t, nt)
}

#[test]
fn min_dcf_hand_worked() {
    let (t, nt) = hand_case();
    let m = compute_min_dcf(&t, &nt, 0.01).unwrap();
    assert!(close(m.min_dcf, 0.35), "{}", m.min_dcf);
    assert_eq!(m.threshold, 0.5);
    assert!(close(m.p_miss, 0.25) && close(m.p_fa, 1.0 / 990.0));

    let m = compute_min_dcf(&t, &nt, 0.05).unwrap();
    assert!(close(m.min_dcf, 76.0 / 990.0), "{}", m.min_dcf);
    assert_eq!(m.threshold, 0.1);
    assert!(close(m.p_miss, 0.0) && close(m.p_fa, 4.0 / 990.0));
}

#[test]
fn min_dcf_unequal_costs() {
    // SRE08 costs: C_miss = 10, C_fa = 1, P_t = 0.01 → C_def = min(0.1, 0.99) = 0.1 and
    // C_det/C_def = (0.1·P_miss + 0.99·P_fa)/0.1 = P_miss + 9.9·FA/990 = P_miss + FA/100.
    // From the table above: τ = 0.1 gives 0.04 (τ ≤ −1: ≥ 0.05; τ = 0.5: 0.26; τ = 0.7: 0.5).
    let (t, nt) = hand_case();
    let curve = DetCurve::new(&t, &nt).unwrap();
    let m = curve
        .min_dcf(DcfParams {
            p_target: 0.01,
            c_miss: 10.0,
            c_fa: 1.0,
        })
        .unwrap();
    assert!(close(m.min_dcf, 0.04), "{}", m.min_dcf);
    assert_eq!(m.threshold, 0.1);
}

#[test]
fn metrics_bundle_and_labeled_input_agree() {
    let (t, nt) = hand_case();
    let m = compute_metrics(&t, &nt).unwrap();
    assert_eq!((m.n_target, m.n_nontarget), (4, 990));
    assert_eq!(m.min_dcf.len(), 2);
    assert_eq!(m.min_dcf[0].params.p_target, 0.01);
    assert!(close(m.min_dcf[0].min_dcf, 0.35));
    assert!(close(m.min_dcf[1].min_dcf, 76.0 / 990.0));

    // Same scores interleaved with labels give the same curve.
    let mut scores = Vec::new();
    let mut labels = Vec::new();
    for (i, &s) in nt.iter().enumerate() {
        scores.push(s);
        labels.push(false);
        if let Some(&ts) = t.get(i) {
            scores.push(ts);
            labels.push(true);
        }
    }
    let a = DetCurve::from_labeled(&scores, &labels).unwrap();
    let b = DetCurve::new(&t, &nt).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.eer(), m.eer);
}

#[test]
fn det_curve_shape() {
    let (t, nt) = hand_case();
    let c = DetCurve::new(&t, &nt).unwrap();
    let p = c.points();
    // One point per distinct score plus the reject-all point.
    assert_eq!(p.len(), 994 + 1);
    assert_eq!((p[0].p_miss, p[0].p_fa), (0.0, 1.0));
    let last = p[p.len() - 1];
    assert_eq!((last.p_miss, last.p_fa), (1.0, 0.0));
    assert!(last.threshold > 0.9);
    for w in p.windows(2) {
        assert!(w[0].threshold < w[1].threshold);
        assert!(w[0].p_miss <= w[1].p_miss && w[0].p_fa >= w[1].p_fa);
    }
}

#[test]
fn negative_zero_ties_with_zero() {
    // −0.0 and 0.0 are the same score: one tie, EER 0.5 by interpolation.
    let e = compute_eer(&[-0.0], &[0.0]).unwrap();
    assert!(close(e.eer, 0.5));
}

#[test]
fn invalid_inputs_are_errors() {
    assert_eq!(compute_eer(&[], &[1.0]), Err(MetricsError::NoTargets));
    assert_eq!(compute_eer(&[1.0], &[]), Err(MetricsError::NoNontargets));
    assert!(matches!(
        compute_eer(&[1.0, f64::NAN], &[0.0]),
        Err(MetricsError::NonFiniteScore {
            kind: "target",
            index: 1,
            ..
        })
    ));
    assert!(matches!(
        compute_min_dcf(&[1.0], &[f64::INFINITY], 0.01),
        Err(MetricsError::NonFiniteScore {
            kind: "non-target",
            index: 0,
            ..
        })
    ));
    for p in [0.0, 1.0, -0.1, f64::NAN] {
        assert!(matches!(
            compute_min_dcf(&[1.0], &[0.0], p),
            Err(MetricsError::InvalidPrior(_))
        ));
    }
    let c = DetCurve::new(&[1.0], &[0.0]).unwrap();
    assert!(matches!(
        c.min_dcf(DcfParams {
            p_target: 0.01,
            c_miss: 0.0,
            c_fa: 1.0
        }),
        Err(MetricsError::InvalidCost { name: "c_miss", .. })
    ));
    assert_eq!(
        DetCurve::from_labeled(&[1.0, 2.0], &[true]),
        Err(MetricsError::LengthMismatch {
            scores: 2,
            labels: 1
        })
    );
    // Every error has a readable message.
    assert!(MetricsError::NoTargets.to_string().contains("target"));
}

/// The FAR operating point against a direct count: the lowest threshold `t` among the scores
/// with `#(non-target >= t) / N <= far`.
#[test]
fn threshold_at_a_false_alarm_rate() {
    let target = [0.9, 0.8, 0.75, 0.6, 0.4];
    let nontarget = [0.1, 0.2, 0.3, 0.35, 0.5, 0.55, 0.7, 0.05, 0.15, 0.25];
    let det = DetCurve::new(&target, &nontarget).unwrap();
    for far in [0.0, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0] {
        let got = det.at_false_alarm_rate(far).unwrap();
        let mut candidates: Vec<f64> = target.iter().chain(&nontarget).copied().collect();
        candidates.push(f64::INFINITY);
        candidates.sort_by(f64::total_cmp);
        let fa = |t: f64| nontarget.iter().filter(|&&s| s >= t).count() as f64 / 10.0;
        let want = candidates.into_iter().find(|&t| fa(t) <= far).unwrap();
        assert!(got.p_fa <= far, "far {far}: p_fa {}", got.p_fa);
        if want.is_finite() {
            assert_eq!(got.threshold, want, "far {far}");
        } else {
            assert_eq!(got.p_fa, 0.0);
        }
    }
    assert!(det.at_false_alarm_rate(-0.1).is_none());
    assert!(det.at_false_alarm_rate(f64::NAN).is_none());
}
