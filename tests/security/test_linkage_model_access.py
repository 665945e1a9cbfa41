"""The linkage model pages by role: relevance administrators and national administrators tune the model, only
national administrators train it (a bulk read of the directory), everyone else is refused and the refusal
audited, and the comparison on the reviewers' decisions never shows a child, shielded or not."""
from __future__ import annotations

from sqlalchemy import select

from registry import review
from registry.linkage import store
from registry.models import Child, LinkageModelRow, ReviewCandidate, ReviewItem

from .conftest import refusal, report

MODELS = "/admin/linkage/models"
EDIT = {"upper": "6", "lower": "1", "twin_decision": "review"}
COMPARE = {"model": "default:1", "against": ""}
TRAIN = {"base": "default:1", "sample": "100", "seed": "0"}
# name: (method, path, form, the permission it needs)
REQUESTS = {
    "list": ("GET", MODELS, None, "tune_linkage"),
    "show": ("GET", f"{MODELS}/default/1", None, "tune_linkage"),
    "edit form": ("GET", f"{MODELS}/default/1/edit", None, "tune_linkage"),
    "edit": ("POST", f"{MODELS}/default/1/edit", EDIT, "tune_linkage"),
    "activate": ("POST", f"{MODELS}/default/1/activate", {}, "tune_linkage"),
    "compare": ("POST", f"{MODELS}/compare", COMPARE, "tune_linkage"),
    "train": ("POST", f"{MODELS}/train", TRAIN, "train_linkage"),
}


def _send(caller, method, path, form):
    return caller.get(path) if method == "GET" else caller.form_post(path, form)


def _nothing_stored(world) -> bool:
    with world.sessions() as session:
        return session.scalar(select(LinkageModelRow.id)) is None


def test_practitioners_la_teams_and_auditors_are_refused_every_linkage_model_page_and_audited(world):
    mismatches = []
    for label in ("practitioner", "la1", "auditor"):
        caller = world.caller(label)
        home = caller.get("/audit" if label == "auditor" else "/").get_data(as_text=True)
        if f'href="{MODELS}"' in home:
            mismatches.append((label, "linkage models in the navigation"))
        for name, (method, path, form, permission) in REQUESTS.items():
            before = world.mark()
            got = _send(caller, method, path, form).status_code
            expected = [(caller.username, "request_refused", 403, f"role_may_not_{permission}", None)]
            if got != 403 or refusal(world.events_since(before)) != expected:
                mismatches.append((label, name, got, refusal(world.events_since(before))))
    assert not mismatches, report(mismatches)
    assert _nothing_stored(world)


def test_an_api_client_token_opens_no_linkage_model_page(world):
    """A bearer token is no page session: refused before any role check (GET: sign in; POST: no CSRF token)."""
    caller = world.caller("api")
    mismatches = []
    for name, (method, path, form, _) in REQUESTS.items():
        before = world.mark()
        response = caller.get(path) if method == "GET" else caller.client.post(path, data=form)
        expected = (302, 401, "not_signed_in") if method == "GET" else (400, 400, "csrf_token_invalid")
        events = refusal(world.events_since(before))
        if (response.status_code, events) != (expected[0], [("anonymous", "request_refused", *expected[1:], None)]):
            mismatches.append((name, response.status_code, events))
    assert not mismatches, report(mismatches)
    assert _nothing_stored(world)


def test_a_relevance_admin_tunes_the_model_but_may_not_train_it(world):
    relevance = world.caller("relevance")
    listing = relevance.get(MODELS)
    html = listing.get_data(as_text=True)
    assert listing.status_code == 200 and 'id="train"' not in html and 'id="compare"' in html

    before = world.mark()
    refused = relevance.form_post(f"{MODELS}/train", TRAIN)
    assert refused.status_code == 403
    assert refusal(world.events_since(before)) == [
        ("rel.admin", "request_refused", 403, "role_may_not_train_linkage", None)]  # and no bulk read
    assert _nothing_stored(world)

    before = world.mark()
    assert relevance.form_post(f"{MODELS}/default/1/edit", EDIT).status_code == 302
    assert relevance.form_post(f"{MODELS}/default/2/activate", {}).status_code == 302
    with world.sessions() as session:
        assert store.active_model(session).label == "default:2"
    assert [(actor, action, details.get("model")) for actor, action, details in world.events_since(before)] == [
        ("rel.admin", "linkage_model_saved", "default:2"), ("rel.admin", "linkage_model_activated", "default:2")]

    # A national administrator sees the training form on the same page.
    assert 'id="train"' in world.caller("national").get(MODELS).get_data(as_text=True)


def test_the_comparison_shows_a_relevance_admin_no_child_not_even_a_shielded_one(world):
    """LA2's team decided that a new LA1 child is not its shielded child, nor LA1's open one: labelled pairs
    holding both children's names, dates of birth and addresses. The comparison page shows figures only."""
    with world.sessions.begin() as session:
        ids = {cp_id: child_id for cp_id, child_id in session.execute(select(Child.cp_id, Child.id))}
        pending, shielded2, open1 = (ids[world.ids[label]] for label in ("pending", "shielded2", "open1"))
        item = ReviewItem(child_id=pending, status="open", candidates=[
            ReviewCandidate(child_id=shielded2, match_weight=2.0, contributions={}),
            ReviewCandidate(child_id=open1, match_weight=1.0, contributions={})])
        session.add(item)
        session.flush()
        review.decide(session, item.id, "different", "lou.la2", item.version)

    relevance = world.caller("relevance")  # signed in first: its sign-in is not what this test counts
    before = world.mark()
    compared = relevance.form_post(f"{MODELS}/compare", {"model": "default:1", "against": ""})
    html = compared.get_data(as_text=True)
    assert compared.status_code == 200 and "2 labelled pairs" in html
    leaked = []
    for label in ("pending", "shielded2", "open1"):
        spec = world.specs[label]
        strings = [world.ids[label], spec.given, spec.family, spec.dob.isoformat(), spec.dob.strftime("%-d %b %Y"),
                   spec.dob.strftime("%-d %B %Y"), spec.postcode, spec.address, spec.town]
        leaked += [(label, s) for s in strings if s in html]
    assert not leaked, report(leaked)
    assert [(actor, action, details.get("pairs")) for actor, action, details in world.events_since(before)] == [
        ("rel.admin", "bulk_read", 2), ("rel.admin", "linkage_model_evaluated", 2)]
