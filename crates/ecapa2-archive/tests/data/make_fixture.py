"""Regenerates tiny.pt, tiny_expected.json and tiny.safetensors (needs torch, and the
`safetensors` package for the last; CI does not run this).

    python crates/ecapa2-archive/tests/data/make_fixture.py

The module tree mimics what the ECAPA2 archive contains: Conv2d/BatchNorm/Linear (two
Conv2d with different strides so one class is mangled), a spectrogram-like module with
`Final` constants and a window buffer that is a view into a larger storage, a
non-contiguous view, f16/bf16/f64/i64 tensors and a few plain attributes.
"""
import json
import os
import struct
from typing import Dict, Final, List, Optional, Tuple

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)


class Spectrogram(nn.Module):
    n_fft: Final[int] = 511
    hop_length: Final[int] = 160
    win_length: Final[int] = 400
    power: Final[float] = 2.0
    center: Final[bool] = True
    pad_mode: Final[str] = "reflect"
    neg: Final[int] = -3
    tiny: Final[float] = 1.0e-5
    shape: Final[Tuple[int, int]] = (2, 1)
    nested: Final[Tuple[Tuple[int, float], str]] = ((1, 0.5), "a\"b")
    nothing: Final[Optional[int]] = None

    def __init__(self):
        super().__init__()
        # A 10-sample window living at offset 1 of a 13-element storage.
        self.register_buffer("window", torch.hann_window(12)[1:11])
        self.label = "spec"
        self.gains: List[float] = [0.5, 2.0]

    def forward(self, x):
        return x * self.window.sum() + self.n_fft


class Block(nn.Module):
    def __init__(self, stride):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, stride=stride, padding=1)
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x):
        return self.bn(self.conv(x))


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        base = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.25 - 1.0
        self.register_buffer("base", base)
        # Non-contiguous view sharing base's storage: shape (3, 2), strides (1, 4), offset 1.
        self.register_buffer("tview", base.t()[1:, 0:2])
        self.register_buffer("hf", torch.tensor([1.0, -2.5, 65504.0, 6.1e-5, 0.1], dtype=torch.float16))
        self.register_buffer("bf", torch.tensor([1.0, -3.140625, 0.1], dtype=torch.bfloat16))
        self.register_buffer("dbl", torch.tensor([[0.1, 1e-300], [-2.0, 3.0]], dtype=torch.float64))
        self.register_buffer("idx", torch.tensor([-1, 0, 2**40], dtype=torch.int64))
        self.register_buffer("scalar", torch.tensor(4.5))
        self.table: Dict[str, int] = {"a": 1, "b": 2}

    def forward(self, x):
        return x + self.base.sum() + self.tview.sum() + self.hf.float().sum() + self.dbl.float().sum()


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.spec = Spectrogram()
        self.conv_1 = Block((2, 1))
        self.conv_2 = Block((1, 1))
        self.mixed = Mixed()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        y = self.spec(x)
        y = self.conv_2(self.conv_1(y))
        return self.fc(y.mean(dim=(1, 2))) + self.mixed(x).sum()


def main():
    m = Tiny().eval()
    # Give the BN buffers non-trivial values.
    with torch.no_grad():
        for blk in (m.conv_1, m.conv_2):
            blk.bn.running_mean.uniform_(-1, 1)
            blk.bn.running_var.uniform_(0.5, 2)
            blk.bn.num_batches_tracked.fill_(7)
    s = torch.jit.script(m)
    path = os.path.join(HERE, "tiny.pt")
    torch.jit.save(s, path)

    loaded = torch.jit.load(path)
    expected = {}
    # Depth-first in stored order (the same order named_buffers/parameters of the
    # ScriptModule use is not guaranteed to be the pickle order, so list both kinds
    # by name and let the test look them up).
    for name, t in list(loaded.named_parameters()) + list(loaded.named_buffers()):
        entry = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape)}
        flat = t.detach().contiguous().reshape(-1)
        if t.dtype == torch.int64:
            entry["i64"] = [int(v) for v in flat.tolist()]
        # Bit patterns of the f32 conversion, so the check is exact without float parsing.
        f = flat.to(torch.float32)
        entry["f32_bits"] = [struct.unpack("<I", struct.pack("<f", v))[0] for v in f.tolist()]
        if t.dtype == torch.float64:
            entry["f64_bits"] = [struct.unpack("<Q", struct.pack("<d", v))[0] for v in flat.tolist()]
        entry["storage_offset"] = t.storage_offset()
        entry["stride"] = list(t.stride())
        expected[name] = entry
    with open(os.path.join(HERE, "tiny_expected.json"), "w") as fh:
        # One tensor per line keeps the file small and diffable.
        fh.write("{\n")
        lines = [f" {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(expected.items())]
        fh.write(",\n".join(lines))
        fh.write("\n}\n")

    # The same tensors written by the reference safetensors library, to check compatibility.
    try:
        from safetensors.torch import save_file
    except ImportError:
        print("safetensors not installed: tiny.safetensors not regenerated")
        return
    tensors = {n: t.detach().contiguous().clone() for n, t in list(loaded.named_parameters()) + list(loaded.named_buffers())}
    save_file(tensors, os.path.join(HERE, "tiny.safetensors"), metadata={"source": "make_fixture.py"})


if __name__ == "__main__":
    main()
