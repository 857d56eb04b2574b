"""Plain PyTorch reference implementation of ECAPA2 (see /work/shared/ecapa2-spec.md).

This is the executable form of the spec: the Rust engine is checked against goldens
produced by this code (scripted with ``torch.jit.script`` and reloaded).

Module structure, class names and attribute names follow the Kiwano port
(``mrouvier/kiwano``: ``kiwano/model/ecapa2.py``), which is the best public guess of what
the released TorchScript archive contains. The front-end mirrors
``torchaudio.transforms.Spectrogram`` (torchaudio is *not* required).

Everything here must stay TorchScript-compatible: type annotations, no Python-only
constructs in any ``forward``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


# Label names, in NETWORK order (the order in which outputs are concatenated).
LABELS: Tuple[str, ...] = ("gfe_1", "gfe_2", "pool", "attention", "embedding")
FULL_PARAM_COUNT = 27_107_708


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------
@dataclass
class ECAPA2Config:
    # LFE widths
    c1: int = 164  # stages 1-3 (conv_1 .. conv_9)
    c2: int = 192  # from conv_10 on
    se_hidden: int = 128  # SE bottleneck (LFE blocks and tdnn_2's 1-D SE)
    se_mode: str = "channel"  # "channel" (default) | "freq" (fwSE, LFE blocks only)
    # GFE / pooling / head widths
    tdnn: int = 1024
    res2net_scale: int = 8
    dense: int = 1536
    att_hidden: int = 128
    emb: int = 192
    # front-end
    sample_rate: int = 16000  # informational: the model never resamples
    n_fft: int = 511
    win_length: int = 400
    hop_length: int = 160
    window: str = "hamming"  # "hamming" | "hann" (both periodic, as torch.*_window default)
    # How the Spectrogram module declares its hyper-parameters in the archive:
    #  "torchaudio": exactly like torchaudio.transforms.Spectrogram: __constants__ =
    #                n_fft, win_length, hop_length, pad, power, normalized; center, pad_mode,
    #                onesided are plain attributes (stored in data.pkl).
    #  "final":      all of them (incl. center, pad_mode, onesided) are Final constants
    #                (only in code/, nothing in data.pkl but the window buffer).
    spec_constants: str = "torchaudio"
    # BatchNorm
    bn_eps: float = 1e-5

    # ---- derived quantities -----------------------------------------------------------
    @property
    def freq_bins(self) -> int:
        return self.n_fft // 2 + 1

    def lfe_freqs(self) -> List[int]:
        """Frequency rows at the output of each of the 5 stages (3x3 conv, pad 1, stride 2)."""
        f = self.freq_bins
        out = [f]
        for _ in range(4):
            f = (f - 1) // 2 + 1
            out.append(f)
        return out

    @property
    def flat_channels(self) -> int:
        return self.c2 * self.lfe_freqs()[-1]

    def label_dims(self) -> dict:
        return {
            "gfe_1": 2 * self.tdnn,
            "gfe_2": 2 * self.tdnn,
            "pool": 2 * self.dense,
            "attention": 2 * self.dense,
            "embedding": self.emb,
        }

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


CONFIGS = {
    "full": ECAPA2Config(),
    "tiny": ECAPA2Config(c1=8, c2=12, se_hidden=8, tdnn=64, dense=96, att_hidden=16, emb=32),
    "tiny-variant": ECAPA2Config(
        c1=8, c2=12, se_hidden=8, tdnn=64, dense=96, att_hidden=16, emb=32,
        n_fft=512, win_length=320, hop_length=128, window="hann", bn_eps=1e-3,
        spec_constants="final",
    ),
    # Widths of 16 and more: the engine's Winograd and SIMD kernels run here, as on the real
    # model (the tiny configs take the im2col/direct paths), at a few MB.
    "small": ECAPA2Config(c1=16, c2=24, se_hidden=8, tdnn=128, dense=192, att_hidden=16, emb=48),
    "tiny-fwse": ECAPA2Config(
        c1=8, c2=12, se_hidden=8, tdnn=64, dense=96, att_hidden=16, emb=32, se_mode="freq",
    ),
}


# --------------------------------------------------------------------------------------
# Front-end: torchaudio-style Spectrogram
# --------------------------------------------------------------------------------------
def spectrogram(
    waveform: Tensor,
    pad: int,
    window: Tensor,
    n_fft: int,
    hop_length: int,
    win_length: int,
    power: Optional[float],
    normalized: bool,
    center: bool = True,
    pad_mode: str = "reflect",
    onesided: bool = True,
) -> Tensor:
    """Same computation as torchaudio.functional.spectrogram (power spectrogram path)."""
    if pad > 0:
        waveform = F.pad(waveform, [pad, pad], "constant")
    shape = waveform.size()
    waveform = waveform.reshape(-1, shape[-1])
    # torch.stft pads a window shorter than n_fft *centrally* with zeros.
    spec_f = torch.stft(
        waveform,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=win_length,
        window=window,
        center=center,
        pad_mode=pad_mode,
        normalized=False,
        onesided=onesided,
        return_complex=True,
    )
    spec_f = spec_f.reshape(shape[:-1] + spec_f.shape[-2:])
    if normalized:
        spec_f = spec_f / window.pow(2.0).sum().sqrt()
    if power is not None:
        if power == 1.0:
            return spec_f.abs()
        return spec_f.abs().pow(power)
    return spec_f  # complex; not used by ECAPA2


def _make_window(kind: str, win_length: int) -> Tensor:
    if kind == "hamming":
        return torch.hamming_window(win_length)  # periodic: 0.54 - 0.46 cos(2 pi n / N)
    if kind == "hann":
        return torch.hann_window(win_length)  # periodic
    raise ValueError(f"unknown window {kind!r}")


class Spectrogram(nn.Module):
    """Like torchaudio.transforms.Spectrogram (same constants / attributes / buffer)."""

    __constants__ = ["n_fft", "win_length", "hop_length", "pad", "power", "normalized"]

    def __init__(
        self,
        n_fft: int = 511,
        win_length: int = 400,
        hop_length: int = 160,
        pad: int = 0,
        window: str = "hamming",
        power: Optional[float] = 2.0,
        normalized: bool = False,
        center: bool = True,
        pad_mode: str = "reflect",
        onesided: bool = True,
    ) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.win_length = win_length
        self.hop_length = hop_length
        self.register_buffer("window", _make_window(window, win_length))
        self.pad = pad
        self.power = power
        self.normalized = normalized
        self.center = center
        self.pad_mode = pad_mode
        self.onesided = onesided

    def forward(self, waveform: Tensor) -> Tensor:
        return spectrogram(
            waveform, self.pad, self.window, self.n_fft, self.hop_length, self.win_length,
            self.power, self.normalized, self.center, self.pad_mode, self.onesided,
        )


class SpectrogramFinal(Spectrogram):
    """Same computation; center / pad_mode / onesided are Final constants too."""

    __constants__ = [
        "n_fft", "win_length", "hop_length", "pad", "power", "normalized",
        "center", "pad_mode", "onesided",
    ]


# --------------------------------------------------------------------------------------
# LFE: 2-D convolutional blocks
# --------------------------------------------------------------------------------------
class ECAPA2SEBlock2d(nn.Module):
    """Channel-wise squeeze-excitation: squeeze = mean over F and T, one gate per channel."""

    def __init__(self, in_channels: int, out_channels: int, eps: float = 1e-5):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(output_size=1)
        self.fc1 = nn.Linear(in_channels, out_channels)
        self.relu = nn.ReLU()
        self.bn1 = nn.BatchNorm1d(out_channels, eps=eps)
        self.fc2 = nn.Linear(out_channels, in_channels)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        b, c, _, _ = x.size()
        w = self.avg_pool(x).view([b, c])
        w = self.fc1(w)
        w = self.relu(w)
        w = self.bn1(w)
        w = self.fc2(w)
        w = self.sigmoid(w)
        w = w.view([b, c, 1, 1])
        return x * w


class ECAPA2FwSEBlock2d(nn.Module):
    """Frequency-wise SE (fwSE): squeeze = mean over C and T, one gate per frequency row."""

    def __init__(self, freq_bins: int, hidden: int, eps: float = 1e-5):
        super().__init__()
        self.fc1 = nn.Linear(freq_bins, hidden)
        self.relu = nn.ReLU()
        self.bn1 = nn.BatchNorm1d(hidden, eps=eps)
        self.fc2 = nn.Linear(hidden, freq_bins)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        b, _, f, _ = x.size()
        w = torch.mean(x, dim=[1, 3])  # (B, F)
        w = self.fc1(w)
        w = self.relu(w)
        w = self.bn1(w)
        w = self.fc2(w)
        w = self.sigmoid(w)
        w = w.view([b, 1, f, 1])
        return x * w


class ECAPA2ConvBlock(nn.Module):
    """Three (Conv2d 3x3 -> ReLU -> BatchNorm2d), then SE. The residual is added by the parent."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: Tuple[int, int] = (1, 1),
        se_mode: str = "channel",
        se_hidden: int = 128,
        freq_out: int = 0,
        eps: float = 1e-5,
    ):
        super().__init__()
        self.stride = stride

        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, stride=self.stride, bias=True)
        self.relu1 = nn.ReLU()
        self.bn1 = nn.BatchNorm2d(out_channels, eps=eps)

        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=True)
        self.relu2 = nn.ReLU()
        self.bn2 = nn.BatchNorm2d(out_channels, eps=eps)

        self.conv3 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=True)
        self.relu3 = nn.ReLU()
        self.bn3 = nn.BatchNorm2d(out_channels, eps=eps)

        if se_mode == "channel":
            self.se = ECAPA2SEBlock2d(out_channels, se_hidden, eps=eps)
        elif se_mode == "freq":
            self.se = ECAPA2FwSEBlock2d(freq_out, se_hidden, eps=eps)
        else:
            raise ValueError(f"unknown se_mode {se_mode!r}")

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(x)
        out = self.relu1(out)
        out = self.bn1(out)

        out = self.conv2(out)
        out = self.relu2(out)
        out = self.bn2(out)

        out = self.conv3(out)
        out = self.relu3(out)
        out = self.bn3(out)

        out = self.se(out)
        return out


