"""`trellis collect`: a live OTLP/HTTP receiver, run as a real process on a lake folder, fed by the real
OpenTelemetry SDK exporter, the OpenInference litellm instrumentor and plain HTTP requests, and read back with a
Store on the same lake while it runs."""

import fcntl
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from google.rpc.status_pb2 import Status  # googleapis-common-protos, which the SDK exporter brings
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from core import Store
from tests.support.browser_support import free_port
from tests.support.collector import JSON, PROTOBUF, Collector, collecting, long_run, post, post_as_is
from tests.support.run_setup import write_tasks

QUEUE = 2  # the shared collector's queue: small, so that test_a_full_queue_answers_503 fills it with few requests


@pytest.fixture(scope="module")
def collector(tmp_path_factory) -> Iterator[Collector]:
    with collecting(tmp_path_factory.mktemp("collect") / "s.lake", None, "--queue-size", str(QUEUE),
                    "--max-mb", "1") as running:
        yield running


def read(collector: Collector) -> Store:
    """A Store on the collector's lake, as the app or `trellis list` would open it."""
    return Store(collector.store)


def otlp_json(trace: str, *spans: tuple[str, str | None, str], service: str = "research-agent") -> bytes:
    """An OTLP/JSON request as the spec writes it (hex ids, nanoseconds as strings): spans as (id, parent, name)."""
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "agent"}, "spans": [
            {"traceId": trace, "spanId": span_id, "parentSpanId": parent or "", "name": name,
             "startTimeUnixNano": str(1_700_000_000_000_000_000 + i), "endTimeUnixNano": str(1_700_000_001_000_000_000),
             "attributes": [{"key": "input.value", "value": {"stringValue": f"{name}'s task"}}]}
            for i, (span_id, parent, name) in enumerate(spans)]}],
    }]}).encode()


def tree(store: Store, trace_id: str) -> dict[str, str | None]:
    """Each node's name (its id for the synthetic root) -> its parent's name."""
    nodes = store.load_trace(trace_id).nodes
    name = {n.id: n.name if n.name != "(trace root)" else n.id for n in nodes}
    return {name[n.id]: name.get(n.parent_id) for n in nodes}


def sdk(exporter) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": "research-agent"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


@contextmanager
def instrumented(instrumentor, exporter) -> Iterator[TracerProvider]:
    """An OpenInference ``instrumentor`` on while the block runs, its spans sent by ``exporter``; at the end every
    span is sent and answered, and the instrumentor taken off."""
    provider = sdk(exporter)
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield provider
        assert provider.force_flush()
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


# ------------------------------------------------------------------ what clients send


def test_the_sdk_exporter_sends_a_tree_and_every_span_becomes_a_node(collector):
    provider = sdk(OTLPSpanExporter(endpoint=collector.url))
    tracer = provider.get_tracer("agent")
    with tracer.start_as_current_span("solve") as root:
        for part in ("part-1", "part-2"):
            with tracer.start_as_current_span(part):
                for step in ("read", "answer"):
                    with tracer.start_as_current_span(f"{part}/{step}"):
                        pass
    assert provider.force_flush()
    provider.shutdown()

    trace_id = f"otlp-{root.get_span_context().trace_id:032x}"
    with read(collector) as store:
        assert tree(store, trace_id) == {
            "solve": None, "part-1": "solve", "part-2": "solve",
            "part-1/read": "part-1", "part-1/answer": "part-1", "part-2/read": "part-2", "part-2/answer": "part-2",
        }
        assert store.received_span_count(trace_id) == 7
        [summary] = [t for t in store.list_traces() if t.id == trace_id]
        assert (summary.title, summary.node_count, summary.source_format) == ("solve", 7, "otlp")
        assert summary.last_span_at is not None  # the Library shows it as live


