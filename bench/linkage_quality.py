"""Record-linkage quality and feed throughput, side by side with Splink as the reference.

    .venv/bin/python bench/linkage_quality.py [--children 20000] [--seed 1] [--postgres | --database-url URL]
                                              [--skip-splink] [--splink-threshold 0.95] [--out DIR]

1. Generates a population and three source feeds with the truth (bench/linkage_data.py).
2. ContactPoint: `contactpoint db upgrade` and `index rebuild` (an empty index), then for each source in turn
   `contactpoint feed load --source NAME FILE --report OUT.jsonl` (timed: rows/s, the command's wall clock,
   start-up included) and `contactpoint index sync`, so the next load finds the rows already loaded. Each
   report line gives the row's outcome and ContactPoint ID.
3. Splink 5 (DuckDB; `pip install -e '.[bench]'`) dedupes the same three files: its documented comparisons
   for names, date of birth and postcode, u by random sampling, m by EM over two blocking rules, predict,
   then clusters at a match probability.
4. Scores both against the truth (bench/linkage_scoring.py): pairwise precision/recall/F1 of links, false
   merges (clusters holding two children) as a share of children, twins merged, children split over two
   clusters, the review rate; prints them side by side with the targets of issue 12, met or missed.
Starts its own Elasticsearch node and (with --postgres) PostgreSQL server; SQLite in the work directory by
default. With --out the feeds, truth, reports and Splink's clusters are kept there for inspection.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.linkage_data import SOURCE_NAMES, write_dataset  # noqa: E402
from bench.linkage_scoring import LinkageScores, check_targets, review_rate, score_links  # noqa: E402
from webapp.config import Settings  # noqa: E402

ALIAS = "bench-linkage"
SECRET_KEY = "bench-linkage-quality-not-a-secret-" + "x" * 32
SPLINK_THRESHOLD = 0.95


# --- Truth -------------------------------------------------------------------------------------
def read_truth(out: Path) -> tuple[dict[tuple[str, str], str], list[tuple[str, str]]]:
    """(source, source_record_id) -> person, and the twin pairs."""
    with (out / "truth.csv").open(newline="", encoding="utf-8") as stream:
        truth = {(r["source"], r["source_record_id"]): r["person_id"] for r in csv.DictReader(stream)}
    with (out / "people.csv").open(newline="", encoding="utf-8") as stream:
        twins = [(p["person_id"], p["twin_of"]) for p in csv.DictReader(stream) if p["twin_of"]]
    return truth, twins


# --- ContactPoint, through its real command line ----------------------------------------------
@dataclass
class LoadRun:
    source: str
    rows: int
    seconds: float
    sync_seconds: float
    outcomes: dict[str, int]

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


class ContactPoint:
    def __init__(self, database_url: str, es_url: str, work: Path):
        self.command = str(Path(sys.executable).with_name("contactpoint"))
        if not Path(self.command).exists():
            self.command = shutil.which("contactpoint") or "contactpoint"
        self.env = {**os.environ, "CONTACTPOINT_DATABASE_URL": database_url, "CONTACTPOINT_ES_URL": es_url,
                    "CONTACTPOINT_ES_ALIAS": ALIAS, "CONTACTPOINT_SECRET_KEY": SECRET_KEY,
                    "CONTACTPOINT_STATE_DIR": str(work / "state")}

    def run(self, *args: str, allowed: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
        result = subprocess.run([self.command, *args], env=self.env, capture_output=True, text=True)
        if result.returncode not in allowed:
            raise RuntimeError(f"contactpoint {' '.join(args)} exited {result.returncode}:\n"
                               f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
        return result

    def prepare(self) -> None:
        self.run("db", "upgrade")
        self.run("index", "rebuild")   # an empty index behind the alias, for the first load's candidates

    def load(self, source: str, feed: Path, report: Path, rows: int) -> LoadRun:
        start = time.perf_counter()
        # Exit 1 is also "some rows were rejected": the report says which. A refused file reports no row.
        result = self.run("feed", "load", "--source", source, "--report", str(report), str(feed), allowed=(0, 1))
        seconds = time.perf_counter() - start
        outcomes: dict[str, int] = {}
        with report.open(encoding="utf-8") as lines:
            for line in lines:
                outcome = json.loads(line)["outcome"]
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if sum(outcomes.values()) != rows:
            raise RuntimeError(f"{feed.name}: {rows} rows sent, {sum(outcomes.values())} reported:\n"
                               f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
        start = time.perf_counter()
        self.run("index", "sync")
        return LoadRun(source, sum(outcomes.values()), seconds, time.perf_counter() - start, outcomes)


def first_rows(feed: Path, sample: Path, rows: int) -> Path:
    """The header and the first ``rows`` rows of a feed (every generated row is one line)."""
    with feed.open(encoding="utf-8") as source, sample.open("w", encoding="utf-8") as out:
        for number, line in enumerate(source):
            if number > rows:
                break
            out.write(line)
    return sample


def read_reports(reports: dict[str, Path]) -> tuple[dict[tuple[str, str], str], list[str], list[dict]]:
    """Each accepted row's ContactPoint ID, every row's outcome, and the rejected lines."""
    clusters: dict[tuple[str, str], str] = {}
    outcomes: list[str] = []
    rejected: list[dict] = []
    for source, path in reports.items():
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                result = json.loads(line)
                outcomes.append(result["outcome"])
                if result["outcome"] == "rejected" or not result.get("cp_id"):
                    rejected.append({"source": source, **result})
                else:
                    clusters[(source, result["source_record_id"])] = result["cp_id"]
    return clusters, outcomes, rejected


# --- Splink, the reference -----------------------------------------------------------------------
def _splink_input_sql(out: Path) -> str:
    """The three feeds as one table, names folded the way Splink's examples clean them."""
    selects = []
    for source in SOURCE_NAMES:
        path = str(out / f"{source}.csv").replace("'", "''")
        selects.append(f"""
            select '{source}:' || source_record_id as unique_id, '{source}' as source,
                   source_record_id,
                   nullif(trim(regexp_replace(lower(strip_accents(given_name)), '[^a-z ]+', ' ', 'g')), '')
                       as given_name,
                   nullif(trim(regexp_replace(lower(strip_accents(family_name)), '[^a-z ]+', ' ', 'g')), '')
                       as family_name,
                   date_of_birth, nullif(gender, 'unknown') as gender, postcode,
                   nullif(lower(concat_ws(' ', address_line_1, address_line_2)), '') as address,
                   nhs_number
            from read_csv('{path}', header = true, all_varchar = true)""")
    return " union all ".join(selects)


