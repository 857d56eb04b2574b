//! Model binding: from the archive's module tree to a runnable [`Network`].
//!
//! Nothing is taken on trust. Modules are found by the spec's names (`conv_k`, `tdnn_1`, …)
//! wherever they sit in the tree; LFE blocks are recognised by structure (children `conv1`,
//! `conv2`, `conv3`) in stored order; channel widths come from tensor shapes; strides,
//! paddings, dilations, padding modes and BatchNorm eps from the archive's own settings.

mod frontend;
mod layer;
mod lookup;

use crate::error::{Error, Result};
use crate::frontend::SpectrogramConfig;
use crate::network::layers::BatchNorm;
use crate::network::se::SeGate;
use crate::network::weights::{
    BlockWeights, ConvWeights, NetworkWeights, PoolingWeights, Res2Weights, ResidualWeights,
    SeWeights,
};
use ecapa2_archive::TorchScript;
use layer as layers;
use lookup::{Module, Usage};

/// What binding found: backend-neutral weights plus a human-readable account.
#[derive(Debug)]
pub(crate) struct Bound<'a> {
    /// Front-end settings.
    pub spectrogram: SpectrogramConfig,
    /// The network's weights, borrowed from the archive where possible.
    pub network: NetworkWeights<'a>,
    /// One line per bound layer, then notes (assumed defaults, unused tensors).
    pub report: Vec<String>,
    /// Tensors present in the archive that the network does not use.
    pub unused: Vec<String>,
}

/// Reads the network's weights and settings from a TorchScript archive, checking each against
/// what the engine implements.
pub(crate) fn bind(archive: &TorchScript) -> Result<Bound<'_>> {
    let root = Module::root(&archive.root);
    let usage = Usage::default();
    let mut report = Vec::new();
    let mut notes = Vec::new();

    let (spec_path, spectrogram) = frontend::bind(&root, &usage, &mut notes)?;
    report.push(format!(
        "front-end `{spec_path}`: n_fft {} (bins {}), window {} samples (w[0] = {:.4}), hop {}, center {}, power {}, normalized {}",
        spectrogram.n_fft,
        spectrogram.bins(),
        spectrogram.window.len(),
        spectrogram.window.first().copied().unwrap_or(0.0),
        spectrogram.hop_length,
        spectrogram.center,
        spectrogram.power,
        spectrogram.normalized
    ));

    let blocks = bind_lfe(&root, spectrogram.bins(), &usage, &mut report)?;
    let last = blocks.last().ok_or_else(|| Error::MissingModule {
        path: "conv_1".into(),
        what: "LFE conv blocks (modules with conv1/conv2/conv3)".into(),
    })?;
    let flat = last.convs[0].0.cout
        * blocks
            .iter()
            .fold(spectrogram.bins(), |h, b| (h - 1) / b.convs[0].0.stride + 1);

    let tdnn_1 = root
        .find("tdnn_1")
        .ok_or_else(|| missing("tdnn_1", "Conv1d k=1 → ReLU → BN"))?;
    let tdnn_1 = tapped(
        &tdnn_1.require("conv", "Conv1d")?,
        &tdnn_1.require("bn", "BatchNorm1d")?,
        Some(flat),
        &usage,
    )?;
    let width = tdnn_1.0.cout;
    report.push(format!("tdnn_1: Conv1d {flat}→{width} (k=1) → ReLU → BN"));

    let tdnn_2 = root
        .find("tdnn_2")
        .ok_or_else(|| missing("tdnn_2", "SE-Res2Net block"))?;
    let tdnn_2 = bind_res2(&tdnn_2, width, &usage, &mut report)?;

    let dense_1 = root
        .find("dense_1")
        .ok_or_else(|| missing("dense_1", "Conv1d k=1 → ReLU"))?;
    let dense_1 = layers::pointwise1d(
        &dense_1.require("conv", "Conv1d")?,
        Some(width),
        None,
        &usage,
    )?;
    let c = dense_1.cout;
    report.push(format!("dense_1: Conv1d {width}→{c} (k=1) → ReLU"));

    let pool = root
        .find("pooling_1")
        .ok_or_else(|| missing("pooling_1", "attentive statistics pooling"))?;
    let pooling = bind_pooling(&pool, c, &usage, &mut report)?;

    let dense_2 = root
        .find("dense_2")
        .ok_or_else(|| missing("dense_2", "Linear embedding layer"))?;
    let fc = dense_2.get("fc").unwrap_or(dense_2);
    let dense_2 = layers::linear(&fc, Some(2 * c), None, &usage)?;
    report.push(format!(
        "dense_2: Linear {}→{} (embedding)",
        2 * c,
        dense_2.out_features()
    ));

    let unused: Vec<String> = archive
        .named_tensors()
        .into_iter()
        .map(|(p, t)| (p, t.shape.clone()))
        .filter(|(p, _)| !usage.is_used(p))
        .map(|(p, s)| format!("{p} {s:?}"))
        .collect();
    for u in &unused {
        tracing::warn!("archive tensor not used by the network: {u}");
    }
    report.extend(notes);
    let network = NetworkWeights {
        blocks,
        tdnn_1,
        tdnn_2,
        dense_1,
        pooling,
        dense_2,
    };
    Ok(Bound {
        spectrogram,
        network,
        report,
        unused,
    })
}

