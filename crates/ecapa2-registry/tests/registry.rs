//! The registry against an independent computation: centroids and scores recomputed here in
//! f64 from the vectors the test enrolled (tolerance 1e-5, f32 storage).

use ecapa2_registry::{ModelIdentity, NewEnrollment, Registry, RegistryError};

mod common;

use common::{cosine, identity, unit64, vector, DIM};

#[test]
fn enroll_verify_identify_remove() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reg.db");
    let id = identity();
    let mut reg = Registry::create(&db, &id).unwrap();
    let (a1, a2, b1) = (vector(1), vector(2), vector(3));
    reg.enroll(&id, "alice", &[NewEnrollment::new("a1.wav", 3.0, &a1)])
        .unwrap();
    reg.enroll(&id, "alice", &[NewEnrollment::new("a2.wav", 2.5, &a2)])
        .unwrap();
    reg.enroll(&id, "bob", &[NewEnrollment::new("b1.wav", 4.0, &b1)])
        .unwrap();

    // Centroid = mean of the unit vectors.
    let (u1, u2) = (unit64(&a1), unit64(&a2));
    let expected: Vec<f64> = u1.iter().zip(&u2).map(|(x, y)| (x + y) / 2.0).collect();
    let stored = reg.centroid("alice").unwrap();
    for (s, e) in stored.iter().zip(&expected) {
        assert!((f64::from(*s) - e).abs() < 1e-6);
    }

    // Verify without and with a threshold.
    let q = vector(7);
    let v = reg.verify(&id, "alice", &q).unwrap();
    let want = cosine(&expected, &unit64(&q));
    assert!(
        (f64::from(v.score) - want).abs() < 1e-5,
        "{} vs {want}",
        v.score
    );
    assert_eq!((v.threshold, v.accepted), (None, None));
    reg.set_threshold(want - 0.01, "manual").unwrap();
    let v = reg.verify(&id, "alice", &q).unwrap();
    assert_eq!(v.accepted, Some(true));
    reg.set_threshold(want + 0.01, "EER of dev.scores").unwrap();
    assert_eq!(reg.verify(&id, "alice", &q).unwrap().accepted, Some(false));
    assert_eq!(
        reg.threshold().unwrap().unwrap().source,
        "EER of dev.scores"
    );

    // Identify: b1 itself is closest to bob, scores sorted.
    let top = reg.identify(&id, &b1, 5).unwrap();
    assert_eq!(top.len(), 2);
    assert_eq!(top[0].speaker, "bob");
    assert!((top[0].score - 1.0).abs() < 1e-5);
    assert!(top[0].score >= top[1].score);

    // List and details.
    let list = reg.speakers().unwrap();
    assert_eq!(
        list.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    assert_eq!(list[0].enrollments, 2);
    assert!((list[0].duration_s - 5.5).abs() < 1e-9);
    let detail = reg.speaker("alice").unwrap();
    assert_eq!(detail.enrollments.len(), 2);

    // Remove one enrollment: the centroid becomes the remaining unit vector.
    let first = detail.enrollments[0].id;
    assert_eq!(reg.remove_enrollment(first).unwrap(), "alice");
    for (s, e) in reg.centroid("alice").unwrap().iter().zip(&u2) {
        assert!((f64::from(*s) - e).abs() < 1e-6);
    }
    assert!(matches!(
        reg.remove_enrollment(first),
        Err(RegistryError::UnknownEnrollment(_))
    ));
    // Removing a speaker removes it from search at once.
    assert_eq!(reg.remove_speaker("bob").unwrap(), 1);
    let top = reg.identify(&id, &b1, 5).unwrap();
    assert_eq!(
        top.iter().map(|c| c.speaker.as_str()).collect::<Vec<_>>(),
        ["alice"]
    );
    assert!(matches!(
        reg.remove_speaker("bob"),
        Err(RegistryError::UnknownSpeaker(_))
    ));
    // The last enrollment takes the speaker with it.
    let last = reg.speaker("alice").unwrap().enrollments[0].id;
    reg.remove_enrollment(last).unwrap();
    assert!(reg.is_empty().unwrap());
    assert!(reg.identify(&id, &b1, 5).unwrap().is_empty());
}

