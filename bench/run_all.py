"""Run every benchmark in turn: `make bench`. Record the figures in docs/benchmarks.md."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

for script in ("bench_store.py", "bench_storage.py", "bench_trace_page.py", "bench_align.py", "bench_critique.py",
               "bench_cli_critique.py", "bench_runs.py",
               "bench_ingest.py", "bench_server_memory.py", "bench_sessions.py", "interaction.py"):  # the last four drive Chromium
    if (HERE / script).exists():
        print(f"\n$ python bench/{script}", flush=True)
        subprocess.run([sys.executable, str(HERE / script)], check=True)
