"""The Streamlit server's memory while people open very big traces in real Chromium.

    .venv/bin/python bench/bench_server_memory.py [--nodes 1000000] [--cache-mb N] [--app DIR]

Generates two traces of --nodes nodes, imports them with the CLI into a new database,
serves it with `streamlit run app.py -- --db DB`, and prints the server's resident
memory (and its peak so far) before any trace is opened, after one person opens the
first trace, then the second, then the first again (in one session, from the Trace
page's picker), after a second person opens the first trace too, and back on the home
page. The cache holds traces within $TRELLIS_CACHE_MB (--cache-mb sets it for the
server), so the figures after the second trace show whether that bound holds.
--app serves another checkout, to compare.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import machine  # noqa: E402
from generate import write_jsonl  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from serving import IDLE, ROOT, import_with_cli, machine_load, memory_mb  # noqa: E402

from tests.support.browser_support import CHROMIUM, CHROMIUM_ARGS, app_server  # noqa: E402


def report(what: str, pid: int, seconds: float | None = None) -> None:
    time.sleep(3)  # let the run's garbage go before reading the figure
    rss, peak = memory_mb(pid)
    took = f", page drawn in {seconds:.1f} s" if seconds is not None else ""
    print(f"  {what:<34} RSS {rss:7,.0f} MB  (peak so far {peak:7,.0f} MB){took}  {machine_load()}", flush=True)


def wait_for_trace_page(page, start: float) -> float:
    page.wait_for_timeout(500)
    page.wait_for_function(IDLE, timeout=0, polling=500)
    return time.perf_counter() - start


def pick_trace(page, trace_id: str) -> float:
    """Open a trace the way a person moves between traces: in the same session, from the Trace page's picker."""
    go_home(page)  # the Trace link on the Trace page itself keeps the open trace
    start = time.perf_counter()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Trace").click()
    page.get_by_role("combobox", name="Trace").click()
    page.get_by_role("option", name=re.compile(f"{trace_id}$")).click()
    return wait_for_trace_page(page, start)


def go_home(page) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Home").click()
    page.get_by_role("heading", name="A guided demo").wait_for(timeout=0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--cache-mb", help="TRELLIS_CACHE_MB for the server (default: its own default)")
    parser.add_argument("--app", type=Path, default=ROOT, help="the checkout to serve")
    args = parser.parse_args()
    print(machine.describe(), machine_load(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        files = []
        for name, seed in (("big1", 7), ("big2", 8)):
            start = time.perf_counter()
            files.append(Path(tmp) / f"{name}.jsonl")
            write_jsonl(files[-1], args.nodes, trace_id=name, seed=seed)
            print(f"generated {name}: {args.nodes:,} nodes, {files[-1].stat().st_size / 1e6:,.0f} MB "
                  f"in {time.perf_counter() - start:.0f} s  {machine_load()}", flush=True)
        seconds = import_with_cli(db, *files)
        print(f"imported both with `trellis import` in {seconds:.0f} s  {machine_load()}", flush=True)
        for path in files:
            path.unlink()

        env = {"TRELLIS_CACHE_MB": args.cache_mb} if args.cache_mb else {}
        print(f"server: {args.app}, TRELLIS_CACHE_MB={args.cache_mb or '(default)'}", flush=True)
        with app_server(db, app=args.app, env=env) as (url, pid), sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
            report("started", pid)
            page.goto(url)
            page.wait_for_selector("[data-testid=stMetric]", timeout=0)
            report("home page open", pid)
            report(f"big1 ({args.nodes:,} nodes) drawn", pid, pick_trace(page, "big1"))
            report("then big2, same session", pid, pick_trace(page, "big2"))
            report("then big1 again, same session", pid, pick_trace(page, "big1"))
            # A second person opens the trace the first one has open: they share its one copy.
            other = browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
            start = time.perf_counter()
            other.goto(f"{url}/trace?trace=big1")
            report("a 2nd session opens big1 too", pid, wait_for_trace_page(other, start))
            go_home(page)
            go_home(other)
            report("both sessions back on home", pid)
            browser.close()


if __name__ == "__main__":
    main()
