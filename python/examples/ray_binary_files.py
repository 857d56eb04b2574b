#!/usr/bin/env python3
"""Embedding a corpus with Ray Data from the library, for data that only Ray's readers reach
(``s3://``, ``gs://``, ``hdfs://`` or a local folder): read tasks fetch the files' bytes, the
actors decode them in memory. ``python -m ecapa2.ray`` does the same for local paths.

    python ray_binary_files.py ecapa2.pt s3://bucket/voxceleb/ out/ [--actors 4] [--threads 1]
"""

import argparse

import numpy as np
import ray

import ecapa2.ray


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("input", help="a folder or URL that ray.data.read_binary_files understands")
    p.add_argument("output", help="Parquet output folder (path, embedding, error, duration_s)")
    p.add_argument("--actors", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--address", help="Ray cluster address (default: a local Ray)")
    args = p.parse_args()
    # --address, else $RAY_ADDRESS, else a fresh local Ray.
    ray.init(address=ecapa2.ray.resolve_address(args.address), log_to_driver=False)
    # Shipped once through the object store as an array: actors read it in place.
    model = ray.put(np.fromfile(args.model, dtype=np.uint8))
    ds = ray.data.read_binary_files(
        args.input,
        include_paths=True,
        file_extensions=list(ecapa2.ray.AUDIO_EXTENSIONS),  # the CLI's
        num_cpus=ecapa2.ray.READ_TASK_CPUS,
    )
    ds = ds.map_batches(
        ecapa2.ray.Embedder,
        fn_constructor_kwargs={"model": model, "label": "embedding", "threads": args.threads},
        compute=ray.data.ActorPoolStrategy(size=args.actors),
        # Not all the cores: the read tasks need a slot too, or a small machine stalls.
        num_cpus=ecapa2.ray.actor_cpus(args.threads, args.actors),
        batch_size=8,
    )
    ds.write_parquet(args.output)
    rows = ray.data.read_parquet(args.output).select_columns(["path", "error"]).to_pandas()
    failed = rows[rows.error != ""]
    print(f"{len(rows)} files, {len(failed)} failed -> {args.output}")
    for r in failed.itertuples():
        print(f"  {r.path}: {r.error}")


if __name__ == "__main__":
    main()
