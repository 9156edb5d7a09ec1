"""What the browser benchmarks share: the real app under `streamlit run`, its memory, and the machine's load.

On a shared 2-core machine a figure means little without the load it was taken under,
so every figure these benchmarks print carries `machine_load()` beside it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


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


@contextmanager
def serve(db: Path, *, app: Path = ROOT, env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """`streamlit run app.py -- --db DB` on a free port; yields its URL and process id."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false", "--", "--db", str(db)],
        cwd=app, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,  # a full pipe would stall the server
        env={**os.environ, "TRELLIS_DB": "", "LITELLM_LOCAL_MODEL_COST_MAP": "True", **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("streamlit did not start")
            time.sleep(0.3)
        yield url, server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def import_with_cli(db: Path, *paths: Path) -> float:
    """Import files with the `trellis` CLI, as an operator would; returns the seconds it took."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "core", "import", *map(str, paths), "--db", str(db), "--max-mb", "100000"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    return time.perf_counter() - start


# The page has finished a run when Streamlit's running indicator is gone and the inspector shows a node.
IDLE = "!document.querySelector('[data-testid=stStatusWidget]') && document.querySelectorAll('[data-testid=stCode]').length > 0"
