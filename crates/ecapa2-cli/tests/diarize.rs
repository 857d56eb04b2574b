//! `ecapa2 diarize` and `ecapa2 der` end to end: the binary on pyannote.audio's sample
//! (embedded Silero VAD, the tiny random-weight model: the speaker count means nothing, the
//! format, the VAD's speech and the error handling do), and DER against pyannote.metrics.

mod common;

use common::{ecapa2, root};

const MODEL: &str = "tests/fixtures/tiny/model.pt";
const SAMPLE: &str = "tests/fixtures/diarization/sample.wav";
const REFERENCE: &str = "tests/fixtures/diarization/sample.rttm";

fn golden() -> serde_json::Value {
    let p = root().join("crates/ecapa2-diarize/tests/goldens/der.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn diarize_writes_json_and_rttm_within_the_vad_speech() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let (code, _, err) = ecapa2(&[
        "diarize",
        "--model",
        MODEL,
        SAMPLE,
        "-o",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let f = &v["files"][0];
    assert_eq!(f["uri"], "sample");
    let speech: Vec<(f64, f64)> = f["speech"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["start"].as_f64().unwrap(), s["end"].as_f64().unwrap()))
        .collect();
    // The VAD finds most of the reference's 24.35 s of speech, in a 30 s file.
    let found: f64 = speech.iter().map(|(a, b)| b - a).sum();
    assert!(found > 18.0 && found < 30.0, "speech {found} s");
    let segments = f["segments"].as_array().unwrap();
    assert!(!segments.is_empty());
    let mut last = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for s in segments {
        let (a, b) = (s["start"].as_f64().unwrap(), s["end"].as_f64().unwrap());
        assert!(b > a && (a, b) >= last, "sorted, positive");
        last = (a, b);
        assert!(
            speech.iter().any(|(x, y)| *x <= a + 1e-9 && b <= *y + 1e-9),
            "turn inside speech"
        );
    }
    let speakers = f["speakers"].as_array().unwrap();
    assert!(!speakers.is_empty());
    assert_eq!(speakers[0]["centroid"].as_array().unwrap().len(), 32);

    // RTTM on stdout, exclusive, through the AHC path: parses back, one speaker at a time.
    let (code, out, err) = ecapa2(&[
        "diarize",
        "--model",
        MODEL,
        SAMPLE,
        "--clustering",
        "ahc",
        "--exclusive",
        "--num-speakers",
        "2",
    ]);
    assert_eq!(code, 0, "{err}");
    let mut prev_end = f64::NEG_INFINITY;
    let mut names = std::collections::BTreeSet::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((f[0], f[1]), ("SPEAKER", "sample"));
        let (s, d): (f64, f64) = (f[3].parse().unwrap(), f[4].parse().unwrap());
        assert!(d > 0.0 && s >= prev_end - 1e-3, "{line}");
        prev_end = s + d;
        names.insert(f[7].to_string());
    }
    assert_eq!(names.len(), 2);
}

