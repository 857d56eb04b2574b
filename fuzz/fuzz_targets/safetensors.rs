//! Safetensors bytes: any input must give Ok or Err, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ecapa2_archive::read_safetensors_bytes(data);
});
