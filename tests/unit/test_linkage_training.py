"""Unit tests for registry.linkage.training: term frequencies, u by random sampling, m by EM on synthetic pairs
whose true m and u are known, evaluation arithmetic, and the clock in the training metadata."""
from __future__ import annotations

import ast
import datetime as dt
import random
from collections import Counter
from pathlib import Path

import pytest

from analyzers import clock
from registry.linkage import (DEFAULT_BODY, FIELDS, LEVELS, NULL, LinkageModel, LinkRecord, blocked_pairs,
                              comparison_vector, estimate_m, estimate_m_from_vectors, estimate_u, evaluate,
                              term_frequencies, train, with_term_frequencies)

MODEL = LinkageModel.default()
ROOT = Path(__file__).resolve().parents[2]


def record(given="Olivia", family="Smith", dob="2015-03-07", gender="female", postcode="LS6 2AB",
           address="12 High Street", **extra) -> LinkRecord:
    return LinkRecord.from_fields({"given_name": given, "family_name": family, "date_of_birth": dob,
                                   "gender": gender, "postcode": postcode, "address_line_1": address, **extra})


# --- comparison vectors and term frequencies ------------------------------------------------------------------------

def test_a_comparison_vector_holds_one_level_per_field_in_order():
    vector = comparison_vector(MODEL, record(), record(given="Olivai", dob="2015-07-03", postcode=None))
    assert dict(zip(FIELDS, vector)) == {
        "given_name": "phonetic", "family_name": "exact", "middle_names": NULL, "date_of_birth": "transposed",
        "postcode": NULL,
        "address": "exact", "gender": "agree", "nhs_number": NULL, "upn": NULL}


def test_term_frequencies_are_shares_of_records_by_exact_key_commonest_first():
    records = [record(), record(given="Amelia"), record(given="Jack", family="Smith-Jones"),
               record(family="MacDonald", other_names=[{"given_name": "Olivia", "family_name": "Smith"}])]
    frequencies = term_frequencies(records, top=3)
    assert frequencies["family"] == {"smith": 1.0, "jones": 0.25, "smithjones": 0.25}
    assert frequencies["given"] == {"olivia": 0.5, "amelia": 0.25, "jack": 0.25}
    assert term_frequencies([]) == {"given": {}, "family": {}}


def test_term_frequencies_feed_the_exact_name_weight():
    common = [record(family="Smith") for _ in range(95)] + [record(family=f"Rare{n}") for n in "abcde"]
    model = with_term_frequencies(MODEL, term_frequencies(common))
    smith = model.score(record(), record()).contributions["family_name"]["weight"]
    rare = model.score(record(family="Rarea"), record(family="Rarea")).contributions["family_name"]["weight"]
    assert smith < 1 < rare  # log2(0.86 / 0.95) is below zero: a shared Smith says almost nothing here


# --- u by random sampling -------------------------------------------------------------------------------------------

# Ten given names no two of which agree at any level, and twenty postcodes in twenty districts.
GIVEN = ["Olivia", "Jack", "Amelia", "Noah", "Isla", "George", "Ava", "Harry", "Mia", "Freddie"]
POSTCODES = [f"{area}{district} 1AA" for area in ("LS", "M", "B", "E") for district in (1, 2, 3, 4, 5)]


def _population(size: int, rng: random.Random, postcodes: list[str] = POSTCODES) -> list[LinkRecord]:
    start = dt.date(2015, 1, 1)
    return [record(given=rng.choice(GIVEN), family=f"Family{rng.randrange(10**6)}",
                   dob=(start + dt.timedelta(days=rng.randrange(365))).isoformat(),
                   gender=rng.choice(("female", "male")), postcode=rng.choice(postcodes), address=None)
            for _ in range(size)]


def test_u_from_random_pairs_is_close_to_the_true_u():
    rng = random.Random(7)
    assert all(MODEL.score(record(given=a), record(given=b)).contributions["given_name"]["level"] == "else"
               for a in GIVEN for b in GIVEN if a != b)
    trained = estimate_u(MODEL, _population(3000, rng), pairs=20_000, rng=random.Random(8))
    assert trained.u["gender"]["agree"] == pytest.approx(0.5, abs=0.02)
    assert trained.u["given_name"]["exact"] == pytest.approx(0.1, abs=0.01)
    assert trained.u["postcode"]["full"] == pytest.approx(1 / 20, abs=0.006)
    assert trained.u["postcode"]["district"] == MODEL.u["postcode"]["district"]  # one postcode per district here
    assert trained.u["date_of_birth"]["exact"] == pytest.approx(1 / 365, abs=0.0015)
    # Every pair is born in 2015: "else" (another year) never happens, and keeps its u.
    assert trained.u["date_of_birth"]["else"] == MODEL.u["date_of_birth"]["else"]
    # Never seen on both sides (no address, no identifiers): u is left as it was.
    assert trained.u["address"] == MODEL.u["address"] and trained.u["nhs_number"] == MODEL.u["nhs_number"]
    assert trained.version == MODEL.version and trained.to_body()["trained"] == {"u_pairs": 20_000}


