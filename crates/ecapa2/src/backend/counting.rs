//! A test backend (never shipped) that runs the CPU backend and records every call, to prove
//! the seam's contract: no op of a forward returns data to the host before the last, so a
//! device synchronises once per batch, and a batch of mixed lengths gives each row exactly its
//! single-utterance result.

use super::cpu::{Cpu, Rows};
use super::{Axis, Backend};
use crate::error::Result;
use crate::network::layers::{BatchNorm, Linear};
use crate::network::se::SeGate;
use crate::network::weights::{ConvWeights, DilatedWeights};
use crate::Precision;
use std::sync::Mutex;

/// [`Cpu`] with a log of the op names called.
struct Counting {
    cpu: Cpu,
    log: Mutex<Vec<&'static str>>,
}

impl Counting {
    fn note(&self, op: &'static str) {
        self.log.lock().unwrap().push(op);
    }
}

type C = Cpu;

impl Backend for Counting {
    type Map = Rows;
    type Conv3x3 = <C as Backend>::Conv3x3;
    type Pointwise = <C as Backend>::Pointwise;
    type Dilated = <C as Backend>::Dilated;
    type Se = <C as Backend>::Se;
    type Linear = <C as Backend>::Linear;
    type Affine = <C as Backend>::Affine;

    fn precision(&self) -> Precision {
        self.cpu.precision()
    }
    fn prepare_conv3x3(&self, w: &ConvWeights, bn: &BatchNorm) -> Result<Self::Conv3x3> {
        self.cpu.prepare_conv3x3(w, bn)
    }
    fn prepare_pointwise(
        &self,
        w: &ConvWeights,
        bn: Option<&BatchNorm>,
    ) -> Result<Self::Pointwise> {
        self.cpu.prepare_pointwise(w, bn)
    }
    fn prepare_dilated(&self, w: &DilatedWeights) -> Result<Self::Dilated> {
        self.cpu.prepare_dilated(w)
    }
    fn prepare_se(&self, mlp: &SeGate, axis: Axis) -> Result<Self::Se> {
        self.cpu.prepare_se(mlp, axis)
    }
    fn prepare_linear(&self, w: &Linear) -> Result<Self::Linear> {
        self.cpu.prepare_linear(w)
    }
    fn prepare_affine(&self, bn: &BatchNorm) -> Result<Self::Affine> {
        self.cpu.prepare_affine(bn)
    }
    fn upload(&self, rows: Vec<Vec<f32>>, c: usize, h: usize) -> Result<Rows> {
        self.note("upload");
        self.cpu.upload(rows, c, h)
    }
    fn release(&self, x: Rows) {
        self.cpu.release(x)
    }
    fn download(&self, parts: Vec<Rows>) -> Result<Vec<Vec<f32>>> {
        self.note("download");
        self.cpu.download(parts)
    }
    fn conv3x3(&self, l: &Self::Conv3x3, x: &Rows) -> Result<Rows> {
        self.note("conv3x3");
        self.cpu.conv3x3(l, x)
    }
    fn project(&self, l: &Self::Pointwise, x: &Rows, stride: usize) -> Result<Rows> {
        self.note("project");
        self.cpu.project(l, x, stride)
    }
    fn pointwise(&self, l: &Self::Pointwise, x: &Rows) -> Result<Rows> {
        self.note("pointwise");
        self.cpu.pointwise(l, x)
    }
    fn activate(&self, x: &mut Rows, b: Option<&Rows>, bn: Option<&BatchNorm>) -> Result<()> {
        self.note("activate");
        self.cpu.activate(x, b, bn)
    }
    fn se(&self, l: &Self::Se, x: &mut Rows, r: Option<&Rows>) -> Result<()> {
        self.note("se");
        self.cpu.se(l, x, r)
    }
    fn res2net(&self, b: &[(Self::Dilated, BatchNorm)], x: &mut Rows) -> Result<()> {
        self.note("res2net");
        self.cpu.res2net(b, x)
    }
    fn mean_var(&self, x: &Rows) -> Result<Rows> {
        self.note("mean_var");
        self.cpu.mean_var(x)
    }
    fn mean_std(&self, x: &Rows, eps: f64) -> Result<Rows> {
        self.note("mean_std");
        self.cpu.mean_std(x, eps)
    }
    fn attentive_stats(&self, l: &Rows, b: &[f32], x: &Rows, eps: f64) -> Result<Rows> {
        self.note("attentive_stats");
        self.cpu.attentive_stats(l, b, x, eps)
    }
    fn linear(&self, l: &Self::Linear, x: &Rows) -> Result<Rows> {
        self.note("linear");
        self.cpu.linear(l, x)
    }
    fn affine(&self, x: &Rows, bn: &BatchNorm) -> Result<Rows> {
        self.note("affine");
        self.cpu.affine(x, bn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::Spectrogram;
    use crate::labels::{Label, LabelSet};
    use crate::network::Network;

    fn fixture(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures")
            .join(name)
    }

    /// Deterministic audio in [-0.5, 0.5] (a linear congruential sequence).
    fn audio(len: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn one_synchronisation_per_batch_and_rows_equal_singles() {
        let archive =
            ecapa2_archive::TorchScript::open(&fixture("small/model.pt")).expect("fixture");
        let bound = crate::binding::bind(&archive).unwrap();
        let spectrogram = Spectrogram::new(bound.spectrogram.clone()).unwrap();
        let bins = bound.spectrogram.bins();
        let be = Counting {
            cpu: Cpu::new(2, Precision::F32).unwrap(),
            log: Mutex::new(Vec::new()),
        };
        let net = be
            .cpu
            .install(|| Network::new(&be, &bound.network))
            .unwrap();
        // Mixed lengths: the shortest accepted (321 samples), 1 s, 3.3 s.
        let specs: Vec<Vec<f32>> = [321, 16_000, 53_000]
            .iter()
            .enumerate()
            .map(|(i, &n)| spectrogram.forward(&audio(n, i as u32)).unwrap().0)
            .collect();
        for labels in [
            LabelSet::all(),
            LabelSet::embedding(),
            "gfe_2".parse().unwrap(),
        ] {
            be.log.lock().unwrap().clear();
            let batch = be
                .cpu
                .install(|| net.run(&be, specs.clone(), bins, labels))
                .unwrap();
            let log = be.log.lock().unwrap().clone();
            assert_eq!(log.first(), Some(&"upload"), "{labels:?}");
            assert_eq!(log.last(), Some(&"download"), "{labels:?}");
            assert_eq!(
                log.iter()
                    .filter(|&&op| op == "download" || op == "upload")
                    .count(),
                2,
                "one upload and one download per batch, {labels:?}: {log:?}"
            );
            // The SE blocks are backend layers: one per LFE block, and tdnn_2's when reached.
            let se = log.iter().filter(|&&op| op == "se").count();
            let gfe_se = usize::from(labels.deepest() != Some(Label::Gfe2));
            assert_eq!(se, net.blocks.len() + gfe_se, "{labels:?}");
            // Each row of the batch is exactly the row alone (a batch of one).
            assert_eq!(batch.len(), specs.len());
            for (row, spec) in batch.iter().zip(&specs) {
                let alone = be
                    .cpu
                    .install(|| net.run(&be, vec![spec.clone()], bins, labels))
                    .unwrap();
                assert_eq!(row, &alone[0], "{labels:?}");
            }
        }
    }
}
