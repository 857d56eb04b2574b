"""Reference timings: torch conv2d (+ReLU+BatchNorm, eval) at the ECAPA2 3x3 shapes.

Run: /work/torchenv/bin/python crates/ecapa2-kernels/benches/torch_conv.py [--threads 2] [--reps 20]
Prints one row per shape: best and median wall milliseconds, GFLOP/s on 2*Cout*Cin*9*Ho*W from
the best wall time, and "cpu GFLOP/s" from the best process CPU time divided by the thread count
(steadier when other jobs share the machine; same definition as benches/conv3x3.rs).
"""
import argparse
import time

import torch
import torch.nn.functional as F

# (label, cin, cout, h, w, stride_h): the shapes benches/conv3x3.rs uses.
SHAPES = [
    ("1->164 256x100", 1, 164, 256, 100, 1),
    ("164->164 256x100", 164, 164, 256, 100, 1),
    ("164->164 s2 256x100", 164, 164, 256, 100, 2),
    ("164->164 64x300", 164, 164, 64, 300, 1),
    ("192->192 32x300", 192, 192, 32, 300, 1),
    ("192->192 16x1000", 192, 192, 16, 1000, 1),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--min-seconds", type=float, default=1.0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'shape':<22} {'best ms':>9} {'median ms':>10} {'GFLOP/s':>8} {'cpu GFLOP/s':>11}")
    with torch.inference_mode():
        for label, cin, cout, h, w, s in SHAPES:
            x = torch.randn(1, cin, h, w)
            wt = torch.randn(cout, cin, 3, 3) * (2.0 / (9 * cin)) ** 0.5
            b = torch.randn(cout)
            rm, rv = torch.randn(cout), torch.rand(cout) + 0.5
            g, beta = torch.randn(cout), torch.randn(cout)

            def run():
                y = F.conv2d(x, wt, b, stride=(s, 1), padding=1)
                y = F.relu(y)
                return F.batch_norm(y, rm, rv, g, beta, training=False)

            y = run()
            ho = y.shape[2]
            flop = 2.0 * cout * cin * 9 * ho * w
            for _ in range(3):
                run()
            times, cpu = [], []
            start = time.perf_counter()
            while len(times) < args.reps or time.perf_counter() - start < args.min_seconds:
                t0, c0 = time.perf_counter(), time.process_time()
                run()
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            times.sort()
            best, med = times[0], times[len(times) // 2]
            cpu_rate = flop / (min(cpu) / args.threads) / 1e9
            print(f"{label:<22} {best * 1e3:9.2f} {med * 1e3:10.2f} {flop / best / 1e9:8.1f} {cpu_rate:11.1f}")


if __name__ == "__main__":
    main()
