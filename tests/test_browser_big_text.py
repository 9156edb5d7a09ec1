"""A node with 20 MB fields, served by the real app to real Chromium: the browser gets a head, never the field.

Every websocket frame the page receives is recorded; a 157 MB frame is what crashed the tab before.
"""

import json
import re

import pytest
from playwright.sync_api import expect

from core import Store, import_files
from core.text import SHOWN_CHARS
from tests.support.browser_support import open_app, serve, wait_until_idle

pytestmark = pytest.mark.browser

FIELD_CHARS = 20_000_000


def write_big_trace(path) -> dict[str, str]:
    fields = {name: f"{name} begins here. " + f"{name} " * ((FIELD_CHARS - 30) // (len(name) + 1))
              for name in ("subproblem", "output", "context")}
    nodes = [
        {"id": "root", "kind": "decompose", "subproblem": "Read the whole archive"},
        {"id": "huge", "parent_id": "root", "kind": "leaf", "name": "n" * 1_000_000, **fields},
    ]
    path.write_text(json.dumps({"format": "trellis", "version": 1, "trace": {"id": "big", "title": "Big text"}, "nodes": nodes}))
    return fields


def test_a_node_with_20_mb_fields_sends_only_a_head_to_the_browser(page, tmp_path, monkeypatch):
    fields = write_big_trace(tmp_path / "big.json")
    db = tmp_path / "big.duckdb"
    # Imports now refuse a node over 16 MB, but a database filled before that (or by another tool) still
    # holds such nodes, and the page must stay safe with them.
    monkeypatch.setattr("core.importers.MAX_NODE_BYTES", 1 << 30)
    with Store(db) as store:
        import_files(store, [tmp_path / "big.json"])

    frames: list[int] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(len(payload))))
    with serve(db) as url:
        open_app(page, f"{url}/trace?trace=big")
        page.get_by_role("combobox", name=re.compile("Go to one of 1 children")).click()
        page.get_by_role("option").first.click()
        page.wait_for_url("**node=huge")
        wait_until_idle(page)
        assert frames, "no websocket frames were recorded"
        assert max(frames) < 2_000_000, f"largest websocket frame {max(frames):,} bytes"

        notice = f"Showing the first {SHOWN_CHARS:,} of {len(fields['output']):,} characters."
        expect(page.get_by_text(notice).first).to_be_visible()
        code = page.locator("[data-testid=stCode]")
        expect(code.filter(has_text="output begins here.")).to_have_count(1)
        expect(code.filter(has_text="context begins here.")).to_have_count(1)
        shown = code.filter(has_text="output begins here.").inner_text()
        assert SHOWN_CHARS * 0.9 < len(shown) <= SHOWN_CHARS + 100

        # The whole field comes as a file over HTTP when asked for, not over the websocket.
        with page.expect_download() as download:
            page.get_by_role("button", name=f"Download all {len(fields['output']):,} characters", exact=True).click()
        assert download.value.suggested_filename == "huge-output.txt"
        assert download.value.path().read_text() == fields["output"]

    print(f"largest of {len(frames)} websocket frames: {max(frames):,} bytes")
    assert max(frames) < 2_000_000, f"largest websocket frame {max(frames):,} bytes"
