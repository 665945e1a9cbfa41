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


def test_an_la_manager_adds_a_user_and_a_relevance_admin_opens_the_profiles(new_page, live_server, sessions,
                                                                          accessibility):
    manager = new_page()
    sign_in_with_enrolment(manager, live_server, add_user(sessions, "lee.manager", role="la_management"),
                           accessibility)
    manager.click("text=Users")
    expect(manager).to_have_title("Users – ContactPoint")
    accessibility.check(manager)
    screenshot(manager, "users")
    manager.goto(live_server + "/admin/users/new")
    accessibility.check(manager)
    manager.click("#save-user")  # nothing filled in
    assert "There is a problem" in manager.inner_text("#error-summary")
    accessibility.check(manager)
    screenshot(manager, "add-user-errors")

    relevance = new_page()
    sign_in_with_enrolment(relevance, live_server, add_user(sessions, "rel.admin", role="relevance_admin"),
                           accessibility, home_title="Relevance profiles – ContactPoint")
    assert "default" in relevance.inner_text("#versions")
    screenshot(relevance, "relevance-profiles")
    relevance.click("#edit-default-1")
    accessibility.check(relevance)
    screenshot(relevance, "relevance-edit")


def test_a_relevance_admin_walks_the_linkage_model_pages(page, live_server, sessions, accessibility):
    sign_in_with_enrolment(page, live_server, add_user(sessions, "rel.admin", role="relevance_admin"),
                           accessibility, home_title="Relevance profiles – ContactPoint")
    page.click("text=Linkage models")
    expect(page).to_have_title("Linkage models – ContactPoint")
    assert "default" in page.inner_text("#versions")
    accessibility.check(page)
    screenshot(page, "linkage-models")
    page.click("#show-default-1")
    expect(page).to_have_title("Linkage model default:1 – ContactPoint")
    accessibility.check(page)
    screenshot(page, "linkage-model")
    page.click("#edit-thresholds")
    accessibility.check(page)
    page.fill("#upper", "lots")
    page.click("#save-model")
    assert "Link threshold" in page.inner_text("#error-summary")
    accessibility.check(page)
    screenshot(page, "linkage-model-edit-errors")
    page.fill("#upper", "6")
    page.click("#save-model")
    expect(page).to_have_title("Linkage model default:2 – ContactPoint")
    accessibility.check(page)
    page.click("text=Back to linkage models")
    accessibility.check(page)
    page.select_option("#against", "default:2")
    page.click("#compare")
    expect(page).to_have_title("Compare default:1 with default:2 – ContactPoint")
    assert "no labelled pairs yet" in page.inner_text("#no-pairs")
    accessibility.check(page)
