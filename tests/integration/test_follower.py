"""The `index sync --follow` loop, driven for real (a thread, or the CLI in a subprocess) against the
real node and database: every lease renewal lasts --lease-seconds, an Elasticsearch outage is retried
with the tenacity backoff until it ends, and a programming error ends the follower with its traceback
(and a non-zero exit) instead of being retried for ever."""
from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from elasticsearch import ConnectionError as EsConnectionError, Elasticsearch
from tenacity import wait_fixed, wait_random_exponential

from analyzers import clock
from indexing import follow, rebuild, verify
from registry import checkpoints, writes

from .helpers import ALIAS, CHECKPOINT, add_child, change_child

WAIT = 30  # seconds the follower may take to reach what a test waits for


@contextmanager
def following(es, sessions, **options):
    """A real follower in a thread; yields (thread, outcome), where outcome["error"] is what ended it."""
    stop, outcome = threading.Event(), {}

    def run():
        try:
            follow(es, sessions, ALIAS, CHECKPOINT, poll_seconds=0.05, should_stop=stop.is_set, **options)
        except Exception as exc:  # asserted by the tests
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield thread, outcome
    finally:
        stop.set()
        thread.join(WAIT)


def _rename(sessions, cp_id: str, family: str) -> None:
    change_child(sessions, cp_id, lambda s, c: writes.update_child(s, c, family_name=family))


def _positions(sessions) -> tuple[int, int]:
    """(checkpoint, newest change-log entry)."""
    with sessions() as session:
        return checkpoints.get_checkpoint(session, CHECKPOINT), checkpoints.last_change_seq(session)


def _signal_when(condition, event: threading.Event):
    """A follower callback that sets ``event`` once ``condition()`` holds."""
    def callback(*args):
        if condition():
            event.set()
    return callback


@pytest.mark.parametrize("lease_seconds", [5.0, 600.0])
def test_every_renewal_holds_the_lease_for_lease_seconds(es, sessions, lease_seconds):
    """Not only the first: the renewal that comes with each applied batch lasts --lease-seconds too,
    so a standby takes over that long after a leader dies, no sooner and no later."""
    cp_id = add_child(sessions)
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    seen, batch_done = [], threading.Event()

    def after_batch(result):  # runs in the follower, just after the batch moved the checkpoint (and renewed)
        now = clock.now()
        with sessions() as session:
            with clock.pinned(now + dt.timedelta(seconds=lease_seconds - 1)):
                held = checkpoints.lease_holder(session, CHECKPOINT)
            with clock.pinned(now + dt.timedelta(seconds=lease_seconds + 1)):
                lapsed = checkpoints.lease_holder(session, CHECKPOINT)
        seen.append((result.changes, held, lapsed))
        batch_done.set()

    with following(es, sessions, owner="leader", lease_seconds=lease_seconds, on_batch=after_batch) as (_, outcome):
        _rename(sessions, cp_id, "Renewed")
        assert batch_done.wait(WAIT), outcome
    assert seen[0] == (1, "leader", None), seen


class Cable:
    """A TCP relay in front of the real node that can be unplugged: open connections are cut and new
    ones dropped at once, as when the cluster goes away; plugged back in, traffic flows again."""

    def __init__(self, target_url: str):
        target = urlsplit(target_url)
        self.target = (target.hostname, target.port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.plugged, self.connections, self.lock = True, set(), threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            if not self.plugged:
                _cut(client)
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.connections |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _cut(source)
            _cut(sink)

    def unplug(self):
        self.plugged = False
        with self.lock:
            connections, self.connections = self.connections, set()
        for connection in connections:
            _cut(connection)

    def plug(self):
        self.plugged = True

    def close(self):
        self.listener.close()
        self.unplug()


def _cut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)  # wakes a pump blocked in recv
    except OSError:
        pass
    connection.close()


