"""Student runs with the plan runner, against litellm's mock_response: scaffolded, unscaffolded, falling back,
failing, resuming. Every run is a stored trace linked to its task, student and scaffold."""

import json
import os

import pytest

from core import Store, import_files
from core.auth import local_actor
from core.model_catalog import ModelEntry
from core.runs.batch import BatchSettings, run_batch
from core.scaffolds.drafts import draft_scaffold
from core.tasks.load import load_task_file
from tests.support.people import DANA
from tests.support.run_setup import STEP_FINDING, answering, student_answer
from tests.support.scaffold_library import approve_teacher_scaffolds, sample_files

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
import litellm  # noqa: E402

STUDENT = ModelEntry(name="mock-student", model="openai/mock-student", api_base="http://127.0.0.1:9/v1")
CAP_CLAUSE = "12.3 Limitation of liability. The Supplier's total liability is capped at 150% of the annual fees."
CONTRACT = "\n\n".join(f"{n}.1 Clause {n} sets out routine obligations of both parties." for n in range(1, 150))
CONTRACT = CONTRACT + "\n\n" + CAP_CLAUSE + "\n\n" + CONTRACT


def task_file(tmp_path, *tasks):
    path = tmp_path / "legal.jsonl"
    lines = [{"format": "trellis-tasks", "version": 1, "title": "test tasks"}]
    for number, overrides in enumerate(tasks or [{}], start=1):
        lines.append({
            "id": f"legal-{number}", "task_class": "legal-contract-review",
            "instruction": "What is the supplier's liability cap, as a percentage of the annual fees?",
            "context": {"text": CONTRACT}, "expected": 150, "checker": {"kind": "number", "abs_tol": 0},
            "budget": {"max_calls": 40, "max_tokens": 200_000, "max_seconds": 600}, **overrides,
        })
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return load_task_file(path)


def legal_scaffold_run(library, tmp_path, completion):
    """One run of the legal task with the approved legal scaffold, answered by ``completion``."""
    store, approved = library
    [run] = run_batch(store, [task_file(tmp_path)], STUDENT,
                      BatchSettings(student="mock-student", scaffold=approved["legal-contract-review"]),
                      actor=local_actor(), completion=completion).runs
    return run


@pytest.fixture
def library():
    with Store(":memory:") as store:
        import_files(store, sample_files())
        yield store, approve_teacher_scaffolds(store)


def test_a_scaffolded_run_follows_the_scaffold_and_is_stored_linked_and_scored(library, tmp_path):
    store, approved = library
    legal = approved["legal-contract-review"]
    completion = answering(lambda prompt: "150%" if "How to combine" in prompt else STEP_FINDING)
    result = run_batch(store, [task_file(tmp_path)], STUDENT, BatchSettings(student="mock-student", scaffold=legal),
                       actor=local_actor(), completion=completion)
    [run] = result.runs
    assert (run.status, run.score, run.fell_back, run.scaffold_id, run.scaffold_version) == ("ok", 1.0, False, legal, 1)
    assert run.adherence == 1.0 and run.calls == len(completion.prompts)
    loaded = store.load_trace(run.id)
    steps = [n for n in loaded.nodes if n.id.startswith("step-")]
    scaffold = store.reusable_scaffold(legal)
    assert [n.subproblem for n in steps] == [s.instruction for s in scaffold.content.first_level()]
    assert loaded.nodes[-1].kind == "aggregate" and loaded.trace.metadata["run"]["scaffold_id"] == legal
    assert store.list_runs(scaffold_id=legal) == [run]


def test_each_step_gets_the_slice_of_context_it_needs_not_the_whole_document(library, tmp_path):
    store, approved = library
    completion = answering(lambda prompt: STEP_FINDING)
    run_batch(store, [task_file(tmp_path)], STUDENT,
              BatchSettings(student="mock-student", scaffold=approved["legal-contract-review"]),
              actor=local_actor(), completion=completion)
    assert all(len(prompt) < len(CONTRACT) for prompt in completion.prompts)
    assert any(CAP_CLAUSE in prompt for prompt in completion.prompts)


def test_a_step_with_nothing_usable_falls_back_to_independent_processing_and_says_why(library, tmp_path):
    store, _ = library
    run = legal_scaffold_run(library, tmp_path, answering(lambda prompt: "" if "Your step (1 of" in prompt else "150"))
    assert run.status == "ok" and run.fell_back and run.score == 1.0
    assert run.fallback_reason.startswith("step 1 (") and "returned nothing usable" in run.fallback_reason
    [fallback] = [n for n in store.load_trace(run.id).nodes if n.id == "fallback"]
    assert fallback.metadata == {"fallback": True, "reason": run.fallback_reason}