def splink_clusters(out: Path, seed: int, threshold: float) -> tuple[dict[tuple[str, str], str], dict]:
    """Splink's cluster of every row, and its timings (seconds)."""
    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    timings: dict[str, float] = {}
    start = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"create table bench_rows as {_splink_input_sql(out)}")
    db_api = DuckDBAPI(connection=con)
    rows = db_api.register("bench_rows")
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("family_name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True),
            cl.PostcodeComparison("postcode"),
            cl.LevenshteinAtThresholds("address", [1, 3]),
            cl.ExactMatch("gender"),
            cl.ExactMatch("nhs_number"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("date_of_birth"),
            block_on("postcode"),
            block_on("nhs_number"),
            block_on("given_name", "family_name"),
            block_on("family_name", "substr(date_of_birth, 1, 4)"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    logging.getLogger("splink").setLevel(logging.ERROR)   # its training chatter would bury the table
    linker = Linker(rows, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "family_name", "date_of_birth"), block_on("nhs_number")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=seed)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("given_name", "family_name"))
    timings["train"] = time.perf_counter() - start
    start = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold)
    result = con.execute(f"select unique_id, cluster_id from {clustered.physical_name}").fetchall()
    timings["predict_and_cluster"] = time.perf_counter() - start
    clusters = {}
    for unique_id, cluster_id in result:
        source, record_id = unique_id.split(":", 1)
        clusters[(source, record_id)] = cluster_id
    return clusters, timings