class ECAPA2DownsampleBlock(nn.Module):
    """Projection shortcut: 1x1 conv (stride (2,1), no bias) -> BatchNorm2d, no ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1,
                 stride: Tuple[int, int] = (1, 1), eps: float = 1e-5):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=self.kernel_size, stride=self.stride, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.conv(x))


# --------------------------------------------------------------------------------------
# GFE: 1-D blocks. Every block returns (output, pre-activation tap).
# --------------------------------------------------------------------------------------
def mean_var(x: Tensor) -> Tensor:
    """Hierarchical-feature statistics: mean || unbiased variance over time. (B,C,T) -> (B,2C)."""
    return torch.cat([torch.mean(x, dim=2), torch.var(x, dim=2, unbiased=True)], dim=1)


class ECAPA2TDNNBlock(nn.Module):
    """Conv1d -> ReLU -> BatchNorm1d. Returns (output, conv output before ReLU)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, dilation: int = 1,
                 eps: float = 1e-5):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size=kernel_size, dilation=dilation, bias=True)
        self.relu = nn.ReLU()
        self.bn = nn.BatchNorm1d(out_channels, eps=eps)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        pre = self.conv(x)
        return self.bn(self.relu(pre)), pre


class ECAPA2SEBlock(nn.Module):
    """1-D squeeze-excitation: mean over time -> Linear -> ReLU -> BN1d -> Linear -> sigmoid."""

    def __init__(self, in_channels: int, out_channels: int, eps: float = 1e-5):
        super().__init__()
        self.fc1 = nn.Linear(in_channels, out_channels)
        self.relu = nn.ReLU()
        self.bn1 = nn.BatchNorm1d(out_channels, eps=eps)
        self.fc2 = nn.Linear(out_channels, in_channels)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        y = torch.mean(x, dim=2)
        y = self.fc1(y)
        y = self.relu(y)
        y = self.bn1(y)
        y = self.fc2(y)
        y = self.sigmoid(y)
        return x * y.unsqueeze(2).expand_as(x)


