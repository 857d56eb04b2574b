//! `ecapa2 diarize`: who spoke when, per file, as RTTM or JSON.

use crate::model_source::{self, ModelArgs};
use crate::{inputs, progress};
use anyhow::{bail, Context, Result};
use ecapa2::Options;
use ecapa2_diarize::cluster::ahc::{AhcOptions, Linkage};
use ecapa2_diarize::cluster::nmesc::NmescOptions;
use ecapa2_diarize::turns::TurnOptions;
use ecapa2_diarize::{
    rttm, Clustering, Diarization, DiarizeOptions, Diarizer, SileroDetector, SpeakerCount,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `ecapa2 diarize`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Output: .rttm or .json (turns, exclusive turns, speech, each speaker's centroid). Without
    /// it, RTTM goes to stdout.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Exactly this many speakers.
    #[arg(long, value_name = "N", conflicts_with_all = ["min_speakers", "max_speakers"])]
    num_speakers: Option<usize>,
    /// At least this many speakers.
    #[arg(long, value_name = "N")]
    min_speakers: Option<usize>,
    /// At most this many speakers (NME-SC's default bound: 8).
    #[arg(long, value_name = "N")]
    max_speakers: Option<usize>,
    /// Clustering: nmesc (auto-tuned spectral, no threshold) or ahc (agglomerative, --threshold).
    #[arg(long, default_value = "nmesc", value_parser = ["nmesc", "ahc"])]
    clustering: String,
    /// AHC linkage.
    #[arg(long, default_value = "average", value_parser = ["average", "centroid"])]
    linkage: String,
    /// AHC: clusters merge up to this cosine distance (not tuned: no official weights here).
    #[arg(long, default_value_t = 0.7)]
    threshold: f64,
    /// Window length in seconds.
    #[arg(long, default_value_t = 1.5)]
    window: f64,
    /// Hop between windows in seconds.
    #[arg(long, default_value_t = 0.75)]
    hop: f64,
    /// Remove turns shorter than this (seconds).
    #[arg(long, default_value_t = 0.0)]
    min_duration_on: f64,
    /// Fill a speaker's gaps shorter than this (seconds).
    #[arg(long, default_value_t = 0.0)]
    min_duration_off: f64,
    /// RTTM output: one speaker at a time (for aligning words) instead of the regular turns.
    #[arg(long)]
    exclusive: bool,
    /// Silero VAD weights (.safetensors) instead of the embedded Silero VAD v6.
    #[arg(long, value_name = "FILE")]
    vad_model: Option<PathBuf>,
    /// Name clusters after enrolled speakers: each centroid is identified in this registry at
    /// its threshold; unmatched clusters keep their anonymous label.
    #[arg(long, value_name = "DB")]
    registry: Option<PathBuf>,
    /// Text files listing one audio path per line.
    #[arg(long)]
    list: Vec<PathBuf>,
    /// Audio files, folders (searched recursively) or @list files.
    inputs: Vec<PathBuf>,
}

fn options(args: &Args) -> Result<DiarizeOptions> {
    let clustering = match args.clustering.as_str() {
        "ahc" => Clustering::Ahc(AhcOptions {
            linkage: if args.linkage == "centroid" {
                Linkage::Centroid
            } else {
                Linkage::Average
            },
            threshold: args.threshold,
        }),
        _ => Clustering::Nmesc(NmescOptions::default()),
    };
    Ok(DiarizeOptions {
        window: args.window,
        hop: args.hop,
        clustering,
        speakers: SpeakerCount {
            num: args.num_speakers,
            min: args.min_speakers,
            max: args.max_speakers,
        },
        turns: TurnOptions {
            min_duration_on: args.min_duration_on,
            min_duration_off: args.min_duration_off,
        },
        ..DiarizeOptions::default()
    })
}

/// The recording's name in RTTM: the file name without its extension.
fn uri(path: &Path) -> String {
    path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

/// Runs the command; exit code 2 when some files failed (the others are still written).
pub fn run(args: Args, options_in: Options) -> Result<ExitCode> {
    let diarizer = Diarizer::new(options(&args)?)?;
    let format_json = match args
        .out
        .as_ref()
        .and_then(|p| p.extension())
        .and_then(|e| e.to_str())
    {
        None if args.out.is_none() => false,
        Some("rttm") => false,
        Some("json") => true,
        _ => bail!("--out must end in .rttm or .json"),
    };
    let files = inputs::expand(&args.inputs, &args.list)?;
    let vad = match &args.vad_model {
        Some(p) => SileroDetector::from_file(p)
            .with_context(|| format!("cannot load VAD {}", p.display()))?,
        None => SileroDetector::embedded()?,
    };
    let (model, mut registry) = match &args.registry {
        Some(db) => {
            let reg = ecapa2_registry::Registry::open(db)?;
            if reg.identity().label != "embedding" {
                bail!(
                    "{} compares the {:?} feature; diarization clusters embeddings",
                    db.display(),
                    reg.identity().label
                );
            }
            let (model, identity) = super::registry::load_for(&reg, &args.model, options_in)?;
            (model, Some((reg, identity)))
        }
        None => (model_source::load(&args.model, options_in)?, None),
    };
    let load_opts = model_source::load_options(&model);

    let bar = progress::items_bar(files.len() as u64, "diarizing");
    let mut results: Vec<(PathBuf, Diarization)> = Vec::new();
    let mut failed = 0usize;
    for path in &files {
        let result = ecapa2_audio::load(path, &load_opts)
            .map_err(anyhow::Error::from)
            .and_then(|loaded| {
                let audio = loaded.signals.into_iter().next().unwrap_or_default();
                Ok(diarizer.diarize(&audio, &vad, &model)?)
            })
            .and_then(|mut d| {
                if let Some((reg, identity)) = registry.as_mut() {
                    name_speakers(&mut d, reg, identity)?;
                }
                Ok(d)
            });
        bar.inc(1);
        match result {
            Ok(d) => results.push((path.clone(), d)),
            Err(e) => {
                failed += 1;
                bar.suspend(|| eprintln!("error: {}: {}", path.display(), crate::error_chain(&e)));
            }
        }
    }
    bar.finish_and_clear();

    let text = if format_json {
        let files: Vec<serde_json::Value> = results
            .iter()
            .map(|(p, d)| {
                let mut v = serde_json::to_value(d).unwrap_or_default();
                v["file"] = p.display().to_string().into();
                v["uri"] = uri(p).into();
                v
            })
            .collect();
        serde_json::to_string_pretty(&serde_json::json!({ "files": files }))? + "\n"
    } else {
        results
            .iter()
            .map(|(p, d)| {
                rttm::write(
                    &uri(p),
                    if args.exclusive {
                        &d.exclusive
                    } else {
                        &d.segments
                    },
                )
            })
            .collect()
    };
    match &args.out {
        Some(out) => {
            std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?
        }
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("cannot write to stdout")?,
    }
    for (p, d) in &results {
        tracing::info!(
            "{}: {} speakers, {} turns, {} windows",
            p.display(),
            d.speakers.len(),
            d.segments.len(),
            d.windows
        );
    }
    if failed > 0 {
        eprintln!("{failed} of {} files failed", files.len());
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// Renames each cluster after the registry's best match when identify accepts it.
fn name_speakers(
    d: &mut Diarization,
    reg: &mut ecapa2_registry::Registry,
    identity: &ecapa2_registry::ModelIdentity,
) -> Result<()> {
    let mut taken: Vec<String> = Vec::new();
    for i in 0..d.speakers.len() {
        let best = reg
            .identify(identity, &d.speakers[i].centroid, 1)?
            .into_iter()
            .next();
        match best {
            // Two clusters matching one speaker keep the second anonymous: names stay unique.
            Some(c) if c.accepted == Some(true) && !taken.contains(&c.speaker) => {
                taken.push(c.speaker.clone());
                d.rename(i, &c.speaker);
            }
            Some(c) if c.accepted.is_none() => {
                bail!("the registry has no threshold yet: ecapa2 registry set-threshold");
            }
            _ => {}
        }
    }
    Ok(())
}
