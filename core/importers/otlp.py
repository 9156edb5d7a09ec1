"""OpenTelemetry traces in OTLP/JSON, reading OpenInference and GenAI attributes.

A file holds one ExportTraceServiceRequest ``{"resourceSpans": [...]}`` (or a
list of them), or JSONL with one request a line as the collector's file
exporter writes it. Spans of one ``traceId`` make one trace, however many
lines or resources they are spread over. `trellis collect` reads the requests it
receives with the same ``read_request`` and ``build_traces`` (core/ingest).

How spans become nodes:

- id = ``spanId`` and parent = ``parentSpanId``, as lowercase hex (the OTLP/JSON
  spec); base64 ids (protobuf's JSON mapping) are converted to hex.
- kind, from ``openinference.span.kind``, else ``gen_ai.operation.name``:
  LLM / chat, text_completion, generate_content -> llm;
  TOOL, RETRIEVER, RERANKER, EMBEDDING / execute_tool, embeddings -> tool;
  AGENT, CHAIN / invoke_agent, create_agent -> recurse if the span has
  children, else leaf; anything else (GUARDRAIL, EVALUATOR, plain HTTP spans...)
  -> other, except that an unlabelled span naming a model is an llm.
- subproblem = ``input.value``, output = ``output.value``. An LLM span that
  lists its chat messages (``llm.input_messages.*``) gets the last user message
  as subproblem, ``input.value`` as context, and the last output message as
  output. GenAI ``gen_ai.input.messages`` / ``gen_ai.output.messages`` are the
  fallbacks.
- model = ``llm.model_name``, else ``gen_ai.response.model``, else
  ``gen_ai.request.model``; tokens from ``llm.token_count.prompt/completion``,
  else ``gen_ai.usage.input_tokens/output_tokens`` (or the older
  ``prompt_tokens/completion_tokens``); cost from ``llm.cost.total``.
- status code 2 (``STATUS_CODE_ERROR``) -> error, with ``status.message`` (or
  the exception event) as the error text.
- every other attribute goes to metadata, with the span kind and events.

A span whose parent is not in the file becomes a root, with a warning; a trace
left with several roots gets one synthetic root above them, with a warning, so
that every trace is one tree.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.errors import InputError
from core.importers.base import ParsedTrace, as_text, detach_orphans, join_roots, most_used_model, validated
from core.importers.reading import json_documents, read_text
from core.models import Node, NodeKind, SourceFormat, Status, Trace
from core.text import shorten

SYNTHETIC_ROOT = "otlp-root"

_OPENINFERENCE_KINDS: dict[str, NodeKind | None] = {  # None: recurse if it has children, else leaf
    "LLM": NodeKind.LLM,
    "TOOL": NodeKind.TOOL,
    "RETRIEVER": NodeKind.TOOL,
    "RERANKER": NodeKind.TOOL,
    "EMBEDDING": NodeKind.TOOL,
    "AGENT": None,
    "CHAIN": None,
}
_GENAI_OPERATIONS: dict[str, NodeKind | None] = {
    "chat": NodeKind.LLM,
    "text_completion": NodeKind.LLM,
    "generate_content": NodeKind.LLM,
    "execute_tool": NodeKind.TOOL,
    "embeddings": NodeKind.TOOL,
    "invoke_agent": None,
    "create_agent": None,
}
_SPAN_KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"]
_MESSAGE = re.compile(r"llm\.(input|output)_messages\.(\d+)\.message\.(role|content)")
_HEX = re.compile(r"[0-9a-fA-F]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def looks_like(value: Any) -> bool:
    if isinstance(value, list) and value:
        value = value[0]
    return isinstance(value, dict) and isinstance(value.get("resourceSpans"), list)


def parse(path: Path, source: str) -> list[ParsedTrace]:
    text = read_text(path, source)
    spans = [span for line, request in _requests(json_documents(text, source))
             for span in read_request(request, source, line)]
    if not spans:
        raise InputError(source, "no spans in the file")
    return build_traces(spans, source)


def build_traces(spans: list[Span], source: str) -> list[ParsedTrace]:
    """The traces the spans make, one per ``traceId``: what a file's spans become, and what `trellis collect`
    rebuilds a live trace from each time more of its spans arrive. Orphaned spans' parent ids are cleared."""
    by_trace: dict[str, list[Span]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, []).append(span)
    return [_build_trace(trace_id, spans, source) for trace_id, spans in by_trace.items()]


