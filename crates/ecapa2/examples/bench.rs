//! Wall-clock benchmark of the engine, the Rust twin of `bench/torch_bench.py`, and the
//! full-size parity check.
//!
//! ```text
//! cargo run --release -p ecapa2 --example bench -- --model bench/out/full/model.pt \
//!     --threads 2 --lengths 1,3,10,60 --batch8 3 --repeats 5 --out bench/out/ours.json \
//!     [--t0 "$(date +%s.%N)"] [--warmup 1] [--precision bf16]
//! cargo run --release -p ecapa2 --example bench -- --parity bench/out/full [--threads 2] \
//!     [--out parity.json] [--tolerance 1e-4] [--precision bf16 [--min-cosine 0.999]]
//! ```
//!
//! Benchmark mode measures (wall clock, `std::time::Instant`):
//! * cold start: from `--t0` (epoch seconds taken by the shell just before launching this
//!   process) — or, without it, from the start of `main` — to the first embedding of 1 s of
//!   audio, model load included; split into load and first call.
//! * batch 1 at each length in `--lengths` (seconds of 16 kHz audio) through `embed`, and batch
//!   8 × `--batch8` seconds through `features_batch(.., LabelSet::embedding())` (0 skips it):
//!   `--warmup` untimed calls (default 1), then `--repeats` timed calls; median, min, max, the
//!   real-time factor (median / seconds of audio in the call) and the effective GFLOP/s
//!   (2 × 130.6 GMAC per second of audio, the direct-convolution count, / median).
//! * peak RSS (`VmHWM` in `/proc/self/status`), after each case and at the end.
//! * with `--precision bf16`: after the timings (and the peak RSS), an fp32 model is loaded
//!   too and each case's minimum cosine similarity of the bf16 embedding to the fp32 one is
//!   reported, like `torch_bench.py --bf16` does for autocast.
//!
//! Parity mode loads `DIR/model.pt`, runs every case of `DIR/golden/manifest.json` for every
//! label file (single labels and the composite ones) and prints the relative L2 error
//! ‖ours − golden‖ / ‖golden‖ of each feature block, worst over the rows of the case. Exits
//! with status 1 when any block exceeds `--tolerance`. With `--precision bf16` the verdict is
//! instead the cosine similarity of each embedding row to the golden fp32 one (at least
//! `--min-cosine`, default 0.999); the errors are still listed.
//!
//! Only std, serde_json and the workspace crates: no argument-parser or RNG dependency.

#[path = "../tests/common/mod.rs"]
mod common;
use common::rel_l2;
use ecapa2::{Ecapa2, Execution, Label, LabelSet, Options, Precision, TilePlan};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

const SR: usize = 16_000;
/// Direct-convolution multiply-accumulates per second of audio for the released architecture
/// (the spec's count); effective FLOPs = 2 × MACs, scaled linearly with audio length and batch.
const GMAC_PER_AUDIO_SECOND: f64 = 130.6;

