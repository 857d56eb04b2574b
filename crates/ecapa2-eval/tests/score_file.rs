//! Score files: layout, exact round trip, and errors.

use ecapa2_eval::score_file::*;
use ecapa2_eval::ScoredTrial;

fn st(e: &str, t: &str, score: f64, label: Option<bool>) -> ScoredTrial {
    ScoredTrial {
        enroll: e.into(),
        test: t.into(),
        score,
        label,
    }
}

#[test]
fn layout_and_round_trip() {
    let scored = vec![
        st("a.wav", "b.wav", 0.7234567891234567, Some(true)),
        st("a.wav", "c.wav", -0.1, Some(false)),
        st("d", "e", 1e-300, None),
    ];
    let mut buf = Vec::new();
    write_scores(&mut buf, &scored).unwrap();
    let text = String::from_utf8(buf).unwrap();
    assert_eq!(
        text,
        "a.wav b.wav 0.7234567891234567 target\na.wav c.wav -0.1 nontarget\nd e 1e-300\n"
    );
    assert_eq!(parse_scores(&text).unwrap(), scored);

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("score_file");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("scores.txt");
    save_scores(&p, &scored).unwrap();
    assert_eq!(load_scores(&p).unwrap(), scored);
}

#[test]
fn reads_numeric_labels_and_comments() {
    let s = parse_scores("# header\na b 0.5 1\n\na c -0.5 0\n").unwrap();
    assert_eq!(s[0].label, Some(true));
    assert_eq!(s[1].label, Some(false));
}

#[test]
fn write_errors() {
    let err = write_scores(Vec::new(), &[st("a", "b", f64::NAN, None)]).unwrap_err();
    assert!(
        matches!(err, ScoreFileError::NonFiniteScore { trial: 0, .. }),
        "{err}"
    );
    let err = write_scores(
        Vec::new(),
        &[st("a", "b", 0.0, None), st("a b", "c", 0.1, None)],
    )
    .unwrap_err();
    assert!(
        matches!(err, ScoreFileError::InvalidKey { trial: 1, .. }),
        "{err}"
    );
    let missing_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("no/such/dir/s.txt");
    assert!(matches!(
        save_scores(&missing_dir, &[]),
        Err(ScoreFileError::Io { .. })
    ));
}

#[test]
fn parse_errors_have_line_numbers() {
    for (text, line) in [
        ("a b 0.5\na b\n", 2usize),
        ("a b x\n", 1),
        ("a b NaN\n", 1),
        ("a b inf target\n", 1),
        ("\n\na b 0.5 maybe\n", 3),
        ("a b 0.5 target extra\n", 1),
    ] {
        let err = parse_scores(text).unwrap_err();
        assert!(
            matches!(err, ScoreFileError::Parse { line: l, .. } if l == line),
            "{text:?}: {err}"
        );
    }
}
