//! The CUDA backend end to end on the host emulator: every label of the fixtures' archives
//! against PyTorch's goldens and the CPU engine, exact rows in mixed-length batches, fp16
//! accuracy, the memory plan against what the backend really held, and the load-time
//! self-check (including that it catches a wrong result).

use super::emulator::Emulator;
use super::engine::{chunk_bytes, frame_bytes, CudaEngine};
use super::gpu::Gpu;
use super::gpu::Operands;
use super::self_check::{self, cosine, rel_l2};
use crate::backend::cpu::CpuEngine;
use crate::backend::{Engine, SpecRow};
use crate::frontend::Spectrogram;
use crate::labels::{Label, LabelSet};
use crate::options::Options;
use crate::Device;
use std::path::PathBuf;
use std::sync::Arc;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

/// A little-endian f32 `.npy` file: (shape, values).
fn npy(path: &std::path::Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(
        header.contains("'<f4'") && header.contains("'fortran_order': False"),
        "{header}"
    );
    let shape_text = &header[header.find("'shape': (").unwrap() + 10..];
    let shape: Vec<usize> = shape_text[..shape_text.find(')').unwrap()]
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let values = bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (shape, values)
}

/// A fixture bound, its spectrogram front-end, and a CPU engine on it.
struct Bound {
    bound: crate::binding::Bound<'static>,
    spectrogram: Spectrogram,
}

fn bind(name: &str) -> Bound {
    let archive = ecapa2_archive::TorchScript::open(&fixture(name).join("model.pt")).unwrap();
    // The archive owns its bytes; leak it for the test's lifetime so weights may borrow it.
    let archive: &'static ecapa2_archive::TorchScript = Box::leak(Box::new(archive));
    let bound = crate::binding::bind(archive).unwrap();
    let spectrogram = Spectrogram::new(bound.spectrogram.clone()).unwrap();
    Bound { bound, spectrogram }
}

impl Bound {
    fn bins(&self) -> usize {
        self.bound.spectrogram.bins()
    }
    fn cpu(&self) -> CpuEngine {
        CpuEngine::new(&self.bound.network, self.bins(), &Options::new().threads(2)).unwrap()
    }
    fn emulated(&self, storage: Operands) -> Option<CudaEngine<Emulator>> {
        let emu = match Emulator::new(storage) {
            Ok(e) => e,
            Err(e) if e.starts_with("cannot run") => {
                eprintln!("skipped: no host C++ compiler for the emulator ({e})");
                return None;
            }
            Err(e) => panic!("{e}"),
        };
        let bins = self.bins();
        Some(
            CudaEngine::new(
                Device::Cuda(0),
                Arc::new(emu),
                &self.bound.network,
                bins,
                storage,
                None,
            )
            .unwrap(),
        )
    }
    fn spec(&self, audio: &[f32]) -> SpecRow {
        self.spectrogram.forward(audio).unwrap()
    }
}

/// The labels' slices of one output row, in network order.
fn split(engine: &dyn Engine, row: &[f32]) -> Vec<(Label, Vec<f32>)> {
    let mut at = 0;
    LabelSet::all()
        .iter()
        .map(|l| {
            let n = engine.shape().dim(l);
            at += n;
            (l, row[at - n..at].to_vec())
        })
        .collect()
}

#[test]
fn f32_matches_pytorch_goldens_and_the_cpu_on_every_label() {
    for name in ["tiny", "tiny-variant", "tiny-fwse", "small"] {
        let b = bind(name);
        let Some(gpu) = b.emulated(Operands::F32) else {
            return;
        };
        let cpu = b.cpu();
        let mut worst: f64 = 0.0;
        for len in [321usize, 4000, 16000, 48000] {
            let golden = fixture(name).join(format!("golden/len{len}"));
            if !golden.with_extension("all.npy").exists() {
                continue;
            }
            let (_, audio) = npy(&golden.with_extension("audio.npy"));
            let (_, want) = npy(&golden.with_extension("all.npy"));
            let spec = b.spec(&audio);
            let got = gpu
                .run(vec![spec.clone()], LabelSet::all())
                .unwrap()
                .remove(0);
            let on_cpu = cpu.run(vec![spec], LabelSet::all()).unwrap().remove(0);
            assert_eq!(got.len(), want.len(), "{name} len {len}");
            for ((label, g), (_, w)) in split(&gpu, &got).into_iter().zip(split(&gpu, &want)) {
                let e = rel_l2(&g, &w);
                worst = worst.max(e);
                assert!(
                    e < 1e-4,
                    "{name} len {len} {label}: rel L2 {e:.2e} to PyTorch"
                );
            }
            let e = rel_l2(&got, &on_cpu);
            assert!(
                e < 1e-4,
                "{name} len {len}: rel L2 {e:.2e} to the CPU engine"
            );
        }
        eprintln!(
            "{name}: emulated CUDA f32, worst relative L2 to PyTorch over labels {worst:.2e}"
        );
    }
}

