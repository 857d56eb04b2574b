//! Embedding storage: NPY bytes against numpy's own output, and round trips of every format.

use std::path::{Path, PathBuf};

use ecapa2_eval::embeddings::{self, npy, EmbeddingError, EmbeddingFormat, EmbeddingStore};

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("embeddings")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The header numpy writes for `np.save(f, np.zeros((3, 4), np.float32))`: magic, version 1.0,
/// header length 0x76 = 118 ('v'), the dict, spaces up to a 64-byte-aligned total (128), '\n'.
#[test]
fn npy_header_matches_numpy_for_3x4() {
    let dict = b"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
    let mut expected = b"\x93NUMPY\x01\x00v\x00".to_vec();
    expected.extend_from_slice(dict);
    while expected.len() < 127 {
        expected.push(b' ');
    }
    expected.push(b'\n');
    assert_eq!(expected.len() % 64, 0);

    let h = npy::header(3, 4);
    assert_eq!(
        h,
        expected,
        "\n{:?}\n{:?}",
        String::from_utf8_lossy(&h),
        String::from_utf8_lossy(&expected)
    );

    let mut buf = Vec::new();
    npy::write_f32_matrix(&mut buf, 3, 4, &[0.0; 12]).unwrap();
    assert_eq!(&buf[..128], &expected[..]);
    assert_eq!(buf.len(), 128 + 12 * 4);
}

#[test]
fn npy_header_is_aligned_for_many_shapes() {
    for (r, c) in [(0, 0), (1, 192), (145_160, 192), (usize::MAX, usize::MAX)] {
        let h = npy::header(r, c);
        assert_eq!(h.len() % 64, 0, "({r}, {c})");
        assert_eq!(*h.last().unwrap(), b'\n');
        let len = u16::from_le_bytes([h[8], h[9]]) as usize;
        assert_eq!(len + 10, h.len());
    }
}

#[test]
fn npy_write_little_endian_c_order() {
    let data = [1.0f32, -2.5, 0.1, 3.0e38, f32::MIN_POSITIVE, 1.0 / 3.0];
    let mut buf = Vec::new();
    npy::write_f32_matrix(&mut buf, 2, 3, &data).unwrap();
    let payload = &buf[npy::header(2, 3).len()..];
    assert_eq!(&payload[4..8], &(-2.5f32).to_le_bytes());
    let m = npy::read_f32_matrix(&buf).unwrap();
    assert_eq!((m.rows, m.cols), (2, 3));
    assert_eq!(m.data, data);
    // Shape and data length must agree.
    assert!(npy::write_f32_matrix(&mut Vec::new(), 2, 2, &data).is_err());
}

