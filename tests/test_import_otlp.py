"""Importing OpenTelemetry traces (OTLP/JSON), made by the real SDK and instrumentors, and bad input."""

import json
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from core import InputError, import_files, read_file
from core.importers import otlp
from tests.conftest import EXTERNAL

PROTO_EXAMPLE = EXTERNAL / "otlp" / "opentelemetry-proto-example-trace.json"
T0 = 1_700_000_000_000_000_000  # ns


def at(microseconds: int) -> int:
    """T0 plus some microseconds, in ns (Trellis keeps microseconds)."""
    return T0 + microseconds * 1000


# ------------------------------------------------------------------ helpers: real spans, serialized as OTLP/JSON


def new_provider(service="research-agent"):
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def any_value(value):
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # int64 is a string in the JSON mapping
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    return {"arrayValue": {"values": [any_value(v) for v in value]}}


def key_values(attributes):
    return [{"key": k, "value": any_value(v)} for k, v in (attributes or {}).items()]


def otlp_request(spans: Sequence[ReadableSpan]) -> dict:
    """An ExportTraceServiceRequest in the OTLP/JSON shape of the spec: hex ids, nanosecond strings."""
    resources: dict = {}
    for span in spans:
        resources.setdefault(span.resource, {}).setdefault(span.instrumentation_scope.name, []).append(span)
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": key_values(resource.attributes)},
                "scopeSpans": [
                    {"scope": {"name": scope}, "spans": [otlp_span(s) for s in scope_spans]}
                    for scope, scope_spans in scopes.items()
                ],
            }
            for resource, scopes in resources.items()
        ]
    }


def otlp_span(span: ReadableSpan) -> dict:
    result = {
        "traceId": format(span.context.trace_id, "032x"),
        "spanId": format(span.context.span_id, "016x"),
        "parentSpanId": format(span.parent.span_id, "016x") if span.parent else "",
        "name": span.name,
        "kind": span.kind.value + 1,  # the SDK counts INTERNAL from 0, OTLP from 1
        "startTimeUnixNano": str(span.start_time),
        "endTimeUnixNano": str(span.end_time),
        "attributes": key_values(span.attributes),
        "events": [
            {"timeUnixNano": str(e.timestamp), "name": e.name, "attributes": key_values(e.attributes)} for e in span.events
        ],
        "status": {"code": {StatusCode.UNSET: 0, StatusCode.OK: 1, StatusCode.ERROR: 2}[span.status.status_code]},
    }
    if span.status.description:
        result["status"]["message"] = span.status.description
    return result


def agent_spans() -> list[ReadableSpan]:
    """An agent that plans, asks a model, and hands a sub-task to a sub-agent whose tool fails."""
    provider, exporter = new_provider()
    tracer = provider.get_tracer("my.agent")

    def span(name, start, kind=None, **attributes):
        if kind:
            attributes["openinference.span.kind"] = kind
        return tracer.start_as_current_span(name, start_time=at(start), attributes=attributes, end_on_exit=False)

    with span("research", 0, "AGENT", **{"input.value": "Is the MSA risky?", "output.value": "Moderately."}) as root:
        # started later but opened first: order must come from start times
        with span("summarize", 500, "CHAIN", **{"input.value": "notes"}) as late:
            late.end(at(600))
        with span("plan", 100, "CHAIN") as plan:
            plan.end(at(150))
        with span(
            "ChatCompletion", 200, "LLM",
            **{
                "llm.model_name": "gpt-4o-mini",
                "llm.token_count.prompt": 120,
                "llm.token_count.completion": 30,
                "llm.input_messages.0.message.role": "system",
                "llm.input_messages.0.message.content": "You are a lawyer.",
                "llm.input_messages.1.message.role": "user",
                "llm.input_messages.1.message.content": "Find the indemnity clause.",
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": "Clause 9.",
                "input.value": '{"messages": "..."}',
                "llm.invocation_parameters": '{"temperature": 0}',
            },
        ) as llm:
            llm.end(at(250))
        with span("sub-agent", 300, "AGENT") as sub:
            with span("search", 310, "TOOL", **{"tool.name": "search", "input.value": "indemnity"}) as tool:
                tool.record_exception(TimeoutError("search timed out"))
                tool.set_status(Status(StatusCode.ERROR, "search timed out"))
                tool.end(at(320))
            with span(
                "chat claude", 330, None,
                **{
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "claude-x",
                    "gen_ai.usage.input_tokens": 40,
                    "gen_ai.usage.output_tokens": 8,
                },
            ) as chat:
                chat.end(at(340))
            sub.end(at(400))
        root.end(at(700))
    return list(exporter.get_finished_spans())


