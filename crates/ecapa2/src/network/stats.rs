//! Statistics over time: the hierarchical feature taps and the pooling context.

/// For each row of a `(c, t)` map: mean and unbiased variance (divisor t − 1, `torch.var`'s
/// default), accumulated in f64. Returns `[means…, variances…]` (length 2c).
pub fn mean_var(x: &[f32], c: usize, t: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; 2 * c];
    for (i, row) in x.chunks_exact(t).take(c).enumerate() {
        let (m, v) = row_mean_var(row);
        out[i] = m as f32;
        out[c + i] = v as f32;
    }
    out
}

/// Mean and unbiased variance of one row, in f64 (two passes for accuracy).
pub fn row_mean_var(row: &[f32]) -> (f64, f64) {
    let n = row.len() as f64;
    let m = row.iter().map(|&v| v as f64).sum::<f64>() / n;
    let ss = row.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>();
    (m, ss / (n - 1.0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn unbiased_variance_closed_form() {
        // 1..=5: mean 3, sum of squared deviations 10, unbiased variance 10/4.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 2.0, 2.0, 2.0, 2.0, 2.0];
        assert_eq!(super::mean_var(&x, 2, 5), vec![3.0, 2.0, 2.5, 0.0]);
    }
}
