//! Any bytes through the in-memory loading path: sniffing, the WAV-family reader (RIFF, RIFX,
//! RF64, BW64, Wave64), symphonia for FLAC/MP3/Ogg, then the checks, channel mixing and
//! resampling to 16 kHz that `ecapa2 embed` applies. Ok or Err, never a panic, an abort or an
//! allocation beyond `-rss_limit_mb`. Seeds: `fuzz/seeds/audio` and `tests/fixtures/audio`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // What the CLI passes for the released model: 16 kHz, at least 321 samples.
    let opts = ecapa2_audio::LoadOptions::for_model(16_000, 321);
    let _ = ecapa2_audio::load_bytes("fuzz-input", data.to_vec(), &opts);
});
