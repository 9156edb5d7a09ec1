"""Capability gaps and the version history line, from real plan runs stored through run_batch: a small student
that cannot do one step of a scaffold, and a large one that can (docs/metrics.md, "Capability gaps")."""

import json
import os
import re
from datetime import datetime, timezone
from unittest import mock

import pytest
from streamlit.testing.v1 import AppTest

from core import Store
from core.auth import local_actor
from core.cli import main
from core.experiments import gaps
from core.experiments.figures import version_history_figure
from core.experiments.history import VersionPoint, version_history
from core.experiments.metrics import Estimate
from core.model_catalog import ModelEntry
from core.runs.batch import BatchSettings, run_batch
from core.runs.models import RunRecord
from core.scaffolds import Scaffold, ScaffoldStatus
from core.scaffolds.models import SubProblem
from core.tasks.load import load_task_file
from pages import PAGES
from tests.conftest import ROOT
from tests.support.people import ADA, DANA, LEE, approve
from tests.support.run_setup import STEP_FINDING, keeping_every_step

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
import litellm  # noqa: E402

METRICS = ROOT / "docs" / "metrics.md"
SCAFFOLD = Scaffold(
    title="Liability review", task_class="legal-contract-review", aggregation="Give the cap as a number.",
    subproblems=[
        SubProblem(id="s1", instruction="List every limitation of liability", output_shape="short prose, ~10 words"),
        SubProblem(id="s2", instruction="State the cap as a percentage of the annual fees",
                   output_shape="short prose, ~10 words"),
        SubProblem(id="s3", instruction="Quote the carve-outs from the cap", output_shape="short prose, ~10 words"),
    ],
)
SMALL = ModelEntry(name="small", model="openai/small", api_base="http://127.0.0.1:9/v1")
LARGE = ModelEntry(name="large", model="openai/large", api_base="http://127.0.0.1:9/v1")
SPLIT_S1_SKIP_S3 = json.dumps({"steps": [{"from_step": 1, "instruction": "Read clauses 1-10"},
                                         {"from_step": 1, "instruction": "Read clauses 11-20"},
                                         {"from_step": 2, "instruction": ""}]})
ONE_WORD = "returned 1 word where the step asks for ~10"
WARNING = (f"v1 step s2 (State the cap as a percentage of the annual fees) fails for small: 2 of 3 runs (67%), "
           f"e.g. '{ONE_WORD}' (run-gaps-small-t2-1)")


def task_file(folder):
    path = folder / "caps.jsonl"
    lines = [{"format": "trellis-tasks", "version": 1, "title": "liability caps"}]
    for task in ("t1", "t2", "t3", "t4"):
        lines.append({
            "id": task, "task_class": "legal-contract-review",
            "instruction": f"Contract {task}: what is the liability cap, as a percentage of the annual fees?",
            "context": {"text": "12.3 The Supplier's total liability is capped at 150% of the annual fees."},
            "expected": 150, "checker": {"kind": "number"},
            "budget": {"max_calls": 10, "max_tokens": 50_000, "max_seconds": 120},
        })
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return load_task_file(path)


def small_answer(prompt: str) -> str:
    """The small student: on t1 it splits s1 (one part finds nothing) and skips s3; on t2 and t3 it answers s2 with
    one word and falls back to a wrong answer; on t4 its call for s2 times out and it falls back to the right one."""
    task = re.search(r"Contract (t\d)", prompt).group(1)
    if "Adapt this plan" in prompt:
        return SPLIT_S1_SKIP_S3 if task == "t1" else keeping_every_step(prompt)
    if "Your step (" in prompt:
        step = prompt.split("Your step (")[1].split("\n")[0]
        if "Read clauses 1-10" in step:
            return "none"
        if "State the cap" in step and task in ("t2", "t3"):
            return "150"
        if "State the cap" in step and task == "t4":
            raise litellm.Timeout(message="timed out", model="openai/small", llm_provider="openai")
        return STEP_FINDING
    if "How to combine" in prompt:
        return "150"
    return "100" if task in ("t2", "t3") else "150"  # falling back: the student answers on its own


def large_answer(prompt: str) -> str:
    if "Adapt this plan" in prompt:
        return keeping_every_step(prompt)
    return STEP_FINDING if "Your step (" in prompt else "150"


def answering(answer):
    def completion(messages, **kwargs):
        reply = answer(messages[-1]["content"])
        return litellm.completion(model=kwargs["model"], messages=messages, mock_response=reply)
    return completion