class ECAPA2Res2NetConv1d(nn.Module):
    """SE-Res2Net block (without the outer skip, which the parent adds).

    Returns (output, conv1 output before ReLU)  -- the latter is the gfe_2 tap.
    """

    def __init__(self, channels: int, kernel_size: int = 3, padding: int = 2, dilation: int = 2,
                 scale: int = 8, se_hidden: int = 128, eps: float = 1e-5):
        super().__init__()
        assert channels % scale == 0, "tdnn width must be divisible by the Res2Net scale"
        self.n_groups = scale
        width = channels // scale

        self.conv1 = nn.Conv1d(channels, channels, kernel_size=1, bias=True)
        self.relu1 = nn.ReLU()
        self.bn1 = nn.BatchNorm1d(channels, eps=eps)

        self.conv_filters = nn.ModuleList([
            nn.Conv1d(width, width, kernel_size, padding=padding, dilation=dilation,
                      padding_mode="reflect", bias=True)
            for _ in range(scale - 1)
        ])
        self.batch_norms = nn.ModuleList([nn.BatchNorm1d(width, eps=eps) for _ in range(scale - 1)])

        self.conv2 = nn.Conv1d(channels, channels, kernel_size=1, bias=True)
        self.relu2 = nn.ReLU()
        self.bn2 = nn.BatchNorm1d(channels, eps=eps)

        self.se = ECAPA2SEBlock(channels, se_hidden, eps=eps)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        pre = self.conv1(x)
        x = self.bn1(self.relu1(pre))

        chunks = torch.chunk(x, self.n_groups, dim=1)
        outputs: List[Tensor] = [chunks[0]]
        sp = chunks[0]  # placeholder, overwritten at i == 0 below
        for i, (conv, bn) in enumerate(zip(self.conv_filters, self.batch_norms)):
            if i == 0:
                sp = conv(chunks[i + 1])
            else:
                sp = conv(chunks[i + 1] + sp)
            sp = F.relu(sp)
            sp = bn(sp)
            outputs.append(sp)
        x = torch.cat(outputs, dim=1)

        x = self.bn2(self.relu2(self.conv2(x)))
        x = self.se(x)
        return x, pre


