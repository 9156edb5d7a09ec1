"""How fast the Trace page answers a person, in real headless Chromium against `streamlit run app.py`.

    .venv/bin/python bench/interaction.py [--app CHECKOUT ...] [--nodes 1000 10000 100000] [--clicks 20]

On generated traces (bench/generate.py) of 1,000, 10,000 and 100,000 nodes, for each checkout given with
--app (this one unless told; give two, e.g. `--app /tmp/before-tree --app .`, to compare them in one run):

* first load: from navigating to /trace?trace=ID to the inspector showing the root and the tree drawn,
  on a server that has not loaded the trace yet ("cold"), then again in a fresh browser tab ("warm");
* click: from a click on a node to the inspector showing that node's id ("shown"), and to the page's run
  being over ("settled"); median and p95 of --clicks clicks.

What is clicked: a row of the tree (an element with a `data-node-id` attribute) when the page has one;
a checkout from before the tree had no clickable node in its tree picture, so there the click is the
inspector's "Next ▶" / "◀ Prev" sibling buttons, the one-click way that page had to select another node.

Each checkout imports the traces with its own CLI into its own database (their schemas may differ).
Every figure is printed with the core count and the load average (1, 5, 15 min) beside it.
Targets on an idle machine: click < 300 ms, first load of 10k < 1.5 s, of 100k < 3 s.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import machine  # noqa: E402
from generate import write_jsonl  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from serving import machine_load  # noqa: E402

from tests.support.browser_support import CHROMIUM, CHROMIUM_ARGS, app_server  # noqa: E402

WAIT_MS = 300_000
RUN_OVER = "!document.querySelector('[data-testid=stStatusWidget]')"
TREE_ROW = "[data-node-id]"


def inspecting(node_id: str) -> str:
    """JavaScript that is true once the inspector shows `node_id`."""
    return f"[...document.querySelectorAll('[data-testid=stCode]')].some(c => c.innerText.trim() === {node_id!r})"


def tree_drawn() -> str:
    """True once the tree is on the page: the tree component's rows, or (before it) the graphviz picture."""
    return ("(() => { const rows = [...document.querySelectorAll('*')].some(e => e.shadowRoot"
            f" && e.shadowRoot.querySelector({TREE_ROW!r}));"
            f" return rows || !!document.querySelector({TREE_ROW!r})"
            " || !!document.querySelector('[data-testid=stGraphVizChart] svg'); })()")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def import_traces(app: Path, db: Path, paths: list[Path]) -> None:
    """Import with the checkout's own CLI, as an operator of that version would."""
    subprocess.run([sys.executable, "-m", "core", "import", *map(str, paths), "--db", str(db), "--max-mb", "100000"],
                   cwd=app, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"})


def first_load(browser, url: str, trace_id: str) -> float:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    start = time.perf_counter()
    page.goto(f"{url}/trace?trace={trace_id}")
    page.wait_for_function(f"{inspecting(trace_id + '-0')} && {tree_drawn()}", timeout=WAIT_MS, polling=50)
    seconds = time.perf_counter() - start
    context.close()
    return seconds


def clicks(browser, url: str, trace_id: str, count: int) -> tuple[list[float], list[float], str]:
    """Seconds from each click to the inspector showing the node, and to the run being over; and what was clicked."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{url}/trace?trace={trace_id}&node={trace_id}-1")
    page.wait_for_function(f"{inspecting(trace_id + '-1')} && {tree_drawn()} && {RUN_OVER}", timeout=WAIT_MS, polling=50)
    page.wait_for_timeout(500)
    use_tree = page.locator(TREE_ROW).count() > 0
    shown, settled = [], []
    for i in range(count):
        if use_tree:  # round the root's six children, listed when the page opens (generate.py: fanout 6)
            target = f"{trace_id}-{(i + 1) % 6 + 1}"
            row = page.locator(f"[data-node-id='{target}']")
            row.scroll_into_view_if_needed()
            start = time.perf_counter()
            row.click()
        else:  # alternate between the root's first two children
            target = f"{trace_id}-{2 if i % 2 == 0 else 1}"
            start = time.perf_counter()
            page.get_by_role("button", name="Next ▶" if i % 2 == 0 else "◀ Prev").click()
        page.wait_for_function(inspecting(target), timeout=WAIT_MS, polling=20)
        shown.append(time.perf_counter() - start)
        page.wait_for_function(f"{inspecting(target)} && {RUN_OVER}", timeout=WAIT_MS, polling=20)
        settled.append(time.perf_counter() - start)
        page.wait_for_timeout(200)  # a person does not click again within a frame
    context.close()
    return shown, settled, "a tree row" if use_tree else "the inspector's Next/Prev buttons"


def bench_app(app: Path, traces: dict[int, Path], folder: Path, count: int) -> None:
    db = folder / f"{app.name or 'app'}-{abs(hash(str(app)))}.duckdb"
    import_traces(app, db, list(traces.values()))
    print(f"\n== {app}  (git {git_head(app)})  {machine_load()}", flush=True)
    with app_server(db, app=app) as (url, _pid), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for nodes in traces:
            trace_id = f"t{nodes}"
            cold = first_load(browser, url, trace_id)
            print(f"{nodes:>7,} nodes  first load, cold   {cold:6.2f} s  {machine_load()}", flush=True)
            warm = [first_load(browser, url, trace_id) for _ in range(3)]
            print(f"{nodes:>7,} nodes  first load, warm   {statistics.median(warm):6.2f} s (median of 3)  "
                  f"{machine_load()}", flush=True)
            shown, settled, what = clicks(browser, url, trace_id, count)
            for name, values in (("shown", shown), ("settled", settled)):
                print(f"{nodes:>7,} nodes  click -> {name:<8} median {statistics.median(values) * 1000:6.0f} ms   "
                      f"p95 {percentile(values, 0.95) * 1000:6.0f} ms   ({len(values)} clicks on {what})  {machine_load()}",
                      flush=True)
        browser.close()


def git_head(app: Path) -> str:
    result = subprocess.run(["git", "-C", str(app), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(app), "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
    return result.stdout.strip() + (" + uncommitted changes" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", type=Path, action="append", help="a checkout to run (repeat to compare); default this one")
    parser.add_argument("--nodes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--clicks", type=int, default=20)
    args = parser.parse_args()
    print(machine.describe(), machine_load(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        traces = {}
        for nodes in args.nodes:
            traces[nodes] = folder / f"t{nodes}.jsonl"
            write_jsonl(traces[nodes], nodes, trace_id=f"t{nodes}")
        for app in args.app or [ROOT]:
            bench_app(app.resolve(), traces, folder, args.clicks)


if __name__ == "__main__":
    main()
