"""Trellis: inspect, critique and reuse the recursive traces of LLM agents.

The library works without the UI::

    from core import Store, import_files
    store = Store("trellis.duckdb")
    import_files(store, ["run.jsonl"])
    loaded = store.load_trace("legal-msa-teacher-70b")
"""

from core.errors import InputError, NotFound, StoreError, TrellisError, TreeError
from core.importers import import_files, read_file
from core.models import Node, NodeKind, Role, Trace, TraceDocument
from core.store import LoadedTrace, Store, TraceSummary

__all__ = [
    "InputError", "LoadedTrace", "Node", "NodeKind", "NotFound", "Role", "Store", "StoreError", "Trace",
    "TraceDocument", "TraceSummary", "TreeError", "TrellisError", "import_files", "read_file",
]
