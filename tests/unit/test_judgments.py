"""Unit tests for search_service.judgments: realistic, labelled, deterministic query corruptions."""
from __future__ import annotations

import datetime
import random
import re
from collections import Counter

import jellyfish
import pytest

from analyzers import near_dates
from registry.demo_data import generate_children
from search_service.judgments import (DEFAULT_RATES, NICKNAMES, corrupt, generate_judgments, meets_minimum,
                                      phonetic_variants, true_criteria)

TODAY = datetime.date(2024, 2, 29)
POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][A-Z]{2}$")
BASE = {"given_name": "William", "family_name": "Thompson", "date_of_birth": "2015-03-07", "gender": "male",
        "postcode": "LS6 2AB"}
SURNAMES = ("Smith", "Khan", "Nowak", "O'Brien", "Thompson")


def _only(kind: str) -> dict:
    return {kind: 1.0}


def _corrupt(criteria, seed=0, rates=DEFAULT_RATES, surnames=SURNAMES):
    return corrupt(criteria, random.Random(seed), rates, surnames, today=TODAY)


@pytest.fixture(scope="module")
def children() -> list[dict]:
    return [spec["child"] for spec in generate_children(500, seed=1, today=TODAY)]


@pytest.fixture(scope="module")
def population(children) -> list[tuple[str, dict]]:
    return [(f"CP{i:06d}", child) for i, child in enumerate(children)]


@pytest.fixture(scope="module")
def true_queries(children) -> list[dict]:
    return [true_criteria(child) for child in children]


# --- true_criteria ------------------------------------------------------------------------------------
def test_true_criteria_are_json_strings_from_the_child(children):
    child = children[0]
    criteria = true_criteria(child)
    assert criteria == {"given_name": child["given_name"], "family_name": child["family_name"],
                        "date_of_birth": child["date_of_birth"].isoformat(), "gender": child["gender"],
                        "postcode": child["postcode"]}
    assert all(isinstance(value, str) for value in criteria.values())
    assert true_criteria({"family_name": "Smith", "given_name": None, "postcode": ""}) == {"family_name": "Smith"}


# --- Each corruption does what its label says -------------------------------------------------------
def test_typo_is_exactly_one_edit_after_the_first_letter(true_queries):
    labelled = 0
    for seed, criteria in enumerate(true_queries):
        corrupted, labels = _corrupt(criteria, seed, _only("typo"))
        if not labels:      # both names shorter than 4 letters
            assert all(sum(c.isalpha() for c in criteria[k]) < 4 for k in ("given_name", "family_name"))
            continue
        (label,) = labels
        field = label.split(":")[1]
        labelled += 1
        assert label in ("typo:given_name", "typo:family_name")
        assert jellyfish.damerau_levenshtein_distance(criteria[field], corrupted[field]) == 1
        assert corrupted[field][0] == criteria[field][0]
        assert sum(c.isalpha() for c in criteria[field]) >= 4
        assert {k: v for k, v in corrupted.items() if k != field} == {k: v for k, v in criteria.items() if k != field}
    assert labelled > 450


def test_phonetic_respells_one_name(true_queries):
    labelled = 0
    for seed, criteria in enumerate(true_queries):
        corrupted, labels = _corrupt(criteria, seed, _only("phonetic"))
        if not labels:
            continue
        (label,) = labels
        field = label.split(":")[1]
        labelled += 1
        assert corrupted[field].casefold() != criteria[field].casefold()
        assert corrupted[field] in phonetic_variants(criteria[field])
        assert {k: v for k, v in corrupted.items() if k != field} == {k: v for k, v in criteria.items() if k != field}
    assert labelled > 300


@pytest.mark.parametrize("name, variant", [
    ("Sophia", "Sofia"), ("Filip", "Philip"), ("Mackenzie", "Makenzie"), ("Riley", "Rily"), ("Toby", "Tobie"),
    ("Katie", "Katy"), ("Bowen", "Bouen"), ("Jenson", "Jensen"), ("Callum", "Kallum"), ("Matthew", "Mathew"),
    ("Oliver", "Olliver"), ("Thomas", "Tomas"), ("Isabella", "Izabella"), ("Thompson", "Tompson"),
])
def test_phonetic_variants(name, variant):
    assert variant in phonetic_variants(name)
    assert name not in phonetic_variants(name)


