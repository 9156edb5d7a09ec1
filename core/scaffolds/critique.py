"""Turning accepted critique into the scaffold the student should have had.

Start from the scaffold of the student's own run, then apply each accepted
annotation's suggested fix as an edit: add the missing sub-problems, drop the
redundant ones, split the too-shallow ones, flatten the too-deep ones, and
carry the fixes for lost context and lossy aggregation into the text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.models import LoadedTrace
from core.scaffolds.extract import extract_scaffold
from core.scaffolds.models import Scaffold, SubProblem
from core.text import shorten

USABLE_REVIEW_STATUSES = ("accepted", "edited")
AFTER = " (after critique)"
STEP_KEY = "scaffold-step:"  # an annotation's node id that names a scaffold step itself, not a node of a trace


def draft_from_critique(student: LoadedTrace, annotations: Iterable[Any]) -> tuple[Scaffold, list[str]]:
    """The student's scaffold with every accepted annotation applied, and a line per edit made."""
    parent_of = {n.id: n.parent_id for n in student.nodes}
    return apply_critique(extract_scaffold(student), annotations, parent_of)


def revise_from_runs(scaffold: Scaffold, runs: Iterable[tuple[LoadedTrace, Iterable[Any]]]) -> tuple[Scaffold, list[str]]:
    """The scaffold with the accepted critique of student runs that followed it applied, and a line per edit made.

    An annotation on a run's step (a node that carried out a scaffold step: ``metadata.scaffold_step``) applies to
    that step; one below a step, to the step above it; any other, to the whole task. The same point made on several
    runs is applied once."""
    notes, seen = [], set()
    for loaded, points in runs:
        nodes = {n.id: n for n in loaded.nodes}
        for annotation in points:
            note = _Note.of(annotation)
            if note.status not in (None, *USABLE_REVIEW_STATUSES):
                continue
            step, node_id = None, note.node_id
            while node_id is not None and node_id in nodes and step is None:
                step = nodes[node_id].metadata.get("scaffold_step")
                node_id = nodes[node_id].parent_id
            point = (note.category, step, note.fix, tuple(note.subproblems))
            if point not in seen:
                seen.add(point)
                notes.append({"id": note.id, "category": note.category, "suggested_fix": note.fix,
                              "suggested_subproblems": note.subproblems,
                              "node_id": f"{STEP_KEY}{step}" if step else None})
    return apply_critique(scaffold, notes)


def apply_critique(
    scaffold: Scaffold, annotations: Iterable[Any], parent_of: Mapping[str, str | None] | None = None
) -> tuple[Scaffold, list[str]]:
    """Apply accepted annotations (objects or dicts with category, node_id, suggested_fix, suggested_subproblems).

    An annotation on a node the scaffold does not hold applies to its nearest
    ancestor that it does; ``parent_of`` (node id to parent id) tells which.
    Annotations with a ``status`` other than accepted or edited are skipped.
    """
    editor = _Editor(scaffold, parent_of or {})
    used = []
    for annotation in annotations:
        note = _Note.of(annotation)
        if note.status not in (None, *USABLE_REVIEW_STATUSES):
            continue
        editor.apply(note)
        if note.id:
            used.append(note.id)
    provenance = scaffold.provenance.model_copy(
        update={"method": "critique", "annotations": [*scaffold.provenance.annotations, *used]}
    )
    result = Scaffold.model_validate(
        {**scaffold.model_dump(), "subproblems": [s.model_dump() for s in editor.subproblems],
         "anchors": [a.model_dump() for a in scaffold.anchors if a.subproblem_id in editor.ids()],
         "aggregation": editor.aggregation, "root_task": editor.root_task,
         "provenance": provenance.model_dump(),
         "title": scaffold.title if scaffold.title.endswith(AFTER) else f"{scaffold.title}{AFTER}"}
    )
    return result, editor.log


class _Note:
    """The fields of one annotation, whether it came as a model or a plain dict."""

    def __init__(self, values: Mapping[str, Any]):
        self.id = values.get("id")
        self.status = values.get("status")
        self.category = str(values.get("category") or "other")
        self.node_id = values.get("node_id")
        self.fix = (values.get("suggested_fix") or "").strip()
        self.subproblems = [s.strip() for s in values.get("suggested_subproblems") or [] if s and s.strip()]

    @classmethod
    def of(cls, annotation: Any) -> _Note:
        if isinstance(annotation, Mapping):
            return cls(annotation)
        return cls(annotation.model_dump() if hasattr(annotation, "model_dump") else vars(annotation))


