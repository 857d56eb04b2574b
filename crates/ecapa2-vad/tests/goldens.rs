//! The native network and segmentation against silero-vad 6.2.3 itself: probabilities from its
//! `silero_vad.onnx` run by onnxruntime and timestamps from its `get_speech_timestamps`
//! (goldens made by reference/make_vad_goldens.py).

use std::path::PathBuf;

use ecapa2_vad::{speech_timestamps_from_probabilities, SileroVad, SpeechSegment, VadOptions};
use serde::Deserialize;

/// Largest absolute difference allowed between our probabilities and onnxruntime's (f32
/// arithmetic in a different order; the jit model is 2e-6..2.4e-5 away from the ONNX one).
const PROB_TOL: f32 = 1e-4;

#[derive(Deserialize)]
struct Golden {
    options: serde_json::Map<String, serde_json::Value>,
    cases: Vec<Case>,
    random_segmentation: Vec<RandomCase>,
}

/// Random probabilities and options, segmented by `get_speech_timestamps_from_probs`.
#[derive(Deserialize)]
struct RandomCase {
    probabilities: Vec<f32>,
    samples: usize,
    options: serde_json::Value,
    timestamps: serde_json::Value,
}

#[derive(Deserialize)]
struct Case {
    input: String,
    samples: usize,
    probabilities: Vec<f32>,
    timestamps: serde_json::Map<String, serde_json::Value>,
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn golden() -> Golden {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/goldens/vad_goldens.json");
    serde_json::from_slice(&std::fs::read(path).expect("goldens")).expect("golden JSON")
}

fn audio(input: &str) -> Vec<f32> {
    let path = match input.strip_prefix("goldens/") {
        Some(file) => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/goldens")
            .join(file),
        None => fixtures().join(input),
    };
    let opts = ecapa2_audio::LoadOptions::for_model(16_000, 1);
    let mut loaded = ecapa2_audio::load(&path, &opts).expect("fixture decodes");
    loaded.signals.remove(0)
}

/// Silero's keyword arguments as [`VadOptions`] (absent ones keep the defaults).
fn options(json: &serde_json::Value) -> VadOptions {
    let mut o = VadOptions::default();
    let f = |k: &str| json.get(k).and_then(|v| v.as_f64());
    let ms = |k: &str| f(k).map(|v| v as u32);
    if let Some(v) = f("threshold") {
        o.threshold = v as f32;
    }
    if let Some(v) = f("neg_threshold") {
        o.neg_threshold = Some(v as f32);
    }
    if let Some(v) = f("max_speech_duration_s") {
        o.max_speech_duration_s = v as f32;
    }
    o.min_speech_duration_ms = ms("min_speech_duration_ms").unwrap_or(o.min_speech_duration_ms);
    o.min_silence_duration_ms = ms("min_silence_duration_ms").unwrap_or(o.min_silence_duration_ms);
    o.speech_pad_ms = ms("speech_pad_ms").unwrap_or(o.speech_pad_ms);
    o.min_silence_at_max_speech_ms =
        ms("min_silence_at_max_speech").unwrap_or(o.min_silence_at_max_speech_ms);
    if let Some(v) = json
        .get("use_max_poss_sil_at_max_speech")
        .and_then(|v| v.as_bool())
    {
        o.use_max_poss_sil_at_max_speech = v;
    }
    // Every key was understood: a new key in the script must be mapped here too.
    let known = [
        "threshold",
        "neg_threshold",
        "max_speech_duration_s",
        "min_speech_duration_ms",
        "min_silence_duration_ms",
        "speech_pad_ms",
        "min_silence_at_max_speech",
        "use_max_poss_sil_at_max_speech",
    ];
    for k in json.as_object().expect("options object").keys() {
        assert!(known.contains(&k.as_str()), "unmapped option {k}");
    }
    o
}

fn segments(json: &serde_json::Value) -> Vec<SpeechSegment> {
    serde_json::from_value::<Vec<(usize, usize)>>(json.clone())
        .expect("segment pairs")
        .into_iter()
        .map(|(start, end)| SpeechSegment { start, end })
        .collect()
}

#[test]
fn probabilities_match_onnxruntime() {
    let vad = SileroVad::embedded().unwrap();
    for case in golden().cases {
        let x = audio(&case.input);
        assert_eq!(x.len(), case.samples, "{}", case.input);
        let ours = vad.probabilities(&x).unwrap();
        assert_eq!(ours.len(), case.probabilities.len(), "{}", case.input);
        let (worst, at) = ours
            .iter()
            .zip(&case.probabilities)
            .map(|(a, b)| (a - b).abs())
            .enumerate()
            .fold((0.0f32, 0), |m, (i, d)| if d > m.0 { (d, i) } else { m });
        eprintln!(
            "{}: max |ours - onnx| = {worst:.2e} (chunk {at})",
            case.input
        );
        assert!(worst <= PROB_TOL, "{}: {worst} at chunk {at}", case.input);
    }
}

#[test]
fn timestamps_match_get_speech_timestamps() {
    let vad = SileroVad::embedded().unwrap();
    let g = golden();
    let mut compared = 0;
    for case in &g.cases {
        let x = audio(&case.input);
        let probs = vad.probabilities(&x).unwrap();
        for (name, json) in &g.options {
            let opts = options(json);
            let want = segments(&case.timestamps[name]);
            // The segmentation alone, on the reference's own probabilities: exact.
            let from_ref =
                speech_timestamps_from_probabilities(&case.probabilities, case.samples, &opts)
                    .unwrap();
            assert_eq!(from_ref, want, "{} / {name}: segmentation", case.input);
            // The whole path, on our probabilities.
            let ours = vad.speech_timestamps(&x, &opts).unwrap();
            assert_eq!(ours, want, "{} / {name}: end to end", case.input);
            assert_eq!(
                speech_timestamps_from_probabilities(&probs, x.len(), &opts).unwrap(),
                want
            );
            compared += 1;
        }
    }
    assert_eq!(compared, g.cases.len() * g.options.len());
    assert!(compared >= 24);
}

#[test]
fn the_sample_has_speech_and_the_noise_does_not() {
    // Plain facts about the inputs, so the goldens above cannot all be empty.
    let g = golden();
    let sample = g.cases.iter().find(|c| c.input.contains("sample")).unwrap();
    assert!(segments(&sample.timestamps["default"]).len() >= 3);
    let mix = g
        .cases
        .iter()
        .find(|c| c.input.contains("noise_mix"))
        .unwrap();
    // 1.5 s silence + 2 s noise + 1 s hum come first: no speech before 4.5 s.
    let first = segments(&mix.timestamps["default"])[0];
    assert!(first.start > 4 * 16_000, "{first:?}");
}

#[test]
fn segmentation_matches_the_reference_on_random_probabilities() {
    // Bursty random sequences with random options (maximum-duration cuts at the longest or the
    // last silence, zero padding or padding wider than the gaps, probabilities exactly at the
    // f32 thresholds): identical segments, case by case.
    let g = golden();
    assert!(g.random_segmentation.len() >= 50);
    let mut segments_seen = 0;
    for (i, case) in g.random_segmentation.iter().enumerate() {
        let opts = options(&case.options);
        let want = segments(&case.timestamps);
        let ours =
            speech_timestamps_from_probabilities(&case.probabilities, case.samples, &opts).unwrap();
        assert_eq!(ours, want, "random case {i}: {:?}", case.options);
        segments_seen += want.len();
    }
    assert!(segments_seen > 100, "{segments_seen}");
}
