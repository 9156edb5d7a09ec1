"""ui.plain(): untrusted text for places Streamlit renders as Markdown (tests/test_browser_autolinks.py checks it in Chromium)."""

import re

import pytest

from pages import ui

# The GFM autolink-literal patterns Streamlit's Markdown renderer runs over text (mdast-util-gfm-autolink-literal).
GFM_URL = re.compile(r"(https?://|www(?=\.))([-.\w]+)", re.IGNORECASE)
GFM_EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)", re.ASCII)


def unescaped(markdown: str) -> str:
    """What Markdown makes of backslash escapes: the text its autolinker then searches."""
    return re.sub(r"\\(.)", r"\1", markdown)


@pytest.mark.parametrize("text", [
    "https://evil.example/login", "see HTTP://evil.example", "www.evil.example", "WWW.evil.example/path",
    "admin@evil.example", "mailto:admin@evil.example", "a https://www.evil.example b admin@evil.example",
])
def test_bare_urls_and_email_addresses_are_left_nothing_to_link(text):
    shown = unescaped(ui.plain(text))
    assert not GFM_URL.search(shown) and not GFM_EMAIL.search(shown)
    assert shown.replace(ui.ZERO_WIDTH_SPACE, "") == text, "it reads exactly as written"


def test_markdown_is_still_escaped_and_whitespace_collapsed():
    assert ui.plain("**bold**\n[x](javascript:alert(1))") == r"\*\*bold\*\* \[x\]\(javascript\:alert\(1\)\)"
