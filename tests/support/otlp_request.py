"""OTLP/JSON export requests as an OpenTelemetry SDK sends them to a collector's /v1/traces."""

import json
import time


def export_request(trace_id: str, spans: list[tuple[str, str | None, str]], service: str = "support-agent") -> bytes:
    """One ExportTraceServiceRequest body: the spans, each (span id, parent span id or None, name), of one trace,
    each started now and lasting a millisecond."""
    now = time.time_ns()
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": [
            {"traceId": trace_id, "spanId": span_id, **({"parentSpanId": parent} if parent else {}), "name": name,
             "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + 1_000_000)}
            for span_id, parent, name in spans]}],
    }]}).encode()
