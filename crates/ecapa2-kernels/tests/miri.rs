//! Small shapes through every kernel path, sized so that Miri can interpret them
//! (`cargo +nightly miri test -p ecapa2-kernels --test miri`): the im2col tiles' raw-pointer
//! writes, the direct and Winograd kernels' portable paths (the only ones Miri runs: it reports
//! no SIMD extensions), the per-worker scratch, and parallel tiles on a 2-worker pool, where
//! Miri also checks for data races. Natively the same test checks the results against the
//! f64 reference at whatever SIMD level the CPU has.

use ecapa2_kernels::{naive, Algorithm, Conv3x3, CpuContext, Epilogue, Pointwise, Precision};

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 1000.0 - 0.5
        })
        .collect()
}

fn max_rel_err(got: &[f32], want: &[f32]) -> f32 {
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs() / scale)
        .fold(0.0, f32::max)
}

#[test]
fn every_conv_path_on_small_shapes() {
    let ctx = CpuContext::new(2).unwrap();
    // (cin, cout, h, w, stride, algorithm): direct (cin ≤ 4), im2col, Winograd incl. stride 2.
    let cases = [
        (1, 4, 5, 9, 1, Algorithm::Direct),
        (3, 5, 4, 7, 2, Algorithm::Im2col),
        (
            16,
            8,
            5,
            9,
            1,
            Algorithm::Winograd(ecapa2_kernels::SimdLevel::Avx512),
        ),
        (
            16,
            6,
            6,
            6,
            2,
            Algorithm::Winograd(ecapa2_kernels::SimdLevel::Avx512),
        ),
    ];
    for (cin, cout, h, w, s, algorithm) in cases {
        let x = values(cin * h * w, 1);
        let wt = values(cout * cin * 9, 2);
        let ep = Epilogue {
            bias: Some(values(cout, 3)),
            relu: true,
            affine: Some((vec![0.5; cout], values(cout, 4))),
        };
        let conv = Conv3x3::with_algorithm(
            &ctx,
            &wt,
            cout,
            cin,
            s,
            ep.clone(),
            algorithm,
            Precision::F32,
        );
        let ho = conv.out_height(h);
        let mut y = vec![f32::NAN; cout * ho * w];
        conv.forward(&ctx, &x, h, w, &mut y);
        let (mut r, _, _) = naive::conv2d(&x, (cin, h, w), &wt, (cout, 3, 3), None, (s, 1), (1, 1));
        for c in 0..cout {
            ep.apply(c, &mut r[c * ho * w..(c + 1) * ho * w]);
        }
        let err = max_rel_err(&y, &r);
        assert!(
            err < 1e-5,
            "{algorithm:?} cin {cin} h {h} w {w} s {s}: {err:e}"
        );
    }
}

#[test]
fn pointwise_and_strided_projection() {
    let ctx = CpuContext::new(2).unwrap();
    let (cin, cout, h, w) = (6, 4, 5, 3);
    let wt = values(cout * cin, 5);
    let p = Pointwise::new(&wt, cout, cin, Epilogue::default());
    let x = values(cin * h * w, 6);
    let mut y = vec![0.0; cout * 3 * w];
    p.forward_strided_rows(&ctx, &x, h, w, 2, &mut y);
    let (r, _, _) = naive::conv2d(&x, (cin, h, w), &wt, (cout, 1, 1), None, (2, 1), (0, 0));
    assert!(max_rel_err(&y, &r) < 1e-5);
    let mut z = vec![0.0; cout * h * w];
    p.forward(&ctx, &x, h * w, &mut z);
    let (r, _, _) = naive::conv2d(&x, (cin, h, w), &wt, (cout, 1, 1), None, (1, 1), (0, 0));
    assert!(max_rel_err(&z, &r) < 1e-5);
}
