"""Critique runs and their annotations: what a critic proposed and what people decided."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from core.auth import Action, Actor
from core.critique.models import Annotation, AnnotationEvent, CritiqueRun
from core.errors import NotFound
from core.store.connection import Connection, audit

_ANNOTATION_FIELDS = [
    "id", "trace_id", "node_id", "run_id", "category", "severity", "rationale", "suggested_fix",
    "suggested_subproblems", "author", "status", "reviewer", "reviewed_at", "created_at",
]
_ANNOTATION_COLUMNS = ", ".join(_ANNOTATION_FIELDS)


def _annotation_values(a: Annotation) -> list[Any]:
    values = a.model_dump()
    values["suggested_subproblems"] = json.dumps(values["suggested_subproblems"])
    return [values[f] for f in _ANNOTATION_FIELDS]


def _annotation_from_row(row: tuple) -> Annotation:
    values = dict(zip(_ANNOTATION_FIELDS, row, strict=True))
    values["suggested_subproblems"] = json.loads(values["suggested_subproblems"] or "[]")
    return Annotation.model_validate(values)



class CritiqueQueries(Connection):
    def add_critique(self, run: CritiqueRun, annotations: list[Annotation], actor: Actor) -> None:
        """Store a critique run and its proposed annotations, all or nothing."""
        actor.require(Action.CRITIQUE)
        with self._transaction() as cur:
            self._require_trace(cur, run.trace_id)
            audit(cur, actor, "critique", run.trace_id, run=run.id, teacher=run.teacher, findings=len(annotations))
            cur.execute(
                "INSERT INTO critique_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run.id, run.trace_id, run.reference_id, run.teacher, json.dumps(run.settings), run.started_at,
                 run.duration_s, run.tokens_in, run.tokens_out, run.cost, run.finding_count],
            )
            for a in annotations:
                cur.execute(
                    f"INSERT INTO annotations ({_ANNOTATION_COLUMNS}) VALUES ({', '.join('?' * len(_ANNOTATION_FIELDS))})",
                    _annotation_values(a),
                )
                cur.execute(
                    "INSERT INTO annotation_events VALUES (?, ?, ?, 'proposed', NULL)", [a.id, a.created_at, a.author]
                )

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
        reviewer = actor.name
        with self._transaction() as cur:
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
