//! Sums and statistics over time, accumulated in f64: the feature taps, the SE squeezes and
//! the pooling context.

/// For each row of a `(c, t)` map: mean and unbiased variance (divisor t − 1, `torch.var`'s
/// default), accumulated in f64. Returns `[means…, variances…]` (length 2c).
pub(crate) fn mean_var(x: &[f32], c: usize, t: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; 2 * c];
    for (i, row) in x.chunks_exact(t).take(c).enumerate() {
        let (m, v) = row_mean_var(row);
        out[i] = m as f32;
        out[c + i] = v as f32;
    }
    out
}

/// Sum of f32 values in f64, over eight interleaved partial sums: one running sum is a chain
/// of dependent additions (4 cycles each), which made the SE squeezes ~5 % of a call; eight
/// vectorise. Sums of a few thousand f32 values are exact or within an ulp of f64 in either
/// order, far below anything the network can see.
pub(crate) fn sum_f64(x: &[f32]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().map(|&v| v as f64).sum();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v as f64;
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// Mean and unbiased variance of one row, in f64 (two passes for accuracy).
pub(crate) fn row_mean_var(row: &[f32]) -> (f64, f64) {
    let n = row.len() as f64;
    let m = sum_f64(row) / n;
    let ss = row.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>();
    (m, ss / (n - 1.0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sum_f64_is_the_exact_sum() {
        // Integers and halves: every partial sum is exact in f64, so any order gives the same.
        for n in [0usize, 1, 7, 8, 9, 300, 1001] {
            let x: Vec<f32> = (0..n).map(|i| (i % 17) as f32 * 0.5 - 3.0).collect();
            let want: f64 = x.iter().map(|&v| v as f64).sum();
            assert_eq!(super::sum_f64(&x), want, "n {n}");
        }
    }

    #[test]
    fn unbiased_variance_closed_form() {
        // 1..=5: mean 3, sum of squared deviations 10, unbiased variance 10/4.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 2.0, 2.0, 2.0, 2.0, 2.0];
        assert_eq!(super::mean_var(&x, 2, 5), vec![3.0, 2.0, 2.5, 0.0]);
    }
}
