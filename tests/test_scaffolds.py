"""Scaffolds drawn from traces: extraction, strategies, critique drafts, export, retrieval, and the CLI."""

import json
from datetime import datetime, timezone

import pytest

from core.auth import os_account
from core.cli import main
from core.critique.models import Annotation, CritiqueRun
from core.scaffolds import (
    ScaffoldError,
    ScaffoldStatus,
    apply_critique,
    compression,
    export,
    extract_scaffold,
    first_level_subproblems,
    merge_strategy,
    read_export,
    to_dot,
    to_prompt,
    to_text,
)
from core.scaffolds.drafts import draft_scaffold
from core.scaffolds.extract import INSTRUCTION_CHARS
from core.scaffolds.retrieval import rank_scaffolds
from core.text import shorten
from tests.support.people import DANA, LEE, approve
from tests.support.scaffold_library import approve_teacher_scaffolds, import_samples, run, sample_files, store_run

# ------------------------------------------------------------------ extraction


@pytest.fixture(scope="module")
def samples():
    from core import Store

    with Store(":memory:") as store:
        import_samples(store)
        yield store


def sample_trace_ids() -> list[str]:
    from core.importers import read_file

    return [t.trace.id for path in sample_files() for t in read_file(path)]


def test_there_are_sample_traces_to_extract_from():
    assert len(sample_trace_ids()) >= 2


@pytest.mark.parametrize("trace_id", sample_trace_ids())
def test_extraction_keeps_every_first_level_subproblem_and_drops_the_payload(samples, trace_id):
    loaded = samples.load_trace(trace_id)
    scaffold = extract_scaffold(loaded)
    first_level = first_level_subproblems(loaded)

    assert [s.source_node_id for s in scaffold.first_level()] == [n.id for n in first_level]
    assert [s.instruction for s in scaffold.first_level()] == [shorten(n.subproblem, INSTRUCTION_CHARS) for n in first_level]
    text = scaffold.model_dump_json()
    for node in loaded.nodes:  # no context passage is copied in whole
        if node.context and len(node.context) > 200:
            assert node.context[:200] not in text

    measured = compression(scaffold, loaded)
    assert measured.first_level_kept == measured.first_level_total == len(first_level)
    assert measured.of_context <= 0.05, measured.describe()  # the essay's measure: 5-15% of the context processed
    assert measured.of_trace < 0.10, measured.describe()
    print(f"{trace_id}: {measured.describe()}")


def test_a_small_trace_keeps_anchor_results_and_deeper_levels_only_within_the_budget():
    loaded = run("small", ["Review the indemnities", "Review the liability cap"])
    tight = extract_scaffold(loaded, byte_budget=0)
    roomy = extract_scaffold(loaded, byte_budget=1.0)
    assert tight.anchors == [] and len(tight.subproblems) == 2
    assert [a.result for a in roomy.anchors] == ["Findings for Review the indemnities.", "Findings for Review the liability cap."]
    assert roomy.aggregation == tight.aggregation == "merge the findings by severity"


def test_the_compression_report_reads_as_a_sentence():
    loaded = run("small", ["Review the indemnities"])
    report = compression(extract_scaffold(loaded), loaded).describe()
    assert "of the trace's" in report and "characters of context it processed" in report
    assert report.endswith("1 of 1 first-level sub-problems kept")


# -------------------------------------------------------------------- strategy


def test_a_strategy_keeps_recurring_steps_with_how_often_they_appeared():
    traces = [
        run("a", ["Review the indemnification clauses", "Check the liability cap", "Summarise termination rights"]),
        run("b", ["Review indemnification clauses for asymmetry", "Check the liability caps", "Guess the contract value"],
            role="student"),
        run("c", ["Check the liability cap and exclusions", "Review the indemnification clause",
                  "Summarise the termination rights"]),
    ]
    strategy = merge_strategy(traces)

    steps = {s.instruction: s for s in strategy.subproblems}
    assert strategy.kind == "strategy" and strategy.provenance.source_traces == ["a", "c", "b"]  # teachers first
    assert steps["Review the indemnification clauses"].seen_in == 3
    assert steps["Check the liability cap"].seen_in == 3
    assert steps["Summarise termination rights"].seen_in == 2 and not steps["Summarise termination rights"].optional
    assert steps["Guess the contract value"].seen_in == 1 and steps["Guess the contract value"].optional
    assert strategy.provenance.teacher_models == ["teacher-model"]
    assert "optional · seen in 1 of 3 traces" in to_text(strategy)


