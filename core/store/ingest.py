"""Spans that `trellis collect` received: kept as they came, each once, and rebuilt into their traces.

A batch of spans is stored in one transaction: the spans not yet in ``received_spans`` (by trace and span id;
DuckLake has no unique keys, so the check is made here, inside the transaction), then each trace they belong
to, rebuilt from all its received spans and replacing its nodes and row. A span that came before its parent
is a root until the parent comes; the rebuild after that puts it under its parent.

A rebuild that would drop a node that annotations or comments name is refused, as ``import --replace`` refuses
it (only the synthetic root above several roots can go, when the real root arrives): the trace keeps its nodes
as they were, and its new spans are stored all the same. A trace of the same id imported from a file is left as
it is. Deleting a trace deletes its received spans too, so a span that comes after that starts it anew.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import duckdb
import pyarrow as pa

from core.auth import Action, Actor
from core.errors import TrellisError
from core.models import Trace
from core.store.connection import audit, next_seq
from core.store.traces import TraceQueries

SOURCE = "trellis collect"  # traces.source_file of a collected trace

# A trace from all its received spans, each as (span, resource) OTLP/JSON texts in the order they came:
# (the trace, its node table, each node's depth), or a TrellisError saying why it cannot be built.
Rebuild = Callable[[list[tuple[str, str]]], tuple[Trace, pa.Table, Sequence[int]]]


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str  # the id of the Trellis trace it belongs to
    span_id: str  # lowercase hex
    span: str  # the span as it came, OTLP/JSON text
    resource: str  # its resource, OTLP/JSON text


@dataclass
class Receipt:
    """What storing a batch did."""

    stored: int = 0  # spans new to the store (the others had come before)
    rebuilt: list[str] = field(default_factory=list)  # traces rebuilt with them
    not_rebuilt: dict[str, str] = field(default_factory=dict)  # trace id -> why it keeps its nodes as they were


_STAGED_SPANS = pa.schema([("position", pa.int64()), ("trace_id", pa.string()), ("span_id", pa.string()),
                           ("span", pa.string()), ("resource", pa.string())])


class IngestQueries(TraceQueries):
    def receive_spans(self, spans: Sequence[ReceivedSpan], rebuild: Rebuild, *, actor: Actor) -> Receipt:
        """Store the spans not stored yet and rebuild the traces they belong to, all in one transaction."""
        actor.require(Action.IMPORT)
        receipt = Receipt()
        touched = list(dict.fromkeys(span.trace_id for span in spans))
        if not touched:
            return receipt
        # Each statement on a lake costs milliseconds of catalog work, so the statements here are one per batch
        # where they can be, not one per trace.
        with self._transaction() as cur:
            by_trace = self._received(cur, touched)
            new = []
            for span in spans:
                if span.span_id not in by_trace[span.trace_id]:
                    by_trace[span.trace_id][span.span_id] = (span.span, span.resource)
                    new.append(span)
            if not new:
                return receipt
            self._insert_received(cur, new)
            receipt.stored = len(new)
            grown = list(dict.fromkeys(span.trace_id for span in new))
            stored, noted, now = self._stored_traces(cur, grown), self._noted_nodes(cur, grown), datetime.now(timezone.utc)
            for trace_id in grown:
                why_not = self._rebuild(cur, trace_id, list(by_trace[trace_id].values()), rebuild,
                                        stored.get(trace_id, NEW), noted.get(trace_id, set()), now)
                if why_not:
                    receipt.not_rebuilt[trace_id] = why_not
                else:
                    receipt.rebuilt.append(trace_id)
                    if trace_id not in stored:
                        audit(cur, actor, "collect trace", trace_id)
        return receipt

    def received_span_count(self, trace_id: str | None = None) -> int:
        """How many spans the collector has stored, of one trace or of all."""
        return self._cur.execute("SELECT count(*) FROM received_spans WHERE ? IS NULL OR trace_id = ?",
                                 [trace_id, trace_id]).fetchone()[0]

    def _received(self, cur: duckdb.DuckDBPyConnection, trace_ids: list[str]) -> dict[str, dict[str, tuple[str, str]]]:
        """The stored spans of each trace, by span id, in the order they came."""
        by_trace: dict[str, dict[str, tuple[str, str]]] = {trace_id: {} for trace_id in trace_ids}
        # A list of constants, so that DuckDB can skip the data files that hold none of these traces.
        rows = cur.execute(f"SELECT trace_id, span_id, span, resource FROM received_spans "
                           f"WHERE trace_id IN ({_marks(trace_ids)}) ORDER BY seq", trace_ids).fetchall()
        for trace_id, span_id, span, resource in rows:
            by_trace[trace_id][span_id] = (span, resource)
        return by_trace

    def _insert_received(self, cur: duckdb.DuckDBPyConnection, spans: list[ReceivedSpan]) -> None:
        staged = pa.Table.from_pylist(
            [{"position": i, "trace_id": s.trace_id, "span_id": s.span_id, "span": s.span, "resource": s.resource}
             for i, s in enumerate(spans)], schema=_STAGED_SPANS)
        cur.register("staged_spans", staged)
        try:
            cur.execute(f"INSERT INTO received_spans (seq, trace_id, span_id, received_at, span, resource) "
                        f"SELECT {next_seq('received_spans')} + position, trace_id, span_id, now(), span, resource "
                        f"FROM staged_spans")
        finally:
            cur.unregister("staged_spans")

    def _stored_traces(self, cur: duckdb.DuckDBPyConnection, trace_ids: list[str]) -> dict[str, _Stored]:
        rows = cur.execute(f"SELECT id, imported_at, last_span_at FROM traces WHERE id IN ({_marks(trace_ids)})",
                           trace_ids).fetchall()
        return {trace_id: _Stored(imported_at, collected=last_span_at is not None)
                for trace_id, imported_at, last_span_at in rows}

    def _noted_nodes(self, cur: duckdb.DuckDBPyConnection, trace_ids: list[str]) -> dict[str, set[str]]:
        """The nodes of each trace that annotations or reviewers' comments name."""
        noted: dict[str, set[str]] = {}
        for trace_id, node_id in cur.execute(
                f"SELECT trace_id, node_id FROM annotations WHERE node_id IS NOT NULL AND trace_id IN ({_marks(trace_ids)}) "
                f"UNION SELECT trace_id, node_id FROM node_comments WHERE trace_id IN ({_marks(trace_ids)})",
                trace_ids * 2).fetchall():
            noted.setdefault(trace_id, set()).add(node_id)
        return noted

    def _rebuild(self, cur: duckdb.DuckDBPyConnection, trace_id: str, spans: list[tuple[str, str]], rebuild: Rebuild,
                 stored: _Stored, noted: set[str], now: datetime) -> str | None:
        """Replace the trace with the one all its spans make; or say why it keeps its nodes as they were."""
        if not stored.collected:
            return "a trace with this id was imported from a file, and is left as it is"
        try:
            trace, nodes, depth = rebuild(spans)
        except TrellisError as exc:
            return str(exc)
        lost = noted - set(nodes.column("id").to_pylist())
        if lost:
            return f"annotations or comments name {', '.join(sorted(lost)[:3])}, which the rebuilt trace would lack"
        # It was first stored when its first span came: a rebuild keeps that time.
        self._insert_trace(cur, trace, nodes, depth, SOURCE, None, replace=True, imported_at=stored.imported_at,
                           last_span_at=now)
        return None


@dataclass(frozen=True)
class _Stored:
    """What a rebuild needs to know of the trace's row as it is."""

    imported_at: datetime | None
    collected: bool  # made by `trellis collect` (else imported from a file)


NEW = _Stored(None, collected=True)  # a trace whose first spans these are


def _marks(values: list) -> str:
    return ", ".join("?" * len(values))