def write(tmp_path, value, name="trace.json") -> str:
    path = tmp_path / name
    path.write_text(value if isinstance(value, str) else json.dumps(value))
    return path


def by_name(read_trace):
    return {node["name"]: node for node in read_trace.nodes.to_pylist()}


# ------------------------------------------------------------------ the real OTLP example


def test_proto_example_span_with_absent_parent_becomes_the_root():
    [imported] = read_file(PROTO_EXAMPLE)
    assert imported.trace.id == "otlp-5b8efff798038103d269b633813fc60c"
    assert imported.trace.source_format == "otlp"
    assert imported.trace.title == "I'm a server span"
    assert imported.trace.agent == "my.service"
    [node] = imported.nodes.to_pylist()
    assert node["id"] == "eee19b7ec3c1b174" and node["parent_id"] is None
    assert json.loads(node["metadata"]) == {"my.span.attr": "some value", "otel.span_kind": "server"}
    [warning] = imported.warnings
    assert "eee19b7ec3c1b173" in warning and "not in the file" in warning


def test_proto_example_is_detected_and_stored(store):
    [imported] = import_files(store, [PROTO_EXAMPLE])
    loaded = store.load_trace(imported.trace.id)
    assert [n.name for n in loaded.nodes] == ["I'm a server span"]
    assert (loaded.nodes[0].end_time - loaded.nodes[0].start_time).total_seconds() == 1.0


# ------------------------------------------------------------------ spans made by the SDK


def test_sdk_spans_become_a_tree_with_openinference_fields(tmp_path):
    [imported] = read_file(write(tmp_path, otlp_request(agent_spans())))
    assert imported.warnings == []
    nodes = by_name(imported)
    ids = {name: node["id"] for name, node in nodes.items()}
    assert {name: nodes[name]["parent_id"] for name in nodes} == {
        "research": None,
        "summarize": ids["research"],
        "plan": ids["research"],
        "ChatCompletion": ids["research"],
        "sub-agent": ids["research"],
        "search": ids["sub-agent"],
        "chat claude": ids["sub-agent"],
    }
    assert {name: node["kind"] for name, node in nodes.items()} == {
        "research": "recurse",
        "summarize": "leaf",
        "plan": "leaf",
        "ChatCompletion": "llm",
        "sub-agent": "recurse",
        "search": "tool",
        "chat claude": "llm",
    }
    assert [nodes[n]["order"] for n in ("plan", "ChatCompletion", "sub-agent", "summarize")] == [0, 1, 2, 3]
    assert imported.depth[list(nodes).index("search")] == 2

    llm = nodes["ChatCompletion"]
    assert (llm["model"], llm["tokens_in"], llm["tokens_out"]) == ("gpt-4o-mini", 120, 30)
    assert llm["subproblem"] == "Find the indemnity clause."
    assert llm["context"] == '{"messages": "..."}' and llm["context_chars"] == len(llm["context"])
    assert llm["output"] == "Clause 9."
    metadata = json.loads(llm["metadata"])
    assert metadata["llm.invocation_parameters"] == '{"temperature": 0}'
    assert not any(key.startswith(("llm.input_messages", "llm.token_count", "input.value")) for key in metadata)

    chat = nodes["chat claude"]
    assert (chat["model"], chat["tokens_in"], chat["tokens_out"]) == ("claude-x", 40, 8)

    tool = nodes["search"]
    assert (tool["status"], tool["error"], tool["subproblem"]) == ("error", "search timed out", "indemnity")
    assert json.loads(tool["metadata"])["otel.events"][0]["name"] == "exception"

    root = nodes["research"]
    assert (root["subproblem"], root["output"]) == ("Is the MSA risky?", "Moderately.")
    trace = imported.trace
    assert trace.title == "research" and trace.task == "Is the MSA risky?"
    assert trace.agent == "gpt-4o-mini"  # ties between models go to the first one in the file
    assert trace.created_at.timestamp() == T0 / 1e9
    assert trace.metadata["resource"]["service.name"] == "research-agent"