class ECAPA2DenseBlock(nn.Module):
    """Conv1d -> ReLU (no BatchNorm). Returns (output, conv output before ReLU)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size=kernel_size, bias=True)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        pre = self.conv(x)
        return self.relu(pre), pre


class ECAPA2AttentiveStatPoolingBlock(nn.Module):
    """Channel-dependent attentive statistics pooling (spec 3.5).

    Returns (BN(mu || sigma), mu || sigma)  -- the latter is the 'attention' tap.
    """

    def __init__(self, in_channels: int, attention_channels: int = 128, out_channels: int = 3072,
                 eps: float = 1e-5):
        super().__init__()
        self.attention = nn.Sequential(
            nn.Conv1d(in_channels * 3, attention_channels, kernel_size=1, bias=True),
            nn.ReLU(),
            nn.BatchNorm1d(attention_channels, eps=eps),
            nn.Conv1d(attention_channels, in_channels, kernel_size=1, bias=True),
        )
        self.bn = nn.BatchNorm1d(out_channels, eps=eps)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        mean_x = torch.mean(x, dim=2, keepdim=True).expand_as(x)
        std_x = torch.sqrt(torch.var(x, dim=2, keepdim=True, unbiased=True) + 1e-05).expand_as(x)

        concatenated = torch.cat([x, mean_x, std_x], dim=1)
        attention_weights = F.softmax(self.attention(concatenated), dim=2)
        x_scaled = x * attention_weights
        mu = torch.sum(x_scaled, dim=2)

        sum_squared = torch.sum(torch.mul(x_scaled, x), dim=2)
        variance_estimate = torch.abs(sum_squared - torch.pow(mu, 2))
        sigma = torch.sqrt(torch.add(variance_estimate, 1e-05))
        pool = torch.cat([mu, sigma], dim=1)
        return self.bn(pool), pool


class ECAPA2EmbeddingBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.fc = nn.Linear(in_channels, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(x)


# --------------------------------------------------------------------------------------
# The whole network
# --------------------------------------------------------------------------------------
class ECAPA2(nn.Module):
    """ECAPA2 with its front-end inside: forward(audio (B,N) float32 16 kHz, label) -> (B, D)."""

    def __init__(self, config: Optional[ECAPA2Config] = None):
        super().__init__()
        cfg = config if config is not None else ECAPA2Config()
        c1, c2 = cfg.c1, cfg.c2
        f = cfg.lfe_freqs()  # rows after stage 1..5
        eps = cfg.bn_eps

        spec_cls = {"torchaudio": Spectrogram, "final": SpectrogramFinal}[cfg.spec_constants]
        self.spectrogram = spec_cls(
            n_fft=cfg.n_fft, win_length=cfg.win_length, hop_length=cfg.hop_length,
            window=cfg.window, power=2.0, normalized=False, center=True, pad_mode="reflect",
        )

        def block(cin: int, cout: int, stage: int, stride: Tuple[int, int] = (1, 1)) -> ECAPA2ConvBlock:
            return ECAPA2ConvBlock(cin, cout, stride=stride, se_mode=cfg.se_mode,
                                   se_hidden=cfg.se_hidden, freq_out=f[stage], eps=eps)

        s2 = (2, 1)
        self.downsample_1 = ECAPA2DownsampleBlock(c1, c1, stride=s2, eps=eps)
        self.downsample_2 = ECAPA2DownsampleBlock(c1, c1, stride=s2, eps=eps)
        self.downsample_3 = ECAPA2DownsampleBlock(c2, c2, stride=s2, eps=eps)
        self.downsample_4 = ECAPA2DownsampleBlock(c2, c2, stride=s2, eps=eps)

        self.conv_1 = block(1, c1, 0)
        self.conv_2 = block(c1, c1, 0)
        self.conv_3 = block(c1, c1, 0)

        self.conv_4 = block(c1, c1, 1, s2)
        self.conv_5 = block(c1, c1, 1)
        self.conv_6 = block(c1, c1, 1)
        self.conv_7 = block(c1, c1, 1)

        self.conv_8 = block(c1, c1, 2, s2)
        self.conv_9 = block(c1, c1, 2)
        self.conv_10 = block(c1, c2, 2)
        self.conv_11 = block(c2, c2, 2)

        self.conv_12 = block(c2, c2, 3, s2)
        self.conv_13 = block(c2, c2, 3)
        self.conv_14 = block(c2, c2, 3)
        self.conv_15 = block(c2, c2, 3)

        self.conv_16 = block(c2, c2, 4, s2)
        self.conv_17 = block(c2, c2, 4)
        self.conv_18 = block(c2, c2, 4)
        self.conv_19 = block(c2, c2, 4)
        self.conv_20 = block(c2, c2, 4)

        self.tdnn_1 = ECAPA2TDNNBlock(c2 * f[4], cfg.tdnn, kernel_size=1, eps=eps)
        self.tdnn_2 = ECAPA2Res2NetConv1d(cfg.tdnn, scale=cfg.res2net_scale, se_hidden=cfg.se_hidden, eps=eps)
        self.dense_1 = ECAPA2DenseBlock(cfg.tdnn, cfg.dense)
        self.pooling_1 = ECAPA2AttentiveStatPoolingBlock(cfg.dense, cfg.att_hidden, 2 * cfg.dense, eps=eps)
        self.dense_2 = ECAPA2EmbeddingBlock(2 * cfg.dense, cfg.emb)

    def forward(self, audio: Tensor, label: str = "embedding") -> Tensor:
        # ---- which outputs were asked for (output order is always the network order) ----
        want_gfe_1 = False
        want_gfe_2 = False
        want_pool = False
        want_attention = False
        want_embedding = False
        for name in label.split("|"):
            if name == "gfe_1":
                want_gfe_1 = True
            elif name == "gfe_2":
                want_gfe_2 = True
            elif name == "pool":
                want_pool = True
            elif name == "attention":
                want_attention = True
            elif name == "embedding":
                want_embedding = True
            else:
                raise ValueError("unknown label '" + name + "' (expected '|'-separated gfe_1, gfe_2, pool, attention, embedding)")
        if audio.dim() != 2:
            raise ValueError("audio must be (batch, samples)")

        # ---- front-end: power spectrogram -> log -> per-bin mean over time removed ----
        x = self.spectrogram(audio)  # (B, F, T)
        x = torch.log(torch.add(x, 9.9999999999999995e-07))
        x = x - torch.mean(x, [-1], True)
        x = x.unsqueeze(1)  # (B, 1, F, T)

        # ---- LFE ----
        x = self.conv_1(x)
        x = self.conv_2(x) + x
        x = self.conv_3(x) + x

        x = self.conv_4(x) + self.downsample_1(x)
        x = self.conv_5(x) + x
        x = self.conv_6(x) + x
        x = self.conv_7(x) + x

        x = self.conv_8(x) + self.downsample_2(x)
        x = self.conv_9(x) + x
        x = self.conv_10(x)
        x = self.conv_11(x) + x

        x = self.conv_12(x) + self.downsample_3(x)
        x = self.conv_13(x) + x
        x = self.conv_14(x) + x
        x = self.conv_15(x) + x

        x = self.conv_16(x) + self.downsample_4(x)
        x = self.conv_17(x) + x
        x = self.conv_18(x) + x
        x = self.conv_19(x) + x
        x = self.conv_20(x) + x

        x = x.flatten(1, 2)  # (B, C*F, T), channel-major

        # ---- GFE ----
        feats: List[Tensor] = []
        x, tap = self.tdnn_1(x)
        if want_gfe_1:
            feats.append(mean_var(tap))
        y, tap = self.tdnn_2(x)
        if want_gfe_2:
            feats.append(mean_var(tap))
        x = y + x
        x, tap = self.dense_1(x)
        if want_pool:
            feats.append(mean_var(tap))

        # ---- pooling + embedding ----
        x, pooled = self.pooling_1(x)
        if want_attention:
            feats.append(pooled)
        if want_embedding:
            feats.append(self.dense_2(x))
        return torch.cat(feats, dim=1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def build(config: ECAPA2Config | str = "full") -> ECAPA2:
    cfg = CONFIGS[config] if isinstance(config, str) else config
    model = ECAPA2(cfg)
    if cfg == CONFIGS["full"]:
        n = count_parameters(model)
        assert n == FULL_PARAM_COUNT, f"full config has {n} parameters, expected {FULL_PARAM_COUNT}"
    return model


if __name__ == "__main__":  # quick self-check
    import sys

    name = sys.argv[1] if len(sys.argv) > 1 else "tiny"
    m = build(name).eval()
    print(name, "params:", count_parameters(m))
    sm = torch.jit.script(m)
    with torch.inference_mode():
        a = torch.randn(2, 16000) * 0.1
        e1 = m(a, "gfe_1|gfe_2|pool|attention|embedding")
        e2 = sm(a, "embedding|attention|pool|gfe_2|gfe_1")
    print("out", tuple(e1.shape), "eager vs scripted max abs diff", (e1 - e2).abs().max().item())
