"""The team deployment (docs/deploy.md): a DuckLake whose catalog is in a real PostgreSQL (a throwaway cluster
of Debian's `postgresql`) and whose data lies in a folder every process reaches. What one process writes,
every other sees: the command line, and two app replicas in real headless Chromium."""

import itertools
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from core.cli import main
from core.importers import import_files
from core.store import Store
from core.store.connection import DATA_PATH_VARIABLE
from core.store.schema import MIGRATIONS
from tests.conftest import ROOT, SAMPLES, trellis_json
from tests.support.browser_support import choose, open_app, serve, type_text, upload, wait_until_idle
from tests.support.collector import collecting, long_run, post
from tests.support.postgres import new_database, postgres_bin, throwaway_postgres

TEACHER = "legal-msa-teacher-70b"
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def postgres_cluster(tmp_path_factory):
    """One throwaway cluster for the module; each test makes its own store (database) in it."""
    with throwaway_postgres(tmp_path_factory.mktemp("postgres")) as url:
        yield url


@pytest.fixture
def postgres_store(postgres_cluster, tmp_path, monkeypatch):
    """The URL of a new, empty Postgres store, its data folder in $TRELLIS_DATA_PATH for this process and
    every process it starts."""
    monkeypatch.setenv(DATA_PATH_VARIABLE, str(tmp_path / "data"))
    return new_database(postgres_cluster, f"store_{next(_numbers)}")


def trellis(*args: str) -> subprocess.CompletedProcess:
    """The command line in a process of its own, as on another machine of the team."""
    return subprocess.run([sys.executable, "-m", "core", *args], capture_output=True, text=True, cwd=ROOT)


def test_what_one_process_imports_every_other_process_reads(postgres_store, tmp_path, small_tree):
    samples = sorted(SAMPLES.glob("*.json"))
    with Store(postgres_store) as store:
        imported = import_files(store, samples)
        assert sorted(s.id for s in store.list_traces()) == sorted(t.trace.id for t in imported)
        assert len(store.load_trace(TEACHER).nodes) == len(next(t for t in imported if t.trace.id == TEACHER).nodes)

        listed = trellis("list", "--db", postgres_store)  # another process
        assert listed.returncode == 0, listed.stderr
        assert {line.split("\t")[0] for line in listed.stdout.splitlines()[1:]} == {t.trace.id for t in imported}

        (tmp_path / "late.json").write_text(trellis_json("from-the-terminal", small_tree))
        assert trellis("import", str(tmp_path / "late.json"), "--db", postgres_store).returncode == 0
        assert store.get_trace("from-the-terminal").title == "from-the-terminal"  # the open store sees it at once


