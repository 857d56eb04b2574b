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
    let audio = ecapa2_audio::load(
        audio,
        &ecapa2_audio::LoadOptions::for_model(model.sample_rate(), model.min_samples()),
    )?;
    let set: ecapa2::LabelSet = labels.parse()?;
    let features = model.features(&audio.signals[0], set)?;
    for label in set.iter() {
        let values = features.get(0, label).unwrap_or_default();
        println!(
            "{label}: {} values, first three {:?}",
            values.len(),
            &values[..3.min(values.len())]
        );
    }
    println!("total: {} values", features.dim());
    Ok(())
}