def test_u_sampling_is_deterministic_for_a_seed_and_refuses_fewer_than_two_records():
    population = _population(200, random.Random(1))
    first = estimate_u(MODEL, population, pairs=500, rng=random.Random(3))
    assert first.to_body() == estimate_u(MODEL, population, pairs=500, rng=random.Random(3)).to_body()
    with pytest.raises(ValueError, match="records"):
        estimate_u(MODEL, population[:1], pairs=10)


# --- m by EM --------------------------------------------------------------------------------------------------------

TRUE_M = {
    "given_name": [0.8, 0.06, 0.04, 0.04, 0.02, 0.02, 0.02],
    "family_name": [0.85, 0.03, 0.03, 0.04, 0.01, 0.01, 0.03],
    "middle_names": [0.9, 0.05, 0.05],
    "date_of_birth": [0.9, 0.02, 0.05, 0.02, 0.01],
    "postcode": [0.75, 0.05, 0.05, 0.15],
    "address": [0.8, 0.2],
    "gender": [0.97, 0.03],
    "nhs_number": [0.99, 0.01],
    "upn": [0.98, 0.02],
}
TRUE_U = {
    "given_name": [0.02, 0.01, 0.02, 0.02, 0.03, 0.05, 0.85],
    "family_name": [0.01, 0.01, 0.02, 0.02, 0.02, 0.04, 0.88],
    "middle_names": [0.02, 0.01, 0.97],
    "date_of_birth": [0.01, 0.005, 0.02, 0.3, 0.665],
    "postcode": [0.02, 0.01, 0.07, 0.9],
    "address": [0.05, 0.95],
    "gender": [0.5, 0.5],
    "nhs_number": [0.001, 0.999],
    "upn": [0.001, 0.999],
}
NULL_RATE = {"middle_names": 0.6, "postcode": 0.1, "address": 0.3, "gender": 0.05, "nhs_number": 0.4, "upn": 0.7}


def _with_probabilities(m: dict, u: dict) -> LinkageModel:
    body = LinkageModel.default().to_body()
    for field in FIELDS:
        for level, m_value, u_value in zip(LEVELS[field], m[field], u[field]):
            body["comparisons"][field][level] = {"m": m_value, "u": u_value}
    return LinkageModel.from_body(body)


def _synthetic_vectors(pairs: int, share: float, rng: random.Random) -> Counter:
    """Comparison vectors drawn field by field (conditionally independent) from TRUE_M for matches, TRUE_U else."""
    vectors = Counter()
    for _ in range(pairs):
        probabilities = TRUE_M if rng.random() < share else TRUE_U
        vectors[tuple(NULL if rng.random() < NULL_RATE.get(field, 0) else
                      rng.choices(LEVELS[field], probabilities[field])[0] for field in FIELDS)] += 1
    return vectors


def test_em_recovers_the_true_m_and_the_share_of_matches():
    start = {field: [1 / len(LEVELS[field])] * len(LEVELS[field]) for field in FIELDS}  # knows nothing of m
    model = _with_probabilities(start, TRUE_U)
    trained = estimate_m_from_vectors(model, _synthetic_vectors(40_000, 0.3, random.Random(11)), iterations=200)
    for field in FIELDS:
        for level, expected in zip(LEVELS[field], TRUE_M[field]):
            assert trained.m[field][level] == pytest.approx(expected, abs=0.02), (field, level)
    assert trained.to_body()["trained"]["lambda"] == pytest.approx(0.3, abs=0.01)
    assert trained.u == model.u  # u is held fixed


# Record pairs built so that each field reaches a chosen level: (this side, other side) per level.
DATES = {"exact": ("2015-03-07", "2015-03-07"), "transposed": ("2015-03-07", "2015-07-03"),
         "near": ("2015-03-07", "2015-03-17"), "year": ("2015-03-07", "2015-09-21"),
         "else": ("2015-03-07", "2011-06-02")}
POSTCODE_PAIRS = {"full": ({"postcode": "LS6 2AB"}, {"postcode": "LS6 2AB"}),
                  "full_earlier": ({"postcode": "LS6 2AB"}, {"postcode": "M1 1AA", "previous_postcodes": ["LS6 2AB"]}),
                  "district": ({"postcode": "LS6 2AB"}, {"postcode": "LS6 4XY"}),
                  "else": ({"postcode": "LS6 2AB"}, {"postcode": "B1 1AA"})}
