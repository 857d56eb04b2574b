//! The clustering and scoring checked against goldens written by
//! `reference/diarize_goldens.py`: scipy's `linkage`/`fcluster`, a numpy NME-SC, and
//! pyannote.metrics (plus md-eval-22) on pyannote.audio's sample.

use ecapa2_diarize::cluster::ahc::{self, Linkage};
use ecapa2_diarize::cluster::{canonical, nmesc, normalized, SpeakerCount};
use ecapa2_diarize::der::{score, DerOptions};
use ecapa2_diarize::{rttm, Segment, Turn};
use serde_json::Value;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn golden(name: &str) -> Value {
    let text = std::fs::read_to_string(root().join("tests/goldens").join(name)).expect("golden");
    serde_json::from_str(&text).expect("json")
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn embeddings(case: &Value) -> Vec<Vec<f32>> {
    case["embeddings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

#[test]
fn ahc_equals_scipy_linkage_and_fcluster_ties_included() {
    let mut checked = 0;
    for case in golden("clustering.json").as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let rows = normalized(&embeddings(case)).unwrap();
        let n = rows.len();
        for a in case["ahc"].as_array().unwrap() {
            let linkage = match a["linkage"].as_str().unwrap() {
                "average" => Linkage::Average,
                _ => Linkage::Centroid,
            };
            let z = ahc::linkage(&ahc::distances(&rows, linkage), n, linkage);
            let want = a["z"].as_array().unwrap();
            assert_eq!(z.len(), want.len());
            for (k, (m, w)) in z.iter().zip(want).enumerate() {
                let w: Vec<f64> = w
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect();
                assert_eq!(
                    (m.left, m.right, m.size),
                    (w[0] as usize, w[1] as usize, w[3] as usize),
                    "{name} {linkage:?} merge {k}"
                );
                assert!(
                    (m.distance - w[2]).abs() < 1e-9,
                    "{name} {linkage:?} merge {k} distance"
                );
            }
            for cut in a["cuts"].as_array().unwrap() {
                let t = cut["threshold"].as_f64().unwrap();
                let c = if linkage == Linkage::Average {
                    t
                } else {
                    (2.0 * t).sqrt()
                };
                assert_eq!(
                    ahc::fcluster_distance(&z, n, c),
                    usizes(&cut["labels"]),
                    "{name} {linkage:?} t={t}"
                );
                checked += 1;
            }
            for mc in a["maxclust"].as_array().unwrap() {
                let k = mc["k"].as_u64().unwrap() as usize;
                assert_eq!(
                    ahc::fcluster_maxclust(&z, n, k),
                    usizes(&mc["labels"]),
                    "{name} {linkage:?} k={k}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100);
}

#[test]
fn nmesc_equals_the_numpy_implementation() {
    let mut checked = 0;
    for case in golden("clustering.json").as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let rows = normalized(&embeddings(case)).unwrap();
        for want in case["nmesc"].as_array().unwrap() {
            let opt = |k: &str| want[k].as_u64().map(|v| v as usize);
            let count = SpeakerCount {
                num: opt("num"),
                min: opt("min"),
                max: opt("max"),
            };
            let got = nmesc::cluster(&rows, &nmesc::NmescOptions::default(), count).unwrap();
            assert_eq!(
                nmesc::p_values(rows.len(), &nmesc::NmescOptions::default()),
                usizes(&want["p_values"]),
                "{name}"
            );
            assert_eq!(
                (got.p, got.k),
                (opt("p").unwrap(), opt("k").unwrap()),
                "{name} {count:?}"
            );
            let lam: Vec<f64> = want["eigenvalues"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            assert_eq!(got.eigenvalues.len(), lam.len());
            for (a, b) in got.eigenvalues.iter().zip(&lam) {
                assert!(
                    (a - b).abs() < 1e-6,
                    "{name} {count:?}: eigenvalue {a} vs {b}"
                );
            }
            // Labels where the spectral embedding is unique: on the tie sets the eigenvalues
            // repeat and any basis of their eigenspace is as right as LAPACK's.
            if !name.contains("ties") {
                assert_eq!(
                    got.labels,
                    canonical(&usizes(&want["labels"])),
                    "{name} {count:?}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 20);
}

fn turns(v: &Value) -> Vec<Turn> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| Turn {
            start: t["start"].as_f64().unwrap(),
            end: t["end"].as_f64().unwrap(),
            speaker: t["speaker"].as_str().unwrap().to_string(),
        })
        .collect()
}

/// Each speaker's overlapping turns joined: md-eval's view of a hypothesis.
fn joined(t: &[Turn]) -> Vec<Turn> {
    let mut names: Vec<&str> = t.iter().map(|x| x.speaker.as_str()).collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for n in names {
        let mut segs: Vec<Segment> = t
            .iter()
            .filter(|x| x.speaker == n)
            .map(Turn::segment)
            .collect();
        segs.sort_by(|a, b| a.start.total_cmp(&b.start));
        let mut merged: Vec<Segment> = Vec::new();
        for s in segs {
            match merged.last_mut() {
                Some(l) if s.start <= l.end => l.end = l.end.max(s.end),
                _ => merged.push(s),
            }
        }
        out.extend(merged.into_iter().map(|s| Turn {
            start: s.start,
            end: s.end,
            speaker: n.into(),
        }));
    }
    out
}

#[test]
fn der_and_jer_equal_pyannote_metrics_and_md_eval() {
    let g = golden("der.json");
    let reference =
        rttm::read_rttm(&root().join("../../tests/fixtures/diarization/sample.rttm")).unwrap();
    let reference = &reference["sample"];
    let mut md_checked = 0;
    for case in g["cases"].as_array().unwrap() {
        let name = case["hypothesis"].as_str().unwrap();
        let hyp = turns(&g["hypotheses"][name]);
        let options = DerOptions {
            collar: case["collar"].as_f64().unwrap(),
            skip_overlap: case["skip_overlap"].as_bool().unwrap(),
        };
        let uem: Option<Vec<Segment>> = case["uem"]
            .as_array()
            .map(|u| vec![Segment::new(u[0].as_f64().unwrap(), u[1].as_f64().unwrap())]);
        let r = score(reference, &hyp, uem.as_deref(), &options);
        let what = format!("{name} {options:?} uem={}", uem.is_some());
        for (got, key) in [
            (r.total, "total"),
            (r.missed, "missed"),
            (r.false_alarm, "false_alarm"),
            (r.confusion, "confusion"),
            (r.der(), "der"),
            (r.jer(), "jer"),
        ] {
            let want = case[key].as_f64().unwrap();
            assert!(
                (got - want).abs() < 1e-4,
                "{what}: {key} {got} vs pyannote {want}"
            );
        }
        // md-eval prints seconds to 0.01, and takes the union of a speaker's overlapping
        // turns where pyannote counts each turn: compare with the hypothesis joined so.
        if let Some(md) = case.get("md_eval").filter(|m| !m.is_null()) {
            let j = score(
                reference,
                &joined(&hyp),
                uem.as_deref(),
                &DerOptions { ..options },
            );
            for (got, key) in [
                (j.total, "total"),
                (j.missed, "missed"),
                (j.false_alarm, "false_alarm"),
                (j.confusion, "confusion"),
            ] {
                let want = md[key].as_f64().unwrap();
                assert!(
                    (got - want).abs() <= 0.005 + 1e-9,
                    "{what}: {key} {got} vs md-eval {want}"
                );
            }
            md_checked += 1;
        }
    }
    assert!(md_checked >= 30, "md-eval goldens missing");
}
