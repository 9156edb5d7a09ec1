"""Student runs when things go wrong: a model server that dies mid-batch, answers that are not answers, a prompt over
the model's context window, a task file with the wrong type of answer, a model nobody serves.

The faults are real: litellm's own client talks HTTP to a loopback endpoint, and runs go into a real DuckDB store.
A run that fails is stored failed, with its trace and a one-line reason naming the student; nothing is half-written;
the rest of the batch goes on.
"""

import json

import pytest

from core import Store, import_files
from core.auth import local_actor
from core.cli import main
from core.errors import InputError
from core.model_catalog import ModelEntry
from core.runs.batch import BatchSettings, run_batch
from core.runs.context import pieces
from core.tasks.load import load_task_file
from tests.support.http_listener import Listener
from tests.support.scaffold_library import approve_teacher_scaffolds, sample_files

CAP_CLAUSE = "12.3 Limitation of liability. The Supplier's total liability is capped at 150% of the annual fees."
SHORT = CAP_CLAUSE  # fits the window: the student answers in one call
# Over the window: the student reads it piece by piece, one call each, then combines its notes.
LONG = "\n\n".join(f"{n}.1 Clause {n} sets out routine obligations of both parties, in some detail." for n in range(200))
LONG = LONG + "\n\n" + CAP_CLAUSE
TIMEOUT = 2.0  # seconds per model call: a fault must not cost a minute per task
LLAMA_CPP_OVER_CONTEXT = {"error": {"code": 400, "message": "the request exceeds the available context size, try "
                                    "increasing it", "type": "exceed_context_size_error"}}
