#!/usr/bin/env python3
"""Build an ECAPA2 TorchScript fixture (random but realistic weights) plus golden outputs.

    python reference/make_fixture.py --config tiny --out tests/fixtures/tiny
    python reference/make_fixture.py --config full --out bench/out/full
    python reference/make_fixture.py --broken --out tests/fixtures/broken

Steps for a model fixture:
 1. build ECAPA2(config) with torch.manual_seed(seed) (PyTorch default init); BN affine
    weight ~ U(0.75, 1.25), bias ~ N(0, 0.1); the last BN (bn3) of each LFE block that has
    a skip path gets its weight scaled x0.3 (keeps the deep random stack from being
    chaotic); the pooling attention's last conv is scaled x1.5 so the softmax over time
    is clearly non-uniform (but far from one-hot);
 2. calibrate BN running stats self-consistently in eval mode on a batch of synthetic
    audio, perturbed slightly (mean += 0.05 std N(0,1), var *= U(0.9, 1.1)); see
    calibrate_bn for why plain train-mode re-estimation was not good enough;
 3. check conditioning in eval mode (no NaN/Inf, per-BN output scale, attention weights,
    SE gates, embeddings of different inputs distinct);
 4. torch.jit.script -> DIR/model.pt, reload with torch.jit.load, check it matches eager;
 5. goldens from the RELOADED model, fp32, CPU, plain op-by-op execution
    (torch.jit.optimized_execution(False): no profiling executor / fusion): DIR/golden/<case>.audio.npy (B,N) and
    DIR/golden/<case>.<label>.npy (B,D) for each single label, 'all' and 'reorder';
    DIR/golden/manifest.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
import warnings
import zlib
from typing import Dict, List, Tuple

from torch import Tensor

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ecapa2_ref as ref  # noqa: E402

warnings.filterwarnings("ignore", category=FutureWarning)  # torch.jit.script deprecation

ALL_LABEL = "gfe_1|gfe_2|pool|attention|embedding"
REORDER_LABEL = "embedding|gfe_1|pool"
REORDER_EQUIV = "gfe_1|pool|embedding"

CASES: List[Tuple[str, int, int]] = [  # (name, batch, samples)
    ("len321", 1, 321),  # the minimum valid length
    ("len4000", 1, 4000),  # 0.25 s
    ("len8037", 1, 8037),  # not a multiple of the hop
    ("len16000", 1, 16000),  # 1 s
    ("len48000", 1, 48000),  # 3 s
    ("batch2_len12345", 2, 12345),
]
NOISE_LO_HI = (0.5, 1.0)  # white-noise level vs the sinusoids (before peak normalisation)
RESIDUAL_BRANCH_SCALE = 0.3  # bn3.weight of blocks with a skip path (see randomise_weights)
VAR_FLOOR = 0.1  # see calibrate_bn
UTT_VAR_FLOOR = 0.1  # see calibrate_bn
ATT_LOGIT_SCALE = 1.5  # mean max attention weight ~0.15 at T=100 (1.0: ~0.07, 3.0: ~0.4)
FULL_CASES = {"len16000", "batch2_len12345", "len48000"}


# --------------------------------------------------------------------------------------
# Deterministic synthetic audio
# --------------------------------------------------------------------------------------
def synth_audio(seed: int, tag: str, batch: int, samples: int, sr: int = 16000) -> np.ndarray:
    """A mix of amplitude-modulated sinusoids + a chirp + white noise, peak 0.5, float32.

    Depends only on (seed, tag, batch, samples), so adding cases never changes others.
    """
    rng = np.random.default_rng([seed, zlib.crc32(tag.encode())])
    t = np.arange(samples, dtype=np.float64) / sr
    out = np.empty((batch, samples), dtype=np.float32)
    for b in range(batch):
        x = np.zeros(samples)
        for _ in range(int(rng.integers(3, 7))):
            f = math.exp(rng.uniform(math.log(80.0), math.log(5000.0)))
            am = 1.0 + 0.6 * np.sin(2 * np.pi * rng.uniform(0.5, 6.0) * t + rng.uniform(0, 2 * np.pi))
            x += rng.uniform(0.2, 1.0) * am * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
        f0, f1 = rng.uniform(100, 600), rng.uniform(1000, 7000)  # linear chirp
        dur = max(t[-1], 1.0 / sr)
        x += 0.3 * np.sin(2 * np.pi * (f0 * t + 0.5 * (f1 - f0) / dur * t * t))
        x += rng.uniform(*NOISE_LO_HI) * rng.standard_normal(samples)
        out[b] = (0.5 * x / np.max(np.abs(x))).astype(np.float32)
    return out


# --------------------------------------------------------------------------------------
# Realistic weights
# --------------------------------------------------------------------------------------
def bn_modules(model: nn.Module) -> List[Tuple[str, nn.modules.batchnorm._BatchNorm]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def randomise_weights(model: ref.ECAPA2, gen: torch.Generator) -> None:
    with torch.no_grad():
        for _, bn in bn_modules(model):
            bn.weight.copy_(torch.empty_like(bn.weight).uniform_(0.75, 1.25, generator=gen))
            bn.bias.copy_(0.1 * torch.randn(bn.bias.shape, generator=gen))
        # Make the attention logits vary more over time (default init gives a nearly uniform
        # softmax, which would leave the attention path poorly tested).
        model.pooling_1.attention[3].weight.mul_(ATT_LOGIT_SCALE)
        # Residual branches of a trained ResNet are small next to the skip path (small last-BN
        # gammas). With full-size branches this random 20-block stack is chaotic (~1.4x
        # perturbation gain per block, ~1000x over the LFE): fp32 rounding alone then moved
        # outputs by ~1e-3 relative vs fp64, too loose for a parity fixture. x0.3 gives ~5e-6
        # (taps) to ~5e-5 (attention / embedding), the floor set by log(P + 1e-6) of weak bins.
        for name, block in model.named_children():
            if name.startswith("conv_") and name not in ("conv_1", "conv_10"):
                block.bn3.weight.mul_(RESIDUAL_BRANCH_SCALE)


class _StopForward(Exception):
    pass


def calibrate_bn(model: ref.ECAPA2, cfg: ref.ECAPA2Config, seed: int, batches: List[Tuple[int, int]],
                 gen: torch.Generator) -> Dict[str, float]:
    """Set BN running stats from the activations each BN actually sees in eval mode.

    Exact, self-consistent calibration, layer by layer in execution order: for each BN,
    every calibration batch (synthetic audio of several lengths: short inputs have noisier
    per-utterance means and must be represented) is run in eval mode through the layers
    above it, whose stats are already final; a forward pre-hook accumulates the BN input's
    mean and unbiased variance (over all axes but channels) and aborts the forward pass.
    The stats are then floored (see below), perturbed slightly (mean += 0.05 std N(0,1),
    var *= U(0.9, 1.1): not exactly the calibration-set statistics) and committed.
    With a single batch this is done in one pass (a hook commits the stats before the BN
    normalises), which is equivalent.

    Tried first and rejected: (1) train mode with momentum=None, as in ordinary BN
    re-estimation: train-mode BN removes per-batch shifts that eval mode keeps, and tdnn_2's
    1-D SE BatchNorm then gave eval-mode outputs with std ~150; (2) a single 1 s batch:
    shorter test inputs then drove the fwSE network's deep SE BatchNorms 100-1000 std off;
    (3) fixed-point sweeps over several batches: did not converge on the fwSE network.

    Returns the worst-case 'amplification' |mean|/std of each BN input (relative fp32 error
    gain), for the record.
    """
    bns = dict(bn_modules(model))
    model.eval()
    audios = [torch.from_numpy(synth_audio(seed, f"calib{i}", b, n, cfg.sample_rate))
              for i, (b, n) in enumerate(batches)]
    # execution order of the BN layers
    order: List[str] = []
    hooks = [bn.register_forward_pre_hook(lambda _m, _i, name=name: order.append(name))
             for name, bn in bns.items()]
    try:
        with torch.no_grad():
            model(audios[-1][:, :4000] if audios[-1].shape[1] > 4000 else audios[-1], "embedding")
    finally:
        for h in hooks:
            h.remove()
    assert sorted(order) == sorted(bns), "every BN must run exactly once per forward"

    def commit(name: str, bn, s1: Tensor, s2: Tensor, n: int, is_utt: bool) -> float:
        mean = s1 / n
        var = ((s2 - n * mean * mean) / max(n - 1, 1)).clamp_min(0.0)
        # Variance floor. (a) Utterance-level vectors (SE squeeze, pooled stats) hardly vary
        # between utterances in a random-weight net; (b) CRB order puts ReLU *before* BN, so a
        # channel (nearly) dead on the calibration set gets running_var ~ 0. A BN fitted to
        # such a tiny spread amplifies fp32 rounding and any unusual input enormously. So each
        # channel's std is floored at VAR_FLOOR * max(|its mean|, RMS magnitude of the layer
        # input): the fp32 error gain |x|/std stays <= ~1/VAR_FLOOR (the RMS term covers
        # near-dead ReLU units whose mean and spread are both ~0).
        frac = UTT_VAR_FLOOR if is_utt else VAR_FLOOR
        rms = (mean.pow(2) + var).mean().sqrt()
        var = torch.maximum(var, (frac * torch.clamp(mean.abs(), min=rms)).pow(2))
        c = bn.num_features
        mean = mean + 0.05 * var.sqrt() * torch.randn(c, generator=gen, dtype=torch.float64)
        var = var * torch.empty(c, dtype=torch.float64).uniform_(0.9, 1.1, generator=gen)
        bn.running_mean.copy_(mean.float())
        bn.running_var.copy_(var.float())
        bn.num_batches_tracked.fill_(1000)
        return float((mean.abs() / (var + bn.eps).sqrt()).max())

    def moments(x: Tensor) -> Tuple[Tensor, Tensor, int, bool]:
        x = x.detach().double()
        dims = [d for d in range(x.dim()) if d != 1]
        return x.sum(dims), (x * x).sum(dims), x.numel() // x.shape[1], x.dim() == 2

    amp: Dict[str, float] = {}
    with torch.no_grad():
        if len(audios) == 1:
            def one_pass(name):
                def hook(bn, inputs):
                    amp[name] = commit(name, bn, *moments(inputs[0]))
                return hook
            hooks = [bn.register_forward_pre_hook(one_pass(name)) for name, bn in bns.items()]
            try:
                model(audios[0], "embedding")
            finally:
                for h in hooks:
                    h.remove()
        else:
            for name in order:
                bn = bns[name]
                acc: List = []

                def stop(_bn, inputs):
                    s1, s2, n, is_utt = moments(inputs[0])
                    if acc:
                        acc[0] += s1
                        acc[1] += s2
                        acc[2] += n
                    else:
                        acc.extend([s1, s2, n, is_utt])
                    raise _StopForward

                h = bn.register_forward_pre_hook(stop)
                try:
                    for audio in audios:
                        try:
                            model(audio, "embedding")
                        except _StopForward:
                            pass
                finally:
                    h.remove()
                amp[name] = commit(name, bn, *acc)
    return amp


def check_conditioning(model: ref.ECAPA2, audios: Dict[str, torch.Tensor]) -> Dict[str, object]:
    """Eval-mode sanity checks; raises on failure, returns a small summary.

    * no NaN/Inf in any output;
    * every BN output has std in [0.05, 20] for inputs of >= 10 frames (inputs of a few
      frames, e.g. len321 = 3 frames, are far outside the calibration distribution: their
      SE BatchNorms see inputs up to ~100 std away, which only saturates the sigmoid gates;
      they get a loose bound of 1000);
    * SE gates are not constant;
    * attention softmax over time is not one-hot (mean over channels of the max weight);
    * residual branches neither dominate nor vanish next to their skip path (std ratio);
    * embeddings of different inputs are distinct and no embedding dim dominates.
    """
    records: Dict[str, Dict[str, float]] = {}
    current = [""]
    hooks = []

    def rec(name: str, fn):
        def hook(_m, _inp, out):
            d = records.setdefault(current[0], {})
            d[name] = max(d.get(name, 0.0), float(fn(out)))
        return hook

    for name, bn in bn_modules(model):
        hooks.append(bn.register_forward_hook(rec("bn:" + name, lambda o: o.std())))
    for name, m in model.named_modules():
        if isinstance(m, nn.Sigmoid):
            hooks.append(m.register_forward_hook(rec("gate_std:" + name, lambda o: o.std())))
    for name, block in model.named_children():
        if name.startswith("conv_") and name not in ("conv_1", "conv_10"):
            hooks.append(block.register_forward_hook(
                lambda _m, inp, out, name=name: records.setdefault(current[0], {}).__setitem__(
                    "branch/skip:" + name, float(out.std() / inp[0].std()))))
    hooks.append(model.pooling_1.attention.register_forward_hook(
        rec("att_max", lambda o: torch.softmax(o, dim=2).max(dim=2).values.mean())))
    hooks.append(model.pooling_1.attention.register_forward_hook(rec("frames", lambda o: o.shape[2])))
    embs = {}
    try:
        with torch.no_grad():
            for k, a in audios.items():
                current[0] = k
                out = model(a, ALL_LABEL)
                if not torch.isfinite(out).all():
                    raise RuntimeError(f"non-finite output for {k}")
                embs[k] = out[:, -model.dense_2.fc.out_features:]
    finally:
        for h in hooks:
            h.remove()

    summary: Dict[str, object] = {}
    bn_range = [math.inf, -math.inf, "", ""]
    for case, d in records.items():
        frames = int(d["frames"])
        bn_std = {k[3:]: v for k, v in d.items() if k.startswith("bn:")}
        lo = min(bn_std.items(), key=lambda kv: kv[1])
        hi = max(bn_std.items(), key=lambda kv: kv[1])
        bound = 20.0 if frames >= 10 else 1000.0
        if hi[1] > bound or lo[1] < 0.05:
            raise RuntimeError(f"{case}: BN output scale out of range: {lo} {hi}")
        if frames >= 10:
            if lo[1] < bn_range[0]:
                bn_range[0], bn_range[2] = lo[1], f"{lo[0]} ({case})"
            if hi[1] > bn_range[1]:
                bn_range[1], bn_range[3] = hi[1], f"{hi[0]} ({case})"
        else:
            summary[f"bn_output_std_max_{case}"] = [round(hi[1], 2), hi[0]]
        gate = min(v for k, v in d.items() if k.startswith("gate_std:"))
        if gate < 0.005 and frames >= 10:
            raise RuntimeError(f"{case}: an SE gate is (nearly) constant (std {gate})")
        if d["att_max"] > 0.5 and frames >= 10:
            raise RuntimeError(f"{case}: attention softmax close to one-hot: mean max weight {d['att_max']:.3f}")
        summary.setdefault("attention_mean_max_weight_vs_uniform", {})[case] = [
            round(d["att_max"], 4), round(1.0 / frames, 4)]
        summary.setdefault("se_gate_std_min", {})[case] = round(gate, 4)
        ratios = [v for k, v in d.items() if k.startswith("branch/skip:")]
        summary.setdefault("residual_branch_over_skip_std", {})[case] = [round(min(ratios), 3), round(max(ratios), 3)]
        if frames >= 10 and (max(ratios) > 3.0 or min(ratios) < 0.02):
            raise RuntimeError(f"{case}: a residual block dominates or vanishes: {min(ratios)} {max(ratios)}")
    summary["bn_output_std_range_T_ge_10"] = [round(bn_range[0], 3), round(bn_range[1], 3), bn_range[2], bn_range[3]]

    allv = torch.cat([e.reshape(-1, e.shape[-1]) for e in embs.values()], 0)
    cos = torch.nn.functional.cosine_similarity(allv.unsqueeze(0), allv.unsqueeze(1), dim=-1)
    off = cos[~torch.eye(len(allv), dtype=torch.bool)]
    if off.max() > 0.995:
        raise RuntimeError(f"embeddings of different inputs nearly identical (cos {off.max():.4f})")
    share = (allv.pow(2).mean(0) / allv.pow(2).mean(0).sum()).max()
    if share > 0.5:
        raise RuntimeError(f"one embedding dimension dominates ({share:.2f} of the energy)")
    summary["embedding_cos_offdiag_max"] = round(float(off.max()), 4)
    summary["embedding_cos_offdiag_mean"] = round(float(off.mean()), 4)
    summary["embedding_max_dim_energy_share"] = round(float(share), 4)
    return summary


# --------------------------------------------------------------------------------------
# Fixture
# --------------------------------------------------------------------------------------
def build_model(config: str, seed: int) -> Tuple[ref.ECAPA2, ref.ECAPA2Config]:
    cfg = ref.CONFIGS[config]
    torch.manual_seed(seed)
    model = ref.build(cfg)
    gen = torch.Generator().manual_seed(seed + 1)
    randomise_weights(model, gen)
    if config == "full":  # layer-by-layer over several batches would take ~100 forwards
        calib = [(6, 16000)]
    else:
        calib = [(6, 16000), (6, 4000), (6, 8000), (6, 2000), (6, 32000), (6, 12000)]
    amp = calibrate_bn(model, cfg, seed, calib, gen)
    worst = sorted(amp.items(), key=lambda kv: -kv[1])[:5]
    print("[calib] largest |mean|/std of a BN input: " + ", ".join(f"{k}={v:.1f}" for k, v in worst))
    return model, cfg


def make_fixture(config: str, out: str, seed: int) -> None:
    t_start = time.time()
    torch.set_num_threads(2 if config == "full" else 1)  # shared 2-core machine: keep lean
    model, cfg = build_model(config, seed)
    nparams = ref.count_parameters(model)
    print(f"[{config}] parameters: {nparams:,}")
    if config == "full":
        assert nparams == ref.FULL_PARAM_COUNT

    cases = [c for c in CASES if config != "full" or c[0] in FULL_CASES]
    audios = {name: torch.from_numpy(synth_audio(seed, name, b, n, cfg.sample_rate)) for name, b, n in cases}
    t0 = time.time()
    cond = check_conditioning(model, {k: v for k, v in audios.items() if k != "len48000" or config != "full"})
    print(f"[{config}] conditioning ({time.time() - t0:.1f}s): {json.dumps(cond)}")

    os.makedirs(os.path.join(out, "golden"), exist_ok=True)
    path = os.path.join(out, "model.pt")
    torch.jit.script(model).save(path)
    loaded = torch.jit.load(path, map_location="cpu")
    loaded.eval()

    model64 = copy.deepcopy(model).double().eval()
    fp64_err: Dict[str, Dict] = {}
    dims = cfg.label_dims()
    labels = list(ref.LABELS)
    manifest_cases = []
    timings = {}
    with torch.inference_mode(), torch.jit.optimized_execution(False):
        # reloaded archive == eager reference
        a = audios[cases[0][0]]
        d = (loaded(a, ALL_LABEL) - model(a, ALL_LABEL)).abs().max().item()
        assert d == 0.0 or d < 1e-5, f"reloaded archive differs from eager model by {d}"
        for name, b, n in cases:
            audio = audios[name]
            g = lambda suffix, arr: np.save(os.path.join(out, "golden", f"{name}.{suffix}.npy"),
                                            np.ascontiguousarray(arr, dtype=np.float32))
            g("audio", audio.numpy())
            outs = {}
            t0 = time.time()
            outs["embedding"] = loaded(audio, "embedding")
            timings[name] = round(time.time() - t0, 3)
            for lab in labels:
                if lab not in outs:
                    outs[lab] = loaded(audio, lab)
            outs["all"] = loaded(audio, ALL_LABEL)
            outs["reorder"] = loaded(audio, REORDER_LABEL)
            equiv = loaded(audio, REORDER_EQUIV)
            for lab in labels:
                assert outs[lab].shape == (b, dims[lab]), (lab, outs[lab].shape)
            assert torch.equal(outs["reorder"], equiv), "label order must not matter"
            cat = torch.cat([outs[lab] for lab in labels], dim=1)
            assert torch.allclose(outs["all"], cat, rtol=1e-6, atol=1e-6), "'all' != concat of singles"
            assert torch.isfinite(outs["all"]).all()
            for k, v in outs.items():
                g(k, v.numpy())
            if config != "full" or name == "len16000":
                # fp32 golden vs the same weights in fp64: the achievable error floor
                with torch.jit.optimized_execution(True):
                    ref64 = model64(audio.double(), ALL_LABEL)
                err = {}
                off = 0
                for lab in labels:
                    d = dims[lab]
                    r = ref64[:, off:off + d]
                    e = (outs["all"][:, off:off + d].double() - r).abs()
                    err[lab] = {"max_abs": float(e.max()), "max_rel_to_maxabs": float(e.max() / r.abs().max())}
                    off += d
                fp64_err[name] = err
            manifest_cases.append({"name": name, "batch": b, "samples": n})
            worst = max((v["max_rel_to_maxabs"], k) for k, v in fp64_err.get(name, {"-": {"max_rel_to_maxabs": 0}}).items())
            print(f"[{config}] {name}: B={b} N={n} embedding call {timings[name]:.3f}s; "
                  f"fp32 vs fp64 worst rel err {worst[0]:.2e} ({worst[1]})")
        # unknown labels must raise
        for bad in ["bogus", "embedding|bogus", "", "Embedding"]:
            try:
                loaded(audios[cases[0][0]], bad)
            except Exception:
                pass
            else:
                raise AssertionError(f"label {bad!r} should have raised")

    all_dim = sum(dims.values())
    manifest = {
        "config_name": config,
        "seed": seed,
        "config": cfg.to_dict(),
        "derived": {
            "freq_bins": cfg.freq_bins,
            "lfe_freqs": cfg.lfe_freqs(),
            "flat_channels": cfg.flat_channels,
            "param_count": nparams,
            "log_eps": 1e-6,
            "pool_std_eps": 1e-5,
        },
        "cases": manifest_cases,
        "labels": dims,
        "composite_labels": {
            "all": {"label": ALL_LABEL, "dim": all_dim},
            "reorder": {"label": REORDER_LABEL, "equals": REORDER_EQUIV,
                        "dim": dims["gfe_1"] + dims["pool"] + dims["embedding"]},
        },
        "conditioning": cond,
        "fp32_vs_fp64": fp64_err,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
    }
    with open(os.path.join(out, "golden", "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(out) for fn in fns)
    print(f"[{config}] wrote {out}: {size / 1e6:.2f} MB in {time.time() - t_start:.1f}s "
          f"(model.pt {os.path.getsize(path) / 1e6:.2f} MB)")


# --------------------------------------------------------------------------------------
# Broken archives (the Rust loader must reject them with a clear error)
# --------------------------------------------------------------------------------------
class ECAPA2SEBlock2d(nn.Module):
    """Channel SE that lacks fc2 (same class name as the real one, different module path)."""

    def __init__(self, in_channels: int, hidden: int, eps: float = 1e-5):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(output_size=1)
        self.fc1 = nn.Linear(in_channels, hidden)
        self.relu = nn.ReLU()
        self.bn1 = nn.BatchNorm1d(hidden, eps=eps)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, _, _ = x.size()
        w = self.sigmoid(self.bn1(self.relu(self.fc1(self.avg_pool(x).view([b, c])))))
        return x * w.mean(dim=1).view([b, 1, 1, 1])


def make_broken(out: str, seed: int) -> None:
    os.makedirs(out, exist_ok=True)
    cfg = ref.CONFIGS["tiny"]

    torch.manual_seed(seed)
    m = ref.build(cfg).eval()
    wrong_in = cfg.c2 * (cfg.lfe_freqs()[-1] - 1)  # 12*15 = 180 instead of 12*16 = 192
    m.tdnn_1.conv = nn.Conv1d(wrong_in, cfg.tdnn, kernel_size=1, bias=True)
    torch.jit.script(m).save(os.path.join(out, "wrong_shape.pt"))

    torch.manual_seed(seed)
    m = ref.build(cfg).eval()
    m.conv_3.se = ECAPA2SEBlock2d(cfg.c1, cfg.se_hidden, eps=cfg.bn_eps)
    torch.jit.script(m).save(os.path.join(out, "missing_tensor.pt"))

    torch.manual_seed(seed)
    m = ref.build(cfg).eval()
    tmp = os.path.join(out, "_full.tmp")
    torch.jit.script(m).save(tmp)
    with open(tmp, "rb") as f:
        data = f.read()
    os.remove(tmp)
    with open(os.path.join(out, "truncated.pt"), "wb") as f:
        f.write(data[: len(data) // 2])
    for fn in sorted(os.listdir(out)):
        print(f"[broken] {fn}: {os.path.getsize(os.path.join(out, fn))} bytes")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=sorted(ref.CONFIGS), help="model configuration")
    p.add_argument("--broken", action="store_true", help="write the broken archives instead")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, default=20240116)
    args = p.parse_args()
    if args.broken:
        make_broken(args.out, args.seed)
    elif args.config:
        make_fixture(args.config, args.out, args.seed)
    else:
        p.error("give --config or --broken")


if __name__ == "__main__":
    main()