#[test]
fn diarize_bad_inputs_fail_alone_and_options_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.rttm");
    let (code, _, err) = ecapa2(&[
        "diarize",
        "--model",
        MODEL,
        SAMPLE,
        "tests/fixtures/audio/empty.wav",
        "missing.wav",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("missing.wav") && err.contains("empty.wav"),
        "{err}"
    );
    assert!(err.contains("2 of 3 files failed"), "{err}");
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .starts_with("SPEAKER sample "));
    let (code, _, err) = ecapa2(&["diarize", "--model", MODEL, SAMPLE, "-o", "x.txt"]);
    assert_eq!(code, 1);
    assert!(err.contains(".rttm or .json"), "{err}");
    let (code, _, err) = ecapa2(&[
        "diarize",
        "--model",
        MODEL,
        SAMPLE,
        "--min-speakers",
        "3",
        "--max-speakers",
        "2",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("min_speakers (3) is larger than max_speakers (2)"),
        "{err}"
    );
    // More speakers than windows: that file's clear error.
    let (code, _, err) = ecapa2(&["diarize", "--model", MODEL, SAMPLE, "--num-speakers", "500"]);
    assert_eq!(code, 2);
    assert!(err.contains("500 speakers asked for"), "{err}");
    let (code, _, err) = ecapa2(&[
        "diarize",
        "--model",
        MODEL,
        SAMPLE,
        "--vad-model",
        "missing.safetensors",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("missing.safetensors"), "{err}");
}

#[test]
fn der_equals_pyannote_metrics_with_either_collar_convention() {
    let g = golden();
    let dir = tempfile::tempdir().unwrap();
    for name in ["shifted", "noisy", "overlapping"] {
        let hyp = dir.path().join(format!("{name}.rttm"));
        let text: String = g["hypotheses"][name]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let (s, e) = (t["start"].as_f64().unwrap(), t["end"].as_f64().unwrap());
                format!(
                    "SPEAKER sample 1 {s:.6} {:.6} <NA> <NA> {} <NA> <NA>\n",
                    e - s,
                    t["speaker"].as_str().unwrap()
                )
            })
            .collect();
        std::fs::write(&hyp, text).unwrap();
        for case in g["cases"].as_array().unwrap() {
            if case["hypothesis"] != name || !case["uem"].is_null() || case["collar"] != 0.5 {
                continue;
            }
            let skip = case["skip_overlap"].as_bool().unwrap();
            for collar in [["--collar", "0.5"], ["--md-eval-collar", "0.25"]] {
                let mut args = vec![
                    "der",
                    REFERENCE,
                    hyp.to_str().unwrap(),
                    collar[0],
                    collar[1],
                    "--json",
                ];
                if skip {
                    args.push("--skip-overlap");
                }
                let (code, out, err) = ecapa2(&args);
                assert_eq!(code, 0, "{err}");
                let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                for key in ["der", "jer", "missed", "false_alarm", "confusion"] {
                    let (got, want) = (
                        v["total"][key].as_f64().unwrap(),
                        case[key].as_f64().unwrap(),
                    );
                    assert!(
                        (got - want).abs() < 1e-4,
                        "{name} {collar:?} skip={skip} {key}: {got} vs {want}"
                    );
                }
            }
        }
    }
    let (code, _, err) = ecapa2(&["der", REFERENCE, "missing.rttm"]);
    assert_eq!(code, 1);
    assert!(err.contains("missing.rttm"), "{err}");
}

#[test]
fn registry_names_matching_clusters_and_leaves_the_rest_anonymous() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reg.db");
    let db = db.to_str().unwrap();
    let reg = |args: &[&str]| {
        let mut all = vec!["registry", "--db", db];
        all.extend_from_slice(args);
        ecapa2(&all)
    };
    let diarize = || {
        let (code, out, err) = ecapa2(&[
            "diarize",
            "--model",
            MODEL,
            SAMPLE,
            "--num-speakers",
            "2",
            "--registry",
            db,
        ]);
        assert_eq!(code, 0, "{err}");
        out
    };
    assert_eq!(reg(&["create", "--model", MODEL]).0, 0);
    assert_eq!(reg(&["enroll", "--model", MODEL, "alice", SAMPLE]).0, 0);
    // Every score accepted: the first cluster takes the name, the others stay anonymous.
    assert_eq!(reg(&["set-threshold", "--value=-1"]).0, 0);
    let out = diarize();
    assert!(out.contains(" alice "), "{out}");
    assert!(out.contains(" SPEAKER_01 "), "{out}");
    // Nothing accepted: all anonymous.
    assert_eq!(reg(&["set-threshold", "--value=1.5"]).0, 0);
    let out = diarize();
    assert!(
        !out.contains("alice") && out.contains("SPEAKER_00"),
        "{out}"
    );
}
