"""Unit tests for registry.demo_data: determinism, plausibility and realistic variation."""
from __future__ import annotations

import datetime
import hashlib
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from registry.demo_data import generate_children, local_authorities

# A leap day, so the "18 years ago" boundary has to cope with 29 February.
TODAY = datetime.date(2024, 2, 29)
POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][A-Z]{2}$")
GENDERS = {"female", "male", "other", "unknown"}
SENSITIVE_CATEGORIES = {None, "sexual_health", "mental_health", "substance_misuse"}
RELATIONSHIPS = {"mother", "father", "grandparent", "foster carer", "step-parent", "aunt", "uncle",
                 "special guardian"}
DRAMA_PHONE = re.compile(r"^(07700 900\d{3}|020 7946 0\d{3}|01\d\d 49[68] 0\d{3}|01632 960\d{3})$")
REPO_ROOT = Path(__file__).resolve().parents[2]


def _age(dob: datetime.date) -> int:
    return TODAY.year - dob.year - ((TODAY.month, TODAY.day) < (dob.month, dob.day))


def _name(record: dict) -> tuple:
    return record["given_name"], record["middle_names"], record["family_name"]


@pytest.fixture(scope="module")
def children() -> list[dict]:
    return list(generate_children(2000, seed=42, today=TODAY))


def _involvements(children):
    return [inv for spec in children for inv in spec["involvements"]]


def _variant_records(children):
    return [(spec["child"], record) for spec in children for record in spec["source_records"][1:]]


# --- Determinism ---------------------------------------------------------------------------------
def test_same_seed_gives_identical_output():
    assert list(generate_children(200, seed=7, today=TODAY)) == list(generate_children(200, seed=7, today=TODAY))


def test_different_seeds_give_different_output():
    first = list(generate_children(200, seed=1, today=TODAY))
    second = list(generate_children(200, seed=2, today=TODAY))
    assert first != second
    assert [_name(s["child"]) for s in first] != [_name(s["child"]) for s in second]


def test_interleaved_generators_do_not_share_random_state():
    expected = list(generate_children(20, seed=5, today=TODAY))
    a, b = generate_children(20, seed=5, today=TODAY), generate_children(20, seed=9, today=TODAY)
    assert [spec_a for spec_a, _spec_b in zip(a, b)] == expected


def test_output_does_not_depend_on_process_or_hash_seed():
    script = ("import datetime, hashlib; from registry.demo_data import generate_children; "
              "print(hashlib.sha256(repr(list(generate_children(60, seed=3, today=datetime.date(2024, 2, 29))))"
              ".encode()).hexdigest())")
    processes = [subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
                                  env={**os.environ, "PYTHONHASHSEED": hash_seed})
                 for hash_seed in ("1", "2024")]
    digests = {process.communicate(timeout=30)[0].strip() for process in processes}
    expected = hashlib.sha256(repr(list(generate_children(60, seed=3, today=TODAY))).encode()).hexdigest()
    assert digests == {expected}


# --- Shape and counts ----------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 37])
def test_yields_exactly_n_children(n):
    assert sum(1 for _ in generate_children(n, seed=11, today=TODAY)) == n


def test_generator_is_lazy():
    # In a subprocess, so an eager implementation is killed by the timeout instead of eating all memory.
    script = ("import itertools, time; from registry.demo_data import generate_children; "
              "started = time.perf_counter(); first = list(itertools.islice(generate_children(10**9, seed=1), 3)); "
              "print(len(first), time.perf_counter() - started)")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=30, check=True)
    count, seconds = result.stdout.split()
    assert count == "3"
    assert float(seconds) < 2.0


def test_spec_has_the_documented_keys(children):
    spec = children[0]
    assert set(spec) == {"child", "shielded", "school", "gp_practice", "carers", "involvements", "aliases",
                         "source_records"}
    assert set(spec["child"]) == {"given_name", "middle_names", "family_name", "date_of_birth", "gender",
                                  "address_line_1", "address_line_2", "town", "postcode", "la_code"}


