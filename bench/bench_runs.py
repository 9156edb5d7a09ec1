"""One task run by the local model twice, with the approved legal scaffold and without one:

    .venv/bin/python bench/bench_runs.py [--task legal-01-cap-months]

on a fresh database loaded with the sample library, its legal teacher's scaffold extracted and
approved, and the shipped local model served beside it (`trellis model serve`, 1 thread). Prints
each run's wall time, calls, tokens, score and fallback, with the core count and load beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TRELLIS = Path(sys.executable).with_name("trellis")
TASKS = ROOT / "sample_tasks" / "legal-contract-review"


def load() -> str:
    return f"cpu_count {os.cpu_count()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)"


def trellis(*args: str) -> str:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run([str(TRELLIS), *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"trellis {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def one_task_file(folder: Path, task_id: str) -> Path:
    header, *tasks = (TASKS / "tasks.jsonl").read_text().splitlines()
    [task] = [line for line in tasks if json.loads(line)["id"] == task_id]
    shutil.copytree(TASKS / "docs", folder / "docs")  # a task file reads its context from beside it only
    path = folder / "one.jsonl"
    path.write_text(f"{header}\n{task}\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="legal-01-cap-months")
    task_id = parser.parse_args().task
    print(machine.describe())
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.duckdb")
        trellis("import", "sample_traces", "--db", db)
        scaffold = trellis("scaffold", "extract", "legal-msa-teacher-70b", "--db", db).split("\t")[0]
        for decision in ("submit", "approve"):
            trellis("scaffold", decision, scaffold, "--version", "1", "--db", db)
        tasks = one_task_file(Path(tmp), task_id)
        for choice in (scaffold, "none"):
            # A fresh server per run: llama.cpp caches prompts, and a fallback sends the very prompts an
            # unscaffolded run sends, which would make the second run look ten times faster than it is.
            trellis("model", "serve", "--db", db)
            try:
                [run] = json.loads(trellis("run", str(tasks), "--student", "local", "--scaffold", choice, "--json",
                                           "--db", db))
            finally:
                trellis("model", "stop", "--db", db)
            print(f"{task_id}, scaffold {choice}: {run['seconds']:.1f} s, {run['calls']} calls, "
                  f"{run['tokens_in'] + run['tokens_out']:,} tokens, score {run['score']}, "
                  f"fell back: {run['fallback_reason'] or 'no'}; {load()}")


if __name__ == "__main__":
    main()
