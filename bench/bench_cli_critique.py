"""Wall time of the offline critique command, the way a person runs it:

    trellis critique legal-msa-student-8b --db X

on a fresh database loaded with `trellis import sample_traces --db X`, the built-in structural
critic, no network. Each run is a new process (start-up and imports included), measured from
outside; one untimed run first warms the disk cache. Every figure is printed with the core count
and the load average beside it, since on a 2-core VM a busy neighbour shows in every figure.

    .venv/bin/python bench/bench_cli_critique.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TRELLIS = Path(sys.executable).with_name("trellis")
STUDENT = "legal-msa-student-8b"


def load() -> str:
    return f"cpu_count {os.cpu_count()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)"


def trellis(*args: str) -> float:
    """Seconds from starting `trellis ARGS` to its exit; a failure stops the benchmark."""
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env.pop("TRELLIS_MODELS", None)
    start = time.perf_counter()
    done = subprocess.run([str(TRELLIS), *args], cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"trellis {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    print(machine.describe())
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.duckdb")
        print(f"trellis import sample_traces: {trellis('import', 'sample_traces', '--db', db):.2f} s; {load()}")
        trellis("critique", STUDENT, "--db", db)  # warm-up, not counted
        times = []
        for run in range(runs):
            times.append(trellis("critique", STUDENT, "--db", db))
            print(f"  run {run + 1}: {times[-1]:.2f} s; {load()}")
        print(f"trellis critique {STUDENT} (structural, offline): median {statistics.median(times):.2f} s, "
              f"min {min(times):.2f} s, max {max(times):.2f} s ({runs} runs, warm); {load()}")


if __name__ == "__main__":
    main()
