//! Deterministic k-means for the spectral embedding.
//!
//! Initialisation is farthest-first: the first centre is row 0, each next centre the row
//! farthest (squared Euclidean) from the centres chosen so far, ties to the lowest row. Then
//! Lloyd iterations (ties to the lowest centre) until no label changes, at most
//! [`MAX_ITERATIONS`]. No randomness, so the same rows always give the same labels;
//! `reference/diarize_goldens.py` implements the same steps in numpy.

/// Lloyd iterations at most.
pub const MAX_ITERATIONS: usize = 300;

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn nearest(row: &[f64], centres: &[Vec<f64>]) -> usize {
    let mut best = (0, f64::INFINITY);
    for (c, centre) in centres.iter().enumerate() {
        let d = sq_dist(row, centre);
        if d < best.1 {
            best = (c, d);
        }
    }
    best.0
}

/// Labels `0..k` for `rows` (k clamped to `1..=rows.len()`).
pub fn kmeans(rows: &[Vec<f64>], k: usize) -> Vec<usize> {
    let n = rows.len();
    if n == 0 {
        return Vec::new();
    }
    let k = k.clamp(1, n);
    let mut centres = vec![rows[0].clone()];
    let mut min_d: Vec<f64> = rows.iter().map(|r| sq_dist(r, &rows[0])).collect();
    while centres.len() < k {
        let mut far = (0, -1.0);
        for (i, &d) in min_d.iter().enumerate() {
            if d > far.1 {
                far = (i, d);
            }
        }
        let c = rows[far.0].clone();
        for (i, r) in rows.iter().enumerate() {
            min_d[i] = min_d[i].min(sq_dist(r, &c));
        }
        centres.push(c);
    }
    let mut labels: Vec<usize> = rows.iter().map(|r| nearest(r, &centres)).collect();
    for _ in 0..MAX_ITERATIONS {
        for (c, centre) in centres.iter_mut().enumerate() {
            let members: Vec<&Vec<f64>> = rows
                .iter()
                .zip(&labels)
                .filter(|(_, &l)| l == c)
                .map(|(r, _)| r)
                .collect();
            // An emptied centre keeps its place (it cannot attract rows it did not have).
            if members.is_empty() {
                continue;
            }
            for (j, v) in centre.iter_mut().enumerate() {
                *v = members.iter().map(|m| m[j]).sum::<f64>() / members.len() as f64;
            }
        }
        let next: Vec<usize> = rows.iter().map(|r| nearest(r, &centres)).collect();
        if next == labels {
            break;
        }
        labels = next;
    }
    labels
}