def test_litellm_calls_arrive_as_llm_nodes_with_their_model_and_text(collector, monkeypatch):
    import litellm
    from openinference.instrumentation.litellm import LiteLLMInstrumentor

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{collector.port}")  # as docs/cli.md says
    with instrumented(LiteLLMInstrumentor(), OTLPSpanExporter()) as provider, \
            provider.get_tracer("agent").start_as_current_span("review the contract") as root:
        root.set_attribute("openinference.span.kind", "AGENT")
        for clause in ("liability", "termination"):
            litellm.completion(model="gpt-4o-mini", messages=[{"role": "user", "content": f"Summarise the {clause} clause"}],
                               mock_response=f"The {clause} clause is standard.")

    with read(collector) as store:
        loaded = store.load_trace(f"otlp-{root.get_span_context().trace_id:032x}")
    calls = [n for n in loaded.nodes if n.kind == "llm"]
    assert [(n.model, n.subproblem, n.output) for n in calls] == [
        ("gpt-4o-mini", "Summarise the liability clause", "The liability clause is standard."),
        ("gpt-4o-mini", "Summarise the termination clause", "The termination clause is standard."),
    ]
    assert {n.parent_id for n in calls} == {f"{root.get_span_context().span_id:016x}"}
    assert loaded.trace.agent == "gpt-4o-mini"


def test_a_trellis_run_streams_each_of_its_model_calls_into_the_collector(collector, monkeypatch, tmp_path):
    """docs/cli.md's stream.py: `trellis run` inside one span, its litellm calls instrumented."""
    import litellm
    from openinference.instrumentation.litellm import LiteLLMInstrumentor

    from core.cli import main

    real = litellm.completion
    monkeypatch.setattr(litellm, "completion", lambda messages, **kwargs: real(
        model=kwargs["model"], messages=messages, mock_response="150"))  # the student, answering offline
    tasks = write_tasks(tmp_path / "tasks", count=1)
    with instrumented(LiteLLMInstrumentor(), OTLPSpanExporter(endpoint=collector.url)) as provider, \
            provider.get_tracer("trellis").start_as_current_span("trellis run") as root:
        code = main(["run", str(tasks), "--student", "openai/mock", "--api-base", "http://127.0.0.1:9/v1",
                     "--db", str(tmp_path / "runs.duckdb")])

    assert code == 0
    with Store(tmp_path / "runs.duckdb") as runs:
        [run] = runs.list_runs()
    with read(collector) as store:
        streamed = store.load_trace(f"otlp-{root.get_span_context().trace_id:032x}")
    calls = [n for n in streamed.nodes if n.kind == "llm"]
    assert len(calls) == run.calls > 0  # every call the run made, as it made it
    assert {(n.model, n.output) for n in calls} == {("openai/mock", "150")}


def test_an_rlms_run_streams_every_model_call_and_its_llm_query_calls_arrive_apart(collector, tmp_path):
    """docs/cli.md's recipe for `rlms`: its OpenAI client instrumented, the run inside one span. rlms answers a
    REPL's llm_query on a thread of its own, which does not carry the run's span: those calls come as traces of
    their own (the run's RLMLogger file, `trellis import`, keeps the whole tree)."""
    from openinference.instrumentation.openai import OpenAIInstrumentor

    from tests.support.rlm_fake_backend import FakeChatServer, recursive_model, run_rlm

    with read(collector) as store:
        before = {t.id for t in store.list_traces()}
    with instrumented(OpenAIInstrumentor(), OTLPSpanExporter(endpoint=collector.url)) as provider, \
            FakeChatServer(recursive_model(2)) as model, \
            provider.get_tracer("agent").start_as_current_span("rlm run") as root:
        run_rlm(tmp_path / "logs", model.base_url, ["level 1: the whole task"], max_depth=3)

    run_trace = f"otlp-{root.get_span_context().trace_id:032x}"
    with read(collector) as store:
        calls = {t.id: [n for n in store.load_trace(t.id).nodes if n.kind == "llm"]
                 for t in store.list_traces() if t.id not in before}
    apart = [n.subproblem for trace_id, nodes in calls.items() if trace_id != run_trace for n in nodes]
    assert len(calls[run_trace]) + len(apart) == len(model.requests)  # every call the run made, once
    assert apart == ["leaf question at level 2"]  # the one llm_query


