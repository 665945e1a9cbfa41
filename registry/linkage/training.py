"""Training and evaluating a linkage model without labels, as Fellegi and Sunter (and Splink) do.

- ``term_frequencies``: how common each folded given and family name is, for the exact-name adjustment.
- ``estimate_u``: u per level from random pairs of records (almost all random pairs are different children).
- ``estimate_m``: m per level and the share of matches (lambda) by expectation-maximisation over the
  comparison vectors of blocked candidate pairs, u held fixed.
- ``evaluate``: precision, recall and F1 of "link" decisions on labelled pairs (review decisions are labels).

Pure Python over LinkRecords: the linker and the CLI read the records and write the resulting body.
"""
from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence

from analyzers import clock
from analyzers.keys import family_name_keys, given_name_keys

from .model import FIELDS, LEVELS, NULL, LinkageModel
from .records import LinkRecord

Vector = tuple[str, ...]  # one level per field, in FIELDS order

# No level is impossible for one child (a source can get anything wrong once in a thousand rows): without a
# floor, a level EM saw only among non-matches would weigh -20 bits and one slip would forbid every link.
M_FLOOR = 1e-3
_SHARE_FLOOR = 1e-6
_CONVERGED = 1e-6  # largest change of any m between two iterations below which EM stops


def comparison_vector(model: LinkageModel, a: LinkRecord, b: LinkRecord) -> Vector:
    """The level of every field (FIELDS order) in the name orientation the model scores the pair with."""
    levels = model.comparison_levels(a, b)
    return tuple(levels[field] for field in FIELDS)


# --- term frequencies ----------------------------------------------------------------------------------------------

def term_frequencies(records: Iterable[LinkRecord], top: int = 5000) -> dict[str, dict[str, float]]:
    """{"given": {key: share}, "family": {key: share}}: the share of records with a name holding each exact key
    (the folded name, and each part of a multi-part name), the ``top`` commonest of each kind."""
    counts = {"given": Counter(), "family": Counter()}
    total = 0
    for record in records:
        total += 1
        counts["given"].update({key for given, _, _ in record.names for key in given_name_keys(given).exact})
        counts["family"].update({key for _, _, family in record.names for key in family_name_keys(family).exact})
    return _shares(counts, total, top)


def counted_term_frequencies(given: Iterable[tuple[str, int]], family: Iterable[tuple[str, int]], total: int,
                             top: int = 5000) -> dict[str, dict[str, float]]:
    """As ``term_frequencies``, from (name, how many children have it) counts, e.g. a GROUP BY over the directory."""
    counts = {"given": Counter(), "family": Counter()}
    for kind, names, keys_of in (("given", given, given_name_keys), ("family", family, family_name_keys)):
        for name, count in names:
            for key in set(keys_of(name).exact):
                counts[kind][key] += count
    return _shares(counts, total, top)


def _shares(counts: dict[str, Counter], total: int, top: int) -> dict[str, dict[str, float]]:
    if not total:
        return {"given": {}, "family": {}}
    return {kind: {key: min(count / total, 1.0) for key, count in counter.most_common(top)}
            for kind, counter in counts.items()}


def with_term_frequencies(model: LinkageModel, frequencies: dict[str, dict[str, float]]) -> LinkageModel:
    body = model.to_body()
    body["term_frequencies"] = frequencies
    return LinkageModel.from_body(body)


# --- u by random sampling --------------------------------------------------------------------------------------------

def estimate_u(model: LinkageModel, records: Sequence[LinkRecord], pairs: int = 100_000,
               rng: random.Random | None = None) -> LinkageModel:
    """The model with u of every level set to its share among ``pairs`` random pairs of distinct records.

    A level no random pair reached keeps its u (the hand-set one: two children sharing an NHS number stays
    strong evidence, and a level the sample cannot show says nothing). Same name and version: ``estimate_m``
    makes the new version.
    """
    if len(records) < 2:
        raise ValueError("records: at least two are needed to sample random pairs")
    rng = rng or random.Random(0)
    counts = {field: Counter() for field in FIELDS}
    for _ in range(pairs):
        first, second = rng.sample(range(len(records)), 2)
        for field, level in zip(FIELDS, comparison_vector(model, records[first], records[second])):
            counts[field][level] += 1
    body = model.to_body()
    for field in FIELDS:
        seen = sum(count for level, count in counts[field].items() if level != NULL)
        if not seen:
            continue  # no record pair had this field on both sides: nothing learnt
        for level in LEVELS[field]:
            if counts[field][level]:
                body["comparisons"][field][level]["u"] = counts[field][level] / seen
    body["trained"] = {**(body.get("trained") or {}), "u_pairs": pairs}
    return LinkageModel.from_body(body)


# --- m by expectation-maximisation ---------------------------------------------------------------------------------

