"""The people in the tests, each with the role the store would give them."""

from core.auth import Actor, Role
from core.scaffolds import ScaffoldStatus

DANA = Actor("dana@example.com", Role.REVIEWER)  # extracts and edits scaffolds, reviews critique
LEE = Actor("lee@example.com", Role.APPROVER)  # approves what others wrote
VIC = Actor("vic@example.com", Role.VIEWER)  # only looks
ADA = Actor("ada@example.com", Role.ADMIN)  # grants roles


def approve(store, scaffold_id: str, version: int, *, comment: str = "", by: Actor = LEE):
    """Submit a version for review (as Dana) and approve it (as Lee): the only path to approval."""
    store.set_scaffold_status(scaffold_id, version, ScaffoldStatus.IN_REVIEW, actor=DANA)
    return store.set_scaffold_status(scaffold_id, version, ScaffoldStatus.APPROVED, actor=by, comment=comment)
