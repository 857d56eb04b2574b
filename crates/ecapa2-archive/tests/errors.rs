//! Broken and hostile archives: each must give its typed error, never a panic.

mod common;

use common::{patch, rewrite_zip, tiny_data_pkl, tiny_pt, with_data_pkl};
use ecapa2_archive::{ArchiveError, TorchScript};

fn open(bytes: &[u8]) -> Result<TorchScript, ArchiveError> {
    TorchScript::from_bytes(bytes)
}

#[test]
fn truncated_zip_is_a_zip_error() {
    let full = tiny_pt();
    for cut in [0, 10, full.len() / 2, full.len() - 30, full.len() - 1] {
        let err = open(&full[..cut]).expect_err("truncated archive must fail");
        assert!(matches!(err, ArchiveError::Zip { .. }), "cut {cut}: {err}");
    }
}

#[test]
fn random_bytes_are_not_an_archive() {
    // A fixed xorshift stream: deterministic "random" bytes.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    assert!(matches!(open(&bytes), Err(ArchiveError::Zip { .. })));
}

#[test]
fn os_system_global_is_forbidden() {
    // The classic exploit: os.system('ls') via GLOBAL + REDUCE.
    let evil = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.".to_vec();
    let err = open(&with_data_pkl(evil)).expect_err("must refuse");
    match err {
        ArchiveError::ForbiddenGlobal { module, name } => {
            assert_eq!((module.as_str(), name.as_str()), ("os", "system"))
        }
        other => panic!("wrong error: {other}"),
    }
}

#[test]
fn forbidden_global_spliced_into_the_real_pickle() {
    // GLOBAL is line-based, so swapping its text keeps the rest of the real pickle valid.
    let pkl = patch(
        &tiny_data_pkl(),
        b"ccollections\nOrderedDict\n",
        b"cbuiltins\neval\n",
    );
    let err = open(&with_data_pkl(pkl)).expect_err("must refuse");
    assert!(
        matches!(&err, ArchiveError::ForbiddenGlobal { module, name } if module == "builtins" && name == "eval"),
        "{err}"
    );
    let pkl = patch(
        &tiny_data_pkl(),
        b"ctorch._utils\n_rebuild_tensor_v2\n",
        b"csubprocess\nPopen\n",
    );
    assert!(matches!(
        open(&with_data_pkl(pkl)),
        Err(ArchiveError::ForbiddenGlobal { .. })
    ));
}

#[test]
fn missing_storage_entry_names_the_tensor() {
    let bytes = rewrite_zip(
        &tiny_pt(),
        |name, b| (name != "tiny/data/5").then_some(b),
        &[],
    );
    match open(&bytes).expect_err("must fail") {
        ArchiveError::MissingStorage { tensor, key, entry } => {
            assert_eq!(key, "5");
            assert_eq!(entry, "tiny/data/5");
            assert_eq!(tensor, "conv_1.bn.running_mean");
        }
        other => panic!("wrong error: {other}"),
    }
}

#[test]
fn tensor_larger_than_its_storage_is_refused() {
    // spec.window: offset 1, size (10,), stride (1,) in a 13-element storage. Size 13 overruns.
    let pkl = patch(
        &tiny_data_pkl(),
        b"Qq\x0bK\x01(K\x0at",
        b"Qq\x0bK\x01(K\x0dt",
    );
    match open(&with_data_pkl(pkl)).expect_err("must fail") {
        ArchiveError::BadTensorView {
            tensor,
            key,
            size,
            offset,
            storage_numel,
            ..
        } => {
            assert_eq!((tensor.as_str(), key.as_str()), ("spec.window", "0"));
            assert_eq!((&*size, offset, storage_numel), (&[13][..], 1, 13));
        }
        other => panic!("wrong error: {other}"),
    }
}

#[test]
fn negative_and_overflowing_sizes_are_refused() {
    // Size -1 (BININT J) and a huge size for the window.
    let pkl = patch(
        &tiny_data_pkl(),
        b"Qq\x0bK\x01(K\x0at",
        b"Qq\x0bK\x01(J\xff\xff\xff\xfft",
    );
    assert!(matches!(
        open(&with_data_pkl(pkl)),
        Err(ArchiveError::BadTensorView {
            detail: "negative size",
            ..
        })
    ));
    let pkl = patch(
        &tiny_data_pkl(),
        b"Qq\x0bK\x01(K\x0at",
        b"Qq\x0bK\x01(\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7ft",
    );
    assert!(matches!(
        open(&with_data_pkl(pkl)),
        Err(ArchiveError::BadTensorView { .. })
    ));
}

