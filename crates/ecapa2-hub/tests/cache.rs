//! Reusing a cache written by Python, offline mode, and an unreachable hub.

mod common;

use std::fs;

use common::*;
use ecapa2_hub::{fetch, fetch_official, Expected, HubConfig, HubError};

const LEN: usize = 200_000;

#[test]
fn reuses_a_python_cache_without_get() {
    let data = payload(LEN);
    let hub = MockHub::start(Behaviour {
        files: vec![file("ecapa2.pt", &data)],
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let link = python_cache(dir.path(), "main", COMMIT, "ecapa2.pt", &data);

    let expected = Expected::new(LEN as u64, &sha256_hex(&data));
    let got = fetch(
        &hub.config(dir.path()),
        REPO,
        "ecapa2.pt",
        None,
        Some(expected),
        None,
    )
    .unwrap();
    assert!(!got.downloaded);
    assert_eq!(got.path, link);
    assert!(hub.gets().is_empty(), "{:?}", hub.gets());
    assert_eq!(hub.requests().len(), 1, "one HEAD to learn the commit");
}

#[test]
fn links_a_cached_blob_without_get() {
    let data = payload(LEN);
    let hub = MockHub::start(Behaviour {
        files: vec![file("ecapa2.pt", &data)],
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    // The same blob cached under an older commit: only the snapshot link is new.
    python_cache(
        dir.path(),
        "main",
        "1111111111111111111111111111111111111111",
        "ecapa2.pt",
        &data,
    );

    let got = fetch(&hub.config(dir.path()), REPO, "ecapa2.pt", None, None, None).unwrap();
    assert!(!got.downloaded);
    assert_eq!(got.commit, COMMIT);
    assert_eq!(fs::read(&got.path).unwrap(), data);
    assert_eq!(
        fs::read_to_string(repo_dir(dir.path()).join("refs/main")).unwrap(),
        COMMIT
    );
    assert!(hub.gets().is_empty());
}

#[test]
fn offline_uses_the_cache_and_no_network() {
    let data = payload(LEN);
    let dir = tempfile::tempdir().unwrap();
    let link = python_cache(dir.path(), "main", COMMIT, "ecapa2.pt", &data);
    // A live server that must not be called.
    let hub = MockHub::start(Behaviour::default());
    let config = hub.config(dir.path()).with_offline(true);

    let got = fetch(&config, REPO, "ecapa2.pt", None, None, None).unwrap();
    assert_eq!(got.path, link);
    assert_eq!(got.commit, COMMIT);
    assert!(!got.downloaded);
    // A commit hash works as a revision too.
    let by_commit = fetch(&config, REPO, "ecapa2.pt", Some(COMMIT), None, None).unwrap();
    assert_eq!(by_commit.path, link);
    assert!(hub.requests().is_empty());
}

#[test]
fn offline_from_env_without_cache_names_hf_hub_offline() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().to_str().unwrap().to_string();
    let config = HubConfig::from_lookup(|k| match k {
        "HF_HUB_OFFLINE" => Some("1".to_string()),
        "HF_HUB_CACHE" => Some(cache.clone()),
        _ => None,
    });
    let err = fetch_official(&config, None, None).unwrap_err();
    assert!(matches!(err, HubError::OfflineNotCached { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("HF_HUB_OFFLINE"), "{text}");
    assert!(text.contains("ecapa2.pt"), "{text}");
    assert!(!text.contains('\n'));
}

#[test]
fn offline_official_finds_legacy_model_pt() {
    let data = payload(LEN);
    let dir = tempfile::tempdir().unwrap();
    let link = python_cache(dir.path(), "v0", COMMIT, "model.pt", &data);
    let config = HubConfig::new(dir.path()).with_offline(true);
    let got = fetch_official(&config, Some("v0"), None).unwrap();
    assert_eq!(got.path, link);
}

#[test]
fn unreachable_hub_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = HubConfig::new(dir.path()).with_endpoint(dead_endpoint());
    let err = fetch_official(&config, None, None).unwrap_err();
    assert!(matches!(err, HubError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(!text.contains('\n'), "{text}");
    assert!(text.contains("--model"), "{text}");
    assert!(text.contains("HF_ENDPOINT"), "{text}");
    assert!(text.contains(config.endpoint()), "{text}");
    assert!(text.contains("Jenthe/ECAPA2"), "{text}");
    assert!(text.contains("connection refused"), "{text}");
}

#[test]
fn unreachable_hub_falls_back_to_cache() {
    let data = payload(LEN);
    let dir = tempfile::tempdir().unwrap();
    let link = python_cache(dir.path(), "main", COMMIT, "ecapa2.pt", &data);
    let config = HubConfig::new(dir.path()).with_endpoint(dead_endpoint());
    let got = fetch(&config, REPO, "ecapa2.pt", None, None, None).unwrap();
    assert_eq!(got.path, link);
    assert!(!got.downloaded);
}

#[test]
fn truncated_cached_blob_is_refused_offline() {
    let data = payload(LEN);
    let dir = tempfile::tempdir().unwrap();
    let link = python_cache(dir.path(), "main", COMMIT, "ecapa2.pt", &data);
    fs::write(&link, &data[..LEN / 2]).unwrap(); // writes through the link into the blob
    let config = HubConfig::new(dir.path()).with_offline(true);
    let expected = Expected::new(LEN as u64, &sha256_hex(&data));
    let err = fetch(&config, REPO, "ecapa2.pt", None, Some(expected), None).unwrap_err();
    assert!(matches!(err, HubError::SizeMismatch { .. }), "{err}");
}

#[test]
fn bad_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = HubConfig::new(dir.path()).with_offline(true);
    for (repo, file, rev) in [
        ("../x", "f", None),
        (REPO, "../f", None),
        (REPO, "/etc/passwd", None),
        (REPO, "f", Some("../../x")),
    ] {
        let err = fetch(&config, repo, file, rev, None, None).unwrap_err();
        assert!(matches!(err, HubError::Invalid { .. }), "{err}");
    }
}
