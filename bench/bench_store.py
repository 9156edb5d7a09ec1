"""Import and load speed of the store.

    .venv/bin/python bench/bench_store.py [--nodes 1000000]

Import: a generated Trellis JSONL trace (realistic text sizes) into a fresh
DuckDB file, three times, each in a new child process so peak memory is the
import's own. The file is flushed to disk first: the figure is the import of
a file at rest, not the kernel writing back the generator's output meanwhile.
Load: one 10,000-node trace from the store into Node models, median of 20.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import machine  # noqa: E402
from generate import write_jsonl  # noqa: E402


def import_in_child(path: Path, db: Path) -> dict:
    code = f"""
import json, resource, time
from core import Store, import_files
start = time.perf_counter()
with Store({str(db)!r}) as store:
    [t] = import_files(store, [{str(path)!r}], max_bytes=10**11)
print(json.dumps({{"seconds": time.perf_counter() - start, "nodes": t.node_count,
                   "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench_load(workdir: Path) -> list[float]:
    from core import Store, import_files

    path = workdir / "ten_thousand.jsonl"
    write_jsonl(path, 10_000, trace_id="ten-thousand")
    with Store(":memory:") as store:
        import_files(store, [path])
        store.load_trace("ten-thousand")  # warm the connection
        times = []
        for _ in range(20):
            start = time.perf_counter()
            store.load_trace("ten-thousand")
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=1_000_000)
    args = parser.parse_args()
    print(machine.describe())
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        path = workdir / "big.jsonl"
        write_jsonl(path, args.nodes)
        os.sync()
        size = path.stat().st_size
        runs = []
        for attempt in range(3):
            db = workdir / f"bench-{attempt}.duckdb"
            runs.append(import_in_child(path, db))
            db.unlink()
        seconds = sorted(r["seconds"] for r in runs)
        nodes = runs[0]["nodes"]
        print(f"import {nodes:,} nodes from JSONL ({size / 1e6:.0f} MB, {size / nodes:.0f} B/node), 3 runs: "
              f"median {seconds[1]:.2f} s = {nodes / seconds[1]:,.0f} nodes/s "
              f"(range {nodes / seconds[2]:,.0f}–{nodes / seconds[0]:,.0f}), "
              f"peak memory {max(r['peak_mb'] for r in runs):,.0f} MB")
        times = bench_load(workdir)
        print(f"load a 10,000-node trace into models: median {statistics.median(times) * 1000:.1f} ms, "
              f"max {max(times) * 1000:.1f} ms (20 runs)")


if __name__ == "__main__":
    main()
