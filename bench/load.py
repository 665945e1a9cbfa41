"""Full-stack load: practitioners' searches and record views through gunicorn, beside the same searches sent
straight to Elasticsearch.

    .venv/bin/python bench/load.py [--children 1000000] [--clients 16] [--seconds 30]
        [--server sync:2] [--server gthread:2:8] ... [--database-url URL [--reuse]] [--es-url URL]
        [--view-share 0.25] [--profile FILE] [--json OUT]

1. Builds a directory of N synthetic children on PostgreSQL through the registry's bulk path
   (`demo-data --bulk`; with --reuse, a --database-url that already holds children is used as it is),
   and indexes it with the production rebuild (skipped with --reuse when the index already holds them).
2. Makes C API clients (case-management systems, each in one of the demo authorities, with a token) and
   a practitioner each acts for, and --queries queries from the judgment generator (lightly misspelt
   names and dates of birth, missing fields, moves, as `relevance judgments` makes them).
3. Raw search: the same queries, built by search_service with each client's visibility filters as the
   web app builds them, sent straight to Elasticsearch from C threads for S seconds, before and again
   after the web runs (the ratio is taken to the run with the lower p95).
4. Full stack: for each --server (worker class:workers[:threads]), the production app under gunicorn,
   driven by C concurrent clients for S seconds: each sends its next search and, for a share of them,
   opens the child it looked for with a purpose. Throughput, p50/p95/p99 and errors of both, the
   full-stack/raw ratio, and every web worker's RSS.
Everything it starts listens on 127.0.0.1 and is stopped at the end; it refuses a URL off this machine.
"""
from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import urllib3
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from access_control import accounts  # noqa: E402
from indexing import CHECKPOINT, rebuild  # noqa: E402
from registry.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from registry.demo_bulk import load_demo_data_bulk  # noqa: E402
from registry.demo_data import local_authorities  # noqa: E402
from registry.models import Child  # noqa: E402
from search_service.client import make_client  # noqa: E402
from search_service.judgments import generate_judgments  # noqa: E402
from search_service.queries import Criteria, build_query  # noqa: E402
from access_control.visibility import PURPOSES, VisibilityPolicy  # noqa: E402
from webapp.config import Settings  # noqa: E402
from webapp.relevance_service import active_profile  # noqa: E402
from webapp.schemas import SearchSchema  # noqa: E402
from tests.support.accounts import add_token  # noqa: E402

SECRET_KEY = "bench/load.py only: never used outside this benchmark"
ALIAS = "children"  # the web app's default alias
UNLIMITED = "100000000 per hour"
SAMPLE = 20_000  # children the queries are drawn from
WORKER_CLASSES = ("sync", "gthread")
PY_SPY = Path(sys.executable).with_name("py-spy")
MAX = {"children": 2_000_000, "clients": 256, "seconds": 600, "warmup": 60}


@dataclasses.dataclass(frozen=True)
class Server:
    worker_class: str
    workers: int
    threads: int = 1

    @classmethod
    def parse(cls, text: str) -> "Server":
        parts = text.split(":")
        if parts[0] not in WORKER_CLASSES or not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts[1:]):
            raise argparse.ArgumentTypeError(f"--server {text!r}: give CLASS:WORKERS[:THREADS], CLASS one of "
                                             f"{', '.join(WORKER_CLASSES)} (e.g. sync:2, gthread:2:8)")
        server = cls(parts[0], *map(int, parts[1:]))
        if not 1 <= server.workers <= 16 or not 1 <= server.threads <= 64:
            raise argparse.ArgumentTypeError(f"--server {text!r}: 1-16 workers and 1-64 threads")
        if server.worker_class == "sync" and server.threads != 1:
            raise argparse.ArgumentTypeError(f"--server {text!r}: sync workers have no threads (use gthread)")
        return server

    def __str__(self) -> str:
        return f"{self.worker_class}:{self.workers}" + (f":{self.threads}" if self.worker_class == "gthread" else "")