# --- The table ----------------------------------------------------------------------------------
def _metric_rows(ours: LinkageScores | None, splink: LinkageScores | None, ours_review: float | None):
    def both(metric):
        return tuple("-" if s is None else metric(s) for s in (ours, splink))

    return [
        ("pairwise precision", *both(lambda s: f"{s.precision:.4f}")),
        ("pairwise recall", *both(lambda s: f"{s.recall:.4f}")),
        ("pairwise F1", *both(lambda s: f"{s.f1:.4f}")),
        ("false merges (% of children)", *both(lambda s: f"{s.false_merge_rate:.3%} ({s.false_merges})")),
        ("twins merged (pairs)", *both(lambda s: str(s.twins_merged))),
        ("children split (% of children)", *both(lambda s: f"{s.split_rate:.2%} ({s.split_children})")),
        ("clusters / children", *both(lambda s: f"{s.clusters:,} / {s.children:,}")),
        ("review rate (% of rows)", "-" if ours_review is None else f"{ours_review:.2%}", "n/a"),
    ]


def print_examples(out: Path, clusters: dict, truth: dict, limit: int = 5) -> None:
    """A few false merges and split children of ContactPoint's, row by row, to see why."""
    rows: dict[tuple[str, str], dict] = {}
    for source in SOURCE_NAMES:
        with (out / f"{source}.csv").open(newline="", encoding="utf-8") as stream:
            rows.update({(source, r["source_record_id"]): r for r in csv.DictReader(stream)})
    with (out / "truth.csv").open(newline="", encoding="utf-8") as stream:
        variations = {(t["source"], t["source_record_id"]): t["variations"] for t in csv.DictReader(stream)}
    by_cluster, by_person = defaultdict(list), defaultdict(list)
    for key, cluster in clusters.items():
        by_cluster[cluster].append(key)
        by_person[truth[key]].append(key)
    merged = [keys for keys in by_cluster.values() if len({truth[k] for k in keys}) > 1][:limit]
    split = [keys for keys in by_person.values() if len({clusters[k] for k in keys}) > 1][:limit]
    for title, groups in (("false merges (one ContactPoint ID, two children)", merged),
                          ("split children (one child, two ContactPoint IDs)", split)):
        if groups:
            print(f"\nsome {title}:")
        for keys in groups:
            for key in sorted(keys, key=lambda k: (truth[k], k)):
                r = rows[key]
                print(f"  {clusters[key]} {truth[key]} {key[0]:16s} {r['given_name']} {r['middle_names']} "
                      f"{r['family_name']} {r['date_of_birth']} {r['gender']} {r['postcode']} "
                      f"{r.get('nhs_number', '')}{r.get('upn', '')} [{variations[key]}]")
            print()


def on_postgres(args) -> bool:
    return args.postgres or (args.database_url or "").startswith("postgres")


def print_report(args, loads: list[LoadRun], ours: LinkageScores, ours_review: float,
                 splink: LinkageScores | None, splink_timings: dict, rejected: list[dict]) -> None:
    database = "PostgreSQL" if on_postgres(args) else "SQLite" if not args.database_url else "given URL"
    print(f"\nchildren={args.children:,} seed={args.seed} database={database}"
          f"{'' if splink else ' (Splink skipped)'}\n")
    print("loads (wall clock of `contactpoint feed load`, start-up included; then `index sync`):")
    for run in loads:
        outcomes = ", ".join(f"{n:,} {o}" for o, n in sorted(run.outcomes.items()))
        print(f"  {run.source:18s} {run.rows:9,} rows {run.seconds:8.1f}s {run.rows_per_s:9,.0f} rows/s"
              f"  sync {run.sync_seconds:6.1f}s   {outcomes}")
    if splink_timings:
        print("splink: " + ", ".join(f"{k} {v:.1f}s" for k, v in splink_timings.items()))
    if rejected:
        print(f"\n{len(rejected):,} rows rejected (left out of the scores), e.g.:")
        for line in rejected[:5]:
            print(f"  {line['source']} {line.get('source_record_id')}: {line.get('errors')}")
    print(f"\n{'metric':34s} {'contactpoint':>22s} {'splink':>22s}")
    for name, ours_text, splink_text in _metric_rows(ours, splink, ours_review):
        print(f"{name:34s} {ours_text:>22s} {splink_text:>22s}")
    checks = check_targets(ours, splink.f1 if splink else None, ours_review,
                           loads[0].rows_per_s, loads[1].rows_per_s if len(loads) > 1 else 0.0,
                           postgres=on_postgres(args),
                           children=args.children)
    print(f"\n{'target (contactpoint)':30s} {'target':58s} {'measured':>24s}  status")
    for check in checks:
        print(f"{check.name:30s} {check.target:58s} {check.measured:>24s}  {check.status}")


