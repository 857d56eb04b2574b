//! Agglomerative hierarchical clustering with scipy's semantics.
//!
//! `linkage` follows `scipy.cluster.hierarchy.linkage` step for step, ties included: average
//! linkage by the nearest-neighbour chain (scipy's `nn_chain`), centroid linkage by the generic
//! algorithm with scipy's binary heap (`fast_linkage`), then the same stable sort and relabelling.
//! `fcluster` with the `distance` and `maxclust` criteria walks the tree as scipy does, so the
//! flat labels equal scipy's (`reference/diarize_goldens.py` checks them, ties included).
//!
//! Distances: average linkage uses the cosine distance `1 - cos` of the embeddings; centroid
//! linkage needs Euclidean geometry, so it uses the Euclidean distance of the L2-normalised
//! embeddings, `sqrt(2 (1 - cos))`, and the cosine-distance threshold `t` is cut at
//! `sqrt(2 t)` — the same partition rule in both, stated in cosine distance.

use super::{canonical, dot, SpeakerCount};
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// The linkage rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Linkage {
    /// Mean distance between members (UPGMA).
    Average,
    /// Distance between centroids (UPGMC).
    Centroid,
}

/// AHC parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AhcOptions {
    /// The linkage rule.
    pub linkage: Linkage,
    /// Clusters merge while their distance is at most this cosine distance (used when no
    /// speaker count fixes the cut). Not tuned: no official weights are available here.
    pub threshold: f64,
}

impl Default for AhcOptions {
    fn default() -> Self {
        AhcOptions {
            linkage: Linkage::Average,
            threshold: 0.7,
        }
    }
}

/// One merge of the dendrogram, as a row of scipy's linkage matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Merge {
    /// The smaller node id (leaves `0..n`, merges `n..2n-1`).
    pub left: usize,
    /// The larger node id.
    pub right: usize,
    /// The linkage distance.
    pub distance: f64,
    /// Leaves under the new node.
    pub size: usize,
}

/// Index of `(i, j)`, `i != j`, in a condensed `n × n` distance matrix.
fn condensed_index(n: usize, i: usize, j: usize) -> usize {
    let (i, j) = if i < j { (i, j) } else { (j, i) };
    n * i - i * (i + 1) / 2 + (j - i - 1)
}

/// The condensed pairwise distances of unit rows for `linkage`.
pub fn distances(rows: &[Vec<f64>], linkage: Linkage) -> Vec<f64> {
    let n = rows.len();
    let mut d = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            d.push(match linkage {
                Linkage::Average => 1.0 - dot(&rows[i], &rows[j]),
                Linkage::Centroid => rows[i]
                    .iter()
                    .zip(&rows[j])
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    .sqrt(),
            });
        }
    }
    d
}

fn update(linkage: Linkage, d_xi: f64, d_yi: f64, d_xy: f64, nx: usize, ny: usize) -> f64 {
    let (nx, ny) = (nx as f64, ny as f64);
    match linkage {
        Linkage::Average => (nx * d_xi + ny * d_yi) / (nx + ny),
        Linkage::Centroid => (((nx * d_xi * d_xi) + (ny * d_yi * d_yi)
            - (nx * ny * d_xy * d_xy) / (nx + ny))
            / (nx + ny))
            .sqrt(),
    }
}

/// Merges cluster `x` into `y` (x dropped): sizes, and `y`'s distances by Lance–Williams.
fn merge_rows(
    d: &mut [f64],
    size: &mut [usize],
    n: usize,
    method: Linkage,
    (x, y): (usize, usize),
    d_xy: f64,
) {
    let (nx, ny) = (size[x], size[y]);
    size[x] = 0;
    size[y] = nx + ny;
    for i in 0..n {
        if size[i] == 0 || i == y {
            continue;
        }
        let v = update(
            method,
            d[condensed_index(n, i, x)],
            d[condensed_index(n, i, y)],
            d_xy,
            nx,
            ny,
        );
        d[condensed_index(n, i, y)] = v;
    }
}

