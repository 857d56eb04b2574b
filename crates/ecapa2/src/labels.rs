//! Feature labels: `'gfe_1|pool|embedding'` as the original `model(audio, label=...)` takes.

use crate::error::{Error, Result};

/// One hierarchical feature the network can return, in network order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Label {
    /// Mean ‖ unbiased variance over time of tdnn_1's conv output (before ReLU and BN).
    Gfe1,
    /// Mean ‖ unbiased variance over time of tdnn_2.conv1's output (before ReLU and BN).
    Gfe2,
    /// Mean ‖ unbiased variance over time of dense_1's conv output (before ReLU).
    Pool,
    /// Attentive mean ‖ std (before the pooling BatchNorm).
    Attention,
    /// The speaker embedding (dense_2 output, not normalised).
    Embedding,
}

impl Label {
    /// All labels in network order.
    pub const ALL: [Label; 5] = [
        Label::Gfe1,
        Label::Gfe2,
        Label::Pool,
        Label::Attention,
        Label::Embedding,
    ];

    /// The id used in label strings.
    pub fn id(self) -> &'static str {
        match self {
            Label::Gfe1 => "gfe_1",
            Label::Gfe2 => "gfe_2",
            Label::Pool => "pool",
            Label::Attention => "attention",
            Label::Embedding => "embedding",
        }
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl std::str::FromStr for Label {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Label::ALL
            .into_iter()
            .find(|l| l.id() == s)
            .ok_or_else(|| Error::UnknownLabel {
                label: s.to_string(),
                valid: Label::ALL.map(Label::id).join(", "),
            })
    }
}

/// A set of labels; iteration is always in network order, whatever order they were given in.
/// Parsed from text with [`str::parse`] (`"gfe_1|pool".parse()`), the one way every API
/// takes labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LabelSet(u8);

impl LabelSet {
    /// Just the embedding (the model's default).
    pub fn embedding() -> Self {
        Self::from_labels([Label::Embedding])
    }

    /// Every label.
    pub fn all() -> Self {
        Self::from_labels(Label::ALL)
    }

    /// A set from labels.
    pub fn from_labels(labels: impl IntoIterator<Item = Label>) -> Self {
        Self(labels.into_iter().fold(0, |m, l| m | 1 << l as u8))
    }

    /// Parses `'|'`-separated ids (surrounding spaces ignored; duplicates collapse).
    fn parse(spec: &str) -> Result<Self> {
        let labels = spec
            .split('|')
            .map(|s| s.trim().parse())
            .collect::<Result<Vec<Label>>>()?;
        Ok(Self::from_labels(labels))
    }

    /// Whether `label` is in the set.
    pub fn contains(self, label: Label) -> bool {
        self.0 & (1 << label as u8) != 0
    }

    /// The labels, in network order.
    pub fn iter(self) -> impl Iterator<Item = Label> {
        Label::ALL.into_iter().filter(move |&l| self.contains(l))
    }

    /// The deepest label requested (decides how much of the network runs).
    pub fn deepest(self) -> Option<Label> {
        self.iter().last()
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl From<Label> for LabelSet {
    fn from(label: Label) -> Self {
        Self::from_labels([label])
    }
}

impl std::fmt::Display for LabelSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.iter().map(Label::id).collect();
        f.write_str(&ids.join("|"))
    }
}

impl std::str::FromStr for LabelSet {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_network_order() {
        let a = "embedding|gfe_1|pool".parse::<LabelSet>().unwrap();
        let b = "gfe_1|pool|embedding".parse::<LabelSet>().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "gfe_1|pool|embedding");
        assert_eq!(a.deepest(), Some(Label::Embedding));
    }

    #[test]
    fn unknown_label_lists_valid_ones() {
        let e = "gfe_1|lfe_3".parse::<LabelSet>().unwrap_err().to_string();
        assert!(
            e.contains("lfe_3") && e.contains("gfe_1, gfe_2, pool, attention, embedding"),
            "{e}"
        );
    }
}
