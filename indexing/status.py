"""What the index holds compared with the database."""
from __future__ import annotations

from elasticsearch import Elasticsearch, NotFoundError
from sqlalchemy.orm import sessionmaker

from analyzers import clock
from registry import checkpoints

from .admin import indices_behind, template_version


def index_status(es: Elasticsearch, sessions: sessionmaker, alias: str, checkpoint_name: str) -> dict:
    indices = indices_behind(es, alias)
    try:
        installed = es.indices.get_index_template(name=alias)["index_templates"][0]["index_template"].get("version")
    except NotFoundError:
        installed = None
    documents = es.count(index=alias)["count"] if indices else None
    with sessions() as session:
        checkpoint = checkpoints.get_checkpoint(session, checkpoint_name)
        last = checkpoints.last_change_seq(session)
        oldest = checkpoints.oldest_change_after(session, checkpoint)
        dead = checkpoints.dead_letters(session, limit=20)
        dead_count = checkpoints.dead_letter_count(session)
    lag_seconds = round((clock.now() - oldest).total_seconds(), 1) if oldest else 0.0
    return {"alias": alias, "indices": indices, "template_version_installed": installed,
            "template_version_code": template_version(alias), "documents": documents,
            "checkpoint": checkpoint, "last_change": last, "lag_changes": max(last - checkpoint, 0),
            "lag_seconds": max(lag_seconds, 0.0), "dead_letters": dead_count,
            "dead_letter_examples": [{"cp_id": d.cp_id, "attempts": d.attempts, "error": d.error} for d in dead]}
