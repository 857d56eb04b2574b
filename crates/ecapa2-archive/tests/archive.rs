//! Reads the torch-written fixture and checks every tensor bit-exactly against the values torch
//! itself saved beside it (`tiny_expected.json`), plus the constants and the module tree.

mod common;

use std::collections::BTreeMap;

use common::{data_path, tiny_pt};
use ecapa2_archive::{DType, TorchScript, Value};
use serde_json::Value as Json;

fn expected() -> BTreeMap<String, Json> {
    let text = std::fs::read_to_string(data_path("tiny_expected.json"))
        .expect("expected values are committed");
    serde_json::from_str(&text).expect("valid JSON")
}

fn dtype_of(name: &str) -> DType {
    match name {
        "float32" => DType::F32,
        "float16" => DType::F16,
        "bfloat16" => DType::BF16,
        "float64" => DType::F64,
        "int64" => DType::I64,
        other => panic!("fixture dtype {other} not expected"),
    }
}

fn u64s(v: &Json) -> Vec<u64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("u64"))
        .collect()
}

#[test]
fn every_tensor_matches_torch_bit_for_bit() {
    let ts = TorchScript::open(&data_path("tiny.pt")).expect("fixture opens");
    let exp = expected();
    let got = ts.named_tensors();
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), exp.len(), "tensor count: {names:?}");
    for (name, t) in &got {
        let e = exp
            .get(name)
            .unwrap_or_else(|| panic!("unexpected tensor {name}"));
        assert_eq!(
            t.dtype,
            dtype_of(e["dtype"].as_str().expect("dtype")),
            "{name} dtype"
        );
        let shape: Vec<usize> = u64s(&e["shape"]).into_iter().map(|d| d as usize).collect();
        assert_eq!(t.shape, shape, "{name} shape");
        let bits: Vec<u64> = t.to_f32().iter().map(|v| u64::from(v.to_bits())).collect();
        assert_eq!(bits, u64s(&e["f32_bits"]), "{name} values");
        if let Some(i) = e.get("i64") {
            let want: Vec<i64> = i
                .as_array()
                .expect("array")
                .iter()
                .map(|x| x.as_i64().expect("i64"))
                .collect();
            assert_eq!(t.to_i64().expect("i64 tensor"), want, "{name} i64 values");
        } else {
            assert!(t.to_i64().is_err(), "{name} is not i64");
        }
        if let Some(b) = e.get("f64_bits") {
            let bits: Vec<u64> = t.to_f64().iter().map(|v| v.to_bits()).collect();
            assert_eq!(bits, u64s(b), "{name} f64 values");
        }
        assert_eq!(t.as_le_bytes().len(), t.numel() * t.dtype.size_of());
    }
}

#[test]
fn tensors_come_depth_first_in_stored_order() {
    let ts = TorchScript::from_bytes(&tiny_pt()).expect("fixture opens");
    let names: Vec<String> = ts.named_tensors().into_iter().map(|(n, _)| n).collect();
    let conv = |p: &str| {
        [
            "conv.weight",
            "conv.bias",
            "bn.weight",
            "bn.bias",
            "bn.running_mean",
            "bn.running_var",
            "bn.num_batches_tracked",
        ]
        .map(|s| format!("{p}.{s}"))
    };
    let mut want = vec!["spec.window".to_owned()];
    want.extend(conv("conv_1"));
    want.extend(conv("conv_2"));
    want.extend(
        ["base", "tview", "hf", "bf", "dbl", "idx", "scalar"].map(|s| format!("mixed.{s}")),
    );
    want.extend(["fc.weight".to_owned(), "fc.bias".to_owned()]);
    assert_eq!(names, want);
}

#[test]
fn views_are_materialised() {
    let ts = TorchScript::from_bytes(&tiny_pt()).expect("fixture opens");
    let mixed = ts.module("mixed").expect("mixed");
    // base = arange(12).reshape(3, 4) * 0.25 - 1; tview = base.t()[1:, 0:2] (offset 1, strides (1, 4)).
    let base = mixed.tensor("base").expect("base").to_f32();
    let tview = mixed.tensor("tview").expect("tview");
    assert_eq!(tview.shape, vec![3, 2]);
    let want: Vec<f32> = (1..4).flat_map(|r| [base[r], base[4 + r]]).collect();
    assert_eq!(tview.to_f32(), want);
    // The window is 10 samples at offset 1 of a 13-element storage.
    assert_eq!(
        ts.module("spec")
            .expect("spec")
            .tensor("window")
            .expect("window")
            .shape,
        vec![10]
    );
    assert_eq!(
        mixed.tensor("scalar").expect("scalar").shape,
        Vec::<usize>::new()
    );
    assert_eq!(mixed.tensor("scalar").expect("scalar").to_f32(), vec![4.5]);
}

