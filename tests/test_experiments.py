"""Transfer experiments, as a user runs them: arms on the same tasks with the same seeds, interleaved, stored as they
go, resumed after a stop, and reported with intervals and a verdict; against litellm's mock_response."""

import csv
import io
import json

import pytest

from core import Store, import_files
from core.auth import local_actor
from core.critique import review
from core.critique.teacher import run_critique
from core.errors import TrellisError
from core.experiments.models import parse_arm
from core.experiments.report import experiment_report, rows_csv, rows_json
from core.experiments.run import define_experiment, run_experiment
from core.model_catalog import ModelEntry
from core.tasks.load import load_task_files
from tests.support.people import DANA, approve
from tests.support.run_setup import STEP_FINDING, TASK_ANSWER, answering, write_tasks
from tests.support.scaffold_library import approve_teacher_scaffolds, sample_files

STUDENT = ModelEntry(name="mock-student", model="openai/mock-student", api_base="http://127.0.0.1:9/v1")


@pytest.fixture
def library(tmp_path):
    with Store(":memory:") as store:
        import_files(store, sample_files())
        approved = approve_teacher_scaffolds(store)
        yield store, approved["legal-contract-review"], load_task_files([write_tasks(tmp_path / "tasks", count=3)])


def correct_everywhere(prompt: str) -> str:
    return STEP_FINDING if "Your step (" in prompt else TASK_ANSWER


def test_every_arm_runs_every_task_with_the_same_seeds_in_a_rotated_order(library):
    store, legal, tasks = library
    experiment = define_experiment(store, tasks, "mock-student", ["none", f"scaffold:{legal}"], actor=local_actor(),
                                   repeats=2, seed=7)
    assert experiment.arms == ["none", f"scaffold:{legal}@1"]  # resolved: a resume runs the version it started with
    result = run_experiment(store, experiment, tasks, STUDENT, actor=local_actor(),
                            completion=answering(correct_everywhere))

    assert (len(result.runs), result.planned, result.stopped) == (12, 12, False)
    runs = store.list_runs(experiment_id=experiment.id)
    assert {(r.arm, r.task_id, r.repeat, r.seed) for r in runs} == {
        (arm, f"cap-{t}", repeat, 7 + repeat - 1) for arm in experiment.arms for t in (1, 2, 3) for repeat in (1, 2)}
    first_of_each_pair = [r.arm for r in runs[::2]]
    assert first_of_each_pair == ["none", f"scaffold:{legal}@1"] * 3  # no arm always goes first
    assert all(r.scaffold_version == 1 for r in runs if r.arm != "none")


def test_the_report_gives_each_arm_with_intervals_and_a_verdict_against_the_baseline(library):
    store, legal, tasks = library

    def scaffold_confuses_the_student(prompt: str) -> str:
        return STEP_FINDING if "Your step (" in prompt else "75" if "How to combine" in prompt else TASK_ANSWER

    experiment = define_experiment(store, tasks, "mock-student", ["none", f"scaffold:{legal}"], actor=local_actor())
    run_experiment(store, experiment, tasks, STUDENT, actor=local_actor(),
                   completion=answering(scaffold_confuses_the_student))
    report = experiment_report(experiment, store.list_runs(experiment_id=experiment.id))

    baseline, scaffold = report.arms
    assert (baseline.summary.score.value, scaffold.summary.score.value) == (1.0, 0.0)
    assert scaffold.difference.hurt == 3 and scaffold.difference.tasks == 3
    assert scaffold.verdict.startswith(f"scaffold {legal}@1 lowered the score by 1.00 [1.00, 1.00] and raised tokens")
    assert "on 3 legal-contract-review tasks; it helped on no task and hurt on 3 tasks." in scaffold.verdict
    assert scaffold.fallbacks.rate == 0.0 and scaffold.adherence.value == 1.0 and scaffold.coverage.value == 1.0
    assert baseline.difference is None and baseline.verdict is None


def test_an_experiment_stopped_midway_resumes_where_it_stopped(library):
    store, legal, tasks = library
    arms = ["none", f"scaffold:{legal}"]
    experiment = define_experiment(store, tasks, "mock-student", arms, actor=local_actor())
    made = []
    first = run_experiment(store, experiment, tasks, STUDENT, actor=local_actor(), stop=lambda: len(made) >= 3,
                           progress=lambda line: made.append(line) if line.endswith("score 1.00") else None,
                           completion=answering(correct_everywhere))
    assert (len(first.runs), first.stopped) == (3, True)

    again = define_experiment(store, tasks, "mock-student", arms, actor=local_actor())  # the same command, later
    assert again.id == experiment.id
    second = run_experiment(store, again, tasks, STUDENT, actor=local_actor(), completion=answering(correct_everywhere))
    assert (len(second.runs), second.skipped, second.planned) == (3, 3, 6)
    assert len(store.list_runs(experiment_id=experiment.id)) == 6


