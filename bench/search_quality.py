"""Search quality and Elasticsearch-side latency, side by side with a typical baseline.

    .venv/bin/python bench/search_quality.py [--children 100000] [--queries 2000] [--heavy-queries 500]
                                             [--seed 1] [--populations 1] [--es-url URL]

Indexes synthetic children (registry.demo_data, with aliases and the names other services
sent) straight into a benchmark index using the production document builder, generates a
corrupted-query judgment set, and runs it through (a) the real search with the default
profile and (b) the baseline a typical team would write: one ``multi_match`` with
``fuzziness: AUTO`` over the name fields plus a date-of-birth clause. Reports recall@1/5/10,
MRR, nDCG@10, too-many rate, per-corruption recall@1/@10 and p50/p95 of Elasticsearch's own
``took``. A second, separate set of heavily corrupted queries (garbled names with a one-slip date
of birth and the postcode kept) is reported on its own, so it never moves the everyday figures.
With ``--populations N`` it does all that for seeds SEED .. SEED+N-1 in turn and reports the pooled figures
(with a line per seed), since one population's recall moves by a few thousandths from seed to seed.
Beside recall it counts the queries that other children fit exactly as well as the right one
(search_service.ambiguity): the misses the data forces, told apart from the misses the search makes.
Starts its own local node unless --es-url is given; deletes its index afterwards.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk
from marshmallow import ValidationError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from access_control import Viewer, VisibilityPolicy  # noqa: E402
from indexing import build_document  # noqa: E402
from indexing.admin import template_body  # noqa: E402
from registry import cpid  # noqa: E402
from registry.demo_data import generate_children  # noqa: E402
from registry.models import Child, ChildName, Organisation  # noqa: E402
from search_service import Criteria, search  # noqa: E402
from search_service.ambiguity import shared_evidence, without_a_name_of_theirs  # noqa: E402
from search_service.evaluation import evaluate, format_comparison, metrics_by_corruption, metrics_of  # noqa: E402
from search_service.judgments import HEAVY, generate_judgments  # noqa: E402
from search_service.profiles import default_profile  # noqa: E402
from webapp.config import Settings  # noqa: E402
from webapp.schemas import SearchSchema  # noqa: E402

ALIAS = "bench-children"
MAX_RESULTS = 10
HEAVY_SEED_OFFSET = 10_000   # the heavy set draws its own children and corruptions


def child_from_spec(spec: dict, cp_id: str) -> Child:
    """A transient Child (never stored) for the production document builder."""
    data = spec["child"]
    child = Child(cp_id=cp_id, given_name=data["given_name"], middle_names=data["middle_names"],
                  family_name=data["family_name"], date_of_birth=data["date_of_birth"], gender=data["gender"],
                  postcode=data["postcode"], shielded=spec["shielded"], status="active",
                  updated_at=dt.datetime.now(dt.timezone.utc))
    child.local_authority = Organisation(kind="local_authority", code=data["la_code"], name=data["la_code"])
    names = [ChildName(kind="primary", given_name=data["given_name"], middle_names=data["middle_names"],
                       family_name=data["family_name"])]
    names += [ChildName(kind=a["kind"], given_name=a["given_name"], middle_names=a.get("middle_names"),
                        family_name=a["family_name"]) for a in spec["aliases"]]
    names += [ChildName(kind="source", given_name=s["given_name"], middle_names=s.get("middle_names"),
                        family_name=s["family_name"]) for s in spec["source_records"]]
    child.names = names
    return child


def index_children(es: Elasticsearch, count: int, seed: int) -> list[tuple[str, dict]]:
    body = template_body(ALIAS)
    mappings = body["template"]["mappings"]
    # The baseline's fields: what a typical team would index (all names as analysed text).
    mappings["properties"].update({"given_text": {"type": "text"}, "family_text": {"type": "text"}})
    index = f"{ALIAS}-v{body['version']}-bench"
    es.indices.delete(index=index, ignore_unavailable=True)
    es.indices.create(index=index, settings={**body["template"]["settings"], "refresh_interval": "-1"},
                      mappings=mappings, aliases={ALIAS: {}})
    rng = random.Random(f"bench-ids-{seed}")
    population: list[tuple[str, dict]] = []

    def actions():
        for spec in generate_children(count, seed=seed):
            cp_id = cpid.generate(rng)
            population.append((cp_id, {**spec["child"], "shielded": spec["shielded"]}))
            doc = build_document(child_from_spec(spec, cp_id))
            doc["given_text"] = " ".join(n["given"] for n in doc["names"])
            doc["family_text"] = " ".join(n["family"] for n in doc["names"])
            yield {"_index": index, "_id": cp_id, "_source": doc}

    start = time.perf_counter()
    bulk(es.options(request_timeout=120), actions(), chunk_size=2000)
    es.indices.put_settings(index=index, settings={"index": {"refresh_interval": None}})
    es.indices.refresh(index=index)
    es.options(request_timeout=600).indices.forcemerge(index=index, max_num_segments=1)
    print(f"indexed {count:,} children in {time.perf_counter() - start:.0f}s", flush=True)
    return population


def baseline_body(criteria: dict) -> dict:
    should = []
    names = " ".join(criteria.get(k, "") for k in ("given_name", "family_name")).strip()
    if names:
        should.append({"multi_match": {"query": names, "fields": ["given_text", "family_text"],
                                       "fuzziness": "AUTO"}})
    if criteria.get("date_of_birth"):
        # Boosted so that a date of birth can outweigh a common name at all (a constant 1 otherwise).
        should.append({"term": {"date_of_birth": {"value": criteria["date_of_birth"], "boost": 5}}})
    return {"query": {"bool": {"should": should, "filter": [{"term": {"status": "active"}}],
                               "minimum_should_match": 1}}, "size": MAX_RESULTS, "_source": ["cp_id"]}


def print_by_corruption(base_outcomes, ours_outcomes) -> None:
    print("\nby corruption (baseline -> contactpoint):")
    ours_by = metrics_by_corruption(ours_outcomes)
    base_by = metrics_by_corruption(base_outcomes)
    for label in sorted(ours_by):
        ours, base = ours_by[label], base_by[label]
        print(f"  {label:28s} n={ours.queries:5d}  recall@1 {base.recall_at_1:.3f} -> {ours.recall_at_1:.3f}  "
              f"recall@10 {base.recall_at_10:.3f} -> {ours.recall_at_10:.3f}  too-many {ours.too_many_rate:.3f}")


def run_population(es: Elasticsearch, args, seed: int) -> dict:
    """Index one synthetic population of ``seed`` and run both searches over its two judgment sets."""
    population = index_children(es, args.children, seed)
    judgments = generate_judgments(population, args.queries, seed)
    # Children whose record cannot be garbled that way (no postcode, a family name under 4 letters) are left out.
    heavy = [j for j in generate_judgments(population, args.heavy_queries, seed + HEAVY_SEED_OFFSET,
                                           {HEAVY: 1.0}, id_prefix="h") if j.corruptions]
    profile = default_profile()
    policy = VisibilityPolicy(Viewer("bench", "Benchmark", "practitioner", "BENCH"))
    schema = SearchSchema()
    took: dict[str, list[int]] = {"contactpoint": [], "baseline": []}

    def ours(criteria: dict):
        try:
            data = schema.load(criteria)
        except ValidationError:
            return [], False  # the API would refuse it: nothing found
        outcome = search(es, ALIAS, Criteria(**data), profile, policy.query_filters(),
                         policy.location_scope(), MAX_RESULTS)
        took["contactpoint"].append(outcome.took_ms)
        return [c.cp_id for c in outcome.results], outcome.too_many

    def baseline(criteria: dict):
        response = es.search(index=ALIAS, **baseline_body(criteria))
        took["baseline"].append(response["took"])
        return [h["_source"]["cp_id"] for h in response["hits"]["hits"]], False

    for run in (ours, baseline):  # warm caches
        for judgment in judgments[:50]:
            run(judgment.criteria)
    for values in took.values():
        values.clear()
    return {"ours": evaluate(ours, judgments)[1], "base": evaluate(baseline, judgments)[1],
            "ours_heavy": evaluate(ours, heavy)[1], "base_heavy": evaluate(baseline, heavy)[1],
            "took": took, "profile": profile, "shared": shared_evidence(population, judgments),
            "barred": without_a_name_of_theirs(population, judgments)}


def print_shared_evidence(scored: list[tuple]) -> None:
    """Why queries were missed: others fit them as well as their child, the name rule bars them, or the search
    answered "too many" or ranked another child first. ``scored``: (outcome, how many others share its
    evidence or None when not assessed, whether the name rule bars it) triples."""
    n = len(scored)
    assessed = sum(shared is not None for _, shared, _ in scored)
    tied_1 = sum((shared or 0) >= 1 for _, shared, _ in scored)
    tied_10 = sum((shared or 0) >= 10 for _, shared, _ in scored)
    print(f"\nqueries other children fit exactly as well as their own ({assessed:,} of {n:,} assessed: those whose "
          f"names and date of birth are right or left out):\n"
          f"  by one or more: {tied_1:,}, so no search can pass recall@1 {1 - tied_1 / n:.4f}; "
          f"by ten or more: {tied_10:,}, recall@10 {1 - tied_10 / n:.4f}")
    for label, missed, tied in (("not first", lambda o: o.rank != 1, 1), ("not in the ten",
                                                                          lambda o: o.rank is None or o.rank > 10, 10)):
        rest = [(o, barred) for o, shared, barred in scored if (shared or 0) < tied and missed(o)]
        too_many = sum(o.too_many for o, barred in rest if not barred)
        print(f"  contactpoint's other misses, {label}: {len(rest):,}: {sum(b for _, b in rest):,} with no name of the "
              f"child's (barred by the name rule), {too_many:,} answered too many, "
              f"{len(rest) - too_many - sum(b for _, b in rest):,} ranked lower or not found")


def report(runs: list[dict], seeds: list[int]) -> None:
    """The tables for one population, or for several pooled (each query counted once) after a line per seed."""
    pooled = {key: [o for run in runs for o in run[key]] for key in ("ours", "base", "ours_heavy", "base_heavy")}
    profile = runs[0]["profile"]
    if len(runs) > 1:
        print("\nper population (contactpoint):")
        for seed, run in zip(seeds, runs):
            ours, heavy = metrics_of(run["ours"]), metrics_of(run["ours_heavy"])
            print(f"  seed {seed}: recall@1 {ours.recall_at_1:.4f}  recall@10 {ours.recall_at_10:.4f}  "
                  f"too-many {ours.too_many_rate:.4f}  heavy recall@10 {heavy.recall_at_10:.4f}")
    print(f"\nchildren={runs[0]['children']:,} per population, populations={len(runs)} "
          f"(seeds {', '.join(map(str, seeds))}) queries={len(pooled['ours']):,} profile={profile.name}:{profile.version}\n")
    print(format_comparison(metrics_of(pooled["base"]), metrics_of(pooled["ours"]), "baseline", "contactpoint", []))
    print_shared_evidence([(o, run["shared"][o.judgment.id], o.judgment.id in run["barred"])
                           for run in runs for o in run["ours"]])
    print_by_corruption(pooled["base"], pooled["ours"])
    print(f"\nheavily corrupted queries (a separate set, seeds {', '.join(str(s + HEAVY_SEED_OFFSET) for s in seeds)}):\n")
    print(format_comparison(metrics_of(pooled["base_heavy"]), metrics_of(pooled["ours_heavy"]), "baseline",
                            "contactpoint", []))
    print_by_corruption(pooled["base_heavy"], pooled["ours_heavy"])
    print("\nElasticsearch-side latency (took, ms):")
    for name in ("contactpoint", "baseline"):
        values = sorted(v for run in runs for v in run["took"][name])
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        print(f"  {name:12s} p50 {statistics.median(values):.0f}  p95 {p95:.0f}  (n={len(values)})")
    misses = [o for o in pooled["ours"] + pooled["ours_heavy"] if o.rank != 1][:15]
    if misses:
        print("\nsome queries whose child was not first (contactpoint):")
        for o in misses:
            print(f"  {o.judgment.id} rank={o.rank} too_many={o.too_many} {o.judgment.corruptions} "
                  f"{o.judgment.criteria}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--heavy-queries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--populations", type=int, default=1,
                        help="how many populations (seeds SEED, SEED+1, ...) to pool: one seed's figures move by "
                             "a few thousandths from one population to the next")
    parser.add_argument("--es-url")
    args = parser.parse_args()
    if args.populations < 1:
        parser.error("--populations must be at least 1")

    # A terminated benchmark still stops the node it started (the finally block below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    node = None
    url = args.es_url
    if url is None:
        from search_service.engine import LocalEngine

        node = LocalEngine(Path(tempfile.mkdtemp(prefix="cp-bench-es-")), Settings.from_env({}).cache_dir,
                           heap="2g")
        url = node.start().url
    es = Elasticsearch(url, request_timeout=60)
    try:
        seeds = [args.seed + i for i in range(args.populations)]
        runs = []
        for seed in seeds:
            runs.append({**run_population(es, args, seed), "children": args.children})
        report(runs, seeds)
    finally:
        es.indices.delete(index=f"{ALIAS}-*", ignore_unavailable=True)
        if node is not None:
            node.stop()
            shutil.rmtree(node.node_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