def build(store: Store, folder) -> str:
    """The worked example of docs/metrics.md: the scaffold approved (v1), 4 runs by small, 2 by large, then a v2
    draft no run followed. Returns the scaffold id."""
    scaffold_id = store.save_scaffold(None, SCAFFOLD, author=DANA).scaffold_id
    approve(store, scaffold_id, 1)
    tasks = task_file(folder)
    for student, answer, limit in ((SMALL, small_answer, None), (LARGE, large_answer, 2)):
        run_batch(store, [tasks], student, BatchSettings(student=student.name, scaffold=scaffold_id,
                                                         batch_id=f"gaps-{student.name}", limit=limit),
                  actor=local_actor(), completion=answering(answer))
    store.save_scaffold(scaffold_id, SCAFFOLD.model_copy(update={"title": "Liability review, shorter s2"}),
                        author=DANA, based_on=1)
    return scaffold_id


@pytest.fixture
def example(tmp_path):
    with Store(":memory:") as store:
        yield store, build(store, tmp_path)


@pytest.fixture
def example_db(tmp_path):
    path = tmp_path / "trellis.duckdb"
    with Store(path) as store:
        scaffold_id = build(store, tmp_path)
    with mock.patch.dict(os.environ, {"TRELLIS_STORE": str(path)}):
        yield str(path), scaffold_id


def example_gaps(store: Store, scaffold_id: str) -> list[gaps.StepGap]:
    return gaps.step_gaps(store.scaffold_step_runs(scaffold_id), store.scaffold_step_calls(scaffold_id),
                          store.scaffold_history(scaffold_id))


def counts(gap: gaps.StepGap) -> tuple:
    return (gap.student, gap.step, gap.runs, gap.attempted, gap.succeeded, gap.failed, gap.skipped, gap.unanswered,
            gap.not_reached)


# ------------------------------------------------------------------ counting


def test_the_runs_are_what_the_example_says(example):
    store, scaffold_id = example
    runs = {r.id: r for r in store.list_runs(scaffold_id=scaffold_id)}
    assert {i: (r.score, r.fell_back) for i, r in runs.items()} == {
        "run-gaps-small-t1-1": (1.0, False), "run-gaps-small-t2-1": (0.0, True), "run-gaps-small-t3-1": (0.0, True),
        "run-gaps-small-t4-1": (1.0, True), "run-gaps-large-t1-1": (1.0, False), "run-gaps-large-t2-1": (1.0, False)}
    assert runs["run-gaps-small-t2-1"].fallback_reason.endswith(ONE_WORD)


def test_the_store_returns_each_step_call_with_its_problem_or_error(example):
    store, scaffold_id = example
    calls = [c for c in store.scaffold_step_calls(scaffold_id) if c.student == "small"]
    assert [(c.run_id[-4:], c.scaffold_step, c.node_id, c.status, c.problem) for c in calls] == [
        ("t1-1", "s1", "step-1.1", "ok", "returned nothing usable"),  # a part of the split s1; its parent is no call
        ("t1-1", "s1", "step-1.2", "ok", None),
        ("t1-1", "s2", "step-2", "ok", None),
        ("t2-1", "s1", "step-1", "ok", None), ("t2-1", "s2", "step-2", "ok", ONE_WORD),
        ("t3-1", "s1", "step-1", "ok", None), ("t3-1", "s2", "step-2", "ok", ONE_WORD),
        ("t4-1", "s1", "step-1", "ok", None), ("t4-1", "s2", "step-2", "error", None),
    ]
    assert calls[-1].error == "student openai/small timed out after 120 s" and calls[-1].unanswered
    assert not any(c.unanswered for c in calls[:-1])
    assert calls[1].output == STEP_FINDING and calls[0].run_score == 1.0
    runs = store.scaffold_step_runs(scaffold_id)
    assert [(r.run_id, r.skipped) for r in runs][:2] == [("run-gaps-small-t1-1", ("s3",)), ("run-gaps-small-t2-1", ())]
    assert store.scaffold_step_runs(scaffold_id, 2) == [] and store.scaffold_step_calls(scaffold_id, 2) == []


