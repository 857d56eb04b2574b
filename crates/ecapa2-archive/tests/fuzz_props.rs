//! Property tests: mutated archives and safetensors files must yield `Ok` or `Err`, never a
//! panic, abort or runaway allocation. Runs in plain `cargo test` (fixed case counts, ~seconds).

mod common;

use std::sync::OnceLock;

use common::{tiny_data_pkl, tiny_pt, with_data_pkl};
use ecapa2_archive::{read_safetensors_bytes, TorchScript};
use proptest::prelude::*;

fn archive() -> &'static [u8] {
    static A: OnceLock<Vec<u8>> = OnceLock::new();
    A.get_or_init(tiny_pt)
}

fn pickle() -> &'static [u8] {
    static P: OnceLock<Vec<u8>> = OnceLock::new();
    P.get_or_init(tiny_data_pkl)
}

fn safetensors() -> &'static [u8] {
    static S: OnceLock<Vec<u8>> = OnceLock::new();
    S.get_or_init(|| std::fs::read(common::data_path("tiny.safetensors")).expect("committed"))
}

fn flip(bytes: &[u8], flips: &[(usize, u8)]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let n = out.len();
    for &(at, x) in flips {
        if let Some(b) = out.get_mut(at % n) {
            *b ^= x.max(1);
        }
    }
    out
}

/// `cases` by default; `PROPTEST_CASES=N` runs a longer campaign.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn truncated_archive_never_panics(cut in 0usize..20_000) {
        let a = archive();
        let _ = TorchScript::from_bytes(&a[..cut.min(a.len())]);
    }

    #[test]
    fn flipped_archive_never_panics(flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..16)) {
        let _ = TorchScript::from_bytes(&flip(archive(), &flips));
    }

    #[test]
    fn flipped_or_cut_data_pkl_never_panics(
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        cut in 0usize..4_000,
    ) {
        let mut pkl = flip(pickle(), &flips);
        pkl.truncate(cut.max(1));
        let _ = TorchScript::from_bytes(&with_data_pkl(pkl));
    }

    #[test]
    fn random_data_pkl_never_panics(pkl in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = TorchScript::from_bytes(&with_data_pkl(pkl));
    }

    #[test]
    fn random_opcode_soup_never_panics(
        ops in prop::collection::vec(
            prop::sample::select(b"()tNK\x85\x86\x87]ae}su\x88\x89qhbR\x81Q.0\x32".to_vec()),
            0..300,
        ),
    ) {
        // Mostly-valid opcodes (one-byte arguments follow K/q/h) stress stack, marks and memo.
        let mut pkl = b"\x80\x02c__torch__\nM\n)\x81".to_vec();
        for op in ops {
            pkl.push(op);
            if matches!(op, b'K' | b'q' | b'h') {
                pkl.push(op % 4);
            }
        }
        pkl.push(b'.');
        let _ = TorchScript::from_bytes(&with_data_pkl(pkl));
    }

    #[test]
    fn mutated_safetensors_never_panic(
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        cut in 0usize..4_000,
    ) {
        let mut s = flip(safetensors(), &flips);
        s.truncate(cut);
        let _ = read_safetensors_bytes(&s);
    }
}
