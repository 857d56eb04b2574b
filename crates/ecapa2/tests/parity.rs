//! Rust vs the PyTorch reference on the committed fixtures: every feature, every case.
//!
//! The goldens were written by `reference/make_fixture.py` from the *reloaded* TorchScript
//! archive. Tolerance: relative L2 error ≤ 1e-4 per feature block (the fixtures' own fp32-vs-fp64
//! gap is ≤ 6.5e-5 of the largest value, see each manifest's `fp32_vs_fp64`).

mod common;

use common::{fixture, npy, rel_l2};
use ecapa2::{Ecapa2, Execution, Label, LabelSet, Options, TilePlan};

const TOLERANCE: f64 = 1e-4;

fn check_fixture(name: &str) {
    check_fixture_with(name, Execution::Auto);
}

fn check_fixture_with(name: &str, execution: Execution) {
    let dir = fixture(name);
    let options = Options::new().threads(2).execution(execution);
    let model =
        Ecapa2::load_with(dir.join("model.pt"), options).unwrap_or_else(|e| panic!("{name}: {e}"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("golden/manifest.json")).unwrap())
            .unwrap();
    let mut worst = 0.0f64;
    for case in manifest["cases"].as_array().unwrap() {
        let case = case["name"].as_str().unwrap();
        let (batch, n, audio) = npy(&dir.join(format!("golden/{case}.audio.npy")));
        let rows: Vec<&[f32]> = audio.chunks_exact(n).collect();
        assert_eq!(rows.len(), batch);
        let mut label_sets: Vec<(String, LabelSet)> = Label::ALL
            .iter()
            .map(|l| (l.id().to_string(), LabelSet::from_labels([*l])))
            .collect();
        label_sets.push(("all".into(), LabelSet::all()));
        label_sets.push(("reorder".into(), "embedding|gfe_1|pool".parse().unwrap()));
        for (file, labels) in label_sets {
            let (b, d, golden) = npy(&dir.join(format!("golden/{case}.{file}.npy")));
            assert_eq!(b, batch);
            assert_eq!(d, model.dim(labels), "{name}/{case}/{file}: dimension");
            let ours = model.features_batch(&rows, labels).unwrap();
            assert_eq!((ours.rows(), ours.dim()), (batch, d));
            for (row, want) in golden.chunks_exact(d).enumerate() {
                // Each feature block separately, so a small block is not hidden by a big one.
                let mut offset = 0;
                for label in labels.iter() {
                    let w = label.dim(&model);
                    let got = ours.get(row, label).unwrap();
                    let err = rel_l2(got, &want[offset..offset + w]);
                    worst = worst.max(err);
                    assert!(
                        err <= TOLERANCE,
                        "{name}/{case}/{file} row {row} {label}: rel L2 {err:.2e}"
                    );
                    offset += w;
                }
            }
        }
    }
    eprintln!("{name}: worst relative L2 error {worst:.2e}");
}

#[test]
fn tiny_matches_reference() {
    check_fixture("tiny");
}

/// Widths of 16 and more: the Winograd and SIMD kernels every real user runs (the tiny
/// fixtures' 8/12 channels take the im2col and direct paths).
#[test]
fn small_matches_reference_on_the_fast_path() {
    check_fixture("small");
}

/// Fails if the fast path is silently skipped: the small fixture's 3×3 layers must run the
/// Winograd kernels at the best SIMD level this CPU offers (the stem, one input channel, runs
/// the direct kernel), never the im2col fallback.
#[test]
fn small_runs_winograd_at_the_best_simd_level() {
    let model = Ecapa2::load_with(fixture("small/model.pt"), Options::new().threads(2)).unwrap();
    let name = model.backend_name();
    let best = ecapa2_kernels::SimdLevel::best();
    assert!(
        name.contains(&format!("winograd-{}", best.name())),
        "expected Winograd at {} ({}): {name}",
        best.name(),
        ecapa2_kernels::cpu::features()
    );
    assert!(name.contains("direct"), "{name}");
    assert!(!name.contains("im2col"), "{name}");
}

/// The tiled long-input path on the Winograd kernels: tiles far shorter than the cases.
#[test]
fn small_tiled_execution_matches_reference() {
    check_fixture_with(
        "small",
        Execution::Tiled(TilePlan {
            tile_frames: 40,
            spill: None,
        }),
    );
}

#[test]
fn variant_front_end_is_read_from_the_archive() {
    // n_fft 512, win 320 Hann, hop 128, BN eps 1e-3, all `Final`: nothing assumed.
    check_fixture("tiny-variant");
}

#[test]
fn frequency_wise_se_is_detected_from_shapes() {
    check_fixture("tiny-fwse");
}

/// The bounded-memory path for long inputs, forced on with tiles far shorter than the cases so
/// that every halo, seam and utterance edge is crossed; checkpoints in memory.
#[test]
fn tiled_execution_matches_reference() {
    check_fixture_with(
        "tiny",
        Execution::Tiled(TilePlan {
            tile_frames: 7,
            spill: None,
        }),
    );
}

/// As above with checkpoints spilled to a temporary file, on the fwSE and front-end variants.
#[test]
fn tiled_execution_with_spill_matches_reference() {
    for (name, tile_frames) in [("tiny-fwse", 24), ("tiny-variant", 50)] {
        check_fixture_with(
            name,
            Execution::Tiled(TilePlan {
                tile_frames,
                spill: Some(std::env::temp_dir()),
            }),
        );
    }
}

#[test]
fn label_order_does_not_matter() {
    let model = Ecapa2::load(fixture("tiny/model.pt")).unwrap();
    let (_, _, audio) = npy(&fixture("tiny/golden/len8037.audio.npy"));
    let a = model
        .features(&audio, "embedding|gfe_1|pool".parse().unwrap())
        .unwrap();
    let b = model
        .features(&audio, "gfe_1|pool|embedding".parse().unwrap())
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.dim(), 128 + 192 + 32);
}

#[test]
fn single_utterance_equals_batch_row() {
    let model = Ecapa2::load(fixture("tiny/model.pt")).unwrap();
    let (_, n, audio) = npy(&fixture("tiny/golden/batch2_len12345.audio.npy"));
    let rows: Vec<&[f32]> = audio.chunks_exact(n).collect();
    let mixed: Vec<&[f32]> = vec![rows[0], &rows[1][..5000], rows[1]];
    let batch = model.features_batch(&mixed, LabelSet::all()).unwrap();
    for (row, got) in mixed.iter().zip(batch.iter()) {
        let alone = model.features(row, LabelSet::all()).unwrap();
        assert_eq!(
            got,
            alone.as_slice(),
            "a batch row differs from the utterance alone"
        );
    }
}