def test_nickname_uses_a_known_short_form_or_is_skipped():
    seen = set()
    for seed in range(200):
        corrupted, labels = _corrupt(BASE, seed, _only("nickname"))
        assert labels == ("nickname",)
        assert corrupted["given_name"] in NICKNAMES["William"]
        assert {k: v for k, v in corrupted.items() if k != "given_name"} == {k: v for k, v in BASE.items()
                                                                          if k != "given_name"}
        seen.add(corrupted["given_name"])
    assert seen == set(NICKNAMES["William"])
    unmapped = {**BASE, "given_name": "Xzavier"}
    assert _corrupt(unmapped, 1, _only("nickname")) == (unmapped, ())
    assert _corrupt({**BASE, "given_name": "siobhan"}, 1, _only("nickname"))[0]["given_name"] in ("Shivaun", "Shevaun")


def test_nickname_map_is_a_reasonable_size():
    assert len(NICKNAMES) >= 100
    assert NICKNAMES["Mohammed"][0] == "Muhammad" and "Beth" in NICKNAMES["Elizabeth"]
    assert all(name not in variants for name, variants in NICKNAMES.items())


def test_swap_swaps_given_and_family_names():
    corrupted, labels = _corrupt(BASE, 3, _only("swap"))
    assert labels == ("swap",)
    assert corrupted == {**BASE, "given_name": "Thompson", "family_name": "William"}


def test_missing_removes_exactly_one_allowed_field():
    dropped = Counter()
    for seed in range(400):
        corrupted, labels = _corrupt(BASE, seed, _only("missing"))
        (label,) = labels
        field = label.split(":")[1]
        assert field in ("date_of_birth", "given_name", "gender", "postcode")
        assert field not in corrupted
        assert corrupted == {k: v for k, v in BASE.items() if k != field}
        dropped[field] += 1
    assert set(dropped) == {"date_of_birth", "given_name", "gender", "postcode"}


def test_missing_never_breaks_the_minimum():
    bare = {"family_name": "Smith", "given_name": "Jo", "gender": "female"}
    for seed in range(50):
        corrupted, labels = _corrupt(bare, seed, _only("missing"))
        assert labels == ("missing:gender",)
        assert corrupted == {"family_name": "Smith", "given_name": "Jo"}
    assert _corrupt({"family_name": "Smith", "given_name": "Jo"}, 0, _only("missing")) == (
        {"family_name": "Smith", "given_name": "Jo"}, ())


def test_dob_transposed_swaps_day_and_month():
    corrupted, labels = _corrupt(BASE, 0, _only("dob"))
    assert labels == ("dob:transposed",)
    assert corrupted == {**BASE, "date_of_birth": "2015-07-03"}


@pytest.mark.parametrize("dob", ["2015-03-25",   # day > 12: cannot transpose
                                 "2015-04-04",   # day == month: transposing changes nothing
                                 "2024-02-05"])  # transposed would be 2 May 2024, after TODAY
def test_dob_digit_changes_one_digit_to_a_valid_past_date(dob):
    for seed in range(100):
        corrupted, labels = _corrupt({**BASE, "date_of_birth": dob}, seed, _only("dob"))
        assert labels == ("dob:digit",)
        new = corrupted["date_of_birth"]
        assert len(new) == len(dob) and sum(a != b for a, b in zip(new, dob)) == 1
        assert datetime.date.fromisoformat(new) <= TODAY
        assert datetime.date.fromisoformat(new).year >= TODAY.year - 30


def test_moved_gives_a_different_valid_looking_postcode():
    areas = Counter()
    for seed in range(300):
        corrupted, labels = _corrupt(BASE, seed, _only("moved"))
        assert labels == ("moved",)
        assert corrupted["postcode"] != BASE["postcode"]
        assert POSTCODE.match(corrupted["postcode"])
        assert corrupted == {**BASE, "postcode": corrupted["postcode"]}
        areas[re.match(r"[A-Z]+", corrupted["postcode"]).group() == "LS"] += 1
    assert areas[True] > 100 and areas[False] > 50        # some moved locally, some far


def test_surname_change_draws_a_different_surname_from_the_pool():
    for seed in range(100):
        corrupted, labels = _corrupt(BASE, seed, _only("surname_change"))
        assert labels == ("surname_change",)
        assert corrupted["family_name"] in SURNAMES and corrupted["family_name"] != "Thompson"
    assert _corrupt(BASE, 0, _only("surname_change"), surnames=()) == (BASE, ())
    assert _corrupt(BASE, 0, _only("surname_change"), surnames=("Thompson",)) == (BASE, ())


