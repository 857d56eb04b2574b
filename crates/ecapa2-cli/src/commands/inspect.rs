//! `ecapa2 inspect ARCHIVE`: what the archive holds and whether it binds.

use anyhow::{Context, Result};
use ecapa2::Options;
use ecapa2_archive::TorchScript;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `ecapa2 inspect`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A TorchScript archive (e.g. ecapa2.pt).
    archive: PathBuf,
    /// Only the binding result, not the module tree.
    #[arg(long)]
    brief: bool,
}

/// Prints the module tree, then the binding report or the reason binding fails.
pub fn run(args: Args, options: Options) -> Result<ExitCode> {
    let archive = TorchScript::open(&args.archive)
        .with_context(|| format!("cannot read {}", args.archive.display()))?;
    let bound = ecapa2::Ecapa2::from_archive(&archive, options);
    // A device that cannot run (no CUDA support in this build, no driver or libraries, a
    // failed self-check) says nothing about the archive: one line on stderr, no report.
    if let Err(e @ (ecapa2::Error::Device { .. } | ecapa2::Error::SelfCheck { .. })) = bound {
        return Err(crate::engine_error(e));
    }
    if !args.brief {
        println!("{}", archive.describe());
    }
    match bound {
        Ok(model) => {
            println!("binding: OK");
            for line in model.binding_report() {
                println!("  {line}");
            }
            for label in ecapa2::Label::ALL {
                println!(
                    "  feature {label}: {} values",
                    model.dim(ecapa2::LabelSet::from_labels([label]))
                );
            }
            println!("  minimum input: {} samples", model.min_samples());
            if !model.unused_tensors().is_empty() {
                println!("unused tensors ({}):", model.unused_tensors().len());
                for t in model.unused_tensors() {
                    println!("  {t}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("binding: FAILED: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
