//! Whole archives: any bytes must give Ok or Err, never a panic or abort.
//! Seed with `crates/ecapa2-archive/tests/data/tiny.pt`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ecapa2_archive::TorchScript::from_bytes(data);
});
