"""The local model (core.runtime): load time, prompt and decode speed, on this machine.

    .venv/bin/python bench/bench_local_model.py [--runs 3] [--threads 1] [--model NAME] [--critique]

Load time is `serve` to the server answering /health (a new process each run, model file already
joined). Prompt and decode speed come from llama.cpp's own timings in each answer (``timings``:
prompt tokens/s over a ~400-token prompt, then tokens/s over 64 generated tokens), each call
reached through litellm as `--teacher local` reaches it. `--critique` also times the sample
critique (`trellis critique legal-msa-student-8b --teacher local`, ~10,700 prompt tokens: minutes).
Every figure is printed with the core count and the load average beside it.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import machine  # noqa: E402

from core import runtime  # noqa: E402
from core.model_catalog import LOCAL, load_catalog  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TRELLIS = Path(sys.executable).with_name("trellis")
PROMPT = (ROOT / "sample_traces" / "README.md").read_text()[:1600]


def load() -> str:
    return f"cpu_count {os.cpu_count()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)"


def speeds(db: str, runs: int) -> None:
    import litellm

    entry = load_catalog(db=db)[LOCAL]
    prompt_rates, decode_rates = [], []
    for run in range(runs):
        # A fresh prefix each time, so no prompt tokens come from llama.cpp's cache.
        messages = [{"role": "user", "content": f"[{random.random()}] Summarise this:\n{PROMPT}"}]
        start = time.perf_counter()
        response = litellm.completion(messages=messages, **entry.litellm_kwargs(), max_tokens=64, temperature=0,
                                      timeout=600, num_retries=0)
        wall = time.perf_counter() - start
        timings = getattr(response, "timings", None) or response.model_extra.get("timings") or {}
        prompt_rates.append(timings.get("prompt_per_second", 0.0))
        decode_rates.append(timings.get("predicted_per_second", 0.0))
        print(f"  call {run + 1}: {timings.get('prompt_n')} prompt tokens at {prompt_rates[-1]:.1f} tok/s, "
              f"{timings.get('predicted_n')} generated at {decode_rates[-1]:.1f} tok/s, {wall:.2f} s wall; {load()}")
    print(f"prompt: median {statistics.median(prompt_rates):.1f} tok/s; decode: median "
          f"{statistics.median(decode_rates):.1f} tok/s ({runs} calls); {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default=None)
    parser.add_argument("--critique", action="store_true", help="also time the sample critique (minutes)")
    args = parser.parse_args()
    print(machine.describe())
    start = time.perf_counter()
    gguf = runtime.prepare(args.model)
    print(f"weights ready ({gguf.stat().st_size / 1e6:.0f} MB, joined and checked if needed): "
          f"{time.perf_counter() - start:.2f} s; {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.duckdb")
        loads = []
        for run in range(args.runs):
            start = time.perf_counter()
            state = runtime.serve(args.model, threads=args.threads, db=db)
            loads.append(time.perf_counter() - start)
            print(f"  load {run + 1}: {loads[-1]:.2f} s ({state.alias}, {args.threads} thread(s)); {load()}")
            if run < args.runs - 1:
                runtime.stop(db)
        print(f"load time: median {statistics.median(loads):.2f} s ({args.runs} runs); {load()}")
        try:
            speeds(db, args.runs)
            if args.critique:
                env = {**os.environ, "TRELLIS_STORE": db}
                subprocess.run([str(TRELLIS), "import", "sample_traces", "--db", db], cwd=ROOT, env=env,
                               check=True, capture_output=True)
                start = time.perf_counter()
                done = subprocess.run([str(TRELLIS), "critique", "legal-msa-student-8b", "--teacher", LOCAL,
                                       "--retries", "0", "--timeout", "600", "--db", db],
                                      cwd=ROOT, env=env, capture_output=True, text=True)
                outcome = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
                print(f"trellis critique legal-msa-student-8b --teacher local: {time.perf_counter() - start:.1f} s, "
                      f"exit {done.returncode} ({outcome[:160]}); {load()}")
        finally:
            runtime.stop(db)


if __name__ == "__main__":
    main()
