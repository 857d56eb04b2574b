//! `ecapa2 der`: DER and JER of a hypothesis RTTM against a reference RTTM.

use anyhow::{bail, Result};
use ecapa2_diarize::der::{score, DerOptions, DerReport};
use ecapa2_diarize::rttm;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `ecapa2 der`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Collar: --collar is pyannote.metrics' convention, the TOTAL width \
    removed around each reference boundary (--collar 0.5 removes 0.25 s on each side). \
    md-eval's -c counts seconds on EACH side: --md-eval-collar 0.25 is md-eval -c 0.25, the \
    same as --collar 0.5. A speaker's overlapping turns in one file count once per turn, as \
    pyannote.metrics counts them (md-eval joins them first)."
)]
pub struct Args {
    /// Reference RTTM.
    reference: PathBuf,
    /// Hypothesis RTTM.
    hypothesis: PathBuf,
    /// Unscored total width around each reference boundary, in seconds (pyannote.metrics).
    #[arg(long, default_value_t = 0.0, conflicts_with = "md_eval_collar")]
    collar: f64,
    /// Unscored seconds on each side of each reference boundary (md-eval's -c).
    #[arg(long, value_name = "S")]
    md_eval_collar: Option<f64>,
    /// Do not score where reference speakers overlap.
    #[arg(long)]
    skip_overlap: bool,
    /// Scored regions (UEM: <uri> <channel> <start> <end>); without it, each recording is
    /// scored from its earliest to its latest turn of either file.
    #[arg(long, value_name = "FILE")]
    uem: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    let collar = args.md_eval_collar.map_or(args.collar, |c| 2.0 * c);
    if !(collar.is_finite() && collar >= 0.0) {
        bail!("the collar must be a non-negative number of seconds");
    }
    let reference = rttm::read_rttm(&args.reference)?;
    let hypothesis = rttm::read_rttm(&args.hypothesis)?;
    let uem = args.uem.as_deref().map(rttm::read_uem).transpose()?;
    let options = DerOptions {
        collar,
        skip_overlap: args.skip_overlap,
    };
    let mut uris: Vec<&String> = reference.keys().chain(hypothesis.keys()).collect();
    uris.sort();
    uris.dedup();
    let empty = Vec::new();
    let mut total = DerReport::default();
    let mut rows = Vec::new();
    for uri in uris {
        let r = reference.get(uri).unwrap_or(&empty);
        let h = hypothesis.get(uri).unwrap_or(&empty);
        if !reference.contains_key(uri) {
            tracing::warn!("{uri}: in the hypothesis only (its speech counts as false alarm)");
        }
        let u = match &uem {
            Some(map) => match map.get(uri) {
                Some(segments) => Some(segments.as_slice()),
                None => bail!("{uri} has no line in the UEM file"),
            },
            None => None,
        };
        let report = score(r, h, u, &options);
        total.add(&report);
        rows.push((uri.clone(), report));
    }
    if args.json {
        let row = |name: &str, r: &DerReport| {
            serde_json::json!({
                "uri": name, "der": r.der(), "jer": r.jer(), "total": r.total,
                "missed": r.missed, "false_alarm": r.false_alarm, "confusion": r.confusion,
            })
        };
        let files: Vec<_> = rows.iter().map(|(u, r)| row(u, r)).collect();
        let out = serde_json::json!({ "collar_total_width": collar, "skip_overlap": args.skip_overlap,
            "files": files, "total": row("TOTAL", &total) });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{:<24} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}",
            "uri", "DER%", "miss%", "fa%", "conf%", "JER%", "scored_s"
        );
        for (u, r) in rows
            .iter()
            .map(|(u, r)| (u.as_str(), r))
            .chain([("TOTAL", &total)])
        {
            let pct = |v: f64| {
                if r.total > 0.0 {
                    100.0 * v / r.total
                } else {
                    0.0
                }
            };
            println!(
                "{:<24} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>10.3}",
                u,
                100.0 * r.der(),
                pct(r.missed),
                pct(r.false_alarm),
                pct(r.confusion),
                100.0 * r.jer(),
                r.total
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
