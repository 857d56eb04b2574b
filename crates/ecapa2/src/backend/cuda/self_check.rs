//! The load-time self-check: a short synthetic batch through the CPU engine and the device;
//! beyond tolerance the model refuses to load, so an unverified driver/library combination
//! never returns wrong embeddings silently.

use crate::backend::{Engine, SpecRow};
use crate::error::{Error, Result};
use crate::labels::{Label, LabelSet};
use crate::Precision;

/// fp32 on the device: relative L2 error per feature (and row) vs the CPU.
pub(crate) const F32_REL_L2: f64 = 1e-4;
/// fp16 on the device: cosine similarity of the embedding to the CPU's fp32 one.
pub(crate) const F16_COSINE: f64 = 0.999;

/// Two rows of normalised-spectrogram-like values (1 s and 1.6 s), deterministic: two lengths
/// so that the padding masks are part of the check.
pub(crate) fn synthetic_rows(bins: usize) -> Vec<SpecRow> {
    [100usize, 160]
        .iter()
        .enumerate()
        .map(|(r, &frames)| {
            let mut s = 0x9E37_79B9u32.wrapping_mul(r as u32 + 1);
            let values = (0..bins * frames)
                .map(|_| {
                    // Sum of two uniforms: a rough bell in [-1.7, 1.7].
                    let mut u = || {
                        s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
                    };
                    1.7 * (u() + u())
                })
                .collect();
            (values, frames)
        })
        .collect()
}

/// Relative L2 distance `|a − b| / |b|` (`b` the reference).
pub(crate) fn rel_l2(a: &[f32], b: &[f32]) -> f64 {
    let (mut d, mut n) = (0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        d += (x as f64 - y as f64).powi(2);
        n += (y as f64).powi(2);
    }
    (d / n.max(f64::MIN_POSITIVE)).sqrt()
}

/// Cosine similarity.
pub(crate) fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        ab += x as f64 * y as f64;
        aa += (x as f64).powi(2);
        bb += (y as f64).powi(2);
    }
    ab / (aa.sqrt() * bb.sqrt()).max(f64::MIN_POSITIVE)
}

/// Runs the check: `device` against `cpu` on [`synthetic_rows`].
pub(crate) fn check(device: &dyn Engine, cpu: &dyn Engine, bins: usize) -> Result<()> {
    let started = std::time::Instant::now();
    let rows = synthetic_rows(bins);
    let labels = LabelSet::all();
    let want = cpu.run(rows.clone(), labels)?;
    // Three times: plain, then warm-up and capture of its CUDA graph, then the graph's replay.
    device.run(rows.clone(), labels)?;
    device.run(rows.clone(), labels)?;
    let got = device.run(rows, labels)?;
    let shape = device.shape();
    let fail = |message: String| Error::SelfCheck {
        device: device.device().to_string(),
        message,
    };
    for (r, (g, w)) in got.iter().zip(&want).enumerate() {
        if g.len() != w.len() || g.iter().any(|v| !v.is_finite()) {
            return Err(fail(format!(
                "row {r}: {} values ({} non-finite), expected {}",
                g.len(),
                g.iter().filter(|v| !v.is_finite()).count(),
                w.len()
            )));
        }
        let mut at = 0;
        for label in labels.iter() {
            let n = shape.dim(label);
            let (gl, wl) = (&g[at..at + n], &w[at..at + n]);
            at += n;
            match device.precision() {
                Precision::F16 => {
                    if label == Label::Embedding && cosine(gl, wl) < F16_COSINE {
                        return Err(fail(format!(
                            "row {r}: f16 embedding cosine {:.6} to the CPU's fp32, below {F16_COSINE}",
                            cosine(gl, wl)
                        )));
                    }
                }
                _ => {
                    let e = rel_l2(gl, wl);
                    if e > F32_REL_L2 {
                        return Err(fail(format!(
                            "row {r}: {label} relative L2 error {e:.2e} to the CPU, above {F32_REL_L2:.0e}"
                        )));
                    }
                }
            }
        }
    }
    tracing::info!(
        device = %device.device(),
        precision = %device.precision(),
        ms = started.elapsed().as_millis() as u64,
        "self-check passed"
    );
    Ok(())
}
