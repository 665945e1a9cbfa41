"""Real Chromium (Debian's) driven by Playwright against the app served on 127.0.0.1."""
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap as root (make test does) to install chromium")
    with sync_playwright() as playwright:
        # Playwright passes --user-data-dir itself for a fresh, throwaway profile.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in_with_enrolment(page, live_server, account):
    """The first sign-in journey: password, then set up the authenticator from the page's own key."""
    import pyotp

    page.goto(live_server + "/")
    assert page.title() == "Sign in – ContactPoint"
    page.fill("#username", account.username)
    page.fill("#password", account.password)
    page.click("button[type=submit]")
    assert page.title() == "Set up your authenticator app – ContactPoint"
    secret = page.inner_text("#totp-secret")
    assert secret == account.secret
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    assert page.title() == "Find a child – ContactPoint"


@pytest.fixture
def signed_in(page, live_server, sessions):
    """A page signed in as a practitioner (who enrolled their authenticator on the way)."""
    from ..support.accounts import add_user

    sign_in_with_enrolment(page, live_server, add_user(sessions, "pat.jones"))
    return page