fn missing(path: &str, what: &str) -> Error {
    Error::MissingModule {
        path: path.into(),
        what: what.into(),
    }
}

/// The LFE: conv blocks in stored order, each with its residual decided by shapes and stride.
fn bind_lfe<'a>(
    root: &Module<'a>,
    bins: usize,
    usage: &Usage,
    report: &mut Vec<String>,
) -> Result<Vec<BlockWeights<'a>>> {
    let is_block = |m: &Module| {
        ["conv1", "conv2", "conv3"]
            .iter()
            .all(|n| m.get(n).is_some())
    };
    let owner = root
        .find_where(&|m| m.children().iter().any(is_block))
        .ok_or_else(|| missing("conv_1", "LFE conv blocks (modules with conv1/conv2/conv3)"))?;
    let modules = owner
        .children()
        .into_iter()
        .filter(is_block)
        .collect::<Vec<_>>();
    // Projections live beside the blocks (`downsample_k`) in stored order, or inside a block.
    let mut projections = owner
        .children()
        .into_iter()
        .filter(|m| {
            m.get("conv").is_some() && m.get("bn").is_some() && m.path.contains("downsample")
        })
        .collect::<Vec<_>>()
        .into_iter();

    let mut blocks = Vec::with_capacity(modules.len());
    let (mut cin, mut h) = (1usize, bins);
    for m in modules {
        let conv = |name: &str, cin: usize| -> Result<((ConvWeights<'a>, BatchNorm), f64)> {
            let cm = m.require(name, "Conv2d 3×3")?;
            let w = layers::conv2d(&cm, 3, Some(cin), usage)?;
            let (bn, eps) = layers::batch_norm(
                &m.require(&name.replace("conv", "bn"), "BatchNorm2d")?,
                w.cout,
                usage,
            )?;
            Ok(((w, bn), eps))
        };
        let (conv1, eps) = conv("conv1", cin)?;
        let (cout, stride) = (conv1.0.cout, conv1.0.stride);
        let (conv2, _) = conv("conv2", cout)?;
        let (conv3, _) = conv("conv3", cout)?;
        let (s2, s3) = (conv2.0.stride, conv3.0.stride);
        if s2 != 1 || s3 != 1 {
            return Err(Error::Unsupported {
                path: m.path.clone(),
                what: "stride on conv2/conv3".into(),
            });
        }
        let h_out = (h - 1) / stride + 1;
        let se_module = m.require("se", "squeeze-excitation")?;
        let se = bind_se2d(&se_module, cout, h_out, usage)?;
        let residual = if stride != 1 {
            let p = m
                .get("downsample")
                .or_else(|| projections.next())
                .ok_or_else(|| {
                    missing(
                        &format!("{}.downsample", m.path),
                        "1×1 projection for a strided block",
                    )
                })?;
            let w = layers::conv2d(&p.require("conv", "Conv2d 1×1")?, 1, Some(cin), usage)?;
            if w.cout != cout || w.stride != stride {
                return Err(Error::ShapeMismatch {
                    path: format!("{}.conv.weight", p.path),
                    shape: vec![w.cout, w.cin, 1, 1],
                    expected: format!("({cout}, {cin}, 1, 1) with stride ({stride}, 1)"),
                });
            }
            let (bn, _) = layers::batch_norm(&p.require("bn", "BatchNorm2d")?, cout, usage)?;
            report.push(format!("  projection `{}` for `{}`", p.path, m.path));
            ResidualWeights::Projection(w, bn)
        } else if cin == cout {
            ResidualWeights::Identity
        } else {
            ResidualWeights::None
        };
        let se_kind = match &se {
            SeWeights::Channel(g) => format!("channel SE {cout}→{}", g.fc1.out_features()),
            SeWeights::Frequency(g) => format!("frequency SE {h_out}→{}", g.fc1.out_features()),
        };
        let res_kind = match &residual {
            ResidualWeights::None => "no residual",
            ResidualWeights::Identity => "identity residual",
            ResidualWeights::Projection(..) => "projection residual",
        };
        report.push(format!(
            "{}: {cin}→{cout}, stride ({stride},1), F {h}→{h_out}, BN eps {eps:e}, {se_kind}, {res_kind}",
            m.path
        ));
        blocks.push(BlockWeights {
            name: m.path.clone(),
            convs: [conv1, conv2, conv3],
            se,
            residual,
        });
        cin = cout;
        h = h_out;
    }
    if let Some(extra) = projections.next() {
        return Err(Error::Unsupported {
            path: extra.path,
            what: "projection with no strided block to serve".into(),
        });
    }
    Ok(blocks)
}