OPENAI_OVER_CONTEXT = {"error": {"message": "This model's maximum context length is 8192 tokens. However, your messages "
                                 "resulted in 9120 tokens. Please reduce the length of the messages.",
                                 "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}


def answer(content: str | None) -> tuple[int, str, str]:
    """An OpenAI chat completion whose one choice says ``content``."""
    return 200, "application/json", json.dumps({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "student",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}})


def reply(status: int, body: dict | str, content_type: str = "application/json") -> tuple[int, str, str]:
    return status, content_type, body if isinstance(body, str) else json.dumps(body)


def dying_after(*replies: tuple[int, str, str]) -> Listener:
    """A loopback OpenAI-compatible endpoint that gives its N-th request the N-th of ``replies`` and then dies, as a
    crashed model server: every later request is refused."""
    return Listener(replies=list(replies), lifetime=60.0)


def student_at(server: Listener) -> ModelEntry:
    return ModelEntry(name="flaky-student", model="openai/flaky-student", api_base=server.url)


def task_file(tmp_path, *contexts: str):
    """A task file with one liability-cap task per context; the right answer is 150."""
    lines = [{"format": "trellis-tasks", "version": 1, "title": "liability caps"}]
    for number, context in enumerate(contexts, start=1):
        lines.append({
            "id": f"cap-{number}", "task_class": "legal-contract-review",
            "instruction": "What is the supplier's liability cap, as a percentage of the annual fees?",
            "context": {"text": context}, "expected": 150, "checker": {"kind": "number"},
            "budget": {"max_calls": 20, "max_tokens": 200_000, "max_seconds": 60},
        })
    path = tmp_path / "caps.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return load_task_file(path)


def run(store, tasks, student, **settings):
    return run_batch(store, [tasks], student, BatchSettings(student=student.name, timeout=TIMEOUT, **settings),
                     actor=local_actor())


def assert_stored_whole(store, result):
    """Every run this batch made is stored with its trace, the trace ends as the run did, and the batch holds no other run."""
    assert store.list_runs(batch_id=result.batch_id) == result.runs
    for record in result.runs:
        loaded = store.load_trace(record.id)
        assert loaded.trace.metadata["run"]["batch_id"] == result.batch_id
        root = loaded.nodes[0]
        assert (root.status == "error") == (record.status == "failed")
        assert root.error == record.error


def one_line(text: str | None) -> bool:
    return bool(text) and "\n" not in text and "Traceback" not in text


# 1. A model server that dies mid-run


def test_a_model_server_that_dies_mid_run_fails_that_run_and_each_later_one_at_once_with_its_reason(tmp_path):
    tasks = task_file(tmp_path, LONG, LONG, SHORT)
    db = tmp_path / "runs.duckdb"
    parts = len(pieces(LONG))
    with Store(db) as store, dying_after(*[answer("the cap is 150% (12.3)")] * (parts - 1)) as server:
        result = run(store, tasks, student_at(server))  # the server dies before answering the last part of cap-1

    assert [r.status for r in result.runs] == ["failed", "failed", "failed"]
    in_progress, *later = result.runs
    assert in_progress.calls == parts and len(server.prompts) == parts - 1  # the last call found nobody
    for record in result.runs:
        assert one_line(record.error) and "student openai/flaky-student" in record.error
        assert "Connection error" in record.error
        assert record.score is None and "timed out" not in record.error  # refused at once, not waited out
    assert all(r.calls == 1 for r in later)  # each later run asked once, found nobody, and stopped

    with Store(db) as reopened:  # what a person finds afterwards: every run, whole, with its trace
        assert_stored_whole(reopened, result)
        kept = reopened.load_trace(in_progress.id).nodes
        assert [n.status for n in kept if n.kind == "leaf"] == ["ok"] * (parts - 1) + ["error"]  # up to the crash
        assert reopened.count_traces() == 3


def test_a_scaffolded_run_whose_server_dies_falls_back_and_then_fails_saying_both(tmp_path):
    tasks = task_file(tmp_path, LONG, SHORT)
    with Store(":memory:") as store, dying_after(answer("a first answer")) as server:
        import_files(store, sample_files())
        approved = approve_teacher_scaffolds(store)["legal-contract-review"]
        result = run(store, tasks, student_at(server), scaffold=approved)
        assert [r.status for r in result.runs] == ["failed", "failed"]
        for record in result.runs:
            assert one_line(record.error) and "student openai/flaky-student" in record.error
            assert record.fell_back and record.fallback_reason and record.fallback_reason in record.error
        assert_stored_whole(store, result)


def test_after_a_dead_model_server_is_back_running_the_batch_again_redoes_the_runs_it_failed(tmp_path):
    # docs/runs.md: running the same command again after an interruption (Ctrl-C, a dead model server) resumes it
    tasks = task_file(tmp_path, SHORT, SHORT)
    with Store(":memory:") as store:
        with dying_after(answer("150")) as server:  # answers the first task, then dies
            first = run(store, tasks, student_at(server))
        assert [r.status for r in first.runs] == ["ok", "failed"]
        with Listener("150") as restarted:  # the same student, served again
            again = run(store, tasks, ModelEntry(name="flaky-student", model="openai/flaky-student",
                                                 api_base=restarted.url))
        assert (again.batch_id, again.skipped, [r.task_id for r in again.runs]) == (first.batch_id, 1, ["cap-2"])
        assert [(r.task_id, r.status) for r in store.list_runs(batch_id=first.batch_id)] == [
            ("cap-1", "ok"), ("cap-2", "ok")]


# 2. Malformed model output


@pytest.mark.parametrize("fault, says", [
    (reply(200, "<html><body>502 Bad Gateway</body></html>", "text/html"), "invalid response"),
    (reply(200, {"hello": "world"}), "no 'choices'"),
    (reply(200, {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}), "no choices"),
    (answer(None), "no text"),
    (reply(500, {"error": {"message": "CUDA error: out of memory", "type": "server_error"}}), "CUDA error: out of memory"),
], ids=["html-not-json", "json-not-a-completion", "no-choices", "null-content", "http-500"])
def test_malformed_model_output_fails_the_run_with_a_clear_reason_and_the_batch_goes_on(fault, says, tmp_path, capsys):
    tasks = task_file(tmp_path, SHORT, SHORT)
    with Store(":memory:") as store, dying_after(fault, answer("150")) as server:
        result = run(store, tasks, student_at(server))
        broken, fine = result.runs
        assert (broken.status, broken.score) == ("failed", None)
        assert one_line(broken.error) and "student openai/flaky-student" in broken.error and says in broken.error
        assert (fine.status, fine.score) == ("ok", 1.0)  # the next task is answered and scored as usual
        assert_stored_whole(store, result)
    assert "Traceback" not in "".join(capsys.readouterr())


# 3. Context over the window


@pytest.mark.parametrize("body, says", [
    (LLAMA_CPP_OVER_CONTEXT, "the request exceeds the available context size"),
    (OPENAI_OVER_CONTEXT, "maximum context length is 8192 tokens"),
], ids=["llama.cpp", "openai"])
def test_a_prompt_over_the_models_context_window_fails_the_run_saying_so_in_one_line(body, says, tmp_path):
    tasks = task_file(tmp_path, SHORT, SHORT)
    with Store(":memory:") as store, dying_after(reply(400, body), answer("150")) as server:
        result = run(store, tasks, student_at(server))
        over, fine = result.runs
        assert over.status == "failed" and one_line(over.error)
        assert "student openai/flaky-student" in over.error and says in over.error
        assert fine.score == 1.0
        assert_stored_whole(store, result)


# 4. A task file with the wrong type of answer


@pytest.mark.parametrize("checker, expected, says", [
    ({"kind": "number"}, "abc", 'expected: a number checker needs a number, got a string ("abc")'),
    ({"kind": "set"}, "indemnity, liability", "expected: a set checker needs a list of strings, got a string"),
], ids=["number-given-text", "set-given-a-string"])
def test_a_task_with_the_wrong_type_of_answer_is_refused_naming_file_line_and_field(checker, expected, says, tmp_path):
    path = bad_task_file(tmp_path, checker, expected)
    with pytest.raises(InputError) as refused:
        load_task_file(path)
    assert str(refused.value).startswith(f"{path}:3: {says}") and one_line(str(refused.value))


def test_trellis_run_refuses_a_task_file_with_a_wrong_answer_type_before_asking_the_model(tmp_path, capsys):
    path = bad_task_file(tmp_path, {"kind": "number"}, "abc")
    db = tmp_path / "runs.duckdb"
    with Store(db):
        pass  # an existing, empty library
    with Listener("150") as model:
        code = main(["run", str(path), "--student", "openai/student", "--api-base", model.url, "--db", str(db),
                     "--timeout", str(TIMEOUT)])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.splitlines() == [f'error: {path}:3: expected: a number checker needs a number, got a string ("abc")']
    assert model.requests == []  # the good first task was not run either
    with Store(db) as store:
        assert (store.list_runs(), store.count_traces()) == ([], 0)


def bad_task_file(tmp_path, checker: dict, expected):
    """A task file whose first task is fine and whose second (line 3) has an answer its checker cannot take."""
    good = task_file(tmp_path, SHORT).path
    bad = json.loads(good.read_text().splitlines()[1]) | {"id": "cap-2", "checker": checker, "expected": expected}
    good.write_text(good.read_text() + json.dumps(bad) + "\n")
    return good


# 5. An unreachable model, from the command line


def test_trellis_run_against_an_unreachable_model_stores_each_run_failed_and_exits_1(tmp_path, capsys):
    tasks = task_file(tmp_path, SHORT, SHORT)
    db = tmp_path / "runs.duckdb"
    code = main(["run", str(tasks.path), "--student", "openai/ghost", "--api-base", "http://127.0.0.1:9/v1",
                 "--db", str(db), "--timeout", str(TIMEOUT), "--json"])
    out, err = capsys.readouterr()
    printed = json.loads(out)
    assert [(r["task_id"], r["status"]) for r in printed] == [("cap-1", "failed"), ("cap-2", "failed")]
    assert not any("timed out" in r["error"] for r in printed)  # refused at once, not waited out
    assert all("student openai/ghost unreachable" in r["error"] and "Connection error" in r["error"] for r in printed)
    assert "Traceback" not in err and "2 runs (2 failed" in err
    with Store(db) as store:
        assert [r.status for r in store.list_runs()] == ["failed", "failed"] and store.count_traces() == 2
    assert code == 1  # nothing ran: a script running `trellis run ... && next-step` must not go on
