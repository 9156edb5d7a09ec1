"""Trellis: inspect, critique and reuse the recursive traces of LLM agents.

The library works without the UI::

    from core import Store, import_files
    store = Store("trellis.lake")
    import_files(store, ["run.jsonl"])
    loaded = store.load_trace("legal-msa-teacher-70b")
"""

from core.errors import InputError, NotFound, StoreError, TreeError, TrellisError
from core.importers import import_files, read_file
from core.models import LoadedTrace, Node, NodeKind, Role, Trace, TraceDocument, TraceSummary
from core.store import Store

__all__ = [
    "InputError", "LoadedTrace", "Node", "NodeKind", "NotFound", "Role", "Store", "StoreError", "Trace",
    "TraceDocument", "TraceSummary", "TreeError", "TrellisError", "import_files", "read_file",
]