# --- Set-up -------------------------------------------------------------------------------------
def start_services(args, work: Path, stack: list):
    """The database URL and Elasticsearch URL to use; what was started is pushed on ``stack`` to stop."""
    from search_service.engine import LocalEngine

    database_url = args.database_url
    if args.postgres:
        from tests.support.postgres import LocalPostgres

        # Memory as a server holding a national directory would have it, not the packaged default (128 MB of
        # shared buffers, a checkpoint every gigabyte of WAL), which a million-child load outgrows.
        postgres = LocalPostgres(settings={"shared_buffers": "2GB", "max_wal_size": "8GB"})
        database_url = postgres.start()
        stack.append(postgres.stop)
    database_url = database_url or f"sqlite:///{work}/bench-linkage.sqlite3"
    node = LocalEngine(Path(tempfile.mkdtemp(prefix="cp-bench-linkage-es-")), Settings.from_env({}).cache_dir,
                       heap="1g")
    stack.append(lambda: (node.stop(), shutil.rmtree(node.node_dir, ignore_errors=True)))
    return database_url, node.start().url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    database = parser.add_mutually_exclusive_group()
    database.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL server")
    database.add_argument("--database-url", help="an empty database to load into (default: SQLite)")
    parser.add_argument("--skip-splink", action="store_true")
    parser.add_argument("--splink-threshold", type=float, default=SPLINK_THRESHOLD,
                        help="match probability at which Splink's pairs are clustered")
    parser.add_argument("--out", type=Path, help="keep the feeds, truth, reports and clusters in this directory")
    parser.add_argument("--later-rows", type=int, metavar="N",
                        help="load only the first N rows of each source after the first: an incremental-throughput "
                             "sample at scale (quality is then scored over the rows loaded)")
    args = parser.parse_args()
    if args.children < 2:
        parser.error("--children must be at least 2")
    if not 0 < args.splink_threshold < 1:
        parser.error("--splink-threshold must be between 0 and 1")

    # A terminated benchmark still stops what it started (the finally block below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="cp-bench-linkage-"))
    out = args.out or work / "data"
    stack: list = []
    try:
        summary = write_dataset(out, args.children, args.seed)
        print(f"generated {summary['people']:,} children, "
              + ", ".join(f"{s} {n:,} rows" for s, n in summary["rows"].items())
              + f" in {summary['seconds']:.1f}s -> {out}", flush=True)
        truth, twins = read_truth(out)

        splink, splink_timings = None, {}
        if not args.skip_splink:
            clusters, splink_timings = splink_clusters(out, args.seed, args.splink_threshold)
            splink = score_links(clusters, truth, twins)
            with (out / "splink-clusters.csv").open("w", newline="", encoding="utf-8") as stream:
                csv.writer(stream).writerows((s, r, c) for (s, r), c in clusters.items())
            print(f"splink done: F1 {splink.f1:.4f}", flush=True)

        database_url, es_url = start_services(args, work, stack)
        contactpoint = ContactPoint(database_url, es_url, work)
        contactpoint.prepare()
        reports = {source: out / f"{source}.report.jsonl" for source in SOURCE_NAMES}
        loads = []
        for number, source in enumerate(SOURCE_NAMES):
            feed, rows = out / f"{source}.csv", summary["rows"][source]
            if number and args.later_rows and args.later_rows < rows:
                feed, rows = first_rows(feed, work / f"{source}.first.csv", args.later_rows), args.later_rows
            loads.append(contactpoint.load(source, feed, reports[source], rows))
            print(f"loaded {source}: {loads[-1].rows:,} rows, {loads[-1].rows_per_s:,.0f} rows/s", flush=True)
        clusters, outcomes, rejected = read_reports(reports)
        ours = score_links(clusters, truth, twins)
        print_report(args, loads, ours, review_rate(outcomes), splink, splink_timings, rejected)
        print_examples(out, clusters, truth)
    finally:
        for stop in reversed(stack):
            stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