def test_a_step_the_small_student_fails_is_flagged_with_counts_scores_and_examples(example):
    store, scaffold_id = example
    found = example_gaps(store, scaffold_id)
    assert [counts(g) for g in found] == [
        # student, step, runs, attempted, succeeded, failed, skipped, no answer, not reached
        ("large", "s1", 2, 2, 2, 0, 0, 0, 0), ("large", "s2", 2, 2, 2, 0, 0, 0, 0), ("large", "s3", 2, 2, 2, 0, 0, 0, 0),
        ("small", "s1", 4, 4, 4, 0, 0, 0, 0),  # t1's split s1 succeeded: one of its parts was usable
        ("small", "s2", 4, 3, 1, 2, 0, 1, 0),  # t4's call timed out: no answer, so neither a success nor a failure
        ("small", "s3", 4, 0, 0, 0, 1, 0, 3),  # t1 skipped it; t2-t4 fell back at s2 and never reached it
    ]
    s1, s2, s3 = found[3:]
    assert (s1.success_rate, s1.score_succeeded, s1.score_failed) == (1.0, 0.5, None)
    assert (s2.success_rate, s2.score_succeeded, s2.score_failed) == (pytest.approx(1 / 3), 1.0, 0.0)
    assert (s3.success_rate, s3.flagged) == (None, False)
    assert [g.step for g in gaps.flagged(found)] == ["s2"] and {g.scaffold_version for g in found} == {1}
    assert [(f.run_id, f.why) for f in s2.examples] == [("run-gaps-small-t2-1", ONE_WORD),
                                                        ("run-gaps-small-t3-1", ONE_WORD)]
    assert s2.examples[0].output == "150"
    assert gaps.warnings(found) == [WARNING]


def test_a_step_is_flagged_only_after_enough_runs_reached_it():
    def gap(attempted, succeeded):
        return gaps.StepGap(1, "s1", "List", "small", attempted, attempted, succeeded, 0, 0, None, None, ())

    assert not gap(1, 0).flagged  # under MIN_ATTEMPTS: an accident, not a gap
    assert gap(2, 0).flagged and gap(4, 1).flagged
    assert not gap(4, 2).flagged  # exactly half: not under FLAG_BELOW
    assert not gap(0, 0).flagged


def doc_row(gap: gaps.StepGap) -> str:
    """A row of the worked example's table in docs/metrics.md."""
    def score(value):
        return "—" if value is None else f"{value:.2f}"

    rate = "—" if gap.success_rate is None else f"{gap.success_rate:.0%}"
    return (f"| {gap.student} | v{gap.scaffold_version} {gap.step} | {gap.runs} | {gap.attempted} | {gap.succeeded} | "
            f"{gap.failed} | {gap.skipped} | {gap.unanswered} | {gap.not_reached} | {rate} | {score(gap.score_succeeded)} | "
            f"{score(gap.score_failed)} | {'**yes**' if gap.flagged else 'no'} |")


def test_the_worked_example_in_docs_metrics_is_what_the_code_computes(example):
    store, scaffold_id = example
    doc = METRICS.read_text()
    section = doc[doc.index("## Capability gaps"):]
    for gap in example_gaps(store, scaffold_id):
        assert doc_row(gap) in section
    assert WARNING in section
    assert f"`MIN_ATTEMPTS` = {gaps.MIN_ATTEMPTS}" in section and f"`FLAG_BELOW` = {gaps.FLAG_BELOW}" in section
    assert doc.startswith("# Experiment metrics") and "## Worked example" in doc  # what was there stays


# ---------------------------------------------------------------- the CLI


def test_scaffold_show_prints_the_warning_after_the_scaffold_and_in_its_json(capsys, example_db):
    db, scaffold_id = example_db
    assert main(["scaffold", "show", scaffold_id, "--db", db]) == 0
    out = capsys.readouterr().out
    assert out.index("1. List every limitation of liability") < out.index("capability gaps")
    assert "capability gaps, from 6 student runs of any version: 1 flagged" in out
    assert f"warning: {WARNING}" in out.splitlines()
    assert main(["scaffold", "show", scaffold_id, "--version", "1", "--json", "--db", db]) == 0
    shown = json.loads(capsys.readouterr().out)
    [gap] = shown["capability_gaps"]
    assert (shown["version"], gap["step"], gap["student"], gap["attempted"], gap["failed"]) == (1, "s2", "small", 3, 2)
    assert gap["warning"] == WARNING and gap["unanswered"] == 1 and len(gap["examples"]) == 2


# ---------------------------------------------------------- version history