/// Files produced by numpy 2.4 (`np.save`), embedded as hex.
#[test]
fn npy_reads_numpy_files() {
    // np.arange(6, dtype='<f4').reshape(2, 3) / 4
    let c_f4 = hex("934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a000000000000803e0000003f0000403f0000803f0000a03f");
    let m = npy::read_f32_matrix(&c_f4).unwrap();
    assert_eq!(
        (m.rows, m.cols, m.data),
        (2, 3, vec![0.0, 0.25, 0.5, 0.75, 1.0, 1.25])
    );
    // Our writer reproduces numpy's file byte for byte.
    let mut ours = Vec::new();
    npy::write_f32_matrix(&mut ours, 2, 3, &[0.0, 0.25, 0.5, 0.75, 1.0, 1.25]).unwrap();
    assert_eq!(ours, c_f4);

    // np.asfortranarray(np.arange(6, dtype='<f8').reshape(2, 3) / 4): column-major float64.
    let f_f8 = hex("934e554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a20547275652c20277368617065273a2028322c2033292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000000000000000000000000000e83f000000000000d03f000000000000f03f000000000000e03f000000000000f43f");
    let m = npy::read_f32_matrix(&f_f8).unwrap();
    assert_eq!(
        (m.rows, m.cols, m.data),
        (2, 3, vec![0.0, 0.25, 0.5, 0.75, 1.0, 1.25])
    );

    // (np.arange(3) / 2).astype('>f4'): 1-D big-endian → one row.
    let be = hex("934e554d5059010076007b276465736372273a20273e6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028332c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a000000003f0000003f800000");
    let m = npy::read_f32_matrix(&be).unwrap();
    assert_eq!((m.rows, m.cols, m.data), (1, 3, vec![0.0, 0.5, 1.0]));

    // np.lib.format.write_array(f, np.arange(6, dtype='<f4').reshape(2, 3), version=(2, 0))
    let v2 = hex("934e554d50590200740000007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a000000000000803f0000004000004040000080400000a040");
    let m = npy::read_f32_matrix(&v2).unwrap();
    assert_eq!(m.data, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
}

#[test]
fn npy_malformed_inputs() {
    use npy::NpyError::*;
    let good = npy::header(1, 2);
    let mut file = good.clone();
    file.extend_from_slice(&[0; 8]);

    assert_eq!(npy::read_f32_matrix(b"PK\x03\x04abcdefgh"), Err(BadMagic));
    assert_eq!(npy::read_f32_matrix(b"\x93NUM"), Err(Truncated("preamble")));
    assert_eq!(npy::read_f32_matrix(&file[..40]), Err(Truncated("header")));
    let mut v = file.clone();
    v[6] = 9;
    assert_eq!(npy::read_f32_matrix(&v), Err(UnsupportedVersion(9, 0)));
    assert_eq!(
        npy::read_f32_matrix(&file[..file.len() - 1]),
        Err(DataLength {
            expected: 8,
            found: 7
        })
    );

    let with_dict = |dict: &str, payload: usize| {
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        b.extend_from_slice(dict.as_bytes());
        b.extend(std::iter::repeat_n(0u8, payload));
        b
    };
    assert_eq!(
        npy::read_f32_matrix(&with_dict(
            "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 2), }\n",
            8
        )),
        Err(UnsupportedDtype("<i4".into()))
    );
    assert_eq!(
        npy::read_f32_matrix(&with_dict(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 2), }\n",
            16
        )),
        Err(UnsupportedShape(vec![1, 2, 2]))
    );
    assert!(matches!(
        npy::read_f32_matrix(&with_dict("{'descr': '<f4', 'shape': (1, 2), }\n", 8)),
        Err(BadHeader(m)) if m.contains("fortran_order")
    ));
    assert!(matches!(
        npy::read_f32_matrix(&with_dict("not a dict\n", 0)),
        Err(BadHeader(_))
    ));
    // Old (16-byte aligned, no trailing comma) headers still parse.
    let m = npy::read_f32_matrix(&with_dict(
        "{'descr':'<f4','fortran_order':False,'shape':(1,2)}\n",
        8,
    ))
    .unwrap();
    assert_eq!((m.rows, m.cols), (1, 2));
    // Absurd shapes overflow cleanly instead of allocating.
    assert!(npy::read_f32_matrix(&with_dict(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551615, 4), }\n",
        0
    ))
    .is_err());
}

/// Values chosen to stress text round trips: thirds, extremes, subnormal-adjacent, negatives.
fn sample_store(labels: bool) -> EmbeddingStore {
    let mut s = EmbeddingStore::new();
    let rows: [(&str, [f32; 4]); 3] = [
        (
            "id10270/5r0dWxy17C8/00001.wav",
            [0.1, -0.2, 1.0 / 3.0, 3.4e38],
        ),
        ("spk2-utt:7", [f32::MIN_POSITIVE, -1.0e-30, 0.0, -0.0]),
        ("übung.flac", [123456.78, -7.0, 2.0e-7, 1.0]),
    ];
    for (i, (k, v)) in rows.iter().enumerate() {
        let label = (labels && i != 1).then(|| format!("spk{i}"));
        s.insert_labeled(*k, v.to_vec(), label).unwrap();
    }
    s
}

