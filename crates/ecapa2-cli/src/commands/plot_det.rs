//! `ecapa2 plot-det A.scores [B.scores …] -o det.svg`: the DET curves of score files on one
//! plot, each labelled and with its EER and minDCF marked; also the `--plot` of `eval`.

use anyhow::{bail, Context, Result};
use ecapa2_eval::det_plot::{self, DetSeries, PlotFormat, PlotOptions};
use ecapa2_eval::{DetCurve, TrialList};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `ecapa2 plot-det`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Score files (`enroll test score [target|nontarget]`, as `eval --scores` writes).
    #[arg(required = true)]
    scores: Vec<PathBuf>,
    /// Output image: .svg or .png.
    #[arg(long, short, value_name = "FILE", value_parser = plot_path)]
    output: PathBuf,
    /// Legend names, comma-separated, one per score file (default: the file names).
    #[arg(long, value_delimiter = ',')]
    names: Vec<String>,
    /// Trial list whose labels apply to the score files (for files without a label column).
    #[arg(long, value_name = "LIST")]
    trials: Option<PathBuf>,
    /// Title above the plot.
    #[arg(long)]
    title: Option<String>,
}

/// Checks a plot path's extension when the command line is parsed, before any work is done.
pub fn plot_path(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    PlotFormat::from_path(&path).map_err(|e| e.to_string())?;
    Ok(path)
}

/// Draws the curves to `path` (format by extension) and logs the size written.
pub fn write_plot(path: &Path, series: &[DetSeries], title: Option<String>) -> Result<()> {
    let options = PlotOptions {
        title,
        ..PlotOptions::default()
    };
    let (_, bytes) =
        det_plot::save_plot(path, series, &options).context("cannot write the DET plot")?;
    tracing::info!("wrote DET plot {} ({bytes} bytes)", path.display());
    Ok(())
}

/// One line per curve: its EER and minDCF, as `eval` prints them.
fn summary(name: &str, curve: &DetCurve) -> String {
    let m = curve.metrics();
    let mut line = format!(
        "{name}: {} trials ({} target, {} nontarget), EER {:.3} %",
        m.n_target + m.n_nontarget,
        m.n_target,
        m.n_nontarget,
        100.0 * m.eer.eer
    );
    for d in &m.min_dcf {
        line.push_str(&format!(", minDCF({}) {:.4}", d.params.p_target, d.min_dcf));
    }
    line
}

/// Reads a score file into a DET curve, its labels from `trials` when given.
fn load_curve(path: &Path, trials: Option<&TrialList>) -> Result<DetCurve> {
    let mut scored = ecapa2_eval::load_scores(path).with_context(|| path.display().to_string())?;
    if scored.is_empty() {
        bail!("{}: no scores", path.display());
    }
    if let Some(list) = trials {
        ecapa2_eval::label_from_trials(&mut scored, list)
            .with_context(|| format!("{}: labels from --trials", path.display()))?;
    }
    let (target, nontarget) = ecapa2_eval::split_by_label(&scored).with_context(|| {
        format!(
            "{}: every score needs a label: a 4th column (target/nontarget) or --trials LIST",
            path.display()
        )
    })?;
    DetCurve::new(&target, &nontarget).with_context(|| path.display().to_string())
}

/// Legend names: `--names`, else the file names (whole paths where two file names agree).
fn legend_names(args: &Args) -> Result<Vec<String>> {
    if !args.names.is_empty() {
        if args.names.len() != args.scores.len() {
            bail!(
                "--names has {} names for {} score files: give one per file",
                args.names.len(),
                args.scores.len()
            );
        }
        return Ok(args.names.clone());
    }
    let file_names: Vec<String> = args
        .scores
        .iter()
        .map(|p| {
            p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let unique = file_names
        .iter()
        .all(|n| file_names.iter().filter(|m| *m == n).count() == 1);
    Ok(if unique {
        file_names
    } else {
        args.scores
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    })
}

/// Plots the score files' DET curves and prints each one's EER and minDCF.
pub fn run(args: Args) -> Result<ExitCode> {
    let names = legend_names(&args)?;
    let trials = match &args.trials {
        Some(p) => Some(ecapa2_eval::read_trials(p).with_context(|| p.display().to_string())?),
        None => None,
    };
    let curves = args
        .scores
        .iter()
        .map(|p| load_curve(p, trials.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    let series: Vec<DetSeries> = names
        .iter()
        .zip(&curves)
        .map(|(n, c)| DetSeries::new(n, c))
        .collect();
    for s in &series {
        println!("{}", summary(s.name, s.curve));
    }
    write_plot(&args.output, &series, args.title.clone())?;
    Ok(ExitCode::SUCCESS)
}
