"""Fault tests against real processes: the sync worker killed mid-batch, Elasticsearch stopped
and started again during sync. Afterwards the index matches the database child by child."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from indexing import rebuild, verify
from registry import checkpoints, writes
from search_service.engine import LocalEngine
from webapp.config import Settings

from .helpers import ALIAS, CHECKPOINT, add_child, change_child

WORKER_LEASE = "2"


def _worker(settings, es_url, log: Path) -> subprocess.Popen:
    env = {**os.environ, "CONTACTPOINT_DATABASE_URL": settings.database_url, "CONTACTPOINT_ES_URL": es_url}
    return subprocess.Popen([sys.executable, "-m", "webapp.cli", "index", "sync", "--follow", "--lease-seconds",
                             WORKER_LEASE], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def _checkpoint(sessions) -> tuple[int, int]:
    with sessions() as session:
        return checkpoints.get_checkpoint(session, CHECKPOINT), checkpoints.last_change_seq(session)


def _wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out after {seconds}s waiting for {what}")


def _churn(sessions, ids, rounds, tag):
    for n in range(rounds):
        change_child(sessions, ids[n % len(ids)],
                     lambda s, c, n=n: writes.update_child(s, c, family_name=f"{tag}{chr(65 + n % 26)}{chr(65 + n // 26 % 26)}"))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_killing_the_worker_mid_batch_loses_nothing(es, es_url, sessions, settings, tmp_path):
    ids = [add_child(sessions, given=f"Kid{chr(65 + i)}") for i in range(40)]
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    worker = _worker(settings, es_url, tmp_path / "worker-1.log")
    try:
        _churn(sessions, ids, 300, "Killed")
        # Kill -9 once the worker is part-way through the backlog.
        _wait_until(lambda: 0 < _checkpoint(sessions)[0], 30, "the first worker to make progress")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        _churn(sessions, ids, 100, "After")
        assert _checkpoint(sessions)[0] < _checkpoint(sessions)[1]
        worker = _worker(settings, es_url, tmp_path / "worker-2.log")  # takes over once the lease lapses
        _wait_until(lambda: _checkpoint(sessions)[0] == _checkpoint(sessions)[1], 60, "the new worker to catch up")
    finally:
        worker.terminate()
        worker.wait(timeout=15)
    report = verify(es, sessions, ALIAS)
    assert report.drift == [] and report.database == 40


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_elasticsearch_stopped_and_started_during_sync(sessions, settings, tmp_path):
    node = LocalEngine(Path(tempfile.mkdtemp(prefix="cp-test-fault-es-")), Settings.from_env({}).cache_dir)
    url = node.start().url
    es = Elasticsearch(url, request_timeout=10)
    worker = None
    try:
        ids = [add_child(sessions, given=f"Kid{chr(65 + i)}") for i in range(20)]
        rebuild(es, sessions, ALIAS, CHECKPOINT)
        worker = _worker(settings, url, tmp_path / "worker.log")
        _churn(sessions, ids, 50, "Before")
        _wait_until(lambda: _checkpoint(sessions)[0] == _checkpoint(sessions)[1], 30, "the worker to catch up")
        node.stop()
        _churn(sessions, ids, 100, "During")  # written while the cluster is down
        time.sleep(2)
        assert _checkpoint(sessions)[0] < _checkpoint(sessions)[1]  # nothing acknowledged, nothing moved
        assert node.start().url == url  # same address: the worker reconnects by itself
        _wait_until(lambda: _checkpoint(sessions)[0] == _checkpoint(sessions)[1], 90, "the worker to recover")
        report = verify(es, sessions, ALIAS)
        assert report.drift == [] and report.database == 20
        assert "retrying in" in (tmp_path / "worker.log").read_text()
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=15)
        node.stop()
        shutil.rmtree(node.node_dir, ignore_errors=True)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_database_restarted_during_sync(es, es_url, sessions, settings, postgres_server, tmp_path):
    if postgres_server is None:
        pytest.skip("needs the test session's own PostgreSQL to restart it")
    ids = [add_child(sessions, given=f"Kid{chr(65 + i)}") for i in range(20)]
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    worker = _worker(settings, es_url, tmp_path / "worker.log")
    try:
        _churn(sessions, ids, 50, "Before")
        _wait_until(lambda: _checkpoint(sessions)[0] == _checkpoint(sessions)[1], 30, "the worker to catch up")
        postgres_server.restart()  # every connection, the worker's included, is cut
        _churn(sessions, ids, 80, "After")
        _wait_until(lambda: _checkpoint(sessions)[0] == _checkpoint(sessions)[1], 60, "the worker to recover")
    finally:
        worker.terminate()
        worker.wait(timeout=15)
    assert worker.returncode is not None
    report = verify(es, sessions, ALIAS)
    assert report.drift == [] and report.database == 20