fn assert_same_vectors(a: &EmbeddingStore, b: &EmbeddingStore) {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, v) in a.iter() {
        let w = b.get(k).unwrap();
        // Bit-exact, including the sign of zero.
        assert_eq!(
            v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            w.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            "key {k}"
        );
    }
}

#[test]
fn round_trip_every_format() {
    let dir = tmp("round_trip");
    let store = sample_store(true);
    for name in ["e.npy", "e.jsonl", "e.ndjson", "e.ark", "e.scp"] {
        let p = dir.join(name);
        store.save(&p).unwrap();
        let back = EmbeddingStore::load(&p).unwrap();
        assert_same_vectors(&store, &back);
        assert_eq!(back.dim(), Some(4));
        let labels_kept = matches!(
            EmbeddingFormat::from_path(&p).unwrap(),
            EmbeddingFormat::JsonLines
        );
        assert_eq!(
            back.label("id10270/5r0dWxy17C8/00001.wav").is_some(),
            labels_kept,
            "{name}"
        );
        if labels_kept {
            assert_eq!(back, store);
        }
    }
    assert!(dir.join("e.keys").exists());
    assert!(dir.join("e.ark").exists());
    // No temporary files are left behind.
    assert!(std::fs::read_dir(&dir).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".tmp")));
}

#[test]
fn npy_file_layout() {
    let dir = tmp("npy_layout");
    let p = dir.join("emb.npy");
    sample_store(false).save(&p).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(&bytes[..npy::header(3, 4).len()], &npy::header(3, 4)[..]);
    assert_eq!(
        std::fs::read_to_string(embeddings::npy_keys_path(&p)).unwrap(),
        "id10270/5r0dWxy17C8/00001.wav\nspk2-utt:7\nübung.flac\n"
    );
    // A keys file that disagrees with the matrix is an error.
    std::fs::write(dir.join("emb.keys"), "a\nb\n").unwrap();
    assert!(matches!(
        EmbeddingStore::load(&p),
        Err(EmbeddingError::KeyCount {
            keys: 2,
            rows: 3,
            ..
        })
    ));
    std::fs::write(dir.join("emb.keys"), "a\nb\na\n").unwrap();
    let err = EmbeddingStore::load(&p).unwrap_err();
    assert!(
        matches!(&err, EmbeddingError::Record { line: 3, source, .. } if matches!(**source, EmbeddingError::DuplicateKey { .. })),
        "{err}"
    );
    std::fs::remove_file(dir.join("emb.keys")).unwrap();
    assert!(matches!(
        EmbeddingStore::load(&p),
        Err(EmbeddingError::Io { .. })
    ));
}

#[test]
fn jsonl_layout_and_errors() {
    let dir = tmp("jsonl");
    let p = dir.join("e.jsonl");
    let mut s = EmbeddingStore::new();
    s.insert_labeled("a", vec![0.5, -1.0], Some("spk1".into()))
        .unwrap();
    s.insert("b", vec![0.25, 2.0]).unwrap();
    s.save(&p).unwrap();
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        "{\"key\":\"a\",\"label\":\"spk1\",\"dim\":2,\"vector\":[0.5,-1.0]}\n\
         {\"key\":\"b\",\"label\":null,\"dim\":2,\"vector\":[0.25,2.0]}\n"
    );

    let load = |text: &str| {
        std::fs::write(&p, text).unwrap();
        EmbeddingStore::load(&p)
    };
    // label and dim are optional on read.
    let s = load("{\"key\":\"a\",\"vector\":[1,2]}\n\n").unwrap();
    assert_eq!(s.get("a"), Some(&[1.0f32, 2.0][..]));
    assert!(matches!(
        load("{\"key\":\"a\",\"vector\":[1,2]}\n{oops\n"),
        Err(EmbeddingError::Json { line: 2, .. })
    ));
    assert!(matches!(
        load("{\"key\":\"a\",\"dim\":3,\"vector\":[1,2]}\n"),
        Err(EmbeddingError::Parse { line: 1, .. })
    ));
    let err =
        load("{\"key\":\"a\",\"vector\":[1,2]}\n{\"key\":\"b\",\"vector\":[1,2,3]}\n").unwrap_err();
    assert!(
        matches!(&err, EmbeddingError::Record { line: 2, source, .. } if matches!(**source, EmbeddingError::DimensionMismatch { expected: 2, found: 3, .. })),
        "{err}"
    );
    assert!(err.to_string().contains(":2:"), "{err}");
    let err = load("{\"key\":\"a b\",\"vector\":[1]}\n").unwrap_err();
    assert!(
        matches!(&err, EmbeddingError::Record { source, .. } if matches!(**source, EmbeddingError::InvalidKey { .. }))
    );
    assert!(matches!(
        load("{\"key\":\"a\",\"vector\":[]}\n"),
        Err(EmbeddingError::Record { .. })
    ));
}

