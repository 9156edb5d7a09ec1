"""Writing traces back out as Trellis JSON, which `trellis import` reads unchanged."""

from __future__ import annotations

from core.models import LoadedTrace, TraceDocument


def to_document(loaded: LoadedTrace) -> TraceDocument:
    return TraceDocument(trace=loaded.trace, nodes=loaded.nodes)


def to_json(loaded: LoadedTrace) -> str:
    return to_document(loaded).model_dump_json(indent=2, exclude_none=True)
