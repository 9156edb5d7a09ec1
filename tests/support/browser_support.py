"""Browser-test plumbing shared by every tests/test_browser_*.py module: one `streamlit run app.py`
server on the sample library, one headless Chromium, and helpers to wait for reruns and take screenshots.

The fixtures are registered once, in tests/conftest.py, so every module shares the one server and the
one browser (two Playwright instances in one process cannot run side by side).
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect, sync_playwright

from tests.support.explorer_library import ROOT, build_library

expect.set_options(timeout=20_000)  # a cold first run loads and aligns traces before drawing

ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def app_server(db: Path, *, port: int | None = None, app: Path = ROOT, options: Sequence[str] = (),
               env: Mapping[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """`streamlit run app.py -- --db DB` in the checkout `app` (this one unless told), on a free port (or ``port``),
    with extra Streamlit ``options`` (e.g. ``--secrets.files``) and environment; yields its URL and process id.

    The browser tests and the browser benchmarks (bench/) both start the app this way. Its output goes to
    tests/artifacts/streamlit-PORT.log, kept for a failing test to be looked into (a pipe nobody reads
    would fill and stall the server); if it does not start, the error shows the end of that log.
    """
    port = port or free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / f"streamlit-{port}.log"
    with log.open("wb") as output:  # the server keeps its own handle on the file
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false", *options, "--", "--db", str(db)],
            cwd=app, stdout=output, stderr=subprocess.STDOUT,
            env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", **os.environ, "TRELLIS_STORE": "", **(env or {})},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a busy 2-core machine can take a while to import Streamlit
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                why = f"exited with code {server.returncode}" if server.poll() is not None else "did not answer in 120 s"
                raise RuntimeError(f"streamlit {why}; the end of {log}:\n{log.read_text(errors='replace')[-4000:]}")
            time.sleep(0.3)
        yield url, server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@contextmanager
def serve(db: Path, **kwargs) -> Iterator[str]:
    """`app_server` (the same arguments), yielding only the URL: all a browser test needs."""
    with app_server(db, **kwargs) as (url, _pid):
        yield url


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    db = folder / "trellis.duckdb"
    build_library(db, folder / "traces")
    with serve(db) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    assert Path(CHROMIUM).exists(), "Chromium is not installed: `make test` installs Debian's chromium"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    page.dialogs = []  # every alert/confirm/prompt a page opens: there must be none
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.set_default_timeout(20_000)
    yield page
    context.close()


def open_app(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("[data-testid=stApp]")
    wait_until_idle(page)


def wait_until_idle(page) -> None:
    """Wait until the script run a click started has finished drawing."""
    page.wait_for_timeout(300)
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')", timeout=30_000)
    page.wait_for_timeout(300)


def choose(page, box, option) -> None:
    """Open a select box and choose the first option whose name matches (a str part or a pattern). A rerun
    still drawing when the list opened closes it again, taking the options with it: then open it again."""
    for attempt in range(3):
        box.click()
        try:
            page.get_by_role("option", name=option).first.click(timeout=5_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            wait_until_idle(page)
    wait_until_idle(page)


def type_text(page, box, text: str) -> None:
    """Type into a text box and leave it, as a person does before pressing a button: Streamlit takes a text
    box's value when it loses focus, and a button clicked while that rerun is still drawing can go unheard."""
    box.fill(text)
    box.press("Tab")
    wait_until_idle(page)


def upload(page, *files: tuple[str, bytes]) -> None:
    """Import (name, content) files through the Library's upload form, as a person does: choose them, wait
    until each has arrived (a form sent mid-upload goes without it), then press Import."""
    if not page.get_by_test_id("stFileUploaderDropzone").is_visible():
        page.get_by_text("Import trace files", exact=True).click()
    page.locator("input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": "application/json", "buffer": content} for name, content in files])
    for name, _ in files:
        expect(page.get_by_test_id("stFileChipName").filter(has_text=name)).to_be_visible()
    expect(page.get_by_test_id("stFileChipIconSpinner")).to_have_count(0)
    page.get_by_role("button", name="Import", exact=True).click()
    wait_until_idle(page)


def cut_texts(page) -> list[str]:
    """The metrics, buttons and page links shown whose text does not fit them (the browser cuts it to "10..." or
    "Par...")."""
    return page.evaluate("""() => [...document.querySelectorAll(
            '[data-testid=stMetricValue], [data-testid=stMetricLabel], [data-testid=stMetricDelta], button, '
            + '[data-testid=stMain] a')]
        .filter(e => e.offsetParent !== null)
        .flatMap(e => [e, ...e.querySelectorAll('*')])
        .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflow !== 'visible')
        .map(e => e.innerText.trim()).filter(t => t)""")


def drawn_text_sizes(page) -> list[float]:
    """The size in CSS px that each text of the graphviz pictures shown is drawn at, their scaling included."""
    return page.locator("[data-testid=stGraphVizChart] svg:visible").evaluate_all("""svgs => svgs.flatMap(svg => {
        const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
        return [...svg.querySelectorAll('text')].map(t => parseFloat(t.getAttribute('font-size')) * scale);
    })""")


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
