#!/usr/bin/env python3
"""Speaker verification between two recordings: cosine score of their ECAPA2 embeddings.

    python verify.py ecapa2.pt enrollment.flac test.mp3 [--threshold 0.5]

Any format, rate and channel count (decoded, resampled to 16 kHz and mixed to mono). Without
``--threshold`` only the score is printed: a threshold belongs to your data (take it from a
development set, e.g. with ``ecapa2 eval``), not to the model.
"""

import argparse

import numpy as np

import ecapa2


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="TorchScript archive, e.g. ecapa2.pt ('hub' fetches the official one)")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--threshold", type=float)
    args = p.parse_args()
    model = ecapa2.Ecapa2.from_hub() if args.model == "hub" else ecapa2.Ecapa2.load(args.model)
    a, b = model.embed_file(args.a), model.embed_file(args.b)
    score = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    line = f"score {score:.6f}"
    if args.threshold is not None:
        line += " same speaker" if score >= args.threshold else " different speakers"
    print(line)


if __name__ == "__main__":
    main()