def test_local_authorities_are_plausible(children):
    authorities = local_authorities()
    codes = [la["code"] for la in authorities]
    assert 15 <= len(authorities) <= 25
    assert len(set(codes)) == len(codes)
    assert all(re.fullmatch(r"E(06|07|08|09|10)\d{6}", code) for code in codes)
    assert all(la["email"].startswith("cp-team@") and la["email"].endswith(".gov.uk.example") for la in authorities)
    assert all(DRAMA_PHONE.match(la["phone"]) for la in authorities)
    assert {spec["child"]["la_code"] for spec in children} <= set(codes)


def test_counts_of_nested_records_are_in_range(children):
    for spec in children:
        assert 1 <= len(spec["carers"]) <= 2
        assert 1 <= len(spec["involvements"]) <= 5
        assert 1 <= len(spec["source_records"]) <= 3
        assert len(spec["aliases"]) <= 2
    assert 2.0 <= len(_involvements(children)) / len(children) <= 3.2


# --- Plausibility ------------------------------------------------------------------------------------
def test_children_are_aged_0_to_17(children):
    for spec in children:
        dob = spec["child"]["date_of_birth"]
        assert 0 <= _age(dob) <= 17 and dob <= TODAY


def test_under_fours_have_no_school(children):
    under_fours = [spec for spec in children if _age(spec["child"]["date_of_birth"]) < 4]
    assert under_fours and all(spec["school"] is None for spec in under_fours)
    assert any(spec["school"] for spec in children)


def test_no_future_dates_and_no_involvement_before_birth(children):
    for spec in children:
        dob = spec["child"]["date_of_birth"]
        for inv in spec["involvements"]:
            assert dob <= inv["start_date"] <= TODAY
            assert inv["end_date"] is None or inv["start_date"] <= inv["end_date"] <= TODAY
            if inv["consent_recorded_at"] is not None:
                assert inv["consent_recorded_at"].utcoffset() == datetime.timedelta(0)
                assert dob <= inv["consent_recorded_at"].date() <= TODAY
        assert all(record["date_of_birth"] <= TODAY for record in spec["source_records"])


def test_consent_is_recorded_iff_category_is_sensitive(children):
    for inv in _involvements(children):
        assert inv["sensitive_category"] in SENSITIVE_CATEGORIES
        sensitive = inv["sensitive_category"] is not None
        assert (inv["consent_recorded_by"] is not None) == sensitive
        assert (inv["consent_recorded_at"] is not None) == sensitive


def test_at_most_one_lead_professional_per_child(children):
    leads = [sum(inv["lead_professional"] for inv in spec["involvements"]) for spec in children]
    assert max(leads) == 1
    assert 0.25 <= sum(leads) / len(children) <= 0.35


def test_postcodes_look_like_uk_postcodes(children):
    postcodes = [spec["child"]["postcode"] for spec in children]
    postcodes += [spec["gp_practice"]["postcode"] for spec in children]
    postcodes += [spec["school"]["postcode"] for spec in children if spec["school"]]
    postcodes += [r["postcode"] for spec in children for r in spec["source_records"] if r["postcode"]]
    assert all(POSTCODE.match(postcode) for postcode in postcodes), [p for p in postcodes if not POSTCODE.match(p)]


def test_gender_vocabulary_and_mostly_binary(children):
    genders = Counter(spec["child"]["gender"] for spec in children)
    assert set(genders) <= GENDERS
    assert all(r["gender"] in GENDERS for spec in children for r in spec["source_records"])
    assert (genders["female"] + genders["male"]) / len(children) > 0.9


def test_contact_details_are_synthetic(children):
    for spec in children:
        assert DRAMA_PHONE.match(spec["gp_practice"]["phone"])
        for carer in spec["carers"]:
            assert carer["relationship"] in RELATIONSHIPS
            assert carer["phone"].startswith("07700 900")
            assert carer["email"] is None or re.search(r"@example\.(com|org|net)$", carer["email"])
        for inv in spec["involvements"]:
            assert DRAMA_PHONE.match(inv["phone"])
            assert inv["email"].endswith(".example")
            assert inv["organisation"]["kind"] == "service"


