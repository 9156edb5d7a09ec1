"""Scaffolds and strategies: extract them from traces, edit and version them, approve them, reuse them.

    from core.auth import Actor, Role
    from core.scaffolds import extract_scaffold, export
    dana, lee = Actor("dana@example.com", Role.REVIEWER), Actor("lee@example.com", Role.APPROVER)
    scaffold = extract_scaffold(store.load_trace("legal-msa-teacher-70b"))
    first = store.save_scaffold(None, scaffold, author=dana, comment="extracted")
    store.set_scaffold_status(first.scaffold_id, 1, "in_review", actor=dana)
    store.set_scaffold_status(first.scaffold_id, 1, "approved", actor=lee, comment="looks right")
    print(export(store.reusable_scaffold(first.scaffold_id), "prompt"))
"""

from core.scaffolds.critique import apply_critique, draft_from_critique
from core.scaffolds.edit import Change, diff_scaffolds, reapply, side_by_side, subproblem_rows, with_rows
from core.scaffolds.extract import Compression, compression, extract_scaffold, first_level_subproblems, merge_strategy
from core.scaffolds.models import (
    Anchor,
    Provenance,
    Scaffold,
    ScaffoldConflict,
    ScaffoldError,
    ScaffoldEvent,
    ScaffoldStatus,
    ScaffoldSummary,
    ScaffoldVersion,
    SubProblem,
    check_transition,
)
from core.scaffolds.render import EXPORT_FORMATS, export, read_export, to_dot, to_prompt, to_text

__all__ = [
    "EXPORT_FORMATS", "Anchor", "Change", "Compression", "Provenance", "Scaffold", "ScaffoldConflict",
    "ScaffoldError", "ScaffoldEvent", "ScaffoldStatus", "ScaffoldSummary", "ScaffoldVersion", "SubProblem",
    "apply_critique", "check_transition", "compression", "diff_scaffolds", "draft_from_critique", "export",
    "extract_scaffold", "first_level_subproblems", "merge_strategy", "read_export", "reapply", "side_by_side",
    "subproblem_rows", "to_dot", "to_prompt", "to_text", "with_rows",
]
