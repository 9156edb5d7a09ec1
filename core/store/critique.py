"""Critique runs and their annotations: what a critic proposed and what people decided."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import duckdb
import pyarrow as pa

from core.auth import Action, Actor
from core.critique.matching import already_there
from core.critique.models import Annotation, AnnotationEvent, CritiqueRun, Finding, ReviewStatus
from core.errors import NotFound
from core.store.connection import Connection, audit, next_seq

_ANNOTATION_FIELDS = [
    "id", "trace_id", "node_id", "run_id", "category", "severity", "rationale", "suggested_fix",
    "suggested_subproblems", "author", "status", "reviewer", "reviewed_at", "created_at",
]
_ANNOTATION_COLUMNS = ", ".join(_ANNOTATION_FIELDS)
_FINDING_FIELDS = set(Finding.model_fields)


def _annotation_values(a: Annotation) -> list[Any]:
    values = a.model_dump()
    values["suggested_subproblems"] = json.dumps(values["suggested_subproblems"])
    return [values[f] for f in _ANNOTATION_FIELDS]


def _as_proposed(a: Annotation) -> str:
    return Finding.model_validate(a.model_dump(include=_FINDING_FIELDS)).model_dump_json()


def _annotation_from_row(row: tuple) -> Annotation:
    values = dict(zip(_ANNOTATION_FIELDS, row, strict=True))
    values["suggested_subproblems"] = json.loads(values["suggested_subproblems"] or "[]")
    return Annotation.model_validate(values)



class CritiqueQueries(Connection):
    def add_critique(self, run: CritiqueRun, annotations: list[Annotation],
                     actor: Actor) -> tuple[list[Annotation], list[Annotation]]:
        """Store a critique run and those of its proposed annotations the trace does not hold yet, all or nothing.

        Returns (added, already there): a finding that repeats an annotation of the trace
        (``core.critique.matching.already_there``) is not stored again; that annotation keeps its review.
        How many were new and how many already there is recorded in ``run.settings`` too.
        """
        actor.require(Action.CRITIQUE)
        with self._transaction() as cur:
            self._require_trace(cur, run.trace_id)
            stored = self._annotations_as_proposed(cur, run.trace_id)
            node_ids = {n for (n,) in cur.execute("SELECT id FROM nodes WHERE trace_id = ?", [run.trace_id]).fetchall()}
            repeats = already_there(annotations, [proposed for _, proposed in stored], node_ids)
            added = [a for i, a in enumerate(annotations) if i not in repeats]
            already = [stored[j][0] for j in dict.fromkeys(repeats.values())]
            run.settings |= {"new_findings": len(added), "already_there": len(repeats)}
            audit(cur, actor, "critique", run.trace_id, run=run.id, teacher=run.teacher, findings=len(annotations),
                  new=len(added))
            cur.execute(
                "INSERT INTO critique_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run.id, run.trace_id, run.reference_id, run.teacher, json.dumps(run.settings), run.started_at,
                 run.duration_s, run.tokens_in, run.tokens_out, run.cost, run.finding_count],
            )
            if added:  # thousands at a time, so as one table: row by row they take minutes
                rows = [[*_annotation_values(a), _as_proposed(a)] for a in added]
                staged = pa.table(list(zip(*rows, strict=True)), names=[*_ANNOTATION_FIELDS, "proposed"])
                cur.register("staged_annotations", staged)
                try:
                    cur.execute(f"INSERT INTO annotations ({_ANNOTATION_COLUMNS}, proposed) "
                                f"SELECT {_ANNOTATION_COLUMNS}, proposed FROM staged_annotations")
                    cur.execute("INSERT INTO annotation_events "
                                "SELECT id, created_at, author, 'proposed', NULL FROM staged_annotations")
                finally:
                    cur.unregister("staged_annotations")
        return added, already

    def _annotations_as_proposed(self, cur: duckdb.DuckDBPyConnection, trace_id: str) -> list[tuple[Annotation, Finding]]:
        """Each annotation of a trace, with the finding as its critic proposed it (as it reads now, if not recorded)."""
        rows = cur.execute(
            f"SELECT {_ANNOTATION_COLUMNS}, proposed FROM annotations WHERE trace_id = ? ORDER BY created_at, rowid",
            [trace_id],
        ).fetchall()
        stored = []
        for *row, proposed in rows:
            annotation = _annotation_from_row(tuple(row))
            stored.append((annotation, Finding.model_validate_json(proposed) if proposed
                           else Finding.model_validate(annotation.model_dump(include=_FINDING_FIELDS))))
        return stored

    def annotations_as_proposed(self, trace_id: str) -> list[tuple[Annotation, Finding]]:
        """Each annotation of a trace, with the finding as its critic proposed it (before any reviewer's edit)."""
        return self._annotations_as_proposed(self._cur, trace_id)

    def list_annotations(self, trace_id: str) -> list[Annotation]:
        rows = self._cur.execute(
            f"SELECT {_ANNOTATION_COLUMNS} FROM annotations WHERE trace_id = ? ORDER BY created_at, rowid", [trace_id]
        ).fetchall()
        return [_annotation_from_row(row) for row in rows]

    def traces_with_reviewed_critique(self, statuses: tuple[str, ...]) -> list[str]:
        """The traces that have an annotation in one of ``statuses``: those a critique arm can give advice from."""
        rows = self._cur.execute("SELECT DISTINCT trace_id FROM annotations WHERE list_contains(?, status) "
                                 "ORDER BY trace_id", [list(statuses)]).fetchall()
        return [row[0] for row in rows]

    def get_annotation(self, annotation_id: str) -> Annotation:
        row = self._cur.execute(
            f"SELECT {_ANNOTATION_COLUMNS} FROM annotations WHERE id = ?", [annotation_id]
        ).fetchone()
        if row is None:
            raise NotFound(f"no annotation {annotation_id!r}")
        return _annotation_from_row(row)

    def review_annotation(self, annotation_id: str, status: str, actor: Actor, changes: dict[str, Any]) -> Annotation:
        """Record a person's decision (and any edits to the finding) with its history event."""
        actor.require(Action.REVIEW)
        with self._transaction() as cur:
            return self._review(cur, annotation_id, status, actor, changes)

    def review_proposed(self, annotation_ids: list[str], status: str, actor: Actor) -> list[str]:
        """One decision on many annotations, in one transaction, each with its own history event and audit row;
        those no longer proposed (someone decided meanwhile) are left as they are. Returns the ids decided."""
        actor.require(Action.REVIEW)
        now = datetime.now(timezone.utc)
        with self._transaction() as cur:
            rows = cur.execute("SELECT id, trace_id FROM annotations WHERE list_contains(?, id) AND status = ?",
                               [annotation_ids, ReviewStatus.PROPOSED.value]).fetchall()
            decided = [i for i, _ in rows]
            if not decided:
                return []
            # Set-wise, not row by row: a group of thousands is decided in a moment.
            cur.execute("UPDATE annotations SET status = ?, reviewer = ?, reviewed_at = ? WHERE list_contains(?, id)",
                        [status, actor.name, now, decided])
            cur.execute("INSERT INTO annotation_events SELECT unnest(?), ?, ?, ?, '{}'", [decided, now, actor.name, status])
            cur.execute("INSERT INTO audit_log (seq, happened_at, actor, action, target, details) "
                        f"SELECT {next_seq('audit_log')} + generate_subscripts(targets, 1) - 1, ?, ?, ?, "
                        "unnest(targets), unnest(details) FROM (SELECT ?::VARCHAR[] AS targets, ?::VARCHAR[] AS details)",
                        [now, actor.name, f"annotation {status}", decided,
                         [json.dumps({"trace": trace, "group": True}) for _, trace in rows]])
        return decided

    def _review(self, cur: duckdb.DuckDBPyConnection, annotation_id: str, status: str, actor: Actor,
                changes: dict[str, Any]) -> Annotation:
        reviewer = actor.name
        before = cur.execute(
            f"SELECT {_ANNOTATION_COLUMNS} FROM annotations WHERE id = ?", [annotation_id]
        ).fetchone()
        if before is None:
            raise NotFound(f"no annotation {annotation_id!r}")
        updated = _annotation_from_row(before).model_copy(
            update={**changes, "status": status, "reviewer": reviewer, "reviewed_at": datetime.now(timezone.utc)}
        )
        cur.execute(
            f"UPDATE annotations SET {', '.join(f'{f} = ?' for f in _ANNOTATION_FIELDS)} WHERE id = ?",
            [*_annotation_values(updated), annotation_id],
        )
        cur.execute(
            "INSERT INTO annotation_events VALUES (?, ?, ?, ?, ?)",
            [annotation_id, updated.reviewed_at, reviewer, status, json.dumps(changes, default=str)],
        )
        audit(cur, actor, f"annotation {status}", annotation_id, trace=updated.trace_id, changes=changes)
        return updated

    def annotation_history(self, annotation_id: str) -> list[AnnotationEvent]:
        rows = self._cur.execute(
            "SELECT annotation_id, happened_at, actor, action, changes FROM annotation_events "
            "WHERE annotation_id = ? ORDER BY happened_at, rowid",
            [annotation_id],
        ).fetchall()
        return [
            AnnotationEvent(annotation_id=r[0], happened_at=r[1], actor=r[2], action=r[3],
                            changes=json.loads(r[4]) if r[4] else {})
            for r in rows
        ]

    def annotation_counts(self) -> dict[str, int]:
        """Annotations per trace, rejected ones left out."""
        rows = self._cur.execute(
            "SELECT trace_id, count(*) FROM annotations WHERE status <> 'rejected' GROUP BY trace_id"
        ).fetchall()
        return dict(rows)

    def list_critique_runs(self, trace_id: str) -> list[CritiqueRun]:
        rows = self._cur.execute(
            "SELECT id, trace_id, reference_id, teacher, settings, started_at, duration_s, tokens_in, tokens_out, "
            "cost, finding_count FROM critique_runs WHERE trace_id = ? ORDER BY started_at DESC",
            [trace_id],
        ).fetchall()
        fields = list(CritiqueRun.model_fields)
        return [
            CritiqueRun.model_validate({**dict(zip(fields, r, strict=True)), "settings": json.loads(r[4] or "{}")})
            for r in rows
        ]
