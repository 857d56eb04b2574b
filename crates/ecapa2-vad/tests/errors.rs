//! Bad weights, bad audio and bad options give a clear [`VadError`]; short or empty audio gives
//! short or empty results. Nothing panics.

use ecapa2_archive::{read_safetensors_bytes, safetensors_bytes, Tensor};
use ecapa2_vad::{SileroVad, VadError, VadOptions, CHUNK_SAMPLES};

const WEIGHTS: &[u8] = include_bytes!("../weights/silero_vad_16k.safetensors");

/// The embedded weights with `edit` applied to the named tensors.
fn edited(edit: impl Fn(&str, Tensor) -> Option<(String, Tensor)>) -> Vec<u8> {
    let tensors: Vec<(String, Tensor)> = read_safetensors_bytes(WEIGHTS)
        .unwrap()
        .into_iter()
        .filter_map(|(n, t)| edit(&n, t))
        .collect();
    safetensors_bytes(tensors.iter().map(|(n, t)| (n.as_str(), t))).unwrap()
}

#[test]
fn the_embedded_weights_load_and_equal_the_same_bytes_loaded_otherwise() {
    let a = SileroVad::embedded().unwrap();
    let b = SileroVad::from_safetensors_bytes(WEIGHTS).unwrap();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/weights/silero_vad_16k.safetensors"
    );
    let c = SileroVad::from_file(path).unwrap();
    let x: Vec<f32> = (0..5000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
    let p = a.probabilities(&x).unwrap();
    assert_eq!(p, b.probabilities(&x).unwrap());
    assert_eq!(p, c.probabilities(&x).unwrap());
}

#[test]
fn a_missing_tensor_is_named() {
    let bytes = edited(|n, t| (n != "lstm_cell.weight_hh").then(|| (n.to_owned(), t)));
    let err = SileroVad::from_safetensors_bytes(&bytes).unwrap_err();
    assert!(
        matches!(
            err,
            VadError::MissingTensor {
                name: "lstm_cell.weight_hh"
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("lstm_cell.weight_hh"));
}

#[test]
fn a_wrong_shape_is_named_with_both_shapes() {
    let bytes = edited(|n, t| {
        let t = if n == "conv2.bias" {
            Tensor::from_f32(vec![65], &[0.0; 65]).unwrap()
        } else {
            t
        };
        Some((n.to_owned(), t))
    });
    let err = SileroVad::from_safetensors_bytes(&bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        "VAD weights tensor `conv2.bias` has shape [65], expected [64]"
    );
}

#[test]
fn a_non_finite_weight_is_refused() {
    let bytes = edited(|n, t| {
        let t = if n == "final_conv.bias" {
            Tensor::from_f32(vec![1], &[f32::NAN]).unwrap()
        } else {
            t
        };
        Some((n.to_owned(), t))
    });
    let err = SileroVad::from_safetensors_bytes(&bytes).unwrap_err();
    assert!(
        matches!(
            err,
            VadError::NonFiniteWeight {
                name: "final_conv.bias",
                index: 0
            }
        ),
        "{err}"
    );
}

#[test]
fn garbage_truncated_and_missing_files_are_weights_errors() {
    for bytes in [
        &b"not a safetensors file"[..],
        &WEIGHTS[..WEIGHTS.len() / 2],
        &[],
    ] {
        let err = SileroVad::from_safetensors_bytes(bytes).unwrap_err();
        assert!(matches!(err, VadError::Weights { .. }), "{err}");
    }
    let err = SileroVad::from_file("/nonexistent/vad.safetensors").unwrap_err();
    assert!(matches!(err, VadError::Weights { .. }), "{err}");
    assert!(
        err.to_string().contains("/nonexistent/vad.safetensors"),
        "{err}"
    );
}

#[test]
fn a_torchscript_archive_is_named_as_such() {
    // A zip as torch.jit.save writes them (the project's tiny test archive), given where the
    // safetensors file belongs.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/tiny/model.pt"
    );
    let err = SileroVad::from_file(path).unwrap_err();
    assert!(matches!(err, VadError::NotSafetensors { .. }), "{err}");
    assert!(err.to_string().contains("TorchScript"), "{err}");
}

#[test]
fn non_finite_audio_is_refused_with_its_index() {
    let vad = SileroVad::embedded().unwrap();
    let mut x = vec![0.1f32; 2000];
    x[1234] = f32::INFINITY;
    let err = vad.probabilities(&x).unwrap_err();
    assert!(
        matches!(err, VadError::NonFiniteAudio { index: 1234, .. }),
        "{err}"
    );
    x[1234] = f32::NAN;
    let err = vad
        .speech_timestamps(&x, &VadOptions::default())
        .unwrap_err();
    assert!(
        matches!(err, VadError::NonFiniteAudio { index: 1234, .. }),
        "{err}"
    );
}

#[test]
fn samples_beyond_the_engines_limit_are_refused() {
    let vad = SileroVad::embedded().unwrap();
    let mut x = vec![0.1f32; 2000];
    x[10] = 1e12; // the limit itself is accepted
    assert!(vad.probabilities(&x).unwrap().iter().all(|p| p.is_finite()));
    x[700] = -2e12;
    let err = vad.probabilities(&x).unwrap_err();
    assert!(
        matches!(err, VadError::OutOfRange { index: 700, .. }),
        "{err}"
    );
}

#[test]
fn the_model_is_shared_between_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let vad = SileroVad::embedded().unwrap();
    send_sync(&vad);
    let x: Vec<f32> = (0..3000).map(|i| (i as f32 * 0.07).sin() * 0.4).collect();
    let alone = vad.probabilities(&x).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| s.spawn(|| vad.probabilities(&x).unwrap()))
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), alone);
        }
    });
}

