//! Speaker verification between two recordings: `verify MODEL a.wav b.flac`.
//!
//! Prints the cosine similarity of the two embeddings (higher = more likely the same speaker).

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, a, b] = args.as_slice() else {
        return Err("usage: verify MODEL.pt A.wav B.wav".into());
    };
    let model = ecapa2::Ecapa2::load(model)?;
    let opts = ecapa2_audio::LoadOptions::for_model(model.sample_rate(), model.min_samples());
    let ea = model.embed(&ecapa2_audio::load(a, &opts)?.signals[0])?;
    let eb = model.embed(&ecapa2_audio::load(b, &opts)?.signals[0])?;
    let dot: f32 = ea.iter().zip(&eb).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    println!("cosine similarity: {:.4}", dot / (norm(&ea) * norm(&eb)));
    Ok(())
}
