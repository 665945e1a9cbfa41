"""A search whose index has no live copy of a shard answers 503 with a clear message: never a 500, never a
partial list presented as complete."""
import pytest

from indexing.admin import template_body
from webapp import create_app

from ..support.accounts import ACTING_FOR
from .helpers import api_search

ALIAS = "test-unavailable"


def _index_missing_shards(es, shards: int, **allocation) -> None:
    """An index behind ALIAS in which the allocation settings leave some (or all) primaries unassigned."""
    index = f"{ALIAS}-v1"
    es.indices.create(index=index, mappings=template_body("children")["template"]["mappings"],
                      settings={"number_of_shards": shards, "number_of_replicas": 0, **allocation},
                      aliases={ALIAS: {}}, wait_for_active_shards="0")
    health = es.cluster.health(index=index, timeout="10s", wait_for_no_initializing_shards=True)
    assert health["status"] == "red"
    assert 0 < health["unassigned_shards"] <= shards


@pytest.mark.parametrize("shards, allocation", [
    # No copy of the only shard anywhere: the cluster is red for this index.
    (1, {"routing.allocation.require._name": "no-such-node"}),
    # One of two shards has nowhere to go: Elasticsearch would answer from the other alone.
    (2, {"routing.allocation.total_shards_per_node": 1}),
], ids=["no-shard", "half-the-shards"])
def test_a_search_on_an_index_without_a_live_copy_answers_503_not_500_nor_a_partial_list(
        settings, es, api_token, shards, allocation):
    _index_missing_shards(es, shards, **{f"index.{key}": value for key, value in allocation.items()})
    app = create_app({"SETTINGS": settings.replace(es_alias=ALIAS), "TESTING": True})
    try:
        client = app.test_client()
        client.environ_base.update(HTTP_AUTHORIZATION=f"Bearer {api_token}", HTTP_X_ACTING_FOR=ACTING_FOR)
        status, body = api_search(client, given_name="Amara", family_name="Okafor", date_of_birth="2019-03-14")
    finally:
        app.extensions["contactpoint"]["engine"].dispose()
    assert status == 503, body
    assert body["message"] == "search is unavailable at the moment: try again shortly"
    assert "results" not in body
