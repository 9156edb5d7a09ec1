"""`trellis collect` as a real process for the tests, and plain HTTP posts to it."""

import gzip
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.support.browser_support import ARTIFACTS, free_port

TRELLIS = Path(sys.executable).with_name("trellis")
PROTOBUF, JSON = "application/x-protobuf", "application/json"


@dataclass
class Collector:
    store: Path | str  # a folder store, or a postgres:// URL
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/traces"


@contextmanager
def collecting(store: Path | str, port: int | None = None, *options: str) -> Iterator[Collector]:
    """`trellis collect` on the store, on a free port (or ``port``), until the block ends: then SIGTERM by pid."""
    port = port or free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / f"collect-{port}.log"
    with log.open("ab") as errors:
        process = subprocess.Popen([TRELLIS, "collect", "--port", str(port), "--db", str(store), *options],
                                   stdout=subprocess.PIPE, stderr=errors, text=True,
                                   env={**os.environ, "TRELLIS_STORE": ""})
    try:
        started = process.stdout.readline()  # its one line, once it listens (or nothing, if it failed)
        assert started.startswith(f"listening on http://127.0.0.1:{port}/v1/traces, storing into {store}"), \
            f"{started!r}; the end of {log}: {log.read_text()[-2000:]}"
        yield Collector(store, port, process.pid)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
        process.stdout.close()


def post(url: str, body: bytes, content_type: str = PROTOBUF, gzipped: bool = False) -> tuple[int, dict, bytes]:
    """(status, headers, body) of one POST; ``gzipped``: the body compressed, and the header saying so."""
    return post_as_is(url, gzip.compress(body) if gzipped else body,
                      {"Content-Type": content_type, **({"Content-Encoding": "gzip"} if gzipped else {})})


def post_as_is(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def long_run(steps: int, per_request: int) -> tuple[str, int, list[bytes]]:
    """An agent run as the SDK records it: a root span with ``steps`` children, encoded as OTLP/HTTP protobuf
    requests of ``per_request`` spans each, the steps first, then the root, as they ended. (trace id as Trellis
    names it, span count, requests)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("agent")
    with tracer.start_as_current_span("long run") as root:
        for step in range(steps):
            with tracer.start_as_current_span(f"step {step}"):
                pass
    spans = exporter.get_finished_spans()
    requests = [encode_spans(spans[i:i + per_request]).SerializeToString() for i in range(0, len(spans), per_request)]
    return f"otlp-{root.get_span_context().trace_id:032x}", len(spans), requests
