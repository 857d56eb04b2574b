#!/usr/bin/env python3
"""Hierarchical features of one recording, as the TorchScript model's ``label=`` gives them:
one row, the blocks concatenated in network order whatever order they were asked in.

    python hierarchical_features.py ecapa2.pt speech.wav [--label gfe_1|pool|embedding] [-o feats.npz]
"""

import argparse

import numpy as np

import ecapa2


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("audio")
    p.add_argument("--label", default="gfe_1|pool|embedding")
    p.add_argument("-o", "--output", help="save each block as an array in an .npz file")
    args = p.parse_args()
    model = ecapa2.Ecapa2.load(args.model)
    audio, sr = ecapa2.load_audio(args.audio)  # float32 mono at 16 kHz
    row = model(audio, label=args.label)
    # Split the row into its blocks: network order, each as wide as model.dim(block).
    blocks, offset = {}, 0
    for name in [l for l in ecapa2.LABELS if l in args.label.split("|")]:
        width = model.dim(name)
        blocks[name] = row[offset : offset + width]
        offset += width
    print(f"{args.audio}: {len(audio) / sr:.2f} s, backend {model.backend}")
    for name, block in blocks.items():
        print(f"  {name:<10} {block.shape[0]:>5} values, norm {np.linalg.norm(block):.4f}")
    if args.output:
        np.savez(args.output, **blocks)


if __name__ == "__main__":
    main()
