"""Who may do what (the roles granted to people) and the audit log of every change."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from core.auth import Action, Actor, AuditEntry, Grant, Role
from core.store.connection import Connection, audit


class AccessQueries(Connection):
    def grant_role(self, email: str, role: Role, actor: Actor) -> Grant:
        """Give ``email`` a role (replacing any role it had)."""
        actor.require(Action.GRANT)
        role = Role(role)
        now = datetime.now(timezone.utc)
        with self._transaction() as cur:
            cur.execute("DELETE FROM users WHERE email = ?", [email])
            cur.execute("INSERT INTO users VALUES (?, ?, ?, ?)", [email, role.value, actor.name, now])
            audit(cur, actor, "grant role", email, role=role.value)
        return Grant(email, role, actor.name, now)

    def list_users(self) -> list[Grant]:
        rows = self._cur.execute("SELECT email, role, granted_by, granted_at FROM users ORDER BY email").fetchall()
        return [Grant(e, Role(r), by, at) for e, r, by, at in rows]

    def role_of(self, email: str) -> Role | None:
        row = self._cur.execute("SELECT role FROM users WHERE email = ?", [email]).fetchone()
        return Role(row[0]) if row else None

    def audit_log(self, limit: int = 200, *, actor: str | None = None, target: str | None = None) -> list[AuditEntry]:
        """The latest changes first; ``actor`` and ``target`` narrow it to one person or one object."""
        rows = self._cur.execute(
            "SELECT seq, happened_at, actor, action, target, details FROM audit_log "
            "WHERE ($actor IS NULL OR actor = $actor) AND ($target IS NULL OR starts_with(target, $target)) "
            "ORDER BY seq DESC LIMIT $limit",
            {"actor": actor, "target": target, "limit": limit},
        ).fetchall()
        return [AuditEntry(seq, at, who, what, on, json.loads(d) if d else {}) for seq, at, who, what, on, d in rows]
