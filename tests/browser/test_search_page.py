"""The plain search page in real Chromium: search with a misspelling and find the child."""
import pytest

from indexing import rebuild

from ..integration.helpers import ALIAS, CHECKPOINT, add_child, years_ago
from .conftest import screenshot

DOB = years_ago(9, day=12)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_search_with_a_misspelling_finds_the_child_and_opens_the_record_for_a_purpose(
        signed_in, live_server, es, sessions):
    page = signed_in
    target = add_child(sessions, given="Siobhan", family="McAllister", dob=DOB)
    add_child(sessions, given="Kwame", family="Mensah")
    rebuild(es, sessions, ALIAS, CHECKPOINT)

    page.goto(live_server + "/")
    assert page.title() == "Find a child – ContactPoint"
    page.fill("#given_name", "Siobhan")
    page.fill("#family_name", "McAlister")
    page.fill("#dob-day", str(DOB.day))
    page.fill("#dob-month", str(DOB.month))
    page.fill("#dob-year", str(DOB.year))
    page.click("main button[type=submit]")
    rows = page.locator("#results tbody tr")
    assert rows.count() == 1
    assert target in rows.first.inner_text()
    assert "family name sounds like" in rows.first.inner_text()
    screenshot(page, "search-results")

    rows.first.locator("a").first.click()
    assert page.title() == "Why do you need this record? – ContactPoint"
    page.click("main button[type=submit]")  # no purpose chosen
    assert "choose why you need this record" in page.locator("#error-summary").inner_text()
    page.check("#purpose-safeguarding_concern")
    page.click("main button[type=submit]")
    assert page.inner_text("#child-name") == "Siobhan McAllister"
    assert page.inner_text("#cp-id") == target
    assert "LS6 2AB" in page.inner_text("#address")
    screenshot(page, "child-record")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_form_error_is_shown_and_what_was_typed_is_kept(signed_in, live_server, es, sessions):
    page = signed_in
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    page.goto(live_server + "/")
    page.fill("#given_name", "Siobhan")
    page.fill("#family_name", "McAlister")
    page.fill("#dob-day", "30")
    page.fill("#dob-month", "2")
    page.fill("#dob-year", "2023")
    page.click("main button[type=submit]")
    assert "There is a problem" in page.locator("#error-summary").inner_text()
    assert page.locator("#dob-error").inner_text().split() == ["Error:", "Not", "a", "valid", "date."]
    assert page.input_value("#family_name") == "McAlister"
    screenshot(page, "search-error")
