#!/usr/bin/env python3
"""Load test of `ecapa2 serve` on loopback against the CLI on the same machine, same run.

1. CLI baseline: `ecapa2 embed` over N copies of a 3 s file; throughput = N·3 s / (t(N+1) − t(1)),
   so model loading is not counted.
2. Service: `ecapa2 serve`, then `loadgen` (32 clients, 60 s, the same 3 s file): status counts,
   transport failures, p50/p99 latency, audio-seconds per second; peak RSS of the server.
3. Overload: a queue of 8 against 64 clients: 503s with Retry-After, no timeouts, bounded RSS.

Needs `cargo build --release -p ecapa2-cli && cargo build --release -p ecapa2-server --example
loadgen`. Usage: bench/serve_load.py --model bench/out/full/model.pt [--threads 2] [--out FILE]
"""
import argparse, json, os, platform, struct, subprocess, sys, threading, time, urllib.request, wave

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/ecapa2")
LOADGEN = os.path.join(ROOT, "target/release/examples/loadgen")


def make_3s_wav(path):
    """The first 3.000 s of the committed speech fixture (speech2_16k.wav, 16 kHz mono PCM16)."""
    with wave.open(os.path.join(ROOT, "tests/fixtures/audio/speech2_16k.wav")) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1
        frames = w.readframes(48000)
    assert len(frames) == 96000, "fixture shorter than 3 s"
    with wave.open(path, "wb") as o:
        o.setnchannels(1), o.setsampwidth(2), o.setframerate(16000), o.writeframes(frames)


def cli_seconds(model, threads, files, out):
    t = time.perf_counter()
    subprocess.run([BIN, "--threads", str(threads), "-q", "embed", "--model", model, "-o", out] + files,
                   check=True)
    return time.perf_counter() - t


class Rss:
    """Samples a process's resident memory (VmRSS) every 100 ms; VmHWM at the end."""
    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0, False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def read(self, key):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith(key):
                        return int(line.split()[1]) * 1024
        except OSError:
            return 0
        return 0

    def run(self):
        while not self.stop:
            self.peak = max(self.peak, self.read("VmRSS:"))
            time.sleep(0.1)

    def finish(self):
        hwm = self.read("VmHWM:")
        self.stop = True
        return max(self.peak, hwm)


def start_server(model, threads, extra):
    p = subprocess.Popen([BIN, "--threads", str(threads), "serve", "--model", model, "--addr", "127.0.0.1:0",
                          "--licence", "random weights (benchmark)"] + extra,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline().strip()
    assert line.startswith("listening on "), line
    return p, line[len("listening on "):]


def loadgen(url, wav, clients, seconds):
    out = subprocess.run([LOADGEN, url, wav, str(clients), str(seconds)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--files", type=int, default=60, help="CLI baseline: copies of the 3 s file")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--out")
    a = ap.parse_args()
    work = os.path.join(ROOT, "bench/out/serve")
    os.makedirs(work, exist_ok=True)
    wav = os.path.join(work, "utt3s.wav")
    make_3s_wav(wav)
    npy = os.path.join(work, "cli.npy")

    t1 = cli_seconds(a.model, a.threads, [wav], npy)
    tn = cli_seconds(a.model, a.threads, [wav] * (a.files + 1), npy)
    cli = {"files": a.files, "t_1_s": t1, "t_n_plus_1_s": tn, "audio_s_per_s": a.files * 3.0 / (tn - t1)}
    print(f"CLI: {cli['audio_s_per_s']:.2f} audio-s/s ({a.files} × 3 s in {tn - t1:.1f} s after load)", flush=True)

    p, url = start_server(a.model, a.threads, [])
    info = json.load(urllib.request.urlopen(url + "/v1/model"))
    rss = Rss(p.pid)
    load = loadgen(url, wav, a.clients, a.seconds)
    load["peak_rss_bytes"] = rss.finish()
    metrics = urllib.request.urlopen(url + "/metrics").read().decode()
    load["batch_size_mean"] = (
        float(next(l.split()[-1] for l in metrics.splitlines() if l.startswith("ecapa2_batch_size_sum")))
        / max(1.0, float(next(l.split()[-1] for l in metrics.splitlines() if l.startswith("ecapa2_batch_size_count")))))
    p.terminate(), p.wait(timeout=120)
    print(f"serve: {json.dumps(load)}", flush=True)

    p, url = start_server(a.model, a.threads, ["--queue-len", "8"])
    rss = Rss(p.pid)
    over = loadgen(url, wav, 2 * a.clients, 20)
    over["peak_rss_bytes"] = rss.finish()
    p.terminate(), p.wait(timeout=120)
    print(f"overload: {json.dumps(over)}", flush=True)

    five_xx = sum(v for k, v in load["by_status"].items() if k.startswith("5"))
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "machine": platform.processor() or platform.machine(),
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
        "threads": a.threads, "backend": info["backend"], "cli": cli, "serve": load, "overload": over,
        "ratio_vs_cli": load["audio_s_per_s"] / cli["audio_s_per_s"],
        "zero_5xx": five_xx == 0, "zero_dropped": load["by_status"].get("transport_error", 0) == 0,
    }
    print(f"ratio service/CLI: {result['ratio_vs_cli']:.3f}; peak RSS {load['peak_rss_bytes'] / 2**20:.0f} MiB; "
          f"p50 {load['p50_ms']:.0f} ms, p99 {load['p99_ms']:.0f} ms; backend {info['backend']}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