def estimate_m(model: LinkageModel, pairs: Iterable[tuple[LinkRecord, LinkRecord]], iterations: int = 25,
               records_count: int | None = None, blocked_on: Iterable[str] = ()) -> LinkageModel:
    """A new version of the model with m of every level, and lambda, estimated by EM over blocked pairs.

    u stays fixed (from ``estimate_u``), so the non-matches among the pairs must look like random pairs on
    every field that is learnt: the fields the pairs were blocked on (every pair agrees on them, match or
    not) go in ``blocked_on``, are left out, and keep their m (as Splink does, one blocking rule per session).
    Exact-name term-frequency adjustments are left out of EM: the level's own u stands for every name.
    With ``records_count`` (the records the pairs were blocked from) the prior becomes the expected number
    of matches over all pairs of records (see ``_prior``).
    """
    skipped = _fields(blocked_on)
    vectors = Counter(tuple(NULL if field in skipped else level
                            for field, level in zip(FIELDS, comparison_vector(model, a, b))) for a, b in pairs)
    return estimate_m_from_vectors(model, vectors, iterations, records_count, skipped)


def estimate_m_from_vectors(model: LinkageModel, vectors: Counter, iterations: int = 25,
                            records_count: int | None = None, blocked_on: Iterable[str] = ()) -> LinkageModel:
    """``estimate_m`` over comparison vectors already counted ({vector: number of pairs})."""
    if not vectors:
        raise ValueError("pairs: no candidate pairs to learn from")
    skipped = _fields(blocked_on)
    m = {field: dict(model.m[field]) for field in FIELDS}
    u = model.u
    share, rounds, converged = _starting_share(model, vectors), 0, False
    for rounds in range(1, iterations + 1):
        share, new_m = _em_step(vectors, m, u, share)
        new_m.update({field: m[field] for field in skipped})
        change = max(abs(new_m[f][level] - m[f][level]) for f in FIELDS for level in LEVELS[f])
        m = new_m
        if change < _CONVERGED:
            converged = True
            break
    pair_count = sum(vectors.values())
    body = model.to_body()
    for field in FIELDS:
        for level in LEVELS[field]:
            body["comparisons"][field][level]["m"] = m[field][level]
    if records_count and records_count > 1:
        body["prior"] = _prior(share * pair_count, records_count, m, skipped)
    body["version"] = model.version + 1
    body["trained"] = {**(body.get("trained") or {}), "pairs": pair_count, "iterations": rounds,
                       "converged": converged, "lambda": share, "blocked_on": sorted(skipped),
                       "date": clock.today().isoformat(), "at": clock.now().isoformat(timespec="seconds"),
                       "from_version": model.version}
    return LinkageModel.from_body(body)