#[test]
fn empty_and_short_audio_give_short_results() {
    let vad = SileroVad::embedded().unwrap();
    let opts = VadOptions::default();
    assert!(vad.probabilities(&[]).unwrap().is_empty());
    assert!(vad.speech_timestamps(&[], &opts).unwrap().is_empty());
    for n in [
        1,
        63,
        64,
        65,
        CHUNK_SAMPLES - 1,
        CHUNK_SAMPLES,
        CHUNK_SAMPLES + 1,
    ] {
        let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.3).sin() * 0.5).collect();
        let p = vad.probabilities(&x).unwrap();
        assert_eq!(p.len(), n.div_ceil(CHUNK_SAMPLES), "{n} samples");
        assert!(p.iter().all(|v| (0.0..=1.0).contains(v)), "{p:?}");
        // Shorter than the minimum speech duration (250 ms = 4000 samples): no segment.
        assert!(vad.speech_timestamps(&x, &opts).unwrap().is_empty());
    }
}

#[test]
fn a_chunk_depends_on_the_previous_ones() {
    // State and context carried across chunks: the same last chunk after different histories
    // gets different probabilities (it would not if each chunk ran alone).
    let vad = SileroVad::embedded().unwrap();
    let tail: Vec<f32> = (0..CHUNK_SAMPLES)
        .map(|i| (i as f32 * 0.2).sin() * 0.2)
        .collect();
    let mut a = vec![0.0f32; 4 * CHUNK_SAMPLES];
    a.extend(&tail);
    let mut b: Vec<f32> = (0..4 * CHUNK_SAMPLES)
        .map(|i| (i as f32 * 0.01).cos() * 0.5)
        .collect();
    b.extend(&tail);
    let pa = *vad.probabilities(&a).unwrap().last().unwrap();
    let pb = *vad.probabilities(&b).unwrap().last().unwrap();
    assert!((pa - pb).abs() > 1e-4, "{pa} vs {pb}");
}

#[test]
fn bad_options_are_refused() {
    let vad = SileroVad::embedded().unwrap();
    let x = vec![0.0f32; 1000];
    let cases = [
        VadOptions {
            threshold: f32::NAN,
            ..VadOptions::default()
        },
        VadOptions {
            neg_threshold: Some(f32::INFINITY),
            ..VadOptions::default()
        },
        VadOptions {
            max_speech_duration_s: 0.0,
            ..VadOptions::default()
        },
        VadOptions {
            max_speech_duration_s: f32::NAN,
            ..VadOptions::default()
        },
    ];
    for opts in cases {
        let err = vad.speech_timestamps(&x, &opts).unwrap_err();
        assert!(matches!(err, VadError::BadOption { .. }), "{err}");
        let err =
            ecapa2_vad::speech_timestamps_from_probabilities(&[0.9; 10], 5120, &opts).unwrap_err();
        assert!(matches!(err, VadError::BadOption { .. }), "{err}");
    }
}