GENDERS = {"agree": ("female", "female"), "disagree": ("female", "male")}
PAIR_M = {"date_of_birth": [0.85, 0.03, 0.07, 0.03, 0.02], "postcode": [0.7, 0.1, 0.05, 0.15],
          "gender": [0.95, 0.05]}
PAIR_U = {"date_of_birth": [0.01, 0.01, 0.03, 0.25, 0.7], "postcode": [0.03, 0.01, 0.06, 0.9],
          "gender": [0.5, 0.5]}


def _side(index: int, dob: str, gender: str, postcode: dict) -> LinkRecord:
    return LinkRecord.from_fields({"given_name": f"Name{index}", "family_name": "Okafor", "date_of_birth": dob,
                                   "gender": gender, **postcode})


def test_em_over_record_pairs_recovers_m_for_birth_date_postcode_and_gender():
    """End to end through estimate_m: every pair shares its names (blocked on them, so left out of EM)."""
    rng = random.Random(5)
    pairs = []
    for index in range(6000):
        probabilities = PAIR_M if rng.random() < 0.4 else PAIR_U
        dob, postcode, gender = (rng.choices(LEVELS[field], probabilities[field])[0]
                                 for field in ("date_of_birth", "postcode", "gender"))
        pairs.append((_side(index, DATES[dob][0], GENDERS[gender][0], POSTCODE_PAIRS[postcode][0]),
                      _side(index, DATES[dob][1], GENDERS[gender][1], POSTCODE_PAIRS[postcode][1])))
    body = DEFAULT_BODY | {"comparisons": {**DEFAULT_BODY["comparisons"], **{
        field: {level: {"m": 1 / len(LEVELS[field]), "u": u} for level, u in zip(LEVELS[field], PAIR_U[field])}
        for field in PAIR_U}}}
    model = LinkageModel.from_body(body)
    trained = estimate_m(model, pairs, iterations=300, blocked_on=("given_name", "family_name"))
    for field in PAIR_M:
        for level, expected in zip(LEVELS[field], PAIR_M[field]):
            assert trained.m[field][level] == pytest.approx(expected, abs=0.03), (field, level)
    assert trained.to_body()["trained"]["lambda"] == pytest.approx(0.4, abs=0.03)
    assert trained.m["given_name"] == model.m["given_name"]  # left out: kept as it was


def test_a_trained_model_is_the_next_version_dated_by_the_clock():
    moment = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
    with clock.pinned(moment):
        trained = estimate_m_from_vectors(MODEL, _synthetic_vectors(500, 0.3, random.Random(2)), iterations=3)
    assert trained.version == MODEL.version + 1 and trained.name == MODEL.name
    metadata = trained.to_body()["trained"]
    assert metadata["date"] == "2031-05-06" and metadata["at"] == "2031-05-06T07:08:09+00:00"
    assert metadata["pairs"] == 500 and metadata["iterations"] == 3 and metadata["from_version"] == 1
    assert LinkageModel.from_body(trained.to_body()).m == trained.m  # the body is valid and complete


def test_em_with_the_record_count_sets_the_prior_of_two_random_records():
    vectors = _synthetic_vectors(1000, 0.3, random.Random(4))
    trained = estimate_m_from_vectors(_with_probabilities(TRUE_M, TRUE_U), vectors, iterations=50,
                                      records_count=10_001)
    share = trained.to_body()["trained"]["lambda"]
    assert trained.prior == pytest.approx(share * 1000 / (10_001 * 10_000 / 2))


def test_em_refuses_no_pairs():
    with pytest.raises(ValueError, match="pairs"):
        estimate_m(MODEL, [])


