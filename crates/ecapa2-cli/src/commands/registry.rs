//! `ecapa2 registry …`: a speaker registry in one SQLite file (create, enroll, remove, list,
//! verify, identify, set-threshold).

use crate::inputs;
use crate::model_source::{self, ModelArgs};
use crate::pipeline::{self, EmbedOptions};
use anyhow::{bail, Context, Result};
use ecapa2::{Ecapa2, LabelSet, Options};
use ecapa2_audio::ChannelMode;
use ecapa2_registry::{ModelIdentity, NewEnrollment, Registry};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `ecapa2 registry`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The registry's database file (SQLite).
    #[arg(long, global = true, env = "ECAPA2_REGISTRY")]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Create an empty registry for one model and feature label.
    Create {
        #[command(flatten)]
        model: ModelArgs,
        /// The feature the registry compares (one label, e.g. embedding or gfe_1).
        #[arg(long, default_value = "embedding")]
        label: String,
        /// Decision threshold (cosine); set it later from an eval run with set-threshold.
        #[arg(long)]
        threshold: Option<f64>,
    },
    /// Enroll a speaker from audio files, folders or @lists: one enrollment per file, each
    /// committed as it is done (an interrupted run keeps what it printed); audio the speaker
    /// already has is reported `already enrolled` and not stored again, so a run can be
    /// repeated.
    Enroll {
        #[command(flatten)]
        model: ModelArgs,
        /// Speaker name (stored trimmed, in Unicode NFC).
        speaker: String,
        /// Audio files, folders (recursive) or @list files.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Remove a speaker, or one enrollment by id.
    Remove {
        /// Speaker to remove with all its enrollments.
        #[arg(required_unless_present = "enrollment", conflicts_with = "enrollment")]
        speaker: Option<String>,
        /// One enrollment's id (see `list --enrollments`).
        #[arg(long)]
        enrollment: Option<i64>,
    },
    /// List the speakers (tab-separated: name, enrollments, seconds, updated).
    List {
        /// Also list each speaker's enrollments (id, source, seconds).
        #[arg(long)]
        enrollments: bool,
    },
    /// Is this recording the claimed speaker? Prints score, threshold and decision.
    Verify {
        #[command(flatten)]
        model: ModelArgs,
        /// The claimed speaker.
        speaker: String,
        /// The recording.
        audio: PathBuf,
    },
    /// Which enrolled speakers sound most like this recording? Best first.
    Identify {
        #[command(flatten)]
        model: ModelArgs,
        /// The recording.
        audio: PathBuf,
        /// How many candidates.
        #[arg(long, default_value_t = 5)]
        top: usize,
    },
    /// Add AS-norm cohort recordings (impostors: people who will not be enrolled); from then
    /// on verify/identify scores are AS-normalised (set the threshold from `eval --cohort`).
    Cohort {
        #[command(flatten)]
        model: ModelArgs,
        /// Audio files, folders or @lists.
        inputs: Vec<PathBuf>,
        /// AS-norm's top-N (default 300, capped at the cohort size).
        #[arg(long)]
        top_n: Option<usize>,
        /// Remove the cohort instead (scores become raw cosines again).
        #[arg(long, conflicts_with = "inputs")]
        clear: bool,
    },
    /// Set the decision threshold: a value, or the EER / a false-accept rate of an
    /// `ecapa2 eval --scores` file (labelled trials).
    SetThreshold {
        /// The threshold itself.
        #[arg(long, conflicts_with = "scores", required_unless_present = "scores")]
        value: Option<f64>,
        /// A labelled score file written by `ecapa2 eval --scores FILE`.
        #[arg(long)]
        scores: Option<PathBuf>,
        /// Operating point on the score file: `eer`, or `far=0.01` for at most 1 % false accepts.
        #[arg(long, default_value = "eer", requires = "scores")]
        at: String,
    },
}

