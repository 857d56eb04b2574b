#!/usr/bin/env python3
"""Run one benchmark process and record what the machine did meanwhile (stdlib only).

    python3 bench/measure.py --out RUN.json [--limit-as-gb G] -- CMD ARG... {T0} ...

* Every argument that is exactly ``{T0}`` is replaced by the epoch time (seconds) taken just
  before the process is launched, so the benchmark can measure its cold start from there.
* Records: exit status (or signal), wall time, the child's CPU time (user + system) and peak
  RSS (``getrusage(RUSAGE_CHILDREN)``), and the machine's busy CPU time over the same interval
  from ``/proc/stat``. ``other_cores_avg`` = (machine busy − child CPU) / wall: how many cores
  *other* processes used on average while the benchmark ran (0 = quiet machine). ``/proc/loadavg``
  is sampled every 2 s as well.
* ``--limit-as-gb`` caps the child's address space (``RLIMIT_AS``) so that an input too large for
  the machine fails with an allocation error instead of waking the kernel's OOM killer.
The child's stdout/stderr pass through unchanged.
"""

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def busy_seconds():
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq + steal
    return busy / TICK, (busy + idle + iowait) / TICK


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--limit-as-gb", type=float, default=None)
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        p.error("no command")

    samples = []
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            samples.append(loadavg())
            stop.wait(2.0)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()

    def limit():
        if a.limit_as_gb:
            n = int(a.limit_as_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (n, n))

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, total0 = busy_seconds()
    load0 = loadavg()
    t0 = time.time()
    argv = [f"{t0:.6f}" if x == "{T0}" else x for x in cmd]
    p0 = time.perf_counter()
    proc = subprocess.Popen(argv, preexec_fn=limit)
    rc = proc.wait()
    wall = time.perf_counter() - p0
    busy1, total1 = busy_seconds()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    stop.set()
    th.join()
    samples.append(loadavg())

    child_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    machine_busy = busy1 - busy0
    ncpu = os.cpu_count() or 1
    result = {
        "cmd": argv,
        "rc": rc,
        "signal": signal.Signals(-rc).name if rc < 0 else None,
        "limit_as_gb": a.limit_as_gb,
        "wall_s": wall,
        "child_cpu_s": child_cpu,
        "child_cores_avg": child_cpu / wall if wall > 0 else None,
        "child_maxrss_mb": ru1.ru_maxrss / 1024.0,  # KiB on Linux; max over this script's children
        "machine_busy_s": machine_busy,
        "machine_cores": ncpu,
        "other_cpu_s": max(0.0, machine_busy - child_cpu),
        "other_cores_avg": max(0.0, machine_busy - child_cpu) / wall if wall > 0 else None,
        "loadavg1_start": load0,
        "loadavg1_min": min(samples),
        "loadavg1_median": statistics.median(samples),
        "loadavg1_max": max(samples),
        "loadavg1_samples": len(samples),
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"[measure] rc {rc}{' (' + result['signal'] + ')' if result['signal'] else ''}, wall {wall:.1f}s, "
          f"child {child_cpu / wall if wall else 0:.2f} cores, others {result['other_cores_avg'] or 0:.2f} cores, "
          f"maxrss {result['child_maxrss_mb']:.0f} MB", file=sys.stderr, flush=True)
    sys.exit(0 if rc == 0 else 1)


if __name__ == "__main__":
    main()
