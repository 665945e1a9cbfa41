"""Build the Elasticsearch client from settings: a configured cluster, or the local node."""
from __future__ import annotations

from elasticsearch import Elasticsearch
from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer

from .engine import EngineError, LocalEngine


class OrjsonNdjsonSerializer(NdjsonSerializer):
    """msearch and bulk bodies through orjson too: a linkage load sends thousands of searches a second, and the
    standard library's encoder cost twice what building them did."""
    json_dumps = OrjsonSerializer.json_dumps
    json_loads = OrjsonSerializer.json_loads


SERIALIZERS = {"application/json": OrjsonSerializer(), "application/x-ndjson": OrjsonNdjsonSerializer()}


def local_engine(settings) -> LocalEngine:
    return LocalEngine(settings.state_dir / "engine", settings.cache_dir, version=settings.es_version)


def es_url(settings) -> str:
    if settings.es_url:
        return settings.es_url
    info = local_engine(settings).info()
    if info is None:
        raise EngineError("no Elasticsearch configured and the local node is not running: "
                          "run `contactpoint engine start` or set CONTACTPOINT_ES_URL")
    return info.url


def make_client(settings, **options) -> Elasticsearch:
    kwargs: dict = {"request_timeout": 30, "serializers": SERIALIZERS, **options}
    if settings.es_api_key:
        kwargs["api_key"] = settings.es_api_key
    elif settings.es_username:
        kwargs["basic_auth"] = (settings.es_username, settings.es_password or "")
    return Elasticsearch(es_url(settings), **kwargs)
