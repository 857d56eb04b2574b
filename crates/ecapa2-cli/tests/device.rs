//! `--device cuda` where it cannot run (here: no GPU, and by default a build without the `cuda`
//! feature): every command that loads the model, `serve` included, fails at once with one
//! line naming the reason; the CPU's defaults (f32) are unchanged by the device flags.

mod common;

use common::{ecapa2, root};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MODEL: &str = "tests/fixtures/tiny/model.pt";
const SPEECH: &str = "tests/fixtures/audio/speech_16k.wav";

/// The one `error:` line of a refused CUDA load, after at most the experimental warning.
fn assert_one_line_cuda_error(code: i32, err: &str) {
    assert_ne!(code, 0, "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert!(errors[0].contains("cuda"), "{err}");
    if cfg!(feature = "cuda") {
        // The build has CUDA support: the machine lacks a driver, libraries or a device.
        let others: Vec<&str> = err.lines().filter(|l| !l.starts_with("error:")).collect();
        assert!(
            others.iter().all(|l| l.contains("experimental")),
            "only the experimental warning besides the error: {err}"
        );
    } else {
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(errors[0].contains("no CUDA support"), "{err}");
        assert!(errors[0].contains("--features cuda"), "{err}");
    }
}

/// Whether this run may have a usable GPU (a `cuda` build on a machine with a driver): then a
/// command that succeeds is not a failure of these tests.
fn gpu_may_run() -> bool {
    cfg!(feature = "cuda")
        && ["/dev/nvidiactl", "/dev/nvidia0"]
            .iter()
            .any(|p| std::path::Path::new(p).exists())
}

#[test]
fn cuda_embed_and_inspect_fail_with_one_line() {
    for args in [
        &["--device", "cuda", "embed", "--model", MODEL, SPEECH][..],
        &["--device", "cuda:1", "embed", "--model", MODEL, SPEECH],
        &["--device", "cuda", "inspect", MODEL],
        &["--device", "cuda", "inspect", "--brief", MODEL],
        &[
            "--device", "cuda", "score", "--model", MODEL, SPEECH, SPEECH,
        ],
        &[
            "--device",
            "cuda",
            "--precision",
            "f32",
            "--skip-self-check",
            "embed",
            "--model",
            MODEL,
            SPEECH,
        ],
    ] {
        let (code, out, err) = ecapa2(args);
        if code == 0 && gpu_may_run() {
            continue;
        }
        assert_one_line_cuda_error(code, &err);
        // inspect prints no module tree for an archive it never got to bind.
        assert!(out.is_empty(), "{args:?}: {out}");
    }
}

#[test]
fn a_bad_device_name_is_a_usage_error() {
    let (code, _, err) = ecapa2(&["--device", "cuda:x", "inspect", MODEL]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("expected cpu, cuda or cuda:N"), "{err}");
}

#[test]
fn serve_with_cuda_fails_at_startup() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecapa2"))
        .current_dir(root())
        .args([
            "--threads",
            "1",
            "--device",
            "cuda",
            "serve",
            "--model",
            MODEL,
        ])
        .args(["--addr", "127.0.0.1:0"])
        .env("HF_HUB_OFFLINE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ecapa2 serve");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(60) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let Some(status) = status else {
        // Still serving after a minute: it loaded on a real GPU.
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            gpu_may_run(),
            "serve --device cuda neither failed nor could run"
        );
        return;
    };
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.stdout.is_empty(), "it never listened");
    assert_one_line_cuda_error(status.code().unwrap_or(-1), &err);
}

#[test]
fn the_cpu_default_precision_is_still_f32() {
    // No --precision: the CPU's own default (f32), bit for bit the explicit one, no warning
    // about a lowered precision; the CUDA library folders change nothing on the CPU.
    let (code, default, err) = ecapa2(&["embed", "--model", MODEL, SPEECH]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("asked for"), "{err}");
    let (code, f32, err) = ecapa2(&["--precision", "f32", "embed", "--model", MODEL, SPEECH]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(default, f32);
    let out = Command::new(env!("CARGO_BIN_EXE_ecapa2"))
        .current_dir(root())
        .args(["--threads", "2", "--device", "cpu", "--skip-self-check"])
        .args(["embed", "--model", MODEL, SPEECH])
        .env("HF_HUB_OFFLINE", "1")
        .env("ECAPA2_CUDA_LIBRARY_PATH", "/nonexistent:/also/not")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), default);
    assert!(!err.contains("experimental"), "{err}");
}