def test_replicas_that_start_together_on_a_new_store_all_open_it(postgres_store):
    # They all find the empty database and create the lake's catalog in it, then migrate it, at the same moment.
    openers = [subprocess.Popen([sys.executable, "-m", "core", "list", "--db", postgres_store], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outcomes = [opener.communicate()[1] for opener in openers]
    assert [opener.returncode for opener in openers] == [0, 0, 0], outcomes
    with Store(postgres_store) as store:
        assert sorted(store.applied_migrations()) == sorted(step.__name__ for step in MIGRATIONS)  # each once


def test_writers_in_several_processes_take_turns_and_nothing_is_doubled(postgres_store):
    Store(postgres_store).close()
    files = sorted(SAMPLES.glob("*.json"))[:4]
    writers = [subprocess.Popen([sys.executable, "-m", "core", "import", str(f), "--db", postgres_store], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for f in [*files, files[0], files[0]]]  # the first file three times at once: stored once
    outcomes = [w.communicate() + (w.returncode,) for w in writers]
    assert [code for _, _, code in outcomes[:len(files)]] == [0] * len(files), [err for _, err, _ in outcomes]
    with Store(postgres_store) as store:
        assert sorted(s.id for s in store.list_traces()) == sorted(t.stem for t in files)
        nodes = store.load_trace(files[0].stem).nodes
        assert len({n.id for n in nodes}) == len(nodes)
        seqs = [entry.seq for entry in store.audit_log(actor=None)]
        assert sorted(seqs) == list(range(1, len(files) + 1))  # one audit row per import, each its own number


def test_an_old_duckdb_file_moves_into_a_postgres_store_with_nothing_lost(postgres_store, tmp_path, capsys):
    old = tmp_path / "trellis.duckdb"
    assert main(["import", *map(str, sorted(SAMPLES.glob("*.json"))), "--db", str(old)]) == 0
    assert main(["tag", TEACHER, "baseline", "--db", str(old)]) == 0
    with Store(old) as store:
        before = store.table_fingerprints()

    assert main(["store", "migrate", str(old), "--db", postgres_store]) == 0
    assert "content hash equal" in capsys.readouterr().out
    with Store(postgres_store) as store:
        assert store.table_fingerprints() == before


def test_a_backup_of_catalog_and_data_folder_restores_into_another_database(postgres_store, postgres_cluster,
                                                                          tmp_path, monkeypatch):
    with Store(postgres_store) as store:
        import_files(store, sorted(SAMPLES.glob("*.json")))
        before = store.table_fingerprints()
    tools = postgres_bin()
    # The catalog first, then the data folder: data files are only ever added (until `trellis store compact`),
    # so every file the dumped catalog names is in the copy.
    subprocess.run([tools / "pg_dump", "--format=custom", "--file", tmp_path / "catalog.dump", postgres_store],
                   check=True)
    shutil.copytree(tmp_path / "data", tmp_path / "backup" / "data")

    restored = new_database(postgres_cluster, f"restored_{next(_numbers)}")
    subprocess.run([tools / "pg_restore", "--no-owner", "--dbname", restored, tmp_path / "catalog.dump"], check=True)
    # Restored under another path, so the catalog is told where its data files now are.
    data = tmp_path / "backup" / "data"
    subprocess.run([tools / "psql", "--quiet", "--dbname", restored, "--command",
                    f"UPDATE ducklake_metadata SET value = '{data}/' WHERE key = 'data_path'"], check=True)
    monkeypatch.setenv(DATA_PATH_VARIABLE, str(data))
    with Store(restored) as store:
        assert store.table_fingerprints() == before


def test_two_collectors_on_one_store_keep_each_span_once(postgres_store):
    """Two `trellis collect` replicas behind one address: every batch reaches both (a client's retry sent to the
    other replica), at the same time, in opposite orders."""
    trace_id, spans, batches = long_run(20, per_request=4)

    Store(postgres_store).close()  # created before the replicas start, as `make run` does
    with collecting(postgres_store) as a, collecting(postgres_store) as b:
        sends = [send for pair in zip([(a.url, batch) for batch in batches], [(b.url, batch) for batch in batches[::-1]])
                 for send in pair]  # two clients: one posting to A while the other posts to B
        with ThreadPoolExecutor(2) as clients:
            answers = list(clients.map(lambda send: post(*send)[0], sends))
    assert set(answers) == {200}
    with Store(postgres_store) as store:
        ids = [n.id for n in store.load_trace(trace_id).nodes]
        assert store.received_span_count(trace_id) == spans == 21
    assert len(ids) == len(set(ids)) == 21


def rename(page, trace_id: str, title: str) -> None:
    page.get_by_text("Rename, tag or delete a trace").click()
    manage = page.get_by_test_id("stExpander").filter(has_text="Rename, tag or delete a trace")
    choose(page, manage.get_by_test_id("stSelectbox").get_by_role("combobox"), trace_id)
    type_text(page, manage.get_by_label("Title"), title)
    manage.get_by_role("button", name="Save", exact=True).click()
    wait_until_idle(page)


@pytest.mark.browser
def test_two_app_replicas_see_each_others_writes(postgres_store, browser, page, small_tree):
    with serve(postgres_store) as replica_a, serve(postgres_store) as replica_b:
        open_app(page, f"{replica_a}/library")
        upload(page, ("handoff.json", trellis_json("handoff", small_tree, title="Uploaded through replica A").encode()))
        expect(page.get_by_text("handoff.json: imported handoff (4 nodes)")).to_be_visible()
        open_app(page, f"{replica_a}/trace?trace=handoff")
        expect(page.get_by_role("heading", name="Uploaded through replica A")).to_be_visible()

        context = browser.new_context(viewport={"width": 1400, "height": 1800})
        try:
            other = context.new_page()
            open_app(other, f"{replica_b}/library")
            rename(other, "handoff", "Renamed through replica B")  # replica B lists what A stored
            expect(other.get_by_text("Saved handoff.")).to_be_visible()
        finally:
            context.close()

        open_app(page, f"{replica_a}/trace?trace=handoff")  # the trace replica A showed a moment ago
        expect(page.get_by_role("heading", name="Renamed through replica B")).to_be_visible()