#[test]
fn storage_claiming_more_than_its_entry_is_refused() {
    // The window's storage claims 13 elements; claim 200 (its entry holds 52 bytes).
    let pkl = patch(&tiny_data_pkl(), b"cpuq\nK\rt", b"cpuq\nK\xc8t");
    match open(&with_data_pkl(pkl)).expect_err("must fail") {
        ArchiveError::StorageTooSmall {
            tensor,
            key,
            claimed_numel,
            needed_bytes,
            actual_bytes,
            ..
        } => {
            assert_eq!((tensor.as_str(), key.as_str()), ("spec.window", "0"));
            assert_eq!((claimed_numel, needed_bytes, actual_bytes), (200, 800, 52));
        }
        other => panic!("wrong error: {other}"),
    }
    // And a storage entry cut short.
    let bytes = rewrite_zip(
        &tiny_pt(),
        |name, b| {
            Some(if name == "tiny/data/1" {
                b[..100].to_vec()
            } else {
                b
            })
        },
        &[],
    );
    assert!(matches!(
        open(&bytes),
        Err(ArchiveError::StorageTooSmall {
            actual_bytes: 100,
            ..
        })
    ));
}

#[test]
fn big_endian_archives_are_unsupported() {
    let bytes = rewrite_zip(
        &tiny_pt(),
        |name, b| {
            Some(if name == "tiny/byteorder" {
                b"big".to_vec()
            } else {
                b
            })
        },
        &[],
    );
    assert!(
        matches!(open(&bytes), Err(ArchiveError::UnsupportedByteOrder { found, .. }) if found == "big")
    );
    // Absent byteorder means little-endian (archives before torch 2.1).
    let bytes = rewrite_zip(
        &tiny_pt(),
        |name, b| (name != "tiny/byteorder").then_some(b),
        &[],
    );
    assert!(open(&bytes).is_ok());
}

#[test]
fn archive_without_data_pkl_or_module_root() {
    let bytes = rewrite_zip(
        &tiny_pt(),
        |name, b| (name != "tiny/data.pkl").then_some(b),
        &[],
    );
    assert!(matches!(open(&bytes), Err(ArchiveError::NoDataPkl)));
    assert!(matches!(
        open(&with_data_pkl(b"\x80\x02N.".to_vec())),
        Err(ArchiveError::RootNotModule { .. })
    ));
    let bytes = rewrite_zip(
        &tiny_pt(),
        |_, b| Some(b),
        &[("other/data.pkl", b"\x80\x02N.")],
    );
    assert!(matches!(
        open(&bytes),
        Err(ArchiveError::AmbiguousRoot { .. })
    ));
}

#[test]
fn malformed_pickles_are_pickle_errors() {
    let pkl = tiny_data_pkl();
    assert!(matches!(
        open(&with_data_pkl(pkl[..pkl.len() / 2].to_vec())),
        Err(ArchiveError::Pickle { .. })
    ));
    assert!(matches!(
        open(&with_data_pkl(Vec::new())),
        Err(ArchiveError::Pickle { .. })
    ));
    assert!(matches!(
        open(&with_data_pkl(b"\x80\x02\xfe.".to_vec())),
        Err(ArchiveError::UnsupportedOpcode { opcode: 0xfe, .. })
    ));
}

#[test]
fn missing_code_files_leave_constants_empty() {
    let bytes = rewrite_zip(
        &tiny_pt(),
        |name, b| (!name.starts_with("tiny/code/")).then_some(b),
        &[],
    );
    let ts = open(&bytes).expect("code is optional");
    assert!(ts.module("conv_1.conv").expect("conv").constants.is_empty());
    assert_eq!(ts.named_tensors().len(), 24);
}

#[test]
fn unsupported_storage_type_is_named() {
    let pkl = patch(
        &tiny_data_pkl(),
        b"ctorch\nFloatStorage\n",
        b"ctorch\nIntStorage\n",
    );
    match open(&with_data_pkl(pkl)).expect_err("must fail") {
        ArchiveError::UnsupportedStorage {
            tensor,
            storage_type,
            ..
        } => {
            assert_eq!(tensor, "spec.window");
            assert_eq!(storage_type, "torch.IntStorage");
        }
        other => panic!("wrong error: {other}"),
    }
}