def test_jsonl_of_requests_gives_the_same_trace_and_splits_traces(tmp_path):
    spans = agent_spans()
    other = agent_spans()  # a second run: another traceId
    one_per_line = "\n".join(json.dumps(otlp_request([s])) for s in spans + other) + "\n"
    traces = read_file(write(tmp_path, one_per_line, "collector.jsonl"))
    [single] = read_file(write(tmp_path, otlp_request(spans), "single.json"))
    assert len(traces) == 2 and traces[0].trace.id != traces[1].trace.id
    assert traces[0].trace.id == single.trace.id
    assert traces[0].nodes.sort_by("id").equals(single.nodes.sort_by("id"))


def test_protobuf_json_mapping_with_base64_ids(tmp_path):
    """The SDK's own OTLP encoder + protobuf's JSON mapping: base64 ids, enum names, int64 as strings."""
    from google.protobuf import json_format
    from opentelemetry.exporter.otlp.proto.common import trace_encoder
    spans = agent_spans()
    text = json_format.MessageToJson(trace_encoder.encode_spans(spans))
    assert '"STATUS_CODE_ERROR"' in text
    [from_proto] = read_file(write(tmp_path, text, "proto.json"))
    [from_spec] = read_file(write(tmp_path, otlp_request(spans), "spec.json"))
    assert from_proto.trace.id == from_spec.trace.id
    assert from_proto.nodes.sort_by("id").equals(from_spec.nodes.sort_by("id"))


# ------------------------------------------------------------------ an OpenInference instrumentor, offline


class FakeChatCompletions(BaseHTTPRequestHandler):
    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": request["model"] + "-2024-07-18",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_openai():
    server = HTTPServer(("127.0.0.1", 0), FakeChatCompletions)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()


def test_openinference_openai_instrumentor(tmp_path, fake_openai):
    import openai
    from openinference.instrumentation.openai import OpenAIInstrumentor

    provider, exporter = new_provider("unknown_service:python")
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        client = openai.OpenAI(api_key="test", base_url=fake_openai, max_retries=0)
        tracer = provider.get_tracer("app")
        with tracer.start_as_current_span("answer", attributes={"openinference.span.kind": "AGENT"}):
            reply = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Capital of France?"}]
            )
    finally:
        instrumentor.uninstrument()
    assert reply.choices[0].message.content == "Paris."

    [imported] = read_file(write(tmp_path, otlp_request(exporter.get_finished_spans())))
    nodes = by_name(imported)
    root, llm = nodes["answer"], nodes["ChatCompletion"]
    assert (root["kind"], root["parent_id"]) == ("recurse", None)
    assert (llm["kind"], llm["parent_id"]) == ("llm", root["id"])
    assert (llm["model"], llm["tokens_in"], llm["tokens_out"]) == ("gpt-4o-mini-2024-07-18", 12, 3)
    assert (llm["subproblem"], llm["output"]) == ("Capital of France?", "Paris.")
    assert imported.trace.agent == "gpt-4o-mini-2024-07-18"


# ------------------------------------------------------------------ unusual and bad input


