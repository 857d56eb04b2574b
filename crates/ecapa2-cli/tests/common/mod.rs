//! What the end-to-end tests share: the repository root, a run of the `ecapa2` binary, a real
//! `ecapa2 serve` process, and the check that a registry file holds everything a writer
//! acknowledged.

#![allow(dead_code)] // each test binary uses part of it

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The repository root (fixtures are named relative to it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the `ecapa2` binary from the repository root with two threads, offline and with an
/// empty hub cache: (exit code, stdout, stderr).
pub fn ecapa2(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ecapa2"))
        .current_dir(root())
        .args(["--threads", "2"])
        .args(args)
        .env("HF_HUB_OFFLINE", "1")
        .env(
            "HF_HUB_CACHE",
            std::env::temp_dir().join("ecapa2-cli-test-empty-cache"),
        )
        .output()
        .expect("run ecapa2");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running server, killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Server {
    pub fn start(model: &str, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ecapa2"))
            .current_dir(root())
            .args([
                "--threads",
                "1",
                "serve",
                "--model",
                model,
                "--addr",
                "127.0.0.1:0",
            ])
            .args(extra)
            .env("HF_HUB_OFFLINE", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ecapa2 serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Self { child, url }
    }

    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks a registry file after concurrent or killed writers: SQLite's integrity check
/// passes and every acknowledged enrollment id is stored. Returns the stored ids.
pub fn assert_stored(db: &Path, acknowledged: &[i64]) -> Vec<i64> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM enrollments")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for id in acknowledged {
        assert!(
            ids.contains(id),
            "acknowledged enrollment #{id} is not stored"
        );
    }
    ids
}