fn main() {
    let start = Instant::now();
    let start_epoch = epoch_now();
    let args = match Args::parse(std::env::args().skip(1).collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let result = match &args.parity {
        Some(dir) => parity(dir, &args),
        None => bench(&args, start, start_epoch),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

const USAGE: &str = "usage: bench --model PATH [--threads N] [--max-memory SIZE] [--lengths 1,3,10,60] [--batch8 SECONDS] \
[--repeats R] [--warmup W] [--out JSON] [--t0 EPOCH] [--precision f32|bf16]\n       bench --parity DIR [--threads N] [--tiled FRAMES] [--out JSON] [--tolerance T] [--precision f32|bf16] [--min-cosine C]";

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct Args {
    model: Option<PathBuf>,
    parity: Option<PathBuf>,
    threads: Option<usize>,
    max_memory: Option<usize>,
    tiled: Option<usize>,
    lengths: Vec<f64>,
    batch8: f64,
    repeats: usize,
    warmup: usize,
    out: Option<PathBuf>,
    t0: Option<f64>,
    tolerance: f64,
    precision: Precision,
    min_cosine: f64,
}

impl Args {
    fn parse(argv: Vec<String>) -> Res<Self> {
        let mut a = Args {
            model: None,
            parity: None,
            threads: None,
            max_memory: None,
            tiled: None,
            lengths: vec![1.0, 3.0, 10.0, 60.0],
            batch8: 3.0,
            repeats: 5,
            warmup: 1,
            out: None,
            t0: None,
            tolerance: 1e-4,
            precision: Precision::F32,
            min_cosine: 0.999,
        };
        let mut it = argv.into_iter();
        while let Some(flag) = it.next() {
            if flag == "-h" || flag == "--help" {
                println!("{USAGE}");
                std::process::exit(0);
            }
            let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--model" => a.model = Some(value()?.into()),
                "--parity" => a.parity = Some(value()?.into()),
                "--threads" => {
                    a.threads = Some(value()?.parse().map_err(|e| format!("--threads: {e}"))?)
                }
                "--max-memory" => {
                    let v = value()?;
                    a.max_memory =
                        Some(ecapa2::parse_size(&v).ok_or_else(|| {
                            format!("--max-memory {v:?}: expected a size like 2G")
                        })?)
                }
                "--tiled" => a.tiled = Some(value()?.parse().map_err(|e| format!("--tiled: {e}"))?),
                "--lengths" => {
                    a.lengths = value()?
                        .split(',')
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| {
                            s.trim()
                                .parse::<f64>()
                                .map_err(|e| format!("--lengths {s:?}: {e}"))
                        })
                        .collect::<Result<_, _>>()?
                }
                "--batch8" => a.batch8 = value()?.parse().map_err(|e| format!("--batch8: {e}"))?,
                "--repeats" => {
                    a.repeats = value()?.parse().map_err(|e| format!("--repeats: {e}"))?
                }
                "--warmup" => a.warmup = value()?.parse().map_err(|e| format!("--warmup: {e}"))?,
                "--out" => a.out = Some(value()?.into()),
                "--t0" => a.t0 = Some(value()?.parse().map_err(|e| format!("--t0: {e}"))?),
                "--tolerance" => {
                    a.tolerance = value()?.parse().map_err(|e| format!("--tolerance: {e}"))?
                }
                "--precision" => {
                    let v = value()?;
                    a.precision = Precision::parse(&v)
                        .ok_or_else(|| format!("--precision {v:?}: expected f32 or bf16"))?
                }
                "--min-cosine" => {
                    a.min_cosine = value()?.parse().map_err(|e| format!("--min-cosine: {e}"))?
                }
                other => return Err(format!("unknown argument {other:?}").into()),
            }
        }
        if a.model.is_none() && a.parity.is_none() {
            return Err("one of --model or --parity is required".into());
        }
        if a.repeats == 0 {
            return Err("--repeats must be at least 1".into());
        }
        Ok(a)
    }
}

fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Peak resident set size of this process so far, in MiB (`VmHWM`), or NaN off Linux.
fn peak_rss_mb() -> f64 {
    status_kb("VmHWM:")
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn status_kb(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// splitmix64: a tiny deterministic generator, enough for test audio.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Deterministic test audio like torch_bench.py's `synth`: white noise plus four sinusoids,
/// normalised to peak 0.5. Not sample-identical to numpy's, which does not matter for timing.
fn synth(seconds: f64, batch: usize, seed: u64) -> Vec<Vec<f32>> {
    let n = (seconds * SR as f64).round() as usize;
    let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x1234_5678);
    (0..batch)
        .map(|_| {
            let mut x: Vec<f64> = (0..n).map(|_| 0.5 * rng.normal()).collect();
            for _ in 0..4 {
                let (amp, freq, phase) = (
                    rng.range(0.2, 1.0),
                    rng.range(100.0, 4000.0),
                    rng.range(0.0, 6.3),
                );
                let w = 2.0 * std::f64::consts::PI * freq / SR as f64;
                for (i, v) in x.iter_mut().enumerate() {
                    *v += amp * (w * i as f64 + phase).sin();
                }
            }
            let peak = x.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-12);
            x.iter().map(|v| (0.5 * v / peak) as f32).collect()
        })
        .collect()
}

fn stats(times: &[f64]) -> Value {
    let mut s = times.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = if s.len() % 2 == 1 {
        s[s.len() / 2]
    } else {
        0.5 * (s[s.len() / 2 - 1] + s[s.len() / 2])
    };
    json!({
        "median_s": median,
        "min_s": s[0],
        "max_s": s[s.len() - 1],
        "mean_s": s.iter().sum::<f64>() / s.len() as f64,
        "n": s.len(),
        "all_s": s,
    })
}

fn bench(args: &Args, start: Instant, start_epoch: f64) -> Res<()> {
    let path = args.model.as_ref().expect("checked in parse");
    let mut options = Options::new().precision(args.precision);
    if let Some(t) = args.threads {
        options = options.threads(t);
    }
    if let Some(m) = args.max_memory {
        options = options.max_memory(m);
    }

    // ---- cold start: load + first 1 s embedding --------------------------------------
    let one_sec = synth(1.0, 1, 1).pop().unwrap();
    let t_load0 = Instant::now();
    let model = Ecapa2::load_with(path, options.clone())?;
    let t_load1 = Instant::now();
    let emb = model.embed(&one_sec)?;
    let t_first = Instant::now();
    let now = epoch_now();
    let (cold, origin) = match args.t0 {
        Some(t0) => (now - t0, "--t0 (caller's process start)"),
        None => ((t_first - start).as_secs_f64(), "start of main"),
    };
    let load_s = (t_load1 - t_load0).as_secs_f64();
    let first_s = (t_first - t_load1).as_secs_f64();
    println!(
        "cold start {cold:.3}s (load {load_s:.3}s, first 1 s call {first_s:.3}s), threads {}, simd {}, backend {}, precision {}",
        model.threads(),
        ecapa2_kernels::SimdLevel::best().name(),
        model.backend_name(),
        model.precision()
    );
    let mut result = json!({
        "engine": "ecapa2-rs",
        "engine_version": env!("CARGO_PKG_VERSION"),
        "model": std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()).display().to_string(),
        "model_bytes": std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        "threads": model.threads(),
        "label": "embedding",
        "simd": ecapa2_kernels::SimdLevel::best().name(),
        "precision_requested": args.precision.name(),
        "precision": model.precision().name(),
        "cpu_features": ecapa2_kernels::cpu::features().to_string(),
        "warmup": args.warmup,
        "repeats": args.repeats,
        "gmac_per_audio_second": GMAC_PER_AUDIO_SECOND,
        "cold_start": {
            "total_s": cold,
            "origin": origin,
            "exec_startup_s": args.t0.map(|t0| start_epoch - t0),
            "load_s": load_s,
            "first_call_1s_s": first_s,
            "output_shape": [1, emb.len()],
        },
        "peak_rss_after_load_mb": peak_rss_mb(),
        "cases": [],
    });

    // ---- warm timings ----------------------------------------------------------------
    let mut cases: Vec<(usize, f64)> = args.lengths.iter().map(|&s| (1, s)).collect();
    if args.batch8 > 0.0 {
        cases.push((8, args.batch8));
    }
    for (batch, seconds) in cases {
        let audio = synth(seconds, batch, 2);
        let rows: Vec<&[f32]> = audio.iter().map(|r| r.as_slice()).collect();
        let mut times = Vec::with_capacity(args.repeats);
        for i in 0..args.warmup + args.repeats {
            let t0 = Instant::now();
            let outcome = if batch == 1 {
                model.embed(rows[0]).map(|v| drop(std::hint::black_box(v)))
            } else {
                model
                    .features_batch(&rows, LabelSet::embedding())
                    .map(|v| drop(std::hint::black_box(v)))
            };
            let dt = t0.elapsed().as_secs_f64();
            if let Err(e) = outcome {
                // Keep what was measured, and say why this case has no timings (e.g. too long
                // for the machine's memory), then fail.
                result["failed_case"] = json!({
                    "name": format!("b{batch}_{seconds}s"),
                    "batch": batch,
                    "seconds": seconds,
                    "error": e.to_string(),
                    "after_s": dt,
                });
                result["peak_rss_mb"] = json!(peak_rss_mb());
                write_json(args.out.as_deref(), &result)?;
                return Err(e.into());
            }
            if i >= args.warmup {
                times.push(dt);
            }
        }
        let st = stats(&times);
        let median = st["median_s"].as_f64().unwrap();
        let audio_s = batch as f64 * seconds;
        let gflop = 2.0 * GMAC_PER_AUDIO_SECOND * audio_s;
        let mut case = json!({
            "name": format!("b{batch}_{seconds}s"),
            "batch": batch,
            "seconds": seconds,
            "samples": audio[0].len(),
            "dtype": model.precision().name(),
            "rtf_median": median / audio_s,
            "audio_seconds_per_second": audio_s / median,
            "gflop_per_call": gflop,
            "gflops_median": gflop / median,
            "peak_rss_mb_so_far": peak_rss_mb(),
        });
        for (k, v) in st.as_object().unwrap() {
            case[k] = v.clone();
        }
        println!(
            "{:>10}: median {:.4}s  [min {:.4}, max {:.4}]  RTF {:.4}  {:.0} GFLOP/s  rss {:.0} MB",
            case["name"].as_str().unwrap(),
            median,
            case["min_s"].as_f64().unwrap(),
            case["max_s"].as_f64().unwrap(),
            median / audio_s,
            gflop / median,
            case["peak_rss_mb_so_far"].as_f64().unwrap()
        );
        result["cases"].as_array_mut().unwrap().push(case);
    }
    result["peak_rss_mb"] = json!(peak_rss_mb());
    println!("peak RSS {:.0} MB", peak_rss_mb());
    if model.precision() != Precision::F32 {
        compare_to_fp32(path, &options, &model, &mut result)?;
    }
    write_json(args.out.as_deref(), &result)
}

