import json

from core.models import Node, Trace, TraceDocument, json_schema
from tests.conftest import ROOT


def test_published_schema_matches_the_models():
    published = json.loads((ROOT / "docs" / "trace.schema.json").read_text())
    assert published == json_schema(), "docs/trace.schema.json is stale: run `make schema`"


def test_a_minimal_trace_needs_only_ids():
    doc = TraceDocument(trace=Trace(id="t"), nodes=[Node(id="root")])
    assert doc.trace.role == "unknown"
    assert doc.nodes[0].kind == "other" and doc.nodes[0].status == "ok"


def test_node_tokens_adds_in_and_out():
    assert Node(id="n", tokens_in=30, tokens_out=12).tokens == 42
    assert Node(id="n").tokens == 0
