//! Registry files (empty, foreign, directory, read-only), several writers on one file, the
//! layout migration from version 1, names, sources and retried enrollments, against real
//! SQLite files in temporary folders.

use ecapa2_registry::{audio_digest, NewEnrollment, Registry, RegistryError};
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

mod common;

use common::{identity, unit64, vector, DIM};

fn enrollment_count(db: &Path) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row("SELECT count(*) FROM enrollments", [], |r| r.get(0))
        .unwrap()
}

fn wal_exists(db: &Path) -> bool {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    Path::new(&wal).exists()
}

#[test]
fn an_empty_file_becomes_a_registry_and_open_leaves_it_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("empty.db");
    std::fs::write(&db, b"").unwrap();
    let e = Registry::open(&db).unwrap_err();
    assert!(matches!(e, RegistryError::NotARegistry { .. }), "{e}");
    assert!(e.to_string().contains("empty file"), "{e}");
    // Refused without change: still zero bytes, no write-ahead log.
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 0);
    assert!(!wal_exists(&db));
    // create (and open_or_create) initialise it.
    let reg = Registry::open_or_create(&db, &identity()).unwrap();
    assert_eq!(reg.identity(), &identity());
    drop(reg);
    assert_eq!(Registry::open(&db).unwrap().identity(), &identity());
    let other = dir.path().join("other.db");
    std::fs::write(&other, b"").unwrap();
    Registry::create(&other, &identity()).unwrap();
}

#[test]
fn another_sqlite_database_is_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    {
        let c = Connection::open(&db).unwrap();
        c.execute_batch("CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes(text) VALUES ('x');")
            .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    let e = Registry::open(&db).unwrap_err();
    assert!(matches!(e, RegistryError::NotARegistry { .. }), "{e}");
    let e = Registry::create(&db, &identity()).unwrap_err();
    assert!(e.to_string().contains("another SQLite database"), "{e}");
    let e = Registry::open_or_create(&db, &identity()).unwrap_err();
    assert!(matches!(e, RegistryError::NotARegistry { .. }), "{e}");
    assert_eq!(std::fs::read(&db).unwrap(), before, "the file was modified");
    assert!(!wal_exists(&db));
    let mode: String = Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
    // Not a database at all.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, b"plain text, longer than nothing at all, surely").unwrap();
    let e = Registry::open(&text).unwrap_err();
    assert!(e.to_string().contains("not an SQLite database"), "{e}");
    assert_eq!(
        std::fs::read(&text).unwrap(),
        b"plain text, longer than nothing at all, surely"
    );
}

#[test]
fn a_directory_is_named_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let with_slash = format!("{}/", dir.path().display());
    for path in [
        dir.path().to_path_buf(),
        with_slash.into(),
        dir.path().join("missing/"),
    ] {
        for e in [
            Registry::open(&path).unwrap_err(),
            Registry::create(&path, &identity()).unwrap_err(),
        ] {
            assert!(matches!(e, RegistryError::Access { .. }), "{e}");
            assert!(e.to_string().contains("is a directory"), "{e}");
        }
    }
    let e = Registry::open(dir.path().join("missing.db")).unwrap_err();
    assert!(e.to_string().contains("no such file"), "{e}");
}

#[cfg(unix)]
#[test]
fn a_read_only_folder_says_so() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reg.db");
    Registry::create(&db, &identity()).unwrap().close().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = dir.path().join("probe");
    if std::fs::write(&probe, b"x").is_ok() {
        // Root ignores permissions: nothing to observe here.
        std::fs::remove_file(&probe).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        eprintln!("skipped: permissions are not enforced for this user (root?)");
        return;
    }
    let e = Registry::open(&db).unwrap_err();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(matches!(e, RegistryError::Access { .. }), "{e}");
    assert!(e.to_string().contains("write access"), "{e}");
    eprintln!("read-only folder: {e}");
}

/// Four connections (as four processes would) enroll at once; each write reads before it
/// writes, so deferred transactions fail with SQLITE_BUSY_SNAPSHOT; immediate ones wait.
#[test]
fn concurrent_writers_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reg.db");
    Registry::create(&db, &identity()).unwrap();
    let (writers, each) = (4u64, 40u64);
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                let id = identity();
                let mut reg = Registry::open(&db).unwrap();
                let mut failures = Vec::new();
                for i in 0..each {
                    let v = vector(w * 1000 + i);
                    let name = format!("speaker{}", i % 5);
                    let source = format!("w{w}-{i}.wav");
                    if let Err(e) = reg.enroll(&id, &name, &[NewEnrollment::new(&source, 1.0, &v)])
                    {
                        failures.push(e.to_string());
                    }
                    // Searches in between keep each connection's index live.
                    reg.identify(&id, &v, 3).unwrap();
                }
                failures
            })
        })
        .collect();
    let failures: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} enrollments failed, first: {:?}",
        failures.len(),
        writers * each,
        failures.first()
    );
    assert_eq!(enrollment_count(&db), (writers * each) as i64);
    let ok: String = Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

