//! The `ecapa2` binary end to end on the committed fixtures.

mod common;

use common::{ecapa2, root};
use std::path::Path;

const MODEL: &str = "tests/fixtures/tiny/model.pt";
const SPEECH: &str = "tests/fixtures/audio/speech_16k.wav";

#[test]
fn embed_writes_jsonl_to_stdout() {
    let (code, out, err) = ecapa2(&["embed", "--model", MODEL, SPEECH]);
    assert_eq!(code, 0, "{err}");
    let line: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(line["key"], SPEECH);
    assert_eq!(line["label"], "embedding");
    assert_eq!(line["dim"], 32);
    assert_eq!(line["vector"].as_array().unwrap().len(), 32);
}

#[test]
fn memory_limit_too_small_is_a_clear_error() {
    let (code, _, err) = ecapa2(&["--max-memory", "4K", "embed", "--model", MODEL, SPEECH]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("memory limit") && err.contains("--max-memory"),
        "{err}"
    );
    let (code, _, err) = ecapa2(&["--max-memory", "2X", "embed", "--model", MODEL, SPEECH]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a size"), "{err}");
}

#[test]
fn precision_flag_is_checked_and_lowered_with_a_warning() {
    let (code, _, err) = ecapa2(&["--precision", "fp8", "embed", "--model", MODEL, SPEECH]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("expected f32, bf16, bf16x3 or f16"), "{err}");
    // The tiny fixture's convolutions are too narrow for Winograd, so bf16 cannot apply on any
    // CPU: the output is the fp32 one, bit for bit, and stderr says why.
    let (code, fp32, err) = ecapa2(&["embed", "--model", MODEL, SPEECH]);
    assert_eq!(code, 0, "{err}");
    let (code, bf16, err) = ecapa2(&["--precision", "bf16", "embed", "--model", MODEL, SPEECH]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(bf16, fp32);
    assert!(err.contains("precision bf16 asked for, f32 used"), "{err}");
    // f16 is for GPU backends: the CPU runs f32 and says so; --device names the device.
    let (code, f16, err) = ecapa2(&[
        "--precision",
        "f16",
        "--device",
        "cpu",
        "embed",
        "--model",
        MODEL,
        SPEECH,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(f16, fp32);
    assert!(err.contains("precision f16 asked for, f32 used"), "{err}");
    let (code, _, err) = ecapa2(&["--device", "tpu", "embed", "--model", MODEL, SPEECH]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown device"), "{err}");
}

#[test]
fn windows_have_correct_timestamps() {
    // speech_16k.wav has 46536 samples (2.9085 s): 1 s windows every 0.5 s start at
    // 0, 0.5, 1.0, 1.5 s, then one end-aligned window 1.9085–2.9085 s.
    let (code, out, err) = ecapa2(&[
        "embed", "--model", MODEL, "--window", "1", "--hop", "0.5", SPEECH,
    ]);
    assert_eq!(code, 0, "{err}");
    let keys: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["key"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let spans: Vec<&str> = keys.iter().map(|k| k.rsplit('@').next().unwrap()).collect();
    assert_eq!(
        spans,
        vec![
            "0.00-1.00",
            "0.50-1.50",
            "1.00-2.00",
            "1.50-2.50",
            "1.91-2.91"
        ]
    );
}

#[test]
fn stereo_separate_gives_one_row_per_channel_and_npy_has_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("e.npy");
    let out_s = out.to_str().unwrap();
    let stereo = "tests/fixtures/audio/stereo_44k.wav";
    let (code, _, err) = ecapa2(&[
        "embed",
        "--model",
        MODEL,
        "--channels",
        "separate",
        "-o",
        out_s,
        stereo,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("resampled to 16000 Hz"),
        "the resampling is reported: {err}"
    );
    let keys = std::fs::read_to_string(dir.path().join("e.keys")).unwrap();
    assert_eq!(
        keys.lines().collect::<Vec<_>>(),
        vec![format!("{stereo}#ch0"), format!("{stereo}#ch1")]
    );
    let m = ecapa2_eval::embeddings::npy::read_f32_matrix(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!((m.rows, m.cols), (2, 32));
}

#[test]
fn bad_files_are_reported_and_the_rest_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("e.jsonl");
    let (code, _, err) = ecapa2(&[
        "embed",
        "--model",
        MODEL,
        "-o",
        out.to_str().unwrap(),
        SPEECH,
        "tests/fixtures/audio/nan_f32.wav",
        "tests/fixtures/audio/short_10ms.wav",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("nan_f32.wav") && err.contains("short_10ms.wav"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(out).unwrap().lines().count(), 1);
}

#[test]
fn score_and_eval_run_on_a_trial_list() {
    let (code, out, err) = ecapa2(&[
        "score",
        "--model",
        MODEL,
        SPEECH,
        "tests/fixtures/audio/speech_16k.flac",
    ]);
    assert_eq!(code, 0, "{err}");
    // FLAC is lossless: the same samples give the same embedding.
    assert!(
        (out.trim().parse::<f64>().unwrap() - 1.0).abs() < 1e-6,
        "{out}"
    );

    let dir = tempfile::tempdir().unwrap();
    let trials = dir.path().join("trials.txt");
    let a = root().join("tests/fixtures/audio");
    std::fs::write(
        &trials,
        "1 speech_16k.wav speech_16k.flac\n0 speech_16k.wav speech2_16k.wav\n1 speech2_16k.wav speech2_16k.wav\n0 speech_16k.flac speech2_16k.wav\n",
    )
    .unwrap();
    let cache = dir.path().join("cache.jsonl");
    let scores = dir.path().join("scores.txt");
    let args = [
        "eval",
        "--model",
        MODEL,
        trials.to_str().unwrap(),
        "--audio-root",
        a.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--scores",
        scores.to_str().unwrap(),
    ];
    let (code, out, err) = ecapa2(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("trials: 4 (2 target, 2 nontarget)"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&cache).unwrap().lines().count(),
        3,
        "each file embedded once"
    );
    assert_eq!(std::fs::read_to_string(&scores).unwrap().lines().count(), 4);
    // Second run: everything comes from the cache, even without a model.
    let (code, out2, err) = ecapa2(&[&args[..1], &args[3..]].concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, out2);
}

#[test]
fn no_model_offline_says_what_to_do() {
    let (code, _, err) = ecapa2(&["embed", SPEECH]);
    assert_ne!(code, 0);
    assert!(
        err.contains("HF_HUB_OFFLINE") && err.contains("--model"),
        "{err}"
    );
}

#[test]
fn inspect_reports_binding() {
    let (code, out, _) = ecapa2(&["inspect", "--brief", MODEL]);
    assert_eq!(code, 0);
    assert!(
        out.contains("binding: OK") && out.contains("feature embedding: 32 values"),
        "{out}"
    );
    let (code, out, _) = ecapa2(&[
        "inspect",
        "--brief",
        "tests/fixtures/broken/missing_tensor.pt",
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("conv_3.se.fc2"), "{out}");
}

/// Every input failing still replaces a previous run's output with an empty result, and says
/// so (issue: a stale `out.npy` used to survive next to a "wrote 0 vectors" log line).
#[test]
fn all_inputs_failing_leaves_no_stale_output() {
    let dir = std::env::temp_dir().join(format!("ecapa2-cli-stale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("out.npy");
    let out_s = out.to_str().unwrap();
    let (code, _, err) = ecapa2(&["embed", "--model", MODEL, SPEECH, "-o", out_s]);
    assert_eq!(code, 0, "{err}");
    let keys = ecapa2_eval::embeddings::npy_keys_path(&out);
    assert!(std::fs::read_to_string(&keys)
        .unwrap()
        .contains("speech_16k"));
    let bad = "tests/fixtures/audio/not_audio.wav";
    let (code, _, err) = ecapa2(&["embed", "--model", MODEL, bad, "-o", out_s]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("empty result"), "{err}");
    assert_eq!(std::fs::read_to_string(&keys).unwrap(), "");
    let m = ecapa2_eval::embeddings::npy::read_f32_matrix(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(m.rows, 0);
    assert!(!dir.join("out.npy.tmp").exists());
    std::fs::remove_dir_all(&dir).ok();
}

/// Causes are printed once, and a redirected stderr gets no colour codes.
#[test]
fn errors_are_plain_and_say_their_cause_once() {
    let (code, _, err) = ecapa2(&[
        "-v",
        "embed",
        "--model",
        MODEL,
        "tests/fixtures/audio/no-such.wav",
    ]);
    assert_ne!(code, 0, "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "ANSI escape in redirected stderr: {err:?}"
    );
    let cause = "No such file or directory";
    assert_eq!(err.matches(cause).count(), 1, "{err}");
    let (code, help, _) = ecapa2(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        help.contains("Exit status: 0 success, 1 fatal error"),
        "{help}"
    );
}

/// A 2-column trial list has no labels: `eval` says so instead of "succeeding" without an EER;
/// with --scores it scores the pairs.
#[test]
fn eval_refuses_an_unlabelled_list_without_scores() {
    let dir = tempfile::tempdir().unwrap();
    let trials = dir.path().join("pairs.txt");
    std::fs::write(&trials, "speech_16k.wav speech2_16k.wav\n").unwrap();
    let audio = root().join("tests/fixtures/audio");
    let base = [
        "eval",
        "--model",
        MODEL,
        trials.to_str().unwrap(),
        "--audio-root",
        audio.to_str().unwrap(),
    ];
    let (code, _, err) = ecapa2(&base);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("no labels") && err.contains("--scores"),
        "{err}"
    );
    let scores = dir.path().join("scores.txt");
    let with_scores: Vec<&str> = base
        .iter()
        .copied()
        .chain(["--scores", scores.to_str().unwrap()])
        .collect();
    let (code, out, err) = ecapa2(&with_scores);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 trials scored"), "{out}");
    assert_eq!(std::fs::read_to_string(&scores).unwrap().lines().count(), 1);
}

/// One unreadable file: the embeddings computed are kept in --cache, the other trials are
/// scored with a count of the skipped ones, and the exit status is 2 (as `embed`'s).
#[test]
fn eval_keeps_computed_work_when_a_file_fails() {
    let dir = tempfile::tempdir().unwrap();
    let trials = dir.path().join("trials.txt");
    std::fs::write(
        &trials,
        "1 speech_16k.wav speech_16k.flac\n0 speech_16k.wav speech2_16k.wav\n1 speech2_16k.wav speech2_16k.wav\n0 not_audio.wav speech2_16k.wav\n",
    )
    .unwrap();
    let audio = root().join("tests/fixtures/audio");
    let cache = dir.path().join("cache.jsonl");
    let (code, out, err) = ecapa2(&[
        "eval",
        "--model",
        MODEL,
        trials.to_str().unwrap(),
        "--audio-root",
        audio.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not_audio.wav"), "{err}");
    assert!(err.contains("skipped 1 of 4 trials"), "{err}");
    assert!(out.contains("EER"), "{out}");
    let cached = std::fs::read_to_string(&cache).unwrap();
    assert_eq!(cached.lines().count(), 3, "{cached}");
}

/// The EER `eval` prints, as the plot legend writes it (`EER: 12.500 %` → `EER 12.500 %`).
fn printed_eer(out: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.starts_with("EER: "))
        .expect("EER line");
    let value = line["EER: ".len()..].split(" %").next().unwrap();
    format!("EER {value} %")
}

/// `eval --plot` draws the curve of the scores it reports, in SVG or PNG by extension; an
/// unknown extension is refused before any work.
#[test]
fn eval_plots_the_det_curve() {
    let dir = tempfile::tempdir().unwrap();
    let trials = dir.path().join("trials.txt");
    std::fs::write(
        &trials,
        "1 speech_16k.wav speech_16k.flac\n0 speech_16k.wav speech2_16k.wav\n1 speech2_16k.wav speech2_16k.wav\n0 speech_16k.flac speech2_16k.wav\n",
    )
    .unwrap();
    let audio = root().join("tests/fixtures/audio");
    let cache = dir.path().join("cache.jsonl");
    let svg = dir.path().join("det.svg");
    let args = |plot: &Path| {
        vec![
            "eval".to_string(),
            "--model".into(),
            MODEL.into(),
            trials.to_str().unwrap().into(),
            "--audio-root".into(),
            audio.to_str().unwrap().into(),
            "--cache".into(),
            cache.to_str().unwrap().into(),
            "--plot".into(),
            plot.to_str().unwrap().into(),
        ]
    };
    let a = args(&svg);
    let (code, out, err) = ecapa2(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("wrote DET plot"), "{err}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
    // The legend names the trial list and gives the EER printed above.
    assert!(
        text.contains(&format!("trials.txt: {}", printed_eer(&out))),
        "{out}\n{text}"
    );

    let png = dir.path().join("det.png");
    let a = args(&png);
    let (code, _, err) = ecapa2(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[16..24], [0, 0, 2, 208, 0, 0, 2, 208], "720 × 720");

    let a = args(&dir.path().join("det.jpg"));
    let (code, _, err) = ecapa2(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown plot format"), "{err}");
}

/// `plot-det` draws several score files on one plot, labels from the files or from --trials.
#[test]
fn plot_det_compares_score_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.scores");
    let b = dir.path().join("b.scores");
    // a: one target below one non-target out of 4 + 4 → EER 25 %; b: unlabelled.
    std::fs::write(
        &a,
        "e1 t1 0.9 target\ne1 t2 0.8 target\ne2 t3 0.7 target\ne2 t4 0.2 target\n\
         e1 n1 0.1 nontarget\ne1 n2 0.15 nontarget\ne2 n3 0.3 nontarget\ne2 n4 0.05 nontarget\n",
    )
    .unwrap();
    std::fs::write(
        &b,
        "e1 t1 0.9\ne1 t2 0.1\ne2 t3 0.7\ne2 t4 0.2\ne1 n1 0.8\ne1 n2 0.15\ne2 n3 0.3\ne2 n4 0.05\n",
    )
    .unwrap();
    let trials = dir.path().join("trials.txt");
    std::fs::write(
        &trials,
        "e1 t1 target\ne1 t2 target\ne2 t3 target\ne2 t4 target\n\
         e1 n1 nontarget\ne1 n2 nontarget\ne2 n3 nontarget\ne2 n4 nontarget\n",
    )
    .unwrap();
    let out_svg = dir.path().join("cmp.svg");
    let (code, out, err) = ecapa2(&[
        "plot-det",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--trials",
        trials.to_str().unwrap(),
        "--names",
        "sys A,sys B",
        "-o",
        out_svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    // b, labelled by the list: scores ascending n t n t n t n t, so the sweep passes
    // (P_fa, P_miss) = (3/4, 1/4), (2/4, 1/4), (2/4, 2/4): EER 50 %.
    assert!(
        out.contains("sys A: 8 trials (4 target, 4 nontarget), EER 25.000 %"),
        "{out}"
    );
    assert!(
        out.contains("sys B: 8 trials (4 target, 4 nontarget), EER 50.000 %"),
        "{out}"
    );
    let svg = std::fs::read_to_string(&out_svg).unwrap();
    assert!(svg.contains("sys A: EER 25.000 %") && svg.contains("sys B: EER 50.000 %"));
    // Two curves in two colours, each with its EER marker (a filled circle).
    let circles: Vec<&str> = svg.split("<circle").skip(1).collect();
    for colour in ["#1F77B4", "#FF7F0E"] {
        let fill = format!(r#"fill="{colour}""#);
        assert!(
            circles.iter().any(|c| c.contains(&fill)),
            "no {colour} marker"
        );
    }

    // Without --names the file name labels the curve.
    let (code, _, err) = ecapa2(&[
        "plot-det",
        a.to_str().unwrap(),
        "-o",
        out_svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let svg = std::fs::read_to_string(&out_svg).unwrap();
    assert!(svg.contains("a.scores: EER 25.000 %"), "{svg}");
    let out_png = dir.path().join("cmp.png");
    let (code, _, err) = ecapa2(&[
        "plot-det",
        a.to_str().unwrap(),
        "-o",
        out_png.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(&std::fs::read(&out_png).unwrap()[..4], b"\x89PNG");
}

/// Bad input to `plot-det` is a one-line error naming the problem, never a panic, and leaves
/// no plot behind.
#[test]
fn plot_det_bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let good = write("good.scores", "a b 0.9 target\na c 0.1 nontarget\n");
    let empty = write("empty.scores", "# nothing\n");
    let no_non = write("tgt.scores", "a b 0.9 target\na c 0.8 1\n");
    let no_tgt = write("non.scores", "a b 0.9 nontarget\n");
    let bare = write("bare.scores", "a b 0.9\n");
    let bad = write("bad.scores", "a b x target\n");
    let pairs = write("pairs.txt", "a b\n");
    let other = write("other.txt", "x y target\n");
    let out = dir.path().join("det.svg");
    let pdf = dir.path().join("det.pdf");
    let deep = dir.path().join("no/such/dir/det.svg");
    let [out_s, pdf_s, deep_s] = [&out, &pdf, &deep].map(|p| p.to_str().unwrap());
    let cases: Vec<(Vec<&str>, &str, i32, &str)> = vec![
        (vec![&good], pdf_s, 2, "unknown plot format"),
        (vec![&good], deep_s, 1, "No such file or directory"),
        (vec![&empty], out_s, 1, "empty.scores: no scores"),
        (vec![&no_non], out_s, 1, "no non-target trials"),
        (vec![&no_tgt], out_s, 1, "no target trials"),
        (
            vec![&bare],
            out_s,
            1,
            "a 4th column (target/nontarget) or --trials",
        ),
        (vec![&bad], out_s, 1, "bad.scores: line 1: invalid score"),
        (
            vec![&good, &good, "--names", "one"],
            out_s,
            1,
            "--names has 1 names for 2",
        ),
        (
            vec![&good, "--trials", &pairs],
            out_s,
            1,
            "no target/nontarget labels",
        ),
        (
            vec![&good, "--trials", &other],
            out_s,
            1,
            "(a b) is not in the trial list",
        ),
    ];
    for (args, output, want_code, want) in cases {
        let all: Vec<&str> = ["plot-det", "-o", output]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        let (code, _, err) = ecapa2(&all);
        assert_eq!(code, want_code, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        for p in [&out, &pdf, &deep] {
            assert!(!p.exists(), "{args:?} left {}", p.display());
        }
    }
}

/// `speech_16k.wav` rewritten as Sony Wave64, as RF64 and as a streamed WAV whose sizes were
/// never filled in: found in a folder by extension, decoded to the same samples, so embedded
/// to the same vector as the original (issue 13 items 4 and 5).
#[test]
fn wave64_rf64_and_streamed_wav_embed_like_the_original() {
    let wav = std::fs::read(root().join(SPEECH)).unwrap();
    assert_eq!((&wav[12..16], &wav[36..40]), (&b"fmt "[..], &b"data"[..]));
    let (fmt, data) = (&wav[20..36], &wav[44..]);

    let guid = |id: &[u8; 4]| {
        let tail = [
            0xF3, 0xAC, 0xD3, 0x11, 0x8C, 0xD1, 0x00, 0xC0, 0x4F, 0x8E, 0xDB, 0x8A,
        ];
        [&id[..], &tail].concat()
    };
    let w64_chunk = |id: &[u8; 4], body: &[u8]| {
        let mut c = [guid(id), (24 + body.len() as u64).to_le_bytes().to_vec()].concat();
        c.extend_from_slice(body);
        c.resize(c.len().next_multiple_of(8), 0);
        c
    };
    let chunks = [w64_chunk(b"fmt ", fmt), w64_chunk(b"data", data)].concat();
    let w64 = [
        &[
            0x72, 0x69, 0x66, 0x66, 0x2E, 0x91, 0xCF, 0x11, 0xA5, 0xD6, 0x28, 0xDB, 0x04, 0xC1, 0,
            0,
        ][..],
        &(40 + chunks.len() as u64).to_le_bytes(),
        &guid(b"wave"),
        &chunks,
    ]
    .concat();

    let ds64 = [
        &b"ds64"[..],
        &28u32.to_le_bytes(),
        &(4 + 36 + 24 + 8 + data.len() as u64).to_le_bytes(),
        &(data.len() as u64).to_le_bytes(),
        &[0; 12],
    ]
    .concat();
    let rf64 = [
        &b"RF64\xff\xff\xff\xffWAVE"[..],
        &ds64,
        &wav[12..36],
        b"data\xff\xff\xff\xff",
        data,
    ]
    .concat();

    // RIFF size 36 and data size 0, as a writer leaves them before it knows the length.
    let streamed = [
        &b"RIFF"[..],
        &36u32.to_le_bytes(),
        &wav[8..40],
        &0u32.to_le_bytes(),
        data,
    ]
    .concat();

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.w64"), w64).unwrap();
    std::fs::write(dir.path().join("b.rf64"), rf64).unwrap();
    std::fs::write(dir.path().join("c.wav"), streamed).unwrap();
    let folder = dir.path().to_str().unwrap();
    let (code, out, err) = ecapa2(&["embed", "--model", MODEL, SPEECH, folder]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let keys: Vec<&str> = rows.iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert!(
        keys[1].ends_with("a.w64") && keys[2].ends_with("b.rf64") && keys[3].ends_with("c.wav"),
        "{keys:?}"
    );
    let vector = |r: &serde_json::Value| -> Vec<f64> {
        r["vector"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let original = vector(&rows[0]);
    for r in &rows[1..] {
        // Same samples, same model: the same vector (tolerance only for float printing).
        let worst = vector(r)
            .iter()
            .zip(&original)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst <= 1e-6, "{}: max |diff| {worst}", r["key"]);
    }
    // The streamed file's header is repaired with one warning naming it; the others are clean.
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains("c.wav") && warnings[0].contains("data size is 0"),
        "{err}"
    );
}