def test_a_strategy_is_merged_from_one_task_class_at_a_time():
    with pytest.raises(ScaffoldError, match="different task classes"):
        merge_strategy([run("a", ["x step"]), run("b", ["x step"], task_class="multi-doc-qa")])
    with pytest.raises(ScaffoldError, match="at least two traces"):
        merge_strategy([run("a", ["x step"])])


def test_a_strategy_from_each_sample_pair_keeps_every_teacher_step(samples):
    by_class = {}
    for summary in samples.list_traces():
        by_class.setdefault(summary.task_class, []).append(samples.load_trace(summary.id))
    for task_class, traces in by_class.items():
        if len(traces) < 2:
            continue
        strategy = merge_strategy(traces)
        teacher = next(t for t in traces if t.trace.role == "teacher")
        teacher_steps = {shorten(n.subproblem, INSTRUCTION_CHARS) for n in first_level_subproblems(teacher)}
        assert teacher_steps <= {s.instruction for s in strategy.subproblems}, task_class
        assert all(s.seen_in for s in strategy.subproblems)
        if task_class == "legal-contract-review":  # the student's terse "Flag one-sided clauses" is the same step
            flagging = next(s for s in strategy.subproblems if s.instruction.startswith("Flag clauses that allocate"))
            assert flagging.seen_in == 2 and not flagging.optional
            assert not any(s.instruction == "Flag one-sided clauses" for s in strategy.subproblems)


# -------------------------------------------------------------------- critique


def test_accepted_critique_becomes_edits_of_the_scaffold_the_student_should_have_had():
    student = run("student", ["Review the indemnities", "Guess the contract value", "Review the liability cap"])
    parent_of = {n.id: n.parent_id for n in student.nodes}
    annotations = [
        {"category": "missing_subproblem", "node_id": "student-root", "suggested_fix": "Add a sub-problem",
         "suggested_subproblems": ["Trace obligation chains across sections"], "status": "accepted"},
        {"category": "redundant_subproblem", "node_id": "student-1", "suggested_fix": "Drop it", "status": "edited"},
        {"category": "too_shallow", "node_id": "student-0", "suggested_fix": "Recurse here",
         "suggested_subproblems": ["List the indemnities of each party", "Compare their scope"]},
        {"category": "aggregation_loss", "node_id": "student-agg", "suggested_fix": "Carry the cap figures into the summary"},
        {"category": "context_loss", "node_id": "student-2", "suggested_fix": "Carry the definition of Losses"},
        {"category": "too_deep", "node_id": "student-0", "suggested_fix": "ignored: rejected", "status": "rejected"},
    ]
    scaffold, edits = apply_critique(extract_scaffold(student), annotations, parent_of)

    outline = [(number, sub.instruction) for number, sub in scaffold.outline()]
    assert outline == [
        ("1", "Review the indemnities"),
        ("1.1", "List the indemnities of each party"),
        ("1.2", "Compare their scope"),
        ("2", "Review the liability cap"),
        ("3", "Trace obligation chains across sections"),
    ]
    assert scaffold.aggregation.endswith("; Carry the cap figures into the summary")
    assert scaffold.subproblems[3].context.endswith("Carry the definition of Losses")
    assert scaffold.provenance.method == "critique"
    assert len(edits) == 5 and edits[1].startswith("removed sub-problem s2")


