#!/usr/bin/env python3
"""Goldens for crates/ecapa2-diarize, from independent references.

- AHC: scipy.cluster.hierarchy.linkage + fcluster (average linkage on pdist cosine distances;
  centroid linkage on the Euclidean distances of L2-normalised rows, cut at sqrt(2 t)).
- NME-SC: a numpy implementation of Park et al. 2019 following NeMo's nmesc steps (written
  here from the paper/NeMo, not from the Rust code): eigenvalues (numpy.linalg.eigvalsh),
  the chosen p and speaker count, labels by deterministic farthest-first k-means.
- DER/JER: pyannote.metrics on pyannote.audio's sample.rttm against perturbed hypotheses,
  and md-eval-22 (Debian sctk) where installed.

Run with a venv holding numpy scipy pyannote.metrics:
    /work/venvs/diar/bin/python reference/diarize_goldens.py
Writes crates/ecapa2-diarize/tests/goldens/{clustering,der}.json.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "ecapa2-diarize", "tests", "goldens")
SAMPLE = os.path.join(ROOT, "tests", "fixtures", "diarization", "sample.rttm")
MD_EVAL = "/usr/lib/sctk/bin/md-eval.pl"


# ---------------------------------------------------------------- embedding sets
def clustered(rng, sizes, dim, spread):
    centres = rng.standard_normal((len(sizes), dim))
    rows = [centres[c] + spread * rng.standard_normal(dim) for c, s in enumerate(sizes) for _ in range(s)]
    order = rng.permutation(len(rows))  # speakers interleaved, as windows of a conversation
    return np.array(rows)[order].astype(np.float32)


def axis_set(pattern, dim):
    """Rows that are axis vectors: cosine distances exactly 0 or 1 (ties everywhere)."""
    x = np.zeros((len(pattern), dim), dtype=np.float32)
    for i, a in enumerate(pattern):
        x[i, a] = 1.0
    return x


def unit(x32):
    x = x32.astype(np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# ---------------------------------------------------------------- AHC (scipy)
def ahc_cases(x32):
    xn = unit(x32)
    out = []
    for method in ("average", "centroid"):
        if method == "average":
            z = linkage(pdist(xn, "cosine"), method="average")
        else:
            z = linkage(xn, method="centroid", metric="euclidean")
        cuts = []
        for t in (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0, 1.2):
            cut = t if method == "average" else np.sqrt(2 * t)
            cuts.append({"threshold": t, "labels": fcluster(z, cut, "distance").tolist()})
        maxclust = [
            {"k": k, "labels": fcluster(z, k, "maxclust").tolist()} for k in range(1, min(6, len(xn)) + 1)
        ]
        out.append({"linkage": method, "z": z.tolist(), "cuts": cuts, "maxclust": maxclust})
    return out


# ---------------------------------------------------------------- NME-SC (numpy)
def affinity(xn):
    s = xn @ xn.T
    lo, hi = s.min(), s.max()
    return (s - lo) / (hi - lo) if hi > lo else np.ones_like(s)


def p_values(n, r=0.25, volume=30):
    max_n = max(int(np.floor(n * r)), 2)
    steps = min(max_n, volume)
    vals = np.linspace(1, max_n, steps).astype(int)  # truncation, as torch's .type(int)
    return sorted(set(vals.tolist()))


def laplacian(a, p):
    n = len(a)
    x = np.zeros((n, n))
    for i in range(n):
        top = np.argsort(-a[i], kind="stable")[:p]
        x[i, top] = 1.0
    x = 0.5 * (x + x.T)
    np.fill_diagonal(x, 0.0)
    return np.diag(np.abs(x).sum(axis=1)) - x


def kmeans(rows, k):
    n = len(rows)
    k = max(1, min(k, n))
    centres = [rows[0].copy()]
    min_d = ((rows - rows[0]) ** 2).sum(axis=1)
    while len(centres) < k:
        i = int(np.argmax(min_d))  # first maximum
        centres.append(rows[i].copy())
        min_d = np.minimum(min_d, ((rows - rows[i]) ** 2).sum(axis=1))
    centres = np.array(centres)

    def assign():
        d = ((rows[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        return np.argmin(d, axis=1)  # first minimum

    labels = assign()
    for _ in range(300):
        for c in range(k):
            m = rows[labels == c]
            if len(m):
                centres[c] = m.mean(axis=0)
        nxt = assign()
        if np.array_equal(nxt, labels):
            break
        labels = nxt
    return labels


TIE = 1e-9  # gaps / g(p) within this (relative) are ties: the first wins


def first_max(values, scale):
    best = 0
    for i, v in enumerate(values):
        if v > values[best] + TIE * scale:
            best = i
    return best


def canonical(labels):
    seen = {}
    return [seen.setdefault(int(l), len(seen)) for l in labels]


def nmesc(x32, num=None, lo=None, hi=None, max_speakers=8):
    xn = unit(x32)
    n = len(xn)
    if num is not None:
        lo = hi = num
    lo = lo or 1
    hi = min(hi or max(max_speakers, lo), n)
    a = affinity(xn)
    best = None
    for p in p_values(n):
        lam = np.sort(np.linalg.eigvalsh(laplacian(a, p)))
        gaps = np.diff(lam)
        key = first_max(gaps[:hi], max(lam.max(), 1.0))
        g = (p / n) / (gaps[key] / (lam.max() + 1e-10) + 1e-10)
        if best is None or g < best[0] * (1 - TIE):
            best = (g, p, lam)
    _, p, lam = best
    gaps = np.diff(lam)
    k = lo if lo == hi else lo - 1 + first_max(gaps[lo - 1 : hi], max(lam[-1], 1.0)) + 1
    if k == 1:
        labels = [0] * n
    else:
        w, v = np.linalg.eigh(laplacian(a, p))
        labels = kmeans(v[:, np.argsort(w, kind="stable")[:k]], k)
    return {
        "num": num, "min": None if num else lo if lo != 1 else None, "max": None if num else hi,
        "p_values": p_values(n), "p": p, "k": k, "eigenvalues": lam.tolist(),
        "labels": canonical(labels),
    }


def clustering_goldens():
    rng = np.random.default_rng(21)
    sets = {
        "three_speakers": clustered(rng, [12, 10, 8], 16, 0.35),
        "two_unequal": clustered(rng, [30, 10], 24, 0.4),
        "four_speakers": clustered(rng, [15, 12, 10, 8], 32, 0.3),
        "one_speaker": clustered(rng, [20], 16, 0.3),
        "axis_ties": axis_set([0, 1, 0, 2, 1, 0, 2, 3, 3, 1, 0, 2], 4),
        "orthogonal_ties": axis_set([0, 1, 2, 3, 4, 5], 6),
    }
    cases = []
    for name, x in sets.items():
        case = {"name": name, "embeddings": x.astype(float).tolist(), "ahc": ahc_cases(x), "nmesc": []}
        if len(x) >= 8:
            case["nmesc"].append(nmesc(x))
            case["nmesc"].append(nmesc(x, num=3))
            case["nmesc"].append(nmesc(x, lo=2, hi=4))
            case["nmesc"].append(nmesc(x, hi=2))
        cases.append(case)
    return cases


# ---------------------------------------------------------------- DER (pyannote, md-eval)
def read_rttm(path):
    turns = []
    for line in open(path):
        f = line.split()
        if f and f[0] == "SPEAKER":
            turns.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    return turns


def hypotheses(ref):
    names = {"speaker90": "A", "speaker91": "B"}
    ident = [(s, e, names[l]) for s, e, l in ref]
    hyps = {
        "identity": ident,
        "relabelled": [(s, e, {"A": "B", "B": "A"}[l]) for s, e, l in ident],
        "shifted": [(s + 0.3, e + 0.3, l) for s, e, l in ident],
        "merged": [(s, e, "A") for s, e, _ in ident],
        "split": [x for s, e, l in ident for x in ((s, (s + e) / 2, l), ((s + e) / 2, e, l + "2"))],
        "empty": [],
        "overlapping": ident + [(5.0, 9.0, "C"), (12.0, 13.5, "B"), (20.0, 22.5, "A")],
    }
    # Non-overlapping output (what the pipeline produces): later turn wins in overlaps.
    excl = []
    for s, e, l in sorted(ident):
        if excl and excl[-1][1] > s:
            ps, pe, pl = excl.pop()
            if s > ps:
                excl.append((ps, s, pl))
            if pe > e:
                excl.append((s, e, l))
                excl.append((e, pe, pl))
                continue
        excl.append((s, e, l))
    hyps["exclusive"] = excl
    rng = np.random.default_rng(7)
    noisy = []
    for s, e, l in ident:
        a, b = s + rng.uniform(-0.4, 0.4), e + rng.uniform(-0.4, 0.4)
        if b > a:
            noisy.append((a, b, l if rng.uniform() > 0.2 else "C"))
    hyps["noisy"] = noisy
    return hyps


def annotation(turns):
    from pyannote.core import Annotation, Segment

    a = Annotation(uri="sample")
    for i, (s, e, l) in enumerate(turns):
        a[Segment(s, e), i] = l
    return a


def write_rttm(path, turns):
    with open(path, "w") as f:
        for s, e, l in turns:
            f.write(f"SPEAKER sample 1 {s:.6f} {e - s:.6f} <NA> <NA> {l} <NA> <NA>\n")


def md_eval(ref_path, hyp_turns, collar_pm, skip_overlap, uem_path):
    if not os.path.exists(MD_EVAL):
        return None
    with tempfile.TemporaryDirectory() as d:
        hyp = os.path.join(d, "hyp.rttm")
        write_rttm(hyp, hyp_turns)
        cmd = ["perl", MD_EVAL, "-r", ref_path, "-s", hyp, "-c", str(collar_pm), "-u", uem_path]
        if skip_overlap:
            cmd.append("-1")
        out = subprocess.run(cmd, capture_output=True, text=True).stdout

    def grab(label):
        m = re.search(label + r"\s*=\s*([0-9.]+)\s*secs", out)
        return float(m.group(1)) if m else None

    return {
        "total": grab("SCORED SPEAKER TIME"),
        "missed": grab("MISSED SPEAKER TIME"),
        "false_alarm": grab("FALARM SPEAKER TIME"),
        "confusion": grab("SPEAKER ERROR TIME"),
    }


def der_goldens():
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate, JaccardErrorRate

    ref_turns = read_rttm(SAMPLE)
    ref = annotation(ref_turns)
    uem_span = (0.0, 30.0)
    cases = []
    with tempfile.TemporaryDirectory() as d:
        # md-eval needs the file's exact RTTM text; times as in the fixture.
        ref_path = SAMPLE
        uem_path = os.path.join(d, "sample.uem")
        with open(uem_path, "w") as f:
            f.write(f"sample 1 {uem_span[0]:.3f} {uem_span[1]:.3f}\n")
        for name, hyp_turns in hypotheses(ref_turns).items():
            hyp = annotation(hyp_turns)
            for collar in (0.0, 0.5):
                for skip in (False, True):
                    for with_uem in (False, True):
                        uem = Timeline([Segment(*uem_span)]) if with_uem else None
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            der = DiarizationErrorRate(collar=collar, skip_overlap=skip)
                            c = der(ref, hyp, uem=uem, detailed=True)
                            jer = JaccardErrorRate(collar=collar, skip_overlap=skip)
                            j = jer(ref, hyp, uem=uem, detailed=True)
                        case = {
                            "hypothesis": name, "collar": collar, "skip_overlap": skip, "uem": list(uem_span) if with_uem else None,
                            "total": c["total"], "missed": c["missed detection"],
                            "false_alarm": c["false alarm"], "confusion": c["confusion"],
                            "der": c["diarization error rate"], "jer": j["jaccard error rate"],
                        }
                        if with_uem:
                            case["md_eval"] = md_eval(ref_path, hyp_turns, collar / 2, skip, uem_path)
                        cases.append(case)
    hyps = {k: [{"start": s, "end": e, "speaker": l} for s, e, l in v] for k, v in hypotheses(ref_turns).items()}
    return {"hypotheses": hyps, "cases": cases}


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "clustering.json"), "w") as f:
        json.dump(clustering_goldens(), f)
    with open(os.path.join(OUT, "der.json"), "w") as f:
        json.dump(der_goldens(), f, indent=0)
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
