"""A person's review of proposed annotations: accept, edit or reject, each recorded in history."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from core.auth import Actor
from core.critique.models import Annotation, Finding, ReviewStatus
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


def accept_all_proposed(store: Store, trace_id: str, reviewer: Actor) -> int:
    proposed = [a for a in store.list_annotations(trace_id) if a.status == ReviewStatus.PROPOSED]
    for a in proposed:
        accept(store, a.id, reviewer)
    return len(proposed)

