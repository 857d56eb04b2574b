//! Cosine scoring and AS-norm against hand-computed values.

use ecapa2_eval::asnorm::*;
use ecapa2_eval::scoring::*;
use ecapa2_eval::trials::parse_trials;
use ecapa2_eval::EmbeddingStore;

const R: f64 = std::f64::consts::FRAC_1_SQRT_2;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn cosine_known_values() {
    assert!(close(
        cosine_similarity(&[1.0, 0.0], &[1.0, 1.0]).unwrap(),
        R,
        1e-12
    ));
    assert_eq!(
        cosine_similarity(&[1.0, 2.0, 3.0], &[-2.0, -4.0, -6.0]).unwrap(),
        -1.0
    );
    assert_eq!(cosine_similarity(&[3.0, 4.0], &[30.0, 40.0]).unwrap(), 1.0);
    assert_eq!(cosine_similarity(&[1.0, 0.0], &[0.0, 5.0]).unwrap(), 0.0);
    // (3, 4)·(4, 3) / 25 = 24/25.
    assert!(close(
        cosine_similarity(&[3.0, 4.0], &[4.0, 3.0]).unwrap(),
        0.96,
        1e-12
    ));
}

#[test]
fn cosine_errors() {
    assert_eq!(
        cosine_similarity(&[1.0], &[1.0, 2.0]),
        Err(ScoringError::DimensionMismatch { a: 1, b: 2 })
    );
    assert_eq!(
        cosine_similarity(&[0.0, 0.0], &[1.0, 2.0]),
        Err(ScoringError::ZeroNorm)
    );
    assert_eq!(cosine_similarity(&[], &[]), Err(ScoringError::ZeroNorm));
    assert_eq!(
        cosine_similarity(&[1.0, f32::NAN], &[1.0, 2.0]),
        Err(ScoringError::NonFinite { index: 1 })
    );
    assert_eq!(l2_normalize(&[0.0]), Err(ScoringError::ZeroNorm));
    let n = l2_normalize(&[3.0, 4.0]).unwrap();
    assert_eq!(n, vec![0.6, 0.8]);
}

fn store(entries: &[(&str, &[f32])]) -> EmbeddingStore {
    let mut s = EmbeddingStore::new();
    for (k, v) in entries {
        s.insert(*k, v.to_vec()).unwrap();
    }
    s
}

#[test]
fn score_trials_and_split() {
    let s = store(&[("a", &[1.0, 0.0]), ("b", &[1.0, 1.0]), ("c", &[0.0, -2.0])]);
    let trials = parse_trials("1 a b\n0 a c\n").unwrap();
    let scored = score_trials(&trials.trials, &s).unwrap();
    assert!(close(scored[0].score, R, 1e-12));
    assert_eq!(scored[1].score, 0.0);
    assert_eq!(scored[0].label, Some(true));
    let (t, n) = split_by_label(&scored).unwrap();
    assert_eq!((t.len(), n.len()), (1, 1));

    let missing = parse_trials("1 a zz\n").unwrap();
    assert_eq!(
        score_trials(&missing.trials, &s),
        Err(ScoringError::MissingEmbedding {
            trial: 0,
            key: "zz".into()
        })
    );
    let unlabeled = score_trials(&parse_trials("a b\n").unwrap().trials, &s).unwrap();
    assert!(matches!(
        split_by_label(&unlabeled),
        Err(ScoringError::Unlabeled { trial: 0, .. })
    ));
}

#[test]
fn asnorm_formula() {
    // s' = ½((s − μ_e)/σ_e + (s − μ_t)/σ_t) with s = 0.5, (μ_e, σ_e) = (0.2, 0.1), (μ_t, σ_t) = (0.3, 0.2):
    //    = ½(3 + 1) = 2.
    let e = CohortStats {
        mean: 0.2,
        std: 0.1,
    };
    let t = CohortStats {
        mean: 0.3,
        std: 0.2,
    };
    assert!(close(AsNorm::normalize(0.5, &e, &t), 2.0, 1e-12));
}

