"""Server-side speed of the trace page, and how much it sends to the browser.

    .venv/bin/python bench/bench_trace_page.py [--runs 5]

Two ways, on generated traces of 10,000 and 100,000 nodes in a DuckDB file:

* core: the functions the page calls, timed one by one. "Open" is loading the
  trace and building everything the page draws (tree window, DOT, overview,
  timeline, stats, the figures serialised to JSON as Streamlit does);
  "select" is what changes when another node is picked (the caches hold the
  trace, stats and overview).
* page: the real page under Streamlit's AppTest, caches cleared for "open";
  "select" reruns it with another ?node=. This includes Streamlit's own work
  (protobuf, plotly serialisation) but not the network or the browser.

Medians of --runs runs. Targets: open a 10,000-node trace < 300 ms,
select another node < 100 ms, open a 100,000-node trace < 2 s. The Compare
page's alignment is measured by bench/bench_align.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import machine  # noqa: E402
from generate import write_jsonl  # noqa: E402

from core import Store, import_files  # noqa: E402
from core.dot import tree_dot  # noqa: E402
from core.explore import trace_stats, tree_window  # noqa: E402
from core.figures import overview_figure, timeline_figure
from core.traceview import TraceView
from pages import PAGES  # noqa: E402


def median_ms(times: list[float]) -> str:
    return f"{statistics.median(times) * 1000:7.1f} ms"


def other_nodes(view: TraceView, count: int) -> list[str]:
    """Nodes spread through the tree, as a person clicking around would pick."""
    step = max(1, len(view.preorder) // (count + 1))
    return [view.preorder[i * step] for i in range(1, count + 1)]


def bench_core(store: Store, trace_id: str, runs: int) -> None:
    open_times, select_times, sizes = [], [], {}
    for _ in range(runs):
        start = time.perf_counter()
        view = TraceView.build(store.load_trace(trace_id))
        trace_stats(view)
        dot = tree_dot(view, tree_window(view, view.root), view.root)
        overview = overview_figure(view, "tokens", "kind").figure.to_json()
        timeline = timeline_figure(view, view.root)
        timeline_json = timeline.to_json() if timeline else ""
        open_times.append(time.perf_counter() - start)
        sizes = {"DOT": len(dot), "overview JSON": len(overview), "timeline JSON": len(timeline_json)}
    for node_id in other_nodes(view, runs):
        start = time.perf_counter()
        dot = tree_dot(view, tree_window(view, node_id), node_id)
        timeline = timeline_figure(view, node_id)
        if timeline:
            timeline.to_json()
        view.tree.ancestors(node_id), view.neighbour(node_id, 1), view.nodes[node_id].model_dump(mode="json")
        select_times.append(time.perf_counter() - start)
    print(f"  core  open   {median_ms(open_times)}   select another node {median_ms(select_times)}")
    print("  sent to the browser: " + ", ".join(f"{name} {size / 1024:,.0f} KB" for name, size in sizes.items()))


def bench_page(db: Path, trace_id: str, runs: int) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["TRELLIS_STORE"] = str(db)
    open_times, select_times = [], []
    for _ in range(runs):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.switch_page(str(PAGES["trace"].file))  # before the first run: AppTest finds a function's page only then
        at.run()  # the trace picker: AppTest's own first-run setup (~250 ms) is not the cost of opening a trace
        st.cache_resource.clear()
        at.query_params["trace"] = trace_id
        start = time.perf_counter()
        at.run()
        open_times.append(time.perf_counter() - start)
        assert not at.exception, at.exception
    for i in range(runs):
        at.query_params["node"] = f"{trace_id}-{(i + 1) * 997}"
        start = time.perf_counter()
        at.run()
        select_times.append(time.perf_counter() - start)
        assert not at.exception, at.exception
    print(f"  page  open   {median_ms(open_times)}   select another node {median_ms(select_times)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(machine.describe())
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        for count in (10_000, 100_000):
            path = Path(tmp) / f"trace-{count}.jsonl"
            write_jsonl(path, count, trace_id=f"t{count}")
            with Store(db) as store:
                import_files(store, [path], max_bytes=10**11)
        for count in (10_000, 100_000):
            print(f"{count:,}-node trace")
            with Store(db) as store:
                bench_core(store, f"t{count}", args.runs)
            bench_page(db, f"t{count}", args.runs)


if __name__ == "__main__":
    main()
