//! Real-time factor of diarization split into VAD, embeddings and clustering (+ turns).
//!
//! `cargo run --release -p ecapa2-diarize --features silero --example diarize_bench -- MODEL.pt AUDIO.wav [THREADS]`
//! (`bench/diarize_bench.sh` makes a 30-minute file of real speech and runs this with 2 threads).

use ecapa2_diarize::windows::Window;
use ecapa2_diarize::{Diarizer, EmbeddingSource, SileroDetector, SpeechDetector};
use std::time::Instant;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The embeddings already computed, so the last stage times clustering and turns alone.
struct Computed(Vec<Vec<f32>>);

impl EmbeddingSource for Computed {
    fn embed(&self, _audio: &[f32], windows: &[Window]) -> Result<Vec<Vec<f32>>, BoxError> {
        if windows.len() != self.0.len() {
            return Err("window count changed".into());
        }
        Ok(self.0.clone())
    }
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(model), Some(audio)) = (args.get(1), args.get(2)) else {
        return Err("usage: diarize_bench MODEL.pt AUDIO.wav [THREADS]".into());
    };
    let threads: usize = args.get(3).map_or(Ok(2), |t| t.parse())?;
    let model = ecapa2::Ecapa2::load_with(model, ecapa2::Options::new().threads(threads))?;
    let loaded = ecapa2_audio::load(audio, &ecapa2_audio::LoadOptions::for_model(16_000, 1))?;
    let samples = &loaded.signals[0];
    let seconds = samples.len() as f64 / 16_000.0;
    let diarizer = Diarizer::default();
    let vad = SileroDetector::embedded()?;

    let t = Instant::now();
    let speech = vad.speech(samples)?;
    let vad_s = t.elapsed().as_secs_f64();

    let windows = diarizer.windows(samples.len(), &speech, EmbeddingSource::min_samples(&model));
    let spans: Vec<Window> = windows.iter().map(|w| w.window).collect();
    let t = Instant::now();
    let embeddings = EmbeddingSource::embed(&model, samples, &spans)?;
    let embed_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let d = diarizer.diarize_regions(samples, &speech, &Computed(embeddings))?;
    let cluster_s = t.elapsed().as_secs_f64();

    println!(
        "audio\t{seconds:.1} s, {} speech regions, {} windows",
        speech.len(),
        d.windows
    );
    println!("backend\t{}", model.backend_name());
    for (stage, s) in [
        ("vad", vad_s),
        ("embeddings", embed_s),
        ("clustering+turns", cluster_s),
    ] {
        println!("{stage}\t{s:.3} s\tRTF {:.5}", s / seconds);
    }
    println!(
        "total\tRTF {:.5}\t{} speakers",
        (vad_s + embed_s + cluster_s) / seconds,
        d.speakers.len()
    );
    Ok(())
}