def test_child_usually_shares_family_name_with_a_carer(children):
    shared = sum(any(c["family_name"] == s["child"]["family_name"] for c in s["carers"]) for s in children)
    assert shared / len(children) > 0.6


# --- Source records --------------------------------------------------------------------------------
def test_source_record_ids_are_unique_per_source(children):
    keys = [(r["source"], r["source_record_id"]) for spec in children for r in spec["source_records"]]
    assert len(keys) == len(set(keys))
    assert {source for source, _id in keys} <= {"school-census", "nhs-pds", "la-social-care", "youth-justice"}


def test_first_source_record_carries_the_childs_exact_name(children):
    for spec in children:
        first = spec["source_records"][0]
        assert _name(first) == _name(spec["child"])
        assert first["date_of_birth"] == spec["child"]["date_of_birth"]


def test_variant_records_vary_but_mostly_keep_the_exact_name(children):
    variants = _variant_records(children)
    exact = sum(_name(record) == _name(child) for child, record in variants)
    assert 0 < len(variants) - exact
    assert 0.5 < exact / len(variants) < 0.9


def test_specific_variations_occur(children):
    variants = _variant_records(children)
    swapped = [r for c, r in variants if (r["given_name"], r["family_name"]) == (c["family_name"], c["given_name"])]
    folded = [r for c, r in variants
              if (not c["given_name"].isascii() and r["given_name"].isascii())
              or (not c["family_name"].isascii() and r["family_name"].isascii())]
    transposed = [(c, r) for c, r in variants if r["date_of_birth"] != c["date_of_birth"]]
    assert swapped and folded and transposed
    for child, record in transposed:   # the only DOB error is a day/month swap
        dob = child["date_of_birth"]
        assert record["date_of_birth"] == dob.replace(month=dob.day, day=dob.month)


# --- Variety ---------------------------------------------------------------------------------------
def test_names_with_diacritics_apostrophes_and_double_barrels_exist(children):
    names = [spec["child"] for spec in children]
    assert sum(not (c["given_name"] + c["family_name"]).isascii() for c in names) >= 40
    assert any("'" in c["family_name"] for c in names)
    assert sum("-" in c["family_name"] for c in names) >= 40


def test_shielded_children_and_sensitive_involvements_are_rare_but_present(children):
    shielded = sum(spec["shielded"] for spec in children)
    assert 5 <= shielded <= 60
    involvements = _involvements(children)
    sensitive = sum(inv["sensitive_category"] is not None for inv in involvements)
    assert 0.01 <= sensitive / len(involvements) <= 0.06


def test_aliases_are_occasional_and_differ_from_the_child(children):
    with_aliases = [spec for spec in children if spec["aliases"]]
    assert 0.05 <= len(with_aliases) / len(children) <= 0.15
    for spec in with_aliases:
        for alias in spec["aliases"]:
            assert alias["kind"] in {"alias", "previous"}
            assert (alias["given_name"], alias["family_name"]) != (spec["child"]["given_name"],
                                                                   spec["child"]["family_name"])


def test_chunks_made_apart_are_the_children_made_in_one_stream():
    # `demo-data --bulk` makes chunks in several processes; they must add up to the one-stream children.
    from registry.demo_data import CHUNK, generate_chunk

    n = 2 * CHUNK + 17
    made = {chunk: generate_chunk(n, 11, chunk, TODAY) for chunk in (2, 0, 1)}  # in any order, apart
    together = list(generate_children(n, seed=11, today=TODAY))
    assert [spec for chunk in range(3) for spec in made[chunk]] == together
    assert len({_name(s["child"]) + (s["child"]["date_of_birth"],) for s in together}) > 0.99 * n