#[test]
fn constants_come_from_the_class_that_describes_each_object() {
    let ts = TorchScript::from_bytes(&tiny_pt()).expect("fixture opens");
    let c1 = ts.module("conv_1.conv").expect("conv_1.conv");
    let c2 = ts.module("conv_2.conv").expect("conv_2.conv");
    assert_eq!(c1.qualified_class, "__torch__.torch.nn.modules.conv.Conv2d");
    assert_eq!(
        c2.qualified_class,
        "__torch__.torch.nn.modules.conv.___torch_mangle_0.Conv2d"
    );
    assert_eq!(c1.class_name(), "Conv2d");
    assert_eq!(c2.class_name(), "Conv2d");
    // Same class name, different generated classes: the mangled one has its own file.
    assert_eq!(
        c1.constant("stride").and_then(Value::as_ints),
        Some(vec![2, 1])
    );
    assert_eq!(
        c2.constant("stride").and_then(Value::as_ints),
        Some(vec![1, 1])
    );
    assert_eq!(
        c1.constant("padding").and_then(Value::as_ints),
        Some(vec![1, 1])
    );
    assert_eq!(
        c1.constant("padding_mode").and_then(Value::as_str),
        Some("zeros")
    );
    assert_eq!(c1.constant("groups").and_then(Value::as_int), Some(1));
    let blk2 = ts.module("conv_2").expect("conv_2");
    assert_eq!(blk2.qualified_class, "__torch__.___torch_mangle_1.Block");
    assert!(blk2.constants.is_empty());

    let bn = ts.module("conv_1.bn").expect("bn");
    assert_eq!(bn.constant("eps"), Some(&Value::Float(1e-5)));
    assert_eq!(bn.constant("momentum"), Some(&Value::Float(0.1)));
    assert_eq!(bn.constant("affine"), Some(&Value::Bool(true)));
    assert_eq!(
        ts.module("fc").and_then(|m| m.constant("in_features")),
        Some(&Value::Int(4))
    );

    let spec = ts.module("spec").expect("spec");
    assert_eq!(spec.constant("n_fft"), Some(&Value::Int(511)));
    assert_eq!(spec.constant("hop_length"), Some(&Value::Int(160)));
    assert_eq!(spec.constant("win_length"), Some(&Value::Int(400)));
    assert_eq!(spec.constant("power"), Some(&Value::Float(2.0)));
    assert_eq!(spec.constant("center"), Some(&Value::Bool(true)));
    assert_eq!(
        spec.constant("pad_mode").and_then(Value::as_str),
        Some("reflect")
    );
    assert_eq!(spec.constant("neg"), Some(&Value::Int(-3)));
    assert_eq!(spec.constant("tiny"), Some(&Value::Float(1e-5)));
    assert_eq!(spec.constant("nothing"), Some(&Value::None));
    assert_eq!(
        spec.constant("nested"),
        Some(&Value::Tuple(vec![
            Value::Tuple(vec![Value::Int(1), Value::Float(0.5)]),
            Value::Str("a\"b".into())
        ]))
    );
    // Constants are not attributes, and plain attributes are not constants.
    assert!(spec.attr("n_fft").is_none());
    assert!(spec.constant("label").is_none());
}

#[test]
fn plain_attributes_and_tree_shape() {
    let ts = TorchScript::from_bytes(&tiny_pt()).expect("fixture opens");
    assert_eq!(ts.root.class_name(), "Tiny");
    let children: Vec<&str> = ts.root.children().map(|(n, _)| n).collect();
    assert_eq!(children, ["spec", "conv_1", "conv_2", "mixed", "fc"]);
    assert_eq!(ts.root.attr("training"), Some(&Value::Bool(false)));
    let spec = ts.module("spec").expect("spec");
    assert_eq!(spec.attr("label").and_then(Value::as_str), Some("spec"));
    assert_eq!(
        spec.attr("gains"),
        Some(&Value::List(vec![Value::Float(0.5), Value::Float(2.0)]))
    );
    let tensors: Vec<&str> = spec.tensors().map(|(n, _)| n).collect();
    assert_eq!(tensors, ["window"]);
    assert_eq!(
        ts.module("mixed").and_then(|m| m.attr("table")),
        Some(&Value::Dict(vec![
            (Value::Str("a".into()), Value::Int(1)),
            (Value::Str("b".into()), Value::Int(2))
        ]))
    );
    assert_eq!(
        ts.module("conv_1.conv")
            .and_then(|m| m.attr("_reversed_padding_repeated_twice"))
            .and_then(Value::as_ints),
        Some(vec![1, 1, 1, 1])
    );
    assert!(ts.module("conv_1.nope").is_none());
}

#[test]
fn open_and_from_bytes_agree() {
    let a = TorchScript::open(&data_path("tiny.pt")).expect("opens");
    let b = TorchScript::from_bytes(&tiny_pt()).expect("opens");
    assert_eq!(a.root, b.root);
}

#[test]
fn describe_lists_modules_constants_and_tensors() {
    let ts = TorchScript::from_bytes(&tiny_pt()).expect("fixture opens");
    let text = ts.describe();
    for needle in [
        "<root>: Tiny (__torch__.Tiny)",
        "  spec: Spectrogram (__torch__.Spectrogram)",
        "    const n_fft = 511",
        "    const pad_mode = \"reflect\"",
        "    window: f32[10]",
        "    label = \"spec\"",
        "  conv_2: Block (__torch__.___torch_mangle_1.Block)",
        "    conv: Conv2d (__torch__.torch.nn.modules.conv.___torch_mangle_0.Conv2d)",
        "      const stride = (1, 1)",
        "      const eps = 1e-5",
        "      weight: f32[3, 2, 3, 3]",
        "    hf: f16[5]",
        "    bf: bf16[3]",
        "    dbl: f64[2, 2]",
        "    idx: i64[3]",
        "24 tensors,",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert!(
        !text.contains("_is_full_backward_hook") && !text.contains("training"),
        "{text}"
    );
}
