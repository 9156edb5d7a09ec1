"""Making a first draft from stored traces: one trace, several of a class, or one trace's accepted critique."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.auth import Actor
from core.scaffolds.critique import USABLE_REVIEW_STATUSES, draft_from_critique
from core.scaffolds.extract import (
    Compression,
    compression,
    context_chars,
    extract_scaffold,
    first_level_subproblems,
    merge_strategy,
    scaffold_bytes,
    trace_bytes,
)
from core.scaffolds.models import ScaffoldError, ScaffoldVersion
from core.store import Store


@dataclass(frozen=True)
class Draft:
    version: ScaffoldVersion
    compression: Compression
    edits: list[str] = field(default_factory=list)  # what a critique changed


def draft_scaffold(store: Store, trace_ids: list[str], *, author: Actor, from_critique: bool = False) -> Draft:
    """Extract (one trace) or merge (several) a scaffold and save it as version 1, a draft."""
    if not trace_ids:
        raise ScaffoldError("name at least one trace to extract a scaffold from")
    traces = [store.load_trace(trace_id) for trace_id in dict.fromkeys(trace_ids)]
    edits: list[str] = []
    if from_critique:
        if len(traces) != 1:
            raise ScaffoldError("a draft from critique is made from one student trace at a time")
        annotations = [a for a in store.list_annotations(traces[0].trace.id) if a.status in USABLE_REVIEW_STATUSES]
        if not annotations:
            raise ScaffoldError(f"trace {traces[0].trace.id!r} has no accepted annotations; review its critique first")
        scaffold, edits = draft_from_critique(traces[0], annotations)
        comment = f"from the accepted critique of {traces[0].trace.id}: {len(edits)} edits"
    elif len(traces) == 1:
        scaffold = extract_scaffold(traces[0])
        comment = f"extracted from {traces[0].trace.id}"
    else:
        scaffold = merge_strategy(traces)
        comment = f"merged from {len(traces)} traces"
    if len(traces) == 1:
        measured = compression(scaffold, traces[0])
    else:
        measured = Compression(
            scaffold_bytes=scaffold_bytes(scaffold),
            trace_bytes=sum(trace_bytes(t) for t in traces),
            context_chars=sum(context_chars(t) for t in traces),
            first_level_kept=sum(s.seen_in or 0 for s in scaffold.first_level()),
            first_level_total=sum(len(first_level_subproblems(t)) for t in traces),
            traces=len(traces),
        )
    version = store.save_scaffold(None, scaffold, author=author, comment=comment)
    return Draft(version, measured, edits)
