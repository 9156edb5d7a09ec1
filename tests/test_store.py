import subprocess
import sys

import pytest

from core import NotFound, Store, StoreError, import_files
from core.auth import PermissionDenied
from core.store.schema import MIGRATIONS
from tests.conftest import ROOT, trellis_json
from tests.support.people import ADA, DANA, VIC


def test_migrations_are_recorded_once(tmp_path):
    db = tmp_path / "t.duckdb"
    with Store(db) as store:
        first = store.applied_migrations()
    with Store(db) as store:
        assert store.applied_migrations() == first == [step.__name__ for step in MIGRATIONS]
    assert first[0] == "_m001_traces_and_nodes"


def test_stored_trace_round_trips_with_totals(store, tmp_path, small_tree):
    path = tmp_path / "t.json"
    path.write_text(trellis_json("t", small_tree, role="teacher", task_class="legal-contract-review"))
    import_files(store, [path])
    [summary] = store.list_traces()
    assert (summary.id, summary.node_count, summary.depth, summary.tokens, summary.cost) == ("t", 4, 1, 120, 0.5)
    loaded = store.load_trace("t")
    assert [n.id for n in loaded.nodes] == ["root", "s1", "s2", "agg"]
    assert loaded.trace.task_class == "legal-contract-review"


def test_importing_a_changed_trace_under_a_stored_id_is_refused_unless_replacing(store, tmp_path, small_tree):
    path = tmp_path / "t.json"
    path.write_text(trellis_json("t", small_tree))
    import_files(store, [path])
    path.write_text(trellis_json("t", small_tree, title="edited"))
    with pytest.raises(StoreError, match="already in"):
        import_files(store, [path])
    import_files(store, [path], replace=True)
    assert store.count_traces() == 1 and store.get_trace("t").title == "edited"


def test_unknown_trace_is_not_found(store):
    with pytest.raises(NotFound, match="no trace 'nope'"):
        store.load_trace("nope")


def test_a_second_process_is_told_the_file_is_in_use(tmp_path):
    db = tmp_path / "busy.duckdb"
    with Store(db):
        result = subprocess.run(
            [sys.executable, "-m", "core", "list", "--db", str(db)], capture_output=True, text=True, cwd=ROOT
        )
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {db}: the database is in use by another process")
    assert f"`trellis store migrate {db}`" in result.stderr  # and how to move it into a store many can share
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.fixture
def two_traces(store, tmp_path, small_tree):
    for trace_id in ("a", "b"):
        path = tmp_path / f"{trace_id}.json"
        path.write_text(trellis_json(trace_id, small_tree))
        import_files(store, [path])
    return store


def test_tags_are_listed_in_order_and_go_with_their_trace(two_traces):
    store = two_traces
    assert store.change_tags("a", DANA, add=["Zeta", "alpha", "zeta"]) == ["alpha", "zeta"]
    assert store.change_tags("b", DANA, add=["alpha"]) == ["alpha"]
    assert [(s.id, s.tags) for s in store.list_traces()] == [("a", ("alpha", "zeta")), ("b", ("alpha",))]
    assert store.all_tags() == ["alpha", "zeta"]
    store.delete_trace("a", ADA)  # tags alone never need --cascade
    assert store.all_tags() == ["alpha"]


def test_who_may_rename_tag_and_delete(two_traces):
    store = two_traces
    with pytest.raises(PermissionDenied, match="may not rename and tag traces"):
        store.rename_trace("a", "new", VIC)
    with pytest.raises(PermissionDenied, match="may not rename and tag traces"):
        store.change_tags("a", VIC, add=["x"])
    with pytest.raises(PermissionDenied, match="may not delete traces: that needs the admin role"):
        store.delete_traces(["a"], DANA)
    store.rename_trace("a", "new", DANA)
    assert store.get_trace("a").title == "new"
    assert [(e.actor, e.action, e.details) for e in store.audit_log(1)] == [
        (DANA.name, "rename trace", {"before": "a", "after": "new"})]


def test_a_refused_delete_leaves_every_trace_in_place(two_traces):
    store = two_traces
    with pytest.raises(NotFound):
        store.delete_traces(["a", "missing"], ADA)
    assert store.count_traces() == 2
    assert [links.trace_id for links in store.delete_traces(["a", "b"], ADA)] == ["a", "b"]
    assert store.count_traces() == 0
