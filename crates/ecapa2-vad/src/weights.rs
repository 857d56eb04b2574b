//! Silero VAD v6 (16 kHz) weights: read by name from safetensors, checked, and laid out for
//! the GEMMs of [`crate::network`].
//!
//! Names and shapes are those of the silero-vad wheel's `silero_vad_16k.safetensors` (the
//! tinygrad port's state dict), which the embedded file also uses.

use std::collections::HashMap;
use std::path::Path;

use ecapa2_archive::Tensor;

use crate::conv::Conv1d;
use crate::VadError;

/// FFT size of the STFT basis (frame length in samples).
pub(crate) const N_FFT: usize = 256;
/// Frequency bins kept (`N_FFT / 2 + 1`): the basis holds their real then imaginary parts.
pub(crate) const BINS: usize = N_FFT / 2 + 1;
/// Width of the LSTM state.
pub(crate) const HIDDEN: usize = 128;

/// Every tensor the network reads, with its shape.
const TENSORS: [(&str, &[usize]); 15] = [
    ("stft_conv.weight", &[2 * BINS, 1, N_FFT]),
    ("conv1.weight", &[128, BINS, 3]),
    ("conv1.bias", &[128]),
    ("conv2.weight", &[64, 128, 3]),
    ("conv2.bias", &[64]),
    ("conv3.weight", &[64, 64, 3]),
    ("conv3.bias", &[64]),
    ("conv4.weight", &[HIDDEN, 64, 3]),
    ("conv4.bias", &[HIDDEN]),
    ("lstm_cell.weight_ih", &[4 * HIDDEN, HIDDEN]),
    ("lstm_cell.weight_hh", &[4 * HIDDEN, HIDDEN]),
    ("lstm_cell.bias_ih", &[4 * HIDDEN]),
    ("lstm_cell.bias_hh", &[4 * HIDDEN]),
    ("final_conv.weight", &[1, HIDDEN, 1]),
    ("final_conv.bias", &[1]),
];

/// The network's parameters, arranged for row-major `activations × weights` products.
#[derive(Debug, Clone)]
pub(crate) struct Weights {
    /// STFT basis transposed: `[N_FFT × 2·BINS]` (real parts in the first BINS columns).
    pub stft: Vec<f32>,
    /// The four encoder convolutions (kernel 3, padding 1; strides 1, 2, 2, 1).
    pub convs: [Conv1d; 4],
    /// LSTM input weights transposed: `[HIDDEN × 4·HIDDEN]`, gates in PyTorch order i, f, g, o.
    pub w_ih: Vec<f32>,
    /// LSTM recurrent weights as stored: `[4·HIDDEN × HIDDEN]` (one row per gate unit).
    pub w_hh: Vec<f32>,
    /// `bias_ih + bias_hh`.
    pub bias: Vec<f32>,
    /// Output 1×1 convolution weights `[HIDDEN]`.
    pub out_w: Vec<f32>,
    /// Output bias.
    pub out_b: f32,
}

impl Weights {
    /// Reads and checks the tensors of a safetensors file's bytes; `origin` names them in errors.
    pub fn from_bytes(bytes: &[u8], origin: &Path) -> Result<Self, VadError> {
        let named =
            ecapa2_archive::read_safetensors_bytes(bytes).map_err(|source| VadError::Weights {
                path: origin.to_path_buf(),
                source: Box::new(source),
            })?;
        Self::from_tensors(&named)
    }

    /// Reads and checks the tensors of a safetensors file.
    pub fn from_file(path: &Path) -> Result<Self, VadError> {
        let named = ecapa2_archive::read_safetensors(path).map_err(|source| {
            if is_zip(path) {
                VadError::NotSafetensors {
                    path: path.to_path_buf(),
                }
            } else {
                VadError::Weights {
                    path: path.to_path_buf(),
                    source: Box::new(source),
                }
            }
        })?;
        Self::from_tensors(&named)
    }

    /// Picks the network's tensors by name, checks shape and finiteness, and lays them out.
    fn from_tensors(named: &[(String, Tensor)]) -> Result<Self, VadError> {
        let by_name: HashMap<&str, &Tensor> = named.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let mut values: HashMap<&'static str, Vec<f32>> = HashMap::new();
        for (name, shape) in TENSORS {
            let t = by_name.get(name).ok_or(VadError::MissingTensor { name })?;
            if t.shape != shape {
                return Err(VadError::WrongShape {
                    name,
                    expected: shape,
                    found: t.shape.clone(),
                });
            }
            let v = t.to_f32();
            if let Some(index) = v.iter().position(|x| !x.is_finite()) {
                return Err(VadError::NonFiniteWeight { name, index });
            }
            values.insert(name, v);
        }
        // Every name was inserted above, so `take` finds it.
        let mut take = |name: &str| values.remove(name).unwrap_or_default();
        let stft = transpose(&take("stft_conv.weight"), 2 * BINS, N_FFT);
        let convs = [
            Conv1d::new(&take("conv1.weight"), take("conv1.bias"), BINS, 128, 1),
            Conv1d::new(&take("conv2.weight"), take("conv2.bias"), 128, 64, 2),
            Conv1d::new(&take("conv3.weight"), take("conv3.bias"), 64, 64, 2),
            Conv1d::new(&take("conv4.weight"), take("conv4.bias"), 64, HIDDEN, 1),
        ];
        let w_ih = transpose(&take("lstm_cell.weight_ih"), 4 * HIDDEN, HIDDEN);
        let w_hh = take("lstm_cell.weight_hh");
        let bias = take("lstm_cell.bias_ih")
            .iter()
            .zip(take("lstm_cell.bias_hh"))
            .map(|(a, b)| a + b)
            .collect();
        let out_w = take("final_conv.weight");
        let out_b = take("final_conv.bias").first().copied().unwrap_or(0.0);
        Ok(Self {
            stft,
            convs,
            w_ih,
            w_hh,
            bias,
            out_w,
            out_b,
        })
    }
}

/// Whether the file starts like a zip archive (as `torch.jit.save` writes them): a likely
/// mistake, `silero_vad.jit` given for the safetensors file.
fn is_zip(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"PK\x03\x04"
}

/// `[rows × cols]` row-major to `[cols × rows]` row-major.
fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; m.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = m[r * cols + c];
        }
    }
    t
}