/// The dendrogram of `n` items from their condensed distances, as scipy's `linkage` gives it.
pub fn linkage(condensed: &[f64], n: usize, method: Linkage) -> Vec<Merge> {
    if n < 2 {
        return Vec::new();
    }
    match method {
        Linkage::Average => nn_chain(condensed, n, method),
        Linkage::Centroid => generic(condensed, n, method),
    }
}

fn nn_chain(condensed: &[f64], n: usize, method: Linkage) -> Vec<Merge> {
    let mut d = condensed.to_vec();
    let mut size = vec![1usize; n];
    let mut chain: Vec<usize> = Vec::with_capacity(n);
    let mut z = Vec::with_capacity(n - 1);
    for _ in 0..n - 1 {
        if chain.is_empty() {
            chain.push(size.iter().position(|&s| s > 0).unwrap_or(0));
        }
        let (x, y, current_min) = loop {
            let x = chain[chain.len() - 1];
            // Prefer the previous element of the chain, as scipy does, to avoid cycles on ties.
            let (mut y, mut current_min) = if chain.len() > 1 {
                let y = chain[chain.len() - 2];
                (y, d[condensed_index(n, x, y)])
            } else {
                (0, f64::INFINITY)
            };
            for i in 0..n {
                if size[i] == 0 || i == x {
                    continue;
                }
                let dist = d[condensed_index(n, x, i)];
                if dist < current_min {
                    current_min = dist;
                    y = i;
                }
            }
            if chain.len() > 1 && y == chain[chain.len() - 2] {
                break (x, y, current_min);
            }
            chain.push(y);
        };
        chain.truncate(chain.len() - 2);
        let (x, y) = if x > y { (y, x) } else { (x, y) };
        let (nx, ny) = (size[x], size[y]);
        z.push(Merge {
            left: x,
            right: y,
            distance: current_min,
            size: nx + ny,
        });
        merge_rows(&mut d, &mut size, n, method, (x, y), current_min);
    }
    // Stable sort by distance, then node ids from a union-find (scipy's `label`).
    z.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    relabel(&mut z, n);
    z
}

fn relabel(z: &mut [Merge], n: usize) {
    let mut parent: Vec<usize> = (0..2 * n - 1).collect();
    let mut sizes = vec![1usize; 2 * n - 1];
    let find = |parent: &mut Vec<usize>, mut x: usize| {
        let mut p = x;
        while parent[x] != x {
            x = parent[x];
        }
        while parent[p] != x {
            let next = parent[p];
            parent[p] = x;
            p = next;
        }
        x
    };
    for (k, m) in z.iter_mut().enumerate() {
        let (a, b) = (find(&mut parent, m.left), find(&mut parent, m.right));
        let (a, b) = if a < b { (a, b) } else { (b, a) };
        let next = n + k;
        parent[a] = next;
        parent[b] = next;
        sizes[next] = sizes[a] + sizes[b];
        *m = Merge {
            left: a,
            right: b,
            distance: m.distance,
            size: sizes[next],
        };
    }
}

/// scipy's binary min-heap with keys 0..n and changeable values (ties resolved as there).
struct Heap {
    index_by_key: Vec<usize>,
    key_by_index: Vec<usize>,
    values: Vec<f64>,
    size: usize,
}