def test_linkage_reads_time_from_the_clock_only():
    forbidden = {"now", "today", "utcnow", "time"}
    for path in (ROOT / "registry" / "linkage" / name for name in ("records.py", "model.py", "training.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in forbidden:
                assert isinstance(node.value, ast.Name) and node.value.id == "clock", f"{path.name}:{node.lineno}"


# --- blocking and the whole training run ----------------------------------------------------------------------------

def test_blocked_pairs_share_a_birth_date_or_a_home_and_huge_blocks_are_skipped():
    records = [record(), record(given="Liv", dob="2015-07-03"),             # same home as the first
               record(given="Jack", family="Brown", postcode="M1 1AA"),      # same birth date as the first
               record(given="Zed", family="Jones", dob="2010-01-01", postcode=None)]
    indexes = {rule: [(records.index(a), records.index(b)) for a, b in blocked_pairs(records, rule)]
               for rule in ("date_of_birth", "home")}
    assert indexes == {"date_of_birth": [(0, 2)], "home": [(0, 1)]}
    assert blocked_pairs(records, "date_of_birth", max_block=1) == []
    with pytest.raises(ValueError, match="rule: 'shoe_size'"):
        blocked_pairs(records, "shoe_size")


def _sources_of(population: list[LinkRecord], rng: random.Random) -> list[LinkRecord]:
    """A second source's rows for a third of the population: a typo in the family name now and then."""
    rows = []
    for person in population[: len(population) // 3]:
        given, _, family = person.names[0]
        rows.append(record(given=given, family=family + "e" if rng.random() < 0.2 else family,
                           dob=person.date_of_birth.isoformat(), gender=person.gender,
                           postcode=person.postcodes[0], address=None))
    return rows


def test_train_learns_m_in_one_session_per_blocking_rule_into_the_next_version():
    rng = random.Random(9)
    homes = [f"{area}{district} {sector}AB" for area in ("LS", "M", "B", "E") for district in range(1, 10)
             for sector in range(10)]
    population = _population(1500, rng, homes)
    records = population + _sources_of(population, rng)
    trained = train(MODEL, records, u_pairs=5000, iterations=30, rng=random.Random(1))
    body = trained.to_body()
    assert trained.version == 2
    assert body["term_frequencies"]["given"] and body["trained"]["u_pairs"] == 5000
    assert [session["blocked_on"] for session in body["trained"]["sessions"]] == [
        ["date_of_birth"], ["address", "family_name", "postcode"]]
    # Every duplicate has the same birth date, gender and postcode; a fifth have a misspelt family name.
    assert trained.m["date_of_birth"]["exact"] > 0.9 and trained.m["postcode"]["full"] > 0.9
    assert trained.m["family_name"]["exact"] == pytest.approx(0.8, abs=0.06)
    # 500 duplicate pairs among 2000 records.
    assert trained.prior == pytest.approx(500 / (2000 * 1999 / 2), rel=0.25)
    assert trained.decide(trained.score(records[0], records[1500])) == "link"


def test_em_refuses_a_blocked_on_field_it_does_not_know():
    with pytest.raises(ValueError, match="blocked_on: 'shoe_size'"):
        estimate_m(MODEL, [(record(), record())], blocked_on=("shoe_size",))


# --- evaluation -----------------------------------------------------------------------------------------------------

def test_evaluate_counts_links_as_predicted_matches_and_reviews_as_not():
    same = (record(), record(), True)                                       # link, right
    twins = (record(), record(given="Amelia"), False)                       # create, right
    near_twins = (record(), record(given="Oliver", gender="male"), False)   # review, right not to link
    moved = (record(), record(given="Olivai", postcode="M1 1AA", address="3 Low Road"), True)  # review: missed
    cousin = (record(), record(given="Olivia", dob="2015-03-17"), False)    # link: a false link
    lost = (record(), record(given="Liv", family="Jones", dob="2014-01-01", postcode="B1 1AA"), True)  # create
    decisions = [MODEL.decide(MODEL.score(a, b)) for a, b, _ in (same, twins, near_twins, moved, cousin, lost)]
    assert decisions == ["link", "create", "review", "review", "link", "create"]
    result = evaluate(MODEL, [same, twins, near_twins, moved, cousin, lost])
    assert result["counts"] == {"true_links": 1, "false_links": 1, "missed": 2, "true_separate": 2,
                                "review_matches": 1, "review_non_matches": 1}
    assert result["pairs"] == 6
    assert result["precision"] == pytest.approx(1 / 2)
    assert result["recall"] == pytest.approx(1 / 3)
    assert result["f1"] == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    assert result["review_rate"] == pytest.approx(2 / 6)


def test_evaluate_with_nothing_to_divide_gives_zeros():
    result = evaluate(MODEL, [])
    assert (result["pairs"], result["precision"], result["recall"], result["f1"], result["review_rate"]) == (
        0, 0.0, 0.0, 0.0, 0.0)


def test_term_frequencies_from_directory_counts():
    from registry.linkage.training import counted_term_frequencies

    shares = counted_term_frequencies([("Mohammed", 50), ("Zephyr", 1)], [("Khan", 40), ("Smith-Jones", 2)], 100)
    assert shares["given"]["mohammed"] == 0.5 and shares["given"]["zephyr"] == 0.01
    assert shares["family"]["khan"] == 0.4
    assert shares["family"]["smith"] == shares["family"]["jones"] == 0.02   # each part of a double-barrelled name
    assert counted_term_frequencies([], [], 0) == {"given": {}, "family": {}}
