"""Tree alignment speed (core.align, the Compare page and the critics): the cases tests/test_align.py checks.

    .venv/bin/python bench/bench_align.py [--runs 5]

Two generated trees of 10,000 nodes (fanout 6 against fanout 5, different text), as a
teacher and a student of one task; and a 10,000-deep chain against an unrelated one
(only the roots match). Both again at 100,000 nodes, to show the work stays near
linear. Medians and maxima of --runs runs (3 at 100,000), each figure with the
machine's core count and load. Target: 10,000 x 10,000 in about a second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import machine  # noqa: E402
from generate import node_records  # noqa: E402
from serving import machine_load  # noqa: E402

from core.align import align  # noqa: E402
from core.models import Node  # noqa: E402


def generated(count: int, seed: int, fanout: int, trace_id: str) -> list[Node]:
    return [Node.model_validate(r) for r in node_records(count, fanout=fanout, seed=seed, trace_id=trace_id)]


def chain(count: int, trace_id: str, text: str) -> list[Node]:
    return [Node(id=f"{trace_id}{i}", parent_id=f"{trace_id}{i - 1}" if i else None, subproblem=f"{text} {i}")
            for i in range(count)]


def timed(what: str, left: list[Node], right: list[Node], runs: int) -> None:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = align(left, right)
        times.append(time.perf_counter() - start)
    print(f"  {what:<38} median {statistics.median(times):6.2f} s, max {max(times):6.2f} s ({runs} runs), "
          f"{len(result.matches):,} matched  {machine_load()}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(machine.describe(), machine_load(), flush=True)
    for count, runs in ((10_000, args.runs), (100_000, min(args.runs, 3))):
        timed(f"align {count:,} x {count:,} generated", generated(count, 7, 6, "t"), generated(count, 8, 5, "s"), runs)
        timed(f"align {count:,}-deep unrelated chains", chain(count, "a", "step"), chain(count, "b", "other"), runs)


if __name__ == "__main__":
    main()