def adapted(*steps):
    """An adapted plan the student answers with: (from_step, instruction) pairs."""
    return lambda prompt: json.dumps({"steps": [{"from_step": n, "instruction": text} for n, text in steps]})


def test_the_student_adapts_the_plan_skipping_splitting_and_adding_steps(library, tmp_path):
    store, approved = library
    plan = adapted((1, ""), (2, "Find the defined terms about liability"), (3, "Read sections 1-10"),
                   (3, "Read sections 11-20"), (4, ""), (5, ""), (0, "Quote the cap clause"))  # step 6 left out
    completion = answering(lambda prompt: "150" if "How to combine" in prompt else STEP_FINDING, plan)
    run = legal_scaffold_run(library, tmp_path, completion)
    assert (run.status, run.score, run.fell_back, run.adherence) == ("ok", 1.0, False, pytest.approx(5 / 6))
    loaded = store.load_trace(run.id)
    nodes = {n.id: n for n in loaded.nodes}
    scaffold = store.reusable_scaffold(approved["legal-contract-review"]).content.first_level()
    assert nodes["adapt"].metadata["adaptation"] == {
        "kept": [s.id for s in scaffold[:5]], "split": [scaffold[2].id], "skipped": [scaffold[5].id], "added": 1,
        "in_order": True}
    assert loaded.trace.metadata["adaptation"] == nodes["adapt"].metadata["adaptation"]
    assert [nodes["step-3.1"].parent_id, nodes["step-3.2"].parent_id] == ["step-3", "step-3"]
    assert nodes["step-3"].kind == "decompose" and nodes["step-3.2"].subproblem == "Read sections 11-20"
    assert nodes["step-1"].subproblem == scaffold[0].instruction  # kept as the scaffold words it
    assert nodes["added-1"].metadata == {"added": True} and "step-6" not in nodes


def test_a_plan_that_drops_most_of_the_scaffold_falls_back_and_says_how_much_it_kept(library, tmp_path):
    store, _ = library
    run = legal_scaffold_run(library, tmp_path, answering(lambda prompt: "150", adapted((4, ""), (0, "Find the cap"))))
    assert run.fell_back and run.score == 1.0 and run.adherence == pytest.approx(1 / 6)
    assert run.fallback_reason == "the student's adapted plan keeps 1 of 6 scaffold steps in order (under 50%)"
    assert "fallback" in {n.id for n in store.load_trace(run.id).nodes}


def test_a_plan_the_student_answers_in_prose_falls_back_and_says_why(library, tmp_path):
    run = legal_scaffold_run(library, tmp_path, answering(lambda prompt: "150", lambda prompt: "Sure! First I will read."))
    assert run.fell_back and run.score == 1.0
    assert run.fallback_reason.startswith("the student's adapted plan could not be read (")


def test_a_plan_wrapped_in_prose_and_a_fence_is_still_read():
    from core.runs.adapt import read_plan
    from core.scaffolds.models import SubProblem

    scaffold = [SubProblem(id="s1", instruction="Read"), SubProblem(id="s2", instruction="Answer")]
    answer = 'Here is the plan:\n```json\n{"steps": [{"from_step": "2", "instruction": " Answer  it "}]}\n```'
    [step] = read_plan(answer, scaffold)
    assert (step.node_id, step.instruction, step.source.id) == ("step-2", "Answer it", "s2")


def test_a_local_student_is_asked_for_its_plan_as_json_of_the_plan_schema(library, tmp_path):
    from core.runs.adapt import AdaptedPlan

    store, approved = library
    formats = []

    def completion(messages, **kwargs):
        formats.append(kwargs.get("response_format"))
        prompt = messages[-1]["content"]
        answer = student_answer(prompt)
        return litellm.completion(model=kwargs["model"], messages=messages, mock_response=answer)

    local = ModelEntry(name="local", model="openai/qwen", api_base="http://127.0.0.1:9/v1", json_object_schema=True)
    [run] = run_batch(store, [task_file(tmp_path)], local,
                      BatchSettings(student="local", scaffold=approved["legal-contract-review"]),
                      actor=local_actor(), completion=completion).runs
    assert run.status == "ok" and not run.fell_back
    assert formats[0] == {"type": "json_object", "schema": AdaptedPlan.model_json_schema()}
    assert formats[1:] == [None] * (len(formats) - 1)  # steps and aggregation answer in prose