#[test]
fn kaldi_ark_text_from_kaldi() {
    let dir = tmp("kaldi_ark");
    let p = dir.join("xvector.ark");
    // As printed by `copy-vector ark:xvector.ark ark,t:-`.
    std::fs::write(&p, "utt1  [ 0.1 -2 3e-05 ]\nutt2  [ 1 2 3 ]\n").unwrap();
    let s = EmbeddingStore::load(&p).unwrap();
    assert_eq!(s.get("utt1"), Some(&[0.1f32, -2.0, 3e-5][..]));
    assert_eq!(s.len(), 2);

    // Our own output for one vector.
    let mut one = EmbeddingStore::new();
    one.insert("k", vec![0.5, -1.0, 1e-30, 3.4e38]).unwrap();
    let mut buf = Vec::new();
    embeddings::kaldi::write_ark(&one, &mut buf).unwrap();
    assert_eq!(
        String::from_utf8(buf).unwrap(),
        "k  [ 0.5 -1 1e-30 3.4e38 ]\n"
    );

    for (text, line) in [
        ("utt1  [ 0.1 0.2 ]\nutt2  [ 0.1 x ]\n", 2usize),
        ("utt1  [ 0.1 0.2\n", 1),
        ("utt1 0.1 0.2\n", 1),
        ("utt1 [ 1 ] trailing\n", 1),
    ] {
        std::fs::write(&p, text).unwrap();
        let err = EmbeddingStore::load(&p).unwrap_err();
        assert!(
            matches!(err, EmbeddingError::Parse { line: l, .. } if l == line),
            "{text:?}: {err}"
        );
    }
    // Binary archives are recognised and refused with a hint.
    std::fs::write(&p, b"utt1 \0BFV \x04\x02\x00\x00\x00").unwrap();
    let err = EmbeddingStore::load(&p).unwrap_err();
    assert!(err.to_string().contains("binary"), "{err}");
}

#[test]
fn kaldi_scp_offsets_point_after_key() {
    let dir = tmp("kaldi_scp");
    let scp = dir.join("emb.scp");
    let store = sample_store(false);
    store.save(&scp).unwrap();
    let ark_bytes = std::fs::read(dir.join("emb.ark")).unwrap();
    let scp_text = std::fs::read_to_string(&scp).unwrap();
    for (line, key) in scp_text.lines().zip(store.keys()) {
        let (k, spec) = line.split_once(' ').unwrap();
        assert_eq!(k, key);
        let offset: usize = spec.rsplit_once(':').unwrap().1.parse().unwrap();
        // Kaldi's convention: the offset is just past "key ", where the object starts.
        assert_eq!(
            &ark_bytes[offset - key.len() - 1..offset - 1],
            key.as_bytes()
        );
        assert_eq!(&ark_bytes[offset..offset + 2], b" [");
    }

    // An scp written by Kaldi (offsets into a text ark), read from another directory.
    let ark = dir.join("k.ark");
    std::fs::write(&ark, "a  [ 1 2 ]\nbb  [ 3 4 ]\n").unwrap();
    let kscp = dir.join("k.scp");
    std::fs::write(&kscp, "bb k.ark:14\na k.ark:2\n").unwrap();
    let s = EmbeddingStore::load(&kscp).unwrap();
    assert_eq!(s.keys().collect::<Vec<_>>(), ["bb", "a"]);
    assert_eq!(s.get("bb"), Some(&[3.0f32, 4.0][..]));

    for (text, line) in [
        ("a k.ark:2\nbb k.ark\n", 2usize),
        ("a k.ark:999\n", 1),
        ("a k.ark:5\n", 1),
        ("a\n", 1),
    ] {
        std::fs::write(&kscp, text).unwrap();
        let err = EmbeddingStore::load(&kscp).unwrap_err();
        assert!(
            matches!(err, EmbeddingError::Parse { line: l, .. } if l == line),
            "{text:?}: {err}"
        );
    }
    std::fs::write(&kscp, "a missing.ark:0\n").unwrap();
    assert!(matches!(
        EmbeddingStore::load(&kscp),
        Err(EmbeddingError::Io { .. })
    ));
}