impl Heap {
    fn new(values: &[f64]) -> Self {
        let size = values.len();
        let mut h = Heap {
            index_by_key: (0..size).collect(),
            key_by_index: (0..size).collect(),
            values: values.to_vec(),
            size,
        };
        for i in (0..size / 2).rev() {
            h.sift_down(i);
        }
        h
    }
    fn get_min(&self) -> (usize, f64) {
        (self.key_by_index[0], self.values[0])
    }
    fn remove_min(&mut self) {
        self.swap(0, self.size - 1);
        self.size -= 1;
        self.sift_down(0);
    }
    fn change_value(&mut self, key: usize, value: f64) {
        let index = self.index_by_key[key];
        let old = self.values[index];
        self.values[index] = value;
        if value < old {
            self.sift_up(index);
        } else {
            self.sift_down(index);
        }
    }
    fn sift_up(&mut self, mut index: usize) {
        while index > 0 {
            let parent = (index - 1) >> 1;
            if self.values[parent] > self.values[index] {
                self.swap(index, parent);
                index = parent;
            } else {
                break;
            }
        }
    }
    fn sift_down(&mut self, mut index: usize) {
        let mut child = 2 * index + 1;
        while child < self.size {
            if child + 1 < self.size && self.values[child + 1] < self.values[child] {
                child += 1;
            }
            if self.values[index] > self.values[child] {
                self.swap(index, child);
                index = child;
                child = 2 * index + 1;
            } else {
                break;
            }
        }
    }
    fn swap(&mut self, i: usize, j: usize) {
        self.values.swap(i, j);
        let (ki, kj) = (self.key_by_index[i], self.key_by_index[j]);
        self.key_by_index[i] = kj;
        self.key_by_index[j] = ki;
        self.index_by_key[ki] = j;
        self.index_by_key[kj] = i;
    }
}

/// Nearest live cluster above `x`, as scipy's `find_min_dist` (None: none is finite).
fn find_min_dist(n: usize, d: &[f64], size: &[usize], x: usize) -> Option<(usize, f64)> {
    let mut best: Option<(usize, f64)> = None;
    for i in x + 1..n {
        if size[i] == 0 {
            continue;
        }
        let dist = d[condensed_index(n, x, i)];
        if dist < best.map_or(f64::INFINITY, |b| b.1) {
            best = Some((i, dist));
        }
    }
    best
}

fn generic(condensed: &[f64], n: usize, method: Linkage) -> Vec<Merge> {
    let mut d = condensed.to_vec();
    let mut size = vec![1usize; n];
    let mut cluster_id: Vec<usize> = (0..n).collect();
    let mut neighbor = vec![0usize; n - 1];
    let mut min_dist = vec![f64::INFINITY; n - 1];
    for x in 0..n - 1 {
        if let Some((y, dist)) = find_min_dist(n, &d, &size, x) {
            neighbor[x] = y;
            min_dist[x] = dist;
        }
    }
    let mut heap = Heap::new(&min_dist);
    let mut z = Vec::with_capacity(n - 1);
    for k in 0..n - 1 {
        let (mut x, mut y, mut dist) = (0, 0, 0.0);
        for _ in 0..n - k {
            let (hx, hd) = heap.get_min();
            x = hx;
            dist = hd;
            y = neighbor[x];
            if dist == d[condensed_index(n, x, y)] {
                break;
            }
            let (ny_, nd) = find_min_dist(n, &d, &size, x).unwrap_or((y, f64::INFINITY));
            y = ny_;
            dist = nd;
            neighbor[x] = y;
            min_dist[x] = dist;
            heap.change_value(x, dist);
        }
        heap.remove_min();
        let (mut id_x, mut id_y) = (cluster_id[x], cluster_id[y]);
        let (nx, ny) = (size[x], size[y]);
        if id_x > id_y {
            std::mem::swap(&mut id_x, &mut id_y);
        }
        z.push(Merge {
            left: id_x,
            right: id_y,
            distance: dist,
            size: nx + ny,
        });
        merge_rows(&mut d, &mut size, n, method, (x, y), dist);
        cluster_id[y] = n + k;
        for w in 0..x {
            if size[w] > 0 && neighbor[w] == x {
                neighbor[w] = y;
            }
        }
        for w in 0..y {
            if size[w] == 0 {
                continue;
            }
            let dv = d[condensed_index(n, w, y)];
            if dv < min_dist[w] {
                neighbor[w] = y;
                min_dist[w] = dv;
                heap.change_value(w, dv);
            }
        }
        if y < n - 1 {
            if let Some((w, dv)) = find_min_dist(n, &d, &size, y) {
                neighbor[y] = w;
                min_dist[y] = dv;
                heap.change_value(y, dv);
            }
        }
    }
    z
}

