"""A throwaway local PostgreSQL cluster for the test session (Debian's server binaries)."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from search_service.engine import free_port


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql "
                       "(make test does this), or set CONTACTPOINT_TEST_POSTGRES_URL")


class LocalPostgres:
    def __init__(self, settings: dict[str, str] | None = None):
        self.settings = settings or {}  # more server settings (-c name=value), e.g. a benchmark's memory
        self.bin = _bin_dir()
        self.dir = Path(tempfile.mkdtemp(prefix="cp-test-pg-"))
        self.port = free_port()
        # PostgreSQL, like Elasticsearch, will not run as root.
        self.user = "postgres" if os.geteuid() == 0 else None
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        kwargs = {}
        if self.user:
            entry = pwd.getpwnam(self.user)
            kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        result = subprocess.run([str(self.bin / args[0]), *args[1:]], capture_output=True, text=True,
                                cwd=self.dir, **kwargs)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}\n{result.stderr}")

    def start(self) -> str:
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        data = self.dir / "data"
        self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync")
        self._run("pg_ctl", "-D", str(data), "-o", self._options(), "-l", str(self.dir / "server.log"), "-w", "start")
        return self.url

    def _options(self) -> str:
        return (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
                + "".join(f" -c {name}={value}" for name, value in self.settings.items()))

    def restart(self) -> None:
        """Stop (dropping every connection) and start again on the same port."""
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-o", self._options(), "-l", str(self.dir / "server.log"),
                  "-m", "fast", "-w", "restart")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