class _Editor:
    def __init__(self, scaffold: Scaffold, parent_of: Mapping[str, str | None]):
        self.subproblems = [s.model_copy() for s in scaffold.subproblems]
        self.aggregation = scaffold.aggregation
        self.root_task = scaffold.root_task
        self.parent_of = parent_of
        self.log: list[str] = []
        self._next = len(self.subproblems) + 1

    def ids(self) -> set[str]:
        return {s.id for s in self.subproblems}

    def target(self, node_id: str | None) -> SubProblem | None:
        """The sub-problem drawn from node_id or its nearest ancestor; None means the whole task."""
        by_node = {s.source_node_id: s for s in self.subproblems if s.source_node_id}
        by_node |= {f"{STEP_KEY}{s.id}": s for s in self.subproblems}
        seen = set()
        while node_id is not None and node_id not in seen:
            if node_id in by_node:
                return by_node[node_id]
            seen.add(node_id)
            node_id = self.parent_of.get(node_id)
        return None

    def apply(self, note: _Note) -> None:
        target = self.target(note.node_id)
        where = f"sub-problem {target.id} ({shorten(target.instruction, 50)})" if target else "the whole task"
        category = note.category
        if category == "missing_subproblem":
            added = self.add_below(target, note.subproblems or ([note.fix] if note.fix else []))
            self.log.append(f"added {', '.join(added)} under {where}" if added else f"nothing to add under {where}")
        elif category == "redundant_subproblem" and target is not None and note.node_id in (
                target.source_node_id, f"{STEP_KEY}{target.id}"):
            removed = self.remove(target.id, keep_root=False)
            self.log.append(f"removed {where}" + (f" and {removed} below it" if removed else ""))
        elif category == "too_shallow" and note.subproblems:
            added = self.add_below(target, note.subproblems)
            self.log.append(f"split {where} into {', '.join(added)}")
        elif category == "wrong_decomposition" and note.subproblems:
            if target is not None:
                self.remove(target.id, keep_root=True)
            else:
                self.subproblems = []
            added = self.add_below(target, note.subproblems)
            self.log.append(f"replaced the decomposition of {where} with {', '.join(added)}")
        elif category == "too_deep" and target is not None:
            removed = self.remove(target.id, keep_root=True)
            self.annotate(target, note.fix)
            self.log.append(f"flattened {where}" + (f", dropping {removed} deeper sub-problems" if removed else ""))
        elif category == "aggregation_loss" and note.fix:
            self.aggregation = f"{self.aggregation}; {note.fix}" if self.aggregation else note.fix
            self.log.append("extended the aggregation rule")
        elif category == "context_loss" and note.fix and target is not None:
            self.replace(target, context=f"{target.context}; {note.fix}" if target.context else note.fix)
            self.log.append(f"widened the context of {where}")
        elif note.fix:
            if target is None:
                self.root_task = f"{self.root_task}\nNote: {note.fix}".strip()
            else:
                self.annotate(target, note.fix)
            self.log.append(f"added a note to {where}")

    def add_below(self, parent: SubProblem | None, instructions: list[str]) -> list[str]:
        parent_id = parent.id if parent else None
        existing = {s.instruction.lower() for s in self.subproblems if s.parent_id == parent_id}
        new = []
        for text in instructions:
            if text.lower() in existing:
                continue
            while f"s{self._next}" in self.ids():
                self._next += 1
            new.append(SubProblem(id=f"s{self._next}", parent_id=parent_id, instruction=shorten(text, 300)))
            existing.add(text.lower())
            self._next += 1
        position = self._end_of_family(parent_id)
        self.subproblems[position:position] = new
        return [s.id for s in new]

    def _end_of_family(self, parent_id: str | None) -> int:
        """Index just after the last sub-problem under parent_id (or after the parent itself)."""
        inside = {parent_id} if parent_id else set()
        last = -1 if parent_id is None else next(i for i, s in enumerate(self.subproblems) if s.id == parent_id)
        for i, sub in enumerate(self.subproblems):
            if sub.parent_id in inside or (parent_id is None and sub.parent_id is None):
                inside.add(sub.id)
                last = i
        return last + 1

    def remove(self, sub_id: str, *, keep_root: bool) -> int:
        """Remove the sub-problem's descendants (and it, unless keep_root); the count of descendants."""
        doomed = {sub_id}
        for sub in self.subproblems:  # parents come before their children in outline order
            if sub.parent_id in doomed:
                doomed.add(sub.id)
        descendants = len(doomed) - 1
        if keep_root:
            doomed.discard(sub_id)
        self.subproblems = [s for s in self.subproblems if s.id not in doomed]
        return descendants

    def annotate(self, sub: SubProblem, fix: str) -> None:
        if fix:
            self.replace(sub, instruction=shorten(f"{sub.instruction} (Note: {fix})", 2000))

    def replace(self, sub: SubProblem, **changes: Any) -> None:
        self.subproblems = [s.model_copy(update=changes) if s.id == sub.id else s for s in self.subproblems]