/// An SE whose first layer's input width says which axis it squeezes (spec U1).
fn bind_se2d(m: &Module, channels: usize, height: usize, usage: &Usage) -> Result<SeWeights> {
    let fc1 = m.require("fc1", "SE squeeze Linear")?;
    let width = fc1
        .tensor_opt("weight")
        .and_then(|t| t.shape.get(1).copied());
    let squeeze = if width == Some(channels) {
        channels
    } else {
        height
    };
    let gate = bind_gate(m, squeeze, usage)?;
    Ok(if squeeze == channels {
        SeWeights::Channel(gate)
    } else {
        SeWeights::Frequency(gate)
    })
}

/// fc1 → ReLU → bn1 → fc2 → sigmoid.
fn bind_gate(m: &Module, width: usize, usage: &Usage) -> Result<SeGate> {
    let fc1 = layers::linear(
        &m.require("fc1", "SE squeeze Linear")?,
        Some(width),
        None,
        usage,
    )?;
    let hidden = fc1.out_features();
    let (bn, _) = layers::batch_norm(
        &m.require_any(&["bn1", "bn"], "SE BatchNorm1d")?,
        hidden,
        usage,
    )?;
    let fc2 = layers::linear(
        &m.require("fc2", "SE excitation Linear")?,
        Some(hidden),
        Some(width),
        usage,
    )?;
    Ok(SeGate { fc1, bn, fc2 })
}

/// A Conv1d k=1 and the BatchNorm after its ReLU.
fn tapped<'a>(
    conv: &Module<'a>,
    bn: &Module,
    cin: Option<usize>,
    usage: &Usage,
) -> Result<(ConvWeights<'a>, BatchNorm)> {
    let w = layers::pointwise1d(conv, cin, None, usage)?;
    let bn = layers::batch_norm(bn, w.cout, usage)?.0;
    Ok((w, bn))
}

fn bind_res2<'a>(
    m: &Module<'a>,
    width: usize,
    usage: &Usage,
    report: &mut Vec<String>,
) -> Result<Res2Weights<'a>> {
    let conv1 = tapped(
        &m.require("conv1", "Conv1d")?,
        &m.require("bn1", "BatchNorm1d")?,
        Some(width),
        usage,
    )?;
    let filters = m.require("conv_filters", "Res2Net branch convs (ModuleList)")?;
    let norms = m.require("batch_norms", "Res2Net branch BNs (ModuleList)")?;
    let count = filters.children().len();
    let scale = count + 1;
    if count == 0 || !width.is_multiple_of(scale) {
        return Err(Error::Unsupported {
            path: filters.path.clone(),
            what: format!("{count} branch convs for width {width} (width must split into {scale} equal groups)"),
        });
    }
    let group = width / scale;
    let mut convs = Vec::with_capacity(count);
    for i in 0..count {
        let name = i.to_string();
        let conv = layers::dilated1d(&filters.require(&name, "Conv1d")?, Some(group), usage)?;
        let (bn, _) = layers::batch_norm(&norms.require(&name, "BatchNorm1d")?, group, usage)?;
        convs.push((conv, bn));
    }
    let conv2 = tapped(
        &m.require("conv2", "Conv1d")?,
        &m.require("bn2", "BatchNorm1d")?,
        Some(width),
        usage,
    )?;
    let se = bind_gate(&m.require("se", "1-D squeeze-excitation")?, width, usage)?;
    let (k, d) = (convs[0].0.k, convs[0].0.dilation);
    report.push(format!(
        "tdnn_2: SE-Res2Net {width}, scale {scale} (group {group}), branch k={k} dilation {d} reflect, SE {width}→{}",
        se.fc1.out_features()
    ));
    Ok(Res2Weights {
        conv1,
        branches: convs,
        conv2,
        se,
    })
}

fn bind_pooling(
    m: &Module,
    c: usize,
    usage: &Usage,
    report: &mut Vec<String>,
) -> Result<PoolingWeights> {
    let att = m.require("attention", "attention MLP (Sequential)")?;
    let attention_in = layers::linear(
        &att.require("0", "Conv1d 3C→hidden")?,
        Some(3 * c),
        None,
        usage,
    )?;
    let hidden = attention_in.out_features();
    let (attention_bn, _) = layers::batch_norm(&att.require("2", "BatchNorm1d")?, hidden, usage)?;
    let attention_out = layers::linear(
        &att.require("3", "Conv1d hidden→C")?,
        Some(hidden),
        Some(c),
        usage,
    )?;
    let (bn, _) = layers::batch_norm(&m.require("bn", "BatchNorm1d(2C)")?, 2 * c, usage)?;
    report.push(format!(
        "pooling_1: attention {}→{hidden}→{c}, BN {}",
        3 * c,
        2 * c
    ));
    Ok(PoolingWeights {
        attention_in,
        attention_bn,
        attention_out,
        bn,
    })
}
