"""A real three-node Elasticsearch cluster on loopback, and what losing one node (kill -9 of its JVM) does while
practitioners search through the JSON API and `index sync --follow` applies changes written through the registry.

The cluster is this module's own (started once, stopped whatever happens); the session's single node serves the
other tests. Figures (cluster start, 503s, time until searches answer again, sync lag) are printed: run with -s.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from elasticsearch import ConnectionError as ElasticsearchConnectionError, Elasticsearch, NotFoundError

from indexing import rebuild
from indexing.admin import live_index
from search_service import local_engine, make_client
from search_service.client import remember_local_nodes
from search_service.cluster import LocalCluster
from search_service.engine import free_port
from webapp import create_app
from webapp.cli import main
from webapp.config import Settings

from ..support.accounts import ACTING_FOR, TEST_SECRET_KEY
from .helpers import ALIAS, CHECKPOINT, add_child, api_search, years_ago

pytestmark = pytest.mark.skipif(bool(os.environ.get("CONTACTPOINT_ES_URL")),
                                reason="starts a local three-node cluster of its own")

FAMILIES = ["Okafor", "Adeyemi", "Kowalski", "Brennan", "Haddad", "Lindqvist", "Moreau", "Nakamura", "Petrenko",
            "Quigley", "Rahman", "Santos", "Thorne", "Usman", "Varga", "Whitlock", "Xiong", "Yilmaz", "Zielinski",
            "Abernathy"]
KILL_AFTER = 3.0  # seconds of steady traffic before the kill
RUN_AFTER_KILL = 10.0
ANSWERING_AGAIN_WITHIN = 5.0  # seconds after the kill: every search started later must be answered
MAX_UNAVAILABLE = 20  # 503s across the fault: a bounded blip (a search takes ~50 ms, so about a second's worth)
WRITES_PER_SECOND = 10


@pytest.fixture(scope="module")
def cluster_state_dir():
    """The state directory `contactpoint engine start --nodes 3` would use: the CLI finds the cluster there."""
    state_dir = Path(tempfile.mkdtemp(prefix="cp-test-cluster-"))
    state_dir.chmod(0o755)  # the nodes' unprivileged user passes through it
    yield state_dir
    shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(cluster_state_dir):
    settings = Settings.from_env({}).replace(state_dir=cluster_state_dir)
    cluster = local_engine(settings, nodes=3)
    assert isinstance(cluster, LocalCluster)
    remember_local_nodes(settings, 3)
    try:
        started = time.monotonic()
        cluster.start()
        print(f"\nthree-node cluster started in {time.monotonic() - started:.1f}s")
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster_settings(cluster, database_url, tmp_path):
    # Usage limits out of the way: one practitioner searches continuously here.
    return Settings.from_env({}).replace(
        state_dir=tmp_path / "state", database_url=database_url, es_url=cluster.info().url, secure_cookies=False,
        secret_key=TEST_SECRET_KEY, search_limit="100000 per hour", client_limit="100000 per hour")


@pytest.fixture
def cluster_es(cluster_settings):
    client = make_client(cluster_settings)
    yield client
    client.indices.delete(index="children*", ignore_unavailable=True, allow_no_indices=True, expand_wildcards="all")
    try:
        client.indices.delete_index_template(name=ALIAS)
    except NotFoundError:
        pass
    client.close()


def _children(sessions, count: int) -> dict[str, tuple[str, str, str]]:
    """cp_id -> (given, family, date of birth) for ``count`` children that a search singles out."""
    made = {}
    for n in range(count):
        # 3 given names against 20 families: 60 distinct pairs, each with its own date of birth.
        given, family = ("Amara", "Bola", "Chidi")[n % 3], FAMILIES[n % len(FAMILIES)]
        dob = years_ago(3 + n % 12, day=1 + n % 28)
        made[add_child(sessions, given=given, family=family, dob=dob)] = (given, family, dob.isoformat())
    return made


def test_three_nodes_form_one_cluster_each_with_its_own_directory_and_ports(cluster):
    info = cluster.info()
    assert len(info.urls) == len(set(info.urls)) == 3
    assert all(url.startswith("http://127.0.0.1:") for url in info.urls)
    health = cluster.health()
    assert health["number_of_nodes"] == health["number_of_data_nodes"] == 3
    es = Elasticsearch(info.urls[0], request_timeout=30)
    try:
        nodes = es.nodes.info(metric="settings")["nodes"].values()
        assert sorted(node["name"] for node in nodes) == ["node-1", "node-2", "node-3"]
        assert len({node["settings"]["path"]["data"] if isinstance(node["settings"]["path"]["data"], str)
                    else node["settings"]["path"]["data"][0] for node in nodes}) == 3
        assert len({node["settings"]["transport"]["port"] for node in nodes}) == 3
    finally:
        es.close()


def test_the_cli_reports_every_node_and_refuses_a_single_node_beside_the_cluster(cluster, cluster_state_dir):
    env = {"CONTACTPOINT_STATE_DIR": str(cluster_state_dir), "CONTACTPOINT_ES_URL": None}
    status = CliRunner().invoke(main, ["engine", "status"], env=env)
    assert status.exit_code == 0, status.output
    assert "cluster of 3 nodes: 3 running, health green, 3 in the cluster" in status.output
    for node, url in zip(cluster.nodes, cluster.info().urls):
        assert f"{node.node_name}: running at {url}" in status.output
    single = CliRunner().invoke(main, ["engine", "start", "--nodes", "1"], env=env)
    assert single.exit_code == 1
    assert "a local cluster of 3 nodes is running: `contactpoint engine stop` it" in single.output


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_index_keeps_one_replica_on_a_cluster(cluster_es, sessions):
    _children(sessions, 5)
    index, count = rebuild(cluster_es, sessions, ALIAS, CHECKPOINT)
    assert count == 5
    settings = cluster_es.indices.get_settings(index=index)[index]["settings"]["index"]
    assert settings["number_of_shards"] == "1"
    assert settings["number_of_replicas"] == "1"
    health = cluster_es.cluster.health(index=index, wait_for_status="green", timeout="30s")
    assert health["status"] == "green" and health["active_shards"] == 2


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_client_retries_a_request_on_another_node(cluster, cluster_settings):
    nowhere = f"http://127.0.0.1:{free_port()}"
    client = make_client(cluster_settings.replace(es_url=",".join([nowhere, *cluster.info().urls])))
    try:
        # Round robin sends some of these to the closed port first: each is retried on a live node.
        for _ in range(8):
            assert client.cluster.health()["number_of_nodes"] == 3
    finally:
        client.close()
    without_retries = make_client(cluster_settings.replace(es_url=nowhere + "," + cluster.info().urls[0]),
                                  max_retries=0)
    try:
        with pytest.raises(ElasticsearchConnectionError):
            for _ in range(4):
                without_retries.cluster.health()
    finally:
        without_retries.close()


class Searches(threading.Thread):
    """Searches for known children through the JSON API, one after another, noting each answer."""

    def __init__(self, app, token, children):
        super().__init__(daemon=True)
        self.client = app.test_client()
        self.client.environ_base.update(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_ACTING_FOR=ACTING_FOR)
        self.children = list(children.items())
        self.answers: list[tuple[float, float, int, bool]] = []  # (started, finished, status, found the child)
        self.stop = threading.Event()

    def run(self):
        n = 0
        while not self.stop.is_set():
            cp_id, (given, family, dob) = self.children[n % len(self.children)]
            n += 1
            started = time.monotonic()
            status, body = api_search(self.client, given_name=given, family_name=family, date_of_birth=dob)
            found = status == 200 and any(result["cp_id"] == cp_id for result in body["results"])
            self.answers.append((started, time.monotonic(), status, found))


class Writes(threading.Thread):
    """New children through the registry at a steady rate, noting when each was committed."""

    def __init__(self, sessions):
        super().__init__(daemon=True)
        self.sessions = sessions
        self.written: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self):
        n = 0
        while not self.stop.wait(1 / WRITES_PER_SECOND):
            cp_id = add_child(self.sessions, given="Eni", family=f"Fault{chr(65 + n // 26 % 26)}{chr(65 + n % 26)}")
            self.written[cp_id] = time.monotonic()
            n += 1


class Arrivals(threading.Thread):
    """When each written child's document first appears in the index (a realtime get: applied, not refreshed)."""

    def __init__(self, es, writes):
        super().__init__(daemon=True)
        self.es, self.writes = es, writes
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.1):
            pending = [cp_id for cp_id in list(self.writes.written) if cp_id not in self.seen]
            if not pending:
                continue
            try:
                docs = self.es.mget(index=ALIAS, ids=pending, source=False)["docs"]
            except Exception:  # the cluster may refuse for a moment; the next round asks again
                continue
            now = time.monotonic()
            self.seen.update({doc["_id"]: now for doc in docs if doc.get("found")})