#[test]
fn refuses_other_models_labels_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reg.db");
    let id = identity();
    let mut reg = Registry::create(&db, &id).unwrap();
    let v = vector(1);
    let other_model = ModelIdentity {
        model: "sha256:other".into(),
        ..id.clone()
    };
    let other_label = ModelIdentity {
        label: "gfe_1".into(),
        ..id.clone()
    };
    for caller in [&other_model, &other_label] {
        let e = reg
            .enroll(caller, "alice", &[NewEnrollment::new("x", 1.0, &v)])
            .unwrap_err();
        assert!(matches!(e, RegistryError::ModelMismatch { .. }), "{e}");
        assert!(e.to_string().contains("sha256:test"), "{e}");
        assert!(reg.identify(caller, &v, 1).is_err());
    }
    let short = vec![0.5f32; DIM - 1];
    let mut nan = v.clone();
    nan[3] = f32::NAN;
    let zero = vec![0f32; DIM];
    for bad in [&short, &nan, &zero] {
        let e = reg
            .enroll(&id, "alice", &[NewEnrollment::new("x", 1.0, bad)])
            .unwrap_err();
        assert!(matches!(e, RegistryError::BadEmbedding(_)), "{e}");
    }
    // One bad item refuses the whole call: nothing half-enrolled.
    let e = reg
        .enroll(
            &id,
            "alice",
            &[
                NewEnrollment::new("ok", 1.0, &v),
                NewEnrollment::new("bad", 1.0, &nan),
            ],
        )
        .unwrap_err();
    assert!(matches!(e, RegistryError::BadEmbedding(_)));
    assert!(reg.is_empty().unwrap());
    for name in ["", "  ", "a\nb", &"x".repeat(300)] {
        let e = reg
            .enroll(&id, name, &[NewEnrollment::new("x", 1.0, &v)])
            .unwrap_err();
        assert!(matches!(e, RegistryError::BadName { .. }), "{e}");
    }
    assert!(matches!(
        reg.enroll(&id, "a", &[]),
        Err(RegistryError::NothingToEnroll)
    ));
    assert!(matches!(
        reg.set_threshold(f64::NAN, "x"),
        Err(RegistryError::BadThreshold(_))
    ));
    assert!(matches!(
        reg.verify(&id, "nobody", &v),
        Err(RegistryError::UnknownSpeaker(_))
    ));
    // create on an existing registry refuses; open of a non-registry explains.
    drop(reg);
    assert!(matches!(
        Registry::create(&db, &id),
        Err(RegistryError::AlreadyExists { .. })
    ));
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all, just text").unwrap();
    let e = Registry::open(&junk).unwrap_err();
    assert!(
        matches!(
            e,
            RegistryError::NotARegistry { .. } | RegistryError::Sqlite(_)
        ),
        "{e}"
    );
    let e = Registry::open(dir.path().join("missing.db")).unwrap_err();
    assert!(e.to_string().contains("registry create"), "{e}");
}

#[test]
fn a_second_connection_sees_committed_changes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reg.db");
    let id = identity();
    let mut writer = Registry::create(&db, &id).unwrap();
    let mut reader = Registry::open(&db).unwrap();
    assert_eq!(reader.identity(), &id);
    let v = vector(5);
    assert!(reader.identify(&id, &v, 3).unwrap().is_empty());
    writer
        .enroll(&id, "carol", &[NewEnrollment::new("c.wav", 1.0, &v)])
        .unwrap();
    // The reader's cached index is rebuilt because SQLite's data_version moved.
    let top = reader.identify(&id, &v, 3).unwrap();
    assert_eq!(top.len(), 1);
    assert_eq!(top[0].speaker, "carol");
    writer.remove_speaker("carol").unwrap();
    assert!(reader.identify(&id, &v, 3).unwrap().is_empty());
}

/// AS-norm against a hand computation: top-N cohort cosines of each side, population std.
#[test]
fn as_norm_with_a_cohort() {
    let dir = tempfile::tempdir().unwrap();
    let id = identity();
    let mut reg = Registry::create(dir.path().join("reg.db"), &id).unwrap();
    let (a, b, q) = (vector(11), vector(12), vector(13));
    reg.enroll(&id, "alice", &[NewEnrollment::new("a", 1.0, &a)])
        .unwrap();
    reg.enroll(&id, "bob", &[NewEnrollment::new("b", 1.0, &b)])
        .unwrap();
    let raw = reg.verify(&id, "alice", &q).unwrap();
    assert!(!raw.normalized);
    assert_eq!(raw.score, raw.raw_score);

    let cohort: Vec<Vec<f32>> = (100..110).map(vector).collect();
    let items: Vec<NewEnrollment<'_>> = cohort
        .iter()
        .map(|c| NewEnrollment::new("c", 1.0, c))
        .collect();
    assert_eq!(reg.add_cohort(&id, &items).unwrap(), 10);
    reg.set_cohort_top_n(5).unwrap();
    let stats = |v: &[f32]| {
        let u = unit64(v);
        let mut s: Vec<f64> = cohort.iter().map(|c| cosine(&u, &unit64(c))).collect();
        s.sort_by(|x, y| y.total_cmp(x));
        let top = &s[..5];
        let m = top.iter().sum::<f64>() / 5.0;
        (
            m,
            (top.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 5.0).sqrt(),
        )
    };
    let r = cosine(&unit64(&a), &unit64(&q));
    let ((me, se), (mt, st)) = (stats(&a), stats(&q));
    let want = 0.5 * ((r - me) / se + (r - mt) / st);
    let v = reg.verify(&id, "alice", &q).unwrap();
    assert!(v.normalized);
    assert!((f64::from(v.raw_score) - r).abs() < 1e-5);
    assert!(
        (f64::from(v.score) - want).abs() < 1e-4,
        "{} vs {want}",
        v.score
    );
    // identify ranks by the normalised score and reports both.
    let top = reg.identify(&id, &q, 2).unwrap();
    let alice = top.iter().find(|c| c.speaker == "alice").unwrap();
    assert!((alice.score - v.score).abs() < 1e-5);
    assert!(top[0].score >= top[1].score);
    // A cohort from another model is refused; clearing returns to raw cosines.
    let other = ModelIdentity {
        model: "sha256:other".into(),
        ..id.clone()
    };
    assert!(matches!(
        reg.add_cohort(&other, &items),
        Err(RegistryError::ModelMismatch { .. })
    ));
    assert_eq!(reg.clear_cohort().unwrap(), 10);
    assert!(!reg.verify(&id, "alice", &q).unwrap().normalized);
}