def _fields(names: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(names)
    unknown = sorted(chosen - set(FIELDS))
    if unknown:
        raise ValueError(f"blocked_on: {unknown[0]!r} is not a field (fields: {', '.join(FIELDS)})")
    return chosen


def _prior(blocked_matches: float, records_count: int, m: dict, blocked_on: frozenset[str]) -> float:
    """Matches among all pairs of records over the number of pairs. Blocking on a field kept only the matches
    that agree on it exactly (its first level): a share m of all matches, so the total is larger by 1/m."""
    kept = math.prod(m[field][LEVELS[field][0]] for field in blocked_on)
    all_pairs = records_count * (records_count - 1) / 2
    return min(max(blocked_matches / kept / all_pairs, 1e-12), 0.5)


def _starting_share(model: LinkageModel, vectors: Counter) -> float:
    """Lambda to start EM from: the share of pairs the current model would link (kept off 0 and 1).

    Starting from the model's own view keeps EM in the basin where "match" means the same child; from an
    even split it can settle on the commonest kind of pair instead (e.g. everything blocked on a birth date).
    """
    linked = 0
    for vector, count in vectors.items():
        weight = model.prior_weight + sum(model.weights[field][level]
                                          for field, level in zip(FIELDS, vector) if level != NULL)
        linked += count if weight >= model.upper else 0
    return min(max(linked / sum(vectors.values()), 0.01), 0.99)


def _em_step(vectors: Counter, m: dict, u: dict, share: float) -> tuple[float, dict]:
    """One expectation and maximisation: (new lambda, new m) from the match probability of every vector."""
    weighted = {field: defaultdict(float) for field in FIELDS}
    matches = 0.0
    for vector, count in vectors.items():
        log_m, log_u = math.log(share), math.log(1 - share)
        for field, level in zip(FIELDS, vector):
            if level != NULL:
                log_m += math.log(m[field][level])
                log_u += math.log(u[field][level])
        probability = 1 / (1 + math.exp(min(log_u - log_m, 700)))
        matches += probability * count
        for field, level in zip(FIELDS, vector):
            weighted[field][level] += probability * count
    total = sum(vectors.values())
    new_m = {}
    for field in FIELDS:
        seen = sum(value for level, value in weighted[field].items() if level != NULL)
        new_m[field] = ({level: max(weighted[field][level] / seen, M_FLOOR) for level in LEVELS[field]}
                        if seen > 0 else dict(m[field]))
    share = min(max(matches / total, _SHARE_FLOOR), 1 - _SHARE_FLOOR)
    return share, new_m


# Blocking rules for training without Elasticsearch: a key per record, and the fields left out of that EM session
# because its non-matches agree on them far more than random pairs do: the key itself, and for a home also the
# address and family name (siblings). The prior is read from the birth-date session, blocked on exactly its key.
BLOCKING_RULES: dict[str, tuple[str, ...]] = {
    "date_of_birth": ("date_of_birth",),
    "home": ("postcode", "address", "family_name"),
}


def _blocking_key(record: LinkRecord, rule: str):
    if rule == "date_of_birth":
        return record.date_of_birth
    if rule == "home":
        return record.postcodes[0] if record.postcodes else None
    raise ValueError(f"rule: {rule!r} is not a blocking rule (rules: {', '.join(BLOCKING_RULES)})")


def blocked_pairs(records: Sequence[LinkRecord], rule: str = "date_of_birth",
                  max_block: int = 50) -> list[tuple[LinkRecord, LinkRecord]]:
    """Every pair of records with the same blocking key (``BLOCKING_RULES``), in record order. Blocks larger
    than ``max_block`` are skipped: a common value says little and would make this quadratic."""
    blocks: dict[object, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        key = _blocking_key(record, rule)
        if key is not None:
            blocks[key].append(index)
    pairs = sorted((a, b) for members in blocks.values() if 1 < len(members) <= max_block
                   for i, a in enumerate(members) for b in members[i + 1:])
    return [(records[a], records[b]) for a, b in pairs]


def training_steps() -> int:
    """How many steps ``train`` reports: term frequencies, u, and one EM session per blocking rule."""
    return 2 + len(BLOCKING_RULES)


def train(model: LinkageModel, records: Sequence[LinkRecord], u_pairs: int = 100_000, iterations: int = 25,
          rng: random.Random | None = None, top_names: int = 5000, max_block: int = 50,
          on_step: Callable[[int], object] = lambda n: None) -> LinkageModel:
    """The next version of ``model`` learnt from ``records`` (source records: some of them the same child):
    term frequencies, u by random sampling, then m by EM in one session per blocking rule. Every field's m
    comes from the first session not blocked on it; the prior from the birth-date session. ``on_step`` hears
    each of the ``training_steps()`` steps done."""
    model = with_term_frequencies(model, term_frequencies(records, top_names))
    on_step(1)
    model = estimate_u(model, records, u_pairs, rng)
    on_step(1)
    sessions = []
    for rule, blocked_on in BLOCKING_RULES.items():
        sessions.append(estimate_m(model, blocked_pairs(records, rule, max_block), iterations, len(records),
                                   blocked_on))
        on_step(1)
    body = sessions[0].to_body()
    for field in BLOCKING_RULES["date_of_birth"]:
        body["comparisons"][field] = sessions[1].to_body()["comparisons"][field]
    body["trained"]["sessions"] = [session.to_body()["trained"] for session in sessions]
    return LinkageModel.from_body(body)


# --- evaluation ------------------------------------------------------------------------------------------------------

def evaluate(model: LinkageModel, labelled: Iterable[tuple[LinkRecord, LinkRecord, bool]]) -> dict:
    """Precision, recall and F1 of "link" decisions (a "review" is not a predicted match), the review rate
    and the counts behind them, over (record, record, is_match) triples. A ratio with nothing to divide is 0."""
    counts = Counter({"true_links": 0, "false_links": 0, "missed": 0, "true_separate": 0,
                      "review_matches": 0, "review_non_matches": 0})
    for a, b, is_match in labelled:
        decision = model.decide(model.score(a, b))
        linked = decision == "link"
        if decision == "review":
            counts["review_matches" if is_match else "review_non_matches"] += 1
        if is_match:
            counts["true_links" if linked else "missed"] += 1
        else:
            counts["false_links" if linked else "true_separate"] += 1
    pairs = counts["true_links"] + counts["false_links"] + counts["missed"] + counts["true_separate"]
    precision = _ratio(counts["true_links"], counts["true_links"] + counts["false_links"])
    recall = _ratio(counts["true_links"], counts["true_links"] + counts["missed"])
    return {
        "pairs": pairs,
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * precision * recall, precision + recall),
        "review_rate": _ratio(counts["review_matches"] + counts["review_non_matches"], pairs),
        "counts": dict(counts),
    }


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0
