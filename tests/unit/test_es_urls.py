"""CONTACTPOINT_ES_URL: one URL or several comma-separated, each checked, and a client that spreads over them."""
import pytest

from search_service import make_client
from search_service.client import RETRY_ON_STATUS
from search_service.urls import parse_es_urls
from webapp.config import Settings


def test_one_url_or_several_comma_separated_are_kept_in_order():
    assert parse_es_urls("http://127.0.0.1:9200") == ["http://127.0.0.1:9200"]
    assert parse_es_urls("http://es-1:9200, https://es-2:9243 ,http://es-3") == [
        "http://es-1:9200", "https://es-2:9243", "http://es-3"]


@pytest.mark.parametrize("text, problem", [
    ("http://es-1:9200,,http://es-2:9200", "entry 2 is empty"),
    ("http://es-1:9200,", "entry 2 is empty"),
    ("es-1:9200", "entry 1 is not an http:// or https:// URL with a host"),
    ("http://es-1:9200,ftp://es-2", "entry 2 is not an http:// or https:// URL with a host"),
    ("http://:9200", "entry 1 is not an http:// or https:// URL with a host"),
    ("http://es-1:92000", "entry 1 has an invalid port"),
    ("http://es-1:9200,http://es-1:9200", "entry 2 repeats entry 1"),
])
def test_a_bad_entry_is_named_by_its_position(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_es_urls(text)


def test_settings_refuse_a_bad_list_naming_the_variable_but_never_echo_a_password():
    with pytest.raises(ValueError) as refused:
        Settings.from_env({"CONTACTPOINT_ES_URL": "https://elastic:s3cret@es-1:9200,es-2:9200"})
    assert "CONTACTPOINT_ES_URL" in str(refused.value) and "entry 2" in str(refused.value)
    assert "s3cret" not in str(refused.value)


def test_the_client_holds_every_node_and_retries_elsewhere_on_unavailable_answers():
    settings = Settings.from_env({"CONTACTPOINT_ES_URL": "http://127.0.0.1:9201,http://127.0.0.1:9202,"
                                                         "http://127.0.0.1:9203"})
    client = make_client(settings)
    try:
        assert sorted(node.base_url for node in client.transport.node_pool.all()) == [
            "http://127.0.0.1:9201", "http://127.0.0.1:9202", "http://127.0.0.1:9203"]
        # The client passes these with every request (elasticsearch-py keeps them on the client, not the transport).
        assert client._max_retries >= 3
        assert set(client._retry_on_status) == set(RETRY_ON_STATUS) == {502, 503, 504}
        assert client._retry_on_timeout is True
    finally:
        client.close()
