"""How well a linkage grouped rows into children, against the truth: pure arithmetic, shared by the benchmark
(bench/linkage_quality.py, for ContactPoint and Splink alike) and its unit tests.

A row is one source record; a cluster is what the linker made of it (a ContactPoint ID, a Splink cluster);
a person is the true child. Pairwise scores count pairs of rows: predicted pairs share a cluster, true pairs
share a person, correct pairs do both.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Hashable, Iterable, Mapping


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


@dataclass(frozen=True)
class LinkageScores:
    rows: int                 # rows scored (rejected rows have no cluster and are left out)
    children: int             # true children among those rows
    clusters: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    false_merges: int         # clusters holding rows of two or more children
    split_children: int       # children whose rows are in two or more clusters
    twins_merged: int         # twin pairs sharing a cluster

    @property
    def precision(self) -> float:
        """Of the pairs linked, how many are the same child (1.0 when nothing was linked: no wrong link)."""
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        """Of the pairs that are the same child, how many were linked (1.0 when there were none to find)."""
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_merge_rate(self) -> float:
        """False merges as a fraction of the children."""
        return self.false_merges / self.children if self.children else 0.0

    @property
    def split_rate(self) -> float:
        return self.split_children / self.children if self.children else 0.0


def score_links(clusters: Mapping[Hashable, Hashable], truth: Mapping[Hashable, Hashable],
                twins: Iterable[tuple[Hashable, Hashable]] = ()) -> LinkageScores:
    """Score ``clusters`` (row -> cluster) against ``truth`` (row -> person); ``twins`` are pairs of persons.

    Only rows present in both are scored: a rejected row has no cluster. Raises KeyError for a clustered row
    the truth does not know (a scoring bug, not a linkage result).
    """
    cluster_sizes: Counter = Counter()
    person_sizes: Counter = Counter()
    cells: Counter = Counter()
    clusters_of: dict[Hashable, set] = defaultdict(set)
    persons_in: dict[Hashable, set] = defaultdict(set)
    for row, cluster in clusters.items():
        person = truth[row]
        cluster_sizes[cluster] += 1
        person_sizes[person] += 1
        cells[(cluster, person)] += 1
        clusters_of[person].add(cluster)
        persons_in[cluster].add(person)
    twin_pairs = {frozenset(pair) for pair in twins if len(set(pair)) == 2}
    merged_twins = sum(1 for pair in twin_pairs
                       if all(p in clusters_of for p in pair) and set.intersection(*(clusters_of[p] for p in pair)))
    return LinkageScores(
        rows=sum(cluster_sizes.values()),
        children=len(person_sizes),
        clusters=len(cluster_sizes),
        true_pairs=sum(_pairs(n) for n in person_sizes.values()),
        predicted_pairs=sum(_pairs(n) for n in cluster_sizes.values()),
        correct_pairs=sum(_pairs(n) for n in cells.values()),
        false_merges=sum(1 for persons in persons_in.values() if len(persons) > 1),
        split_children=sum(1 for found in clusters_of.values() if len(found) > 1),
        twins_merged=merged_twins,
    )


def review_rate(outcomes: Iterable[str]) -> float:
    """The fraction of rows whose outcome was "review" (of every row, rejected ones included)."""
    counts = Counter(outcomes)
    total = sum(counts.values())
    return counts["review"] / total if total else 0.0


# --- Targets (issue 12) ------------------------------------------------------------------------
MIN_F1 = 0.995
MAX_FALSE_MERGE_RATE = 0.0005     # 0.05 % of children
MAX_REVIEW_RATE = 0.02            # 2 % of rows
MIN_FIRST_LOAD_ROWS_PER_S = 5_000
MIN_INCREMENTAL_ROWS_PER_S = 1_000
SCALE_CHILDREN = 1_000_000        # the throughput targets hold on PostgreSQL at this many children


@dataclass(frozen=True)
class TargetCheck:
    name: str
    target: str
    measured: str
    met: bool
    applies: bool = True        # False: measured on a smaller or other set-up than the target names

    @property
    def status(self) -> str:
        status = "met" if self.met else "MISSED"
        return status if self.applies else f"({status}: indicative only)"


def check_targets(ours: LinkageScores, reference_f1: float | None, review: float,
                  first_load_rows_per_s: float, incremental_rows_per_s: float, *, postgres: bool,
                  children: int) -> list[TargetCheck]:
    """Each target of the issue, met or missed; ``reference_f1`` is Splink's (None when it was not run)."""
    f1_floor = max(MIN_F1, reference_f1 or 0.0)
    at_scale = postgres and children >= SCALE_CHILDREN
    reference = f"Splink's ({reference_f1:.4f}) and " if reference_f1 is not None else ""
    return [
        TargetCheck("pairwise F1", f">= {reference}{MIN_F1}", f"{ours.f1:.4f}", ours.f1 >= f1_floor),
        TargetCheck("false merges", f"<= {MAX_FALSE_MERGE_RATE:.2%} of children",
                    f"{ours.false_merge_rate:.3%} ({ours.false_merges})",
                    ours.false_merge_rate <= MAX_FALSE_MERGE_RATE),
        TargetCheck("twins merged", "0", str(ours.twins_merged), ours.twins_merged == 0),
        TargetCheck("review rate", f"<= {MAX_REVIEW_RATE:.0%} of rows", f"{review:.2%}", review <= MAX_REVIEW_RATE),
        TargetCheck("first load", f">= {MIN_FIRST_LOAD_ROWS_PER_S:,} rows/s (PostgreSQL, {SCALE_CHILDREN:,} children)",
                    f"{first_load_rows_per_s:,.0f} rows/s", first_load_rows_per_s >= MIN_FIRST_LOAD_ROWS_PER_S,
                    applies=at_scale),
        TargetCheck("second source (incremental)",
                    f">= {MIN_INCREMENTAL_ROWS_PER_S:,} rows/s (PostgreSQL, {SCALE_CHILDREN:,} children)",
                    f"{incremental_rows_per_s:,.0f} rows/s", incremental_rows_per_s >= MIN_INCREMENTAL_ROWS_PER_S,
                    applies=at_scale),
    ]