def test_a_draft_from_critique_reads_the_traces_accepted_annotations(store):
    store_run(store, run("st", ["Review the indemnities", "Guess the contract value"], role="student"))
    now = datetime.now(timezone.utc)
    store.add_critique(
        CritiqueRun(id="r1", trace_id="st", reference_id=None, teacher="trellis/structural", started_at=now,
                    duration_s=0.1, finding_count=2),
        [Annotation(id="a1", trace_id="st", run_id="r1", node_id="st-1", category="redundant_subproblem",
                    severity="low", rationale="not needed", suggested_fix="Drop it", author="critic", created_at=now),
         Annotation(id="a2", trace_id="st", run_id="r1", node_id="st-root", category="missing_subproblem",
                    severity="high", rationale="missing", suggested_subproblems=["Check the liability cap"],
                    author="critic", created_at=now)],
        DANA,
    )
    with pytest.raises(ScaffoldError, match="no accepted annotations"):
        draft_scaffold(store, ["st"], author=DANA, from_critique=True)

    store.review_annotation("a2", "accepted", DANA, {})
    draft = draft_scaffold(store, ["st"], author=DANA, from_critique=True)
    assert [s.instruction for s in draft.version.content.subproblems] == [
        "Review the indemnities", "Guess the contract value", "Check the liability cap"]
    assert draft.version.content.provenance.annotations == ["a2"]
    assert draft.version.status == ScaffoldStatus.DRAFT


# ---------------------------------------------------------------------- export


def approved_version(store, scaffold):
    first = store.save_scaffold(None, scaffold, author=DANA, comment="extracted")
    return approve(store, first.scaffold_id, 1, comment="ready for the 8B student")


def test_export_round_trips_through_json_and_yaml(store):
    version = approved_version(store, extract_scaffold(run("t", ["Review the indemnities", "Check the cap"]), byte_budget=1))
    for fmt in ("json", "yaml"):
        metadata, scaffold = read_export(export(version, fmt))
        assert scaffold == version.content
        assert metadata["scaffold_id"] == version.scaffold_id and metadata["scaffold_version"] == 1
        assert metadata["approved_by"] == LEE.name and metadata["status"] == "approved"


def test_the_prompt_block_hands_the_structure_and_examples_to_a_student(store):
    version = approved_version(store, extract_scaffold(run("t", ["Review the indemnities", "Check the cap"]), byte_budget=1))
    prompt = to_prompt(version, task="Review the Acme supply agreement")
    assert prompt.startswith(f"=== SCAFFOLD {version.scaffold_id} v1")
    assert "Your task:\nReview the Acme supply agreement" in prompt
    assert "1. Review the indemnities" in prompt and "2. Check the cap" in prompt
    assert "Worked example from an earlier run: Findings for Review the indemnities." in prompt
    assert "Then combine the results: merge the findings by severity" in prompt
    assert export(version, "prompt") == to_prompt(version)


def test_an_unapproved_version_is_never_exported(store):
    draft = store.save_scaffold(None, extract_scaffold(run("t", ["Review"])), author=DANA)
    for fmt in ("json", "yaml", "prompt"):
        with pytest.raises(ScaffoldError, match="only approved versions"):
            export(draft, fmt)


def test_the_tree_escapes_text_from_the_trace():
    scaffold = extract_scaffold(run("t", ['Quote " and backslash \\ and <b>html</b>']))
    dot = to_dot(scaffold)
    assert '\\" and backslash \\\\' in dot and dot.count("digraph") == 1


# ------------------------------------------------------------------- retrieval

NEW_TASKS = {
    "legal-contract-review": "Assess the indemnities, liability caps and termination rights of a supplier agreement "
                             "before signature, citing the clauses.",
    "multi-doc-qa": "Several earnings call transcripts: how did each company's revenue guidance change, and why?",
    "codebase-bug-triage": "A unit test started failing in CI after a commit; find the root cause in the code "
                           "and propose a minimal fix with a regression test.",
    "long-log-incident-analysis": "Checkout requests failed for an hour last night; read the service logs, build a "
                                  "timeline and find the root cause of the outage.",
}