def trellis_trace_id(otel_trace_id: str) -> str:
    """The id of the trace that the spans of an OpenTelemetry trace id (lowercase hex) make."""
    return f"otlp-{otel_trace_id}"


@dataclass
class Span:
    """A span as read: its ids in lowercase hex, its attributes as plain values."""

    trace_id: str
    id: str
    parent_id: str | None
    name: str | None
    start: datetime | None
    end: datetime | None
    attributes: dict[str, Any]
    status: dict
    kind: str | None
    events: list[dict]
    resource: dict[str, Any]
    line: int | None
    unknown: list[str] = field(default_factory=list)  # attribute keys whose value shape was not understood
    raw: dict = field(default_factory=dict, repr=False)  # the span object as the request held it
    raw_resource: dict = field(default_factory=dict, repr=False)  # and its resource object


# ------------------------------------------------------------------ reading the file


def _requests(documents: list[tuple[int | None, Any]]):
    """(line or None, request) for each ExportTraceServiceRequest; a JSON document may hold a list of them."""
    for line, value in documents:
        for request in value if isinstance(value, list) and line is None else [value]:
            yield line, request


def read_request(request: Any, source: str, line: int | None = None) -> list[Span]:
    """The spans of one ExportTraceServiceRequest in OTLP/JSON (or protobuf's JSON mapping), checked one by one."""
    if not isinstance(request, dict) or not isinstance(request.get("resourceSpans"), list):
        raise InputError(source, 'expected an OTLP/JSON request {"resourceSpans": [...]}', line)
    spans = []
    for resource_spans in request["resourceSpans"]:
        raw_resource = _get(resource_spans, "resource", dict, source, line)
        resource, _ = _attributes(raw_resource.get("attributes"))
        # instrumentationLibrarySpans: the name before OTLP 0.15
        scopes = resource_spans.get("scopeSpans") or resource_spans.get("instrumentationLibrarySpans") or []
        if not isinstance(scopes, list):
            raise InputError(source, "resourceSpans[].scopeSpans is not a list", line)
        for scope_spans in scopes:
            for raw in _get(scope_spans, "spans", list, source, line):
                span = _read_span(raw, resource, source, line)
                span.raw_resource = raw_resource
                spans.append(span)
    return spans


def _get(parent: Any, key: str, kind: type, source: str, line: int | None) -> Any:
    if not isinstance(parent, dict):
        raise InputError(source, f"expected an object holding {key!r}, got {shorten(parent)}", line)
    value = parent.get(key)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise InputError(source, f"{key!r} should be a {'list' if kind is list else 'object'}, got {shorten(value)}", line)
    return value


def _read_span(raw: Any, resource: dict[str, Any], source: str, line: int | None) -> Span:
    if not isinstance(raw, dict):
        raise InputError(source, f"a span should be an object, got {shorten(raw)}", line)
    name = raw.get("name")
    span_id = _id(raw.get("spanId"), "spanId", name, source, line)
    if span_id is None:
        raise InputError(source, f"span {shorten(name)!r} has no spanId", line)
    trace_id = _id(raw.get("traceId"), "traceId", name, source, line)
    if trace_id is None:
        raise InputError(source, f"span {span_id} has no traceId", line)
    attributes, unknown = _attributes(raw.get("attributes"))
    events = []
    for event in raw.get("events") or []:
        if isinstance(event, dict):
            event_attributes, _ = _attributes(event.get("attributes"))
            time = _time(event.get("timeUnixNano"), "events[].timeUnixNano", span_id, source, line)
            events.append({"name": event.get("name"), "time": time.isoformat() if time else None, "attributes": event_attributes})
    status = raw.get("status")
    return Span(
        trace_id=trace_id,
        id=span_id,
        parent_id=_id(raw.get("parentSpanId"), "parentSpanId", name, source, line),
        name=name if isinstance(name, str) else None,
        start=_time(raw.get("startTimeUnixNano"), "startTimeUnixNano", span_id, source, line),
        end=_time(raw.get("endTimeUnixNano"), "endTimeUnixNano", span_id, source, line),
        attributes=attributes,
        status=status if isinstance(status, dict) else {},
        kind=_span_kind(raw.get("kind")),
        events=events,
        resource=resource,
        line=line,
        unknown=unknown,
        raw=raw,
    )


