"""Export the Silero VAD v6 16 kHz weights that `silero_vad.jit` / `silero_vad.onnx` run to a
safetensors file with the tensor names of the wheel's `silero_vad_16k.safetensors`.

Why not ship the wheel's `silero_vad_16k.safetensors` as is: in silero-vad 6.2.3 its stft basis
equals the jit/onnx one, but every other tensor differs (conv1.weight by up to 4.0), and the
tinygrad graph run on it gives probabilities up to 0.53 away from `silero_vad.onnx` on real
speech (silero-vad issue #768 reports the same). The model that `load_silero_vad()` and
`get_speech_timestamps` use is the jit/onnx one, so that is the one we embed. Both files use
the same names and shapes, so `SileroVad::from_file` reads either.

Recipe (outside the repository; torch comes with silero-vad from PyPI):
    python3 -m venv /work/venvs/vad
    /work/venvs/vad/bin/pip install silero-vad==6.2.3 onnxruntime soundfile onnx
    /work/venvs/vad/bin/python reference/make_vad_weights.py crates/ecapa2-vad/weights/silero_vad_16k.safetensors
It also checks that the exported tensors equal the initializers of `silero_vad.onnx`.
"""
import json
import struct
import sys
from importlib import resources

import numpy as np
import torch

# Wheel (tinygrad) name -> name in the jit model's state dict.
NAMES = {"stft_conv.weight": "stft.forward_basis_buffer"}
for i in range(4):
    for s in ("weight", "bias"):
        NAMES[f"conv{i + 1}.{s}"] = f"encoder.{i}.reparam_conv.{s}"
for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
    NAMES[f"lstm_cell.{s}"] = f"decoder.rnn.{s}"
NAMES["final_conv.weight"] = "decoder.decoder.2.weight"
NAMES["final_conv.bias"] = "decoder.decoder.2.bias"


def data_file(name):
    return str(resources.files("silero_vad.data").joinpath(name))


def main(out):
    import silero_vad

    jit = torch.jit.load(data_file("silero_vad.jit"))
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in jit._model.state_dict().items()}
    tensors = {name: np.ascontiguousarray(sd[src]) for name, src in NAMES.items()}

    # Same tensors as the ONNX model's initializers (each found exactly among them).
    import onnx
    from onnx import numpy_helper

    inits = []

    def walk(g):
        inits.extend(numpy_helper.to_array(t) for t in g.initializer)
        for n in g.node:
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                if a.type == onnx.AttributeProto.TENSOR:
                    inits.append(numpy_helper.to_array(a.t))

    walk(onnx.load(data_file("silero_vad.onnx")).graph)
    for name, t in tensors.items():
        diff = min(
            (float(np.abs(a.astype(np.float32).ravel() - t.ravel()).max()) for a in inits if a.size == t.size),
            default=float("inf"),
        )
        assert diff == 0.0, (name, diff)

    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        b = t.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    header["__metadata__"] = {
        "source": f"silero-vad {silero_vad.__version__} (PyPI), silero_vad/data/silero_vad.jit",
        "license": "MIT, Copyright (c) 2020-present Silero Team",
    }
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    print(f"wrote {out}: {len(tensors)} tensors, equal to silero_vad.onnx initializers")


if __name__ == "__main__":
    main(sys.argv[1])
