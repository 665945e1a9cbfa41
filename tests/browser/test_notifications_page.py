"""Notifications in real Chromium: the header's unread count, the page, marking read, switching email off (axe-checked)."""
import pytest
from playwright.sync_api import expect

from webapp.notifications import expand_events

from ..integration.helpers import add_child, involve
from ..support.accounts import add_user
from .conftest import screenshot, sign_in_with_enrolment

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_a_practitioner_sees_the_unread_count_reads_the_notice_and_switches_email_off(page, live_server, sessions,
                                                                                      accessibility):
    account = add_user(sessions, "hv.one", organisation=("service", "HV-NORTH"), email="hv.one@example.org")
    cp_id = add_child(sessions, la_code="E09000001")
    involve(sessions, cp_id, "HV-NORTH", "hv.one")
    involve(sessions, cp_id, "YJ-LEEDS", "yj.worker", role="Youth justice worker")
    expand_events(sessions)
    sign_in_with_enrolment(page, live_server, account, accessibility)
    expect(page.locator("#unread-count")).to_contain_text("1")
    page.click("#notifications-link")
    expect(page).to_have_title("Notifications – ContactPoint")
    accessibility.check(page)
    expect(page.locator("main")).to_contain_text("Youth justice worker")
    expect(page.locator("main")).to_contain_text(cp_id)
    screenshot(page, "notifications")
    page.click("#mark-all-read")
    accessibility.check(page)
    expect(page.locator("#unread-count")).to_have_count(0)
    page.click("#email-settings")
    expect(page).to_have_title("Notification emails – ContactPoint")
    accessibility.check(page)
    page.uncheck("#email")  # the first kind: another service starting
    page.click("#save-button")
    accessibility.check(page)
    expect(page.locator("#email")).not_to_be_checked()
    expect(page.locator("#email-2")).to_be_checked()
