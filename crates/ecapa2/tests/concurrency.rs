//! The model as a shared object: no process-global state, so concurrent calls and models with
//! different thread counts give exactly what sequential calls give. Run on the small fixture,
//! whose layers take the Winograd/SIMD kernels (per-worker scratch, parallel tiles).

mod common;

use common::{fixture, npy};
use ecapa2::{Ecapa2, LabelSet, Options};
use std::sync::Arc;

/// Utterances of mixed lengths (from the golden inputs, cut to different lengths).
fn utterances() -> Vec<Vec<f32>> {
    let (_, _, a) = npy(&fixture("small/golden/len48000.audio.npy"));
    let (_, _, b) = npy(&fixture("small/golden/len8037.audio.npy"));
    vec![
        a.clone(),
        b.clone(),
        a[5000..21000].to_vec(),
        b[..4000].to_vec(),
        a[..321].to_vec(),
    ]
}

fn model(threads: usize) -> Ecapa2 {
    Ecapa2::load_with(fixture("small/model.pt"), Options::new().threads(threads)).unwrap()
}

fn sequential(model: &Ecapa2, audio: &[Vec<f32>]) -> Vec<Vec<f32>> {
    audio
        .iter()
        .map(|a| model.features(a, LabelSet::all()).unwrap().into_vec())
        .collect()
}

#[test]
fn many_threads_calling_one_model_get_the_sequential_results() {
    let model = Arc::new(model(2));
    let audio = Arc::new(utterances());
    let want = Arc::new(sequential(&model, &audio));
    let workers: Vec<_> = (0..6)
        .map(|t| {
            let (model, audio, want) = (model.clone(), audio.clone(), want.clone());
            std::thread::spawn(move || {
                for round in 0..3 {
                    // Each thread walks the utterances in its own order.
                    for k in 0..audio.len() {
                        let i = (k + t + round) % audio.len();
                        let got = model.features(&audio[i], LabelSet::all()).unwrap();
                        assert_eq!(got.as_slice(), &want[i][..], "thread {t} utterance {i}");
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a calling thread panicked");
    }
}

#[test]
fn models_with_different_thread_counts_coexist() {
    let audio = Arc::new(utterances());
    let models: Vec<Arc<Ecapa2>> = [1, 3].map(|t| Arc::new(model(t))).to_vec();
    assert_eq!((models[0].threads(), models[1].threads()), (1, 3));
    let want: Vec<Vec<Vec<f32>>> = models.iter().map(|m| sequential(m, &audio)).collect();
    // The thread count changes how work is split, never the arithmetic of any value.
    assert_eq!(want[0], want[1], "1 thread vs 3 threads");
    let want = Arc::new(want);
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let (model, audio, want) = (models[t % 2].clone(), audio.clone(), want.clone());
            std::thread::spawn(move || {
                for (i, a) in audio.iter().enumerate() {
                    let got = model.features(a, LabelSet::all()).unwrap();
                    assert_eq!(
                        got.as_slice(),
                        &want[t % 2][i][..],
                        "model {} utterance {i}",
                        t % 2
                    );
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a calling thread panicked");
    }
}

/// A batch of mixed lengths gives each row what that utterance alone gives, bit for bit.
#[test]
fn mixed_length_batch_rows_equal_single_calls() {
    let model = model(2);
    let audio = utterances();
    let rows: Vec<&[f32]> = audio.iter().map(Vec::as_slice).collect();
    let batch = model.features_batch(&rows, LabelSet::all()).unwrap();
    assert_eq!(batch.rows(), rows.len());
    for (i, want) in sequential(&model, &audio).iter().enumerate() {
        assert_eq!(batch.row(i).unwrap(), &want[..], "row {i}");
    }
}