def test_an_elasticsearch_outage_is_retried_with_the_tenacity_backoff_until_it_ends(es, es_url, sessions):
    ids = [add_child(sessions, given=f"Kid{chr(65 + i)}") for i in range(3)]
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    cable = Cable(es_url)
    client = Elasticsearch(cable.url, request_timeout=10)
    # The follower's backoff is a tenacity wait strategy; a fast one keeps the test short.
    fast = wait_fixed(0.05) + wait_random_exponential(multiplier=0.05, max=0.4)
    errors, current, failing = [], threading.Event(), threading.Event()

    def caught_up():
        checkpoint, last = _positions(sessions)
        return checkpoint == last

    def on_error(exc, delay):
        errors.append((exc, delay))
        if len(errors) >= 6:
            failing.set()

    try:
        with following(client, sessions, on_batch=_signal_when(caught_up, current), on_error=on_error,
                       backoff=fast) as (thread, outcome):
            _rename(sessions, ids[0], "Before")
            assert current.wait(WAIT), outcome
            cable.unplug()
            current.clear()
            for n, cp_id in enumerate(ids):
                _rename(sessions, cp_id, f"During{chr(65 + n)}")
            assert failing.wait(WAIT), (outcome, errors)
            checkpoint, last = _positions(sessions)
            assert checkpoint < last  # nothing acknowledged, nothing recorded
            assert thread.is_alive(), outcome
            cable.plug()
            assert current.wait(WAIT), (outcome, errors[6:])
    finally:
        cable.close()
        client.close()
    assert "error" not in outcome
    outage = errors[:6]
    assert all(isinstance(exc, EsConnectionError) for exc, _ in outage), outage
    # Exponential windows with jitter: the n-th wait is 0.05 s plus up to min(0.4, 0.05 * 2**(n-1)).
    delays = [delay for _, delay in outage]
    assert all(0.05 <= delay <= 0.05 + min(0.4, 0.05 * 2 ** n) + 1e-9 for n, delay in enumerate(delays)), delays
    assert len(set(delays)) > 1, delays
    assert verify(es, sessions, ALIAS).drift == []


def test_a_programming_error_ends_the_follower_with_its_traceback_and_is_not_retried(es, sessions, caplog):
    cp_id = add_child(sessions)
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    retried = []

    def buggy_report(result):  # stands for any bug in the loop: our code, not a dependency, is wrong
        raise TypeError("unsupported operand type(s) for +: 'int' and 'NoneType'")

    with following(es, sessions, owner="buggy", on_batch=buggy_report,
                   on_error=lambda exc, delay: retried.append(exc)) as (thread, outcome):
        _rename(sessions, cp_id, "Buggy")
        thread.join(WAIT)
        assert not thread.is_alive(), f"the follower is still retrying: {retried[:3]}"
    assert isinstance(outcome.get("error"), TypeError)
    assert retried == []
    logged = [r for r in caplog.records if r.name == "indexing.sync" and r.exc_info]
    assert len(logged) == 1 and logged[0].exc_info[0] is TypeError and "buggy" in logged[0].getMessage()
    with sessions() as session:
        assert checkpoints.lease_holder(session, CHECKPOINT) is None  # released: a standby need not wait


# The CLI follower with a bug planted in its batch report (our code; nothing of Elasticsearch is faked).
BUGGY_CLI = """
import sys
from indexing.metrics import WorkerMetrics

def record(self, result):
    raise KeyError("documents")

WorkerMetrics.record = record
from webapp.cli import main
sys.argv = ["contactpoint", "index", "sync", "--follow", "--lease-seconds", "5"]
main()
"""


def test_the_cli_follower_exits_non_zero_with_a_traceback_on_a_programming_error(es, es_url, sessions, settings):
    cp_id = add_child(sessions)
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    _rename(sessions, cp_id, "Pending")
    env = {**os.environ, "CONTACTPOINT_DATABASE_URL": settings.database_url, "CONTACTPOINT_ES_URL": es_url}
    try:
        done = subprocess.run([sys.executable, "-c", BUGGY_CLI], env=env, capture_output=True, text=True,
                              timeout=WAIT * 2)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the follower kept running after a programming error: {exc.stderr!r}")
    assert done.returncode == 1, done.stderr
    assert "Traceback (most recent call last)" in done.stderr and "KeyError: 'documents'" in done.stderr
    assert "the follower stopped on KeyError" in done.stderr
    assert "retrying in" not in done.stderr
