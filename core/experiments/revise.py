"""Closing the loop: the accepted critique of an experiment's runs of a scaffold, saved as its next version.

A person critiques the runs that followed a scaffold version (`trellis critique RUN_ID`, or the Critique page),
accepts what holds, and asks for a revision here. The revision is the version those runs followed with each
accepted point applied once (core.scaffolds.critique.revise_from_runs), saved as a new draft: like every draft it
is approved by a person before any student follows it, and the next experiment shows, on the scaffold's version
history line, whether it did better.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.auth import Action, Actor
from core.scaffolds.critique import USABLE_REVIEW_STATUSES, revise_from_runs
from core.scaffolds.models import ScaffoldConflict, ScaffoldError, ScaffoldVersion
from core.store import Store


@dataclass(frozen=True)
class Revision:
    version: ScaffoldVersion  # the new draft; its based_on is the version the runs followed
    runs: int  # runs of that version in the experiment
    critiqued: int  # ... of which had accepted critique
    edits: list[str]  # what the critique changed, a line each


def revise_from_experiment(store: Store, scaffold_id: str, experiment_id: str, *, author: Actor,
                           version: int | None = None) -> Revision:
    """Save the next version of ``scaffold_id``: the ``version`` the experiment's runs followed (the only one they
    followed, when not given), with the accepted critique of those runs applied."""
    author.require(Action.EDIT)
    experiment = store.get_experiment(experiment_id)
    followed = [r for r in store.list_runs(experiment_id=experiment.id, scaffold_id=scaffold_id)
                if version is None or r.scaffold_version == version]
    versions = sorted({r.scaffold_version for r in followed if r.scaffold_version is not None})
    if not versions:
        which = f"{scaffold_id}@{version}" if version else scaffold_id
        raise ScaffoldError(f"no run of experiment {experiment.id} followed scaffold {which}")
    if len(versions) > 1:
        listed = ", ".join(f"v{v}" for v in versions)
        raise ScaffoldError(f"the runs of experiment {experiment.id} followed {listed} of {scaffold_id}; "
                            "say which to revise with --version")
    base = store.get_scaffold(scaffold_id, versions[0])
    critiqued = []
    for run in followed:
        accepted = [a for a in store.list_annotations(run.id) if a.status in USABLE_REVIEW_STATUSES]
        if accepted:
            critiqued.append((store.load_trace(run.id), accepted))
    if not critiqued:
        raise ScaffoldError(
            f"none of the {len(followed)} runs of {base.label} in experiment {experiment.id} has accepted critique: "
            f"critique them (`trellis critique RUN_ID`) and accept what holds first")
    revised, edits = revise_from_runs(base.content, critiqued)
    if not edits:
        raise ScaffoldError(f"the accepted critique of {len(critiqued)} runs changes nothing in {base.label}")
    try:
        saved = store.save_scaffold(
            scaffold_id, revised, author=author,
            comment=f"v{base.version} revised from the accepted critique of {len(critiqued)} of its {len(followed)} "
                    f"runs in experiment {experiment.id}: {len(edits)} edits",
            based_on=base.version)
    except ScaffoldConflict as exc:  # a revision of v1 beside a v2 made since would hide one of them from review
        raise ScaffoldError(f"{scaffold_id} has v{exc.latest.version}, saved after the runs of {base.label}: review "
                            f"it, or run an experiment on it and revise that") from None
    return Revision(saved, len(followed), len(critiqued), edits)
