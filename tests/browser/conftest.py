"""Real Chromium (Debian's) driven by Playwright against the app served on 127.0.0.1."""
from pathlib import Path

import pytest
from playwright.sync_api import expect

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


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


AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


class AccessibilityLog:
    """Every page a test loads must be checked with axe-core before the next one loads."""

    def __init__(self):
        self.loads: list[list] = []

    def watch(self, page):
        page.on("load", lambda loaded: self.loads.append([loaded.url, False]))

    def check(self, page):
        page.wait_for_load_state("load")
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.add_script_tag(path=str(AXE))
        result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_22_AA)
        problems = [(v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in result["violations"]]
        assert problems == [], f"accessibility violations on {page.url}: {problems}"
        if self.loads:
            self.loads[-1][1] = True

    def unchecked(self) -> list[str]:
        return [url for url, checked in self.loads if not checked]


@pytest.fixture
def accessibility():
    log = AccessibilityLog()
    yield log
    assert log.unchecked() == [], "pages loaded but never checked with axe-core"


@pytest.fixture
def new_page(browser, accessibility):
    """Pages in fresh browser contexts (separate cookies), each watched for accessibility checks.

    The contexts bypass the app's Content-Security-Policy only so that axe-core can be injected.
    """
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run scripts/build-frontend (make test does)")
    contexts = []

    def make():
        context = browser.new_context(bypass_csp=True)
        contexts.append(context)
        page = context.new_page()
        accessibility.watch(page)
        return page
    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def enter_password(page, account):
    page.fill("#username", account.username)
    page.fill("#password", account.password)
    page.click("main button[type=submit]")


def sign_in_with_enrolment(page, live_server, account, accessibility, home_title="Find a child – ContactPoint"):
    """The first sign-in journey: password, then set up the authenticator from the page's own key."""
    import pyotp

    page.goto(live_server + "/")
    expect(page).to_have_title("Sign in – ContactPoint")
    accessibility.check(page)
    enter_password(page, account)
    expect(page).to_have_title("Set up your authenticator app – ContactPoint")
    accessibility.check(page)
    screenshot(page, "totp-enrolment")
    secret = page.inner_text("#totp-secret")
    assert secret == account.secret
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("main button[type=submit]")
    expect(page).to_have_title(home_title)
    accessibility.check(page)


@pytest.fixture
def signed_in(page, live_server, sessions, accessibility):
    """A page signed in as a practitioner (who enrolled their authenticator on the way)."""
    from ..support.accounts import add_user

    sign_in_with_enrolment(page, live_server, add_user(sessions, "pat.jones"), accessibility)
    return page
