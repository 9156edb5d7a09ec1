"""Who is acting, and what their role lets them do.

Roles are kept in the store (``trellis user grant EMAIL ROLE``). Each role can
do everything the one before it can:

- viewer: read everything;
- reviewer: import, rename and tag traces, run critiques, review annotations, edit and submit scaffold drafts;
- approver: approve, reject and deprecate scaffold versions;
- admin: grant roles and delete traces.

Every write in the store takes an Actor and checks it there, so a page that
forgets to hide a button still cannot let the wrong person through.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.errors import TrellisError


class Role(StrEnum):
    VIEWER = "viewer"
    REVIEWER = "reviewer"
    APPROVER = "approver"
    ADMIN = "admin"


ROLES = list(Role)  # lowest first


class Action(StrEnum):
    IMPORT = "import traces"
    LABEL = "rename and tag traces"
    CRITIQUE = "run critiques"
    RUN = "run students on tasks"
    REVIEW = "review annotations"
    EDIT = "edit scaffolds"
    SUBMIT = "submit scaffolds for review"
    DECIDE = "approve, reject or deprecate scaffolds"
    DELETE = "delete traces"
    GRANT = "grant roles"


LOWEST_ROLE_FOR: dict[Action, Role] = {
    Action.IMPORT: Role.REVIEWER,
    Action.LABEL: Role.REVIEWER,
    Action.CRITIQUE: Role.REVIEWER,
    Action.RUN: Role.REVIEWER,
    Action.REVIEW: Role.REVIEWER,
    Action.EDIT: Role.REVIEWER,
    Action.SUBMIT: Role.REVIEWER,
    Action.DECIDE: Role.APPROVER,
    Action.DELETE: Role.ADMIN,
    Action.GRANT: Role.ADMIN,
}


class PermissionDenied(TrellisError):
    """The actor's role does not allow what they tried."""


@dataclass(frozen=True)
class Actor:
    """A person as the store records them.

    ``name`` comes from the identity provider (an e-mail address) or, in local
    single-user mode, from the operating system account; it is never typed in.
    ``single_user`` is local mode: there is nobody else to review one's work,
    so the rule that nobody approves their own edit is waived there.
    """

    name: str
    role: Role
    single_user: bool = False

    def can(self, action: Action) -> bool:
        return ROLES.index(self.role) >= ROLES.index(LOWEST_ROLE_FOR[action])

    def require(self, action: Action) -> None:
        if not self.can(action):
            needed = LOWEST_ROLE_FOR[action]
            raise PermissionDenied(f"{self.name} ({self.role}) may not {action}: that needs the {needed} role or above")


def os_account() -> str:
    """The operating system account running this process (not $USER, which anyone can set)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid with no passwd entry, as in some containers
        return f"uid {os.getuid()}"


def local_actor() -> Actor:
    """Local single-user mode: the person at this machine, who can do everything."""
    return Actor(name=os_account(), role=Role.ADMIN, single_user=True)


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise TrellisError(f"unknown role {text!r}; roles: {', '.join(ROLES)}") from None


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or any(c.isspace() for c in email) or len(email) > 320:
        raise TrellisError(f"{email!r} is not an e-mail address")
    return email


@dataclass(frozen=True)
class Grant:
    """One person's role, and who gave it."""

    email: str
    role: Role
    granted_by: str
    granted_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    """One change to the store: who, when, what, and on which object."""

    seq: int
    happened_at: datetime
    actor: str
    action: str
    target: str
    details: dict


def command_line_actor(team: bool) -> Actor:
    """Who the CLI acts as: the operating system account, as an admin, since whoever can open the
    database file can change it anyway. Once roles are granted (``team``), even the CLI may not
    approve its own edits."""
    return Actor(name=os_account(), role=Role.ADMIN, single_user=not team)
