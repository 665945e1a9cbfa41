"""The practitioner's journeys in real Chromium, with axe-core checking every page (WCAG 2.2 AA)."""
import pyotp
import pytest
from playwright.sync_api import expect

from indexing import rebuild

from ..integration.helpers import ALIAS, CHECKPOINT, add_child, years_ago
from ..support.accounts import add_user, next_code
from .conftest import enter_password, screenshot, sign_in_with_enrolment

DOB = years_ago(9, day=12)
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _search(page, accessibility, given="", family="", dob=None, postcode=""):
    page.fill("#given_name", given)
    page.fill("#family_name", family)
    if dob:
        page.fill("#dob-day", str(dob.day))
        page.fill("#dob-month", str(dob.month))
        page.fill("#dob-year", str(dob.year))
    page.fill("#postcode", postcode)
    page.click("#search-button")
    accessibility.check(page)


def _open_record(page, accessibility, purpose="safeguarding_concern"):
    page.locator("#results tbody tr a").first.click()
    expect(page).to_have_title("Why do you need this record? – ContactPoint")
    accessibility.check(page)
    page.check(f"#purpose-{purpose}")
    page.click("main button[type=submit]")
    accessibility.check(page)


def test_search_with_a_misspelling_open_the_record_for_a_purpose_and_register_involvement(
        signed_in, live_server, es, sessions, accessibility):
    page = signed_in
    target = add_child(sessions, given="Siobhan", family="McAllister", dob=DOB)
    add_child(sessions, given="Kwame", family="Mensah")
    rebuild(es, sessions, ALIAS, CHECKPOINT)

    _search(page, accessibility, "Siobhan", "McAlister", DOB)
    rows = page.locator("#results tbody tr")
    assert rows.count() == 1
    assert target in rows.first.inner_text() and "family name sounds like" in rows.first.inner_text()
    screenshot(page, "search-results")

    rows.first.locator("a").first.click()
    accessibility.check(page)
    page.click("main button[type=submit]")  # no purpose chosen
    assert "choose why you need this record" in page.locator("#error-summary").inner_text()
    accessibility.check(page)
    screenshot(page, "purpose-error")
    page.check("#purpose-safeguarding_concern")
    page.click("main button[type=submit]")
    assert page.inner_text("#child-name") == "Siobhan McAllister"
    assert page.inner_text("#cp-id") == target
    assert "LS6 2AB" in page.inner_text("#address")
    accessibility.check(page)
    screenshot(page, "child-record")

    page.click("#register-involvement")
    accessibility.check(page)
    page.fill("#role", "Health visitor")
    page.fill("#phone", "0113 496 0000")
    page.fill("#email", "not an email")
    page.check("#flags-4")  # information to share
    page.select_option("#sensitive_category", "mental_health")
    page.click("#register-button")
    accessibility.check(page)
    summary = page.locator("#error-summary").inner_text()
    assert "Email" in summary and "explicit consent" in summary
    assert page.input_value("#role") == "Health visitor" and page.input_value("#phone") == "0113 496 0000"
    assert page.is_checked("#flags-4") and page.input_value("#sensitive_category") == "mental_health"
    screenshot(page, "involvement-errors")
    page.fill("#email", "pat.jones@example.org")
    page.select_option("#sensitive_category", "")
    page.click("#register-button")
    assert page.inner_text("#done-message").startswith("You are recorded as working with this child (Health visitor)")
    accessibility.check(page)

    page.click("text=View the child's record")
    accessibility.check(page)
    page.check("#purpose-service_coordination")
    page.click("main button[type=submit]")
    involvements = page.inner_text("#involvements")
    assert "Pat Jones" in involvements and "Has information to share" in involvements
    accessibility.check(page)


def test_a_form_error_is_shown_and_what_was_typed_is_kept(signed_in, live_server, es, sessions, accessibility):
    page = signed_in
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    page.fill("#given_name", "Siobhan")
    page.fill("#family_name", "McAlister")
    page.fill("#dob-day", "30")
    page.fill("#dob-month", "2")
    page.fill("#dob-year", "2023")
    page.click("#search-button")
    assert "There is a problem" in page.locator("#error-summary").inner_text()
    assert page.locator("#dob-error").inner_text().split() == ["Error:", "Not", "a", "valid", "date."]
    assert page.input_value("#family_name") == "McAlister"
    accessibility.check(page)
    screenshot(page, "search-error")


def test_too_many_matches_asks_for_more_detail(signed_in, live_server, es, sessions, accessibility, settings):
    for _ in range(settings.max_results + 1):
        add_child(sessions, given="Amara", family="Smith", dob=DOB)
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    _search(signed_in, accessibility, "Amara", "Smith", DOB)
    assert signed_in.inner_text("#too-many").startswith("Too many children match")
    assert signed_in.locator("#results").count() == 0
    screenshot(signed_in, "too-many")


def test_an_la_manager_shields_a_record_and_a_practitioner_then_sees_it_redacted(
        new_page, live_server, es, sessions, accessibility):
    target = add_child(sessions, given="Leila", family="Haddad", dob=DOB, postcode="LS6 2AB", la_code="E08000035")
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    manager = new_page()
    sign_in_with_enrolment(manager, live_server, add_user(sessions, "lee.manager", role="la_management",
                                                          la_code="E08000035"), accessibility)
    _search(manager, accessibility, "Leila", "Haddad", DOB)
    _open_record(manager, accessibility)
    manager.click("text=Shield this record")
    accessibility.check(manager)
    manager.click("#save-shielding")  # nothing chosen
    assert "choose a reason" in manager.inner_text("#error-summary")
    accessibility.check(manager)
    manager.check("#shielded")
    manager.check("#reason_category")
    manager.click("#save-shielding")
    assert manager.inner_text("#done .govuk-panel__title") == "Record shielded"
    accessibility.check(manager)
    screenshot(manager, "shielding-done")

    practitioner = new_page()
    sign_in_with_enrolment(practitioner, live_server, add_user(sessions, "pat.jones"), accessibility)
    _search(practitioner, accessibility, "Leila", "Haddad", DOB, postcode="LS6 2AB")
    row = practitioner.locator("#results tbody tr").first
    assert target in row.inner_text() and "Shielded" in row.inner_text() and "postcode" not in row.inner_text()
    _open_record(practitioner, accessibility)
    assert "Shielded record" in practitioner.inner_text("#shielded-marker")
    assert practitioner.locator("#address").count() == 0 and "LS6" not in practitioner.content()
    screenshot(practitioner, "shielded-redacted")


def test_signing_in_again_asks_for_a_code_and_a_wrong_one_is_refused(page, live_server, sessions, accessibility):
    account = add_user(sessions, "pat.jones")
    sign_in_with_enrolment(page, live_server, account, accessibility)
    page.click("#sign-out")
    assert page.inner_text("#notice").strip().endswith("You have signed out.")
    accessibility.check(page)
    enter_password(page, account)
    expect(page).to_have_title("Enter your code – ContactPoint")
    accessibility.check(page)
    page.fill("#code", "000000" if pyotp.TOTP(account.secret).now() != "000000" else "111111")
    page.click("main button[type=submit]")
    assert "Enter the 6-digit code" in page.inner_text("#error-summary")
    accessibility.check(page)
    screenshot(page, "code-error")
    page.fill("#code", next_code(sessions, account))
    page.click("main button[type=submit]")
    expect(page).to_have_title("Find a child – ContactPoint")
    accessibility.check(page)
