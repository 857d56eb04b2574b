//! `ecapa2 registry` end to end on the committed fixtures, including a real process killed in
//! the middle of an enrollment run.

mod common;

use common::{assert_stored, root};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const MODEL: &str = "tests/fixtures/tiny/model.pt";
const SPEECH: &str = "tests/fixtures/audio/speech_16k.wav";
const SPEECH2: &str = "tests/fixtures/audio/speech2_16k.wav";

fn command(db: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ecapa2"));
    c.current_dir(root())
        .args(["--threads", "1", "registry", "--db"])
        .arg(db)
        .args(args)
        .env("HF_HUB_OFFLINE", "1");
    c
}

fn run(db: &Path, args: &[&str]) -> (i32, String, String) {
    let out = command(db, args).output().expect("run ecapa2");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn embed(file: &str) -> Vec<f32> {
    let out = Command::new(env!("CARGO_BIN_EXE_ecapa2"))
        .current_dir(root())
        .args(["--threads", "1", "embed", "--model", MODEL, file])
        .output()
        .unwrap();
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    line["vector"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

/// The value of the `name<TAB>value` line of `verify`'s output.
fn field(out: &str, name: &str) -> f64 {
    let prefix = format!("{name}\t");
    let line = out.lines().find(|l| l.starts_with(&prefix));
    let value = line.unwrap_or_else(|| panic!("no {name} in {out}"));
    value[prefix.len()..].parse().unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let d: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    let n = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    d / (n(a) * n(b))
}

#[test]
fn create_enroll_verify_identify_threshold_remove() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reg.db");
    let (code, out, err) = run(&db, &["create", "--model", MODEL]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("sha256:"), "{out}");
    let (code, _, err) = run(&db, &["create", "--model", MODEL]);
    assert_eq!(code, 1);
    assert!(err.contains("exists"), "{err}");

    let (code, out, err) = run(&db, &["enroll", "--model", MODEL, "alice", SPEECH]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("enrolled #1\talice\t"), "{out}");
    let (code, _, err) = run(&db, &["enroll", "--model", MODEL, "bob", SPEECH2]);
    assert_eq!(code, 0, "{err}");

    // Stored embeddings are the CLI's own (same decoding, same engine), to f32 rounding.
    let reg = ecapa2_registry::Registry::open(&db).unwrap();
    let stored = &reg.embeddings("alice").unwrap()[0].1;
    let cli = embed(SPEECH);
    assert_eq!(stored.len(), cli.len());
    for (a, b) in stored.iter().zip(&cli) {
        assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
    }
    drop(reg);

    // Verify: no threshold yet, then the EER threshold of a score file.
    let (code, out, err) = run(&db, &["verify", "--model", MODEL, "bob", SPEECH]);
    assert_eq!(code, 0, "{err}");
    let score = field(&out, "score");
    assert!(
        (score - cosine(&embed(SPEECH2), &cli)).abs() < 1e-5,
        "{out}"
    );
    assert!(out.contains("no threshold"), "{out}");
    let scores = dir.path().join("dev.scores");
    std::fs::write(
        &scores,
        "a b 0.9 target\na c 0.7 target\na d 0.3 nontarget\na e 0.8 nontarget\na f 0.1 nontarget\n",
    )
    .unwrap();
    let (code, out, err) = run(
        &db,
        &["set-threshold", "--scores", scores.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("EER of"), "{out}");
    let (code, out, _) = run(&db, &["set-threshold", "--value", "0.5"]);
    assert_eq!(code, 0, "{out}");
    let (_, out, _) = run(&db, &["verify", "--model", MODEL, "alice", SPEECH]);
    assert!(out.contains("decision\taccept"), "{out}");

    // Identify: the enrolled file finds its own speaker first, with a cosine of 1.
    let (code, out, err) = run(&db, &["identify", "--model", MODEL, SPEECH2, "--top", "2"]);
    assert_eq!(code, 0, "{err}");
    let first: Vec<&str> = out.lines().next().unwrap().split('\t').collect();
    assert_eq!(first[0], "bob", "{out}");
    assert!(
        (first[1].parse::<f64>().unwrap() - 1.0).abs() < 1e-5,
        "{out}"
    );
    assert_eq!(out.lines().count(), 2);

    // An AS-norm cohort: verify reports the normalised score and the raw cosine.
    let (code, out, err) = run(
        &db,
        &[
            "cohort",
            "--model",
            MODEL,
            "--top-n",
            "2",
            "tests/fixtures/audio/stereo_44k.wav",
            "tests/fixtures/audio/speech_16k_u8.wav",
            "tests/fixtures/audio/speech_16k.mp3",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("now 3 embeddings"), "{out}");
    let (_, out, _) = run(&db, &["verify", "--model", MODEL, "bob", SPEECH]);
    let raw = field(&out, "raw_score");
    assert!((raw - cosine(&embed(SPEECH2), &cli)).abs() < 1e-5, "{out}");
    let (_, out, _) = run(&db, &["cohort", "--clear"]);
    assert!(out.contains("removed 3"), "{out}");

    let (_, out, _) = run(&db, &["list", "--enrollments"]);
    assert!(
        out.contains("alice\t1\t") && out.contains("bob\t1\t"),
        "{out}"
    );
    let (code, out, _) = run(&db, &["remove", "bob"]);
    assert_eq!(code, 0, "{out}");
    let (code, _, err) = run(&db, &["remove", "bob"]);
    assert_eq!(code, 1);
    assert!(err.contains("no speaker named \"bob\""), "{err}");
    let (_, out, _) = run(&db, &["list"]);
    assert!(!out.contains("bob"), "{out}");
}

#[test]
fn refuses_another_model_and_keeps_going_past_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reg.db");
    assert_eq!(run(&db, &["create", "--model", MODEL]).0, 0);
    let (code, _, err) = run(
        &db,
        &[
            "enroll",
            "--model",
            "tests/fixtures/tiny-variant/model.pt",
            "alice",
            SPEECH,
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("refusing"), "{err}");
    // One corrupt file: the others are enrolled, exit status 2.
    let (code, out, err) = run(
        &db,
        &[
            "enroll",
            "--model",
            MODEL,
            "alice",
            SPEECH,
            "tests/fixtures/audio/not_audio.wav",
            SPEECH2,
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(err.contains("not_audio.wav"), "{err}");
    let (code, _, err) = run(&db, &["verify", "--model", MODEL, "nobody", SPEECH]);
    assert_eq!(code, 1);
    assert!(err.contains("no speaker named"), "{err}");
    let (code, _, err) = run(&dir.path().join("none.db"), &["list"]);
    assert_eq!(code, 1);
    assert!(err.contains("registry create"), "{err}");
}

/// Kills a real enrollment run at several points; each time the database must pass SQLite's
/// integrity check, hold every enrollment the process reported committed, and every
/// speaker's centroid must equal the mean of its stored unit embeddings.
#[test]
fn a_killed_enrollment_leaves_a_consistent_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reg.db");
    assert_eq!(run(&db, &["create", "--model", MODEL]).0, 0);
    // Distinct recordings (the last sample of each copy differs): the registry stores the
    // same audio for a speaker only once, and this test needs a write per file.
    let copies: Vec<String> = [SPEECH, SPEECH2]
        .iter()
        .cycle()
        .take(150)
        .enumerate()
        .map(|(k, file)| {
            let mut wav = std::fs::read(root().join(file)).unwrap();
            let n = wav.len();
            wav[n - 2..].copy_from_slice(&(k as i16).to_le_bytes());
            let path = dir.path().join(format!("copy{k}.wav"));
            std::fs::write(&path, wav).unwrap();
            path.display().to_string()
        })
        .collect();
    let inputs: Vec<&str> = copies.iter().map(String::as_str).collect();
    let mut reported = Vec::new();
    for (round, kill_after) in [1usize, 3, 7, 12].into_iter().enumerate() {
        let mut args = vec!["enroll", "--model", MODEL];
        let speaker = format!("spk{round}");
        args.push(&speaker);
        args.extend(&inputs);
        let mut child = command(&db, &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for _ in 0..kill_after {
            let line = lines.next().unwrap().unwrap();
            let id: i64 = line["enrolled #".len()..line.find('\t').unwrap()]
                .parse()
                .unwrap();
            reported.push(id);
        }
        child.kill().unwrap(); // SIGKILL: no destructor, no flush
        let status = child.wait().unwrap();
        assert!(!status.success(), "the run finished before it was killed");
        // A line that was printed but not read yet is committed too.
        for line in lines.map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("enrolled #") {
                reported.push(rest[..rest.find('\t').unwrap()].parse().unwrap());
            }
        }

        assert_stored(&db, &reported);
        let reg = ecapa2_registry::Registry::open(&db).unwrap();
        for s in reg.speakers().unwrap() {
            let units: Vec<Vec<f64>> = reg
                .embeddings(&s.name)
                .unwrap()
                .into_iter()
                .map(|(_, v)| {
                    let n = v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
                    v.iter().map(|&x| f64::from(x) / n).collect()
                })
                .collect();
            assert_eq!(units.len(), s.enrollments);
            let centroid = reg.centroid(&s.name).unwrap();
            for (i, c) in centroid.iter().enumerate() {
                let mean = units.iter().map(|u| u[i]).sum::<f64>() / units.len() as f64;
                assert!(
                    (f64::from(*c) - mean).abs() < 1e-6,
                    "{}: centroid off",
                    s.name
                );
            }
        }
    }
}

/// Registry files from the command line: an empty file is initialised, a directory is named
/// as one, a source with a control character is refused (the other files enrolled), a name
/// is stored trimmed and in NFC, a repeated file is "already enrolled", and `serve` refuses
/// a registry made with another model.
#[test]
fn files_names_sources_repeats_and_the_services_model_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("empty.db");
    std::fs::write(&db, b"").unwrap();
    let (code, _, err) = run(&db, &["list"]);
    assert_eq!(code, 1);
    assert!(err.contains("empty file"), "{err}");
    assert_eq!(
        std::fs::metadata(&db).unwrap().len(),
        0,
        "a refused open changed the file"
    );
    assert_eq!(run(&db, &["create", "--model", MODEL]).0, 0);

    let (code, _, err) = run(&dir.path().join("sub/"), &["list"]);
    assert_eq!(code, 1);
    assert!(err.contains("is a directory"), "{err}");

    let forged = dir.path().join("a\n7\tmallory\tforged.wav");
    std::fs::copy(root().join(SPEECH), &forged).unwrap();
    let forged = forged.to_str().unwrap().to_string();
    let (code, out, err) = run(
        &db,
        &[
            "enroll",
            "--model",
            MODEL,
            " Ame\u{301}lie ",
            &forged,
            SPEECH,
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("control characters"), "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with("enrolled #") && out.contains("\tAm\u{e9}lie\t"),
        "{out:?}"
    );
    let (code, out, _) = run(&db, &["enroll", "--model", MODEL, "Am\u{e9}lie", SPEECH]);
    assert_eq!(code, 0);
    assert!(out.starts_with("already enrolled #"), "{out}");
    let (_, out, _) = run(&db, &["list", "--enrollments"]);
    assert_eq!(out.lines().count(), 2, "{out}");

    // The registry holds the tiny model's embeddings; a service of another model refuses it.
    let out = Command::new(env!("CARGO_BIN_EXE_ecapa2"))
        .current_dir(root())
        .args([
            "--threads",
            "1",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--model",
        ])
        .arg("tests/fixtures/tiny-variant/model.pt")
        .arg("--db")
        .arg(&db)
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("refusing"), "{err}");
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "it started listening"
    );
}
