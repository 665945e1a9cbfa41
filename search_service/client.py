"""Build the Elasticsearch client from settings: a configured cluster, or the local node (or local cluster)."""
from __future__ import annotations

from elasticsearch import Elasticsearch
from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer

from .cluster import LocalCluster
from .engine import EngineError, LocalEngine
from .urls import parse_es_urls

# Which statuses mean "this node cannot answer now, another may": a gateway error, or a node that is
# starting, has lost its master, or is shutting down.
RETRY_ON_STATUS = (502, 503, 504)
LAYOUT_FILE = "nodes"  # under the engine directory: how many local nodes `engine start` set up last


class OrjsonNdjsonSerializer(NdjsonSerializer):
    """msearch and bulk bodies through orjson too: a linkage load sends thousands of searches a second, and the
    standard library's encoder cost twice what building them did."""
    json_dumps = OrjsonSerializer.json_dumps
    json_loads = OrjsonSerializer.json_loads


SERIALIZERS = {"application/json": OrjsonSerializer(), "application/x-ndjson": OrjsonNdjsonSerializer()}


def local_nodes(settings) -> int:
    """How many local nodes `contactpoint engine start` set up last (1 unless it was a cluster)."""
    try:
        return int((settings.state_dir / "engine" / LAYOUT_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return 1


def remember_local_nodes(settings, nodes: int) -> None:
    engine_dir = settings.state_dir / "engine"
    engine_dir.mkdir(parents=True, exist_ok=True)
    (engine_dir / LAYOUT_FILE).write_text(str(nodes))


def local_engine(settings, nodes: int | None = None) -> LocalEngine | LocalCluster:
    """The local node, or the local cluster (``nodes`` > 1, or the layout started last when not given)."""
    nodes = local_nodes(settings) if nodes is None else nodes
    engine_dir = settings.state_dir / "engine"
    if nodes > 1:
        return LocalCluster(engine_dir / "cluster", settings.cache_dir, version=settings.es_version, size=nodes)
    return LocalEngine(engine_dir, settings.cache_dir, version=settings.es_version)


def es_url(settings) -> str:
    if settings.es_url:
        return settings.es_url
    info = local_engine(settings).info()
    if info is None:
        raise EngineError("no Elasticsearch configured and the local node is not running: "
                          "run `contactpoint engine start` or set CONTACTPOINT_ES_URL")
    return info.url


def make_client(settings, **options) -> Elasticsearch:
    """A client over every configured node: a request that fails on one node (refused, dropped, timed out, or
    answered 502/503/504) is retried on the next, and a failed node rests (doubling backoff) before it is tried
    again."""
    hosts = parse_es_urls(es_url(settings))
    kwargs: dict = {"request_timeout": 30, "serializers": SERIALIZERS, "max_retries": max(3, len(hosts)),
                    "retry_on_status": RETRY_ON_STATUS, "retry_on_timeout": True,
                    "dead_node_backoff_factor": 0.5, "max_dead_node_backoff": 10.0, **options}
    if settings.es_api_key:
        kwargs["api_key"] = settings.es_api_key
    elif settings.es_username:
        kwargs["basic_auth"] = (settings.es_username, settings.es_password or "")
    if settings.es_ca_certs:
        kwargs["ca_certs"] = settings.es_ca_certs
    return Elasticsearch(hosts, **kwargs)
