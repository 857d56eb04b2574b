//! What to do with multi-channel audio.

/// How [`load`](crate::load()) turns a multi-channel file into model input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChannelMode {
    /// Average all channels into one signal (`x.mean(dim=0)` in torchaudio terms). Default.
    #[default]
    Mix,
    /// Keep one signal per channel, like giving the TorchScript model a `(channels, N)` tensor:
    /// each channel gets its own embedding.
    Separate,
}

/// Average the channels sample by sample: `out[i] = (c0[i] + c1[i] + ...) / channels`.
///
/// The sum is accumulated in `f64` and rounded once, so for two channels the result equals
/// `(a + b) / 2` computed in `f32`. All channels must have the same length (the decoder
/// guarantees it); an empty slice gives an empty signal.
pub fn mix_down(channels: &[Vec<f32>]) -> Vec<f32> {
    let Some(first) = channels.first() else {
        return Vec::new();
    };
    if channels.len() == 1 {
        return first.clone();
    }
    debug_assert!(channels.iter().all(|c| c.len() == first.len()));
    let n = channels.iter().map(Vec::len).min().unwrap_or(0);
    let scale = 1.0 / channels.len() as f64;
    (0..n)
        .map(|i| {
            let sum: f64 = channels.iter().map(|c| f64::from(c[i])).sum();
            (sum * scale) as f32
        })
        .collect()
}

/// A short human name for a channel count: "mono", "stereo" or "N-channel".
pub fn channel_layout_name(channels: usize) -> String {
    match channels {
        1 => "mono".to_owned(),
        2 => "stereo".to_owned(),
        n => format!("{n}-channel"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_of_two_and_three_channels() {
        let l = vec![1.0f32, 0.5, -1.0];
        let r = vec![0.0f32, 0.25, 1.0];
        assert_eq!(mix_down(&[l.clone(), r.clone()]), vec![0.5, 0.375, 0.0]);
        let c = vec![0.5f32, 0.75, 0.0];
        assert_eq!(mix_down(&[l, r, c]), vec![0.5, 0.5, 0.0]);
        assert_eq!(mix_down(&[]), Vec::<f32>::new());
    }

    #[test]
    fn layout_names() {
        assert_eq!(channel_layout_name(1), "mono");
        assert_eq!(channel_layout_name(2), "stereo");
        assert_eq!(channel_layout_name(6), "6-channel");
    }
}
