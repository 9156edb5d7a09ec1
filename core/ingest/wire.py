"""OTLP/HTTP on the wire: request bodies (protobuf or JSON, gzipped or not) read into the spans the store keeps,
the answers OTLP/HTTP clients expect, and a live trace rebuilt from its stored spans.

A request is read and checked whole before anything is queued: its spans must make traces that ``trellis
import`` would take (the OTLP importer's checks, core.importers.otlp), so a span stored once never stops its
trace from being rebuilt.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence

import pyarrow as pa
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from core.errors import InputError
from core.importers import checked, otlp
from core.importers.reading import load_json
from core.models import Trace
from core.store.ingest import ReceivedSpan

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
SOURCE = "request"  # what the importer's messages name as the input at fault


class Rejected(Exception):
    """A request answered with an error status and a one-line reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = " ".join(reason.split())  # one line, whatever the parser said


def media_type(content_type: str | None) -> str | None:
    """PROTOBUF or JSON, from a Content-Type header (parameters such as charset aside); None for another."""
    media = (content_type or "").split(";")[0].strip().lower()
    return media if media in (PROTOBUF, JSON) else None


def read_spans(body: bytes, media: str, content_encoding: str | None, max_bytes: int) -> list[ReceivedSpan]:
    """The spans of one ExportTraceServiceRequest body; Rejected when it is not one, or is too large."""
    body = _decompressed(body, (content_encoding or "identity").strip().lower(), max_bytes)
    request = _from_protobuf(body) if media == PROTOBUF else _from_json(body)
    try:
        spans = otlp.read_request(request, SOURCE)
        for parsed in otlp.build_traces(spans, SOURCE):
            checked(parsed, SOURCE)
        return [ReceivedSpan(otlp.trellis_trace_id(span.trace_id), span.id, _text(span.raw), _text(span.raw_resource))
                for span in spans]
    except InputError as exc:
        raise Rejected(400, exc.message) from None


def rebuild(spans: list[tuple[str, str]]) -> tuple[Trace, pa.Table, Sequence[int]]:
    """The trace that all the stored (span, resource) texts of one trace make, as `trellis import` would make it."""
    request = {"resourceSpans": [{"resource": load_json(resource, SOURCE), "scopeSpans": [{"spans": [load_json(span, SOURCE)]}]}
                                 for span, resource in spans]}
    [parsed] = otlp.build_traces(otlp.read_request(request, SOURCE), SOURCE)
    trace = checked(parsed, SOURCE)
    return trace.trace, trace.nodes, trace.depth


def success(media: str) -> bytes:
    """The body of a 200: an empty ExportTraceServiceResponse (no partial success), in the request's encoding."""
    return ExportTraceServiceResponse().SerializeToString() if media == PROTOBUF else b"{}"


def failure(media: str | None, status: int, reason: str) -> tuple[str, bytes]:
    """(Content-Type, body) of an error answer: a google.rpc.Status in the request's encoding, as OTLP/HTTP
    asks; plain text when the request's encoding is not one of OTLP's."""
    code = 14 if status == 503 else 3 if status < 500 else 13  # UNAVAILABLE, INVALID_ARGUMENT, INTERNAL
    if media == PROTOBUF:
        return PROTOBUF, _status_protobuf(code, reason)
    if media == JSON:
        return JSON, json.dumps({"code": code, "message": reason}).encode()
    return "text/plain; charset=utf-8", reason.encode() + b"\n"


def _decompressed(body: bytes, content_encoding: str, max_bytes: int) -> bytes:
    if content_encoding == "identity":
        return body
    if content_encoding != "gzip":
        raise Rejected(415, f"Content-Encoding {content_encoding!r} is not supported: send gzip or none")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip's header and trailer
    try:
        data = inflater.decompress(body, max_bytes + 1)  # at most one byte over: a small body can unpack to gigabytes
    except zlib.error as exc:
        raise Rejected(400, f"the body is not valid gzip ({exc})") from None
    if len(data) > max_bytes:
        raise Rejected(413, f"the body unpacks to more than the {max_bytes / 2**20:.1f} MB limit")
    if not inflater.eof:
        raise Rejected(400, "the body is not valid gzip (it is cut short)")
    return data


def _from_protobuf(body: bytes) -> dict:
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise Rejected(400, f"the body is not a protobuf ExportTraceServiceRequest ({exc})") from None
    return MessageToDict(request)  # protobuf's JSON mapping, which the OTLP importer reads


def _from_json(body: bytes) -> object:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Rejected(400, f"the body is not UTF-8 (byte {exc.start})") from None
    try:
        return load_json(text, SOURCE)
    except InputError as exc:
        raise Rejected(400, exc.message) from None


def _text(value: dict) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except RecursionError:
        raise Rejected(400, "a span holds a value nested too deeply to store") from None


def _status_protobuf(code: int, message: str) -> bytes:
    """google.rpc.Status {int32 code = 1; string message = 2;} encoded by hand: its generated class comes with
    googleapis-common-protos, which Trellis needs for nothing else."""
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(number: int) -> bytes:
    out = bytearray()
    while number > 0x7F:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)
