//! Binding of the spectrogram module: every front-end setting comes from the archive.

use super::lookup::{Module, Usage};
use crate::error::{Error, Result};
use crate::frontend::SpectrogramConfig;

/// Spec defaults, used only for settings an archive does not state (each one is reported).
const DEFAULT_N_FFT: usize = 511;
const DEFAULT_HOP: usize = 160;

/// Finds the module holding a 1-D `window` buffer and reads its settings.
pub fn bind(
    root: &Module,
    usage: &Usage,
    notes: &mut Vec<String>,
) -> Result<(String, SpectrogramConfig)> {
    let m = root
        .find_where(&|m| m.tensor_opt("window").is_some_and(|t| t.shape.len() == 1))
        .ok_or_else(|| Error::MissingModule {
            path: "<any>.window".into(),
            what: "a spectrogram module with a 1-D `window` buffer".into(),
        })?;
    let window = m.tensor("window", &[None], usage)?.1.into_owned();
    let positive = |name: &str, default: usize, notes: &mut Vec<String>| -> Result<usize> {
        match m.ints(name).as_deref() {
            Some([v]) if *v > 0 => Ok(*v as usize),
            Some(v) => Err(Error::Unsupported {
                path: m.path.clone(),
                what: format!("{name} = {v:?}"),
            }),
            None => {
                notes.push(format!(
                    "{}: `{name}` not stated, assuming {default}",
                    m.path
                ));
                Ok(default)
            }
        }
    };
    let n_fft = positive("n_fft", DEFAULT_N_FFT, notes)?;
    let hop_length = positive("hop_length", DEFAULT_HOP, notes)?;
    let win_length = positive("win_length", window.len(), notes)?;
    if win_length != window.len() || win_length > n_fft {
        return Err(Error::ShapeMismatch {
            path: super::lookup::join(&m.path, "window"),
            shape: vec![window.len()],
            expected: format!("({win_length}) = win_length, at most n_fft = {n_fft}"),
        });
    }
    let center = m.boolean("center").unwrap_or(true);
    if let Some(mode) = m.string("pad_mode") {
        if center && mode != "reflect" {
            return Err(Error::Unsupported {
                path: m.path.clone(),
                what: format!("pad_mode = {mode:?}"),
            });
        }
    }
    if let Some(pad) = m.ints("pad") {
        if pad.iter().any(|&p| p != 0) {
            return Err(Error::Unsupported {
                path: m.path.clone(),
                what: format!("pad = {pad:?}"),
            });
        }
    }
    if m.boolean("onesided") == Some(false) {
        return Err(Error::Unsupported {
            path: m.path.clone(),
            what: "onesided = False".into(),
        });
    }
    let power = match m.float("power") {
        Some(p) if p > 0.0 => p as f32,
        Some(p) => {
            return Err(Error::Unsupported {
                path: m.path.clone(),
                what: format!("power = {p}"),
            })
        }
        None if m.setting("power").is_some() => {
            return Err(Error::Unsupported {
                path: m.path.clone(),
                what: "power = None (complex output)".into(),
            })
        }
        None => 2.0,
    };
    let normalized = m.boolean("normalized").unwrap_or(false);
    let cfg = SpectrogramConfig {
        n_fft,
        hop_length,
        window,
        center,
        power,
        normalized,
    };
    Ok((m.path.clone(), cfg))
}