# --- Rates, rules and determinism ------------------------------------------------------------------------
def test_minimum_criteria_always_hold_over_5000_corruptions(true_queries):
    rng = random.Random(7)
    heavy = {kind: 0.6 for kind in DEFAULT_RATES}
    for i in range(5000):
        criteria = dict(true_queries[i % len(true_queries)])
        for key in ("given_name", "date_of_birth", "gender", "postcode"):   # some start with less
            if len(criteria) > 3 and rng.random() < 0.15:
                del criteria[key]
        if not meets_minimum(criteria):
            continue
        corrupted, labels = corrupt(criteria, rng, heavy if i % 2 else DEFAULT_RATES, SURNAMES, today=TODAY)
        assert meets_minimum(corrupted), (criteria, corrupted, labels)
        assert sum(label.startswith("missing:") for label in labels) <= 1
        assert all(isinstance(value, str) and value for value in corrupted.values())


def test_same_seed_same_corruptions_and_input_untouched(true_queries):
    before = [dict(c) for c in true_queries]
    first = [corrupt(c, random.Random(i), surnames=SURNAMES, today=TODAY) for i, c in enumerate(true_queries)]
    second = [corrupt(c, random.Random(i), surnames=SURNAMES, today=TODAY) for i, c in enumerate(true_queries)]
    other = [corrupt(c, random.Random(i + 1), surnames=SURNAMES, today=TODAY) for i, c in enumerate(true_queries)]
    assert first == second
    assert first != other
    assert true_queries == before


def test_zero_rates_change_nothing(true_queries):
    zero = {kind: 0.0 for kind in DEFAULT_RATES}
    for seed, criteria in enumerate(true_queries[:200]):
        assert _corrupt(criteria, seed, zero) == (criteria, ())
        assert _corrupt(criteria, seed, {}) == (criteria, ())


def test_unknown_or_impossible_rates_are_rejected():
    with pytest.raises(ValueError, match="typos"):
        _corrupt(BASE, 0, {"typos": 0.1})
    with pytest.raises(ValueError, match="between 0 and 1"):
        _corrupt(BASE, 0, {"typo": 1.5})


def test_observed_label_rates_match_the_configured_rates():
    rng = random.Random(2024)
    counts = Counter()
    per_query = Counter()
    n = 5000
    for _ in range(n):
        _, labels = corrupt(BASE, rng, DEFAULT_RATES, SURNAMES, today=TODAY)
        per_query[len(labels)] += 1
        counts.update(label.split(":")[0] for label in labels)
    for kind, rate in DEFAULT_RATES.items():
        observed = counts[kind] / n
        # "missing" goes first and can take the given name, DOB or postcode away from later kinds.
        assert abs(observed - rate) <= 0.25 * rate + 0.01, (kind, observed, rate)
    assert (per_query[0] + per_query[1] + per_query[2]) / n > 0.9


# --- generate_judgments ------------------------------------------------------------------------------------
def test_generate_judgments_picks_distinct_targets(population):
    judgments = generate_judgments(population, 100, seed=5, today=TODAY)
    assert [j.id for j in judgments] == [f"q{i:06d}" for i in range(1, 101)]
    expected = [j.expected for j in judgments]
    assert len(set(expected)) == 100
    by_id = dict(population)
    order = [cp_id for cp_id, _ in population]
    assert expected == sorted(expected, key=order.index)              # in population order
    for judgment in judgments:
        truth = true_criteria(by_id[judgment.expected])
        if not judgment.corruptions:
            assert judgment.criteria == truth
        if judgment.corruptions == ("moved",):
            assert judgment.criteria["postcode"] != truth["postcode"]
    assert sum(1 for j in judgments if j.corruptions) > 30


def test_generate_judgments_is_deterministic_and_reads_a_generator_once(population):
    from_list = generate_judgments(population, 50, seed=9, today=TODAY)
    assert generate_judgments(population, 50, seed=9, today=TODAY) == from_list
    assert generate_judgments(population, 50, seed=10, today=TODAY) != from_list
    stream = ((f"CP{i:06d}", spec["child"]) for i, spec in enumerate(generate_children(500, seed=1, today=TODAY)))
    assert generate_judgments(stream, 50, seed=9, today=TODAY) == from_list
    assert next(stream, None) is None