#[test]
fn mixed_length_batch_rows_equal_each_row_alone() {
    for (storage, name) in [(Operands::F32, "small"), (Operands::F16, "tiny-fwse")] {
        let b = bind(name);
        let Some(gpu) = b.emulated(storage) else {
            return;
        };
        let lens = [16000usize, 321, 30_001, 8_000];
        let specs: Vec<SpecRow> = lens
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let audio: Vec<f32> = (0..n)
                    .map(|k| ((k * (7 + i)) as f32 * 0.013).sin() * 0.3)
                    .collect();
                b.spec(&audio)
            })
            .collect();
        let pool = gpu.pool();
        let weights = pool.usage().in_use;
        let mut peak = 0;
        for labels in [LabelSet::all(), "gfe_2".parse().unwrap()] {
            pool.reset_peak();
            let batch = gpu.run(specs.clone(), labels).unwrap();
            peak = peak.max(pool.usage().peak - weights);
            assert_eq!(pool.usage().in_use, weights, "buffers not returned");
            for (i, spec) in specs.iter().enumerate() {
                let alone = gpu.run(vec![spec.clone()], labels).unwrap().remove(0);
                // Exact: padding never reaches a row's own values.
                assert_eq!(
                    batch[i], alone,
                    "{name} {storage:?} row {i} ({} samples) {labels:?}",
                    lens[i]
                );
            }
        }
        // What a batch held at most stays within the plan for the longest row × rows.
        let frames = specs.iter().map(|s| s.1).max().unwrap();
        let planned = specs.len() * frames * frame_bytes(gpu.shape(), b.bins(), storage.size())
            + chunk_bytes(gpu.shape(), storage.size(), gpu.gpu().chunk_pixels());
        eprintln!(
            "{name} {storage:?}: batch of {}: peak activations {peak} B, plan {planned} B",
            specs.len()
        );
        assert!(peak <= planned, "peak {peak} above the plan {planned}");
    }
}

#[test]
fn f16_embedding_is_close_to_fp32() {
    for name in ["tiny", "tiny-variant", "tiny-fwse", "small"] {
        let b = bind(name);
        let Some(gpu) = b.emulated(Operands::F16) else {
            return;
        };
        let mut worst: f64 = 1.0;
        for len in [321usize, 4000, 16000, 48000] {
            let golden = fixture(name).join(format!("golden/len{len}"));
            if !golden.with_extension("embedding.npy").exists() {
                continue;
            }
            let (_, audio) = npy(&golden.with_extension("audio.npy"));
            let (_, want) = npy(&golden.with_extension("embedding.npy"));
            let got = gpu
                .run(vec![b.spec(&audio)], LabelSet::embedding())
                .unwrap()
                .remove(0);
            worst = worst.min(cosine(&got, &want));
        }
        eprintln!("{name}: emulated CUDA f16 embedding, lowest cosine to PyTorch fp32 {worst:.6}");
        assert!(worst >= self_check::F16_COSINE, "{name}: cosine {worst}");
    }
}