/// The largest merge distance under each merge node (scipy's `get_max_dist_for_each_cluster`).
fn max_dists(z: &[Merge], n: usize) -> Vec<f64> {
    // Children are always earlier rows, so one forward pass suffices.
    let mut md = vec![0.0; z.len()];
    for (k, m) in z.iter().enumerate() {
        let mut v = m.distance;
        for c in [m.left, m.right] {
            if c >= n {
                v = v.max(md[c - n]);
            }
        }
        md[k] = v;
    }
    md
}

/// scipy's `cluster_monocrit`: flat labels (1-based) cutting where `mc <= cutoff`.
fn monocrit(z: &[Merge], mc: &[f64], cutoff: f64, n: usize) -> Vec<usize> {
    let mut t = vec![0usize; n];
    let mut visited = vec![false; 2 * n - 1];
    let mut stack = vec![2 * n - 2];
    let mut n_cluster = 0;
    let mut leader: Option<usize> = None;
    while let Some(&node) = stack.last() {
        let root = node - n;
        let (lc, rc) = (z[root].left, z[root].right);
        if leader.is_none() && mc[root] <= cutoff {
            leader = Some(root);
            n_cluster += 1;
        }
        if lc >= n && !visited[lc] {
            visited[lc] = true;
            stack.push(lc);
            continue;
        }
        if rc >= n && !visited[rc] {
            visited[rc] = true;
            stack.push(rc);
            continue;
        }
        for c in [lc, rc] {
            if c < n {
                if leader.is_none() {
                    n_cluster += 1;
                }
                t[c] = n_cluster;
            }
        }
        if leader == Some(root) {
            leader = None;
        }
        stack.pop();
    }
    t
}

/// `fcluster(Z, t, criterion='distance')`: 1-based labels, merging up to distance `cutoff`.
pub fn fcluster_distance(z: &[Merge], n: usize, cutoff: f64) -> Vec<usize> {
    if n < 2 {
        return vec![1; n];
    }
    monocrit(z, &max_dists(z, n), cutoff, n)
}

/// `fcluster(Z, k, criterion='maxclust')`: at most `k` clusters (1-based labels).
pub fn fcluster_maxclust(z: &[Merge], n: usize, k: usize) -> Vec<usize> {
    if k >= n || n < 2 {
        return (1..=n).collect();
    }
    let md = max_dists(z, n);
    // scipy bisects over the merge rows for the smallest max-distance giving <= k clusters.
    let count = |thresh: f64| {
        let labels = monocrit(z, &md, thresh, n);
        labels.iter().copied().max().unwrap_or(0)
    };
    let (mut lower, mut upper): (isize, isize) = (-1, n as isize - 1);
    while upper - lower > 1 {
        let i = (lower + upper) >> 1;
        if count(md[i as usize]) > k {
            lower = i;
        } else {
            upper = i;
        }
    }
    monocrit(z, &md, md[upper as usize], n)
}

/// Labels (0-based, in order of first appearance) for unit rows.
pub fn cluster(rows: &[Vec<f64>], options: &AhcOptions, count: SpeakerCount) -> Result<Vec<usize>> {
    let n = rows.len();
    let (lo, hi) = count.bounds(n, n)?;
    if n < 2 {
        return Ok(vec![0; n]);
    }
    let z = linkage(&distances(rows, options.linkage), n, options.linkage);
    let cutoff = match options.linkage {
        Linkage::Average => options.threshold,
        Linkage::Centroid => (2.0 * options.threshold.max(0.0)).sqrt(),
    };
    let mut labels = fcluster_distance(&z, n, cutoff);
    let found = labels.iter().copied().max().unwrap_or(0);
    if found > hi {
        labels = fcluster_maxclust(&z, n, hi);
    } else if found < lo {
        labels = fcluster_maxclust(&z, n, lo);
    }
    Ok(canonical(&labels))
}
