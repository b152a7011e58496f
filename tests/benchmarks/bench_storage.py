"""Put/get throughput of the two storage backends for model-sized files, side by side.

    .venv/bin/python tests/benchmarks/bench_storage.py [--files 20] [--size 4800000]

Starts a js-ipfs daemon on a fresh repo through scripts/jsipfs.sh (or uses the daemon at
$BAASIM_IPFS_API), stores the same distinct files in the embedded store and the daemon, reads
them back, and prints MB/s (10^6 bytes per second) per operation and the ratio between them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sim.storage import StorageConfig, Store, cid_of, open_store

T = TypeVar("T")

JSIPFS = Path(__file__).resolve().parents[2] / "scripts" / "jsipfs.sh"


@contextmanager
def daemon(work: Path) -> Iterator[str]:
    own = os.environ.get("BAASIM_IPFS_API")
    if own:
        yield own
        return
    repo = work / "jsipfs"
    api = subprocess.run([JSIPFS, "start", repo], stdout=subprocess.PIPE, text=True, check=True)
    try:
        yield api.stdout.strip()
    finally:
        subprocess.run([JSIPFS, "stop", repo], check=True)


def rate(sizes: Sequence[int], seconds: Sequence[float]) -> str:
    """Aggregate MB/s and the median of per-file MB/s."""
    total = sum(sizes) / sum(seconds) / 1e6
    median = statistics.median(s / t / 1e6 for s, t in zip(sizes, seconds, strict=True))
    return f"{total:8.1f} MB/s (median per file {median:8.1f})"


def timed(call: Callable[[T], object], items: Sequence[T]) -> list[float]:
    seconds = []
    for item in items:
        start = time.perf_counter()
        call(item)
        seconds.append(time.perf_counter() - start)
    return seconds


def measure(name: str, store: Store, files: Sequence[bytes]) -> dict[str, float]:
    sizes = [len(f) for f in files]
    put = timed(store.put, files)
    cids = [cid_of(f) for f in files]
    get = timed(store.get, cids)
    print(f"{name:9s} put {rate(sizes, put)}")
    print(f"{name:9s} get {rate(sizes, get)}")
    return {"put": sum(sizes) / sum(put), "get": sum(sizes) / sum(get)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20, help="distinct files (default 20)")
    parser.add_argument("--size", type=int, default=4_800_000, help="bytes per file (4.8 MB)")
    args = parser.parse_args()
    files = [hashlib.shake_256(b"bench %d" % i).digest(args.size) for i in range(args.files)]
    print(f"{args.files} distinct files of {args.size / 1e6:.1f} MB; {os.cpu_count()} CPUs")

    hashed = timed(cid_of, files)
    print(f"{'cid_of':9s}     {rate([len(f) for f in files], hashed)}")
    with tempfile.TemporaryDirectory() as work, daemon(Path(work)) as api:
        embedded = measure("embedded", open_store(StorageConfig(), Path(work) / "run"), files)
        config = StorageConfig(backend="ipfs", api=api, timeout_s=60)
        ipfs_store = open_store(config, Path(work) / "run")
        ipfs = measure("ipfs", ipfs_store, files)
        ipfs_store.close()
    for op in ("put", "get"):
        print(f"embedded/ipfs {op}: {embedded[op] / ipfs[op]:.1f}x")


if __name__ == "__main__":
    main()