def request(*spans, resource=None):
    return {"resourceSpans": [{"resource": {"attributes": resource or []}, "scopeSpans": [{"spans": list(spans)}]}]}


def span(span_id, parent="", trace="0af7651916cd43dd8448eb211c80319c", **fields):
    return {"traceId": trace, "spanId": span_id, "parentSpanId": parent, "name": f"span {span_id}", **fields}


def test_several_roots_get_one_synthetic_root(tmp_path):
    text = request(
        span("00000000000000a1", startTimeUnixNano=at(5)),
        span("00000000000000a2", "00000000000000ff", startTimeUnixNano=at(0)),
        span("00000000000000a3", "00000000000000a1"),
    )
    [imported] = read_file(write(tmp_path, text))
    nodes = {n["id"]: n for n in imported.nodes.to_pylist()}
    assert nodes["otlp-root"]["parent_id"] is None and nodes["otlp-root"]["kind"] == "other"
    assert json.loads(nodes["otlp-root"]["metadata"]) == {"synthetic": True}
    assert nodes["00000000000000a1"]["parent_id"] == nodes["00000000000000a2"]["parent_id"] == "otlp-root"
    assert (nodes["00000000000000a2"]["order"], nodes["00000000000000a1"]["order"]) == (0, 1)
    assert nodes["00000000000000a3"]["parent_id"] == "00000000000000a1"
    assert imported.trace.title == "span 00000000000000a2"  # the earliest root
    assert len(imported.warnings) == 2
    assert "00000000000000ff" in imported.warnings[0] and "synthetic root" in imported.warnings[1]


def test_attribute_value_encodings_and_unknown_shapes(tmp_path):
    attributes = [
        {"key": "s", "value": {"stringValue": "x"}},
        {"key": "i_str", "value": {"intValue": "9007199254740993"}},
        {"key": "i_num", "value": {"intValue": 7}},
        {"key": "d", "value": {"doubleValue": 0.5}},
        {"key": "nan", "value": {"doubleValue": "NaN"}},
        {"key": "b", "value": {"boolValue": True}},
        {"key": "arr", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "1"}]}}},
        {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": False}}]}}},
        {"key": "empty", "value": {}},
        {"key": "weird", "value": {"decimalValue": "1.10"}},
        {"key": "llm.token_count.prompt", "value": {"intValue": "12"}},
    ]
    [imported] = read_file(write(tmp_path, request(span("00000000000000a1", attributes=attributes))))
    [node] = imported.nodes.to_pylist()
    assert node["tokens_in"] == 12
    assert json.loads(node["metadata"]) == {
        "s": "x", "i_str": 9007199254740993, "i_num": 7, "d": 0.5, "nan": "nan", "b": True,
        "arr": ["a", 1], "kv": {"k": False}, "empty": None, "weird": {"decimalValue": "1.10"},
    }
    [warning] = imported.warnings
    assert "weird" in warning and "unknown shape" in warning


def test_base64_ids_are_converted_to_hex(tmp_path):
    text = request(
        {"traceId": "CvdlGRbNQ92ESOshHIAxnA==", "spanId": "AAAAAAAAAKE=", "name": "root"},
        {"traceId": "CvdlGRbNQ92ESOshHIAxnA==", "spanId": "AAAAAAAAAKI=", "parentSpanId": "AAAAAAAAAKE=", "name": "child"},
    )
    [imported] = read_file(write(tmp_path, text))
    assert imported.trace.id == "otlp-0af7651916cd43dd8448eb211c80319c"
    assert [(n["id"], n["parent_id"]) for n in imported.nodes.to_pylist()] == [
        ("00000000000000a1", None),
        ("00000000000000a2", "00000000000000a1"),
    ]


def assert_rejected(tmp_path, value, message, name="bad.json", line=None):
    with pytest.raises(InputError) as caught:
        read_file(write(tmp_path, value, name))
    assert message in caught.value.message, caught.value.message
    assert caught.value.line == line
    assert "\n" not in str(caught.value)