def loopback_only(url: str, what: str) -> str:
    """The URL, if it points at this machine; a clear error otherwise (a load test must not reach beyond it)."""
    for part in url.split(","):
        host = urlsplit(part.strip()).hostname
        if url.startswith("sqlite:"):
            continue
        try:
            local = host == "localhost" or ipaddress.ip_address(host or "").is_loopback
        except ValueError:
            local = False
        if not local:
            raise SystemExit(f"{what}: {host or part!r} is not on this machine; a load test runs on loopback only "
                             "(127.0.0.1, ::1 or localhost)")
    return url


# --- measuring --------------------------------------------------------------------------------------
@dataclasses.dataclass
class Tally:
    """Latencies (seconds) of the requests that succeeded, and the errors, of one kind of request."""
    latencies: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def ok(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)

    def failed(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)

    def summary(self, seconds: float) -> dict:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float | None:
            return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1) if ordered else None

        return {"requests": len(ordered), "per_s": round(len(ordered) / seconds, 1), "p50_ms": pct(0.50),
                "p95_ms": pct(0.95), "p99_ms": pct(0.99), "errors": len(self.errors), "first_errors": self.errors[:5]}


def drive(clients: int, seconds: float, warmup: float, step) -> float:
    """Run ``step(client, n, measuring)`` in ``clients`` threads for warm-up + ``seconds``; the measured seconds."""
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds

    def loop(client: int) -> None:
        n = 0
        while (now := time.perf_counter()) < stop_at:
            step(client, n, now >= measure_from)
            n += 1

    threads = [threading.Thread(target=loop, args=(c,), daemon=True) for c in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=warmup + seconds + 120)
    return seconds


# --- the directory, its users and queries ----------------------------------------------------------
def build_directory(sessions, children: int, seed: int, reuse: bool) -> int:
    with sessions() as session:
        present = session.scalar(select(func.count()).select_from(Child))
    if present and reuse:
        print(f"reusing the directory: {present:,} children", flush=True)
        return present
    if present:
        raise SystemExit(f"the database already holds {present:,} children: give --reuse to measure against them, "
                         "or an empty database")
    start = time.perf_counter()
    load_demo_data_bulk(sessions, children, seed)
    elapsed = time.perf_counter() - start
    print(f"built {children:,} children in {elapsed:.0f}s = {children / elapsed:,.0f} children/s "
          f"(registry.demo_bulk, {os.cpu_count()} generator processes)", flush=True)
    return children


def index_directory(es, sessions, children: int, reuse: bool) -> float | None:
    if reuse and es.indices.exists_alias(name=ALIAS) and es.count(index=ALIAS)["count"] >= children:
        print("reusing the index", flush=True)
        return None
    start = time.perf_counter()
    _, count = rebuild(es, sessions, ALIAS, CHECKPOINT)
    elapsed = time.perf_counter() - start
    print(f"indexed {count:,} children in {elapsed:.0f}s = {count / elapsed:,.0f} children/s", flush=True)
    return count / elapsed


@dataclasses.dataclass
class Client:
    token: str
    acting_for: str
    viewer: object  # access_control.Viewer, as the web app sees this client


def make_clients(sessions, count: int) -> list[Client]:
    codes = [la["code"] for la in local_authorities()]
    clients = []
    for i in range(count):
        system, practitioner = f"bench-system-{i}", f"bench.practitioner-{i}"
        token = add_token(sessions, system, la_code=codes[i % len(codes)], acting_for=practitioner)
        with sessions() as session:
            viewer = accounts.viewer_for(accounts.find_user(session, system), on_behalf_of=practitioner)
        clients.append(Client(token, practitioner, viewer))
    return clients


