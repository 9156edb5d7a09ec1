"""Uploading trace files on the Library page, run by Streamlit's AppTest against a real DuckDB file."""

import pytest

from tests.conftest import trellis_json
from tests.support.explorer_library import open_page


@pytest.fixture
def library_page(tmp_path, monkeypatch):
    monkeypatch.setenv("TRELLIS_STORE", str(tmp_path / "upload.duckdb"))
    return open_page("library")


def upload(at, name: str, text: str):
    at.file_uploader[0].set_value((name, text.encode(), "application/json"))
    return at.button[0].click().run()


def test_a_number_too_big_to_store_is_one_line_naming_only_the_file(library_page, small_tree):
    small_tree[3]["tokens_in"] = 10**30
    at = upload(library_page, "big.json", trellis_json("big", small_tree))
    assert not at.exception
    [error] = [e.value.replace("\\", "") for e in at.error]  # shown escaped, so never read as markup
    assert error == "big.json: nodes[3].tokens_in: 1e30 is larger than the largest whole number Trellis stores (2^63-1)"


def test_uploading_the_same_file_again_says_it_is_already_imported(library_page, small_tree):
    upload(library_page, "t.json", trellis_json("t", small_tree))
    at = upload(library_page, "t.json", trellis_json("t", small_tree))
    assert not at.exception and not at.error
    messages = [e.value.replace("\\", "") for e in at.info]
    assert "t.json: already imported as trace t (identical content); nothing to do" in messages