def test_without_a_scaffold_the_student_reads_a_long_context_piece_by_piece(library, tmp_path):
    store, _ = library
    completion = answering(lambda prompt: "150" if "Notes taken" in prompt else "cap 150% in 12.3")
    [run] = run_batch(store, [task_file(tmp_path)], STUDENT, BatchSettings(student="mock-student"),
                      actor=local_actor(), completion=completion).runs
    assert (run.scaffold_id, run.fell_back, run.adherence, run.score) == (None, False, None, 1.0)
    kinds = [n.kind for n in store.load_trace(run.id).nodes]
    assert kinds[0] == "decompose" and kinds.count("leaf") >= 2 and kinds[-1] == "aggregate"


def test_auto_uses_the_best_approved_scaffold_and_records_why_never_a_draft(library, tmp_path):
    store, approved = library
    draft = draft_scaffold(store, ["legal-msa-teacher-70b"], author=DANA)  # a newer, unapproved draft
    [run] = run_batch(store, [task_file(tmp_path)], STUDENT, BatchSettings(student="mock-student", scaffold="auto"),
                      actor=local_actor(), completion=answering(lambda prompt: "150")).runs
    assert run.scaffold_id == approved["legal-contract-review"] != draft.version.scaffold_id
    assert run.retrieval["found"] and run.retrieval["rank"] == 1 and run.retrieval["reasons"]


def test_an_unreachable_student_fails_each_run_with_its_reason_and_the_batch_goes_on(library, tmp_path):
    store, _ = library

    def unreachable(messages, **kwargs):
        raise litellm.APIConnectionError(message="connection refused", llm_provider="openai", model=kwargs["model"])

    result = run_batch(store, [task_file(tmp_path, {}, {})], STUDENT, BatchSettings(student="mock-student"),
                       actor=local_actor(), completion=unreachable)
    assert [r.status for r in result.runs] == ["failed", "failed"]
    assert all("student openai/mock-student unreachable: connection refused" in r.error for r in result.runs)
    assert [r.id for r in store.list_runs(batch_id=result.batch_id)] == [r.id for r in result.runs]


def test_a_run_that_spends_its_budget_stops_and_says_which_budget(library, tmp_path):
    store, _ = library
    tight = {"budget": {"max_calls": 2, "max_tokens": 200_000, "max_seconds": 600}}
    [run] = run_batch(store, [task_file(tmp_path, tight)], STUDENT, BatchSettings(student="mock-student"),
                      actor=local_actor(), completion=answering(lambda prompt: "a note")).runs
    assert run.status == "failed" and "budget of 2 calls is spent" in run.error and run.calls == 2


def test_running_the_same_batch_again_resumes_it_without_redoing_finished_runs(library, tmp_path):
    store, _ = library
    tasks = task_file(tmp_path, {}, {})
    settings = BatchSettings(student="mock-student", repeats=2)
    first = run_batch(store, [tasks], STUDENT, settings, actor=local_actor(), completion=answering(lambda p: "150"))
    again = run_batch(store, [tasks], STUDENT, settings, actor=local_actor(), completion=answering(lambda p: "150"))
    assert (len(first.runs), len(again.runs), again.skipped, again.batch_id) == (4, 0, 4, first.batch_id)
    assert [r.seed for r in first.runs] == [0, 1, 0, 1]


def rlm_student(model):
    """A student at a scripted OpenAI-compatible endpoint that rlms reaches with its own client."""
    from tests.support.rlm_fake_backend import FakeChatServer

    server = FakeChatServer(model)
    return server, ModelEntry(name="rlm-student", model="openai/fake", api_base=server.base_url)


def test_the_rlm_runner_stores_the_rlms_own_recursive_trace_with_the_scaffold_as_its_plan(library, tmp_path):
    store, approved = library
    prompts = []

    def model(messages):
        prompts.append(messages)
        if sum(1 for m in messages if m.get("role") == "assistant") == 0:
            return '```repl\nprint(len(context))\n```'
        return '```repl\nanswer["content"] = "150"\nanswer["ready"] = True\n```'

    server, student = rlm_student(model)
    with server:
        [run] = run_batch(store, [task_file(tmp_path)], student,
                          BatchSettings(student="rlm-student", runner="rlm", scaffold=approved["legal-contract-review"]),
                          actor=local_actor()).runs
    assert (run.runner, run.status, run.score, run.fell_back) == ("rlm", "ok", 1.0, False)
    loaded = store.load_trace(run.id)
    assert loaded.trace.metadata["runner"] == "rlm" and loaded.trace.source_format == "rlm"
    scaffold = store.reusable_scaffold(approved["legal-contract-review"]).content
    assert scaffold.first_level()[0].instruction in json.dumps(prompts[0])  # the plan is in the root prompt


