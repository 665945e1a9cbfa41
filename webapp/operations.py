"""Operational endpoints: /metrics (Prometheus) and /status (JSON). No personal data in either."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from indexing import CHECKPOINT, index_status
from indexing.metrics import IndexStatusCollector

from .extensions import es_client, sessions

bp = Blueprint("operations", __name__)


def _status() -> dict:
    status = index_status(es_client(), sessions(), current_app.config["SETTINGS"].es_alias, CHECKPOINT)
    status.pop("dead_letter_examples", None)  # the errors may quote a child's particulars
    return status


@bp.get("/metrics")
def metrics():
    registry = current_app.extensions.get("contactpoint_metrics")
    if registry is None:  # one per app; the collector reads the status afresh at every scrape
        registry = CollectorRegistry()
        registry.register(IndexStatusCollector(_status))
        current_app.extensions["contactpoint_metrics"] = registry
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


@bp.get("/status")
def status():
    try:
        return jsonify(_status())
    except Exception as exc:
        current_app.logger.error("status unavailable: %s", exc)
        return jsonify({"message": "status unavailable: the database or Elasticsearch cannot be reached"}), 503
