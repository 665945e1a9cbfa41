"""The linkage model pages: versions, one version's weights, editing the thresholds into a new version,
activation, comparison on the reviewers' decisions (figures only) and training, each audited."""
import json
import re

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from access_control import accounts
from access_control.models import AuditEvent
from registry import review, writes
from registry.linkage import store
from registry.models import Child, LinkageModelRow, ReviewCandidate, ReviewItem

from ..support.accounts import add_user, csrf_token, sign_in
from .helpers import years_ago

MODELS = "/admin/linkage/models"


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    """Argon2id with the cheapest parameters: these tests sign in and are not about hashing."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _client(app, sessions, username, role):
    client = app.test_client()
    sign_in(client, sessions, add_user(sessions, username, role=role, la_code=None, organisation=("service", "ADMIN")))
    return client


def _post(client, path, data, form_path=MODELS):
    return client.post(path, data={"csrf_token": csrf_token(client, form_path), **data})


def _events(sessions, action):
    with sessions() as db:
        return [(e.actor, json.loads(e.details)) for e in
                db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq))]


def _thresholds(**changes):
    return {"upper": "3", "lower": "0", "twin_decision": "create", **changes}


def test_a_relevance_admin_reads_edits_and_activates_a_version(app, sessions):
    admin = _client(app, sessions, "rel.admin", "relevance_admin")
    listing = admin.get(MODELS).get_data(as_text=True)
    assert 'id="version-default-1"' in listing and 'id="active-version"' in listing
    assert "Shipped with ContactPoint" in listing and "Not trained" in listing
    assert f'href="{MODELS}"' in listing and ">Linkage models<" in listing  # in the navigation
    assert 'id="train"' not in listing  # training is for national administrators

    shown = admin.get(f"{MODELS}/default/1").get_data(as_text=True)
    shipped = store.default_model()
    assert "transposed" in shown and f"{shipped.weights['date_of_birth']['exact']:+.2f}" in shown
    assert "3 bits" in shown and "not listed" in shown
    form = admin.get(f"{MODELS}/default/1/edit").get_data(as_text=True)
    assert re.search(r'id="upper" name="upper" [^>]*value="3"', form)

    # Bad input: every field named in the error summary, and what was typed kept.
    bad = _post(admin, f"{MODELS}/default/1/edit", _thresholds(upper="lots", lower="500", twin_decision="maybe"))
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and 'id="error-summary"' in html
    assert 'href="#upper"' in html and 'href="#lower"' in html and 'href="#twin_decision"' in html
    assert 'value="lots"' in html and 'value="500"' in html
    above = _post(admin, f"{MODELS}/default/1/edit", _thresholds(upper="3", lower="5"))
    html = above.get_data(as_text=True)
    assert above.status_code == 400 and 'href="#lower"' in html and "must not be above the link threshold" in html
    assert 'value="3"' in html and 'value="5"' in html

    saved = _post(admin, f"{MODELS}/default/1/edit", _thresholds(upper="6.5", lower="-1", twin_decision="review"))
    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"{MODELS}/default/2")
    assert "Saved default:2" in admin.get(saved.headers["Location"]).get_data(as_text=True)
    with sessions() as db:
        model = store.find_model(db, "default", 2)
        assert (model.upper, model.lower, model.twin_decision) == (6.5, -1.0, "review")
        assert (model.m, model.u, model.prior) == (shipped.m, shipped.u, shipped.prior)  # only the thresholds
        assert store.active_model(db).label == "default:1"
    assert _events(sessions, "linkage_model_saved") == [
        ("rel.admin", {"role": "relevance_admin", "actor_la": None, "on_behalf_of": None, "model": "default:2",
                       "based_on": "default:1", "upper": 6.5, "lower": -1.0, "twin_decision": "review"})]

    assert _post(admin, f"{MODELS}/default/2/activate", {}).status_code == 302
    with sessions() as db:
        assert store.active_model(db).label == "default:2"
        assert db.scalars(select(LinkageModelRow.version).where(LinkageModelRow.active)).all() == [2]
    assert [(actor, d["model"]) for actor, d in _events(sessions, "linkage_model_activated")] == \
        [("rel.admin", "default:2")]
    listing = admin.get(MODELS).get_data(as_text=True)
    assert "default:2 is now used by every feed load" in listing
    assert 'id="activate-default-1"' in listing and 'id="activate-default-2"' not in listing

    # Versions that do not exist: 404, nothing stored or activated.
    assert _post(admin, f"{MODELS}/default/9/activate", {}).status_code == 404
    assert admin.get(f"{MODELS}/default/9").status_code == 404
    assert _post(admin, f"{MODELS}/other/1/edit", _thresholds(), MODELS).status_code == 404
    with sessions() as db:
        assert db.scalars(select(LinkageModelRow.version).order_by(LinkageModelRow.version)).all() == [2]
        assert store.active_model(db).label == "default:2"


# Two pairs a reviewer decided: the same child keyed twice (merged), and two different children.
SAME = ({"given_name": "Olivia", "family_name": "Smith", "postcode": "LS6 2AB", "address_line_1": "3 Birch Row"},
        {"given_name": "Olivia", "family_name": "Smyth", "postcode": "LS6 2AB", "address_line_1": "3 Birch Row"})
OTHER = ({"given_name": "Harrison", "family_name": "Quartermaine", "postcode": "M1 1AE", "day": 9},
         {"given_name": "Zebedee", "family_name": "Wolstenholme", "postcode": "B1 1AA", "day": 21, "years": 3})


def _child(session, fields: dict) -> Child:
    fields = dict(fields)
    dob = years_ago(8 + fields.pop("years", 0), day=fields.pop("day", 3))
    return writes.create_child(session, date_of_birth=dob, gender="female", la_code="E08000035", **fields)


def _decided(sessions, pair, decision) -> list[str]:
    """A review item for the pair's first child naming the second, decided; the children's identifying strings."""
    with sessions.begin() as db:
        new, known = _child(db, pair[0]), _child(db, pair[1])
        db.flush()
        item = ReviewItem(child_id=new.id, status="open",
                          candidates=[ReviewCandidate(child_id=known.id, match_weight=1.0, contributions={})])
        db.add(item)
        db.flush()
        review.decide(db, item.id, decision, "lee.reviewer", item.version)
        return [new.cp_id, known.cp_id, new.date_of_birth.isoformat(), known.date_of_birth.isoformat(),
                *(value for side in pair for key, value in side.items() if isinstance(value, str))]


def test_comparison_on_the_reviewers_decisions_shows_figures_only(app, sessions):
    admin = _client(app, sessions, "rel.admin", "relevance_admin")
    assert _post(admin, f"{MODELS}/default/1/edit", _thresholds(upper="60"), MODELS).status_code == 302

    # No decisions yet: said plainly, and nothing evaluated.
    none = _post(admin, f"{MODELS}/compare", {"model": "default:1", "against": "default:2"})
    html = none.get_data(as_text=True)
    assert none.status_code == 200 and 'id="no-pairs"' in html and "no labelled pairs yet" in html
    assert _events(sessions, "linkage_model_evaluated") == []

    child_strings = _decided(sessions, SAME, "merge") + _decided(sessions, OTHER, "different")
    compared = _post(admin, f"{MODELS}/compare", {"model": "default:1", "against": "default:2"})
    html = compared.get_data(as_text=True)
    assert compared.status_code == 200 and "Compare default:1 with default:2" in html
    assert ">default:1</th>" in html and ">default:2</th>" in html and ">Change</th>" in html
    assert "2 labelled pairs" in html
    # The shipped thresholds link the misspelt Smyth; at 60 bits nothing links.
    recall = re.search(r">Recall</th>(.*?)</tr>", html, re.S).group(1)
    assert re.findall(r">([-+0-9.]+)</td>", recall) == ["1.000", "0.000", "-1.000"]
    shown = [s for s in child_strings if s in html]
    assert shown == [], shown  # never a child's name, date of birth, postcode, address or ID

    assert [(actor, d["purpose"], d["pairs"]) for actor, d in _events(sessions, "bulk_read")] == \
        [("rel.admin", "linkage_labelled_pairs", 0), ("rel.admin", "linkage_labelled_pairs", 2)]
    assert [(actor, d["models"], d["pairs"]) for actor, d in _events(sessions, "linkage_model_evaluated")] == \
        [("rel.admin", ["default:1", "default:2"], 2)]

    # Bad choices re-render the list with the field named.
    for data, field in (({"model": "default:1", "against": "default:1"}, "against"),
                        ({"model": "nonsense", "against": ""}, "model"),
                        ({"model": "default:1", "against": "default:9"}, "against")):
        refused = _post(admin, f"{MODELS}/compare", data)
        assert refused.status_code == 400 and f'href="#{field}"' in refused.get_data(as_text=True), data
    assert len(_events(sessions, "linkage_model_evaluated")) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # CPU-bound; storing and auditing run on both
def test_a_national_admin_trains_a_new_version_from_the_page(app, sessions):
    with sessions.begin() as db:
        for pair in (SAME, OTHER):
            for fields in pair:
                _child(db, fields)
    admin = _client(app, sessions, "nat.admin", "national_admin")
    listing = admin.get(MODELS).get_data(as_text=True)
    assert 'id="train"' in listing and 'id="base"' in listing

    bad = _post(admin, f"{MODELS}/train", {"base": "default:1", "sample": "ten", "seed": "-1"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and 'href="#sample"' in html and 'href="#seed"' in html and 'value="ten"' in html

    trained = _post(admin, f"{MODELS}/train", {"base": "default:1", "sample": "100", "seed": "1"})
    assert trained.status_code == 302 and trained.headers["Location"].endswith(f"{MODELS}/default/2")
    shown = admin.get(trained.headers["Location"]).get_data(as_text=True)
    assert "Trained default:2" in shown and "iterations" in shown
    with sessions() as db:
        assert store.find_model(db, "default", 2).to_body()["trained"]
        assert store.active_model(db).label == "default:1"  # not activated
    assert [(a, d["purpose"], d["children_read"]) for a, d in _events(sessions, "bulk_read")] == \
        [("nat.admin", "linkage_training", 4)]
    assert [(a, d["model"]) for a, d in _events(sessions, "linkage_model_trained")] == [("nat.admin", "default:2")]


def test_training_with_too_few_children_says_so(app, sessions):
    with sessions.begin() as db:
        _child(db, SAME[0])
    admin = _client(app, sessions, "nat.admin", "national_admin")
    refused = _post(admin, f"{MODELS}/train", {"base": "default:1", "sample": "100", "seed": "0"})
    assert refused.status_code == 409 and "too few children" in refused.get_data(as_text=True)
    with sessions() as db:
        assert db.scalar(select(LinkageModelRow.id)) is None
