"""Reviewers' free-form comments on the nodes of a trace: plain text, kept with who wrote it and when."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from core.auth import Action, Actor
from core.errors import NotFound, TrellisError
from core.store.connection import Connection, audit

MAX_COMMENT_CHARS = 10_000


@dataclass(frozen=True)
class NodeComment:
    id: str
    trace_id: str
    node_id: str
    body: str  # untrusted: shown as text, never as Markdown or HTML
    author: str
    created_at: datetime


class CommentQueries(Connection):
    def add_comment(self, trace_id: str, node_id: str, body: str, actor: Actor) -> NodeComment:
        """Save a comment on a node, written by ``actor`` (a reviewer or above), with its audit row."""
        actor.require(Action.REVIEW)
        body = body.strip()
        if not body:
            raise TrellisError("a comment needs some text")
        if len(body) > MAX_COMMENT_CHARS:
            raise TrellisError(f"a comment is at most {MAX_COMMENT_CHARS:,} characters, not {len(body):,}")
        comment = NodeComment(uuid.uuid4().hex[:12], trace_id, node_id, body, actor.name, datetime.now(timezone.utc))
        with self._transaction() as cur:
            self._require_trace(cur, trace_id)
            if not cur.execute("SELECT count(*) FROM nodes WHERE trace_id = ? AND id = ?", [trace_id, node_id]).fetchone()[0]:
                raise NotFound(f"no node {node_id!r} in trace {trace_id!r}")
            cur.execute("INSERT INTO node_comments VALUES (?, ?, ?, ?, ?, ?)",
                        [comment.id, trace_id, node_id, body, comment.author, comment.created_at])
            audit(cur, actor, "comment on node", trace_id, node=node_id, comment=comment.id)
        return comment

    def list_comments(self, trace_id: str, node_id: str | None = None) -> list[NodeComment]:
        """A trace's comments (or one node's), oldest first."""
        rows = self._cur.execute(
            "SELECT id, trace_id, node_id, body, author, created_at FROM node_comments "
            "WHERE trace_id = ? AND (? IS NULL OR node_id = ?) ORDER BY created_at, rowid",
            [trace_id, node_id, node_id],
        ).fetchall()
        return [NodeComment(*row) for row in rows]
