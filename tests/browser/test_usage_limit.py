"""A practitioner who reaches the search limit gets a clear page, not results."""
import pytest
from playwright.sync_api import expect

from indexing import rebuild

from ..integration.helpers import ALIAS, CHECKPOINT, add_child, years_ago
from .conftest import screenshot

DOB = years_ago(7, day=3)


@pytest.fixture
def settings(settings):
    return settings.replace(search_limit="2 per hour")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_third_search_in_an_hour_hits_the_limit(signed_in, live_server, es, sessions, accessibility):
    add_child(sessions, given="Amara", family="Okafor", dob=DOB)
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    page = signed_in
    for attempt in range(3):
        page.fill("#given_name", "Amara")
        page.fill("#family_name", "Okafor")
        page.click("#search-button")
        accessibility.check(page)
        if attempt < 2:
            assert page.locator("#results tbody tr").count() == 1
            page.goto(page.url.rsplit("/", 1)[0] + "/")
            accessibility.check(page)
    expect(page).to_have_title("Usage limit reached – ContactPoint")
    assert "usage limit reached (2 per 1 hour)" in page.inner_text("#error-message")
    screenshot(page, "usage-limit")