#[test]
fn a_writer_waits_then_reports_busy_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reg.db");
    let id = identity();
    let mut reg = Registry::create(&db, &id).unwrap();
    reg.set_busy_timeout(Duration::from_millis(300)).unwrap();
    let holder = Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = std::time::Instant::now();
    let e = reg
        .enroll(
            &id,
            "alice",
            &[NewEnrollment::new("a.wav", 1.0, &vector(1))],
        )
        .unwrap_err();
    assert!(matches!(e, RegistryError::Busy), "{e}");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "did not wait"
    );
    assert!(e.to_string().contains("retry"), "{e}");
    holder.execute_batch("COMMIT").unwrap();
    assert_eq!(enrollment_count(&db), 0);
    // The lock released, the same call succeeds.
    reg.enroll(
        &id,
        "alice",
        &[NewEnrollment::new("a.wav", 1.0, &vector(1))],
    )
    .unwrap();
    assert_eq!(enrollment_count(&db), 1);
}

#[test]
fn names_are_one_speaker_whatever_their_normal_form_and_spaces() {
    let dir = tempfile::tempdir().unwrap();
    let id = identity();
    let mut reg = Registry::create(dir.path().join("reg.db"), &id).unwrap();
    let nfd = "Ame\u{301}lie";
    let nfc = "Am\u{e9}lie";
    reg.enroll(&id, nfd, &[NewEnrollment::new("1.wav", 1.0, &vector(1))])
        .unwrap();
    reg.enroll(
        &id,
        &format!("  {nfc}\t"),
        &[NewEnrollment::new("2.wav", 1.0, &vector(2))],
    )
    .unwrap();
    let list = reg.speakers().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, nfc);
    assert_eq!(list[0].enrollments, 2);
    // Every lookup accepts either form.
    assert_eq!(reg.speaker(nfd).unwrap().enrollments.len(), 2);
    assert!(reg.verify(&id, &format!(" {nfd} "), &vector(1)).is_ok());
    assert_eq!(reg.embeddings(nfc).unwrap().len(), 2);
    assert_eq!(reg.identify(&id, &vector(1), 1).unwrap()[0].speaker, nfc);
    assert_eq!(reg.remove_speaker(nfd).unwrap(), 2);
    for bad in [" ", "\u{3000}", "a\u{0}b"] {
        let e = reg
            .enroll(&id, bad, &[NewEnrollment::new("x", 1.0, &vector(1))])
            .unwrap_err();
        assert!(matches!(e, RegistryError::BadName { .. }), "{e}");
    }
}

#[test]
fn sources_with_control_characters_or_too_long_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let id = identity();
    let db = dir.path().join("reg.db");
    let mut reg = Registry::create(&db, &id).unwrap();
    let long = "s".repeat(1025);
    for bad in [
        "a.wav\n7\tmallory\tforged.wav",
        "a\u{1b}[2Jb",
        long.as_str(),
    ] {
        let e = reg
            .enroll(&id, "alice", &[NewEnrollment::new(bad, 1.0, &vector(1))])
            .unwrap_err();
        assert!(matches!(e, RegistryError::BadSource { .. }), "{e}");
        let e = reg
            .add_cohort(&id, &[NewEnrollment::new(bad, 1.0, &vector(1))])
            .unwrap_err();
        assert!(matches!(e, RegistryError::BadSource { .. }), "{e}");
    }
    assert_eq!(enrollment_count(&db), 0);
    reg.enroll(
        &id,
        "alice",
        &[NewEnrollment::new(&"s".repeat(1024), 1.0, &vector(1))],
    )
    .unwrap();
}

#[test]
fn a_retried_enrollment_is_not_stored_twice() {
    let dir = tempfile::tempdir().unwrap();
    let id = identity();
    let db = dir.path().join("reg.db");
    let mut reg = Registry::create(&db, &id).unwrap();
    let samples = [0.1f32, -0.2, 0.3];
    let v = vector(4);
    let item = NewEnrollment::new("a.wav", 2.0, &v).with_digest(audio_digest(&samples));
    let first = reg.enroll(&id, "alice", &[item]).unwrap();
    assert!(first[0].new);
    let again = reg.enroll(&id, "alice", &[item]).unwrap();
    assert_eq!((again[0].id, again[0].new), (first[0].id, false));
    // Same audio, a slightly different embedding (another batch): still the same enrollment.
    let mut v2 = v.clone();
    v2[0] += 1e-6;
    let retry = NewEnrollment::new("a.wav", 2.0, &v2).with_digest(audio_digest(&samples));
    assert!(!reg.enroll(&id, "alice", &[retry]).unwrap()[0].new);
    // Within one call, and without a digest (the embedding identifies it).
    let w = vector(5);
    let plain = NewEnrollment::new("b.wav", 1.0, &w);
    let both = reg.enroll(&id, "alice", &[plain, plain]).unwrap();
    assert!(both[0].new && !both[1].new && both[0].id == both[1].id);
    // Another speaker may have the same audio.
    assert!(reg.enroll(&id, "bob", &[item]).unwrap()[0].new);
    assert_eq!(enrollment_count(&db), 3);
    assert_eq!(reg.speaker("alice").unwrap().enrollments.len(), 2);
}

