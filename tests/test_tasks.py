"""Task files: the sample sets, the validator's one-line errors, the schema and the generator."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.errors import InputError
from core.tasks import as_answer, check, json_schema, load_task_file, load_task_files
from core.tasks.models import KNOWN_TASK_CLASSES

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_tasks"
SAMPLE_FILES = sorted(SAMPLES.glob("*/tasks.jsonl"))
HEADER = {"format": "trellis-tasks", "version": 1, "title": "test"}


def good_task(**changes):
    task = {"id": "cap", "task_class": "legal-contract-review", "instruction": "How many months of Fees cap the liability?",
            "context": {"text": "11.2 Liability is capped at the Fees paid in the 6 months before the claim."},
            "expected": 6, "checker": {"kind": "number", "abs_tol": 0, "units": ["months"]},
            "budget": {"max_calls": 10, "max_tokens": 20000, "max_seconds": 120}}
    return {**task, **changes}


def write(tmp_path, *lines, name="tasks.jsonl"):
    path = tmp_path / name
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def error_of(path) -> str:
    with pytest.raises(InputError) as caught:
        load_task_files([path])
    return str(caught.value)


# ----------------------------------------------------------------- the samples


def test_there_is_one_sample_file_per_task_class_with_at_least_20_tasks_each():
    files = load_task_files([SAMPLES])
    assert sorted(f.path.parent.name for f in files) == sorted(KNOWN_TASK_CLASSES)
    for loaded in files:
        assert len(loaded.tasks) >= 20, loaded.path
        assert {t.task_class for t in loaded.tasks} == {loaded.path.parent.name}
        assert loaded.warnings == []
        kinds = {t.checker.kind for t in loaded.tasks}
        assert len(kinds) >= 3, f"{loaded.path} mixes too few checker kinds: {kinds}"


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.parent.name)
def test_every_sample_answer_scores_1_and_wrong_answers_score_less(path):
    loaded = load_task_file(path)
    for task in loaded.tasks:
        right = check(task, as_answer(task))
        assert right.score == 1.0, (task.id, right.explanation)
        chatty = f"Sure! I read the whole document.\n\n```json\n{json.dumps({'answer': task.expected})}\n```\nHope this helps!"
        assert check(task, chatty).score == 1.0, task.id
        assert check(task, "I could not find this in the document.").score < 1.0, task.id
        distractor = task.metadata["distractor"]  # the generator's planted near miss
        assert check(task, distractor).score < 1.0, (task.id, distractor)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.parent.name)
def test_sample_documents_are_too_long_for_a_2k_token_window(path):
    loaded = load_task_file(path)
    documents = {name: text for task in loaded.tasks for name, text in loaded.context_documents(task)}
    assert documents
    assert {name: len(text) for name, text in documents.items() if len(text) <= 8_000} == {}
    assert all(len(loaded.context_text(t)) > 8_000 for t in loaded.tasks)


def test_the_sample_sets_stay_small():
    size = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert size < 5 * 1024 * 1024


def test_the_generator_is_deterministic(tmp_path):
    subprocess.run([sys.executable, str(SAMPLES / "generate.py"), "--out", str(tmp_path)], check=True, timeout=120)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(SAMPLES) for p in SAMPLES.rglob("*")
                       if p.is_file() and p.suffix in (".jsonl", ".txt"))
    assert made == committed
    changed = [str(p) for p in made if (tmp_path / p).read_bytes() != (SAMPLES / p).read_bytes()]
    assert changed == [], "sample_tasks/ is stale: run python sample_tasks/generate.py"


def test_published_schema_matches_the_models():
    published = json.loads((ROOT / "docs" / "task.schema.json").read_text())
    assert published == json_schema(), "docs/task.schema.json is stale: run trellis tasks schema --out docs/task.schema.json"


# ------------------------------------------------------------ bad task files


BAD = [
    ("not JSON", [HEADER, '{"id": "cap", '], "2: not valid JSON: Expecting property name enclosed in double quotes"),
    ("a pretty-printed JSON document", ['{', '"format": "trellis-tasks"}'], "1: not valid JSON"),
    ("no header", [good_task()], "1: the first line is a task, not the header; a task file is JSONL"),
    ("a wrong header", [{"format": "trellis", "version": 1}], "1: not a task file header"),
    ("an unknown header field", [{**HEADER, "owner": "me"}, good_task()], "1: header: owner: Extra inputs are not permitted"),
    ("an unknown task field", [HEADER, good_task(answer=6)], "2: answer: Extra inputs are not permitted"),
    ("a misspelt checker option", [HEADER, good_task(checker={"kind": "number", "tolerance": 1})],
     "2: checker.number.tolerance: Extra inputs are not permitted"),
    ("an unknown checker", [HEADER, good_task(checker={"kind": "fuzzy"})], "2: checker.kind: unknown kind 'fuzzy'; choose one of exact, set, number, regex"),
    ("a number checker with a text answer", [HEADER, good_task(expected="six")],
     '2: expected: a number checker needs a number, got a string ("six")'),
    ("a set checker with one string", [HEADER, good_task(expected="4.4", checker={"kind": "set"})],
     '2: expected: a set checker needs a list of strings, got a string ("4.4")'),
    ("a regex whose example does not match", [HEADER, good_task(expected="seven", checker={"kind": "regex", "pattern": "six"})],
     "2: expected: 'seven' does not match the checker's own pattern (search)"),
    ("a broken regex", [HEADER, good_task(expected="x", checker={"kind": "regex", "pattern": "(unclosed"})],
     "2: checker.regex.pattern: not a valid regular expression: missing ), unterminated subpattern at position 0"),
    ("a boolean answer", [HEADER, good_task(expected=True)], "2: expected: must be a string, a number or a list of strings"),
    ("an empty instruction", [HEADER, good_task(instruction="   ")], "2: instruction: String should have at least 1 character"),
    ("a budget of zero calls", [HEADER, good_task(budget={"max_calls": 0, "max_tokens": 1, "max_seconds": 1})],
     "2: budget.max_calls: Input should be greater than 0"),
    ("a negative time budget", [HEADER, good_task(budget={"max_calls": 1, "max_tokens": 1, "max_seconds": -5})],
     "2: budget.max_seconds: Input should be greater than 0"),
    ("a missing budget", [HEADER, {k: v for k, v in good_task().items() if k != "budget"}], "2: budget: Field required"),
    ("a duplicate id", [HEADER, good_task(), "", good_task()], "4: id: duplicate task id 'cap' (first on line 2)"),
    ("both inline and file context", [HEADER, good_task(context={"text": "x", "file": "a.txt"})],
     "2: context: give exactly one of text, file or files (got text, file)"),
    ("a context file outside the folder", [HEADER, good_task(context={"file": "../secrets.txt"})],
     "2: context.file: '../secrets.txt' must be a relative path inside the task file's folder (with /, no ..)"),
    ("an absolute context path", [HEADER, good_task(context={"files": ["/etc/passwd"]})],
     "2: context.files: '/etc/passwd' must be a relative path inside the task file's folder (with /, no ..)"),
    ("a missing context file", [HEADER, good_task(context={"file": "docs/missing.txt"})],
     "2: context.file: no such file: docs/missing.txt (relative to "),
    ("only a header", [HEADER], ": no tasks after the header line"),
]


@pytest.mark.parametrize("lines, expected", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_task_files_fail_in_one_line_naming_file_and_line(tmp_path, lines, expected):
    path = write(tmp_path, *lines)
    message = error_of(path)
    assert message.startswith(f"{path}:") and "\n" not in message
    assert expected in message, message


def test_the_cli_prints_the_same_one_line_error_with_exit_code_1(tmp_path, capsys):
    path = write(tmp_path, HEADER, good_task(expected="six"))
    assert main(["tasks", "validate", str(path)]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", f'error: {path}:2: expected: a number checker needs a number, got a string ("six")\n')


def test_a_task_id_used_in_two_files_is_an_error_naming_both(tmp_path):
    first = write(tmp_path, HEADER, good_task(), name="a.jsonl")
    second = write(tmp_path, HEADER, good_task(id="other"), good_task(), name="b.jsonl")
    with pytest.raises(InputError) as caught:
        load_task_files([first, second])
    assert str(caught.value) == f"{second}:3: id: task id 'cap' is also on {first}:2"


def test_a_context_file_that_is_not_utf8_or_too_big_is_named(tmp_path, monkeypatch):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "latin1.txt").write_bytes("line one\nna\xefve\n".encode("latin-1"))
    path = write(tmp_path, HEADER, good_task(context={"file": "docs/latin1.txt"}))
    assert error_of(path) == f"{path}:2: context.file: docs/latin1.txt: invalid UTF-8 (byte 11) (its line 2)"
    monkeypatch.setattr("core.tasks.load.MAX_CONTEXT_BYTES", 4)
    (tmp_path / "docs" / "big.txt").write_text("twelve bytes")
    path = write(tmp_path, HEADER, good_task(context={"file": "docs/big.txt"}))
    assert error_of(path) == f"{path}:2: context.file: docs/big.txt is 0.0 MB, over the 0 MB limit for one context file"


def test_a_symlink_out_of_the_folder_is_refused(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "link.txt").symlink_to(outside)
    path = write(folder, HEADER, good_task(context={"file": "link.txt"}))
    assert error_of(path) == f"{path}:2: context.file: link.txt leads outside the task file's folder"


def test_a_huge_task_file_is_refused_before_it_is_read(tmp_path, capsys):
    path = write(tmp_path, HEADER, good_task())
    assert main(["tasks", "validate", str(path), "--max-mb", "0.0001"]) == 1
    assert capsys.readouterr().err.startswith(f"error: {path}: file is 0.0 MB, over the 0.0 MB limit")


def test_an_unknown_task_class_is_a_warning_not_an_error(tmp_path, capsys):
    path = write(tmp_path, HEADER, good_task(task_class="legal-contract-reveiw"))
    assert main(["tasks", "validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{path}\t1 tasks\n"
    assert err.startswith(f"warning: {path}:2: task_class: 'legal-contract-reveiw' is not a task class of the sample library")


# ------------------------------------------------------------------ the CLI


def test_validate_a_folder_prints_each_file_and_its_task_count(capsys):
    assert main(["tasks", "validate", str(SAMPLES)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in out] == [str(p) for p in SAMPLE_FILES]
    assert all(int(line.split("\t")[1].split()[0]) >= 20 for line in out)


def test_list_as_json_names_each_task_with_its_line(capsys):
    path = SAMPLES / "multi-doc-qa" / "tasks.jsonl"
    assert main(["tasks", "list", str(path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["line"] == 2 and rows[0]["file"] == str(path)
    assert len(rows[0]["context"]) == 6 and rows[0]["context_chars"] > 6 * 8_000


def test_check_scores_an_answer_from_the_command_line_or_stdin(capsys, monkeypatch):
    assert main(["tasks", "check", str(SAMPLES), "legal-01-cap-months", "It is capped at **6 months** of fees."]) == 0
    assert capsys.readouterr().out == "1.00\tright: 6 (expected 6)\n"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("I think 12 months."))
    assert main(["tasks", "check", str(SAMPLES), "legal-01-cap-months"]) == 0
    assert capsys.readouterr().out.startswith("0.00\tread 12")
    assert main(["tasks", "check", str(SAMPLES), "no-such-task", "x"]) == 1
    assert capsys.readouterr().err == f"error: {SAMPLES}: no task with id 'no-such-task'\n"


def test_schema_command_writes_the_published_schema(tmp_path, capsys):
    out = tmp_path / "task.schema.json"
    assert main(["tasks", "schema", "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == json.loads((ROOT / "docs" / "task.schema.json").read_text())