def test_surname_changes_come_from_the_population(population):
    surnames = {child["family_name"] for _, child in population}
    judgments = generate_judgments(population, 300, seed=3, rates={"surname_change": 1.0}, today=TODAY)
    assert all(j.corruptions == ("surname_change",) for j in judgments)
    assert all(j.criteria["family_name"] in surnames for j in judgments)


def test_reservoir_sampling_is_uniform():
    hits = Counter()
    items = [(f"CP{i}", {"family_name": "Smith", "given_name": "Jo"}) for i in range(10)]
    for seed in range(2000):
        hits.update(j.expected for j in generate_judgments(iter(items), 3, seed, rates={}, today=TODAY))
    assert all(abs(hits[cp_id] / 2000 - 0.3) < 0.05 for cp_id, _ in items)


def test_generate_judgments_edge_counts(population):
    assert generate_judgments(population, 0, seed=1, today=TODAY) == []
    assert len(generate_judgments(population, len(population), seed=1, today=TODAY)) == len(population)
    with pytest.raises(ValueError, match="only 500 children"):
        generate_judgments(population, 501, seed=1, today=TODAY)
    with pytest.raises(ValueError):
        generate_judgments(population, -1, seed=1, today=TODAY)


# --- Heavily corrupted queries ------------------------------------------------------------------------------
def _dob_slips(truth: str) -> set[str]:
    """One digit changed, or day and month swapped."""
    day = datetime.date.fromisoformat(truth)
    slips = {d.isoformat() for d in near_dates(day, TODAY)}
    if day.day <= 12:
        slips.add(day.replace(month=day.day, day=day.month).isoformat())
    return slips


def test_heavy_garbles_names_slips_the_date_and_keeps_postcode_and_gender(true_queries):
    kinds = Counter()
    for seed, criteria in enumerate(true_queries):
        corrupted, labels = _corrupt(criteria, seed, _only("heavy"))
        if not labels:     # a family name too short to take two slips
            assert sum(c.isalpha() for c in criteria["family_name"]) < 4 or "postcode" not in criteria
            continue
        (label,) = labels
        kinds[label] += 1
        assert corrupted["postcode"] == criteria["postcode"] and corrupted["gender"] == criteria["gender"]
        assert corrupted["date_of_birth"] in _dob_slips(criteria["date_of_birth"])
        if label == "heavy:family_name":
            assert jellyfish.damerau_levenshtein_distance(criteria["family_name"], corrupted["family_name"]) == 2
            assert corrupted["family_name"][0] == criteria["family_name"][0]
            assert corrupted["given_name"] == criteria["given_name"] or \
                corrupted["given_name"] in NICKNAMES.get(criteria["given_name"], ())
        else:
            assert label == "heavy:swap"
            swapped_back = (corrupted["family_name"], corrupted["given_name"])
            for typed, truth in zip(swapped_back, (criteria["given_name"], criteria["family_name"])):
                long_enough = sum(c.isalpha() for c in truth) >= 4
                assert jellyfish.damerau_levenshtein_distance(typed, truth) == (1 if long_enough else 0)
    assert kinds["heavy:family_name"] > 150 and kinds["heavy:swap"] > 150


def test_heavy_replaces_the_ordinary_corruptions_and_leaves_them_alone_when_not_asked_for(true_queries):
    for seed, criteria in enumerate(true_queries[:200]):
        everything = {**{kind: 1.0 for kind in DEFAULT_RATES}, "heavy": 1.0}
        _, labels = _corrupt(criteria, seed, everything)
        assert len(labels) == 1 or not any(label.startswith("heavy:") for label in labels)
        # Asking for no heavy queries draws nothing more: the everyday judgment sets stay as they were.
        assert _corrupt(criteria, seed, {**DEFAULT_RATES, "heavy": 0.0}) == _corrupt(criteria, seed)


def test_heavy_judgments_carry_their_own_ids_and_label(population):
    judgments = generate_judgments(population, 100, seed=4, rates={"heavy": 1.0}, today=TODAY, id_prefix="h")
    assert [j.id for j in judgments] == [f"h{i:06d}" for i in range(1, 101)]
    assert sum(1 for j in judgments if j.corruptions and j.corruptions[0].startswith("heavy:")) > 80
    assert all(len(j.corruptions) <= 1 for j in judgments)
