"""The local node provisioning, on a real node of its own (the session node serves the other tests)."""
import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from search_service.engine import NODE_USER, LocalEngine, find_java_home, _java_major
from webapp.config import Settings


def test_the_session_node_is_healthy(es):
    health = es.cluster.health(wait_for_status="yellow", timeout="30s")
    assert health["status"] in ("green", "yellow")
    assert health["number_of_nodes"] == 1


def test_a_jdk_of_at_least_21_is_found():
    assert _java_major(find_java_home()) >= 21


@pytest.mark.skipif(bool(os.environ.get("CONTACTPOINT_ES_URL")), reason="uses an external cluster")
def test_start_is_idempotent_runs_unprivileged_on_loopback_and_stop_leaves_no_process():
    node = LocalEngine(Path(tempfile.mkdtemp(prefix="cp-test-engine-")), Settings.from_env({}).cache_dir)
    info = node.start()
    try:
        assert info.url.startswith("http://127.0.0.1:")
        assert node.start() == info  # a second start finds the running node
        assert node.health()["status"] in ("green", "yellow")
        owners = {os.stat(f"/proc/{pid}").st_uid for pid in _group_members(info.pid)}
        assert owners, "the node's processes should be visible"
        if os.geteuid() == 0:
            assert owners == {pwd.getpwnam(NODE_USER).pw_uid}
    finally:
        assert node.stop() is True
    assert _group_members(info.pid) == []
    assert node.info() is None
    assert node.stop() is False
    shutil.rmtree(node.node_dir)


def _group_members(pgid):
    members = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(proc.name))
    return members


@pytest.mark.parametrize("nodes", ["0", "2", "4", "-1"])
def test_engine_start_refuses_a_node_count_other_than_1_or_3(nodes, tmp_path):
    from click.testing import CliRunner

    from webapp.cli import main

    result = CliRunner().invoke(main, ["engine", "start", "--nodes", nodes],
                                env={"CONTACTPOINT_STATE_DIR": str(tmp_path), "CONTACTPOINT_ES_URL": None})
    assert result.exit_code == 2
    assert "--nodes" in result.output and "must be 1 (a single node) or 3" in result.output
    assert not (tmp_path / "engine").exists()  # nothing was started or remembered
