"""A search whose index has no live copy of a shard answers 503 with a clear message, through the API and the
practitioner's page alike: never a 500, never a partial list presented as complete."""
import pytest

from indexing.admin import template_body
from webapp import create_app

from ..support.accounts import ACTING_FOR, add_user, sign_in
from .helpers import api_search

ALIAS = "test-unavailable"
MESSAGE = "search is unavailable at the moment: try again shortly"
LOST_SHARDS = pytest.mark.parametrize("shards, allocation", [
    # No copy of the only shard anywhere: the cluster is red for this index.
    (1, {"index.routing.allocation.require._name": "no-such-node"}),
    # One of two shards has nowhere to go: Elasticsearch would answer from the other alone.
    (2, {"index.routing.allocation.total_shards_per_node": 1}),
], ids=["no-shard", "half-the-shards"])


@pytest.fixture
def unavailable_app(settings, es):
    """The web app reading ALIAS; the test makes the index behind it."""
    app = create_app({"SETTINGS": settings.replace(es_alias=ALIAS), "TESTING": True, "WTF_CSRF_ENABLED": False})
    yield app
    app.extensions["contactpoint"]["engine"].dispose()


def _index_missing_shards(es, shards: int, allocation: dict) -> None:
    """An index behind ALIAS in which the allocation settings leave some (or all) primaries unassigned."""
    index = f"{ALIAS}-v1"
    es.indices.create(index=index, mappings=template_body("children")["template"]["mappings"],
                      settings={"number_of_shards": shards, "number_of_replicas": 0, **allocation},
                      aliases={ALIAS: {}}, wait_for_active_shards="0")
    health = es.cluster.health(index=index, timeout="10s", wait_for_no_initializing_shards=True)
    assert health["status"] == "red"
    assert 0 < health["unassigned_shards"] <= shards


@LOST_SHARDS
def test_an_api_search_without_a_live_copy_answers_503_not_500_nor_a_partial_list(
        unavailable_app, es, api_token, shards, allocation):
    _index_missing_shards(es, shards, allocation)
    client = unavailable_app.test_client()
    client.environ_base.update(HTTP_AUTHORIZATION=f"Bearer {api_token}", HTTP_X_ACTING_FOR=ACTING_FOR)
    status, body = api_search(client, given_name="Amara", family_name="Okafor", date_of_birth="2019-03-14")
    assert status == 503, body
    assert body["message"] == MESSAGE
    assert "results" not in body


@LOST_SHARDS
def test_a_page_search_without_a_live_copy_answers_503_with_the_message(
        unavailable_app, es, sessions, shards, allocation):
    _index_missing_shards(es, shards, allocation)
    client = unavailable_app.test_client()
    sign_in(client, sessions, add_user(sessions, "pat.jones"))
    page = client.post("/search", data={"given_name": "Amara", "family_name": "Okafor", "dob-day": "14",
                                        "dob-month": "3", "dob-year": "2019", "postcode": ""})
    assert page.status_code == 503
    assert MESSAGE in page.get_data(as_text=True)