def test_retrieval_ranks_the_right_class_first_on_the_sample_library(samples):
    approved = approve_teacher_scaffolds(samples)
    assert len(approved) >= 2
    for task_class, task in NEW_TASKS.items():
        if task_class not in approved:
            continue
        fits = rank_scaffolds(samples, task)
        assert fits[0].task_class == task_class, [(f.task_class, f.score, f.why) for f in fits]
        assert fits[0].scaffold_id == approved[task_class]
        assert "words in common" in fits[0].why
    for summary in samples.list_traces():  # each student's own task finds its class's scaffold
        if summary.role == "student" and summary.task_class in approved:
            task = samples.get_trace(summary.id).task
            assert rank_scaffolds(samples, task)[0].task_class == summary.task_class


def test_retrieval_offers_only_approved_versions_and_says_why(store):
    approved = approved_version(store, extract_scaffold(run("t", ["Review the indemnification clauses"])))
    store.save_scaffold(None, extract_scaffold(run("d", ["Review the indemnification clauses"])), author=DANA)
    store.save_scaffold(approved.scaffold_id, approved.content.model_copy(update={"title": "edited"}), author=DANA, based_on=1)

    fits = rank_scaffolds(store, "check the indemnification clauses of a contract review")
    assert [(f.scaffold_id, f.version) for f in fits] == [(approved.scaffold_id, 1)]
    assert "names its class contract-review" in fits[0].why
    assert fits[0].why.count("indemnification") == 1
    asked = rank_scaffolds(store, "anything at all", task_class="contract-review")
    assert asked[0].reasons[0] == "task class contract-review, as asked"


# ------------------------------------------------------------------------- CLI


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_extracts_approves_exports_and_finds(tmp_path, capsys):
    db = str(tmp_path / "t.duckdb")
    assert main(["import", *map(str, sample_files()), "--db", db]) == 0
    capsys.readouterr()
    teacher = next(t for t in sample_trace_ids() if "teacher" in t)

    code, out, err = cli(capsys, "scaffold", "extract", teacher, "--db", db)
    assert code == 0 and "first-level sub-problems kept" in err
    scaffold_id = out.split("\t")[0]
    assert out.strip().endswith("version 1\tdraft")

    code, out, err = cli(capsys, "scaffold", "export", scaffold_id, "--db", db)
    assert code == 1 and out == ""
    assert err == f"error: scaffold {scaffold_id!r} has no approved version; a reviewer has to approve one first\n"
    code, _, err = cli(capsys, "scaffold", "find", "review a contract", "--json", "--db", db)
    assert code == 0

    code, _, err = cli(capsys, "scaffold", "approve", scaffold_id, "--version", "1", "--db", db)
    assert code == 1 and err == f"error: {scaffold_id} v1 is draft; it can move to in_review, rejected, not approved\n"
    code, out, _ = cli(capsys, "scaffold", "submit", scaffold_id, "--version", "1", "--db", db)
    assert code == 0 and out == f"{scaffold_id} v1 is in_review ({os_account()})\n"
    code, out, _ = cli(capsys, "scaffold", "approve", scaffold_id, "--version", "1", "--comment", "ok", "--db", db)
    assert code == 0 and out == f"{scaffold_id} v1 is approved ({os_account()})\n"

    code, out, _ = cli(capsys, "scaffold", "list", "--status", "approved", "--json", "--db", db)
    assert [(r["scaffold_id"], r["approved_version"]) for r in json.loads(out)] == [(scaffold_id, 1)]
    code, out, _ = cli(capsys, "scaffold", "show", scaffold_id, "--json", "--db", db)
    assert json.loads(out)["status"] == "approved"
    code, out, _ = cli(capsys, "scaffold", "export", scaffold_id, "--format", "yaml", "--db", db)
    assert read_export(out)[0]["approved_by"] == os_account()
    code, out, _ = cli(capsys, "scaffold", "export", scaffold_id, "--format", "prompt", "--db", db)
    assert out.startswith(f"=== SCAFFOLD {scaffold_id} v1")
    code, out, _ = cli(capsys, "scaffold", "find", "review the risk in a services agreement", "--json", "--db", db)
    assert json.loads(out)[0]["scaffold_id"] == scaffold_id

    code, _, err = cli(capsys, "scaffold", "show", "nope", "--db", db)
    assert code == 1 and err.startswith("error: no scaffold 'nope'")
