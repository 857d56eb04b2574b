//! Downloads through a real local HTTP server: redirects, Python layout, resume, verification,
//! token handling.

mod common;

use std::cell::RefCell;
use std::fs;

use common::*;
use ecapa2_hub::{fetch, fetch_official, Expected, HubError};

const LEN: usize = 300_000;

fn expected(bytes: &[u8]) -> Expected {
    Expected::new(bytes.len() as u64, &sha256_hex(bytes))
}

#[test]
fn downloads_through_redirect_into_python_layout() {
    let data = payload(LEN);
    let etag = sha256_hex(&data);
    let hub = MockHub::start(Behaviour {
        files: vec![file("ecapa2.pt", &data)],
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let config = hub.config(dir.path());

    let calls = RefCell::new(Vec::new());
    let report = |done: u64, total: Option<u64>| calls.borrow_mut().push((done, total));
    let got = fetch(
        &config,
        REPO,
        "ecapa2.pt",
        None,
        Some(expected(&data)),
        Some(&report),
    )
    .unwrap();

    let repo = repo_dir(dir.path());
    let link = repo.join("snapshots").join(COMMIT).join("ecapa2.pt");
    assert!(got.downloaded);
    assert_eq!(got.commit, COMMIT);
    assert_eq!(got.path, link);
    assert_eq!(fs::read(repo.join("blobs").join(&etag)).unwrap(), data);
    assert_eq!(fs::read_to_string(repo.join("refs/main")).unwrap(), COMMIT);
    #[cfg(unix)]
    assert_eq!(
        fs::read_link(&link).unwrap().to_str().unwrap(),
        format!("../../blobs/{etag}")
    );
    assert_eq!(fs::read(&link).unwrap(), data);
    assert!(!repo
        .join("blobs")
        .join(format!("{etag}.incomplete"))
        .exists());

    // HEAD on the hub (no redirect followed), then GET hub -> 302 -> GET on the CDN.
    let seen = hub.requests();
    let order: Vec<_> = seen.iter().map(|r| (r.side, r.method.as_str())).collect();
    assert_eq!(
        order,
        [(Side::Hub, "HEAD"), (Side::Cdn, "GET")],
        "{seen:#?}"
    );
    assert!(seen[1].path.starts_with(&format!("/cdn/{etag}")));

    let calls = calls.into_inner();
    assert_eq!(calls.last(), Some(&(LEN as u64, Some(LEN as u64))));

    // A second call finds it in the cache: one HEAD, no GET.
    let again = fetch(
        &config,
        REPO,
        "ecapa2.pt",
        None,
        Some(expected(&data)),
        None,
    )
    .unwrap();
    assert!(!again.downloaded);
    assert_eq!(again.path, link);
    assert_eq!(hub.gets().len(), 1);
}

#[test]
fn resumes_a_cut_download_with_range() {
    let data = payload(LEN);
    let etag = sha256_hex(&data);
    let hub = MockHub::start(Behaviour {
        files: vec![file("ecapa2.pt", &data)],
        cut_first_get_at: Some(LEN / 2),
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let config = hub.config(dir.path());

    let err = fetch(
        &config,
        REPO,
        "ecapa2.pt",
        None,
        Some(expected(&data)),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, HubError::Interrupted { .. }), "{err}");
    let part = repo_dir(dir.path())
        .join("blobs")
        .join(format!("{etag}.incomplete"));
    let have = fs::metadata(&part).unwrap().len();
    assert!(have > 0 && have <= (LEN / 2) as u64, "{have}");
    assert!(!repo_dir(dir.path()).join("snapshots").exists());

    let got = fetch(
        &config,
        REPO,
        "ecapa2.pt",
        None,
        Some(expected(&data)),
        None,
    )
    .unwrap();
    assert!(got.downloaded);
    assert_eq!(fs::read(&got.path).unwrap(), data);
    assert!(!part.exists());

    let gets = hub.gets();
    let cdn: Vec<_> = gets.iter().filter(|r| r.side == Side::Cdn).collect();
    assert_eq!(cdn.len(), 2);
    assert_eq!(cdn[0].header("range"), None);
    assert_eq!(
        cdn[1].header("range"),
        Some(format!("bytes={have}-").as_str())
    );
}

#[test]
fn restarts_when_the_server_ignores_range() {
    let data = payload(LEN);
    let hub = MockHub::start(Behaviour {
        files: vec![file("ecapa2.pt", &data)],
        cut_first_get_at: Some(LEN / 3),
        ignore_range: true,
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let config = hub.config(dir.path());
    assert!(fetch(
        &config,
        REPO,
        "ecapa2.pt",
        None,
        Some(expected(&data)),
        None
    )
    .is_err());
    let got = fetch(
        &config,
        REPO,
        "ecapa2.pt",
        None,
        Some(expected(&data)),
        None,
    )
    .unwrap();
    assert_eq!(fs::read(&got.path).unwrap(), data);
}

#[test]
fn rejects_corrupted_bytes_and_leaves_nothing() {
    let data = payload(LEN);
    let mut bad = data.clone();
    bad[LEN / 2] ^= 0xff;
    let hub = MockHub::start(Behaviour {
        files: vec![common::File {
            served: Some(bad.clone()),
            ..file("ecapa2.pt", &data)
        }],
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let config = hub.config(dir.path());

    let err = fetch(
        &config,
        REPO,
        "ecapa2.pt",
        None,
        Some(expected(&data)),
        None,
    )
    .unwrap_err();
    match &err {
        HubError::ChecksumMismatch { expected, got, .. } => {
            assert_eq!(expected, &sha256_hex(&data));
            assert_eq!(got, &sha256_hex(&bad));
        }
        other => panic!("wrong error: {other}"),
    }
    let repo = repo_dir(dir.path());
    let snapshot = repo.join("snapshots").join(COMMIT);
    assert!(!snapshot.join("ecapa2.pt").exists());
    assert!(fs::symlink_metadata(snapshot.join("ecapa2.pt")).is_err());
    assert_eq!(fs::read_dir(repo.join("blobs")).unwrap().count(), 0);

    // Without an explicit expectation, the server's X-Linked-Etag is the reference.
    let err = fetch(&config, REPO, "ecapa2.pt", Some("v1"), None, None).unwrap_err();
    assert!(matches!(err, HubError::ChecksumMismatch { .. }), "{err}");
    assert_eq!(fs::read_dir(repo.join("blobs")).unwrap().count(), 0);
}

#[test]
fn official_main_refuses_other_bytes_before_downloading() {
    let data = payload(LEN);
    let hub = MockHub::start(Behaviour {
        files: vec![file("ecapa2.pt", &data)],
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let err = fetch_official(&hub.config(dir.path()), None, None).unwrap_err();
    let text = err.to_string();
    assert!(matches!(
        err,
        HubError::SizeMismatch { .. } | HubError::ChecksumMismatch { .. }
    ));
    assert!(text.contains("ecapa2.pt"), "{text}");
    assert!(hub.gets().is_empty());
}

#[test]
fn official_other_revision_falls_back_to_model_pt() {
    let data = payload(LEN);
    let hub = MockHub::start(Behaviour {
        files: vec![file("model.pt", &data)],
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let got = fetch_official(&hub.config(dir.path()), Some("v1"), None).unwrap();
    assert!(got.downloaded);
    assert!(got.path.ends_with(format!("snapshots/{COMMIT}/model.pt")));
    assert_eq!(fs::read(&got.path).unwrap(), data);
    let refs = repo_dir(dir.path()).join("refs/v1");
    assert_eq!(fs::read_to_string(refs).unwrap(), COMMIT);
    let heads: Vec<_> = hub
        .requests()
        .into_iter()
        .filter(|r| r.method == "HEAD")
        .collect();
    assert!(heads[0].path.ends_with("/resolve/v1/ecapa2.pt"));
    assert!(heads[1].path.ends_with("/resolve/v1/model.pt"));
}

#[test]
fn token_goes_to_the_hub_only_as_bearer() {
    let data = payload(LEN);
    let hub = MockHub::start(Behaviour {
        files: vec![file("ecapa2.pt", &data)],
        token: Some("hf_secret".to_string()),
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();

    let err = fetch(&hub.config(dir.path()), REPO, "ecapa2.pt", None, None, None).unwrap_err();
    assert!(matches!(err, HubError::Unauthorized { status: 401, .. }));
    assert!(err.to_string().contains("HF_TOKEN"), "{err}");

    let config = hub
        .config(dir.path())
        .with_token(Some("hf_secret".to_string()));
    let got = fetch(
        &config,
        REPO,
        "ecapa2.pt",
        None,
        Some(expected(&data)),
        None,
    )
    .unwrap();
    assert_eq!(fs::read(&got.path).unwrap(), data);
    for r in hub.requests() {
        match r.side {
            Side::Hub => assert!(r
                .header("authorization")
                .is_none_or(|a| a == "Bearer hf_secret")),
            // The CDN is another origin: it must never see the token.
            Side::Cdn => assert_eq!(r.header("authorization"), None, "{r:?}"),
        }
    }
    assert!(hub
        .requests()
        .iter()
        .any(|r| r.header("authorization") == Some("Bearer hf_secret")));
}

#[test]
fn missing_file_is_not_found() {
    let hub = MockHub::start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let err = fetch(&hub.config(dir.path()), REPO, "nope.pt", None, None, None).unwrap_err();
    assert!(err.is_not_found());
    assert!(err.to_string().contains("EntryNotFound"), "{err}");
}

/// Run only as a child process by the lock tests: one fetch with the config in the
/// environment, then its outcome on stdout.
#[test]
#[ignore = "a child process of two_processes_and_python_share_the_download_lock"]
fn child_fetch() {
    let (Ok(endpoint), Ok(cache)) = (
        std::env::var("ECAPA2_CHILD_ENDPOINT"),
        std::env::var("ECAPA2_CHILD_CACHE"),
    ) else {
        return;
    };
    let config = ecapa2_hub::HubConfig::new(std::path::Path::new(&cache)).with_endpoint(endpoint);
    match fetch(&config, REPO, "ecapa2.pt", None, None, None) {
        Ok(f) => println!("CHILD_OK {}", f.path.display()),
        Err(e) => println!("CHILD_ERR {e}"),
    }
}

fn spawn_child(hub: &MockHub, cache: &std::path::Path) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "child_fetch",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("ECAPA2_CHILD_ENDPOINT", hub.endpoint())
        .env("ECAPA2_CHILD_CACHE", cache)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn child_outcome(child: std::process::Child) -> String {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // libtest prints `test child_fetch ... ` before the child's own line.
    match stdout.find("CHILD_") {
        Some(i) => stdout[i..].lines().next().unwrap_or("").to_string(),
        None => format!("no outcome: {stdout}"),
    }
}

/// Two real processes fetching the same file at once both succeed (they take
/// huggingface_hub's `.locks/<repo>/<etag>.lock` in turn), and a lock held by Python (an
/// `fcntl.flock`, as the `filelock` package takes it) makes a Rust process wait for it.
#[test]
fn two_processes_and_python_share_the_download_lock() {
    let data = payload(24 << 20);
    let etag = sha256_hex(&data);
    let hub = MockHub::start(Behaviour {
        files: vec![file("ecapa2.pt", &data)],
        ..Behaviour::default()
    });
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let children = [spawn_child(&hub, dir.path()), spawn_child(&hub, dir.path())];
        for child in children {
            let outcome = child_outcome(child);
            assert!(outcome.starts_with("CHILD_OK"), "round {round}: {outcome}");
        }
        let blobs = repo_dir(dir.path()).join("blobs");
        assert_eq!(std::fs::read(blobs.join(&etag)).unwrap(), data);
        assert!(!blobs.join(format!("{etag}.incomplete")).exists());
    }

    let dir = tempfile::tempdir().unwrap();
    let lock_dir = dir.path().join(".locks/models--Jenthe--ECAPA2");
    std::fs::create_dir_all(&lock_dir).unwrap();
    let lock = lock_dir.join(format!("{etag}.lock"));
    let script = "import fcntl, sys, time\n\
                  f = open(sys.argv[1], 'a')\n\
                  fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n\
                  print('locked', flush=True)\n\
                  time.sleep(1.5)\n";
    let mut python = std::process::Command::new("python3")
        .args(["-c", script, lock.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(python.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");
    let started = std::time::Instant::now();
    let outcome = child_outcome(spawn_child(&hub, dir.path()));
    let waited = started.elapsed();
    python.wait().unwrap();
    assert!(outcome.starts_with("CHILD_OK"), "{outcome}");
    assert!(
        waited >= std::time::Duration::from_millis(1200),
        "the fetch did not wait for Python's lock ({waited:?})"
    );
}

/// A commit-hash revision that is cached costs no request; a stale `.incomplete` next to a
/// complete blob is removed.
#[test]
fn cached_commit_needs_no_request_and_stale_partials_go() {
    let data = payload(LEN);
    let etag = sha256_hex(&data);
    let hub = MockHub::start(Behaviour {
        files: vec![file("ecapa2.pt", &data)],
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let config = hub.config(dir.path());
    let first = fetch(&config, REPO, "ecapa2.pt", None, None, None).unwrap();
    let stale = repo_dir(dir.path())
        .join("blobs")
        .join(format!("{etag}.incomplete"));
    std::fs::write(&stale, b"left by a process that lost the race").unwrap();
    fetch(&config, REPO, "ecapa2.pt", None, None, None).unwrap();
    assert!(!stale.exists(), "stale partial file kept");
    let before = hub.requests().len();
    let again = fetch(&config, REPO, "ecapa2.pt", Some(&first.commit), None, None).unwrap();
    assert_eq!(again.path, first.path);
    assert_eq!(
        hub.requests().len(),
        before,
        "a cached commit hash was requested again"
    );
}

/// A mirror that redirects the metadata request to itself with an absolute URL (307) is
/// followed, as huggingface_hub 2.x follows it; the CDN on another port still ends the walk.
#[test]
fn absolute_redirect_to_the_same_host_is_followed() {
    let data = payload(LEN);
    let hub = MockHub::start(Behaviour {
        files: vec![file("ecapa2.pt", &data)],
        absolute_self_redirect: true,
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let got = fetch(
        &hub.config(dir.path()),
        REPO,
        "ecapa2.pt",
        None,
        Some(expected(&data)),
        None,
    )
    .unwrap();
    assert_eq!(fs::read(&got.path).unwrap(), data);
    assert!(hub
        .requests()
        .iter()
        .any(|r| r.path.starts_with("/mirror/")));
}
