//! Binding of single PyTorch layers (Conv, BatchNorm, Linear) from their archive modules,
//! checking every stated hyper-parameter against what the engine implements.

use super::lookup::{Module, Usage};
use crate::error::{Error, Result};
use crate::network::layers::{BatchNorm, Linear};
use crate::network::weights::{ConvWeights, DilatedWeights};
use std::borrow::Cow;

/// Default BatchNorm eps when an archive does not state one (PyTorch's default).
const DEFAULT_EPS: f64 = 1e-5;

fn unsupported(m: &Module, what: String) -> Error {
    Error::Unsupported {
        path: m.path.clone(),
        what,
    }
}

/// Checks a tuple setting against the value the engine implements; absent settings pass
/// (a `.safetensors` file states none).
fn expect_ints(m: &Module, name: &str, want: &[i64]) -> Result<()> {
    match m.ints(name) {
        Some(v) if v.iter().all(|x| want.len() == 1 && *x == want[0]) || v == want => Ok(()),
        Some(v) => Err(unsupported(
            m,
            format!("{name} = {v:?} (expected {want:?})"),
        )),
        None => Ok(()),
    }
}

/// A Conv2d: `kernel` × `kernel`, padding `kernel / 2` with zeros, stride (s, 1), no dilation.
pub fn conv2d<'a>(
    m: &Module<'a>,
    kernel: usize,
    cin: Option<usize>,
    usage: &Usage,
) -> Result<ConvWeights<'a>> {
    let k = Some(kernel);
    let (shape, weight) = m.tensor("weight", &[None, cin, k, k], usage)?;
    let (cout, cin) = (shape[0], shape[1]);
    let bias = match m.tensor_opt("bias") {
        Some(_) => Some(m.tensor("bias", &[Some(cout)], usage)?.1.into_owned()),
        None => None,
    };
    expect_ints(m, "padding", &[(kernel / 2) as i64])?;
    expect_ints(m, "dilation", &[1])?;
    expect_ints(m, "groups", &[1])?;
    if let Some(mode) = m.string("padding_mode") {
        if mode != "zeros" {
            return Err(unsupported(
                m,
                format!("padding_mode = {mode:?} (expected \"zeros\")"),
            ));
        }
    }
    let stride = match m.ints("stride").as_deref() {
        None => 1,
        Some([s]) if *s >= 1 && kernel == 1 => *s as usize,
        Some([s]) if *s == 1 => 1,
        Some([s, 1]) if *s >= 1 => *s as usize,
        Some(v) => {
            return Err(unsupported(
                m,
                format!("stride = {v:?} (expected (s, 1): time is never strided)"),
            ))
        }
    };
    Ok(ConvWeights {
        weight,
        bias,
        cout,
        cin,
        stride,
    })
}

/// A Conv1d with kernel 1 (a matrix), with or without bias.
pub fn pointwise1d<'a>(
    m: &Module<'a>,
    cin: Option<usize>,
    cout: Option<usize>,
    usage: &Usage,
) -> Result<ConvWeights<'a>> {
    let (shape, weight) = m.tensor("weight", &[cout, cin, Some(1)], usage)?;
    let (cout, cin) = (shape[0], shape[1]);
    let bias = match m.tensor_opt("bias") {
        Some(_) => Some(m.tensor("bias", &[Some(cout)], usage)?.1.into_owned()),
        None => None,
    };
    expect_ints(m, "stride", &[1])?;
    expect_ints(m, "dilation", &[1])?;
    expect_ints(m, "padding", &[0])?;
    expect_ints(m, "groups", &[1])?;
    Ok(ConvWeights {
        weight,
        bias,
        cout,
        cin,
        stride: 1,
    })
}

/// A Conv1d with kernel > 1, dilation and reflect padding (the Res2Net branch convs).
pub fn dilated1d<'a>(
    m: &Module<'a>,
    channels: Option<usize>,
    usage: &Usage,
) -> Result<DilatedWeights<'a>> {
    let (shape, weight) = m.tensor("weight", &[channels, channels, None], usage)?;
    let (cout, cin, k) = (shape[0], shape[1], shape[2]);
    let bias = match m.tensor_opt("bias") {
        Some(_) => m.tensor("bias", &[Some(cout)], usage)?.1.into_owned(),
        None => vec![0.0; cout],
    };
    let dilation = m
        .ints("dilation")
        .and_then(|v| v.first().copied())
        .unwrap_or(2);
    let padding = m
        .ints("padding")
        .and_then(|v| v.first().copied())
        .unwrap_or(2);
    expect_ints(m, "stride", &[1])?;
    expect_ints(m, "groups", &[1])?;
    match m.string("padding_mode") {
        Some("reflect") | None => {}
        Some(other) => {
            return Err(unsupported(
                m,
                format!("padding_mode = {other:?} (expected \"reflect\")"),
            ))
        }
    }
    if dilation < 1 || padding < 0 || 2 * padding != dilation * (k as i64 - 1) {
        return Err(unsupported(
            m,
            format!("kernel {k}, dilation {dilation}, padding {padding} (only length-preserving convs are implemented)"),
        ));
    }
    Ok(DilatedWeights {
        weight,
        bias,
        cout,
        cin,
        k,
        dilation: dilation as usize,
        padding: padding as usize,
    })
}

/// An eval-mode BatchNorm (1d or 2d) of `channels` channels, folded.
pub fn batch_norm(m: &Module, channels: usize, usage: &Usage) -> Result<(BatchNorm, f64)> {
    let c = &[Some(channels)];
    let weight = match m.tensor_opt("weight") {
        Some(_) => m.tensor("weight", c, usage)?.1,
        None => Cow::Owned(vec![1.0; channels]),
    };
    let bias = match m.tensor_opt("bias") {
        Some(_) => m.tensor("bias", c, usage)?.1,
        None => Cow::Owned(vec![0.0; channels]),
    };
    let mean = m.tensor("running_mean", c, usage)?.1;
    let var = m.tensor("running_var", c, usage)?.1;
    if m.tensor_opt("num_batches_tracked").is_some() {
        usage.mark(super::lookup::join(&m.path, "num_batches_tracked"));
    }
    let eps = m.float("eps").unwrap_or(DEFAULT_EPS);
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(unsupported(m, format!("eps = {eps}")));
    }
    Ok((BatchNorm::fold(&weight, &bias, &mean, &var, eps), eps))
}

/// A Linear layer (or a kernel-1 conv used as one).
pub fn linear(
    m: &Module,
    cin: Option<usize>,
    cout: Option<usize>,
    usage: &Usage,
) -> Result<Linear> {
    let (shape, weight) = m.tensor("weight", &[cout, cin], usage)?;
    let (cout, cin) = (shape[0], shape[1]);
    let bias = match m.tensor_opt("bias") {
        Some(_) => m.tensor("bias", &[Some(cout)], usage)?.1.into_owned(),
        None => vec![0.0; cout],
    };
    Ok(Linear {
        weight: weight.into_owned(),
        bias,
        in_features: cin,
    })
}