/// Runs a registry subcommand.
pub fn run(args: Args, options: Options) -> Result<ExitCode> {
    let db = args
        .db
        .context("no registry: give --db FILE (or ECAPA2_REGISTRY)")?;
    match args.command {
        Command::Create {
            model,
            label,
            threshold,
        } => {
            let (ecapa, identity) = load(&model, options, &label)?;
            if db.exists() && std::fs::metadata(&db)?.len() > 0 {
                // Registry::create refuses too; say it before any work.
                bail!("{} exists; remove it or choose another --db", db.display());
            }
            let mut reg = Registry::create(&db, &identity)?;
            if let Some(t) = threshold {
                reg.set_threshold(t, "set at creation")?;
            }
            println!(
                "created {} for {} ({}-d {}) of {}",
                db.display(),
                identity.label,
                identity.dim,
                ecapa.backend_name(),
                identity.model
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Enroll {
            model,
            speaker,
            inputs,
        } => enroll(&db, &model, options, &speaker, &inputs),
        Command::Remove {
            speaker,
            enrollment,
        } => {
            let mut reg = Registry::open(&db)?;
            match (speaker, enrollment) {
                (_, Some(id)) => {
                    let name = reg.remove_enrollment(id)?;
                    println!("removed enrollment #{id} of {name}");
                }
                (Some(name), None) => {
                    let n = reg.remove_speaker(&name)?;
                    println!("removed {name} ({n} enrollments)");
                }
                (None, None) => bail!("give a speaker or --enrollment ID"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::List { enrollments } => {
            let reg = Registry::open(&db)?;
            for s in reg.speakers()? {
                println!(
                    "{}\t{}\t{:.2}\t{}",
                    s.name, s.enrollments, s.duration_s, s.updated_at
                );
                if enrollments {
                    for e in reg.speaker(&s.name)?.enrollments {
                        println!("  #{}\t{}\t{:.2}", e.id, e.source, e.duration_s);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify {
            model,
            speaker,
            audio,
        } => {
            let mut reg = Registry::open(&db)?;
            let (ecapa, identity) = load_for(&reg, &model, options)?;
            let (embedding, _, _) = embed_file(&ecapa, &identity, &audio)?;
            let v = reg.verify(&identity, &speaker, &embedding)?;
            println!("score\t{:.6}", v.score);
            if v.normalized {
                println!("raw_score\t{:.6}", v.raw_score);
            }
            match (v.threshold, v.accepted) {
                (Some(t), Some(a)) => {
                    println!("threshold\t{t:.6}");
                    println!("decision\t{}", if a { "accept" } else { "reject" });
                }
                _ => println!("decision\tnone (no threshold: ecapa2 registry set-threshold)"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Identify { model, audio, top } => {
            let mut reg = Registry::open(&db)?;
            let (ecapa, identity) = load_for(&reg, &model, options)?;
            let (embedding, _, _) = embed_file(&ecapa, &identity, &audio)?;
            for c in reg.identify(&identity, &embedding, top)? {
                let decision = match c.accepted {
                    Some(true) => "accept",
                    Some(false) => "reject",
                    None => "-",
                };
                println!("{}\t{:.6}\t{decision}", c.speaker, c.score);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Cohort {
            model,
            inputs,
            top_n,
            clear,
        } => {
            let mut reg = Registry::open(&db)?;
            if clear {
                println!("removed {} cohort embeddings", reg.clear_cohort()?);
                return Ok(ExitCode::SUCCESS);
            }
            if let Some(n) = top_n {
                reg.set_cohort_top_n(n)?;
            }
            if inputs.is_empty() {
                println!("cohort: {} embeddings", reg.cohort_len()?);
                return Ok(ExitCode::SUCCESS);
            }
            let (ecapa, identity) = load_for(&reg, &model, options)?;
            let files = inputs::expand(&inputs, &[])?;
            let mut embeddings = Vec::new();
            let mut failed = 0usize;
            for path in &files {
                match embed_file(&ecapa, &identity, path) {
                    Ok((e, seconds, _)) => {
                        embeddings.push((path.display().to_string(), seconds, e))
                    }
                    Err(e) => {
                        failed += 1;
                        tracing::error!("{}", crate::error_chain(&e));
                    }
                }
            }
            if embeddings.is_empty() {
                bail!("no cohort recording could be embedded");
            }
            let items: Vec<NewEnrollment<'_>> = embeddings
                .iter()
                .map(|(s, d, e)| NewEnrollment::new(s, *d, e))
                .collect();
            let size = reg.add_cohort(&identity, &items)?;
            println!("cohort: added {}, now {size} embeddings", items.len());
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Command::SetThreshold { value, scores, at } => {
            let mut reg = Registry::open(&db)?;
            let (value, source) = match (value, scores) {
                (Some(v), _) => (v, "manual".to_string()),
                (None, Some(path)) => threshold_from_scores(&path, &at)?,
                (None, None) => bail!("give --value X or --scores FILE"),
            };
            reg.set_threshold(value, &source)?;
            println!("threshold {value:.6} ({source})");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads the model and states its identity for `label` (the archive's sha256).
fn load(model: &ModelArgs, options: Options, label: &str) -> Result<(Ecapa2, ModelIdentity)> {
    let labels: LabelSet = label.parse().map_err(crate::engine_error)?;
    if labels.iter().count() != 1 {
        bail!("a registry compares one feature; --label {label:?} names several");
    }
    let path = model_source::resolve(model)?;
    let ecapa = Ecapa2::load_with(&path, options)
        .with_context(|| format!("cannot load model {}", path.display()))?;
    let identity = ModelIdentity {
        model: ecapa2_hub::file_sha256(&path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        label: label.to_string(),
        dim: ecapa.dim(labels),
    };
    Ok((ecapa, identity))
}

/// Loads the model for an existing registry, refusing another model before any audio work
/// (also used by `diarize --registry`).
pub(crate) fn load_for(
    reg: &Registry,
    model: &ModelArgs,
    options: Options,
) -> Result<(Ecapa2, ModelIdentity)> {
    let (ecapa, identity) = load(model, options, &reg.identity().label)?;
    reg.check_model(&identity)?;
    Ok((ecapa, identity))
}

/// One file's feature (channels mixed), its duration in seconds and the digest of its
/// decoded audio (what makes a repeated enrollment of the file recognisable).
fn embed_file(
    model: &Ecapa2,
    identity: &ModelIdentity,
    path: &Path,
) -> Result<(Vec<f32>, f64, ecapa2_registry::ContentDigest)> {
    let opts = EmbedOptions {
        labels: identity.label.parse().map_err(crate::engine_error)?,
        channels: ChannelMode::Mix,
        window: None,
    };
    let loaded = ecapa2_audio::load(path, &model_source::load_options(model))?;
    let seconds = loaded.len() as f64 / f64::from(model.sample_rate());
    let digest = ecapa2_registry::audio_digest(&loaded.signals.concat());
    let item = pipeline::embed_loaded(model, path, &loaded, opts)?
        .pop()
        .with_context(|| format!("{}: no audio", path.display()))?;
    Ok((item.vector, seconds, digest))
}

fn enroll(
    db: &Path,
    model: &ModelArgs,
    options: Options,
    speaker: &str,
    inputs: &[PathBuf],
) -> Result<ExitCode> {
    // The name as stored (trimmed, NFC), refused before any audio is read.
    let speaker = &ecapa2_registry::normalize_name(speaker)?;
    let mut reg = Registry::open(db)?;
    let (ecapa, identity) = load_for(&reg, model, options)?;
    let files = inputs::expand(inputs, &[])?;
    let (mut ok, mut failed) = (0usize, 0usize);
    for path in &files {
        let source = path.display().to_string();
        let result = ecapa2_registry::check_source(&source)
            .map_err(anyhow::Error::from)
            .and_then(|()| embed_file(&ecapa, &identity, path))
            .and_then(|(embedding, seconds, digest)| {
                let item = NewEnrollment::new(&source, seconds, &embedding).with_digest(digest);
                Ok(reg.enroll(&identity, speaker, &[item])?)
            });
        match result {
            Ok(done) => {
                ok += 1;
                // Printed after the commit: every line printed is in the database.
                let already = if done[0].new { "" } else { "already " };
                println!("{already}enrolled #{}\t{speaker}\t{source}", done[0].id);
            }
            Err(e) => {
                failed += 1;
                tracing::error!("{}", crate::error_chain(&e));
            }
        }
    }
    tracing::info!("{speaker}: {ok} enrolled, {failed} failed");
    Ok(match (ok, failed) {
        (_, 0) => ExitCode::SUCCESS,
        (0, _) => ExitCode::FAILURE,
        _ => ExitCode::from(2),
    })
}

/// The threshold at `at` (`eer` or `far=P`) of a labelled score file, with a description.
fn threshold_from_scores(path: &Path, at: &str) -> Result<(f64, String)> {
    let scored = ecapa2_eval::load_scores(path)?;
    let (target, nontarget) = ecapa2_eval::split_by_label(&scored).with_context(|| {
        format!(
            "{}: needs labelled trials (ecapa2 eval --scores)",
            path.display()
        )
    })?;
    let det = ecapa2_eval::metrics::DetCurve::new(&target, &nontarget)?;
    let name = path.display();
    if at == "eer" {
        let eer = det.eer();
        return Ok((
            eer.threshold,
            format!("EER of {name} ({:.2} %)", 100.0 * eer.eer),
        ));
    }
    let far: f64 = at
        .strip_prefix("far=")
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("--at {at:?}: expected eer or far=P with P in [0, 1]"))?;
    let point = det
        .at_false_alarm_rate(far)
        .with_context(|| format!("--at {at:?}: the rate must be in [0, 1]"))?;
    Ok((
        point.threshold,
        format!(
            "FAR {:.2} % of {name} (miss {:.2} %)",
            100.0 * point.p_fa,
            100.0 * point.p_miss
        ),
    ))
}