/// Cosine similarity of the reduced-precision embeddings to fp32 ones, per timed case (on the
/// same audio), after the timings: the fp32 model is loaded only now.
fn compare_to_fp32(path: &Path, options: &Options, model: &Ecapa2, result: &mut Value) -> Res<()> {
    let fp32 = Ecapa2::load_with(path, options.clone().precision(Precision::F32))?;
    for case in result["cases"].as_array_mut().ok_or("no cases")? {
        let (batch, seconds) = (
            case["batch"].as_u64().unwrap_or(1) as usize,
            case["seconds"].as_f64().unwrap_or(0.0),
        );
        let audio = synth(seconds, batch, 2);
        let rows: Vec<&[f32]> = audio.iter().map(|r| r.as_slice()).collect();
        let ours = model.features_batch(&rows, LabelSet::embedding())?;
        let reference = fp32.features_batch(&rows, LabelSet::embedding())?;
        let cos = min_cosine(ours.iter().zip(reference.iter()))?;
        println!(
            "{:>10}: cosine to fp32 (min over rows) {cos:.6}",
            case["name"].as_str().unwrap_or("")
        );
        case["cosine_vs_fp32_min"] = json!(cos);
    }
    Ok(())
}

/// The smallest cosine similarity over pairs of rows.
fn min_cosine<'a>(mut pairs: impl Iterator<Item = (&'a [f32], &'a [f32])>) -> Res<f64> {
    pairs.try_fold(1.0f64, |worst, (a, b)| {
        Ok(worst.min(ecapa2_eval::scoring::cosine_similarity(a, b)?))
    })
}