def _id(value: Any, field_name: str, span_name: Any, source: str, line: int | None) -> str | None:
    """A trace or span id as lowercase hex; None when absent or all zeros."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(source, f"span {shorten(span_name)!r}: {field_name} {shorten(value)} is not a string", line)
    if _HEX.fullmatch(value) and len(value) in (16, 32):
        hex_id = value.lower()
    else:
        try:
            raw = base64.b64decode(value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) in (8, 16):
            hex_id = raw.hex()
        elif _HEX.fullmatch(value):
            hex_id = value.lower()
        else:
            raise InputError(source, f"span {shorten(span_name)!r}: {field_name} {value!r} is neither hex nor base64", line)
    return None if hex_id.strip("0") == "" else hex_id


def _time(value: Any, field_name: str, span_id: str, source: str, line: int | None) -> datetime | None:
    if value in (None, "", 0, "0"):
        return None
    try:
        return _EPOCH + timedelta(microseconds=int(value) // 1000)
    except (TypeError, ValueError, OverflowError):
        raise InputError(source, f"span {span_id}: {field_name} {shorten(value)!r} is not a time in nanoseconds", line) from None


def _span_kind(value: Any) -> str | None:
    if isinstance(value, int) and 0 < value < len(_SPAN_KINDS):
        return _SPAN_KINDS[value]
    if isinstance(value, str) and value.startswith("SPAN_KIND_") and value != "SPAN_KIND_UNSPECIFIED":
        return value.removeprefix("SPAN_KIND_").lower()
    return None


class _UnknownShape(Exception):
    pass


def _attributes(items: Any) -> tuple[dict[str, Any], list[str]]:
    """OTLP key/value attributes as a plain dict, and the keys whose value shape was not understood (kept raw)."""
    if isinstance(items, dict):  # not the spec, but some writers use a plain mapping
        return dict(items), []
    result, unknown = {}, []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            continue
        try:
            result[item["key"]] = _value(item.get("value"))
        except (_UnknownShape, RecursionError):
            result[item["key"]] = item.get("value")
            unknown.append(item["key"])
    return result, unknown


def _value(value: Any) -> Any:
    """One AnyValue: {"stringValue": ...}, {"intValue": "7"}, {"arrayValue": {"values": [...]}}, ..."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict) or len(value) != 1:
        raise _UnknownShape
    (shape, inner), = value.items()
    try:
        if shape == "stringValue" and isinstance(inner, str):
            return inner
        if shape == "boolValue" and isinstance(inner, bool):
            return inner
        if shape == "intValue" and not isinstance(inner, (bool, float)):
            return int(inner)
        if shape == "doubleValue" and not isinstance(inner, bool):
            number = float(inner)
            return number if math.isfinite(number) else str(number)  # NaN is not JSON
        if shape == "bytesValue" and isinstance(inner, str):
            return inner
        if shape == "arrayValue" and isinstance(inner, dict):
            return [_value(v) for v in inner.get("values") or []]
        if shape == "kvlistValue" and isinstance(inner, dict):
            pairs, unknown = _attributes(inner.get("values") or [])
            if unknown:
                raise _UnknownShape
            return pairs
    except (TypeError, ValueError):
        pass
    raise _UnknownShape


# ------------------------------------------------------------------ building the trace


def _build_trace(trace_id: str, spans: list[Span], source: str) -> ParsedTrace:
    warnings = detach_orphans(spans, "span", "spanId", lambda span: span.name, source, trace_id)
    for span in spans:
        if span.unknown:
            warnings.append(f"span {span.id}: attribute value of unknown shape kept as is: {', '.join(span.unknown)}")

    roots = [span for span in spans if span.parent_id is None]
    has_children = {span.parent_id for span in spans}
    order = _sibling_order(spans)
    nodes = [
        validated(lambda: _node(span, order[span.id], span.id in has_children), source, span.line, f"span {span.id}")
        for span in spans
    ]

    roots.sort(key=_start_key)
    root = roots[0]
    joined = join_roots(nodes, SYNTHETIC_ROOT, "spans", trace_id)
    if joined:
        warnings.append(joined)

    root_node = next(node for node in nodes if node.id == root.id)
    service = root.resource.get("service.name")
    if not isinstance(service, str) or service.startswith("unknown_service"):
        service = None
    trace = validated(lambda: Trace(
        id=trellis_trace_id(trace_id),
        title=root.name or "",
        task=root_node.subproblem,
        agent=most_used_model(nodes) or service,
        source_format=SourceFormat.OTLP,
        created_at=min((s.start for s in spans if s.start), default=None),
        metadata={"otel.trace_id": trace_id, "resource": root.resource},
    ), source, root.line, "trace")
    return ParsedTrace(trace=trace, nodes=nodes, warnings=warnings)


def _start_key(span: Span) -> tuple:
    return (span.start is None, span.start or _EPOCH)


