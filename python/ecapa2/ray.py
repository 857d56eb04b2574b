"""Embedding whole corpora on Ray Data.

As a stateful callable class for ``map_batches`` (the model is loaded once per actor)::

    import ray, ecapa2.ray
    model = ray.put(np.fromfile("ecapa2.pt", np.uint8))   # shipped once via the object store
    ds = ray.data.read_binary_files(paths, include_paths=True)
    ds = ds.map_batches(
        ecapa2.ray.Embedder,
        fn_constructor_kwargs={"model": model, "label": "embedding", "threads": 1},
        compute=ray.data.ActorPoolStrategy(size=4),
        batch_size=16,
    )
    ds.write_parquet("out/")

Input batches carry a ``path`` column (files the actor decodes itself) or ``bytes`` + ``path``
(decoded in memory, as ``read_binary_files(..., include_paths=True)`` gives them). Output
batches keep ``path`` and add ``embedding`` (float32, ``(rows, D)``), ``error`` (``""`` when
the row succeeded; a failed row's embedding is NaN) and ``duration_s``. One corrupt file never
fails the job.

As a program: ``python -m ecapa2.ray INPUT... --output OUT_DIR [--model PATH] [--label L]
[--concurrency N] [--threads T] [--num-gpus G] [--address ADDR] [--reader actors|tasks]
[--overwrite]``. ``--num-gpus G`` (default 0): GPUs each actor asks Ray for (fractions share
one); above 0 the actors load the model with ``device="cuda"`` (experimental; Ray's
``CUDA_VISIBLE_DEVICES`` makes the GPU it assigns an actor that actor's ``cuda:0``).
An output folder that already holds Parquet files is refused unless ``--overwrite``: a
second run's rows never mix with the first's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional

import numpy as np

from . import Ecapa2, _at_least_one, _ecapa2

#: Extensions listed when a directory is given (the CLI's list; lower case, no dot).
AUDIO_EXTENSIONS = tuple(_ecapa2.AUDIO_EXTENSIONS)


def _load_model(
    model: Any, threads: int, precision: Optional[str], device: str = "cpu"
) -> Ecapa2:
    try:
        import ray

        if isinstance(model, ray.ObjectRef):
            model = ray.get(model)
    except ImportError:  # usable without Ray, e.g. in tests of the class itself
        pass
    settings = {"threads": threads, "precision": precision, "device": device}
    if model is None:
        return Ecapa2.from_hub(**settings)
    if isinstance(model, (bytes, bytearray, memoryview, np.ndarray)):
        # Read in place (an array from the object store is a read-only view of shared
        # memory, not a copy); nothing of it is kept once the model is bound.
        return Ecapa2.from_bytes(model, **settings)
    return Ecapa2.load(model, **settings)


class Embedder:
    """A ``map_batches`` callable class: loads the model once, then embeds batches.

    ``model``: the archive's bytes or a ``uint8`` array of them, or a Ray ``ObjectRef`` to
    either (workers need neither hub access nor a shared filesystem; an array is read in
    place from the object store, bytes are copied out of it first), a path, or ``None`` for
    the official model from the hub. ``precision``: ``None`` for the device's default (f32 on
    the CPU, f16 on CUDA). ``device``: ``"cpu"`` or ``"cuda"`` (give the actors GPUs with
    ``map_batches(..., num_gpus=...)``; see :func:`map_batches_kwargs`).
    """

    def __init__(
        self,
        model: Any = None,
        label: str = "embedding",
        threads: int = 1,
        precision: Optional[str] = None,
        device: str = "cpu",
    ):
        self._model = _load_model(model, threads, precision, device)
        self._label = label
        self._dim = self._model.dim(label)

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, np.ndarray]:
        paths = [str(p) for p in batch["path"]]
        data = batch.get("bytes")
        n = len(paths)
        embedding = np.full((n, self._dim), np.nan, dtype=np.float32)
        duration = np.zeros(n, dtype=np.float64)
        error: List[str] = [""] * n
        inner = self._model._model
        for i, path in enumerate(paths):
            try:
                if data is not None:
                    embedding[i], duration[i] = inner.embed_bytes(path, bytes(data[i]), self._label)
                else:
                    embedding[i], duration[i] = inner.embed_file(path, self._label)
            except Exception as e:  # one bad row must not fail the job
                error[i] = f"{type(e).__name__}: {e}"
        return {
            "path": np.asarray(paths, dtype=object),
            "embedding": embedding,
            "error": np.asarray(error, dtype=object),
            "duration_s": duration,
        }


def list_inputs(inputs: List[str]) -> List[str]:
    """Files, directories (recursively, :data:`AUDIO_EXTENSIONS` only) and ``@list`` files (one
    path per line, relative ones against the list's folder), in order, as absolute paths (the
    actors' working directory is not the driver's), listed exactly as the CLI lists them. A
    missing file or folder given here is an error (a list's missing entries fail as rows)."""
    # (A missing @list is refused by the listing itself.)
    for path in inputs:
        if not path.startswith("@") and not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such file or directory")
    return [os.path.abspath(os.fsdecode(p)) for p in _ecapa2.list_audio(inputs)]


#: Logical CPUs a read task asks for (see :func:`actor_cpus`).
READ_TASK_CPUS = 0.25


def actor_cpus(threads: int, concurrency: int) -> float:
    """The logical CPUs each of ``concurrency`` actors should ask for on the connected Ray
    cluster: its ``threads``, but leaving half a CPU for the other tasks (reads at
    :data:`READ_TASK_CPUS` each, writes), so that a small machine (2 CPUs, 2 actors) cannot
    stall with every slot held by an actor waiting for input."""
    import ray

    total = float(ray.cluster_resources().get("CPU", 1.0))
    return max(0.25, min(float(threads), (total - 0.5) / max(concurrency, 1)))


def prepare_output(output: str, overwrite: bool = False) -> None:
    """Makes sure ``output`` holds no earlier run's rows: a missing or empty folder is fine;
    one holding Parquet files is refused (``FileExistsError``) unless ``overwrite``, which
    deletes them. Anything else in it is refused either way, so that nothing but this
    program's output is ever deleted (and the summary counts this run's rows only)."""
    if not os.path.exists(output):
        return
    if not os.path.isdir(output):
        raise NotADirectoryError(f"{output}: exists and is not a directory")
    entries = os.listdir(output)
    others = [e for e in entries if not e.endswith(".parquet")]
    if others:
        raise FileExistsError(
            f"{output}: holds files other than Parquet ({others[0]}, ...): choose an empty "
            "or new output directory"
        )
    if entries and not overwrite:
        raise FileExistsError(
            f"{output}: holds {len(entries)} Parquet file(s) from an earlier run; choose "
            "another directory or pass --overwrite to replace them"
        )
    for e in entries:
        os.remove(os.path.join(output, e))


def map_batches_kwargs(
    model_ref: Any,
    label: str,
    threads: int,
    batch_size: int,
    num_cpus: float,
    num_gpus: float = 0.0,
) -> Dict[str, Any]:
    """The ``map_batches`` arguments of the :class:`Embedder` actors (all but ``compute``):
    the constructor's arguments, the batch size and each actor's resources. With
    ``num_gpus > 0`` each actor asks Ray for that many GPUs and loads the model with
    ``device="cuda"`` (Ray sets ``CUDA_VISIBLE_DEVICES``, so the assigned GPU is the actor's
    ``cuda:0``); with 0 (default) the actors run on the CPU and ask for no GPU."""
    num_gpus = float(num_gpus)
    if not num_gpus >= 0.0:  # also refuses NaN
        raise ValueError(f"num_gpus must be 0 or more, not {num_gpus!r}")
    kwargs: Dict[str, Any] = {
        "fn_constructor_kwargs": {
            "model": model_ref,
            "label": label,
            "threads": threads,
            "device": "cuda" if num_gpus > 0 else "cpu",
        },
        "batch_size": batch_size,
        "num_cpus": num_cpus,
    }
    if num_gpus > 0:
        kwargs["num_gpus"] = num_gpus
    return kwargs


def run(
    files: List[str],
    output: str,
    model_bytes: bytes,
    label: str = "embedding",
    concurrency: int = 2,
    threads: int = 1,
    batch_size: int = 8,
    reader: str = "actors",
    overwrite: bool = False,
    num_gpus: float = 0.0,
) -> Dict[str, float]:
    """Runs the pipeline on the connected Ray cluster and writes Parquet to ``output``;
    returns the summary. Needs ``ray.init()`` first. An ``output`` holding an earlier run's
    Parquet files is refused unless ``overwrite`` (see :func:`prepare_output`).

    ``reader="actors"`` (default): the actors open the files themselves (every node must see
    the paths, as on a shared filesystem); no read tasks, no audio through the object store.
    ``reader="tasks"``: ``read_binary_files`` tasks read them and ship the bytes to the actors.
    ``num_gpus``: GPUs per actor; above 0 the actors run on CUDA (see
    :func:`map_batches_kwargs`), refused at once if the cluster has fewer GPUs than one actor
    asks for (its actors would wait forever)."""
    import ray

    if reader not in ("actors", "tasks"):
        raise ValueError(f"reader must be 'actors' or 'tasks', not {reader!r}")
    if num_gpus > 0:
        gpus = float(ray.cluster_resources().get("GPU", 0.0))
        if gpus < num_gpus:
            raise ValueError(
                f"--num-gpus {num_gpus:g}: the Ray cluster has {gpus:g} GPU(s), fewer than one "
                "actor asks for"
            )
    prepare_output(output, overwrite)
    cpus = actor_cpus(threads, concurrency)
    # As a uint8 array, not bytes: `ray.get` then maps the stored object (zero-copy) instead
    # of making each actor a private ~100 MB copy.
    model_ref = ray.put(np.frombuffer(model_bytes, dtype=np.uint8))
    started = time.time()
    if reader == "actors":
        # Blocks of about one batch each, so that the actors finish together.
        blocks = max(1, min(len(files), -(-len(files) // batch_size)))
        ds = ray.data.from_items([{"path": f} for f in files], override_num_blocks=blocks)
    else:
        # Few, larger read tasks (about 25 files each, at least 4 per actor): on small
        # machines one task per file competes with the actors for the same cores.
        blocks = min(len(files), max(4 * concurrency, len(files) // 25))
        ds = ray.data.read_binary_files(
            files, include_paths=True, num_cpus=READ_TASK_CPUS, override_num_blocks=blocks
        )
    ds = ds.map_batches(
        Embedder,
        compute=ray.data.ActorPoolStrategy(size=concurrency),
        **map_batches_kwargs(model_ref, label, threads, batch_size, cpus, num_gpus),
    )
    ds.write_parquet(output)
    elapsed = time.time() - started
    # The summary from the files' two small columns, read here (not as another Ray job).
    import pyarrow.compute as pc
    import pyarrow.dataset as pads

    table = pads.dataset(output, format="parquet").to_table(columns=["error", "duration_s"])
    failed = int(pc.sum(pc.not_equal(table["error"], "")).as_py() or 0)
    seconds = float(pc.sum(table["duration_s"]).as_py() or 0.0)
    return {
        "files": float(table.num_rows),
        "failed": float(failed),
        "audio_hours": seconds / 3600.0,
        "seconds": elapsed,
        "files_per_second": len(table) / elapsed if elapsed > 0 else 0.0,
        "audio_seconds_per_second": seconds / elapsed if elapsed > 0 else 0.0,
    }


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1 (the loaders' rule for ``threads``)."""
    try:
        value: Any = int(text)
    except ValueError:
        value = text  # refused below, with the same message
    try:
        return _at_least_one("the value", value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _gpus(text: str) -> float:
    """An argparse type: a number of GPUs per actor, 0 or more (fractions share a GPU)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value >= 0.0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of GPUs (0 or more)")
    return value


def resolve_address(address: Optional[str] = None) -> str:
    """The Ray address to ``ray.init``: ``address``, else ``$RAY_ADDRESS``, else ``"local"``
    (a fresh local Ray: a bare ``ray.init()`` would try to join whatever cluster last left its
    address in /tmp/ray, and wait on it if it died)."""
    return address or os.environ.get("RAY_ADDRESS") or "local"


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m ecapa2.ray``."""
    p = argparse.ArgumentParser(
        prog="python -m ecapa2.ray",
        description="Embed audio files on Ray Data and write Parquet (path, embedding, error).",
    )
    p.add_argument("inputs", nargs="+", help="audio files, directories (recursive) or @list files")
    p.add_argument("--output", required=True, help="output directory for the Parquet files")
    p.add_argument("--model", help="TorchScript archive (default: the official one from the hub)")
    p.add_argument("--label", default="embedding", help="feature labels, e.g. gfe_1|pool")
    p.add_argument("--concurrency", type=_positive, default=2, help="actors (model copies)")
    p.add_argument("--threads", type=_positive, default=1, help="engine threads per actor")
    p.add_argument("--batch-size", type=_positive, default=8, help="files per batch")
    p.add_argument(
        "--num-gpus",
        type=_gpus,
        default=0.0,
        help="GPUs per actor (fractions share one; default 0: CPU only); above 0 the actors "
        "run the model on CUDA (experimental)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the Parquet files an earlier run left in --output (refused otherwise)",
    )
    p.add_argument(
        "--address",
        help="Ray cluster to join, e.g. ray://head:10001 or auto (default: $RAY_ADDRESS, else "
        "start a local Ray for this job)",
    )
    p.add_argument(
        "--reader",
        choices=("actors", "tasks"),
        default="actors",
        help="who reads the files: the actors themselves (default; paths must be readable on "
        "every node) or Ray Data read tasks that ship their bytes to the actors",
    )
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        files = list_inputs(args.inputs)
        if not files:
            print("error: no audio files found", file=sys.stderr)
            return 1
        output = os.path.abspath(args.output)
        prepare_output(output, args.overwrite)  # before Ray starts: fail fast
        path = args.model or _ecapa2.hub_file(None)
        with open(path, "rb") as f:
            model_bytes = f.read()
        import ray

        # Refuse an unusable archive or label before any work, checked while Ray starts.
        with ThreadPoolExecutor(1) as pool:
            check = pool.submit(lambda: Ecapa2.from_bytes(model_bytes, threads=1).dim(args.label))
            ray.init(
                address=resolve_address(args.address), ignore_reinit_error=True, log_to_driver=False
            )
            check.result()  # raises the archive's or the label's error
        summary = run(
            files,
            output,
            model_bytes,
            label=args.label,
            concurrency=args.concurrency,
            threads=args.threads,
            batch_size=args.batch_size,
            reader=args.reader,
            overwrite=args.overwrite,
            num_gpus=args.num_gpus,
        )
    except Exception as e:
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(
        f"{int(summary['files'])} files, {int(summary['failed'])} failed, "
        f"{summary['audio_hours']:.3f} h of audio in {summary['seconds']:.1f} s "
        f"({summary['files_per_second']:.2f} files/s, "
        f"{summary['audio_seconds_per_second']:.1f} audio-s/s) -> {args.output}",
        file=sys.stderr,
    )
    return 2 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