def test_an_rlm_that_fails_falls_back_to_independent_processing_and_says_why(library, tmp_path):
    store, _ = library

    def broken(messages):
        if messages and messages[0].get("role") == "system" and "REPL" in str(messages[0].get("content")):
            raise RuntimeError("the model broke down")
        return "150"

    server, student = rlm_student(broken)
    with server:
        [run] = run_batch(store, [task_file(tmp_path)], student, BatchSettings(student="rlm-student", runner="rlm"),
                          actor=local_actor()).runs
    assert run.fell_back and run.fallback_reason.startswith("the RLM failed") and run.score == 1.0


def test_interrupting_a_batch_keeps_the_finished_runs_and_says_how_to_resume(library, tmp_path, capsys, monkeypatch):
    from core.cli import main

    db = tmp_path / "runs.duckdb"
    with Store(db) as store:
        import_files(store, sample_files())
    tasks = task_file(tmp_path, {}, {"instruction": "Second contract: what is the liability cap, in percent?"})
    real = litellm.completion

    def interrupted_on_the_second_task(messages, **kwargs):
        if "Second contract" in json.dumps(messages):
            raise KeyboardInterrupt  # Ctrl-C while the second task is under way
        return real(model=kwargs["model"], messages=messages, mock_response="150")

    monkeypatch.setattr(litellm, "completion", interrupted_on_the_second_task)
    code = main(["run", str(tasks.path), "--student", "openai/mock", "--api-base", "http://127.0.0.1:9/v1",
                 "--db", str(db)])
    err = capsys.readouterr().err
    assert code == 1
    assert "error: interrupted: batch" in err and "has 1 runs stored; run the same command again to resume it" in err


def test_a_limited_batch_runs_the_first_tasks_and_a_larger_limit_goes_on_with_the_same_batch(library, tmp_path):
    store, _ = library
    tasks = task_file(tmp_path, {}, {}, {})
    first = run_batch(store, [tasks], STUDENT, BatchSettings(student="mock-student", limit=1), actor=local_actor(),
                      completion=answering(lambda prompt: "150"))
    more = run_batch(store, [tasks], STUDENT, BatchSettings(student="mock-student", limit=3), actor=local_actor(),
                     completion=answering(lambda prompt: "150"))
    assert [r.task_id for r in first.runs] == ["legal-1"] and [r.task_id for r in more.runs] == ["legal-2", "legal-3"]
    assert (more.skipped, more.batch_id) == (1, first.batch_id)


def test_a_step_that_finds_nothing_in_its_slice_falls_back(library, tmp_path):
    run = legal_scaffold_run(library, tmp_path, answering(
        lambda prompt: "The text does not mention a cap." if "Your step (2 of" in prompt else student_answer(prompt)))
    assert run.fell_back and run.fallback_reason.startswith("step 2 (") and run.adherence == pytest.approx(1 / 6)


def test_a_step_answered_far_shorter_than_its_scaffold_asks_was_not_carried_out_and_falls_back(library, tmp_path):
    """The legal scaffold's first step asks for "short prose, ~10 words"; a bare number is not that step done."""
    run = legal_scaffold_run(library, tmp_path, answering(lambda prompt: "12" if "Your step (" in prompt else "150"))
    assert run.fell_back and run.score == 1.0 and run.adherence == 0.0
    assert run.fallback_reason.startswith("step 1 (") and run.fallback_reason.endswith(
        "returned 1 word where the step asks for ~10")


def test_a_scaffold_the_budget_cannot_pay_for_is_not_started(library, tmp_path):
    store, approved = library
    small = {"budget": {"max_calls": 5, "max_tokens": 200_000, "max_seconds": 600},
             "context": {"text": CAP_CLAUSE}}
    [run] = run_batch(store, [task_file(tmp_path, small)], STUDENT,
                      BatchSettings(student="mock-student", scaffold=approved["legal-contract-review"]),
                      actor=local_actor(), completion=answering(lambda prompt: "150")).runs
    assert run.fell_back and run.fallback_reason == "the scaffold needs 8 calls; the task's budget leaves 5"
    assert (run.status, run.score, run.calls) == ("ok", 1.0, 1)
