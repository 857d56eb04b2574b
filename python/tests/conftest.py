"""Shared fixtures: the committed test archives, goldens and audio files, and the CLI binary."""

import os
import pathlib
import subprocess

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
LABELS = ("gfe_1", "gfe_2", "pool", "attention", "embedding")


def rel_l2(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


@pytest.fixture(scope="session")
def fixtures():
    return FIXTURES


@pytest.fixture(scope="session")
def cli():
    """The `ecapa2` binary built by cargo (`.ci/run` builds it before pytest runs)."""
    for candidate in (os.environ.get("ECAPA2_CLI"), ROOT / "target/release/ecapa2", ROOT / "target/debug/ecapa2"):
        if candidate and pathlib.Path(candidate).is_file():
            return str(candidate)
    subprocess.run(["cargo", "build", "-p", "ecapa2-cli"], cwd=ROOT, check=True)
    return str(ROOT / "target/debug/ecapa2")


def cli_embeddings(cli, model, files, label="embedding"):
    """Embeddings from the CLI, as {path: vector}, via its JSON-lines output."""
    import json

    out = subprocess.run(
        [cli, "--quiet", "embed", "--model", str(model), "--label", label, *map(str, files)],
        capture_output=True,
        text=True,
    )
    result = {}
    for line in out.stdout.splitlines():
        row = json.loads(line)
        result[row["key"]] = np.asarray(row["vector"], np.float32)
    return result
