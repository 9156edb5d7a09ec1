"""Making a first draft from stored traces: one trace, several of a class, one trace's accepted critique, or one
trace compressed by a model; and the drafts of one trace, to compare side by side."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.auth import Action, Actor
from core.model_catalog import STRUCTURAL, ModelEntry
from core.models import LoadedTrace
from core.scaffolds.compress import Progress, compress_with_model
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
from core.scaffolds.models import Scaffold, ScaffoldError, ScaffoldVersion
from core.store import Store

MODEL_TIMEOUT = 120.0  # seconds per call, for a model entry that names none: a local model on a small machine is slow


@dataclass(frozen=True)
class Draft:
    version: ScaffoldVersion
    compression: Compression
    edits: list[str] = field(default_factory=list)  # what a critique changed


def draft_scaffold(
    store: Store, trace_ids: list[str], *, author: Actor, from_critique: bool = False,
    by_model: ModelEntry | None = None, completion: Callable[..., Any] | None = None,
    progress: Progress = lambda line: None,
) -> Draft:
    """Extract (one trace) or merge (several) a scaffold, or have ``by_model`` compress one trace (through
    ``completion``, default litellm's), and save it as version 1, a draft. A model's draft is never approved here:
    a reviewer submits and approves it like any other."""
    if not trace_ids:
        raise ScaffoldError("name at least one trace to extract a scaffold from")
    traces = [store.load_trace(trace_id) for trace_id in dict.fromkeys(trace_ids)]
    edits: list[str] = []
    if by_model is not None:
        if len(traces) != 1 or from_critique:
            raise ScaffoldError("a model compresses one trace at a time, without its critique")
        author.require(Action.EDIT)  # before any call: someone who may not save a draft spends no model's tokens
        scaffold, comment = _compressed_by(by_model, traces[0], completion, progress)
    elif from_critique:
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


def _compressed_by(entry: ModelEntry, loaded: LoadedTrace, completion: Callable[..., Any] | None,
                   progress: Progress) -> tuple[Scaffold, str]:
    """The model's draft of one trace, and the version comment saying what making it took."""
    if entry.model == STRUCTURAL:
        raise ScaffoldError(f"{STRUCTURAL} critiques traces but writes no scaffolds; choose a model")
    from core.llm import asker  # the one way Trellis asks a model; litellm loads only when it is asked

    ask = asker(entry, seed=0, temperature=0.2, timeout=entry.timeout or MODEL_TIMEOUT, completion=completion,
                who="compressor")
    made = compress_with_model(loaded, ask, progress=progress)
    comment = f"compressed by {entry.name} from {loaded.trace.id}: {made.calls} calls, {made.tokens:,} tokens"
    if made.summaries_fell_back:
        comment += f" ({made.summaries_fell_back} unreadable summaries replaced by the trace's own)"
    return made.scaffold, comment


def drafts_of_trace(store: Store, trace_id: str) -> list[tuple[ScaffoldVersion, Compression]]:
    """The latest version of every scaffold drawn from ``trace_id`` alone, oldest first, each with its compression
    measured the same way, so a deterministic and a model's draft compare side by side."""
    loaded = store.load_trace(trace_id)
    found = []
    for row in store.list_scaffolds():
        latest = store.get_scaffold(row.scaffold_id)
        if latest.content.provenance.source_traces == [trace_id]:
            found.append((latest, compression(latest.content, loaded)))
    return sorted(found, key=lambda pair: pair[0].created_at)
