"""One store that several processes use at once (a folder: a DuckLake with its catalog in SQLite), and moving
an old single-process .duckdb file into one with nothing lost."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from core.cli import main
from core.cli.common import acting
from core.store import Store
from tests.conftest import ROOT, SAMPLES

TEACHER, STUDENT = "legal-msa-teacher-70b", "legal-msa-student-8b"


def trellis(*args: str) -> subprocess.CompletedProcess:
    """The command line in a process of its own, as a person in a terminal runs it beside the app."""
    return subprocess.run([sys.executable, "-m", "core", *args], capture_output=True, text=True, cwd=ROOT)


def test_the_command_line_reads_and_writes_a_store_another_process_holds_open(tmp_path):
    lake = tmp_path / "shared.lake"
    with Store(lake) as app:  # as the served app holds it, for as long as it runs
        assert trellis("import", str(SAMPLES / f"{TEACHER}.json"), "--db", str(lake)).returncode == 0
        assert [t.id for t in app.list_traces()] == [TEACHER]  # the app sees what the terminal imported

        listed = trellis("list", "--db", str(lake))
        assert listed.returncode == 0, listed.stderr
        assert TEACHER in listed.stdout


def test_writers_in_several_processes_take_turns_and_nothing_is_lost(tmp_path):
    lake = tmp_path / "busy.lake"
    Store(lake).close()
    files = sorted(SAMPLES.glob("*.json"))[:4]
    writers = [subprocess.Popen([sys.executable, "-m", "core", "import", str(f), "--db", str(lake)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in files]
    outcomes = [w.communicate() + (w.returncode,) for w in writers]
    assert [code for _, _, code in outcomes] == [0] * len(files), [err for _, err, _ in outcomes]
    with Store(lake) as store:
        assert store.count_traces() == len(files)
        assert len(store.audit_log(actor=None)) == len(files)  # one audit row each, none lost to a race


def rich_duckdb_file(path) -> None:
    """A store from before the lake with something in every table a team fills: traces, tags, a critique and
    its review, a scaffold and its approval, a comment, a role."""
    assert main(["import", *map(str, sorted(SAMPLES.glob("*.json"))), "--db", str(path)]) == 0
    assert main(["tag", STUDENT, "baseline", "--db", str(path)]) == 0
    assert main(["critique", STUDENT, "--reference", TEACHER, "--db", str(path)]) == 0
    with Store(path) as store:
        first = store.list_annotations(STUDENT)[0]
        store.add_comment(STUDENT, first.node_id, "look at this one", acting(store))
    assert main(["review", "accept", first.id, "--db", str(path)]) == 0
    assert main(["scaffold", "extract", TEACHER, "--db", str(path)]) == 0
    assert main(["user", "grant", "lee@example.com", "approver", "--db", str(path)]) == 0


def test_an_old_duckdb_file_moves_into_a_shared_store_with_nothing_lost(tmp_path, capsys):
    old, lake = tmp_path / "trellis.duckdb", tmp_path / "trellis.lake"
    rich_duckdb_file(old)
    with Store(old) as store:
        before = store.table_fingerprints()
    capsys.readouterr()

    assert main(["store", "migrate", str(old), "--db", str(lake)]) == 0
    out = capsys.readouterr().out
    assert f"moved {old} into {lake}" in out and "content hash equal" in out

    with Store(lake) as store:
        after = store.table_fingerprints()
        assert store.list_annotations(STUDENT)[0].status == "accepted"
    assert after == before  # every table: the same rows and the same content hash
    assert {t.table for t in after} >= {"traces", "nodes", "annotations", "scaffold_versions", "audit_log", "users"}
    assert all(t.rows for t in after if t.table in ("traces", "nodes", "annotations", "trace_tags", "node_comments"))

    assert main(["store", "migrate", str(old), "--db", str(lake)]) == 1  # a store that holds something: refused
    assert capsys.readouterr().err.startswith(f"error: {lake} is not empty (")
    with Store(lake) as store:
        assert store.table_fingerprints() == before  # and left as it was


def test_make_run_fills_a_new_store_once_and_leaves_a_store_in_use_alone(tmp_path, capsys):
    """What `make run` does before serving (`trellis store init`), on any kind of store."""
    lake = tmp_path / "trellis.lake"
    init = ["store", "init", "--db", str(lake), "--samples", str(SAMPLES), "--from", str(tmp_path / "trellis.duckdb")]
    assert main(init) == 0  # no old file beside it: the samples
    samples = len(list(SAMPLES.glob("*.json")))
    assert capsys.readouterr().out == f"{lake} is ready, with {samples} traces from {SAMPLES}\n"
    assert main(["delete", TEACHER, "--db", str(lake)]) == 0
    capsys.readouterr()

    assert main(init) == 0
    assert capsys.readouterr().out == f"{lake} is already a store: left as it is\n"
    with Store(lake) as store:
        assert store.count_traces() == samples - 1  # what its user deleted stays deleted

    old, moved = tmp_path / "trellis.duckdb", tmp_path / "moved.lake"
    rich_duckdb_file(old)
    assert main(["store", "init", "--db", str(moved), "--samples", str(SAMPLES), "--from", str(old)]) == 0
    assert f"moved {old} into {moved}" in capsys.readouterr().out  # an old file beside it: what it holds
    with Store(old) as before, Store(moved) as after:
        assert after.table_fingerprints() == before.table_fingerprints()


def test_make_run_takes_any_store_location_the_operator_sets():
    made = subprocess.run(["make", "-n", "run"], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "TRELLIS_STORE": "postgres://trellis@db.internal:5432/trellis?sslmode=require"})
    assert made.returncode == 0, made.stderr
    assert "trellis store init --db 'postgres://trellis@db.internal:5432/trellis?sslmode=require' " in made.stdout
    assert "-- --db 'postgres://trellis@db.internal:5432/trellis?sslmode=require'" in made.stdout


def test_a_store_folder_copied_elsewhere_opens_there_with_its_traces(tmp_path):
    lake = tmp_path / "trellis.lake"
    assert main(["import", str(SAMPLES / f"{TEACHER}.json"), "--db", str(lake)]) == 0
    restored = shutil.copytree(lake, tmp_path / "backup" / "restored.lake")  # a backup, restored elsewhere
    with Store(restored) as store:
        assert store.load_trace(TEACHER).trace.id == TEACHER


def test_compacting_a_lake_folds_its_small_files_and_keeps_every_trace(tmp_path, capsys):
    lake = tmp_path / "busy.lake"
    files = [SAMPLES / f"{TEACHER}.json", SAMPLES / f"{STUDENT}.json", SAMPLES / "mdqa-guidance-teacher-72b.json"]
    for f in files:  # one commit each, as imports and a collector's batches come
        assert main(["import", str(f), "--db", str(lake)]) == 0
    with Store(lake) as reader:  # another process reading meanwhile
        before = reader.table_fingerprints()
        capsys.readouterr()
        assert main(["store", "compact", "--db", str(lake), "--keep-minutes", "0"]) == 0
        assert capsys.readouterr().out.startswith(f"compacted {lake}: ")
        assert reader.table_fingerprints() == before
        assert len(reader.load_trace(TEACHER).nodes) == 37  # its data files were rewritten; the trace reads whole
