"""Many people on one trace at once: 20 Chromium sessions against one `streamlit run app.py`.

    .venv/bin/python bench/bench_sessions.py [--sessions 20] [--nodes 10000] [--selects 3] [--searches 2]

One Chromium, one browser context per person, all driven at once with Playwright's async API.
Each person opens the trace page, selects other nodes (the inspector's "Next" button) and
searches the trace; each action is timed from the click to the page showing its result with
the run finished, in the browser. One person opens the trace and searches it first, so the
figures are for a trace already loaded and indexed (that first open and search are printed too).
Prints p50 and p95 per action, with the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import machine  # noqa: E402
from generate import write_jsonl  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402
from serving import cpu_seconds, import_with_cli, machine_load  # noqa: E402

from core import Store  # noqa: E402
from core.search import search_trace  # noqa: E402
from core.traceview import TraceView
from tests.support.browser_support import CHROMIUM, CHROMIUM_ARGS, app_server  # noqa: E402

TRACE = "shared"
QUERIES = ["indemnify", "subprocessor", "wilful", "thirty days"]
WAIT_MS = 600_000


def showing(node_id: str) -> str:
    """JavaScript that is true once the inspector shows `node_id` and the run is over."""
    return (f"document.querySelector('[data-testid=stCode]')?.innerText.trim() === {node_id!r}"
            " && !document.querySelector('[data-testid=stStatusWidget]')")


IDLE = "!document.querySelector('[data-testid=stStatusWidget]')"


async def person(browser, url: str, number: int, searches: dict[str, int], selects: int, times: dict) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1800})
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)  # 20 browsers on 2 cores: a click may wait long for its turn
    # Each person starts on another node, among the children of node `number + 1` (generate.py: fanout 6).
    node = 6 * (number + 1) + 1
    start = time.perf_counter()
    await page.goto(f"{url}/trace?trace={TRACE}&node={TRACE}-{node}")
    await page.wait_for_function(showing(f"{TRACE}-{node}"), timeout=WAIT_MS, polling=100)
    times["open the trace page"].append(time.perf_counter() - start)
    for _ in range(selects):
        node += 1
        start = time.perf_counter()
        await page.get_by_role("button", name="Next ▶").click()
        await page.wait_for_function(showing(f"{TRACE}-{node}"), timeout=WAIT_MS, polling=100)
        times["select a node"].append(time.perf_counter() - start)
    for query, count in searches.items():
        start = time.perf_counter()
        box = page.get_by_role("textbox", name="Search this trace")
        await box.fill(query)
        await box.press("Enter")
        await page.get_by_text(re.compile(f"^{count:,} matching nodes")).wait_for(timeout=WAIT_MS)
        await page.wait_for_function(IDLE, timeout=WAIT_MS, polling=100)
        times["search"].append(time.perf_counter() - start)
    await context.close()


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1] if len(values) > 1 else values[0]


async def run(url: str, pid: int, args, searches: dict[str, int]) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        first = {"open the trace page": [], "select a node": [], "search": []}
        await person(browser, url, args.sessions, dict(list(searches.items())[-1:]), 0, first)
        print(f"first person: open (loads the trace) {first['open the trace page'][0]:.2f} s, "
              f"search (builds the index) {first['search'][0]:.2f} s  {machine_load()}", flush=True)
        times = {"open the trace page": [], "select a node": [], "search": []}
        start, server_cpu = time.perf_counter(), cpu_seconds(pid)
        await asyncio.gather(*(person(browser, url, i, dict(list(searches.items())[:args.searches]), args.selects, times)
                               for i in range(args.sessions)))
        wall = time.perf_counter() - start
        print(f"{args.sessions} people at once, all done in {wall:.0f} s; the Streamlit server used "
              f"{cpu_seconds(pid) - server_cpu:.0f} s of CPU in that time, the browsers the rest  {machine_load()}")
        for action, values in times.items():
            print(f"  {action:<20} p50 {percentile(values, 0.5):6.2f} s   p95 {percentile(values, 0.95):6.2f} s   "
                  f"max {max(values):6.2f} s   ({len(values)} actions)  {machine_load()}", flush=True)
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--selects", type=int, default=3, help="nodes each person selects (at most 5)")
    parser.add_argument("--searches", type=int, default=2, help=f"searches each person runs (at most {len(QUERIES) - 1})")
    args = parser.parse_args()
    print(machine.describe(), machine_load(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path, db = Path(tmp) / "trace.jsonl", Path(tmp) / "bench.duckdb"
        write_jsonl(path, args.nodes, trace_id=TRACE)
        import_with_cli(db, path)
        with Store(db) as store:  # what each search should report, to know when the page shows it
            view = TraceView.build(store.load_trace(TRACE))
        searches = {q: search_trace(view, q)[1] for q in QUERIES}
        assert len(set(searches.values())) == len(searches), f"queries with the same count: {searches}"
        with app_server(db) as (url, pid):
            asyncio.run(run(url, pid, args, searches))


if __name__ == "__main__":
    main()
