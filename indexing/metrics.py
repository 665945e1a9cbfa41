"""Prometheus metrics of the indexer: counters kept by a sync worker, gauges read at scrape time."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily


class WorkerMetrics:
    """Counters of one `index sync --follow` process (served on its --metrics-port)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.changes = Counter("contactpoint_sync_changes", "Change-log entries applied", registry=self.registry)
        self.documents = Counter("contactpoint_sync_documents", "Documents written", registry=self.registry)
        self.dead_letters = Counter("contactpoint_sync_dead_letters", "Children sent to dead letters",
                                    registry=self.registry)
        self.errors = Counter("contactpoint_sync_errors", "Failed sync attempts (retried with backoff)",
                              registry=self.registry)

    def record(self, result) -> None:
        self.changes.inc(result.changes)
        self.documents.inc(result.documents)
        self.dead_letters.inc(result.dead_letters)


class IndexStatusCollector:
    """Lag, documents and dead letters, read from the database and the cluster at each scrape."""

    def __init__(self, status_source):
        self.status_source = status_source  # () -> dict as from index_status

    def collect(self):
        try:
            status = self.status_source()
            up = 1
        except Exception:  # a scrape must answer even when a dependency is down
            status, up = {}, 0
        yield GaugeMetricFamily("contactpoint_index_up", "Status could be read from database and cluster", value=up)
        for key, help_text in (("lag_changes", "Change-log entries not yet applied"),
                               ("lag_seconds", "Age of the oldest change not yet applied"),
                               ("dead_letters", "Children waiting in dead letters"),
                               ("documents", "Documents behind the alias"),
                               ("checkpoint", "Last applied change-log sequence")):
            if status.get(key) is not None:
                yield GaugeMetricFamily(f"contactpoint_index_{key}", help_text, value=float(status[key]))

