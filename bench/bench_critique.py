"""Structural critique at scale: a 10,000-node student against a 10,000-node reference and against
the 37-node sample teacher (also through the whole offline-teacher pipeline), and a 100,000-deep
chain of recursive calls against that teacher.

    .venv/bin/python bench/bench_critique.py
"""

from __future__ import annotations

import os
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
from core.critique.teacher import run_critique  # noqa: E402
from core.models import (  # noqa: E402
    LoadedTrace,  # noqa: E402
    Node,
    Trace,
)

SAMPLE_TEACHER = Path(__file__).resolve().parents[1] / "sample_traces" / "legal-msa-teacher-70b.json"


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


def timed(student: LoadedTrace, reference: LoadedTrace, runs: int) -> tuple[list[float], list]:
    times, findings = [], []
    for _ in range(runs):
        start = time.perf_counter()
        findings = critique(student, reference)
        times.append(time.perf_counter() - start)
    return times, findings


def main() -> None:
    print(machine.describe())
    print(f"cpu_count {os.cpu_count()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)")
    with tempfile.TemporaryDirectory() as tmp:
        reference, student = Path(tmp) / "reference.jsonl", Path(tmp) / "student.jsonl"
        write_jsonl(reference, 10_000, trace_id="bench")
        perturbed_copy(reference, student, "student")
        with Store(":memory:") as store:
            import_files(store, [reference, student, SAMPLE_TEACHER])
            ref, stu = store.load_trace("bench"), store.load_trace("student")
            small_teacher = store.load_trace("legal-msa-teacher-70b")
            times, findings = timed(stu, ref, 5)
            print(f"structural critique, 10,000-node student vs 10,000-node reference: median "
                  f"{statistics.median(times):.2f} s, max {max(times):.2f} s (5 runs), {len(findings):,} findings")
            # The generated reference as a student: 7,689 findings before grouping.
            times, findings = timed(ref, small_teacher, 5)
            print(f"structural critique, 10,000-node student vs 37-node teacher: median "
                  f"{statistics.median(times):.2f} s, max {max(times):.2f} s (5 runs), {len(findings):,} findings")
            start = time.perf_counter()
            result = run_critique(store, "bench", "legal-msa-teacher-70b")  # prompt, offline teacher, validation, storing
            print(f"run_critique with the offline teacher, same pair: {time.perf_counter() - start:.2f} s, "
                  f"{len(result.annotations):,} proposed annotations stored")
            nodes = [Node(id=f"n{i}", parent_id=f"n{i - 1}" if i else None, kind="recurse",
                          subproblem="Summarise the rest of the log") for i in range(100_000)]
            times, findings = timed(LoadedTrace(Trace(id="chain"), nodes), small_teacher, 3)
            print(f"structural critique, 100,000-deep chain vs 37-node teacher: median "
                  f"{statistics.median(times):.2f} s, max {max(times):.2f} s (3 runs), {len(findings):,} findings")


if __name__ == "__main__":
    main()
