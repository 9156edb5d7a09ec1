"""A person's review of proposed annotations: accept, edit or reject, each recorded in history."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from core.auth import Actor
from core.critique.matching import pattern
from core.critique.models import SEVERITY_RANK, Annotation, Finding, ReviewStatus
from core.errors import TrellisError
from core.store import Store

EDITABLE = ("category", "severity", "rationale", "suggested_fix", "suggested_subproblems")


class ReviewError(TrellisError):
    """A review action that cannot be recorded as asked."""


def accept(store: Store, annotation_id: str, reviewer: Actor) -> Annotation:
    return store.review_annotation(annotation_id, ReviewStatus.ACCEPTED, reviewer, {})


def reject(store: Store, annotation_id: str, reviewer: Actor) -> Annotation:
    return store.review_annotation(annotation_id, ReviewStatus.REJECTED, reviewer, {})


def edit(store: Store, annotation_id: str, reviewer: Actor, **changes: Any) -> Annotation:
    """Accept the annotation with the reviewer's changes to its wording, category or severity."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ReviewError(f"cannot edit {', '.join(sorted(unknown))}; editable: {', '.join(EDITABLE)}")
    current = store.get_annotation(annotation_id)
    merged = {**Finding.model_validate(current.model_dump(include=set(Finding.model_fields))).model_dump(), **changes}
    try:
        finding = Finding.model_validate(merged)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        raise ReviewError(f"{'.'.join(map(str, error['loc']))}: {error['msg']}") from None
    changed = {k: v for k, v in finding.model_dump().items() if k in changes and v != getattr(current, k)}
    if not changed:
        raise ReviewError("nothing changed; use accept instead")
    return store.review_annotation(annotation_id, ReviewStatus.EDITED, reviewer, changed)


def decide_group(store: Store, annotation_ids: list[str], status: ReviewStatus, reviewer: Actor) -> int:
    """Accept or reject many proposed annotations in one action (one transaction, an event each); those
    someone decided meanwhile keep that decision. Returns how many were decided."""
    if status not in (ReviewStatus.ACCEPTED, ReviewStatus.REJECTED):
        raise ReviewError(f"a group is accepted or rejected, not {status}")
    return len(store.review_proposed(annotation_ids, status, reviewer))


def accept_all_proposed(store: Store, trace_id: str, reviewer: Actor) -> int:
    proposed = [a.id for a in store.list_annotations(trace_id) if a.status == ReviewStatus.PROPOSED]
    return decide_group(store, proposed, ReviewStatus.ACCEPTED, reviewer)



@dataclass(frozen=True)
class Group:
    """Annotations of one category whose rationales follow one pattern (``core.critique.matching.pattern``):
    in practice, the points one check of a critic raised, reviewed together."""

    category: str
    pattern: str
    annotations: list[Annotation]

    @property
    def key(self) -> str:
        """A short name for the group that stays the same from one page run to the next."""
        return hashlib.sha1(f"{self.category}\n{self.pattern}".encode()).hexdigest()[:12]

    @property
    def proposed(self) -> list[str]:
        return [a.id for a in self.annotations if a.status == ReviewStatus.PROPOSED]


def groups(annotations: list[Annotation], proposed: dict[str, Finding] | None = None) -> list[Group]:
    """Annotations by category and pattern, the most severe groups first, then the largest.

    ``proposed`` (annotation id: the finding as its critic proposed it) groups an edited annotation where its
    critic raised it, so a reviewer's edit does not move it away from its kind."""
    proposed = proposed or {}
    by_kind: dict[tuple[str, str], list[Annotation]] = {}
    for a in annotations:
        raised = proposed.get(a.id, a)
        by_kind.setdefault((raised.category, pattern(raised)), []).append(a)
    found = [Group(category, shape, members) for (category, shape), members in by_kind.items()]
    return sorted(found, key=lambda g: (-max(SEVERITY_RANK[a.severity] for a in g.annotations), -len(g.annotations)))
