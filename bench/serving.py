"""What the browser benchmarks share besides starting the app, which they do as the browser tests do
(tests/support/browser_support.app_server): the server's memory and CPU, the machine's load, importing with the CLI.

On a shared 2-core machine a figure means little without the load it was taken under,
so every figure these benchmarks print carries `machine_load()` beside it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def machine_load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"[{os.cpu_count()} cores, load {one:.2f} {five:.2f} {fifteen:.2f}]"


def memory_mb(pid: int) -> tuple[float, float]:
    """A process's resident memory now and at its peak (VmRSS, VmHWM), in MB."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (user and system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def import_with_cli(db: Path, *paths: Path) -> float:
    """Import files with the `trellis` CLI, as an operator would; returns the seconds it took."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "core", "import", *map(str, paths), "--db", str(db), "--max-mb", "100000"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    return time.perf_counter() - start


# The page has finished a run when Streamlit's running indicator is gone and the inspector shows a node.
IDLE = "!document.querySelector('[data-testid=stStatusWidget]') && document.querySelectorAll('[data-testid=stCode]').length > 0"