def test_json_and_gzip_bodies_are_stored_and_answered_in_their_own_encoding(collector):
    status, headers, body = post(collector.url, otlp_json("a1" * 16, ("b1" * 8, None, "plain json")), JSON)
    assert (status, headers["Content-Type"], json.loads(body)) == (200, JSON, {})
    status, _, body = post(collector.url, otlp_json("a2" * 16, ("b2" * 8, None, "gzipped json")), JSON, gzipped=True)
    assert (status, json.loads(body)) == (200, {})

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("agent").start_as_current_span("gzipped protobuf") as span:
        pass
    status, headers, body = post(collector.url, encode_spans(exporter.get_finished_spans()).SerializeToString(),
                                 gzipped=True)
    assert (status, headers["Content-Type"]) == (200, PROTOBUF)
    assert ExportTraceServiceResponse.FromString(body) == ExportTraceServiceResponse()

    with read(collector) as store:
        titles = {t.id: t.title for t in store.list_traces()}
    assert titles["otlp-" + "a1" * 16] == "plain json"
    assert titles["otlp-" + "a2" * 16] == "gzipped json"
    assert titles[f"otlp-{span.get_span_context().trace_id:032x}"] == "gzipped protobuf"


def test_a_malformed_request_is_answered_with_a_one_line_reason_and_nothing_is_stored(collector):
    no_span_id = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "c1" * 16, "name": "x"}]}]}]})
    over_the_limit = otlp_json("c2" * 16, ("d2" * 8, None, "x" * 2_000_000))  # the collector takes 1 MB
    with read(collector) as store:
        before = store.received_span_count()
    answers = {
        "bad protobuf": post(collector.url, b"\xff\xff\xff\xff"),
        "bad json": post(collector.url, b'{"resourceSpans": [', JSON),
        "bad gzip": post_as_is(collector.url, b"this is not gzip", {"Content-Type": JSON,
                                                                               "Content-Encoding": "gzip"}),
        "no span id": post(collector.url, no_span_id.encode(), JSON),
        "too large": post(collector.url, over_the_limit, JSON),
        "too large once unpacked": post(collector.url, over_the_limit, JSON, gzipped=True),
        "another type": post(collector.url, b"hello", "text/plain"),
        "another path": post(collector.url.replace("/v1/traces", "/v1/logs"), b"{}", JSON),
    }
    reasons = {what: _reason(headers["Content-Type"], body) for what, (_, headers, body) in answers.items()}
    assert {what: status for what, (status, _, _) in answers.items()} == {
        "bad protobuf": 400, "bad json": 400, "bad gzip": 400, "no span id": 400,
        "too large": 413, "too large once unpacked": 413, "another type": 415, "another path": 404,
    }
    assert "not a protobuf ExportTraceServiceRequest" in reasons["bad protobuf"]
    assert reasons["bad json"].startswith("not valid JSON")
    assert "not valid gzip" in reasons["bad gzip"]
    assert reasons["no span id"] == "span 'x' has no spanId"
    assert "over the 1.0 MB limit" in reasons["too large"]
    assert "application/x-protobuf or application/json" in reasons["another type"]
    assert all(reason and "\n" not in reason for reason in reasons.values()), reasons
    with read(collector) as store:
        assert store.received_span_count() == before
        assert not {"otlp-" + "c1" * 16, "otlp-" + "c2" * 16} & {t.id for t in store.list_traces()}


def _reason(content_type: str, body: bytes) -> str:
    """The message of an error answer: a google.rpc.Status in the request's encoding, else the text."""
    if content_type == PROTOBUF:
        return Status.FromString(body).message
    if content_type == JSON:
        return json.loads(body)["message"]
    return body.decode().rstrip("\n")


# ------------------------------------------------------------------ retries, order, backpressure, crashes


def test_a_resent_batch_stores_nothing_new_and_children_sent_first_attach_to_their_parent(collector):
    trace, url = "e1" * 16, collector.url
    children = otlp_json(trace, ("f1" * 8, "f0" * 8, "read the contract"), ("f2" * 8, "f0" * 8, "answer"))
    assert post(url, children, JSON)[0] == 200
    with read(collector) as store:  # their parent is not here yet: each is a root, under a synthetic one
        assert tree(store, "otlp-" + trace) == {"otlp-root": None, "read the contract": "otlp-root", "answer": "otlp-root"}

    assert post(url, otlp_json(trace, ("f0" * 8, None, "review")), JSON)[0] == 200  # the root, last, as SDKs send it
    assert post(url, children, JSON)[0] == 200  # a client's retry of a batch already stored
    with read(collector) as store:
        assert tree(store, "otlp-" + trace) == {"review": None, "read the contract": "review", "answer": "review"}
        assert store.received_span_count("otlp-" + trace) == 3


