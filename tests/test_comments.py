"""Reviewers' free-form comments on any node of a trace, in a real DuckDB."""

import pytest

from core import Store, import_files
from core.auth import PermissionDenied
from core.errors import NotFound, TrellisError
from tests.conftest import trellis_json
from tests.support.people import DANA, VIC


@pytest.fixture
def store(tmp_path, small_tree):
    path = tmp_path / "t.json"
    path.write_text(trellis_json("t", small_tree))
    with Store(tmp_path / "trellis.duckdb") as store:
        import_files(store, [path])
        yield store


def test_a_reviewer_comments_on_a_node_and_it_is_kept_with_its_author(store, small_tree):
    node = small_tree[1]["id"]
    store.add_comment("t", node, "  <b>Too wide</b>: split by clause  ", DANA)
    store.add_comment("t", node, "Second thought", DANA)
    comments = store.list_comments("t", node)
    assert [(c.body, c.author) for c in comments] == [("<b>Too wide</b>: split by clause", DANA.name),
                                                      ("Second thought", DANA.name)]
    assert store.list_comments("t", small_tree[0]["id"]) == []
    assert len(store.list_comments("t")) == 2
    logged = [e for e in store.audit_log() if e.action == "comment on node"]
    assert [(e.actor, e.target) for e in logged] == [(DANA.name, "t")] * 2


def test_a_comment_needs_text_a_real_node_and_the_right_to_review(store, small_tree):
    node = small_tree[1]["id"]
    with pytest.raises(TrellisError, match="needs some text"):
        store.add_comment("t", node, "   ", DANA)
    with pytest.raises(NotFound, match="no node 'nope'"):
        store.add_comment("t", "nope", "hello", DANA)
    with pytest.raises(NotFound, match="no trace 'other'"):
        store.add_comment("other", node, "hello", DANA)
    with pytest.raises(PermissionDenied):
        store.add_comment("t", node, "hello", VIC)
    assert store.list_comments("t") == []
    assert not [e for e in store.audit_log() if e.action == "comment on node"]
