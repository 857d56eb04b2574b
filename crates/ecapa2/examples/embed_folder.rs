//! Batch embedding of a folder: `embed_folder MODEL DIR` prints one line per WAV/FLAC file.
//!
//! Recordings of different lengths go through `features_batch`, which returns exactly what
//! one-by-one processing would (no padding effects).

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, dir] = args.as_slice() else {
        return Err("usage: embed_folder MODEL.pt DIR".into());
    };
    let model = ecapa2::Ecapa2::load(model)?;
    let mut names = Vec::new();
    let mut signals = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("wav" | "flac")
        ) {
            continue;
        }
        match ecapa2_audio::load(
            &path,
            &ecapa2_audio::LoadOptions::for_model(model.sample_rate(), model.min_samples()),
        ) {
            Ok(loaded) => {
                names.push(path.display().to_string());
                signals.push(loaded.signals.into_iter().next().unwrap_or_default());
            }
            Err(e) => eprintln!("skipped: {e}"),
        }
    }
    let batch: Vec<&[f32]> = signals.iter().map(Vec::as_slice).collect();
    let embeddings = model.features_batch(&batch, ecapa2::LabelSet::embedding())?;
    for (name, emb) in names.iter().zip(embeddings.iter()) {
        println!(
            "{name}\t{} dims\t{:?}…",
            emb.len(),
            &emb[..3.min(emb.len())]
        );
    }
    Ok(())
}