#[test]
fn missing_file_is_an_io_error() {
    let err =
        TorchScript::open(std::path::Path::new("/nonexistent/ecapa2.pt")).expect_err("no file");
    assert!(matches!(err, ArchiveError::Io { .. }));
    assert!(err.to_string().contains("/nonexistent/ecapa2.pt"));
}

#[test]
fn exponential_memo_sharing_is_bounded() {
    // t0 = (None, None); t_{i+1} = (t_i, t_i), 64 times: tiny pickle, 2^64 leaves if expanded.
    let mut p = b"\x80\x02c__torch__\nM\n)\x81}X\x01\x00\x00\x00aN".to_vec();
    p.extend_from_slice(b"N\x86q\x00");
    for _ in 0..64 {
        // Stack top is t_i (also memo 0): push it again, pair them, memoise t_{i+1}.
        p.extend_from_slice(b"h\x00\x86q\x00");
    }
    p.extend_from_slice(b"sb.");
    let err = open(&with_data_pkl(p)).expect_err("must be bounded");
    assert!(
        matches!(
            err,
            ArchiveError::LimitExceeded {
                what: "values in the module tree",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn corrupted_storage_bytes_fail_the_crc() {
    let mut bytes = tiny_pt();
    let start = {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes[..])).expect("zip");
        let f = zip.by_name("tiny/data/1").expect("entry");
        f.data_start() as usize
    };
    bytes[start + 10] ^= 0x40;
    match open(&bytes).expect_err("corruption must be detected") {
        ArchiveError::EntryRead { entry, detail } => {
            assert_eq!(entry, "tiny/data/1");
            assert!(
                detail.to_lowercase().contains("crc") || detail.to_lowercase().contains("checksum"),
                "{detail}"
            );
        }
        other => panic!("wrong error: {other}"),
    }
}

#[test]
fn broadcast_views_are_materialised_within_a_budget() {
    // spec.window as a stride-0 expansion of its first element: fine when small...
    let pkl = patch(
        &tiny_data_pkl(),
        b"Qq\x0bK\x01(K\x0at(K\x01t",
        b"Qq\x0bK\x01(M\xe8\x03t(K\x00t",
    );
    let ts = open(&with_data_pkl(pkl)).expect("small expansion is fine");
    let w = ts
        .module("spec")
        .and_then(|m| m.tensor("window"))
        .expect("window")
        .to_f32();
    assert_eq!(w.len(), 1000);
    assert!(w.iter().all(|&v| v == w[0]));
    // ...refused when a 52-byte storage would expand to 512 MiB.
    let pkl = patch(
        &tiny_data_pkl(),
        b"Qq\x0bK\x01(K\x0at(K\x01t",
        b"Qq\x0bK\x01(J\x00\x00\x00\x08t(K\x00t",
    );
    assert!(matches!(
        open(&with_data_pkl(pkl)),
        Err(ArchiveError::LimitExceeded { .. })
    ));
}

/// Files people pass for `ecapa2.pt` that are not TorchScript zips are named, not "not a zip".
#[test]
fn legacy_torch_save_and_safetensors_are_named() {
    // The legacy format's first bytes: PROTO 2, then LONG1 with torch's magic number.
    let legacy = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.";
    let e = open(legacy).unwrap_err().to_string();
    assert!(e.contains("legacy") && e.contains("torch.jit.save"), "{e}");
    let header = br#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    let mut st = (header.len() as u64).to_le_bytes().to_vec();
    st.extend_from_slice(header);
    st.extend_from_slice(&1.0f32.to_le_bytes());
    let e = open(&st).unwrap_err().to_string();
    assert!(e.contains("safetensors"), "{e}");
}

/// An inflation bomb: a storage entry far larger than the storage its pickle declares is
/// refused before it is inflated into memory (it used to bind "OK" after reading it all).
#[test]
fn storage_entries_larger_than_declared_are_refused() {
    let bombed = rewrite_zip(
        &tiny_pt(),
        |name, mut b| {
            if name.contains("/data/") && !name.ends_with("/data.pkl") {
                b.resize(b.len() + (1 << 20), 0);
            }
            Some(b)
        },
        &[],
    );
    let e = open(&bombed).unwrap_err();
    assert!(matches!(e, ArchiveError::EntryTooLarge { .. }), "{e}");
    // A page of padding, as some writers leave, is still accepted.
    let padded = rewrite_zip(
        &tiny_pt(),
        |name, mut b| {
            if name.contains("/data/") && !name.ends_with("/data.pkl") {
                b.resize(b.len() + 64, 0);
            }
            Some(b)
        },
        &[],
    );
    assert!(open(&padded).is_ok());
}