/// 2-D example. Cohort (unnormalised): c1 = (1,0), c2 = (0,1), c3 = (1,1), c4 = (−1,0), c5 = (3,4).
/// Enrollment e = (1,0), test t = (0,1), raw cosine s = 0. With r = 1/√2:
///
/// ```text
///        c1   c2   c3   c4   c5
///   e:   1    0    r   −1   0.6     top-3 = {1, r, 0.6}
///   t:   0    1    r    0   0.8     top-3 = {1, 0.8, r}
/// ```
///
/// μ_e = (1.6 + r)/3 = 0.769035594, σ_e = √(Σ(x−μ_e)²/3) = 0.169068789 (population std),
/// μ_t = (1.8 + r)/3 = 0.835702260, σ_t = 0.122209105,
/// s' = ½(−μ_e/σ_e − μ_t/σ_t) = ½(−4.548681 − 6.838272) = −5.693476428.
#[test]
fn asnorm_hand_example() {
    let cohort: Vec<Vec<f32>> = vec![
        vec![1.0, 0.0],
        vec![0.0, 1.0],
        vec![1.0, 1.0],
        vec![-1.0, 0.0],
        vec![3.0, 4.0],
    ];
    let norm = AsNorm::new(cohort.iter().map(|v| v.as_slice()), Some(3)).unwrap();
    assert_eq!((norm.top_n(), norm.cohort_len(), norm.dim()), (3, 5, 2));

    let pop_std = |xs: [f64; 3]| {
        let m = xs.iter().sum::<f64>() / 3.0;
        (
            m,
            (xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 3.0).sqrt(),
        )
    };
    let (me, se) = pop_std([1.0, R, 0.6]);
    let (mt, st) = pop_std([1.0, 0.8, R]);
    let es = norm.cohort_stats(&[1.0, 0.0]).unwrap();
    let ts = norm.cohort_stats(&[0.0, 1.0]).unwrap();
    // f32 cohort storage limits agreement to ~1e-7.
    assert!(
        close(es.mean, me, 1e-6) && close(es.std, se, 1e-6),
        "{es:?}"
    );
    assert!(
        close(ts.mean, mt, 1e-6) && close(ts.std, st, 1e-6),
        "{ts:?}"
    );
    assert!(close(es.mean, 0.769035594, 1e-6) && close(es.std, 0.169068789, 1e-6));
    assert!(close(ts.mean, 0.835702260, 1e-6) && close(ts.std, 0.122209105, 1e-6));

    let expected = -5.693476428;
    let s = norm.score(&[1.0, 0.0], &[0.0, 1.0]).unwrap();
    assert!(close(s, expected, 1e-5), "{s}");

    // The batch path (stats cached per key) gives the same number, keeps labels and order.
    let st = store(&[("e", &[1.0, 0.0]), ("t", &[0.0, 1.0])]);
    let trials = parse_trials("0 e t\n1 e e\n").unwrap();
    let raw = score_trials(&trials.trials, &st).unwrap();
    let normed = norm.normalize_trials(&raw, &st).unwrap();
    assert!(close(normed[0].score, expected, 1e-5));
    assert_eq!(normed[0].label, Some(false));
    // e vs e: s = 1, both sides use e's stats → (1 − μ_e)/σ_e.
    assert!(close(normed[1].score, (1.0 - me) / se, 1e-5));
}

#[test]
fn asnorm_top_n_defaults_and_caps() {
    let cohort = [[1.0f32, 0.0], [0.0, 1.0], [1.0, 1.0]];
    let n = AsNorm::new(cohort.iter().map(|v| v.as_slice()), None).unwrap();
    assert_eq!(n.top_n(), 3); // DEFAULT_TOP_N = 300 capped at cohort size
    assert_eq!(DEFAULT_TOP_N, 300);
    let n = AsNorm::new(cohort.iter().map(|v| v.as_slice()), Some(1000)).unwrap();
    assert_eq!(n.top_n(), 3);
}

