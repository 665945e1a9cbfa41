"""A real three-node Elasticsearch cluster on loopback, for tests and benchmarks of what a node's loss does.

Each node is a ``LocalEngine`` with its own directory (config, data, logs), HTTP and transport ports; every
node names every node's transport port as a discovery seed, and the three are the initial master nodes, so
they elect a master once two of them run and survive losing any one.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .engine import ClusterLayout, EngineError, LocalEngine

CLUSTER_NAME = "contactpoint-local-cluster"
SIZES = (1, 3)  # one node, or the smallest cluster that keeps a master after losing a node


@dataclass(frozen=True)
class ClusterInfo:
    urls: tuple[str, ...]  # the running nodes' HTTP addresses
    pids: tuple[int, ...]
    version: str
    node_dir: str

    @property
    def url(self) -> str:
        """The form CONTACTPOINT_ES_URL takes: the nodes' URLs, comma-separated."""
        return ",".join(self.urls)

    @property
    def pid(self) -> int:
        return self.pids[0]


class LocalCluster:
    """Three local nodes whose state lives under ``cluster_dir`` (node-1, node-2, node-3)."""

    def __init__(self, cluster_dir: Path, cache_dir: Path, version: str | None = None, heap: str = "512m",
                 size: int = 3):
        if size < 2:
            raise EngineError(f"a local cluster has at least 2 nodes, got {size}")
        self.cluster_dir = Path(cluster_dir)
        names = tuple(f"node-{i}" for i in range(1, size + 1))
        self.nodes = [LocalEngine(self.cluster_dir / name, cache_dir, version, heap, node_name=name)
                      for name in names]

    def info(self) -> ClusterInfo | None:
        """The running nodes, or None when none runs."""
        running = [(node, info) for node in self.nodes if (info := node.info()) is not None]
        if not running:
            return None
        return ClusterInfo(urls=tuple(info.url for _, info in running), pids=tuple(info.pid for _, info in running),
                           version=running[0][1].version, node_dir=str(self.cluster_dir))

    def health(self) -> dict | None:
        """The cluster's health as the first node that answers sees it."""
        for node in self.nodes:
            health = node.health()
            if health is not None:
                return health
        return None

    def start(self, timeout: float = 240.0) -> ClusterInfo:
        """Start every node that is not running (all of them, or one that was lost) and wait for the whole cluster."""
        self.cluster_dir.mkdir(parents=True, exist_ok=True)
        self.cluster_dir.chmod(0o755)  # the nodes' unprivileged user passes through it to their own directories
        layout = ClusterLayout(CLUSTER_NAME, tuple(node.node_name for node in self.nodes), self._transport_ports())
        launched = []
        try:
            for node in self.nodes:
                node.cluster = layout
                if node.info() is None:
                    launched.append((node, node.launch()[0]))
            deadline = time.monotonic() + timeout
            for node, process in launched:
                node.wait_until_healthy(process, max(1.0, deadline - time.monotonic()))
            self._wait_for_all(deadline)
        except BaseException:
            for node, _ in launched:
                node.stop()
            raise
        return self.info()

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop every node; True when any was running."""
        return any([node.stop(timeout) for node in self.nodes])

    def _transport_ports(self) -> tuple[int, ...]:
        """Every node's transport port, all distinct (fresh ports are picked one at a time and could repeat)."""
        for _ in range(10):
            ports = [node.reserve_ports() for node in self.nodes]
            flat = [port for pair in ports for port in pair]
            if len(set(flat)) == len(flat):
                return tuple(transport for _, transport in ports)
            for node in self.nodes:
                if node.info() is None:
                    (node.node_dir / "ports.json").unlink(missing_ok=True)
        raise EngineError("could not find distinct free ports on 127.0.0.1 for the cluster's nodes")

    def _wait_for_all(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            health = self.health()
            if health and health.get("number_of_nodes") == len(self.nodes) and \
                    health.get("status") in ("green", "yellow"):
                return
            time.sleep(0.5)
        raise EngineError(f"the cluster did not gather its {len(self.nodes)} nodes in time; health: {self.health()}")

