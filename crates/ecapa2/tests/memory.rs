//! How a call is executed under a memory limit: whole, tiled in memory, tiled with spill, or
//! refused (the tiled path's results are checked against the reference in `parity.rs`).

mod common;

use common::fixture;
use ecapa2::memory::{plan, Refusal};
use ecapa2::Execution;

#[test]
fn the_limit_picks_the_execution() {
    let archive = ecapa2_archive::TorchScript::open(&fixture("tiny/model.pt")).unwrap();
    let net = ecapa2::binding::bind(&archive).unwrap().network;
    let (bins, frames) = (256, 100_000); // about 17 minutes; nothing is allocated here
    let whole = net.activation_bytes(bins, frames);
    let checkpoints = net.tiled_checkpoint_bytes(bins, frames);
    let working = net.tiled_working_bytes(bins, frames, 512);
    assert!(working + checkpoints < whole, "tiling must save memory");
    let dir = std::env::temp_dir().join("ecapa2-spill-test");

    let at = |limit: usize| plan(&net, bins, frames, Some(limit), Some(&dir));
    assert_eq!(at(whole), Ok(Execution::Whole));
    match at(whole - 1) {
        Ok(Execution::Tiled(p)) => assert_eq!((p.tile_frames, p.spill), (512, None)),
        other => panic!("{other:?}"),
    }
    match at(working + checkpoints - 1) {
        Ok(Execution::Tiled(p)) => assert_eq!((p.tile_frames, p.spill), (512, Some(dir.clone()))),
        other => panic!("{other:?}"),
    }
    // Below the 512-frame tile's working set, smaller tiles are tried before refusing.
    match at(working - 1) {
        Ok(Execution::Tiled(p)) => assert!(p.tile_frames < 512 && p.spill.is_some()),
        other => panic!("{other:?}"),
    }
    let least = net.tiled_working_bytes(bins, frames, 64);
    assert_eq!(
        at(least - 1),
        Err(Refusal {
            needed: least,
            limit: least - 1
        })
    );
}

#[test]
fn short_inputs_run_whole_without_a_limit() {
    let archive = ecapa2_archive::TorchScript::open(&fixture("tiny/model.pt")).unwrap();
    let net = ecapa2::binding::bind(&archive).unwrap().network;
    assert_eq!(plan(&net, 256, 1000, None, None), Ok(Execution::Whole));
}
