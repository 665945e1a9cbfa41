"""The linkage review journey in real Chromium, each page checked with axe-core: the queue, an item side by side
with its weights, a decision refused for want of a choice, then made."""
import pytest
from playwright.sync_api import expect

from registry import writes
from registry.models import ReviewCandidate, ReviewItem

from ..integration.helpers import years_ago
from ..support.accounts import add_user
from .conftest import screenshot, sign_in_with_enrolment

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
LA = "E09000001"


def _review_item(sessions) -> int:
    with sessions.begin() as session:
        known, new = (writes.create_child(session, given_name=given, family_name="Clarke", gender="male",
                                          date_of_birth=years_ago(7, day=11), postcode=postcode, la_code=LA)
                      for given, postcode in (("Jayden", "LS6 2AB"), ("Jaden", "LS7 3QE")))
        session.flush()
        contributions = {"given_name": {"level": "close", "weight": 2.5},
                         "family_name": {"level": "exact", "weight": 4.5},
                         "date_of_birth": {"level": "exact", "weight": 7.0},
                         "postcode": {"level": "different", "weight": -2.5}}
        item = ReviewItem(child_id=new.id, candidates=[ReviewCandidate(child_id=known.id, match_weight=5.5,
                                                                       contributions=contributions)])
        session.add(item)
        session.flush()
        return item.id


def test_an_la_team_reviews_an_item_and_decides(page, live_server, sessions, accessibility):
    item_id = _review_item(sessions)
    manager = add_user(sessions, "lee.manager", role="la_management", la_code=LA, organisation=("local_authority", LA))
    sign_in_with_enrolment(page, live_server, manager, accessibility)
    page.click("text=Linkage review")
    expect(page).to_have_title("Linkage review – ContactPoint")
    accessibility.check(page)
    page.click(f"#item-{item_id}")
    expect(page).to_have_title(f"Review item {item_id} – ContactPoint")
    accessibility.check(page)
    screenshot(page, "linkage-review-item")
    assert "-2.50" in page.inner_text("main") and "+7.00" in page.inner_text("main")
    page.click("#save-decision")  # nothing chosen
    assert "There is a problem" in page.inner_text("#error-summary")
    accessibility.check(page)
    page.check("#decision-2")  # after "Same child as ..."
    page.click("#save-decision")
    expect(page).to_have_title("Linkage review – ContactPoint")
    assert "recorded as different children" in page.inner_text("#notice")
    accessibility.check(page)