#[test]
fn store_validation_and_cache() {
    let mut s = EmbeddingStore::new();
    assert_eq!(s.dim(), None);
    s.insert("a", vec![1.0, 2.0]).unwrap();
    assert!(matches!(
        s.insert("b", vec![1.0]),
        Err(EmbeddingError::DimensionMismatch {
            expected: 2,
            found: 1,
            ..
        })
    ));
    assert!(matches!(
        s.insert("c", vec![f32::NAN, 1.0]),
        Err(EmbeddingError::NonFinite { index: 0, .. })
    ));
    assert!(matches!(
        s.insert("has space", vec![1.0, 1.0]),
        Err(EmbeddingError::InvalidKey { .. })
    ));
    assert!(matches!(
        s.insert("", vec![1.0, 1.0]),
        Err(EmbeddingError::InvalidKey { .. })
    ));
    assert_eq!(s.insert("a", vec![3.0, 4.0]).unwrap(), Some(vec![1.0, 2.0]));
    assert_eq!(s.len(), 1);
    assert!(matches!(
        s.require("zz"),
        Err(EmbeddingError::MissingKey { .. })
    ));

    // The cache computes each key once.
    let mut calls = 0;
    for _ in 0..3 {
        let v = s
            .get_or_try_insert_with::<EmbeddingError, _>("new", || {
                calls += 1;
                Ok(vec![5.0, 6.0])
            })
            .unwrap();
        assert_eq!(v, [5.0, 6.0]);
    }
    assert_eq!(calls, 1);
    // A computed vector is validated like an inserted one; errors from the closure pass through.
    assert!(s
        .get_or_try_insert_with::<EmbeddingError, _>("bad", || Ok(vec![1.0]))
        .is_err());
    assert!(!s.contains("bad"));
    let r: Result<&[f32], EmbeddingError> =
        s.get_or_try_insert_with("x", || Err(EmbeddingError::MissingKey { key: "x".into() }));
    assert!(r.is_err());

    // Cache file lifecycle: missing → empty, then saved and reloaded.
    let dir = tmp("cache");
    let p = dir.join("cache.npy");
    assert!(EmbeddingStore::load_if_exists(&p).unwrap().is_empty());
    s.save(&p).unwrap();
    assert_eq!(EmbeddingStore::load_if_exists(&p).unwrap().len(), 2);
}

#[test]
fn unknown_extension_and_empty_store() {
    let dir = tmp("misc");
    for name in ["e.txt", "e", "e.npz"] {
        assert!(matches!(
            EmbeddingStore::load_if_exists(&dir.join(name)),
            Err(EmbeddingError::UnknownFormat { .. })
        ));
    }
    // An empty store round-trips in every format.
    for name in ["z.npy", "z.jsonl", "z.ark", "z.scp"] {
        let p = dir.join(name);
        EmbeddingStore::new().save(&p).unwrap();
        assert!(EmbeddingStore::load(&p).unwrap().is_empty(), "{name}");
    }
}
