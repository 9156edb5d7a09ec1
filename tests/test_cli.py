"""The `trellis` command line, used the way a person would in a terminal."""

import contextlib
import io
import json
import os
import pty
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from core.auth import os_account
from core.cli import build_parser, main
from tests.conftest import trellis_json, trellis_jsonl


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "cli.duckdb")


@pytest.fixture
def trace_file(tmp_path, small_tree):
    path = tmp_path / "contract.json"
    path.write_text(trellis_json("contract", small_tree, role="teacher", agent="llama-3.1-70b-instruct"))
    return path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_prints_one_line_per_trace(capsys, db, trace_file):
    code, out, err = run(capsys, "import", str(trace_file), "--db", db)
    assert (code, out, err) == (0, "contract\t4 nodes\n", "")


def test_list_as_table_and_json(capsys, monkeypatch, db, trace_file):
    monkeypatch.setenv("COLUMNS", "200")
    run(capsys, "import", str(trace_file), "--db", db)
    code, out, _ = run(capsys, "list", "--db", db)
    assert code == 0 and "contract" in out and "llama-3.1-70b-instruct" in out
    code, out, _ = run(capsys, "list", "--db", db, "--json")
    [row] = json.loads(out)
    assert (row["id"], row["node_count"], row["role"]) == ("contract", 4, "teacher")


def test_show_draws_the_tree_with_text_taken_literally(capsys, db, tmp_path, small_tree):
    small_tree[1]["subproblem"] = "[bold red]not markup[/] <script>alert(1)</script>"
    path = tmp_path / "t.json"
    path.write_text(trellis_json("t", small_tree))
    run(capsys, "import", str(path), "--db", db)
    code, out, _ = run(capsys, "show", "t", "--db", db)
    assert code == 0
    assert "[decompose] Assess the contract's risk" in out
    assert "[bold red]not markup[/] <script>alert(1)</script>" in out


def test_show_cuts_deep_trees_and_says_how_much_is_hidden(capsys, db, tmp_path):
    nodes = [{"id": f"n{i}", "parent_id": f"n{i - 1}" if i else None, "subproblem": f"level {i}"} for i in range(50)]
    path = tmp_path / "deep.jsonl"
    path.write_text(trellis_jsonl("deep", nodes))
    run(capsys, "import", str(path), "--db", db)
    _, out, _ = run(capsys, "show", "deep", "--db", db, "--depth", "3")
    assert "level 3" in out and "level 4" not in out and "+46 hidden" in out


def test_export_then_import_gives_back_the_same_trace(capsys, db, tmp_path, trace_file):
    run(capsys, "import", str(trace_file), "--db", db)
    first = tmp_path / "first.json"
    assert run(capsys, "export", "contract", "--db", db, "--out", str(first))[0] == 0
    other_db = str(tmp_path / "other.duckdb")
    assert run(capsys, "import", str(first), "--db", other_db)[0] == 0
    code, second, _ = run(capsys, "export", "contract", "--db", other_db)
    assert code == 0 and second == first.read_text()
    _, shown, _ = run(capsys, "show", "contract", "--db", other_db, "--json")
    assert shown == second