def _sync_follower(settings, log: Path) -> subprocess.Popen:
    env = {**os.environ, "CONTACTPOINT_DATABASE_URL": settings.database_url, "CONTACTPOINT_ES_URL": settings.es_url,
           "CONTACTPOINT_STATE_DIR": str(settings.state_dir), "CONTACTPOINT_SECRET_KEY": TEST_SECRET_KEY}
    return subprocess.Popen([sys.executable, "-m", "webapp.cli", "index", "sync", "--follow"], env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for_line(log: Path, line: str, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while line not in log.read_text():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"no {line!r} within {seconds}s:\n{log.read_text()}"
        time.sleep(0.1)


def _node_holding_the_primary(cluster, es) -> object:
    index = live_index(es, ALIAS)
    (shard,) = [s for s in es.cat.shards(index=index, format="json") if s["prirep"] == "p"]
    (node,) = [node for node in cluster.nodes if node.node_name == shard["node"]]
    return node


def _percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_losing_a_node_keeps_searches_answering_and_loses_no_change(cluster, cluster_es, cluster_settings, sessions,
                                                                      api_token, tmp_path):
    children = _children(sessions, 60)
    rebuild(cluster_es, sessions, ALIAS, CHECKPOINT)
    assert cluster_es.cluster.health(index=ALIAS, wait_for_status="green", timeout="60s")["status"] == "green"
    victim = _node_holding_the_primary(cluster, cluster_es)
    was_master = cluster_es.cat.master(format="json")[0]["node"] == victim.node_name
    app = create_app({"SETTINGS": cluster_settings, "TESTING": True})
    follower = _sync_follower(cluster_settings, tmp_path / "sync.log")
    searches, writes = Searches(app, api_token, children), Writes(sessions)
    arrivals = Arrivals(cluster_es, writes)
    try:
        # Lag is measured from a follower already at work, not from a process still importing.
        _wait_for_line(tmp_path / "sync.log", "following the change log", follower, seconds=60)
        for thread in (searches, writes, arrivals):
            thread.start()
        time.sleep(KILL_AFTER)
        killed_at = time.monotonic()
        os.kill(victim.server_pid(), signal.SIGKILL)  # the server JVM itself, not only its launcher
        time.sleep(RUN_AFTER_KILL)
        writes.stop.set()
        writes.join(10)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and set(writes.written) - set(arrivals.seen):
            time.sleep(0.2)
        searches.stop.set()
        searches.join(30)
        arrivals.stop.set()
        arrivals.join(10)
    finally:
        searches.stop.set()
        writes.stop.set()
        arrivals.stop.set()
        follower.send_signal(signal.SIGTERM)
        try:
            follower.wait(20)
        except subprocess.TimeoutExpired:
            follower.kill()
            follower.wait(10)
        app.extensions["contactpoint"]["engine"].dispose()

    statuses = [status for _, _, status, _ in searches.answers]
    after_kill = [answer for answer in searches.answers if answer[1] >= killed_at]
    unavailable = [answer for answer in after_kill if answer[2] == 503]
    answering_again = max((finished for _, finished, status, _ in after_kill if status != 200), default=killed_at)
    lags = [arrivals.seen[cp_id] - written for cp_id, written in writes.written.items() if cp_id in arrivals.seen]
    around_kill = [arrivals.seen[cp_id] - written for cp_id, written in writes.written.items()
                   if cp_id in arrivals.seen and killed_at - 1 <= written <= killed_at + ANSWERING_AGAIN_WITHIN]
    slowest = max((finished - started for started, finished, _, _ in after_kill), default=0.0)
    print(f"\nkilled {victim.node_name} (primary{', master' if was_master else ''}); searches: {len(statuses)} "
          f"({len(after_kill)} after the kill, slowest {slowest:.2f}s), 503s: {len(unavailable)}, "
          f"answering again {answering_again - killed_at:.2f}s after the kill; "
          f"changes written {len(writes.written)}, sync lag p50 {_percentile(lags, .5):.2f}s "
          f"p95 {_percentile(lags, .95):.2f}s max {max(lags, default=0):.2f}s (of changes written from 1 s before "
          f"to 5 s after the kill: max {max(around_kill, default=0):.2f}s)")

    assert set(statuses) <= {200, 503}, sorted(set(statuses))  # never a 500, never a 429 here
    assert len(unavailable) <= MAX_UNAVAILABLE
    assert all(found for _, _, status, found in searches.answers if status == 200), \
        "an answer left out the child searched for"
    assert [a for a in after_kill if a[0] >= killed_at + ANSWERING_AGAIN_WITHIN], "searches stopped being made"
    assert all(status == 200 for started, _, status, _ in after_kill
               if started >= killed_at + ANSWERING_AGAIN_WITHIN)
    assert answering_again - killed_at <= ANSWERING_AGAIN_WITHIN
    assert len(writes.written) >= WRITES_PER_SECOND * (KILL_AFTER + RUN_AFTER_KILL) / 2
    assert set(writes.written) <= set(arrivals.seen), "changes written during the fault are missing from the index"

    cluster.start()  # the killed node returns and rejoins
    assert cluster_es.cluster.health(index=ALIAS, wait_for_status="green", timeout="60s")["status"] == "green"
    env = {**os.environ, "CONTACTPOINT_DATABASE_URL": cluster_settings.database_url,
           "CONTACTPOINT_ES_URL": cluster.info().url, "CONTACTPOINT_STATE_DIR": str(cluster_settings.state_dir),
           "CONTACTPOINT_SECRET_KEY": TEST_SECRET_KEY}
    verified = subprocess.run([sys.executable, "-m", "webapp.cli", "index", "verify"], capture_output=True, text=True,
                              timeout=120, env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"database {len(children) + len(writes.written)} children" in verified.stdout
    assert ", 0 drifted" in verified.stdout


def test_engine_stop_ends_every_node_and_leaves_no_process(cluster, cluster_state_dir):
    """Last in this module: it stops the module's cluster."""
    env = {"CONTACTPOINT_STATE_DIR": str(cluster_state_dir), "CONTACTPOINT_ES_URL": None}
    groups = list(cluster.info().pids)
    assert len(groups) == 3
    stopped = CliRunner().invoke(main, ["engine", "stop"], env=env)
    assert stopped.exit_code == 0 and stopped.output.strip() == "stopped", stopped.output
    assert all(node.info() is None for node in cluster.nodes)
    assert [pid for pid in Path("/proc").iterdir() if pid.name.isdigit() and _process_group(pid) in groups] == []
    status = CliRunner().invoke(main, ["engine", "status"], env=env)
    assert status.exit_code == 3 and status.output.strip() == "not running"


def _process_group(proc: Path) -> int | None:
    try:
        fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[2]) if fields[0] != "Z" else None
