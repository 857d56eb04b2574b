//! Bad archives and bad audio give clear, typed errors, never a panic.

mod common;

use common::fixture;
use ecapa2::{Ecapa2, Error};
use std::io::{Read, Write};

fn load_err(path: &std::path::Path) -> Error {
    Ecapa2::load(path).expect_err("load must fail")
}

#[test]
fn truncated_archive_is_an_archive_error() {
    let e = load_err(&fixture("broken/truncated.pt"));
    assert!(matches!(e, Error::Archive(_)), "{e}");
}

#[test]
fn wrong_shape_names_tensor_shape_and_expectation() {
    let e = load_err(&fixture("broken/wrong_shape.pt")).to_string();
    assert!(
        e.contains("tdnn_1.conv.weight") && e.contains("[64, 180, 1]") && e.contains("(?, 192, 1)"),
        "{e}"
    );
}

#[test]
fn missing_tensor_names_the_module() {
    let e = load_err(&fixture("broken/missing_tensor.pt")).to_string();
    assert!(e.contains("conv_3.se.fc2"), "{e}");
}

/// Replaces `data.pkl` of the tiny archive with a pickle that calls `os.system`.
#[test]
fn pickle_with_forbidden_global_is_refused_without_running_it() {
    let bytes = std::fs::read(fixture("tiny/model.pt")).unwrap();
    let mut src = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..src.len() {
        let mut entry = src.by_index(i).unwrap();
        let name = entry.name().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if name.ends_with("/data.pkl") {
            // PROTO 2; GLOBAL 'os system'; SHORT_BINUNICODE 'touch /tmp/pwned'; TUPLE1; REDUCE; STOP
            data = b"\x80\x02cos\nsystem\n\x8c\x10touch /tmp/pwned\x85R.".to_vec();
        }
        out.start_file(name, opts).unwrap();
        out.write_all(&data).unwrap();
    }
    let hostile = out.finish().unwrap().into_inner();
    let e = ecapa2_archive::TorchScript::from_bytes(&hostile).expect_err("must refuse");
    assert!(
        e.to_string().contains("os") && e.to_string().contains("system"),
        "{e}"
    );
}

#[test]
fn short_and_non_finite_audio_are_rejected() {
    let model = Ecapa2::load(fixture("tiny/model.pt")).unwrap();
    assert_eq!(model.min_samples(), 321);
    assert!(model.embed(&[0.1; 321]).is_ok());
    match model.embed(&[0.1; 320]) {
        Err(Error::AudioTooShort {
            samples: 320,
            min: 321,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        model.embed(&[]),
        Err(Error::AudioTooShort { samples: 0, .. })
    ));
    let mut audio = vec![0.1f32; 4000];
    audio[1234] = f32::NAN;
    match model.embed(&audio) {
        Err(Error::NonFinite { index: 1234, .. }) => {}
        other => panic!("{other:?}"),
    }
    audio[1234] = f32::INFINITY;
    assert!(matches!(
        model.embed(&audio),
        Err(Error::NonFinite { index: 1234, .. })
    ));
    // Finite but far beyond audio: before, 1e18 gave NaN features and 1e13 an embedding.
    for value in [1e13f32, -1e18] {
        audio[1234] = value;
        match model.embed(&audio) {
            Err(Error::OutOfRange { index: 1234, .. }) => {}
            other => panic!("{value:e}: {other:?}"),
        }
    }
    audio[1234] = 1e12; // the bound itself is accepted
    assert!(model.embed(&audio).is_ok());
    audio[1234] = 1e13;
    let good = vec![0.1f32; 4000];
    assert!(matches!(
        model.features_batch(&[&good, &audio], ecapa2::LabelSet::embedding()),
        Err(Error::InBatch { row: 1, .. })
    ));
}

#[test]
fn unknown_label_lists_the_valid_ones() {
    // Labels are parsed once, the same way everywhere (`FromStr`), before any audio is touched.
    let e = "gfe_1|lfe_2"
        .parse::<ecapa2::LabelSet>()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("lfe_2") && e.contains("gfe_1, gfe_2, pool, attention, embedding"),
        "{e}"
    );
}