#[test]
fn asnorm_errors() {
    let one = [[1.0f32, 0.0]];
    assert_eq!(
        AsNorm::new(one.iter().map(|v| v.as_slice()), None).unwrap_err(),
        AsNormError::CohortTooSmall { size: 1 }
    );
    let two = [[1.0f32, 0.0], [0.0, 1.0]];
    assert_eq!(
        AsNorm::new(two.iter().map(|v| v.as_slice()), Some(1)).unwrap_err(),
        AsNormError::InvalidTopN(1)
    );
    let zero: [&[f32]; 2] = [&[1.0, 0.0], &[0.0, 0.0]];
    assert!(matches!(
        AsNorm::new(zero, None).unwrap_err(),
        AsNormError::BadCohortEmbedding {
            index: 1,
            source: ScoringError::ZeroNorm
        }
    ));
    let ragged: [&[f32]; 2] = [&[1.0, 0.0], &[1.0]];
    assert!(matches!(
        AsNorm::new(ragged, None).unwrap_err(),
        AsNormError::BadCohortEmbedding {
            index: 1,
            source: ScoringError::DimensionMismatch { .. }
        }
    ));

    // Identical cohort members → every cohort score equal → σ = 0.
    let dup = [[1.0f32, 2.0], [1.0, 2.0]];
    let n = AsNorm::new(dup.iter().map(|v| v.as_slice()), None).unwrap();
    assert!(matches!(
        n.cohort_stats(&[0.3, 0.1]),
        Err(AsNormError::ZeroSpread { top_n: 2, .. })
    ));
    let st = store(&[("x", &[0.3, 0.1])]);
    let raw = score_trials(&parse_trials("x x\n").unwrap().trials, &st).unwrap();
    let err = n.normalize_trials(&raw, &st).unwrap_err();
    assert!(err.to_string().contains("\"x\""), "{err}");

    let n = AsNorm::new(two.iter().map(|v| v.as_slice()), None).unwrap();
    assert!(matches!(
        n.cohort_stats(&[1.0]),
        Err(AsNormError::Scoring(ScoringError::DimensionMismatch { .. }))
    ));
    let mut bad = raw.clone();
    bad[0].score = f64::NAN;
    assert!(matches!(
        n.normalize_trials(&bad, &st),
        Err(AsNormError::NonFiniteScore { trial: 0, .. })
    ));
    bad[0].score = 0.5;
    bad[0].test = "missing".into();
    assert!(matches!(
        n.normalize_trials(&bad, &st),
        Err(AsNormError::Scoring(ScoringError::MissingEmbedding { .. }))
    ));
}

/// Labels of an unlabelled score file come from the trial list, by (enroll, test) pair.
#[test]
fn labels_from_a_trial_list() {
    let scored = ecapa2_eval::parse_scores("a b 0.9\na c 0.1\nb c 0.5 target\n").unwrap();
    let list = parse_trials("b c nontarget\na c nontarget\na b target\n").unwrap();
    let mut labelled = scored.clone();
    label_from_trials(&mut labelled, &list).unwrap();
    let labels: Vec<_> = labelled.iter().map(|s| s.label).collect();
    // The list's label replaces the file's (b c).
    assert_eq!(labels, [Some(true), Some(false), Some(false)]);
    assert_eq!(
        split_by_label(&labelled).unwrap(),
        (vec![0.9], vec![0.1, 0.5])
    );

    // A pair missing from the list: an error naming it, and nothing changed.
    let short = parse_trials("a b target\na c nontarget\n").unwrap();
    let mut untouched = scored.clone();
    assert_eq!(
        label_from_trials(&mut untouched, &short),
        Err(ScoringError::NotInTrials {
            trial: 2,
            enroll: "b".into(),
            test: "c".into()
        })
    );
    assert_eq!(untouched, scored);
    // Reversed pairs are other pairs.
    let reversed = parse_trials("b a target\nc a nontarget\nc b target\n").unwrap();
    assert!(matches!(
        label_from_trials(&mut untouched, &reversed),
        Err(ScoringError::NotInTrials { trial: 0, .. })
    ));
    let unlabelled = parse_trials("a b\n").unwrap();
    assert_eq!(
        label_from_trials(&mut untouched, &unlabelled),
        Err(ScoringError::UnlabeledTrialList)
    );
    let both = parse_trials("1 a b\n0 a b\n").unwrap();
    assert!(matches!(
        label_from_trials(&mut untouched, &both),
        Err(ScoringError::ConflictingLabels { .. })
    ));
}
