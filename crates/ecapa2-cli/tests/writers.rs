//! Two `ecapa2 serve` processes and two `ecapa2 registry enroll` processes writing to one
//! registry file at once (the real binary, 127.0.0.1, keep-alive clients): every enrollment
//! succeeds, every acknowledged one is stored, and the file passes SQLite's integrity check.

mod common;

use common::{assert_stored, root, Server};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TINY: &str = "tests/fixtures/tiny/model.pt";
const SPEECH: &str = "tests/fixtures/audio/speech_16k.wav";

/// `ecapa2 serve` of the tiny model on `db`.
fn serve(db: &Path) -> Server {
    Server::start(TINY, &["--db", db.to_str().unwrap()])
}

/// A distinct half-second recording per `k`: the start of the speech fixture (a 44-byte
/// header, 16-bit mono at 16 kHz) with its last sample set to `k` (the registry stores the
/// same audio for a speaker only once).
fn recording(k: u16) -> Vec<u8> {
    let data = 8000 * 2;
    let mut wav = std::fs::read(root().join(SPEECH)).unwrap();
    assert_eq!(&wav[36..40], b"data");
    wav.truncate(44 + data);
    wav[4..8].copy_from_slice(&(36 + data as u32).to_le_bytes());
    wav[40..44].copy_from_slice(&(data as u32).to_le_bytes());
    wav[44 + data - 2..].copy_from_slice(&k.to_le_bytes());
    wav
}

/// Enrolls `count` recordings through one keep-alive connection; returns the acknowledged
/// ids and every failure.
fn http_writer(url: String, first: u16, count: u16) -> (Vec<i64>, Vec<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let (mut ids, mut failures) = (Vec::new(), Vec::new());
    for k in first..first + count {
        let speaker = format!("s{}", k % 4);
        let mut resp = match agent
            .post(&format!(
                "{url}/v1/speakers/{speaker}/enrollments?source=r{k}.wav"
            ))
            .header("Content-Type", "audio/wav")
            .send(&recording(k)[..])
        {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("#{k}: {e}"));
                continue;
            }
        };
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        if status != 201 {
            failures.push(format!("#{k}: {status} {body}"));
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        ids.push(v["enrollment_ids"][0].as_i64().unwrap());
    }
    (ids, failures)
}

#[test]
fn two_servers_and_two_cli_writers_on_one_registry_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reg.db");
    let servers = [serve(&db), serve(&db)];
    // The CLI writers' recordings, distinct from the servers' ones.
    let files: Vec<PathBuf> = (0..2 * 25u16)
        .map(|k| {
            let path = dir.path().join(format!("cli{k}.wav"));
            std::fs::write(&path, recording(1000 + k)).unwrap();
            path
        })
        .collect();
    let cli: Vec<Child> = files
        .chunks(25)
        .enumerate()
        .map(|(i, chunk)| {
            Command::new(env!("CARGO_BIN_EXE_ecapa2"))
                .current_dir(root())
                .args(["--threads", "1", "registry", "--db"])
                .arg(&db)
                .args(["enroll", "--model", TINY, &format!("cli{i}")])
                .args(chunk)
                .env("HF_HUB_OFFLINE", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Two keep-alive writers per server, 25 enrollments each: 2 × 50 through HTTP.
    let writers: Vec<_> = (0..4u16)
        .map(|w| {
            let url = servers[usize::from(w % 2)].url.clone();
            std::thread::spawn(move || http_writer(url, w * 100, 25))
        })
        .collect();
    let mut acknowledged = Vec::new();
    let mut failures = Vec::new();
    for w in writers {
        let (ids, errs) = w.join().unwrap();
        acknowledged.extend(ids);
        failures.extend(errs);
    }
    for child in cli {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            failures.push(format!(
                "registry enroll: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        for line in stdout.lines() {
            let id = line
                .strip_prefix("enrolled #")
                .and_then(|rest| rest.split('\t').next())
                .and_then(|id| id.parse().ok())
                .unwrap_or_else(|| panic!("unexpected line {line:?}"));
            acknowledged.push(id);
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        failures.first()
    );
    assert_eq!(acknowledged.len(), 150);
    drop(servers);
    assert_eq!(assert_stored(&db, &acknowledged).len(), 150);
}

/// Another process holding the write lock past the busy timeout (10 s): the enrollment is
/// answered 503 with `Retry-After` and nothing is stored; once the lock is released the same
/// request succeeds.
#[test]
fn a_registry_locked_past_the_busy_timeout_is_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reg.db");
    let server = serve(&db);
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let url = format!("{}/v1/speakers/alice/enrollments", server.url);
    let started = std::time::Instant::now();
    let mut resp = agent
        .post(&url)
        .header("Content-Type", "audio/wav")
        .send(&recording(1)[..])
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "it did not wait"
    );
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body = resp.body_mut().read_to_string().unwrap();
    assert!(body.contains("busy"), "{body}");
    holder.execute_batch("COMMIT").unwrap();
    let count: i64 = holder
        .query_row("SELECT count(*) FROM enrollments", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 0);
    let resp = agent
        .post(&url)
        .header("Content-Type", "audio/wav")
        .send(&recording(1)[..])
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
}