def make_queries(sessions, count: int, seed: int) -> list[tuple[dict, str]]:
    """(criteria, expected cp_id) pairs from a random sample of unshielded active children."""
    rng = random.Random(seed)
    with sessions() as session:
        low, high = session.execute(select(func.min(Child.id), func.max(Child.id))).one()
        ids = rng.sample(range(low, high + 1), min(SAMPLE, high - low + 1))
        rows = session.execute(select(Child.cp_id, Child.given_name, Child.family_name, Child.date_of_birth,
                                      Child.gender, Child.postcode)
                               .where(Child.id.in_(ids), Child.shielded.is_(False), Child.status == "active")
                               .order_by(Child.id)).all()
    children = ((row.cp_id, row._asdict()) for row in rows)
    return [(j.criteria, j.expected) for j in generate_judgments(children, min(count, len(rows)), seed)]


# --- the two paths -----------------------------------------------------------------------------------
def raw_search(settings, sessions, clients: list[Client], queries, seconds: float, warmup: float) -> dict:
    """The same searches as the web app builds them (criteria validated by the API's schema, the client's
    visibility filters and scope, the active profile), straight to Elasticsearch."""
    with sessions() as session:
        profile = active_profile(session)
    es = make_client(settings, connections_per_node=len(clients) + 4)
    schema = SearchSchema()
    bodies = [schema.load(criteria) for criteria, _ in queries]
    tally = Tally()

    def step(client: int, n: int, measuring: bool) -> None:
        policy = VisibilityPolicy(clients[client].viewer)
        data = bodies[(client * 7919 + n) % len(bodies)]
        started = time.perf_counter()
        try:
            body = build_query(Criteria(**data), profile, policy.query_filters(), policy.location_scope(),
                               size=settings.max_results + 1)
            es.search(index=ALIAS, **body)
        except Exception as exc:  # noqa: BLE001 - every failure is counted and the first few shown
            if measuring:
                tally.failed(f"{type(exc).__name__}: {exc}"[:300])
            return
        if measuring:
            tally.ok(time.perf_counter() - started)

    measured = drive(len(clients), seconds, warmup, step)
    es.close()
    return tally.summary(measured)


