"""Reviewers' and administrators' pages in real Chromium, each checked with axe-core."""
import pytest
from playwright.sync_api import expect

from indexing import rebuild

from ..integration.helpers import ALIAS, CHECKPOINT, add_child
from ..support.accounts import add_user
from .conftest import screenshot, sign_in_with_enrolment

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_an_auditor_lands_on_the_audit_trail_and_reads_the_unusual_usage_report(page, live_server, sessions,
                                                                                  accessibility):
    sign_in_with_enrolment(page, live_server, add_user(sessions, "audrey.auditor", role="auditor", la_code=None),
                           accessibility, home_title="Audit trail – ContactPoint")
    assert "login" in page.inner_text("#events")  # their own sign-in is the newest event
    screenshot(page, "audit-trail")
    page.fill("#user", "nobody.at.all")
    page.click("main button[type=submit]")
    assert "No events match." in page.inner_text("#events")
    accessibility.check(page)
    page.click("text=Unusual usage report")
    expect(page).to_have_title("Unusual usage – ContactPoint")
    accessibility.check(page)
    screenshot(page, "unusual-usage")


def test_a_national_administrator_sees_index_status_and_edits_an_organisation(page, live_server, es, sessions,
                                                                              accessibility):
    add_child(sessions, la_code="E08000035")
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    sign_in_with_enrolment(page, live_server, add_user(sessions, "nat.admin", role="national_admin"), accessibility)
    page.click("text=Index")
    expect(page).to_have_title("Index status – ContactPoint")
    assert "Documents" in page.inner_text("#index-status")
    accessibility.check(page)
    screenshot(page, "index-status")
    page.click("text=Organisations")
    accessibility.check(page)
    page.fill("#code", "E08000035")
    page.click("main button[type=submit]")
    accessibility.check(page)
    page.fill("#phone", "0113 222 4444")
    page.click("#save-organisation")
    assert "Contact details saved." in page.inner_text("#notice")
    accessibility.check(page)
    screenshot(page, "organisation-contact")
