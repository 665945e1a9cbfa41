"""Feed loading throughput: generate a CSV from synthetic children, load it, load it again.

    .venv/bin/python bench/feed_load.py [--rows N] [--runs R] [--database-url URL] [--huge-row-mb M]

Reports rows/s for a first load (all created) and a reload (all unchanged), median of the runs,
and the peak RSS of this process (the loader streams, so it should not grow with N). With
--huge-row-mb M the feed ends with one row whose cell is M MiB: it is rejected unread, so the
peak RSS should not grow with M either.
"""
from __future__ import annotations

import argparse
import csv
import resource
import statistics
import tempfile
import time
from pathlib import Path

from registry.db import make_engine, make_sessionmaker, upgrade
from registry.demo_data import generate_children
from registry.feeds import load_feed


def write_feed(path: Path, rows: int) -> None:
    columns = ["source_record_id", "given_name", "family_name", "date_of_birth", "gender", "postcode", "la_code"]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, columns)
        writer.writeheader()
        for n, spec in enumerate(generate_children(rows, seed=42)):
            child = spec["child"]
            writer.writerow({"source_record_id": f"B{n}", "given_name": child["given_name"],
                             "family_name": child["family_name"], "date_of_birth": child["date_of_birth"].isoformat(),
                             "gender": child["gender"], "postcode": child["postcode"], "la_code": child["la_code"]})


def append_huge_row(path: Path, mib: int) -> None:
    """One row with a cell of ``mib`` MiB, written a MiB at a time so this process never holds it."""
    with path.open("a", newline="", encoding="utf-8") as out:
        out.write("HUGE,")
        for _ in range(mib):
            out.write("A" * 1024 * 1024)
        out.write(",Smith,2020-01-01,female,,\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url")
    parser.add_argument("--huge-row-mb", type=int, default=0, help="end the feed with one row this many MiB long")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "feed.csv"
        write_feed(feed, args.rows)
        if args.huge_row_mb:
            append_huge_row(feed, args.huge_row_mb)
        first, again = [], []
        for run in range(args.runs):
            url = args.database_url or f"sqlite:///{tmp}/bench-{run}.sqlite3"
            engine = make_engine(url)
            upgrade(engine)
            sessions = make_sessionmaker(engine)
            for timings in (first, again):
                start = time.perf_counter()
                with feed.open("rb") as stream:
                    load_feed(sessions, "bench", stream, "csv")
                timings.append(args.rows / (time.perf_counter() - start))
            engine.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows={args.rows} runs={args.runs} database={'given URL' if args.database_url else 'SQLite'}"
          f"{f' huge-row={args.huge_row_mb} MiB' if args.huge_row_mb else ''}")
    print(f"first load: {statistics.median(first):,.0f} rows/s (median)")
    print(f"reload (unchanged): {statistics.median(again):,.0f} rows/s (median)")
    print(f"peak RSS: {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