def _sibling_order(spans: list[Span]) -> dict[str, int]:
    """Each span's position among its siblings, by start time (then file order)."""
    siblings: dict[str | None, list[Span]] = defaultdict(list)
    for span in spans:
        siblings[span.parent_id].append(span)
    order = {}
    for group in siblings.values():
        for position, span in enumerate(sorted(group, key=_start_key)):  # sorted is stable: file order breaks ties
            order[span.id] = position
    return order


def _node(span: Span, order: int, has_children: bool) -> Node:
    attrs = dict(span.attributes)
    messages = _take_messages(attrs)
    model = _take(attrs, "llm.model_name", "gen_ai.response.model") or attrs.get("gen_ai.request.model")
    subproblem = as_text(_take(attrs, "input.value", "gen_ai.input.messages", "gen_ai.prompt"))
    output = as_text(_take(attrs, "output.value", "gen_ai.output.messages", "gen_ai.completion"))
    attrs.pop("input.mime_type", None)
    attrs.pop("output.mime_type", None)
    context = None
    user_messages = [content for role, content in messages["input"] if role == "user" and content]
    if user_messages:
        context = subproblem or "\n".join(f"{role}: {content}" for role, content in messages["input"])
        subproblem = user_messages[-1]
    replies = [content for _, content in messages["output"] if content]
    if replies:
        output = replies[-1]

    tokens_in = _take_count(attrs, "llm.token_count.prompt", "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
    tokens_out = _take_count(attrs, "llm.token_count.completion", "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
    cost = _take_cost(attrs, "llm.cost.total")

    metadata = attrs  # what is left
    if span.kind:
        metadata["otel.span_kind"] = span.kind
    if span.events:
        metadata["otel.events"] = span.events
    is_error = span.status.get("code") in (2, "2", "STATUS_CODE_ERROR")
    return Node(
        id=span.id,
        parent_id=span.parent_id,
        order=order,
        kind=_kind(span.attributes, model, has_children),
        name=span.name,
        subproblem=subproblem,
        context=context,
        context_chars=len(context) if context is not None else None,
        output=output,
        model=model if isinstance(model, str) else None,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cost=cost,
        start_time=span.start,
        end_time=span.end,
        status=Status.ERROR if is_error else Status.OK,
        error=_error_text(span) if is_error else None,
        metadata=metadata,
    )


def _kind(attrs: dict[str, Any], model: Any, has_children: bool) -> NodeKind:
    label = attrs.get("openinference.span.kind")
    if isinstance(label, str) and label.upper() in _OPENINFERENCE_KINDS:
        kind = _OPENINFERENCE_KINDS[label.upper()]
    elif attrs.get("gen_ai.operation.name") in _GENAI_OPERATIONS:
        kind = _GENAI_OPERATIONS[attrs["gen_ai.operation.name"]]
    elif label is None and model:
        kind = NodeKind.LLM
    else:
        return NodeKind.OTHER
    if kind is None:
        return NodeKind.RECURSE if has_children else NodeKind.LEAF
    return kind


def _take(attrs: dict[str, Any], *keys: str) -> Any:
    """The first of keys that is present, removed from attrs (the others stay)."""
    for key in keys:
        if attrs.get(key) is not None:
            return attrs.pop(key)
    return None


def _take_count(attrs: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return attrs.pop(key)
    return None


def _take_cost(attrs: dict[str, Any], key: str) -> float | None:
    value = attrs.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(attrs.pop(key))
    return None


def _take_messages(attrs: dict[str, Any]) -> dict[str, list[tuple[str | None, str | None]]]:
    """OpenInference's flattened chat messages (llm.input_messages.0.message.role ...), removed from attrs."""
    found: dict[str, dict[int, dict[str, Any]]] = {"input": {}, "output": {}}
    for key in list(attrs):
        match = _MESSAGE.fullmatch(key)
        if match:
            direction, index, part = match.groups()
            found[direction].setdefault(int(index), {})[part] = attrs.pop(key)
    return {
        direction: [(m.get("role"), as_text(m.get("content"))) for _, m in sorted(by_index.items())]
        for direction, by_index in found.items()
    }


def _error_text(span: Span) -> str:
    message = span.status.get("message")
    if isinstance(message, str) and message:
        return message
    for event in span.events:
        if event["name"] == "exception":
            attrs = event["attributes"]
            parts = [str(attrs[key]) for key in ("exception.type", "exception.message") if attrs.get(key)]
            if parts:
                return ": ".join(parts)
    return "error"
