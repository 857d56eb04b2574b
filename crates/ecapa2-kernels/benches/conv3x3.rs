//! 3×3 convolution micro-benchmark at ECAPA2's real shapes.
//!
//! `cargo bench -p ecapa2-kernels --bench conv3x3 -- [--threads 1,2] [--reps N] [--secs S]
//! [--algos im2col,direct,wino512,wino2,winop] [--shapes 0,1,...]`
//!
//! Prints, per shape, algorithm and thread count: best and median milliseconds and GFLOP/s on
//! `2·Cout·Cin·9·Ho·W` (the direct-convolution count, whatever the algorithm does), plus the
//! max |difference| to the im2col result relative to its max |value|.
//! Compare with `benches/torch_conv.py` (same shapes) run right before or after on the same
//! machine.

use ecapa2_kernels::{Algorithm, Conv3x3, CpuContext, Epilogue, Precision, SimdLevel};
use std::time::Instant;

/// (label, cin, cout, h, w, stride_h)
const SHAPES: [(&str, usize, usize, usize, usize, usize); 6] = [
    ("1->164 256x100", 1, 164, 256, 100, 1),
    ("164->164 256x100", 164, 164, 256, 100, 1),
    ("164->164 s2 256x100", 164, 164, 256, 100, 2),
    ("164->164 64x300", 164, 164, 64, 300, 1),
    ("192->192 32x300", 192, 192, 32, 300, 1),
    ("192->192 16x1000", 192, 192, 16, 1000, 1),
];

fn pseudo_random(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5) * scale
        })
        .collect()
}

/// CPU time of the whole process (all threads), in seconds: with other jobs on the machine
/// this is steadier than wall time (time-slicing does not count, cache sharing still does).
fn process_cpu_seconds() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: plain libc call writing into a valid struct (Linux x86_64/aarch64 layout).
    unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.sec as f64 + ts.nsec as f64 * 1e-9
}

fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|s| s.as_str())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads: Vec<usize> = arg(&args, "--threads")
        .unwrap_or("1,2")
        .split(',')
        .map(|t| t.parse().expect("--threads"))
        .collect();
    let reps: usize = arg(&args, "--reps").map_or(10, |r| r.parse().expect("--reps"));
    let secs: f64 = arg(&args, "--secs").map_or(1.0, |r| r.parse().expect("--secs"));
    let algos: Vec<&str> = arg(&args, "--algos")
        .unwrap_or("im2col,direct,wino512,wino2")
        .split(',')
        .collect();
    let shapes: Vec<usize> = arg(&args, "--shapes").map_or((0..SHAPES.len()).collect(), |s| {
        s.split(',').map(|i| i.parse().expect("--shapes")).collect()
    });
    println!(
        "cpu: {} (best level {})",
        ecapa2_kernels::cpu::features(),
        SimdLevel::best().name()
    );
    println!(
        "{:<22} {:<18} {:>3} {:>9} {:>10} {:>8} {:>11} {:>9}",
        "shape", "algorithm", "thr", "best ms", "median ms", "GFLOP/s", "cpu GFLOP/s", "rel diff"
    );
    for &si in &shapes {
        let (label, cin, cout, h, w, s) = SHAPES[si];
        let x = pseudo_random(cin * h * w, 1, 2.0);
        let wt = pseudo_random(cout * cin * 9, 2, 2.0 * (3.0 / (9.0 * cin as f32)).sqrt());
        let ep = Epilogue {
            bias: Some(pseudo_random(cout, 3, 0.2)),
            relu: true,
            affine: Some((
                pseudo_random(cout, 4, 1.0)
                    .iter()
                    .map(|v| v + 1.0)
                    .collect(),
                pseudo_random(cout, 5, 0.5),
            )),
        };
        let mut reference: Option<Vec<f32>> = None;
        for &name in &algos {
            let algo = match name {
                "im2col" => Algorithm::Im2col,
                "direct" if cin <= 4 => Algorithm::Direct,
                "wino512" if cin >= 16 && SimdLevel::best() >= SimdLevel::Avx512 => {
                    Algorithm::Winograd(SimdLevel::Avx512)
                }
                "wino2" if cin >= 16 && SimdLevel::best() >= SimdLevel::Avx2 => {
                    Algorithm::Winograd(SimdLevel::Avx2)
                }
                "winop" if cin >= 16 => Algorithm::Winograd(SimdLevel::Portable),
                _ => continue,
            };
            let build = CpuContext::new(threads.iter().copied().max().unwrap_or(1)).unwrap();
            let conv = Conv3x3::with_algorithm(
                &build,
                &wt,
                cout,
                cin,
                s,
                ep.clone(),
                algo,
                Precision::F32,
            );
            let ho = conv.out_height(h);
            let flop = 2.0 * (cout * cin * 9 * ho * w) as f64;
            let mut y = vec![0.0f32; cout * ho * w];
            for &t in &threads {
                let ctx = CpuContext::new(t).unwrap();
                let mut times = Vec::new();
                let mut cpu = Vec::new();
                ctx.install(|| {
                    conv.forward(&ctx, &x, h, w, &mut y);
                    let start = Instant::now();
                    while times.len() < reps || start.elapsed().as_secs_f64() < secs {
                        let (t0, c0) = (Instant::now(), process_cpu_seconds());
                        conv.forward(&ctx, &x, h, w, &mut y);
                        times.push(t0.elapsed().as_secs_f64());
                        cpu.push(process_cpu_seconds() - c0);
                        if times.len() >= 1000 {
                            break;
                        }
                    }
                });
                times.sort_by(|a, b| a.partial_cmp(b).unwrap());
                cpu.sort_by(|a, b| a.partial_cmp(b).unwrap());
                // Per-thread GFLOP/s from CPU time, times the thread count: what the run would
                // reach on otherwise idle cores (spinning rayon workers count as busy).
                let cpu_rate = flop / (cpu[0] / t as f64) / 1e9;
                let (best, median) = (times[0], times[times.len() / 2]);
                let diff = match &reference {
                    None => {
                        reference = Some(y.clone());
                        0.0
                    }
                    Some(r) => {
                        let max = r.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                        let d = r
                            .iter()
                            .zip(&y)
                            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
                        d / max
                    }
                };
                println!(
                    "{:<22} {:<18} {:>3} {:>9.2} {:>10.2} {:>8.1} {:>11.1} {:>9.1e}",
                    label,
                    conv.algorithm().name(),
                    t,
                    best * 1e3,
                    median * 1e3,
                    flop / best / 1e9,
                    cpu_rate,
                    diff
                );
            }
        }
    }
}
