//! The batched path: one `features_batch` call with rows of every length the model accepts,
//! from the shortest to 20 s, plus a row long enough that the memory budget makes it run over
//! time tiles. Every row must equal the utterance run alone, bit for bit.

mod common;

use common::{fixture, rel_l2};
use ecapa2::{Ecapa2, Execution, LabelSet, Options};

const SR: usize = 16_000;

/// Deterministic speech-like audio: two drifting tones plus noise, in [-0.5, 0.5].
fn audio(len: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(7);
    (0..len)
        .map(|i| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            let t = i as f32 / SR as f32;
            let f = 180.0 + 40.0 * (0.7 * t).sin() + 13.0 * seed as f32;
            0.25 * (std::f32::consts::TAU * f * t).sin() + 0.1 * noise
        })
        .collect()
}

fn load(budget: Option<usize>) -> Ecapa2 {
    let mut options = Options::new().threads(2);
    if let Some(b) = budget {
        options = options.max_memory(b);
    }
    Ecapa2::load_with(fixture("small/model.pt"), options).unwrap()
}

#[test]
fn mixed_length_batch_rows_equal_their_single_results_and_a_long_row_tiles() {
    let long = 60 * SR;
    // The smallest power-of-two budget that runs 20 s whole: the 60 s row (three times the
    // activations) cannot run whole under it and must be tiled.
    let mut budget = 1usize << 20;
    let model = loop {
        let m = load(Some(budget));
        if m.plan(20 * SR).ok() == Some(Execution::Whole) {
            break m;
        }
        budget *= 2;
        assert!(budget < 1 << 36, "no budget runs 20 s whole");
    };
    assert!(
        matches!(model.plan(long), Ok(Execution::Tiled(_))),
        "a 60 s row must tile under {budget} bytes: {:?}",
        model.plan(long)
    );
    let min = model.min_samples();
    let lengths = [
        min,
        min + 1,
        4_000,
        SR,
        3 * SR + 7,
        10 * SR,
        20 * SR,
        long,
        2 * SR,
    ];
    let clips: Vec<Vec<f32>> = lengths
        .iter()
        .enumerate()
        .map(|(i, &n)| audio(n, i as u32))
        .collect();
    let rows: Vec<&[f32]> = clips.iter().map(|c| c.as_slice()).collect();
    let labels = LabelSet::all();
    let batch = model.features_batch(&rows, labels).unwrap();
    assert_eq!(batch.rows(), rows.len());
    let unlimited = load(None);
    for (i, (clip, got)) in rows.iter().zip(batch.iter()).enumerate() {
        let alone = model.features(clip, labels).unwrap();
        assert_eq!(got, alone.as_slice(), "row {i} ({} samples)", clip.len());
        // Grouping rows never changes arithmetic: whole rows equal the unlimited model's;
        // the tiled row differs only by summation order.
        let whole = unlimited.features(clip, labels).unwrap();
        if clip.len() == long {
            let err = rel_l2(got, whole.as_slice());
            assert!(err < 1e-4, "tiled row vs whole: {err:e}");
        } else {
            assert_eq!(got, whole.as_slice(), "row {i} vs the unlimited model");
        }
    }
}
