"""Scaffold versions and their review events; ranking the approved ones against a task."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import duckdb

from core.auth import Action, Actor
from core.errors import NotFound, StoreBusy, StoreError
from core.scaffolds.models import (
    Scaffold,
    ScaffoldConflict,
    ScaffoldError,
    ScaffoldEvent,
    ScaffoldStatus,
    ScaffoldSummary,
    ScaffoldVersion,
    check_transition,
    new_scaffold_id,
)
from core.scaffolds.render import searchable_text
from core.store.connection import Connection, audit, next_seq
from core.text import STEM_ENDING, STEM_MIN_LENGTH, STOPWORDS

_SAVE_ATTEMPTS = 100  # 2 s of waiting for a competing save on another connection to commit

# Each version's current status: the one its latest event gave it, and who made the last decision.
_SCAFFOLD_STATE = """
WITH state AS (
    SELECT scaffold_id, version, arg_max(status, seq) AS status,
           arg_max(actor, seq) FILTER (WHERE status IN ('approved', 'rejected', 'deprecated')) AS reviewer,
           arg_max(comment, seq) FILTER (WHERE status IN ('approved', 'rejected', 'deprecated')) AS review_comment
    FROM scaffold_events GROUP BY scaffold_id, version
)"""
_SCAFFOLD_SELECT = (
    "SELECT v.scaffold_id, v.version, v.content, s.status, v.author, v.comment, v.created_at, v.based_on, "
    "s.reviewer, s.review_comment FROM scaffold_versions v JOIN state s USING (scaffold_id, version)"
)

def _search_terms(text: str, key: str, source: str | None = None) -> str:
    """SELECT of (key, term, word) for every search word of ``text``: lower-case, stopwords out, and
    the term stemmed as core.text.stem does, so "clauses" meets "clause".

    The same rule reads scaffolds and the task searched for, so their words meet.
    """
    words = f"unnest(regexp_extract_all(lower({text}), '[a-z][a-z0-9]+')) AS word"
    return (
        f"SELECT {key.split(' AS ')[-1]}, "
        f"CASE WHEN length(word) > {STEM_MIN_LENGTH} THEN regexp_replace(word, '{STEM_ENDING}', '') ELSE word END AS term, "
        "word "
        f"FROM (SELECT {key}, {words}{f' FROM {source}' if source else ''}) "
        "WHERE length(word) >= 3 AND NOT list_contains($stopwords, word)"
    )


def _scaffold_version_from_row(row: tuple) -> ScaffoldVersion:
    return ScaffoldVersion(
        scaffold_id=row[0], version=row[1], content=Scaffold.model_validate_json(row[2]),
        status=ScaffoldStatus(row[3]), author=row[4], comment=row[5], created_at=row[6], based_on=row[7],
        reviewer=row[8], review_comment=row[9],
    )


class ScaffoldQueries(Connection):
    def save_scaffold(
        self, scaffold_id: str | None, content: Scaffold, *, author: Actor, comment: str = "", based_on: int | None = None
    ) -> ScaffoldVersion:
        """Save ``content`` as a new draft version; a new scaffold when ``scaffold_id`` is None.

        ``based_on`` names the version the edit started from. If anyone saved a
        later one since, nothing is written and ScaffoldConflict carries theirs.
        """
        author.require(Action.EDIT)
        if scaffold_id is None:
            scaffold_id, based_on = new_scaffold_id(content), None
        for _ in range(_SAVE_ATTEMPTS):
            try:
                with self._transaction() as cur:
                    version = self._next_scaffold_version(cur, scaffold_id, based_on)
                    now = datetime.now(timezone.utc)
                    cur.execute(
                        "INSERT INTO scaffold_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [scaffold_id, version, content.kind, content.title, content.task_class,
                         content.model_dump_json(), searchable_text(content), based_on, author.name, comment, now],
                    )
                    cur.execute(
                        f"INSERT INTO scaffold_events (seq, scaffold_id, version, status, actor, comment, happened_at) "
                        f"VALUES ({next_seq('scaffold_events')}, ?, ?, 'draft', ?, ?, ?)",
                        [scaffold_id, version, author.name, comment, now],
                    )
                    audit(cur, author, "save scaffold", f"{scaffold_id} v{version}", comment=comment, based_on=based_on)
                return self.get_scaffold(scaffold_id, version)
            except (duckdb.ConstraintException, duckdb.TransactionException, StoreBusy):
                # Another connection to the file is saving the same version number. Once its
                # save is visible, the check in _next_scaffold_version refuses this one with it.
                time.sleep(0.02)
        raise StoreError(f"could not save scaffold {scaffold_id!r}: the database stayed busy; try again")

    def _next_scaffold_version(self, cur: duckdb.DuckDBPyConnection, scaffold_id: str, based_on: int | None) -> int:
        latest = cur.execute("SELECT max(version) FROM scaffold_versions WHERE scaffold_id = ?", [scaffold_id]).fetchone()[0]
        if latest is None and based_on is not None:
            raise NotFound(f"no scaffold {scaffold_id!r} in {self.path}")
        if latest != based_on:
            raise ScaffoldConflict(scaffold_id, based_on, self._scaffold_version(cur, scaffold_id, latest))
        return (latest or 0) + 1

    def get_scaffold(self, scaffold_id: str, version: int | None = None) -> ScaffoldVersion:
        """One version (the latest by default), with the status it has now."""
        cur = self._cur
        if version is None:
            version = cur.execute(
                "SELECT max(version) FROM scaffold_versions WHERE scaffold_id = ?", [scaffold_id]
            ).fetchone()[0]
            if version is None:
                raise NotFound(f"no scaffold {scaffold_id!r} in {self.path}")
        return self._scaffold_version(cur, scaffold_id, version)

    def reusable_scaffold(self, scaffold_id: str, version: int | None = None) -> ScaffoldVersion:
        """The approved version to hand to an agent: the one asked for, or the newest approved one."""
        if version is not None:
            found = self.get_scaffold(scaffold_id, version)
            if not found.reusable:
                raise ScaffoldError(f"{found.label} is {found.status}; only approved versions are offered for reuse")
            return found
        approved = self._cur.execute(
            f"{_SCAFFOLD_STATE} SELECT max(version) FROM state WHERE scaffold_id = ? AND status = 'approved'",
            [scaffold_id],
        ).fetchone()[0]
        if approved is None:
            self.get_scaffold(scaffold_id)  # NotFound if there is no such scaffold at all
            raise ScaffoldError(f"scaffold {scaffold_id!r} has no approved version; a reviewer has to approve one first")
        return self.get_scaffold(scaffold_id, approved)

    def scaffold_history(self, scaffold_id: str) -> list[ScaffoldVersion]:
        """Every version, oldest first."""
        rows = self._cur.execute(
            f"{_SCAFFOLD_STATE} {_SCAFFOLD_SELECT} WHERE v.scaffold_id = ? ORDER BY v.version", [scaffold_id]
        ).fetchall()
        if not rows:
            raise NotFound(f"no scaffold {scaffold_id!r} in {self.path}")
        return [_scaffold_version_from_row(row) for row in rows]

    def scaffold_events(self, scaffold_id: str) -> list[ScaffoldEvent]:
        rows = self._cur.execute(
            "SELECT scaffold_id, version, status, actor, comment, happened_at FROM scaffold_events "
            "WHERE scaffold_id = ? ORDER BY seq",
            [scaffold_id],
        ).fetchall()
        return [ScaffoldEvent(r[0], r[1], ScaffoldStatus(r[2]), *r[3:]) for r in rows]

    def set_scaffold_status(
        self, scaffold_id: str, version: int, status: ScaffoldStatus | str, *, actor: Actor, comment: str = ""
    ) -> ScaffoldVersion:
        """Submit, approve, reject or deprecate one version, if its current status allows it."""
        status = ScaffoldStatus(status)
        with self._transaction() as cur:
            current = self._scaffold_version(cur, scaffold_id, version)
            check_transition(current, status, actor)
            cur.execute(
                f"INSERT INTO scaffold_events (seq, scaffold_id, version, status, actor, comment, happened_at) "
                f"VALUES ({next_seq('scaffold_events')}, ?, ?, ?, ?, ?, ?)",
                [scaffold_id, version, status.value, actor.name, comment, datetime.now(timezone.utc)],
            )
            audit(cur, actor, f"scaffold {status.value}", f"{scaffold_id} v{version}", comment=comment)
        return self.get_scaffold(scaffold_id, version)

    def list_scaffolds(self, status: ScaffoldStatus | str | None = None) -> list[ScaffoldSummary]:
        """One row per scaffold, latest change first; with ``status``, only scaffolds with a version in it."""
        rows = self._cur.execute(
            f"""
            {_SCAFFOLD_STATE},
            per_scaffold AS (
                SELECT scaffold_id, max(version) AS latest,
                       max(version) FILTER (WHERE status = 'approved') AS approved,
                       bool_or(status = $status) AS has_status
                FROM state GROUP BY scaffold_id
            ),
            last_event AS (
                SELECT scaffold_id, max(happened_at) AS updated_at, arg_max(actor, seq) AS updated_by
                FROM scaffold_events GROUP BY scaffold_id
            )
            SELECT v.scaffold_id, v.title, v.kind, v.task_class, p.latest, s.status, p.approved,
                   e.updated_at, e.updated_by
            FROM per_scaffold p
            JOIN scaffold_versions v ON v.scaffold_id = p.scaffold_id AND v.version = p.latest
            JOIN state s ON s.scaffold_id = p.scaffold_id AND s.version = p.latest
            JOIN last_event e ON e.scaffold_id = p.scaffold_id
            WHERE $status IS NULL OR p.has_status
            ORDER BY e.updated_at DESC, v.scaffold_id
            """,
            {"status": None if status is None else ScaffoldStatus(status).value},
        ).fetchall()
        return [ScaffoldSummary(r[0], r[1], r[2], r[3], r[4], ScaffoldStatus(r[5]), *r[6:]) for r in rows]

    def rank_approved_scaffolds(self, task_text: str) -> list[dict[str, Any]]:
        """The newest approved version of each scaffold, scored by BM25 against ``task_text``.

        Each row: scaffold_id, version, title, kind, task_class, score, and
        terms: the task's words that matched, with their weights, heaviest first.
        """
        rows = self._cur.execute(
            f"""
            {_SCAFFOLD_STATE},
            docs AS (
                SELECT v.scaffold_id, v.version, v.title, v.kind, v.task_class, v.search_text
                FROM scaffold_versions v JOIN state s USING (scaffold_id, version)
                WHERE s.status = 'approved'
                QUALIFY row_number() OVER (PARTITION BY v.scaffold_id ORDER BY v.version DESC) = 1
            ),
            doc_terms AS ({_search_terms("search_text", "scaffold_id", "docs")}),
            query_terms AS (SELECT term, min(word) AS word FROM ({_search_terms("$task", "1 AS q")}) GROUP BY term),
            lengths AS (SELECT scaffold_id, count(*) AS len FROM doc_terms GROUP BY scaffold_id),
            tf AS (SELECT scaffold_id, term, count(*) AS tf FROM doc_terms GROUP BY ALL),
            df AS (SELECT term, count(*) AS df FROM tf GROUP BY term),
            corpus AS (SELECT count(*) AS n, avg(len) AS avg_len FROM lengths),
            weights AS (
                SELECT tf.scaffold_id, query_terms.word,
                       ln(1 + (corpus.n - df.df + 0.5) / (df.df + 0.5))
                       * tf.tf * ($k1 + 1) / (tf.tf + $k1 * (1 - $b + $b * lengths.len / corpus.avg_len)) AS weight
                FROM tf JOIN query_terms USING (term) JOIN df USING (term) JOIN lengths USING (scaffold_id)
                CROSS JOIN corpus
            )
            SELECT d.scaffold_id, d.version, d.title, d.kind, d.task_class, coalesce(sum(w.weight), 0) AS score,
                   coalesce(list([w.word, round(w.weight, 3)::VARCHAR] ORDER BY w.weight DESC, w.word)
                            FILTER (WHERE w.word IS NOT NULL), []) AS terms
            FROM docs d LEFT JOIN weights w USING (scaffold_id)
            GROUP BY ALL
            ORDER BY score DESC, d.scaffold_id
            """,
            {"task": task_text, "stopwords": sorted(STOPWORDS), "k1": 1.2, "b": 0.75},
        ).fetchall()
        keys = ("scaffold_id", "version", "title", "kind", "task_class", "score", "terms")
        return [
            {**dict(zip(keys, row, strict=True)), "terms": [(t, float(w)) for t, w in row[6]]} for row in rows
        ]

    def _scaffold_version(self, cur: duckdb.DuckDBPyConnection, scaffold_id: str, version: int) -> ScaffoldVersion:
        row = cur.execute(
            f"{_SCAFFOLD_STATE} {_SCAFFOLD_SELECT} WHERE v.scaffold_id = ? AND v.version = ?", [scaffold_id, version]
        ).fetchone()
        if row is None:
            raise NotFound(f"no version {version} of scaffold {scaffold_id!r} in {self.path}")
        return _scaffold_version_from_row(row)
