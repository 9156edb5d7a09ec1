"""Sustained live ingest: spans per second through `trellis collect` while the app serves the same folder store.

    .venv/bin/python bench/bench_ingest.py [--seconds 45] [--clients 4] [--batch 50] [--trace-spans 200]

A folder store (a DuckLake, the default kind) holds sample_traces/. On it: `streamlit run app.py` (as the browser
tests start it) with headless Chromium on its Library page, which looks for new traces every 3 s and redraws
when there are, and is reloaded every few seconds (each reload timed until the table's caption shows); and
`trellis collect`. ``--clients`` threads each send OTLP/HTTP protobuf ExportTraceServiceRequests (one batch of
``--batch`` OpenInference spans a request, on a kept-alive connection, as the SDK's BatchSpanProcessor and
OTLPSpanExporter do) for ``--seconds``: agent runs of ``--trace-spans`` spans each (a tree of fan-out 6),
parents before children. A 503 is counted, and the same batch sent again after its Retry-After.

For comparison, ``--no-app``: without the app; ``--plain``: into a plain DuckDB file, without the app (a file
opens in one process).

Printed: spans/s accepted (in 200 answers) and stored (the store's count after the collector stopped), requests,
503s, p50/p95/max latency of the answered requests, the Library's reload times, and the core count and load.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import machine  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue  # noqa: E402
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from core import Store, import_files  # noqa: E402
from tests.support.browser_support import CHROMIUM, CHROMIUM_ARGS, app_server, free_port  # noqa: E402

FANOUT = 6
CAPTION = re.compile(r"\d+ of (\d+) traces")  # the Library's caption over its table
WORDS = ("supplier customer shall indemnify losses arising breach notice thirty days termination liability cap fees "
         "paid preceding months gross negligence personal data processor audit confidential remedy").split()


def attribute(key: str, value: str | int) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(int_value=value) if isinstance(value, int) else AnyValue(string_value=value))


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


class AgentRun:
    """One trace's spans, made a batch at a time: span 0 the agent's root, span j under span (j - 1) // FANOUT."""

    def __init__(self, rng: random.Random, spans: int):
        self.rng, self.spans, self.sent = rng, spans, 0
        self.trace_id = rng.randbytes(16)
        self.span_ids = [rng.randbytes(8) for _ in range(spans)]
        self.start = time.time_ns()

    def done(self) -> bool:
        return self.sent >= self.spans

    def next_spans(self, count: int) -> list[Span]:
        out = []
        for j in range(self.sent, min(self.sent + count, self.spans)):
            llm = j % 3 != 0
            start = self.start + j * 40_000_000
            span = Span(trace_id=self.trace_id, span_id=self.span_ids[j], name="llm call" if llm else "agent step",
                        parent_span_id=self.span_ids[(j - 1) // FANOUT] if j else b"",
                        start_time_unix_nano=start, end_time_unix_nano=start + self.rng.randint(200, 4000) * 1_000_000)
            span.attributes.extend([
                attribute("openinference.span.kind", "LLM" if llm else ("AGENT" if j == 0 else "CHAIN")),
                attribute("input.value", f"Review section {j % 40 + 1} of the agreement. " + sentence(self.rng, 40)),
                attribute("output.value", sentence(self.rng, 25)),
            ])
            if llm:
                span.attributes.extend([attribute("llm.model_name", "gpt-4o-mini"),
                                        attribute("llm.token_count.prompt", self.rng.randint(300, 9000)),
                                        attribute("llm.token_count.completion", self.rng.randint(50, 900))])
            out.append(span)
        self.sent += len(out)
        return out


def request_body(spans: list[Span]) -> bytes:
    resource = ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])
    resource.resource.attributes.append(attribute("service.name", "bench-agent"))
    return ExportTraceServiceRequest(resource_spans=[resource]).SerializeToString()


@dataclass
class ClientFigures:
    latencies: list[float] = field(default_factory=list)  # seconds, of each 200
    accepted: int = 0  # spans in 200 answers
    busy: int = 0  # 503s
    failures: list[str] = field(default_factory=list)


def client(port: int, seed: int, batch: int, trace_spans: int, deadline: float, figures: ClientFigures) -> None:
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    run = AgentRun(rng, trace_spans)
    while time.monotonic() < deadline:
        if run.done():
            run = AgentRun(rng, trace_spans)
        spans = run.next_spans(batch)
        body = request_body(spans)
        while True:  # this batch until it is stored, as an exporter retries
            start = time.perf_counter()
            try:
                connection.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as exc:
                figures.failures.append(f"{type(exc).__name__}: {exc}")
                connection.close()
                return
            if response.status == 200:
                figures.latencies.append(time.perf_counter() - start)
                figures.accepted += len(spans)
                break
            if response.status == 503:
                figures.busy += 1
                connection.close()  # the collector closes the connection after an error answer
                time.sleep(float(response.getheader("Retry-After", "1")))
                continue
            figures.failures.append(f"{response.status}: {answer[:200]!r}")
            return