def gunicorn_command(server: Server, port: int) -> list[str]:
    command = [sys.executable, "-m", "gunicorn", "--workers", str(server.workers), "--worker-class",
               server.worker_class, "--bind", f"127.0.0.1:{port}", "--timeout", "60", "--log-level", "warning"]
    # Always given, so gunicorn.conf.py's threads never turn a sync worker into gthread (gunicorn does that).
    command += ["--threads", str(server.threads if server.worker_class == "gthread" else 1)]
    return command + ["webapp:create_app()"]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def worker_memory(master: int) -> list[dict]:
    """Each gunicorn worker's resident memory now and at its peak (MB)."""
    memory = []
    for pid in _children(master):
        try:
            status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        except OSError:
            continue
        memory.append({"pid": int(pid), "rss_mb": int(status["VmRSS"].split()[0]) // 1024,
                       "peak_mb": int(status["VmHWM"].split()[0]) // 1024})
    return memory


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    http = urllib3.PoolManager(retries=False, timeout=2)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited during start-up (exit {process.returncode})")
        try:
            http.request("GET", url + "/status")
            return
        except urllib3.exceptions.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer within {timeout:.0f}s")


def full_stack(server: Server, env: dict, clients: list[Client], queries, seconds: float, warmup: float,
               view_share: float, work: Path, profile: Path | None) -> dict:
    port = _free_port()
    command = gunicorn_command(server, port)
    if profile is not None:  # attaching to a running worker is refused here; starting under py-spy works
        command = [str(PY_SPY), "record", "--format", "raw", "-r", "50",
                   "--subprocesses", "-o", str(profile), "--"] + command
    log = open(work / f"gunicorn-{server}.log", "w")
    process = subprocess.Popen(command, env=env, cwd=Path(__file__).resolve().parents[1], stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    http = urllib3.PoolManager(maxsize=len(clients) + 4, retries=False, timeout=urllib3.Timeout(total=30))
    searches, views = Tally(), Tally()
    purposes = list(PURPOSES)
    try:
        wait_until_up(url, process)

        def step(client: int, n: int, measuring: bool) -> None:
            me = clients[client]
            criteria, expected = queries[(client * 7919 + n) % len(queries)]
            headers = {"Authorization": f"Bearer {me.token}", "X-Acting-For": me.acting_for}
            request(http, "POST", f"{url}/api/v1/search", headers, criteria, searches if measuring else None)
            if random.Random(client * 1_000_003 + n).random() < view_share:
                request(http, "GET", f"{url}/api/v1/children/{expected}?purpose={purposes[n % len(purposes)]}",
                        headers, None, views if measuring else None)

        measured = drive(len(clients), seconds, warmup, step)
        master = _gunicorn_master(process)
        memory = worker_memory(master) if master else []
    finally:
        _stop(process)
        log.close()
    return {"server": str(server), "search": searches.summary(measured), "view": views.summary(measured),
            "workers": memory}


def request(http, method: str, url: str, headers: dict, body, tally: Tally | None) -> None:
    started = time.perf_counter()
    try:
        response = http.request(method, url, headers=headers, json=body)
    except urllib3.exceptions.HTTPError as exc:
        if tally is not None:
            tally.failed(f"{method} {url}: {type(exc).__name__}: {exc}"[:300])
        return
    if tally is None:
        return
    if response.status != 200:
        tally.failed(f"{method} {url}: {response.status} {response.data[:200]!r}")
    else:
        tally.ok(time.perf_counter() - started)


def _gunicorn_master(process: subprocess.Popen) -> int | None:
    """The gunicorn master's pid: the process itself, or (under py-spy) its child."""
    if "py-spy" not in " ".join(map(str, process.args)):
        return process.pid
    children = _children(process.pid)
    return children[0] if children else None


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        master = _gunicorn_master(process)
        os.kill(master or process.pid, signal.SIGTERM)  # under py-spy: gunicorn ends, py-spy writes its file
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _free_port() -> int:
    from search_service.engine import free_port

    return free_port()


# --- report ------------------------------------------------------------------------------------------
PROJECT_FRAME = re.compile(r"\((webapp|access_control|registry|search_service|indexing|analyzers)/")


def where_time_goes(profile: Path, top: int = 15) -> dict:
    """A worker's request time from py-spy's raw samples: what it waited on (the innermost frame's library),
    and the first two project functions under the request handler, as shares of all request samples."""
    waits, places, total = Counter(), Counter(), 0
    for line in profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not any("handle_request" in frame for frame in frames):
            continue  # the arbiter, start-up
        total += int(count)
        leaf = frames[-1]
        waits["database" if "psycopg" in leaf else "network (Elasticsearch)" if re.search(
            r"urllib3|http/client|socket|elastic", leaf) else "CPU (Python)"] += int(count)
        own = [re.sub(r" \(.*?/", " (", frame) for frame in frames if PROJECT_FRAME.search(frame)]
        places[" > ".join(own[:2]) or "(outside project code)"] += int(count)
    share = {name: round(n / total, 3) for name, n in waits.most_common()} if total else {}
    return {"samples": total, "waits": share,
            "places": [(name, round(n / total, 3)) for name, n in places.most_common(top)] if total else []}


def report(result: dict) -> None:
    print(f"\nmachine: {result['machine']['cpus']} CPUs, {result['machine']['memory_gb']} GB, load average "
          f"{result['machine']['load_before']} before / {result['machine']['load_after']} after (shared: noisy)")
    print(f"directory: {result['children']:,} children on {result['database']}; {result['clients']} clients, "
          f"{result['seconds']:.0f}s each after {result['warmup']:.0f}s warm-up; "
          f"{result['queries']:,} distinct queries\n")
    raw = result["raw"]
    print(f"{'path':24s} {'requests':>9s} {'per s':>8s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'errors':>7s}"
          f" {'p95/raw':>8s}  worker RSS MB (peak)")
    line = "{:24s} {:9,} {:8.1f} {:>8} {:>8} {:>8} {:7,} {:>8}  {}"
    for name, run in zip(("raw Elasticsearch first", "raw Elasticsearch last"), result["raw_runs"]):
        print(line.format(name + (" *" if run is raw else ""), run["requests"], run["per_s"], run["p50_ms"],
                          run["p95_ms"], run["p99_ms"], run["errors"], "", ""))
    for run in result["full_stack"]:
        s, v = run["search"], run["view"]
        ratio = f"{s['p95_ms'] / raw['p95_ms']:.1f}x" if s["p95_ms"] and raw["p95_ms"] else "-"
        memory = ", ".join(f"{w['rss_mb']} ({w['peak_mb']})" for w in run["workers"])
        print(line.format(f"web {run['server']} search", s["requests"], s["per_s"], s["p50_ms"], s["p95_ms"],
                          s["p99_ms"], s["errors"], ratio, memory))
        print(line.format(f"web {run['server']} view", v["requests"], v["per_s"], v["p50_ms"], v["p95_ms"],
                          v["p99_ms"], v["errors"], "", ""))
    tallies = [("raw", run) for run in result["raw_runs"]]
    tallies += [(f"{r['server']} {k}", r[k]) for r in result["full_stack"] for k in ("search", "view")]
    for name, tally in tallies:
        for error in tally["first_errors"]:
            print(f"error ({name}): {error}")
    print("* the raw run the p95/raw ratio is taken to (the lower p95)")
    print("\ntargets: full-stack search p95 <= 50 ms, >= 300 searches/s, 0 errors, p95 <= 1.5x raw p95")
    for run in result["full_stack"]:
        s = run["search"]
        checks = [s["p95_ms"] is not None and s["p95_ms"] <= 50, s["per_s"] >= 300,
                  s["errors"] == 0 and run["view"]["errors"] == 0,
                  bool(s["p95_ms"] and raw["p95_ms"] and s["p95_ms"] <= 1.5 * raw["p95_ms"])]
        print(f"  {run['server']}: " + ", ".join(f"{n} {'met' if ok else 'MISSED'}" for n, ok in
                                                 zip(("p95", "throughput", "errors", "ratio"), checks)))


def machine(load_before: tuple) -> dict:
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {"cpus": os.cpu_count(), "memory_gb": round(memory_kb / 1024 / 1024), "load_before":
            " ".join(f"{x:.1f}" for x in load_before), "load_after": " ".join(f"{x:.1f}" for x in os.getloadavg())}


# --- main ----------------------------------------------------------------------------------------------
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--server", type=Server.parse, action="append",
                        help="gunicorn worker class and workers[:threads], e.g. sync:2 or gthread:2:8; repeat to "
                             "compare (default: sync:2)")
    parser.add_argument("--view-share", type=float, default=0.25, help="share of searches followed by a record view")
    parser.add_argument("--queries", type=int, default=5000, help="distinct queries from the judgment generator")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="a PostgreSQL database on this machine (default: start one)")
    parser.add_argument("--reuse", action="store_true", help="measure against the children --database-url holds")
    parser.add_argument("--es-url", help="an Elasticsearch cluster on this machine (default: start a node)")
    parser.add_argument("--profile", type=Path, help="run the first --server under py-spy; raw samples to FILE")
    parser.add_argument("--json", type=Path, help="write the results as JSON too")
    args = parser.parse_args(argv)
    for name, top in MAX.items():
        value = getattr(args, name)
        if not (0 <= value <= top if name == "warmup" else 1 <= value <= top):
            parser.error(f"--{name} must be between {0 if name == 'warmup' else 1} and {top:,}, not {value}")
    if not 0 <= args.view_share <= 1:
        parser.error("--view-share must be between 0 and 1")
    if not 1 <= args.queries <= SAMPLE:
        parser.error(f"--queries must be between 1 and {SAMPLE:,}")
    if args.reuse and not args.database_url:
        parser.error("--reuse needs --database-url (a database this benchmark started is gone when it ends)")
    for name in ("database_url", "es_url"):
        if getattr(args, name):
            try:
                loopback_only(getattr(args, name), f"--{name.replace('_', '-')}")
            except SystemExit as exc:
                parser.error(str(exc))
    if args.profile and not PY_SPY.exists():
        parser.error(f"--profile needs py-spy beside this Python ({PY_SPY}): .venv/bin/python -m pip install py-spy")
    args.server = args.server or [Server("sync", 2)]
    return args


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop what was started (the finally below)
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="cp-bench-load-"))
    work.chmod(0o755)  # the node runs as an unprivileged user, which must reach its directory
    stops = []
    try:
        database_url = args.database_url
        if database_url is None:
            from tests.support.postgres import LocalPostgres

            postgres = LocalPostgres(settings={"shared_buffers": "2GB", "max_wal_size": "8GB"})
            database_url = postgres.start()
            stops.append(postgres.stop)
        es_url = args.es_url
        if es_url is None:
            from search_service.engine import LocalEngine

            node = LocalEngine(work / "es", Settings.from_env({}).cache_dir, heap="2g")
            es_url = node.start().url
            stops.append(node.stop)
        settings = Settings.from_env({}).replace(database_url=database_url, es_url=es_url, secret_key=SECRET_KEY,
                                                 state_dir=work / "state")
        engine = make_engine(database_url)
        upgrade(engine)
        sessions = make_sessionmaker(engine, info={"audit_key": settings.key("audit")})
        children = build_directory(sessions, args.children, args.seed, args.reuse)
        es = make_client(settings, request_timeout=300)
        index_directory(es, sessions, children, args.reuse)
        es.indices.refresh(index=ALIAS)
        clients = make_clients(sessions, args.clients)
        queries = make_queries(sessions, args.queries, args.seed)
        print(f"{len(clients)} API clients, {len(queries):,} queries; raw Elasticsearch for {args.seconds:.0f}s",
              flush=True)
        raws = [raw_search(settings, sessions, clients, queries, args.seconds, args.warmup)]
        env = {**os.environ, "CONTACTPOINT_DATABASE_URL": database_url, "CONTACTPOINT_ES_URL": es_url,
               "CONTACTPOINT_SECRET_KEY": SECRET_KEY, "CONTACTPOINT_STATE_DIR": str(work / "state"),
               "CONTACTPOINT_SEARCH_LIMIT": UNLIMITED, "CONTACTPOINT_VIEW_LIMIT": UNLIMITED,
               "CONTACTPOINT_CLIENT_LIMIT": UNLIMITED}
        runs = []
        for number, server in enumerate(args.server):
            print(f"full stack, gunicorn {server}, for {args.seconds:.0f}s", flush=True)
            runs.append(full_stack(server, env, clients, queries, args.seconds, args.warmup, args.view_share, work,
                                   args.profile if number == 0 else None))
        # Again after the web runs: right after a rebuild the node is still merging segments, which the first
        # raw run pays for; the ratio is taken to the better (lower p95) of the two, the harder comparison.
        print(f"raw Elasticsearch again for {args.seconds:.0f}s", flush=True)
        raws.append(raw_search(settings, sessions, clients, queries, args.seconds, args.warmup))
        raw = min(raws, key=lambda r: r["p95_ms"] if r["p95_ms"] is not None else float("inf"))
        engine.dispose()
        result = {"machine": machine(load_before), "children": children, "database": "PostgreSQL"
                  if database_url.startswith("postgres") else "SQLite", "clients": args.clients,
                  "seconds": args.seconds, "warmup": args.warmup, "queries": len(queries), "raw": raw, "raw_runs": raws,
                  "full_stack": runs}
        report(result)
        if args.profile:
            where = where_time_goes(args.profile)
            result["profile"] = where
            print(f"\nwhere gunicorn {args.server[0]}'s request time goes ({where['samples']:,} py-spy samples in "
                  f"{args.profile}): " + ", ".join(f"{name} {share:.0%}" for name, share in where["waits"].items()))
            for name, share in where["places"]:
                print(f"  {share:6.1%}  {name}")
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
    finally:
        for stop in reversed(stops):
            stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
