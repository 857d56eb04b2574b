//! Trial-list parsing: both formats, detection, and line-numbered errors.

use ecapa2_eval::trials::*;

#[test]
fn voxceleb_format() {
    let text = "# VoxCeleb1-O excerpt\n\
                1 id10270/5r0dWxy17C8/00001.wav id10270/8jEAjG6SegY/00008.wav\r\n\
                \n\
                0\tid10270/5r0dWxy17C8/00001.wav   id10300/ize_eiCFEg0/00003.wav\n";
    let list = parse_trials(text).unwrap();
    assert_eq!(list.format, TrialFormat::VoxCeleb);
    assert!(list.is_labeled());
    assert_eq!(
        list.trials,
        vec![
            Trial {
                enroll: "id10270/5r0dWxy17C8/00001.wav".into(),
                test: "id10270/8jEAjG6SegY/00008.wav".into(),
                label: Some(true),
            },
            Trial {
                enroll: "id10270/5r0dWxy17C8/00001.wav".into(),
                test: "id10300/ize_eiCFEg0/00003.wav".into(),
                label: Some(false),
            },
        ]
    );
    assert_eq!(
        list.unique_keys(),
        vec![
            "id10270/5r0dWxy17C8/00001.wav",
            "id10270/8jEAjG6SegY/00008.wav",
            "id10300/ize_eiCFEg0/00003.wav"
        ]
    );
}

#[test]
fn kaldi_format() {
    let list = parse_trials("spk1-a spk1-b target\nspk1-a spk2-c nontarget\n").unwrap();
    assert_eq!(list.format, TrialFormat::Kaldi);
    let labels: Vec<_> = list.trials.iter().map(|t| t.label).collect();
    assert_eq!(labels, [Some(true), Some(false)]);
    assert_eq!(list.trials[1].enroll, "spk1-a");
    assert_eq!(list.trials[1].test, "spk2-c");
}

#[test]
fn kaldi_label_column_wins_over_numeric_first_field() {
    // Utterance ids may be numbers; the target/nontarget column decides.
    let list = parse_trials("1 0 target\n0 1 nontarget\n").unwrap();
    assert_eq!(list.format, TrialFormat::Kaldi);
    assert_eq!(list.trials[0].enroll, "1");
    assert_eq!(list.trials[0].label, Some(true));
}

#[test]
fn unlabeled_format() {
    let list = parse_trials("a.wav b.wav\nc.wav d.wav\n").unwrap();
    assert_eq!(list.format, TrialFormat::Unlabeled);
    assert!(!list.is_labeled());
    assert!(list.trials.iter().all(|t| t.label.is_none()));
}

#[test]
fn forced_format() {
    let list = parse_trials_as("1 a b\n", TrialFormat::VoxCeleb).unwrap();
    assert_eq!(list.trials[0].label, Some(true));
    let err = parse_trials_as("a b target\n", TrialFormat::VoxCeleb).unwrap_err();
    assert!(
        matches!(err, TrialsError::BadLabel { line: 1, .. }),
        "{err}"
    );
}

#[test]
fn bad_label_reports_line() {
    let err = parse_trials("1 a b\n0 a c\n\n2 a d\n").unwrap_err();
    match err {
        TrialsError::BadLabel {
            line,
            format,
            ref found,
            ..
        } => {
            assert_eq!(
                (line, format, found.as_str()),
                (4, TrialFormat::VoxCeleb, "2")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "line 4: invalid VoxCeleb label \"2\" (expected `1` or `0`)"
    );

    let err = parse_trials("a b target\na c maybe\n").unwrap_err();
    assert!(
        matches!(
            err,
            TrialsError::BadLabel {
                line: 2,
                format: TrialFormat::Kaldi,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn wrong_field_count_reports_line() {
    let err = parse_trials("1 a b\n1 a b c\n").unwrap_err();
    assert!(
        matches!(
            err,
            TrialsError::FieldCount {
                line: 2,
                expected: 3,
                found: 4,
                format: TrialFormat::VoxCeleb
            }
        ),
        "{err}"
    );
    let err = parse_trials("a b\n# comment\na b c\n").unwrap_err();
    assert!(
        matches!(
            err,
            TrialsError::FieldCount {
                line: 3,
                expected: 2,
                found: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn mixed_formats_are_rejected() {
    // Detected as VoxCeleb from line 1; a Kaldi line later has a non-0/1 first field.
    let err = parse_trials("1 a b\na b target\n").unwrap_err();
    assert!(
        matches!(err, TrialsError::BadLabel { line: 2, .. }),
        "{err}"
    );
}

#[test]
fn undetectable_first_line() {
    for (text, line) in [("\n\nx y z\n", 3usize), ("solo\n", 1), ("1 a b c\n", 1)] {
        let err = parse_trials(text).unwrap_err();
        assert!(
            matches!(err, TrialsError::UnknownFormat { line: l, .. } if l == line),
            "{text:?}: {err}"
        );
    }
}

#[test]
fn empty_lists() {
    assert!(matches!(parse_trials(""), Err(TrialsError::Empty)));
    assert!(matches!(
        parse_trials("# only a comment\n\n   \n"),
        Err(TrialsError::Empty)
    ));
    assert!(matches!(
        parse_trials_as("", TrialFormat::Kaldi),
        Err(TrialsError::Empty)
    ));
}

#[test]
fn read_from_file_and_missing_file() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("trials_read");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("trials.txt");
    std::fs::write(&p, "u1 u2 target\n").unwrap();
    assert_eq!(read_trials(&p).unwrap().trials.len(), 1);
    let err = read_trials(&dir.join("nope.txt")).unwrap_err();
    assert!(matches!(err, TrialsError::Io { .. }));
    assert!(err.to_string().contains("nope.txt"));
}