def test_missing_span_id(tmp_path):
    assert_rejected(tmp_path, request(span("00000000000000a1"), span("")), "span 'span ' has no spanId")


def test_duplicate_span_id_names_it(tmp_path):
    lines = [json.dumps(request(span("00000000000000a1"))), json.dumps(request(span("00000000000000a1")))]
    assert_rejected(tmp_path, "\n".join(lines), "duplicate spanId 00000000000000a1", "bad.jsonl", line=2)


def test_bad_ids_and_times_and_shapes(tmp_path):
    assert_rejected(tmp_path, request(span("not an id!")), "spanId 'not an id!' is neither hex nor base64")
    assert_rejected(tmp_path, request(span("00000000000000a1", trace="")), "span 00000000000000a1 has no traceId")
    assert_rejected(
        tmp_path, request(span("00000000000000a1", startTimeUnixNano="yesterday")), "startTimeUnixNano 'yesterday'"
    )
    assert_rejected(tmp_path, {"resourceSpans": [{"scopeSpans": [{"spans": {"a": 1}}]}]}, "'spans' should be a list")
    assert_rejected(tmp_path, {"resourceSpans": []}, "no spans")
    assert_rejected(tmp_path, '{"resourceSpans": [\n', "not valid JSON", line=2)


def test_numbers_the_store_cannot_keep_are_rejected_naming_the_span(tmp_path):
    huge = [{"key": "llm.token_count.prompt", "value": {"intValue": str(10**30)}}]
    assert_rejected(tmp_path, request(span("00000000000000a1", attributes=huge)),
                    "span 00000000000000a1: tokens_in: 1e30 is larger than the largest whole number Trellis stores")
    nan = json.dumps(request(span("00000000000000a1", attributes=[{"key": "score", "value": {"kvlistValue": 1}}])))
    assert_rejected(tmp_path, nan.replace('{"kvlistValue": 1}', "NaN"),  # a raw value, kept in metadata as it is
                    "span 00000000000000a1: metadata: non-finite numbers (NaN, Infinity) are not allowed")


def test_a_byte_order_mark_is_accepted(tmp_path):
    [imported] = read_file(write(tmp_path, "\ufeff" + json.dumps(request(span("00000000000000a1")))))
    assert imported.node_count == 1


def with_deep_array(value: dict, levels: int) -> str:
    """value as JSON with its "DEEP" placeholder replaced by an arrayValue nested `levels` deep."""
    deep = '{"arrayValue": {"values": [' * levels + '{"stringValue": "x"}' + "]}}" * levels
    return json.dumps(value).replace('"DEEP"', deep)


def test_input_nested_too_deep_to_show_becomes_a_placeholder(tmp_path):
    text = with_deep_array(request(span("00000000000000a1", attributes=[{"key": "input.value", "value": "DEEP"}])), 2000)
    [imported] = read_file(write(tmp_path, text))
    [node] = imported.nodes.to_pylist()
    assert node["subproblem"] == "(a value nested too deeply to show)"


def test_attributes_nested_deeper_than_trellis_keeps_are_rejected(tmp_path):
    deep_span = request(span("00000000000000a1", attributes=[{"key": "deep", "value": "DEEP"}]))
    assert_rejected(tmp_path, with_deep_array(deep_span, 300), "span 00000000000000a1: metadata nests more than 200")
    deep_resource = request(span("00000000000000a1"), resource=[{"key": "deep", "value": "DEEP"}])
    assert_rejected(tmp_path, with_deep_array(deep_resource, 2000), "trace: metadata nests more than 200 levels deep")


def test_looks_like():
    assert otlp.looks_like({"resourceSpans": []})
    assert otlp.looks_like([{"resourceSpans": []}])
    assert not otlp.looks_like({"spans": []})
    assert not otlp.looks_like([])
    assert not otlp.looks_like({"resourceSpans": "no"})