def record(run_id, version, task, score, tokens, status="ok", scaffold_id="sc"):
    return RunRecord(id=run_id, batch_id="b", task_id=task, task_file="f", task_class="c", student="small",
                     scaffold_choice=f"{scaffold_id}@{version}", scaffold_id=scaffold_id, scaffold_version=version,
                     status=status, score=score, tokens_in=tokens - 100, tokens_out=100,
                     started_at=datetime(2025, 1, 1, tzinfo=timezone.utc))


def test_the_history_has_a_point_per_version_with_its_approver_score_and_tokens(store):
    scaffold_id = store.save_scaffold(None, SCAFFOLD, author=DANA).scaffold_id
    approve(store, scaffold_id, 1)
    store.save_scaffold(scaffold_id, SCAFFOLD.model_copy(update={"title": "v2"}), author=DANA, based_on=1)
    approve(store, scaffold_id, 2)
    store.set_scaffold_status(scaffold_id, 1, ScaffoldStatus.DEPRECATED, actor=ADA)
    store.save_scaffold(scaffold_id, SCAFFOLD.model_copy(update={"title": "v3"}), author=DANA, based_on=2)
    runs = [
        record("a", 1, "t1", 0.5, 1000, scaffold_id=scaffold_id),
        record("b", 1, "t1", 0.7, 1200, scaffold_id=scaffold_id),
        record("c", 1, "t2", 1.0, 800, scaffold_id=scaffold_id),
        record("d", 1, "t3", None, 9000, status="failed", scaffold_id=scaffold_id),  # not finished: left out
        record("e", 2, "t1", 1.0, 600, scaffold_id=scaffold_id),
        record("f", 2, "t1", 0.0, 5000, scaffold_id="another"),  # another scaffold's version 2
    ]
    points = version_history(store.scaffold_history(scaffold_id), store.scaffold_events(scaffold_id), runs)
    assert [(p.version, p.status, p.approved_by, p.runs) for p in points] == [
        (1, "deprecated", LEE.name, 3),  # approved by Lee, deprecated by Ada since: still Lee's approval
        (2, "approved", LEE.name, 1), (3, "draft", None, 0)]
    v1, v2, v3 = points
    # Over tasks: t1's two runs make one task, (0.6 + 1.0) / 2 and (1100 + 800) / 2.
    assert (v1.score.value, v1.score.tasks, v1.tokens.value) == (pytest.approx(0.8), 2, pytest.approx(950))
    assert v1.score.ci is not None and v2.score.ci is None  # one task: no interval
    assert (v2.score.value, v2.tokens.value) == (1.0, 600)
    assert (v3.score.value, v3.tokens.value, v3.score.tasks) == (None, None, 0)
    figure = version_history_figure(points)
    assert [t.name for t in figure.data] == ["mean score", "mean tokens"]
    assert list(figure.data[0].x) == ["v1", "v2", "v3"]
    assert list(figure.data[0].y) == [pytest.approx(0.8), 1.0, None] and figure.data[1].yaxis == "y2"
    assert "approved by lee@example.com" in figure.data[0].hovertext[0] and "3 runs" in figure.data[0].hovertext[0]


def test_the_history_hover_takes_an_approver_name_literally():
    nothing = Estimate(None, None, None, 0)
    figure = version_history_figure([VersionPoint(1, "approved", "<a href='x'>eve</a>", 0, nothing, nothing)])
    assert "approved by &lt;a href=&#x27;x&#x27;&gt;eve&lt;/a&gt;" in figure.data[0].hovertext[0]


# ------------------------------------------------------------------ the page


def test_the_scaffold_page_warns_of_the_gap_near_the_review_controls_and_draws_the_history(example_db):
    _, scaffold_id = example_db
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update(scaffold=scaffold_id)
    at.switch_page(str(PAGES["scaffolds"].file))
    at.run()
    assert not at.exception
    assert WARNING in [w.value.replace("\\", "").replace("\u200b", "") for w in at.warning]
    rates = next(t.value for t in at.dataframe if "success rate" in t.value.columns)
    assert list(rates["step"]) == ["s1", "s2", "s3", "s1", "s2", "s3"]
    assert list(rates["flagged"]) == [False, False, False, False, True, False]
    history = next(t.value for t in at.dataframe if "approved by" in t.value.columns)
    assert list(history["version"]) == [1, 2] and list(history["runs"]) == [6, 0]
    assert at.get("plotly_chart")