def test_an_experiment_resumed_after_a_newer_approval_runs_the_version_it_started_with(library):
    store, legal, tasks = library
    experiment = define_experiment(store, tasks, "mock-student", ["none", f"scaffold:{legal}"], actor=local_actor())
    newer = store.save_scaffold(legal, store.get_scaffold(legal, 1).content, author=DANA, comment="v2", based_on=1)
    approve(store, legal, newer.version)
    again = define_experiment(store, tasks, "mock-student", ["none", f"scaffold:{legal}"], actor=local_actor())
    assert again.arms == experiment.arms == ["none", f"scaffold:{legal}@1"]


def test_a_critique_arm_gives_the_student_only_the_points_a_person_accepted(library):
    store, _, tasks = library
    student = next(t.id for t in store.list_traces() if t.role == "student")
    with pytest.raises(TrellisError, match="has no accepted critique; review it first"):
        define_experiment(store, tasks, "mock-student", ["none", f"critique:{student}"], actor=local_actor())

    accepted, rejected, *_ = run_critique(store, student).annotations  # the structural critic, against its teacher
    review.accept(store, accepted.id, DANA)
    review.reject(store, rejected.id, DANA)
    experiment = define_experiment(store, tasks, "mock-student", ["none", f"critique:{student}"], actor=local_actor())
    completion = answering(correct_everywhere)
    run_experiment(store, experiment, tasks, STUDENT, actor=local_actor(), completion=completion)

    advised = [p for p in completion.prompts if "Advice from a reviewed critique" in p]
    assert len(advised) == 3  # the critique arm's three tasks, not the baseline's
    assert all(accepted.rationale[:80] in p and rejected.rationale[:80] not in p for p in advised)


def test_arms_that_cannot_run_are_refused_in_one_line_before_anything_is_stored(library):
    store, legal, tasks = library
    for arms, message in [
        (["none"], "at least two arms"),
        (["none", "none"], "an arm is named twice"),
        (["none", "scaffold:"], "an arm is none, scaffold:ID"),
        (["none", f"scaffold:{legal}@two"], "a version is a whole number"),
        (["none", "scaffold:no-such-scaffold"], "no-such-scaffold"),
        (["none", f"strategy:{legal}"], f"{legal} is a scaffold; name it as scaffold:{legal}"),
        (["none", "critique:no-such-trace"], "no-such-trace"),
    ]:
        with pytest.raises(TrellisError, match=message):
            define_experiment(store, tasks, "mock-student", arms, actor=local_actor())
    assert store.list_experiments() == [] and store.list_runs() == []


def test_the_same_id_with_other_settings_is_refused(library):
    store, legal, tasks = library
    define_experiment(store, tasks, "mock-student", ["none", f"scaffold:{legal}"], actor=local_actor(),
                      experiment_id="legal-1")
    with pytest.raises(TrellisError, match="'legal-1' is already in .* with other settings"):
        define_experiment(store, tasks, "mock-student", ["none", f"scaffold:{legal}"], actor=local_actor(),
                          experiment_id="legal-1", repeats=3)


def test_every_run_exports_as_one_csv_row_with_its_arm(library):
    store, legal, tasks = library
    experiment = define_experiment(store, tasks, "mock-student", ["none", f"scaffold:{legal}"], actor=local_actor())
    run_experiment(store, experiment, tasks, STUDENT, actor=local_actor(), completion=answering(correct_everywhere))
    rows = list(csv.DictReader(io.StringIO(rows_csv(store.list_runs(experiment_id=experiment.id)))))
    assert len(rows) == 6
    assert {row["arm"] for row in rows} == {"none", f"scaffold:{legal}@1"}
    assert {row["score"] for row in rows} == {"1.0"} and all(row["experiment_id"] == experiment.id for row in rows)


def test_model_text_that_a_spreadsheet_would_run_as_a_formula_exports_as_text(library):
    store, legal, tasks = library
    experiment = define_experiment(store, tasks, "mock-student", ["none", f"scaffold:{legal}"], actor=local_actor(),
                                   limit=1)
    run_experiment(store, experiment, tasks, STUDENT, actor=local_actor(), completion=answering(correct_everywhere))
    run = store.list_runs(experiment_id=experiment.id)[0]
    hostile = run.model_copy(update={"error": '=HYPERLINK("http://attacker.example","open")',
                                     "fallback_reason": "@SUM(A1:A9)"})
    [row] = csv.DictReader(io.StringIO(rows_csv([hostile])))
    assert (row["error"], row["fallback_reason"]) == ('\'=HYPERLINK("http://attacker.example","open")', "'@SUM(A1:A9)")
    assert row["score"] == "1.0"  # numbers stay numbers
    assert json.loads(rows_json([hostile]))[0]["error"] == hostile.error  # JSON is read as data, never run


def test_an_arm_is_written_as_the_cli_takes_it():
    assert parse_arm("scaffold:legal-abc@3").name == "scaffold:legal-abc@3"
    assert parse_arm("scaffold:legal-abc@3").slug == "scaffold-legal-abc-3"
    assert parse_arm(" none ").kind == "none"
    assert json.dumps(parse_arm("critique:t1").name) == '"critique:t1"'
