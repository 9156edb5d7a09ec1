"""Login end to end: a real OpenID Connect provider (oidc-provider-mock) on loopback, the real app with
login configured, and Chromium signing in through the provider's form as an approver and as a viewer."""

import subprocess
import sys
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from core import Store
from core.auth import Role, local_actor
from core.scaffolds import ScaffoldStatus
from core.scaffolds.drafts import draft_scaffold
from tests.support.browser_support import free_port, open_app, screenshot, serve, wait_until_idle
from tests.support.people import DANA
from tests.support.scaffold_library import import_samples

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def identity_provider():
    """oidc-provider-mock on a free loopback port, stopped by its process id."""
    port = free_port()
    provider = subprocess.Popen(
        [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/.well-known/openid-configuration", timeout=2):
                    break
            except OSError:
                if provider.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("oidc-provider-mock did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        provider.terminate()
        provider.wait(timeout=10)


@pytest.fixture(scope="module")
def team_app(tmp_path_factory, identity_provider):
    """The app with login configured, over a store where Lee approves and Vic views; Dana submitted a scaffold."""
    folder = tmp_path_factory.mktemp("team")
    db = folder / "trellis.duckdb"
    with Store(db) as store:
        import_samples(store)
        store.grant_role("lee@example.com", Role.APPROVER, local_actor())
        store.grant_role("vic@example.com", Role.VIEWER, local_actor())
        draft = draft_scaffold(store, ["legal-msa-teacher-70b"], author=DANA)
        store.set_scaffold_status(draft.version.scaffold_id, 1, ScaffoldStatus.IN_REVIEW, actor=DANA)
    port = free_port()
    secrets = folder / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "a-long-random-test-cookie-secret"\n'
        'client_id = "trellis"\n'
        'client_secret = "trellis-secret"\n'
        f'server_metadata_url = "{identity_provider}/.well-known/openid-configuration"\n'
    )
    with serve(db, port=port, options=["--secrets.files", str(secrets)]) as url:
        yield url, db, draft.version.scaffold_id


def sign_in(page, url: str, email: str) -> None:
    open_app(page, url)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/oauth2/authorize**")
    page.locator("input[name=sub]").fill(email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{url}/**")
    page.wait_for_selector("[data-testid=stApp]")
    wait_until_idle(page)
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()


def open_review(page, url: str, scaffold_id: str) -> None:
    page.goto(f"{url}/scaffolds?scaffold={scaffold_id}&tab=Review")
    page.wait_for_selector("[data-testid=stApp]")
    wait_until_idle(page)


def test_nobody_sees_a_trace_before_signing_in(page, team_app):
    url, _, _ = team_app
    page.goto(f"{url}/library")
    page.wait_for_selector("[data-testid=stApp]")
    wait_until_idle(page)
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    expect(page.get_by_text("legal-msa-teacher-70b")).to_have_count(0)


def test_a_viewer_cannot_approve_and_an_approver_can_under_their_own_name(browser, team_app):
    url, _, scaffold_id = team_app
    viewer = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
    sign_in(viewer, url, "vic@example.com")
    expect(viewer.get_by_text("viewer", exact=True)).to_be_visible()
    open_review(viewer, url, scaffold_id)
    expect(viewer.get_by_text("only approvers approve, reject or deprecate")).to_be_visible()
    expect(viewer.get_by_role("button", name="Approve")).to_be_disabled()
    screenshot(viewer, "login-viewer-review")
    viewer.context.close()

    approver = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
    sign_in(approver, url, "lee@example.com")
    open_review(approver, url, scaffold_id)
    approver.get_by_role("button", name="Approve").click()
    wait_until_idle(approver)
    expect(approver.get_by_text(f"{scaffold_id} v1 is now approved.")).to_be_visible()
    # The app holds the database, so the record is read where a person would read it: the Audit page.
    approver.goto(f"{url}/audit")
    approver.wait_for_selector("[data-testid=stApp]")
    wait_until_idle(approver)
    changes = approver.get_by_test_id("stDataFrame").last
    expect(changes).to_contain_text("scaffold approved")
    expect(changes).to_contain_text("lee@example.com")
    screenshot(approver, "login-approver-audit")
    approver.context.close()


def listening_addresses(port: int) -> set[str]:
    """The local addresses a socket on this machine listens on for ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.rsplit(":", 1)
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    found.add(address)
    return found


def test_without_login_the_app_listens_on_loopback_only(app_url):
    port = int(app_url.rsplit(":", 1)[1])
    assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, and no wildcard or IPv6 socket