fn write_json(out: Option<&Path>, value: &Value) -> Res<()> {
    if let Some(out) = out {
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(out, serde_json::to_string_pretty(value)? + "\n")?;
        println!("-> {}", out.display());
    }
    Ok(())
}

fn npy(path: &Path) -> Res<(usize, usize, Vec<f32>)> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let m = ecapa2_eval::embeddings::npy::read_f32_matrix(&bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((m.rows, m.cols, m.data))
}

fn parity(dir: &Path, args: &Args) -> Res<()> {
    let t = Instant::now();
    let mut options = Options::new()
        .precision(args.precision)
        // Forces the long-input path with this many frames per tile.
        .execution(match args.tiled {
            Some(tile_frames) => Execution::Tiled(TilePlan {
                tile_frames,
                spill: None,
            }),
            None => Execution::Auto,
        });
    if let Some(t) = args.threads {
        options = options.threads(t);
    }
    let model = Ecapa2::load_with(dir.join("model.pt"), options)?;
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("golden/manifest.json"))?)?;
    // Label files: every single label, then the composites the manifest lists ("all", "reorder").
    let mut label_files: Vec<(String, LabelSet)> = Label::ALL
        .iter()
        .map(|l| (l.id().to_string(), LabelSet::from_labels([*l])))
        .collect();
    if let Some(comp) = manifest["composite_labels"].as_object() {
        for (file, spec) in comp {
            let label = spec["label"]
                .as_str()
                .ok_or("composite label without a label string")?;
            label_files.push((file.clone(), label.parse::<LabelSet>()?));
        }
    }
    let by_cosine = model.precision() != Precision::F32;
    println!(
        "parity: {} vs {}/golden (threads {}, precision {}{})",
        dir.join("model.pt").display(),
        dir.display(),
        model.threads(),
        model.precision(),
        if by_cosine {
            format!(": verdict by embedding cosine >= {}", args.min_cosine)
        } else {
            String::new()
        }
    );
    println!(
        "{:<18} {:<10} {:<10} {:>4} {:>12}",
        "case", "file", "block", "rows", "rel L2"
    );
    let mut rows_out = Vec::new();
    let mut worst = 0.0f64;
    let mut worst_cosine = 1.0f64;
    let mut failed = 0usize;
    for case in manifest["cases"]
        .as_array()
        .ok_or("manifest has no cases")?
    {
        let case = case["name"].as_str().ok_or("case without a name")?;
        let (batch, n, audio) = npy(&dir.join(format!("golden/{case}.audio.npy")))?;
        let rows: Vec<&[f32]> = audio.chunks_exact(n).collect();
        for (file, labels) in &label_files {
            let golden_path = dir.join(format!("golden/{case}.{file}.npy"));
            if !golden_path.exists() {
                println!("{case:<18} {file:<10} (no golden file, skipped)");
                continue;
            }
            let (b, d, golden) = npy(&golden_path)?;
            if b != batch || d != model.dim(*labels) {
                return Err(format!(
                    "{case}/{file}: golden is {b}x{d}, expected {batch}x{}",
                    model.dim(*labels)
                )
                .into());
            }
            let ours = model.features_batch(&rows, *labels)?;
            let mut offset = 0;
            for label in labels.iter() {
                let w = label.dim(&model);
                let err = ours
                    .iter()
                    .zip(golden.chunks_exact(d))
                    .map(|(got, want)| rel_l2(&got[offset..offset + w], &want[offset..offset + w]))
                    .fold(0.0f64, f64::max);
                let cos = min_cosine(
                    ours.iter()
                        .zip(golden.chunks_exact(d))
                        .map(|(got, want)| (&got[offset..offset + w], &want[offset..offset + w])),
                )?;
                offset += w;
                worst = worst.max(err);
                let ok = if by_cosine {
                    let judged = label == Label::Embedding;
                    if judged {
                        worst_cosine = worst_cosine.min(cos);
                    }
                    !judged || cos >= args.min_cosine
                } else {
                    err <= args.tolerance
                };
                failed += usize::from(!ok);
                println!(
                    "{case:<18} {file:<10} {:<10} {batch:>4} {err:>12.3e}  cos {cos:.6}{}",
                    label.id(),
                    if ok { "" } else { "  FAIL" }
                );
                rows_out.push(json!({"case": case, "file": file, "block": label.id(), "rows": batch, "rel_l2": err, "cosine_min": cos}));
            }
        }
    }
    let verdict = if failed == 0 { "PASS" } else { "FAIL" };
    if by_cosine {
        println!(
            "worst embedding cosine {worst_cosine:.6} (minimum {}): {verdict}, worst relative L2 {worst:.3e}, {} blocks; {:.1}s",
            args.min_cosine,
            rows_out.len(),
            t.elapsed().as_secs_f64()
        );
    } else {
        println!(
            "worst relative L2 {worst:.3e} (tolerance {:.0e}): {verdict}, {} blocks, {failed} over; {:.1}s",
            args.tolerance,
            rows_out.len(),
            t.elapsed().as_secs_f64()
        );
    }
    let result = json!({
        "model": dir.join("model.pt").display().to_string(),
        "param_count": manifest["derived"]["param_count"],
        "config_name": manifest["config_name"],
        "threads": model.threads(),
        "tolerance": args.tolerance,
        "precision": model.precision().name(),
        "min_cosine": by_cosine.then_some(args.min_cosine),
        "worst_embedding_cosine": worst_cosine,
        "worst_rel_l2": worst,
        "failed_blocks": failed,
        "verdict": verdict,
        "blocks": rows_out,
        "elapsed_s": t.elapsed().as_secs_f64(),
    });
    write_json(args.out.as_deref(), &result)?;
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
