#!/usr/bin/env python3
"""Re-check a fixture directory: reload DIR/model.pt and recompute every golden from the
stored audio (fp32, CPU). Exits non-zero on any mismatch.

    python reference/check_fixture.py tests/fixtures/tiny [tests/fixtures/tiny-variant ...]
"""

import json
import os
import sys
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore", category=FutureWarning)

COMPOSITE = {"all": "gfe_1|gfe_2|pool|attention|embedding", "reorder": "embedding|gfe_1|pool"}


def check(d: str) -> bool:
    man = json.load(open(os.path.join(d, "golden", "manifest.json")))
    model = torch.jit.load(os.path.join(d, "model.pt"), map_location="cpu").eval()
    ok = True
    worst = 0.0
    with torch.inference_mode(), torch.jit.optimized_execution(False):
        for case in man["cases"]:
            name = case["name"]
            audio = torch.from_numpy(np.load(os.path.join(d, "golden", f"{name}.audio.npy")))
            assert tuple(audio.shape) == (case["batch"], case["samples"]), name
            for lab in list(man["labels"]) + list(COMPOSITE):
                gold = np.load(os.path.join(d, "golden", f"{name}.{lab}.npy"))
                got = model(audio, COMPOSITE.get(lab, lab)).numpy()
                if got.shape != gold.shape:
                    print(f"FAIL {d} {name} {lab}: shape {got.shape} != {gold.shape}")
                    ok = False
                    continue
                err = float(np.abs(got - gold).max() / max(np.abs(gold).max(), 1e-30))
                worst = max(worst, err)
                if err > 1e-5:
                    print(f"FAIL {d} {name} {lab}: rel err {err:.2e}")
                    ok = False
    print(f"{'ok  ' if ok else 'FAIL'} {d}: {len(man['cases'])} cases, worst rel diff {worst:.1e} "
          f"(torch {torch.__version__}; goldens from torch {man['torch_version']})")
    return ok


if __name__ == "__main__":
    torch.set_num_threads(1)
    results = [check(d) for d in sys.argv[1:]]
    sys.exit(0 if results and all(results) else 1)
