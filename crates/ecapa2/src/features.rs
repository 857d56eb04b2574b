//! The typed result of a call: rows (utterances) × features, with per-label views.

use crate::labels::{Label, LabelSet};

/// Features of one or more utterances: `rows()` rows of `dim()` values, each row the
/// requested labels' features concatenated in network order (as the original `label=` gives).
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    labels: LabelSet,
    /// `(label, offset, width)` within a row, in network order.
    layout: Vec<(Label, usize, usize)>,
    dim: usize,
    data: Vec<f32>,
}

impl Features {
    /// Rows of `dim` values each; `widths` gives each label's width.
    pub(crate) fn new(labels: LabelSet, widths: impl Fn(Label) -> usize, data: Vec<f32>) -> Self {
        let mut offset = 0;
        let layout = labels
            .iter()
            .map(|l| {
                let w = widths(l);
                offset += w;
                (l, offset - w, w)
            })
            .collect();
        debug_assert!(offset == 0 || data.len().is_multiple_of(offset));
        Self {
            labels,
            layout,
            dim: offset,
            data,
        }
    }

    /// The labels, in network order.
    pub fn labels(&self) -> LabelSet {
        self.labels
    }

    /// Utterances.
    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Values per row (the sum of the labels' widths).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Row `i` (all labels), or `None` past the end.
    pub fn row(&self, i: usize) -> Option<&[f32]> {
        self.data.get(i * self.dim..(i + 1) * self.dim)
    }

    /// The rows in order.
    pub fn iter(&self) -> std::slice::ChunksExact<'_, f32> {
        self.into_iter()
    }

    /// One label's features in row `i`, or `None` if the label was not asked for or the row
    /// does not exist.
    pub fn get(&self, i: usize, label: Label) -> Option<&[f32]> {
        let &(_, offset, width) = self.layout.iter().find(|(l, _, _)| *l == label)?;
        self.row(i).map(|r| &r[offset..offset + width])
    }

    /// All values, row-major `(rows, dim)`.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// All values, row-major `(rows, dim)`.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }
}

impl<'a> IntoIterator for &'a Features {
    type Item = &'a [f32];
    type IntoIter = std::slice::ChunksExact<'a, f32>;
    fn into_iter(self) -> Self::IntoIter {
        self.data.chunks_exact(self.dim.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_follow_network_order() {
        let labels: LabelSet = "embedding|gfe_1".parse().unwrap();
        let width = |l: Label| if l == Label::Gfe1 { 2 } else { 3 };
        let f = Features::new(labels, width, (0..10).map(|v| v as f32).collect());
        assert_eq!((f.rows(), f.dim()), (2, 5));
        assert_eq!(f.get(0, Label::Gfe1), Some(&[0.0, 1.0][..]));
        assert_eq!(f.get(1, Label::Embedding), Some(&[7.0, 8.0, 9.0][..]));
        assert_eq!(f.get(0, Label::Pool), None);
        assert_eq!(f.row(2), None);
        assert_eq!(f.iter().count(), 2);
    }
}
