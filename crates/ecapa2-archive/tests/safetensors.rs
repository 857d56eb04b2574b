//! Safetensors: a file written by the reference Python library, a round trip of the archive's
//! tensors, and malformed files.

mod common;

use common::{data_path, tiny_pt};
use ecapa2_archive::{
    read_safetensors, read_safetensors_bytes, safetensors_bytes, write_safetensors, ArchiveError,
    TorchScript,
};

#[test]
fn reads_the_reference_library_output_like_the_archive() {
    let ts = TorchScript::from_bytes(&tiny_pt()).expect("fixture opens");
    let archive: std::collections::BTreeMap<String, _> = ts
        .named_tensors()
        .into_iter()
        .map(|(n, t)| (n, t.clone()))
        .collect();
    let st = read_safetensors(&data_path("tiny.safetensors")).expect("reference file reads");
    assert_eq!(st.len(), archive.len());
    for (name, t) in &st {
        let a = archive
            .get(name)
            .unwrap_or_else(|| panic!("{name} not in the archive"));
        assert_eq!(t, a, "{name}");
    }
}

#[test]
fn round_trip_keeps_order_dtype_shape_and_bytes() {
    let ts = TorchScript::from_bytes(&tiny_pt()).expect("fixture opens");
    let tensors = ts.named_tensors();
    let bytes =
        safetensors_bytes(tensors.iter().map(|(n, t)| (n.as_str(), *t))).expect("serialises");
    let back = read_safetensors_bytes(&bytes).expect("reads back");
    assert_eq!(back.len(), tensors.len());
    for ((n1, t1), (n2, t2)) in tensors.iter().zip(&back) {
        assert_eq!(n1, n2);
        assert_eq!(*t1, t2);
    }

    let path = std::env::temp_dir().join(format!(
        "ecapa2-archive-test-{}.safetensors",
        std::process::id()
    ));
    write_safetensors(&path, tensors.iter().map(|(n, t)| (n.clone(), *t))).expect("writes");
    let from_file = read_safetensors(&path).expect("reads file");
    let _ = std::fs::remove_file(&path);
    assert_eq!(from_file, back);
}

#[test]
fn duplicate_names_are_refused_on_write() {
    let ts = TorchScript::from_bytes(&tiny_pt()).expect("fixture opens");
    let (_, t) = ts.named_tensors()[0].clone();
    assert!(safetensors_bytes([("a", t), ("a", t)]).is_err());
}

#[test]
fn truncated_files_are_errors() {
    let full = std::fs::read(data_path("tiny.safetensors")).expect("committed");
    for cut in [0, 4, 8, 9, 40, full.len() / 2, full.len() - 1] {
        let err = read_safetensors_bytes(&full[..cut]).expect_err("truncated must fail");
        assert!(
            matches!(err, ArchiveError::Safetensors { .. }),
            "cut {cut}: {err}"
        );
    }
}

fn file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn malformed_headers_are_errors() {
    let ok = file(
        r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
        &[0; 8],
    );
    assert_eq!(read_safetensors_bytes(&ok).expect("valid").len(), 1);
    for (header, data) in [
        (
            r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
            &[0u8; 8][..],
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#,
            &[0; 8],
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#,
            &[0; 8],
        ),
        (
            r#"{"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}"#,
            &[0; 8],
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#,
            &[0; 8],
        ),
        (r#"{"a":{"dtype":"F32","shape":[2]}}"#, &[0; 8]),
        (
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            &[0; 8],
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#,
            &[0; 8],
        ),
        (r#"[1,2]"#, &[]),
        (r#"{"a":"#, &[]),
    ] {
        let err = read_safetensors_bytes(&file(header, data)).expect_err(header);
        assert!(
            matches!(err, ArchiveError::Safetensors { .. }),
            "{header}: {err}"
        );
    }
    let mut huge = u64::MAX.to_le_bytes().to_vec();
    huge.extend_from_slice(b"{}");
    assert!(read_safetensors_bytes(&huge).is_err());
    // Metadata is allowed and skipped.
    let meta = file(
        r#"{"__metadata__":{"k":"v"},"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}"#,
        &7i64.to_le_bytes(),
    );
    let t = read_safetensors_bytes(&meta).expect("valid");
    assert_eq!(t[0].1.to_i64().expect("i64"), vec![7]);
}