def start_collector(store: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    collector = subprocess.Popen([sys.executable, "-m", "core", "collect", "--port", str(port), "--db", str(store)],
                                 cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = collector.stdout.readline()  # "listening on ..." once it serves
    if "listening on" not in line:
        collector.kill()
        raise RuntimeError(f"trellis collect did not start: {line}{collector.stdout.read()}")
    threading.Thread(target=lambda: [print(f"  collector: {out}", end="") for out in collector.stdout], daemon=True).start()
    return collector, port


def library_reloads(page, url: str, until: float, every: float) -> tuple[list[float], int]:
    """Reload the Library page (once at least) until ``until``, timing each until its caption shows; the last count of traces."""
    times = []
    while True:  # at least once
        start = time.perf_counter()
        page.goto(f"{url}/library")
        caption = page.get_by_text(CAPTION).first
        caption.wait_for(timeout=120_000)
        times.append(time.perf_counter() - start)
        shown = int(CAPTION.search(caption.inner_text()).group(1))
        if time.monotonic() >= until:
            return times, shown
        page.wait_for_timeout(max(0.0, min(every, until - time.monotonic())) * 1000)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def send(port: int, args: argparse.Namespace, page, url: str | None) -> tuple[list[ClientFigures], list[float], float]:
    """The clients' run, with the Library reloaded meanwhile when the app serves; and how long it took."""
    figures = [ClientFigures() for _ in range(args.clients)]
    started = time.monotonic()
    deadline = started + args.seconds
    threads = [threading.Thread(target=client, args=(port, 100 + i, args.batch, args.trace_spans, deadline, f))
               for i, f in enumerate(figures)]
    for thread in threads:
        thread.start()
    reloads = library_reloads(page, url, deadline, args.reload_every)[0] if page else []
    for thread in threads:
        thread.join()
    return figures, reloads, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=45)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=50, help="spans per request")
    parser.add_argument("--trace-spans", type=int, default=200, help="spans per agent run (trace)")
    parser.add_argument("--reload-every", type=float, default=5, help="seconds between Library reloads")
    parser.add_argument("--plain", action="store_true",
                        help="into a plain DuckDB file instead, without the app (a file opens in one process)")
    parser.add_argument("--no-app", action="store_true", help="the folder store without the app serving it")
    args = parser.parse_args()
    print(machine.describe())
    print(f"cpu_count {os.cpu_count()}, load average {load()} (1, 5, 15 min)")
    with tempfile.TemporaryDirectory() as tmp:
        store_path = Path(tmp) / ("trellis.duckdb" if args.plain else "trellis.lake")
        with Store(store_path) as store:
            import_files(store, [ROOT / "sample_traces"])
            traces_before = store.count_traces()
        with ExitStack() as stack:
            page = url = None
            if not (args.plain or args.no_app):
                url, _app_pid = stack.enter_context(app_server(store_path))
                browser = stack.enter_context(sync_playwright()).chromium.launch(executable_path=CHROMIUM,
                                                                                 args=CHROMIUM_ARGS)
                stack.callback(browser.close)
                page = browser.new_page(viewport={"width": 1400, "height": 1200})
                library_reloads(page, url, 0, 0)  # the app's first run, before the clock starts
            collector, port = start_collector(store_path)
            try:
                print(f"{f'app {url}, ' if url else ''}collector on port {port} storing into {store_path.name}; "
                      f"{args.clients} clients, {args.batch} spans a request, {args.trace_spans} spans a trace, "
                      f"for {args.seconds:.0f} s; load {load()}", flush=True)
                figures, reloads, elapsed = send(port, args, page, url)
                load_during = load()
            finally:
                collector.send_signal(signal.SIGTERM)  # it stores and answers what it accepted, then exits
                collector.wait(timeout=120)
            shown = library_reloads(page, url, 0, 0)[1] if page else None  # does the app list every trace collected?
        with Store(store_path) as store:
            stored, traces_after = store.received_span_count(), store.count_traces()
    accepted = sum(f.accepted for f in figures)
    latencies = [s for f in figures for s in f.latencies]
    print(f"\n{args.clients} clients x {args.seconds:.0f} s ({elapsed:.1f} s until the last answer), {args.batch} spans a "
          f"request, traces of {args.trace_spans} spans, into a {'plain DuckDB file' if args.plain else 'folder store'}"
          f"{'' if page else ', no app serving'}")
    print(f"  accepted: {accepted:,} spans in {len(latencies):,} requests = {accepted / elapsed:,.0f} spans/s")
    print(f"  stored:   {stored:,} spans (received_spans) = {stored / elapsed:,.0f} spans/s; "
          f"{traces_after - traces_before:,} new traces")
    print(f"  503 answers: {sum(f.busy for f in figures):,}; other failures: {sum(len(f.failures) for f in figures)}"
          + "".join(f"\n    {failure}" for f in figures for failure in f.failures[:3]))
    if latencies:
        print(f"  request latency: p50 {percentile(latencies, 0.5) * 1000:,.0f} ms, p95 "
              f"{percentile(latencies, 0.95) * 1000:,.0f} ms, max {max(latencies) * 1000:,.0f} ms")
    if reloads:
        print(f"  Library page reloads meanwhile: {len(reloads)}, median {statistics.median(reloads):.1f} s, "
              f"max {max(reloads):.1f} s; after the run it lists {shown:,} traces (the store holds {traces_after:,})")
    print(f"  cpu_count {os.cpu_count()}, load average during {load_during}, after {load()} (1, 5, 15 min)")


if __name__ == "__main__":
    main()
