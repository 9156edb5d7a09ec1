"""Editing scaffolds: table rows in and out, differences between versions, re-applying an edit.

Sub-problems are matched across versions by id, so a rewritten instruction
shows as a change of that sub-problem, not as one removed and one added.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.scaffolds.models import Scaffold, ScaffoldError, SubProblem
from core.scaffolds.render import to_text

TEXT_FIELDS = ("title", "task_class", "applicability", "root_task", "aggregation")
ROW_FIELDS = ("position", "id", "parent_id", "instruction", "context", "output_shape", "optional")
_SUB_FIELDS = ("parent_id", "instruction", "context", "output_shape", "optional")


# ---------------------------------------------------------------- as a table


def subproblem_rows(scaffold: Scaffold) -> list[dict[str, Any]]:
    """One row per sub-problem in outline order, with a position a person can edit to reorder."""
    return [
        {"position": i, **{f: getattr(sub, f) for f in ROW_FIELDS if f != "position"}}
        for i, (_, sub) in enumerate(scaffold.outline(), start=1)
    ]


def with_rows(scaffold: Scaffold, rows: Iterable[Mapping[str, Any]], **fields: Any) -> Scaffold:
    """The scaffold with its sub-problems replaced by edited rows (and any text fields changed).

    Rows are ordered by position; a row without an id is a new sub-problem and
    gets one; a row without an instruction is dropped; anchors of removed
    sub-problems go with them. Raises ScaffoldError naming the row at fault.
    """
    by_id = {s.id: s for s in scaffold.subproblems}
    kept = [dict(row) for row in rows if _text(row.get("instruction"))]
    kept.sort(key=lambda row: _position(row.get("position")))
    taken = {_text(row.get("id")) for row in kept} - {""}
    counter = len(by_id) + 1
    subproblems = []
    for number, row in enumerate(kept, start=1):
        sub_id = _text(row.get("id"))
        if not sub_id:
            while f"s{counter}" in taken or f"s{counter}" in by_id:
                counter += 1
            sub_id = f"s{counter}"
            taken.add(sub_id)
        before = by_id.get(sub_id)
        values = {
            "id": sub_id,
            "parent_id": _text(row.get("parent_id")) or None,
            "instruction": _text(row.get("instruction")),
            "context": _text(row.get("context")),
            "output_shape": _text(row.get("output_shape")),
            "optional": _checked(row.get("optional")),
            "seen_in": before.seen_in if before else None,
            "source_node_id": before.source_node_id if before else None,
        }
        try:
            subproblems.append(SubProblem.model_validate(values))
        except ValueError as exc:
            raise ScaffoldError(f"row {number}: {_first_error(exc)}") from None
    kept_ids = {s.id for s in subproblems}
    try:
        return Scaffold.model_validate({
            **scaffold.model_dump(),
            **{k: v for k, v in fields.items() if k in TEXT_FIELDS},
            "subproblems": [s.model_dump() for s in subproblems],
            "anchors": [a.model_dump() for a in scaffold.anchors if a.subproblem_id in kept_ids],
        })
    except ValueError as exc:
        raise ScaffoldError(f"the edit does not make a valid scaffold: {_first_error(exc)}") from None


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):  # NaN from an emptied table cell
        return ""
    return str(value).strip()


def _checked(value: Any) -> bool:
    return bool(value) and value == value  # an unset cell of a new row is None or NaN, not ticked


def _position(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return float("inf")
    return float("inf") if number != number else number


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = first.get("msg", str(exc)).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(exc)


# ------------------------------------------------------------------- diffs


@dataclass(frozen=True)
class Change:
    what: str  # "aggregation", "sub-problem s3 (2.1)"
    kind: str  # added | removed | changed | moved
    before: str
    after: str


def diff_scaffolds(old: Scaffold, new: Scaffold) -> list[Change]:
    changes = [
        Change(name, "changed", str(getattr(old, name) or ""), str(getattr(new, name) or ""))
        for name in TEXT_FIELDS
        if getattr(old, name) != getattr(new, name)
    ]
    old_numbers = {sub.id: n for n, sub in old.outline()}
    new_numbers = {sub.id: n for n, sub in new.outline()}
    old_subs = {s.id: s for s in old.subproblems}
    for number, sub in new.outline():
        label = f"sub-problem {number} ({sub.id})"
        before = old_subs.get(sub.id)
        if before is None:
            changes.append(Change(label, "added", "", sub.instruction))
            continue
        for name in _SUB_FIELDS:
            if getattr(before, name) != getattr(sub, name):
                changes.append(Change(f"{label} {name.replace('_', ' ')}", "changed",
                                      str(getattr(before, name) or ""), str(getattr(sub, name) or "")))
        if old_numbers[sub.id] != number and before.parent_id == sub.parent_id:
            changes.append(Change(label, "moved", f"was {old_numbers[sub.id]}", f"now {number}"))
    for number, sub in old.outline():
        if sub.id not in new_numbers:
            changes.append(Change(f"sub-problem {number} ({sub.id})", "removed", sub.instruction, ""))
    old_anchors = {(a.subproblem_id, a.result) for a in old.anchors}
    new_anchors = {(a.subproblem_id, a.result) for a in new.anchors}
    changes += [Change(f"anchor for {s}", "removed", r, "") for s, r in sorted(old_anchors - new_anchors)]
    changes += [Change(f"anchor for {s}", "added", "", r) for s, r in sorted(new_anchors - old_anchors)]
    return changes


def side_by_side(old: Scaffold, new: Scaffold) -> tuple[str, str]:
    """Both scaffolds as text, lines that differ marked '-' on the left and '+' on the right."""
    left_lines, right_lines = to_text(old).splitlines(), to_text(new).splitlines()
    left, right = [], []
    matcher = difflib.SequenceMatcher(a=left_lines, b=right_lines, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        same = op == "equal"
        left += [("  " if same else "- ") + line for line in left_lines[a1:a2]]
        right += [("  " if same else "+ ") + line for line in right_lines[b1:b2]]
    return "\n".join(left), "\n".join(right)


# -------------------------------------------------------- re-applying edits


def reapply(base: Scaffold, mine: Scaffold, theirs: Scaffold) -> tuple[Scaffold, list[str]]:
    """My edit of ``base`` re-applied on top of ``theirs`` (someone else's edit of the same base).

    Each field and sub-problem takes my value where I changed it and theirs
    otherwise, so both edits survive. Where we both changed the same thing
    mine wins, and the returned notes say so, so the person can look again.
    """
    notes = []
    fields = {}
    for name in TEXT_FIELDS:
        mine_value, base_value, their_value = getattr(mine, name), getattr(base, name), getattr(theirs, name)
        fields[name] = mine_value if mine_value != base_value else their_value
        if mine_value != base_value and their_value not in (base_value, mine_value):
            notes.append(f"both changed the {name.replace('_', ' ')}; yours was kept")

    base_subs = {s.id: s for s in base.subproblems}
    mine_subs = {s.id: s for s in mine.subproblems}
    their_ids = {s.id for s in theirs.subproblems}
    result: list[SubProblem] = []
    for sub in theirs.subproblems:
        if sub.id in base_subs and sub.id not in mine_subs:
            if sub != base_subs[sub.id]:
                notes.append(f"you removed {sub.id}, which they had changed; it stays removed")
            continue
        mine_sub = mine_subs.get(sub.id)
        if mine_sub is not None and sub.id in base_subs and mine_sub != base_subs[sub.id]:
            if sub != base_subs[sub.id] and sub != mine_sub:
                notes.append(f"both changed {sub.id}; yours was kept")
            sub = mine_sub
        result.append(sub)

    mine_order = [s.id for s in mine.subproblems]
    renamed: dict[str, str] = {}
    for i, sub in enumerate(mine.subproblems):
        if sub.id in base_subs:
            continue
        if sub.id in their_ids:  # both added a sub-problem and chose the same id
            fresh = _fresh_id(their_ids | set(mine_order))
            notes.append(f"your new {sub.id} is now {fresh}: they added a {sub.id} too")
            renamed[sub.id] = mine_order[i] = fresh
            sub = sub.model_copy(update={"id": fresh})
            their_ids.add(fresh)
        after = next((p for p in reversed(mine_order[:i]) if p in {s.id for s in result}), None)
        at = 0 if after is None else [s.id for s in result].index(after) + 1
        result.insert(at, sub)
    result = [s.model_copy(update={"parent_id": renamed[s.parent_id]}) if s.parent_id in renamed else s for s in result]

    common = [i for i in mine_order if i in base_subs]
    if common != [s.id for s in base.subproblems if s.id in mine_subs]:  # I reordered: my order wins
        result = _in_order_of(result, mine_order)

    present = {s.id for s in result}
    result = [s.model_copy(update={"parent_id": None}) if s.parent_id and s.parent_id not in present else s for s in result]
    anchors = [a for a in theirs.anchors if a.subproblem_id in present]
    anchors += [a for a in mine.anchors if a.subproblem_id in present and a not in anchors]
    merged = Scaffold.model_validate({
        **theirs.model_dump(), **fields,
        "subproblems": [s.model_dump() for s in result],
        "anchors": [a.model_dump() for a in anchors],
    })
    return merged, notes


def _in_order_of(subproblems: list[SubProblem], order: list[str]) -> list[SubProblem]:
    """Sub-problems sorted by their place in ``order``; the others stay just after the one before them."""
    rank = {sub_id: i for i, sub_id in enumerate(order)}
    keyed, previous = [], -1
    for n, sub in enumerate(subproblems):
        if sub.id in rank:
            previous = rank[sub.id]
        keyed.append((previous, sub.id not in rank, n))
    return [subproblems[n] for *_, n in sorted(keyed)]


def _fresh_id(taken: set[str]) -> str:
    n = len(taken) + 1
    while f"s{n}" in taken:
        n += 1
    return f"s{n}"
