//! Hierarchical features with labels: `features MODEL audio.wav 'gfe_1|pool'`.
//!
//! Labels may be given in any order; the output is always in network order
//! (gfe_1, gfe_2, pool, attention, embedding).

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, audio, labels] = args.as_slice() else {
        return Err("usage: features MODEL.pt AUDIO LABELS".into());
    };
    let model = ecapa2::Ecapa2::load(model)?;
    let audio = ecapa2_audio::load(audio, &ecapa2_audio::LoadOptions::default())?;
    let set = ecapa2::LabelSet::parse(labels)?;
    let features = model.features_with(&audio.signals[0], set)?;
    for label in set.iter() {
        println!(
            "{label}: {} values",
            model.dim(ecapa2::LabelSet::from_labels([label]))
        );
    }
    println!(
        "total: {} values, first five {:?}",
        features.len(),
        &features[..5.min(features.len())]
    );
    Ok(())
}