def test_errors_are_one_line_on_stderr_with_exit_code_1(capsys, db, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "trellis", "version": 1, "trace": {"id": "t"}}\n{"id": "root"\n')
    code, out, err = run(capsys, "import", str(bad), "--db", db)
    assert code == 1 and out == ""
    assert err.startswith(f"error: {bad}:2: not valid JSON")
    assert err.count("\n") == 1


def test_a_value_nested_too_deep_to_keep_fails_in_one_line_and_stores_nothing(capsys, db, tmp_path):
    deep = '{"a": ' * 3000 + "1" + "}" * 3000
    runs = tmp_path / "runs.jsonl"
    runs.write_text(
        '{"id": "fine", "run_type": "chain"}\n'
        f'{{"id": "b", "run_type": "chain", "extra": {{"metadata": {{"x": {deep}}}}}}}\n'
    )
    code, out, err = run(capsys, "import", str(runs), "--db", db)
    assert (code, out, err) == (1, "", f"error: {runs}:2: run b: metadata nests more than 200 levels deep\n")
    assert run(capsys, "list", "--db", db, "--json")[1].strip() == "[]"


def test_a_number_too_big_to_store_fails_in_one_line_and_stores_nothing(capsys, db, tmp_path, small_tree):
    small_tree[3]["tokens_in"] = 10**30
    big = tmp_path / "big.json"
    big.write_text(trellis_json("big", small_tree))
    code, out, err = run(capsys, "import", str(big), "--db", db)
    too_big = "nodes[3].tokens_in: 1e30 is larger than the largest whole number Trellis stores (2^63-1)"
    assert (code, out, err) == (1, "", f"error: {big}: {too_big}\n")
    assert run(capsys, "list", "--db", db, "--json")[1].strip() == "[]"


def test_importing_a_file_again_skips_it_and_imports_what_is_new(capsys, db, tmp_path, trace_file, small_tree):
    assert run(capsys, "import", str(trace_file), "--db", db)[0] == 0  # then killed before it could say so, say
    other = tmp_path / "other.json"
    other.write_text(trellis_json("other", small_tree))
    code, out, err = run(capsys, "import", str(trace_file), str(other), "--db", db)
    assert (code, out) == (0, "other\t4 nodes\n")
    assert err == f"{trace_file}: already imported as trace contract (identical content); nothing to do\n"
    code, out, err = run(capsys, "import", str(trace_file), "--replace", "--db", db)
    assert (code, out, err) == (0, "contract\t4 nodes\n", "")  # --replace reads it again


def test_import_help_states_the_size_limits(capsys):
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "largest file accepted, in MB (default 200)" in help_text
    assert "in every format, one node may hold at most 16 MB of text and metadata" in help_text


def test_unknown_trace_id(capsys, db, trace_file):
    run(capsys, "import", str(trace_file), "--db", db)
    code, _, err = run(capsys, "show", "nope", "--db", db)
    assert code == 1 and err.startswith("error: no trace 'nope'")


def test_schema_command_prints_the_published_schema(capsys):
    code, out, _ = run(capsys, "schema")
    assert code == 0 and json.loads(out)["title"] == "Trellis trace"


@pytest.fixture
def student_db(capsys, db):
    from tests.conftest import SAMPLES

    run(capsys, "import", str(SAMPLES / "legal-msa-student-8b.json"), str(SAMPLES / "legal-msa-teacher-70b.json"), "--db", db)
    return db


def test_critique_offline_then_list_the_annotations(capsys, student_db):
    code, out, err = run(capsys, "critique", "legal-msa-student-8b", "--db", student_db, "--json")
    assert code == 0 and "against legal-msa-teacher-70b" in err
    proposed = json.loads(out)
    assert proposed and {a["status"] for a in proposed} == {"proposed"}
    code, out, _ = run(capsys, "annotations", "legal-msa-student-8b", "--db", student_db, "--json")
    assert [a["id"] for a in json.loads(out)] == [a["id"] for a in proposed]


def test_critique_with_a_missing_key_fails_in_one_line_and_stores_nothing(capsys, monkeypatch, student_db):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, out, err = run(capsys, "critique", "legal-msa-student-8b", "--teacher", "openai/gpt-4o-mini",
                         "--retries", "0", "--db", student_db)
    assert code == 1 and out == ""
    assert err.splitlines()[-1].startswith("error: teacher openai/gpt-4o-mini: missing or invalid API key")
    assert run(capsys, "annotations", "legal-msa-student-8b", "--db", student_db, "--json")[1].strip() == "[]"


def test_critique_with_an_unreachable_teacher_fails_in_one_line(capsys, monkeypatch, student_db):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    code, _, err = run(capsys, "critique", "legal-msa-student-8b", "--teacher", "openai/gpt-4o-mini",
                       "--api-base", "http://127.0.0.1:9/v1", "--retries", "0", "--timeout", "5", "--db", student_db)
    assert code == 1
    assert err.splitlines()[-1].startswith("error: teacher openai/gpt-4o-mini unreachable")
    assert run(capsys, "annotations", "legal-msa-student-8b", "--db", student_db, "--json")[1].strip() == "[]"


def test_critique_teacher_is_a_configured_name_or_an_ad_hoc_model_with_only_its_own_key(
        capsys, monkeypatch, tmp_path, student_db):
    from tests.support.http_listener import Listener

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    monkeypatch.setenv("LOCAL_KEY", "sk-local")
    with Listener(lifetime=60) as listener:
        models = tmp_path / "models.toml"
        models.write_text(f'[models.local]\nmodel = "openai/local-teacher"\napi_base = "{listener.url}"\n')
        monkeypatch.setenv("TRELLIS_MODELS", str(models))
        student = ["critique", "legal-msa-student-8b", "--retries", "0", "--timeout", "10", "--db", student_db]
        assert run(capsys, *student, "--teacher", "local")[0] == 0
        assert run(capsys, *student, "--teacher", "openai/ad-hoc", "--api-base", listener.url)[0] == 0
        assert run(capsys, *student, "--teacher", "openai/ad-hoc", "--api-base", listener.url, "--api-key-env", "LOCAL_KEY")[0] == 0
        code, _, err = run(capsys, *student, "--teacher", "local", "--api-base", "http://127.0.0.1:9/v1")
    assert code == 1 and err.splitlines()[-1].startswith("error: --teacher local is a configured model with its own endpoint")
    assert [r["headers"]["authorization"] for r in listener.requests] == [
        "Bearer trellis-no-key", "Bearer trellis-no-key", "Bearer sk-local"]
    assert [json.loads(r["body"])["model"] for r in listener.requests] == ["local-teacher", "ad-hoc", "ad-hoc"]
    assert "sk-test-secret" not in listener.seen()


# --------------------------------------------------------------- --json shapes

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
STUDENT, TEACHER = "legal-msa-student-8b", "legal-msa-teacher-70b"
# Each --json command, and whether it prints a list of objects (list) or one object (dict).
JSON_COMMANDS = {
    "list": ([], list),
    "show": ([TEACHER], dict),
    "critique": ([STUDENT], list),
    "annotations": ([STUDENT], list),
    "user list": ([], list),
    "audit": ([], list),
    "scaffold extract": ([TEACHER], dict),
    "scaffold list": ([], list),
    "scaffold show": (["SCAFFOLD"], dict),
    "scaffold find": (["review the liability clauses of a supplier contract"], list),
    "run": (["TASKS", "--student", "trellis/structural", "--batch", "json-shape"], list),
    "runs": ([], list),
    "experiment run": (["--tasks", "TASKS", "--student", "trellis/structural", "--arm", "none", "--arm",
                        "scaffold:SCAFFOLD", "--id", "json-shape"], dict),
    "experiment list": ([], list),
    "experiment show": (["json-shape-stored"], dict),
    "tasks list": (["TASKS"], list),
    "tasks check": (["TASKS", "cap", "--expected"], dict),
    "model status": ([], dict),
    "model list": ([], list),
}
NO_STORE = {"tasks list", "tasks check", "model list"}  # commands without --db


@pytest.fixture(scope="module")
def full_db(tmp_path_factory):
    """A store with something for every --json command to print: traces, annotations, an approved
    scaffold and a granted role (granted last: once roles exist, the CLI may not approve its own draft)."""
    from tests.conftest import SAMPLES

    db = str(tmp_path_factory.mktemp("json") / "full.duckdb")
    assert main(["import", str(SAMPLES / f"{STUDENT}.json"), str(SAMPLES / f"{TEACHER}.json"), "--db", db]) == 0
    assert main(["critique", STUDENT, "--db", db]) == 0
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(["scaffold", "extract", TEACHER, "--db", db]) == 0
    scaffold_id = out.getvalue().split("\t")[0]
    for decision in ("submit", "approve"):
        assert main(["scaffold", decision, scaffold_id, "--version", "1", "--db", db]) == 0
    assert main(["run", str(one_task_file(tmp_path_factory.mktemp("tasks"))), "--student", "trellis/structural",
                 "--db", db]) == 0
    assert main(["experiment", "run", "--tasks", str(one_task_file(tmp_path_factory.mktemp("tasks"))), "--student",
                 "trellis/structural", "--arm", "none", "--arm", f"scaffold:{scaffold_id}", "--id", "json-shape-stored",
                 "--db", db]) == 0
    assert main(["user", "grant", "lee@example.com", "approver", "--db", db]) == 0
    return db, scaffold_id


def one_task_file(folder):
    path = folder / "one.jsonl"
    path.write_text(json.dumps({"format": "trellis-tasks", "version": 1}) + "\n" + json.dumps({
        "id": "cap", "task_class": "legal-contract-review", "instruction": "What is the liability cap?",
        "context": {"text": "The liability cap is 150% of the annual fees."}, "expected": 150,
        "checker": {"kind": "number"}, "budget": {"max_calls": 5, "max_tokens": 10000, "max_seconds": 60}}) + "\n")
    return path


def documented_json(command: str) -> tuple[type, set[str]]:
    """What docs/cli.md says `trellis COMMAND --json` prints: a list or one object, and its fields."""
    [row] = [line for line in DOCS.read_text().splitlines()
             if line.startswith((f"| `trellis {command} ", f"| `trellis {command}`"))]
    shape = row.rstrip(" |").rsplit(" | ", 1)[1]
    kind = list if shape.startswith("a list of objects") else dict if shape.startswith("one object") else None
    return kind, set(re.findall(r"`(\w+)`", shape))


@pytest.mark.parametrize("command", JSON_COMMANDS)
def test_each_json_command_prints_its_documented_shape(capsys, full_db, command, tmp_path):
    db, scaffold_id = full_db
    arguments, kind = JSON_COMMANDS[command]
    tasks = one_task_file(tmp_path)
    arguments = [a.replace("SCAFFOLD", scaffold_id) if "SCAFFOLD" in a else str(tasks) if a == "TASKS" else a
                 for a in arguments]
    code, out, err = run(capsys, *command.split(), *arguments, "--json", *(() if command in NO_STORE else ("--db", db)))
    assert code == 0, err
    printed = json.loads(out)
    assert isinstance(printed, kind) and printed
    objects = printed if kind is list else [printed]
    assert all(isinstance(o, dict) for o in objects)
    assert documented_json(command) == (kind, set(objects[0]))


def test_json_times_are_iso_8601_and_statuses_their_plain_value(capsys, full_db):
    db, scaffold_id = full_db
    listed = json.loads(run(capsys, "scaffold", "list", "--json", "--db", db)[1])
    [summary] = [s for s in listed if s["scaffold_id"] == scaffold_id]
    assert datetime.fromisoformat(summary["updated_at"]).tzinfo is not None and "T" in summary["updated_at"]
    assert (summary["latest_status"], summary["approved_version"]) == ("approved", 1)
    shown = json.loads(run(capsys, "scaffold", "show", scaffold_id, "--json", "--db", db)[1])
    assert (shown["status"], shown["reviewer"], shown["content"]["kind"]) == ("approved", os_account(), "scaffold")
    [grant] = json.loads(run(capsys, "user", "list", "--json", "--db", db)[1])
    assert grant["role"] == "approver" and datetime.fromisoformat(grant["granted_at"])


def test_every_json_option_is_documented_and_tested():
    commands_with_json = {name for name, sub in walk_commands(build_parser()) if "--json" in sub._option_string_actions}
    assert commands_with_json == set(JSON_COMMANDS)


def walk_commands(parser, prefix=""):
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        for name, sub in action.choices.items():
            if sub._subparsers:
                yield from walk_commands(sub, f"{prefix}{name} ")
            else:
                yield f"{prefix}{name}", sub


def test_importing_the_cli_imports_neither_litellm_nor_the_ui():
    """`trellis list` and friends start fast: only `trellis critique` imports litellm, and only when it runs."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, core.cli; print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1]).stdout.split()
    heavy = {"litellm", "streamlit", "plotly", "core.critique.teacher"}
    assert heavy.isdisjoint(loaded)


def test_a_teacher_and_its_fallbacks_all_failing_is_still_one_line(student_db):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")} | {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(
        [sys.executable, "-m", "core", "critique", "legal-msa-student-8b", "--teacher", "openai/gpt-4o-mini",
         "--fallback", "anthropic/claude-3-5-haiku-latest", "--retries", "0", "--db", student_db],
        capture_output=True, text=True, env=env, timeout=300,
    )
    problems = [line for line in done.stderr.splitlines() if not line.startswith("… ")]  # progress lines aside
    assert done.returncode == 1
    assert len(problems) == 1 and problems[0].startswith("error: teacher openai/gpt-4o-mini"), done.stderr


# --------------------------------------------------------------- pipes, a mistyped --db, everyday verbs

TRELLIS = Path(sys.executable).with_name("trellis")  # the installed entry point, as a person runs it
# ... running this checkout's code, whichever checkout the package was installed from
CHECKOUT = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


def trellis(*argv, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(TRELLIS), *argv], capture_output=True, text=True, timeout=120, env={**CHECKOUT, **(env or {})})


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path, db):
    """`trellis export BIG | head -n 1`: more than a pipe holds, and the reader goes after one line."""
    nodes = [{"id": f"n{i}", "parent_id": "n0" if i else None, "subproblem": "x" * 500} for i in range(1_000)]
    big = tmp_path / "big.jsonl"
    big.write_text(trellis_jsonl("big", nodes))
    assert trellis("import", str(big), "--db", db).returncode == 0
    for command in (["export", "big"], ["show", "big", "--json"], ["list"]):
        done = subprocess.run(["bash", "-c", 'set -o pipefail; "$@" | head -n 1', "bash", str(TRELLIS), *command,
                               "--db", db], capture_output=True, text=True, timeout=120, env=CHECKOUT)
        assert done.stderr == "", f"{command}: {done.stderr}"  # no BrokenPipeError traceback
        assert done.returncode in (0, 141) and done.stdout.count("\n") == 1


READ_ONLY = [["list"], ["show", "t"], ["export", "t"], ["annotations", "t"], ["audit"], ["user", "list"], ["runs"],
             ["scaffold", "list"], ["scaffold", "show", "s"], ["scaffold", "export", "s"], ["scaffold", "find", "a task"],
             ["experiment", "list"], ["experiment", "show", "e"], ["experiment", "export", "e"],
             ["delete", "t"], ["rename", "t", "A title"], ["tag", "t", "x"], ["untag", "t", "x"]]


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_a_command_on_a_missing_database_refuses_and_creates_nothing(capsys, tmp_path, command):
    typo = tmp_path / "typo.lake"
    code, out, err = run(capsys, *command, "--db", str(typo))
    assert (code, out) == (1, "")
    assert err == f"error: no store {typo} (check --db or $TRELLIS_STORE; `trellis import FILE --db {typo}` creates one)\n"
    assert list(tmp_path.iterdir()) == []


LONG_ID = "bugtriage-proration-student-7b-rerun-2024-09-13-with-the-long-context"


@pytest.fixture
def long_id_db(db, tmp_path, small_tree):
    path = tmp_path / "long.json"
    path.write_text(trellis_json(LONG_ID, small_tree, title="A title long enough to be cut in any table " * 3))
    assert main(["import", str(path), "--db", db]) == 0
    return db


def test_piped_list_prints_every_value_whole_tab_separated(long_id_db):
    done = trellis("list", "--db", long_id_db, env={"COLUMNS": "80"})
    header, row = done.stdout.splitlines()
    assert header.split("\t") == ["id", "title", "class", "role", "agent", "nodes", "depth", "tokens", "cost $", "tags"]
    assert row.split("\t")[:2] == [LONG_ID, ("A title long enough to be cut in any table " * 3).strip()]


def test_list_in_a_terminal_never_cuts_the_id(long_id_db):
    screen, terminal = pty.openpty()  # a terminal 100 columns wide, as rich sees it
    try:
        done = subprocess.run([str(TRELLIS), "list", "--db", long_id_db], stdout=terminal, stderr=subprocess.PIPE,
                              timeout=120, env={**CHECKOUT, "COLUMNS": "100", "TERM": "dumb"})
        shown = os.read(screen, 1 << 16).decode()
    finally:
        os.close(screen)
        os.close(terminal)
    assert done.returncode == 0 and "┃ id" in shown  # a table, not tab-separated lines
    assert LONG_ID in re.sub(r"\x1b\[[0-9;]*m", "", shown)


@pytest.fixture
def critiqued_db(capsys, student_db):
    """The legal student and teacher, the student critiqued (13 annotations) and a scaffold drawn from it."""
    assert run(capsys, "critique", STUDENT, "--db", student_db)[0] == 0
    code, out, _ = run(capsys, "scaffold", "extract", STUDENT, "--db", student_db)
    return student_db, out.split("\t")[0]


def test_deleting_a_critiqued_trace_is_refused_with_counts_unless_cascade(capsys, critiqued_db):
    db, scaffold_id = critiqued_db
    code, out, err = run(capsys, "delete", STUDENT, "--db", db)
    assert (code, out) == (1, "")
    assert err == f"error: trace {STUDENT} has 13 annotations and 1 critique run; --cascade deletes them too\n"
    assert len(json.loads(run(capsys, "annotations", STUDENT, "--db", db, "--json")[1])) == 13  # nothing deleted

    code, out, err = run(capsys, "delete", STUDENT, "--cascade", "--db", db)
    assert (code, out) == (0, f"deleted {STUDENT} with 13 annotations and 1 critique run\n")
    assert err == f"kept, still naming {STUDENT}: 1 scaffold drawn from it ({scaffold_id})\n"
    assert [t["id"] for t in json.loads(run(capsys, "list", "--db", db, "--json")[1])] == [TEACHER]
    assert run(capsys, "annotations", STUDENT, "--db", db)[2].startswith(f"error: no trace '{STUDENT}'")
    assert run(capsys, "scaffold", "show", scaffold_id, "--db", db)[0] == 0  # reviewed work stays
    [entry] = json.loads(run(capsys, "audit", "--target", STUDENT, "--limit", "1", "--db", db, "--json")[1])
    assert (entry["action"], entry["details"]) == (
        "delete trace", {"annotations": 13, "critique_runs": 1, "scaffolds_kept": [scaffold_id]})


def test_deleting_several_traces_is_all_or_nothing(capsys, student_db):
    code, _, err = run(capsys, "delete", TEACHER, "nope", "--db", student_db)
    assert code == 1 and err.startswith("error: no trace 'nope'")
    assert len(json.loads(run(capsys, "list", "--db", student_db, "--json")[1])) == 2
    assert run(capsys, "delete", TEACHER, STUDENT, "--db", student_db)[1] == f"deleted {TEACHER}\ndeleted {STUDENT}\n"
    assert run(capsys, "list", "--db", student_db, "--json")[1].strip() == "[]"


def test_deleting_a_student_run_needs_cascade_for_its_run_record(capsys, tmp_path, db):
    assert run(capsys, "run", str(one_task_file(tmp_path)), "--student", "trellis/structural", "--db", db)[0] == 0
    [stored] = json.loads(run(capsys, "runs", "--db", db, "--json")[1])
    code, _, err = run(capsys, "delete", stored["id"], "--db", db)
    assert code == 1 and err == f"error: trace {stored['id']} has 1 run; --cascade deletes them too\n"
    assert run(capsys, "delete", stored["id"], "--cascade", "--db", db)[1] == f"deleted {stored['id']} with 1 run\n"
    assert run(capsys, "runs", "--db", db, "--json")[1].strip() == "[]"


def test_rename_and_tags_show_in_list_and_the_audit_log(capsys, db, trace_file):
    run(capsys, "import", str(trace_file), "--db", db)
    assert run(capsys, "rename", "contract", "  MSA review,  second pass ", "--db", db)[1] == "contract\tMSA review, second pass\n"
    assert run(capsys, "tag", "contract", "Baseline", "legal/v2", "--db", db)[1] == "contract\tbaseline legal/v2\n"
    assert run(capsys, "tag", "contract", "baseline", "--db", db)[1] == "contract\tbaseline legal/v2\n"  # no change
    assert run(capsys, "untag", "contract", "legal/v2", "absent", "--db", db)[1] == "contract\tbaseline\n"
    [row] = json.loads(run(capsys, "list", "--db", db, "--json")[1])
    assert (row["title"], row["tags"]) == ("MSA review, second pass", ["baseline"])
    assert "baseline" in run(capsys, "list", "--db", db)[1].splitlines()[1].split("\t")
    actions = [e["action"] for e in json.loads(run(capsys, "audit", "--db", db, "--json")[1])]
    assert actions == ["tag trace", "tag trace", "tag trace", "rename trace", "import trace"]


def test_a_bad_tag_or_title_is_one_line_and_changes_nothing(capsys, db, trace_file):
    run(capsys, "import", str(trace_file), "--db", db)
    code, _, err = run(capsys, "tag", "contract", "ok", "two words", "--db", db)
    assert code == 1 and err.startswith("error: 'two words' is not a tag: a tag is 1 to 40 letters") and err.count("\n") == 1
    assert run(capsys, "rename", "contract", "   ", "--db", db)[2] == "error: a trace's title cannot be empty\n"
    [row] = json.loads(run(capsys, "list", "--db", db, "--json")[1])
    assert (row["title"], row["tags"]) == ("contract", [])


def test_replacing_a_trace_keeps_its_tags_and_annotations_or_refuses_clearly(capsys, tmp_path, critiqued_db):
    from tests.conftest import SAMPLES

    db, _ = critiqued_db
    run(capsys, "tag", STUDENT, "reviewed", "--db", db)
    document = json.loads((SAMPLES / f"{STUDENT}.json").read_text())
    document["trace"]["title"] = "re-exported"
    changed = tmp_path / "student.json"
    changed.write_text(json.dumps(document))
    assert run(capsys, "import", str(changed), "--replace", "--db", db)[0] == 0
    [row] = [t for t in json.loads(run(capsys, "list", "--db", db, "--json")[1]) if t["id"] == STUDENT]
    assert (row["title"], row["tags"]) == ("re-exported", ["reviewed"])
    annotations = json.loads(run(capsys, "annotations", STUDENT, "--db", db, "--json")[1])
    assert len(annotations) == 13

    annotated = {a["node_id"] for a in annotations if a["node_id"]}
    document["nodes"] = [n for n in document["nodes"] if n["id"] not in annotated or n.get("parent_id") is None]
    document["nodes"] = [n for n in document["nodes"] if n.get("parent_id") is None
                         or n["parent_id"] in {m["id"] for m in document["nodes"]}]
    changed.write_text(json.dumps(document))
    code, _, err = run(capsys, "import", str(changed), "--replace", "--db", db)
    assert code == 1 and err.startswith(f"error: trace '{STUDENT}' cannot be replaced: it has annotations or comments on ")
    assert f"(`trellis delete {STUDENT} --cascade`)" in err and err.count("\n") == 1
    [row] = [t for t in json.loads(run(capsys, "list", "--db", db, "--json")[1]) if t["id"] == STUDENT]
    assert row["title"] == "re-exported"  # nothing written


def test_a_file_of_unknown_format_is_told_how_to_name_its_format(capsys, db, tmp_path):
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"spans": [], "hello": 1}))
    code, _, err = run(capsys, "import", str(odd), "--db", db)
    assert (code, err) == (1, f"error: {odd}: unknown trace format: not Trellis JSON, an RLM log, OTLP/JSON or a "
                              "LangSmith run tree; name it with --format (trellis, rlm, otlp, langsmith)\n")