/// The search index, updated in place by this connection's writes, ranks exactly as a
/// registry opened afresh (whose index is built from the file).
#[test]
fn the_index_updated_in_place_matches_a_fresh_build() {
    let dir = tempfile::tempdir().unwrap();
    let id = identity();
    let db = dir.path().join("reg.db");
    let mut reg = Registry::create(&db, &id).unwrap();
    let mut other = Registry::open(&db).unwrap();
    for step in 0..60u64 {
        let name = format!("s{}", step % 9);
        match step % 7 {
            3 => {
                let _ = reg.remove_speaker(&name);
            }
            5 => {
                if let Some(e) = reg
                    .speaker(&name)
                    .ok()
                    .and_then(|d| d.enrollments.first().cloned())
                {
                    reg.remove_enrollment(e.id).unwrap();
                }
            }
            6 => {
                // Another connection writes: detected through data_version, index rebuilt.
                other
                    .enroll(
                        &id,
                        &name,
                        &[NewEnrollment::new("o.wav", 1.0, &vector(step + 500))],
                    )
                    .unwrap();
            }
            _ => {
                reg.enroll(
                    &id,
                    &name,
                    &[NewEnrollment::new("r.wav", 1.0, &vector(step))],
                )
                .unwrap();
            }
        }
        let q = vector(step * 3 + 1);
        let live = reg.identify(&id, &q, 20).unwrap();
        let fresh = Registry::open(&db).unwrap().identify(&id, &q, 20).unwrap();
        assert_eq!(live.len(), fresh.len(), "step {step}");
        for (a, b) in live.iter().zip(&fresh) {
            assert_eq!(a.speaker, b.speaker, "step {step}");
            assert!((a.score - b.score).abs() < 1e-6, "step {step}");
        }
    }
}

/// A registry as today's main writes it (layout version 1), made here with its SQL.
const V1_SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE speakers (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, centroid BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));
CREATE TABLE enrollments (
    id INTEGER PRIMARY KEY,
    speaker_id INTEGER NOT NULL REFERENCES speakers(id) ON DELETE CASCADE,
    source TEXT NOT NULL, duration_s REAL NOT NULL, model TEXT NOT NULL, label TEXT NOT NULL,
    embedding BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));
CREATE INDEX enrollments_by_speaker ON enrollments(speaker_id);
CREATE TABLE cohort (
    id INTEGER PRIMARY KEY, source TEXT NOT NULL, embedding BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));
";

fn blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn a_version_1_registry_is_migrated_and_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    let id = identity();
    let (a, b, c) = (vector(1), vector(2), vector(3));
    {
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL;").unwrap();
        conn.execute_batch(V1_SCHEMA).unwrap();
        for (k, v) in [
            ("schema", "1"),
            ("model", "sha256:test"),
            ("label", "embedding"),
            ("dim", DIM.to_string().as_str()),
            ("threshold", "0.5"),
        ] {
            conn.execute("INSERT INTO meta VALUES (?1, ?2)", [k, v])
                .unwrap();
        }
        // "bob" and "bob " were two speakers under version 1; "Ame\u{301}lie" is NFD.
        for (sid, name, v) in [(1, "bob", &a), (2, "bob ", &b), (3, "Ame\u{301}lie", &c)] {
            conn.execute(
                "INSERT INTO speakers(id, name, centroid) VALUES (?1, ?2, ?3)",
                rusqlite::params![
                    sid,
                    name,
                    blob(&unit64(v).iter().map(|&x| x as f32).collect::<Vec<_>>())
                ],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO enrollments(speaker_id, source, duration_s, model, label, embedding)
                 VALUES (?1, 'old.wav', 1.5, 'sha256:test', 'embedding', ?2)",
                rusqlite::params![sid, blob(v)],
            )
            .unwrap();
        }
    }
    let mut reg = Registry::open(&db).unwrap();
    let version: String = Connection::open(&db)
        .unwrap()
        .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(version, "2");
    let names: Vec<String> = reg
        .speakers()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["Am\u{e9}lie", "bob"]);
    // The merged speaker kept both enrollments; its centroid is their mean.
    assert_eq!(reg.speaker("bob").unwrap().enrollments.len(), 2);
    let (ua, ub) = (unit64(&a), unit64(&b));
    for (s, (x, y)) in reg.centroid("bob").unwrap().iter().zip(ua.iter().zip(&ub)) {
        assert!((f64::from(*s) - (x + y) / 2.0).abs() < 1e-6);
    }
    assert_eq!(reg.threshold().unwrap().unwrap().value, 0.5);
    // Old rows have digests: enrolling the same embedding again adds nothing.
    let again = reg
        .enroll(&id, "Amélie", &[NewEnrollment::new("again.wav", 1.5, &c)])
        .unwrap();
    assert!(!again[0].new);
    assert_eq!(reg.identify(&id, &c, 1).unwrap()[0].speaker, "Am\u{e9}lie");
    drop(reg);
    // Opening again finds nothing left to migrate.
    assert_eq!(Registry::open(&db).unwrap().len().unwrap(), 2);
}