def test_a_full_queue_answers_503_with_retry_after_and_what_it_accepted_is_stored(collector):
    with read(collector) as store:
        before = store.received_span_count()
    answers: dict[str, tuple[int, dict, bytes]] = {}

    def send(trace: str) -> None:
        answers[trace] = post(collector.url, otlp_json(trace, ("a0" * 8, None, trace)), JSON)

    # While another process holds the lake's write lock, the writer waits with the batch it took and the queue
    # fills: of 2 * QUEUE + 1 requests, one at least finds no room.
    senders = [threading.Thread(target=send, args=(f"{n:032x}",)) for n in range(1, 2 * QUEUE + 2)]
    with open(collector.store / "write.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            for sender in senders:
                sender.start()
            deadline = time.monotonic() + 60
            while not any(status == 503 for status, _, _ in list(answers.values())) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    for sender in senders:
        sender.join(timeout=60)
    refused = {trace: answer for trace, answer in answers.items() if answer[0] == 503}  # a slow sender's too

    assert refused, "no request was refused while the store was locked"
    assert all(headers["Retry-After"] == "1" for _, headers, _ in refused.values())
    accepted = {trace for trace, (status, _, _) in answers.items() if status == 200}
    assert accepted | set(refused) == set(answers) and len(answers) == len(senders)
    with read(collector) as store:
        stored = {t.id.removeprefix("otlp-") for t in store.list_traces()}
        assert store.received_span_count() == before + len(accepted)
    assert accepted <= stored and not set(refused) & stored


def test_kill_9_mid_stream_then_restart_loses_nothing_and_doubles_nothing(tmp_path):
    trace_id, spans, batches = long_run(34, per_request=7)
    lake, port = tmp_path / "s.lake", free_port()
    answered, unanswered = [], []

    def client() -> None:  # what an exporter does: each batch again until it is answered
        for number, batch in enumerate(batches):
            while True:
                try:
                    status = post(f"http://127.0.0.1:{port}/v1/traces", batch)[0]
                except OSError:  # refused, or cut off by the killed collector
                    status = None
                if status == 200:
                    answered.append(number)
                    break
                unanswered.append(number)
                time.sleep(0.05)

    sender = threading.Thread(target=client)
    with collecting(lake, port) as first:
        sender.start()
        deadline = time.monotonic() + 60
        while len(answered) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(first.pid, signal.SIGKILL)  # mid-stream: batches still to send, maybe one being stored
    with collecting(lake, port):
        sender.join(timeout=120)
        assert answered == list(range(len(batches))) and unanswered, "the client never had to send a batch again"
        with Store(lake) as store:
            ids = [n.id for n in store.load_trace(trace_id).nodes]
            assert store.received_span_count() == spans == 35
    assert len(ids) == len(set(ids)) == 35


def test_a_rebuild_that_would_drop_a_commented_node_is_refused_and_its_spans_are_kept(tmp_path):
    """As `import --replace` refuses it: here in the store itself, as the collector's writer calls it."""
    from core.auth import local_actor
    from core.ingest import wire

    trace, me = "e2" * 16, local_actor()
    with Store(tmp_path / "s.lake") as store:
        def receive(body: bytes):
            return store.receive_spans(wire.read_spans(body, JSON, None, 2**20), wire.rebuild, actor=me)

        receive(otlp_json(trace, ("f1" * 8, "f0" * 8, "read"), ("f2" * 8, "f0" * 8, "answer")))
        store.add_comment("otlp-" + trace, "otlp-root", "why two roots?", me)  # the synthetic root
        receipt = receive(otlp_json(trace, ("f0" * 8, None, "review")))

        assert receipt.stored == 1 and receipt.rebuilt == []
        assert "otlp-root" in receipt.not_rebuilt["otlp-" + trace]
        assert tree(store, "otlp-" + trace) == {"otlp-root": None, "read": "otlp-root", "answer": "otlp-root"}
        assert store.received_span_count("otlp-" + trace) == 3
