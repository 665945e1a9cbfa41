"""Usage limits hold across several gunicorn workers: the counters live in the shared database."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from indexing import rebuild

from ..support.accounts import ACTING_FOR, TEST_SECRET_KEY, add_acting_practitioner, add_token
from .helpers import ALIAS, CHECKPOINT, add_child, years_ago

LIMIT = 6
REQUESTS = 24


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited during start-up"
        try:
            urllib.request.urlopen(url + "/login", timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not start")


def _search(url: str, token: str, acting_for: str) -> int:
    request = urllib.request.Request(
        url + "/api/v1/search", method="POST", data=json.dumps({"given_name": "Amara", "family_name": "Okafor"}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}", "X-Acting-For": acting_for})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_search_limit_holds_across_two_gunicorn_workers(settings, sessions, es, es_url, tmp_path):
    add_child(sessions, given="Amara", family="Okafor", dob=years_ago(6))
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    token, other_system = add_token(sessions, "case-system"), add_token(sessions, "other-case-system")
    for i in range(REQUESTS):  # X-Acting-For names real practitioners only
        add_acting_practitioner(sessions, "other-case-system", f"practitioner.{i}")
    port = _free_port()
    log = tmp_path / "access.log"
    env = {**os.environ, "CONTACTPOINT_DATABASE_URL": settings.database_url, "CONTACTPOINT_ES_URL": es_url,
           "CONTACTPOINT_STATE_DIR": str(tmp_path / "state"), "CONTACTPOINT_SECRET_KEY": TEST_SECRET_KEY,
           "CONTACTPOINT_SEARCH_LIMIT": f"{LIMIT} per hour", "CONTACTPOINT_CLIENT_LIMIT": f"{LIMIT * 2} per hour"}
    gunicorn = [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
                "--access-logfile", str(log), "--access-logformat", "%(p)s %(s)s", "webapp:create_app()"]
    process = subprocess.Popen(gunicorn, env=env, cwd=Path(__file__).resolve().parents[2])
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process)
        with ThreadPoolExecutor(max_workers=8) as pool:
            one_practitioner = list(pool.map(lambda _: _search(url, token, ACTING_FOR), range(REQUESTS)))
            # Naming a different practitioner each time only gets as far as the client's own limit.
            rotating = list(pool.map(lambda i: _search(url, other_system, f"practitioner.{i}"), range(REQUESTS)))
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert sorted(one_practitioner) == [200] * LIMIT + [429] * (REQUESTS - LIMIT)
    assert sorted(rotating) == [200] * (2 * LIMIT) + [429] * (REQUESTS - 2 * LIMIT)
    served_by = {line.split()[0] for line in log.read_text().splitlines() if line.endswith((" 200", " 429"))}
    assert len(served_by) == 2, f"both workers must have answered, got pids {served_by}"
