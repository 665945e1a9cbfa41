"""Index templates, versioned indices and the alias that points at the live one."""
from __future__ import annotations

import datetime as dt

from elasticsearch import Elasticsearch, NotFoundError

import index_templates


class IndexingError(RuntimeError):
    """An indexing operation could not complete; the message says what to do."""


def template_body(alias: str) -> dict:
    body = index_templates.load("children")
    body["index_patterns"] = [f"{alias}-v*"]
    return body


def replica_settings(alias: str) -> dict:
    """How the live index keeps copies: the template's rule (one replica once the cluster has two data nodes)."""
    settings = template_body(alias)["template"]["settings"]
    return {key: settings[key] for key in ("number_of_replicas", "auto_expand_replicas") if key in settings}


# A load into a fresh index keeps no copies (nothing reads it yet, and a failed load is thrown away whole);
# the template's rule returns before the index goes live.
LOAD_WITHOUT_REPLICAS = {"auto_expand_replicas": "false", "number_of_replicas": 0}


def template_version(alias: str) -> int:
    return template_body(alias)["version"]


def install_template(es: Elasticsearch, alias: str) -> bool:
    """Install or upgrade the template; idempotent. Returns True when it was written."""
    body = template_body(alias)
    try:
        current = es.indices.get_index_template(name=alias)["index_templates"][0]["index_template"]
    except NotFoundError:
        current = None
    if current is not None:
        installed = current.get("version", 0)
        if installed == body["version"]:
            return False
        if installed > body["version"]:
            raise IndexingError(f"the cluster has template version {installed} for {alias!r}, newer than this "
                                f"code's {body['version']}: upgrade this installation before indexing")
    es.indices.put_index_template(name=alias, **body)
    return True


def new_index_name(alias: str) -> str:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S%f")
    return f"{alias}-v{template_version(alias)}-{stamp}"


def indices_behind(es: Elasticsearch, alias: str) -> list[str]:
    try:
        return sorted(es.indices.get_alias(name=alias).body)
    except NotFoundError:
        return []


def live_index(es: Elasticsearch, alias: str) -> str:
    names = indices_behind(es, alias)
    if not names:
        raise IndexingError(f"the alias {alias!r} does not exist yet: run `contactpoint index rebuild`")
    if len(names) > 1:
        raise IndexingError(f"the alias {alias!r} points at several indices ({', '.join(names)}): "
                            "run `contactpoint index rebuild` to repair it")
    return names[0]


def swap_alias(es: Elasticsearch, alias: str, new_index: str) -> list[str]:
    """Point the alias at ``new_index`` in one atomic call; returns the indices it left."""
    old = indices_behind(es, alias)
    actions = [{"remove": {"index": name, "alias": alias}} for name in old]
    actions.append({"add": {"index": new_index, "alias": alias, "is_write_index": True}})
    es.indices.update_aliases(actions=actions)
    return old
