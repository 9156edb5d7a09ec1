"""Structural critique of a 10,000-node student trace against a 10,000-node reference.

    .venv/bin/python bench/bench_critique.py
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import machine  # noqa: E402
from generate import write_jsonl  # noqa: E402

from core import Store, import_files  # noqa: E402
from core.critique.structural import critique  # noqa: E402


def perturbed_copy(src: Path, dst: Path, trace_id: str) -> None:
    """The reference with ~5% of its sub-problems reworded and some leaves' context shrunk: a realistic student."""
    import json

    rng = random.Random(3)
    lines = src.read_text().splitlines()
    header = json.loads(lines[0])
    header["trace"]["id"] = trace_id
    out = [json.dumps(header)]
    for line in lines[1:]:
        node = json.loads(line)
        node["id"] = node["id"].replace("bench", trace_id)
        if node["parent_id"]:
            node["parent_id"] = node["parent_id"].replace("bench", trace_id)
        if rng.random() < 0.05:
            node["subproblem"] = "Summarise obligations and remedies in this part"
        if rng.random() < 0.05:
            node["context_chars"] = 100
        out.append(json.dumps(node))
    dst.write_text("\n".join(out) + "\n")


def main() -> None:
    print(machine.describe())
    with tempfile.TemporaryDirectory() as tmp:
        reference, student = Path(tmp) / "reference.jsonl", Path(tmp) / "student.jsonl"
        write_jsonl(reference, 10_000, trace_id="bench")
        perturbed_copy(reference, student, "student")
        with Store(":memory:") as store:
            import_files(store, [reference, student])
            ref, stu = store.load_trace("bench"), store.load_trace("student")
            times, findings = [], []
            for _ in range(5):
                start = time.perf_counter()
                findings = critique(stu, ref)
                times.append(time.perf_counter() - start)
    print(f"structural critique, 10,000-node student vs 10,000-node reference: median {statistics.median(times):.2f} s, "
          f"max {max(times):.2f} s (5 runs), {len(findings):,} findings")


if __name__ == "__main__":
    main()
