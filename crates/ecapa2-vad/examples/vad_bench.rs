//! Times the native Silero VAD on one 16 kHz file (driven by bench/vad_bench.py).
//!
//! `cargo run --release -p ecapa2-vad --example vad_bench -- FILE [REPEATS] [PROBS_OUT]`
//! prints one JSON line: audio seconds, wall seconds of each repeat of `probabilities` and of
//! the segmentation, and the real-time factor (best repeat). One thread: the network runs on
//! the calling thread. With PROBS_OUT it writes the probabilities as little-endian f32.

use std::time::Instant;

use ecapa2_vad::{speech_timestamps_from_probabilities, SileroVad, VadOptions, SAMPLE_RATE};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .ok_or("usage: vad_bench FILE [REPEATS] [PROBS_OUT]")?;
    let repeats: usize = args.get(1).map(|r| r.parse()).transpose()?.unwrap_or(3);
    let opts = ecapa2_audio::LoadOptions::for_model(SAMPLE_RATE, 1);
    let audio = ecapa2_audio::load(path, &opts)?.signals.remove(0);
    let seconds = audio.len() as f64 / f64::from(SAMPLE_RATE);

    let t = Instant::now();
    let vad = SileroVad::embedded()?;
    let load_s = t.elapsed().as_secs_f64();

    let mut vad_s = Vec::new();
    let mut probs = Vec::new();
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        probs = vad.probabilities(&audio)?;
        vad_s.push(t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let segments =
        speech_timestamps_from_probabilities(&probs, audio.len(), &VadOptions::default())?;
    let segment_s = t.elapsed().as_secs_f64();
    if let Some(out) = args.get(2) {
        let bytes: Vec<u8> = probs.iter().flat_map(|p| p.to_le_bytes()).collect();
        std::fs::write(out, bytes)?;
    }
    let best = vad_s.iter().copied().fold(f64::INFINITY, f64::min);
    let speech_s: f64 = segments
        .iter()
        .map(|s| s.end_seconds() - s.start_seconds())
        .sum();
    println!(
        "{{\"engine\":\"ecapa2-vad\",\"audio_s\":{seconds},\"chunks\":{},\"load_s\":{load_s},\
         \"vad_s\":{vad_s:?},\"segment_s\":{segment_s},\"rtf\":{},\"segments\":{},\
         \"speech_s\":{speech_s}}}",
        probs.len(),
        best / seconds,
        segments.len()
    );
    Ok(())
}