#[test]
fn self_check_passes_and_catches_a_wrong_device() {
    let b = bind("small");
    let cpu = b.cpu();
    for storage in [Operands::F32, Operands::F16] {
        let Some(gpu) = b.emulated(storage) else {
            return;
        };
        self_check::check(&gpu, &cpu, b.bins()).unwrap();
    }
    // A "device" whose result is wrong (one embedding bias off by 0.5) must be refused.
    let mut broken = b.bound.network.clone();
    broken.dense_2.bias[0] += 0.5;
    let emu = Emulator::new(Operands::F32).unwrap();
    let gpu = CudaEngine::new(
        Device::Cuda(0),
        Arc::new(emu),
        &broken,
        b.bins(),
        Operands::F32,
        None,
    )
    .unwrap();
    let e = self_check::check(&gpu, &cpu, b.bins()).unwrap_err();
    assert!(matches!(e, crate::Error::SelfCheck { .. }), "{e}");
    assert!(e.to_string().contains("embedding relative L2"), "{e}");
    // A CPU engine standing in as the "device" with f32 agrees with itself.
    self_check::check(&cpu, &b.cpu(), b.bins()).unwrap();
}

#[test]
fn loading_on_cuda_without_a_driver_fails_with_one_line() {
    // This machine (and CI) has no NVIDIA driver: the load must fail cleanly, naming it.
    if unsafe { cudarc::driver::sys::is_culib_present() } {
        eprintln!("skipped: a CUDA driver is present here");
        return;
    }
    let e = crate::Ecapa2::load_with(
        fixture("tiny").join("model.pt"),
        Options::new().device(Device::Cuda(0)),
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, crate::Error::Device { .. }), "{e:?}");
    assert!(
        text.starts_with("cuda:0") && text.contains("libcuda") && !text.contains('\n'),
        "{text}"
    );
}

#[test]
fn cuda_graphs_replay_exactly_what_a_plain_forward_gives() {
    let b = bind("small");
    let audio = |n: usize, seed: usize| -> Vec<f32> {
        (0..n)
            .map(|k| ((k * (3 + seed)) as f32 * 0.011).sin() * 0.4)
            .collect()
    };
    // Two rows whose longest is 101–150 frames: one 150-frame bucket, lengths varying.
    let calls: [(usize, usize); 5] = [
        (20_000, 12_000),
        (22_000, 5_000),
        (17_000, 16_500),
        (20_000, 12_000),
        (23_500, 23_000),
    ];
    let Some(gpu) = b.emulated(Operands::F32) else {
        return;
    };
    for (i, &(n1, n2)) in calls.iter().enumerate() {
        let specs = vec![b.spec(&audio(n1, i)), b.spec(&audio(n2, i + 7))];
        let got = gpu.run(specs.clone(), LabelSet::all()).unwrap();
        // The same batch on a fresh engine runs the plain (uncaptured) forward.
        let fresh = b.emulated(Operands::F32).unwrap();
        let plain = fresh.run(specs, LabelSet::all()).unwrap();
        assert_eq!(got, plain, "call {i}");
    }
    // Call 1 ran plain, call 2 warmed up and captured, calls 3–5 replayed.
    assert_eq!(gpu.graphs(), 1);
    assert_eq!(gpu.gpu().replays(), 3);
    // Another label set is another graph; a long batch none.
    let specs = vec![b.spec(&audio(20_000, 1)), b.spec(&audio(9_000, 2))];
    for _ in 0..3 {
        gpu.run(specs.clone(), LabelSet::embedding()).unwrap();
    }
    assert_eq!(gpu.graphs(), 2);
}

#[test]
fn graph_buckets_pad_to_half_seconds_and_stop_at_large_batches() {
    use super::graphs::{Key, BUCKET_FRAMES, GRAPH_MAX_FRAMES};
    let all = LabelSet::all();
    assert_eq!(Key::new(2, 101, all), Key::new(2, 150, all));
    assert_ne!(Key::new(2, 150, all), Key::new(2, 151, all));
    assert_ne!(Key::new(2, 120, all), Key::new(3, 120, all));
    assert_ne!(
        Key::new(2, 120, all),
        Key::new(2, 120, LabelSet::embedding())
    );
    assert!(Key::new(1, GRAPH_MAX_FRAMES, all).is_some());
    assert!(Key::new(1, GRAPH_MAX_FRAMES + 1, all).is_none());
    assert!(Key::new(GRAPH_MAX_FRAMES / BUCKET_FRAMES + 1, 10, all).is_none());
}
