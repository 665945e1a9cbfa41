"""Unit tests for registry.linkage records and model: comparison levels, weights, term frequencies, the name
orientation, the hard rules and body validation. Pure: no database, no Elasticsearch."""
from __future__ import annotations

import copy
import datetime as dt
import math

import pytest

from analyzers.identifiers import nhs_number_check_digit, upn_check_letter
from registry.linkage import DEFAULT_BODY, FIELDS, LEVELS, LinkageModel, LinkageModelError, LinkRecord

MODEL = LinkageModel.default()

OLIVIA = dict(given_name="Olivia", middle_names=None, family_name="Smith", date_of_birth="2015-03-07",
              gender="female", postcode="LS6 2AB", address_line_1="12 High Street")


def record(**changes) -> LinkRecord:
    return LinkRecord.from_fields({**OLIVIA, **changes})


def levels(a: LinkRecord, b: LinkRecord, model: LinkageModel = MODEL) -> dict[str, str]:
    return model.score(a, b).levels()


def nhs_number(first_nine: str) -> str:
    return first_nine + str(nhs_number_check_digit(first_nine))


def upn(last_twelve: str) -> str:
    return upn_check_letter(last_twelve) + last_twelve


def body(**changes) -> dict:
    changed = copy.deepcopy(DEFAULT_BODY)
    changed.update(changes)
    return changed


# --- records ------------------------------------------------------------------------------------------------------

def test_a_record_from_feed_fields_keeps_only_evidence():
    built = LinkRecord.from_fields({
        "given_name": " Olivia ", "middle_names": "", "family_name": "Smith", "date_of_birth": "2015-03-07",
        "gender": "unknown", "postcode": "ls62ab", "address_line_1": "12, High Street.",
        "nhs_number": "943 476 5919", "upn": "A12345678901X",  # a valid NHS number; a UPN failing its check letter
        "other_names": [{"given_name": "Liv", "family_name": "Smith-Jones"}],
        "previous_postcodes": ["M1 1AA", "not a postcode"], "previous_address_lines": ["3 Low Road"]})
    assert built == LinkRecord(names=(("Olivia", None, "Smith"), ("Liv", None, "Smith-Jones")),
                               date_of_birth=dt.date(2015, 3, 7), gender=None, postcodes=("LS6 2AB", "M1 1AA"),
                               address_lines=("12 high street", "3 low road"), nhs_number="9434765919", upn=None)
    assert built.swapped_names[0] == ("Smith", None, "Olivia")
    assert built.districts == {"LS6", "M1"}


@pytest.mark.parametrize("field, value, message", [
    ("given_name", "  ", "given_name: a name is required"),
    ("family_name", None, "family_name: a name is required"),
    ("date_of_birth", "07/03/2015", "date_of_birth: '07/03/2015' is not a date"),
])
def test_a_record_without_a_name_or_a_readable_birth_date_is_refused_naming_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        record(**{field: value})


# --- every level of every field, by a realistic pair ----------------------------------------------------------------

@pytest.mark.parametrize("field, other, level", [
    ("given_name", "Olivia", "exact"),
    ("given_name", "Liv", "variant"),  # a British short form (analyzers.variants.DIMINUTIVES)
    ("given_name", "Olivai", "phonetic"),
    ("given_name", "Olibia", "fuzzy"),
    ("given_name", "Olivija", "fuzzy"),
    ("given_name", "O", "initial"),
    ("given_name", "Amelia", "else"),
    ("family_name", "Smith", "exact"),
    ("family_name", "Smith-Jones", "exact"),  # a hyphenated name sharing a part
    ("family_name", "Smyth", "variant"),
    ("family_name", "Smiht", "phonetic"),
    ("family_name", "Smitg", "fuzzy"),
    ("family_name", "S", "initial"),
    ("family_name", "Jones", "else"),
])
def test_name_levels(field, other, level):
    assert levels(record(), record(**{field: other}))[field] == level


@pytest.mark.parametrize("given, other, level", [
    ("Alexander", "Alex", "variant"),
    ("William", "Bill", "variant"),
    ("Daniela", "Danielle", "phonetic"),
    ("Harriet", "Harris", "fuzzy"),
    ("Charlotte", "Charlie", "variant"),
    ("Charlotte", "Charlene", "fuzzy_weak"),  # Jaro-Winkler 0.88-0.92, not a typo by name_agreement
])
def test_more_given_name_levels(given, other, level):
    assert levels(record(given_name=given), record(given_name=other))["given_name"] == level


def test_a_given_name_matching_the_other_sides_middle_name_counts_as_a_variant_at_best():
    known_by_middle = levels(record(given_name="Rose", middle_names="Olivia"), record())
    assert known_by_middle["given_name"] == "variant"
    assert levels(record(given_name="Amelia", middle_names="Rose"), record())["given_name"] == "else"


def test_names_are_compared_over_every_name_either_side_is_known_by():
    married_and_renamed = record(given_name="Liv", family_name="Jones",
                                 other_names=[{"given_name": "Olivia", "family_name": "Smith"}])
    assert levels(married_and_renamed, record())["given_name"] == "exact"
    assert levels(married_and_renamed, record())["family_name"] == "exact"


@pytest.mark.parametrize("ours, theirs, level", [
    ("Grace", "Grace", "exact"),
    ("Grace Mae", "Mae", "exact"),          # any shared middle name
    ("Grace", "Gracie", "similar"),
    ("Grace", "Isabella", "else"),
    ("Grace", "G", "null"),                 # an initial that agrees is no evidence either way
    ("Grace", "J", "else"),
    ("Grace", None, "null"),                # one source never records middle names: no evidence either way
    (None, None, "null"),
])
def test_middle_name_levels(ours, theirs, level):
    assert levels(record(middle_names=ours), record(middle_names=theirs))["middle_names"] == level


def test_a_shared_middle_name_lifts_a_moved_namesake_over_the_link_threshold_and_a_different_one_holds_it_back():
    """Olivia Smith born the same day, moved to another district: the name and birthday alone are not enough
    among many Olivia Smiths; the same middle name as well is."""
    model = LinkageModel.from_body(body(term_frequencies={"given": {"olivia": 0.02, "grace": 0.01},
                                                          "family": {"smith": 0.02}}))
    moved = dict(postcode="M1 1AA", address_line_1="3 Low Road")
    without = model.score(record(**moved), record())
    shared = model.score(record(middle_names="Grace", **moved), record(middle_names="Grace"))
    different = model.score(record(middle_names="Isabella", **moved), record(middle_names="Grace"))
    assert model.decide(without) != "link"
    assert model.decide(shared) == "link"
    assert shared.contributions["middle_names"] == {"level": "exact", "weight": round(math.log2(0.93 / 0.01), 2)}
    assert different.weight < without.weight
    assert model.decide(different) == "create"


def test_a_given_name_that_is_the_others_middle_name_does_not_count_the_middle_names_again():
    """Rose Olivia Smith and Olivia Rose Smith: the given name agrees through the middle name (a variant at
    best); the middle names, each the other's given name, are not compared on top."""
    scored = MODEL.score(record(given_name="Rose", middle_names="Olivia"), record(middle_names="Rose"))
    assert scored.contributions["given_name"]["by"] == "middle_name"
    assert scored.contributions["middle_names"] == {"level": "null", "weight": 0.0}


def test_a_model_stored_before_middle_names_were_compared_takes_the_shipped_levels():
    stored = LinkageModel.from_body(_without(("comparisons", "middle_names")))
    assert stored.m["middle_names"] == MODEL.m["middle_names"] and stored.u["middle_names"] == MODEL.u["middle_names"]
    assert "middle_names" in stored.to_body()["comparisons"]


@pytest.mark.parametrize("other, level", [
    ("2015-03-07", "exact"),
    ("2015-07-03", "transposed"),
    ("2015-03-17", "near"),
    ("2015-08-20", "year"),
    ("2015-03-28", "year"),  # same month, not a slip: no level of its own
    ("2012-05-01", "else"),
])
def test_date_of_birth_levels(other, level):
    assert levels(record(), record(date_of_birth=other))["date_of_birth"] == level


@pytest.mark.parametrize("changes, postcode, address", [
    ({}, "full", "exact"),
    ({"address_line_1": "Flat 2, 14 High Street"}, "full", "else"),
    ({"postcode": "M1 1AA", "previous_postcodes": ["LS6 2AB"]}, "full_earlier", "exact"),
    ({"postcode": "LS6 3XY"}, "district", "null"),  # the postcode already counted the move
    ({"postcode": "M1 1AA", "address_line_1": "3 Low Road"}, "else", "null"),
    ({"postcode": None}, "null", "exact"),
    ({"postcode": None, "address_line_1": None}, "null", "null"),
])
def test_postcode_and_address_levels(changes, postcode, address):
    found = levels(record(), record(**changes))
    assert (found["postcode"], found["address"]) == (postcode, address)


def test_earlier_postcodes_count_on_either_side():
    moved = record(postcode="M1 1AA", address_line_1="3 Low Road")
    assert levels(record(previous_postcodes=["M1 1AA"]), moved)["postcode"] == "full_earlier"


@pytest.mark.parametrize("field, a, b, level", [
    ("gender", "female", "female", "agree"),
    ("gender", "female", "male", "disagree"),
    ("gender", "female", "unknown", "null"),
    ("nhs_number", nhs_number("943476591"), nhs_number("943476591"), "agree"),
    ("nhs_number", nhs_number("943476591"), nhs_number("401023213"), "disagree"),
    ("nhs_number", nhs_number("943476591"), None, "null"),
    ("upn", upn("801200001001"), upn("801200001001"), "agree"),
    ("upn", upn("801200001001"), upn("801200001002"), "disagree"),
    ("upn", None, upn("801200001002"), "null"),
])
def test_gender_and_identifier_levels(field, a, b, level):
    assert levels(record(**{field: a}), record(**{field: b}))[field] == level


def test_a_missing_value_is_the_null_level_and_weighs_nothing():
    scored = MODEL.score(record(), record(postcode=None, address_line_1=None, gender=None))
    for field in ("postcode", "address", "gender", "nhs_number", "upn"):
        assert scored.contributions[field] == {"level": "null", "weight": 0.0}


# --- weights --------------------------------------------------------------------------------------------------------

def test_the_weight_is_the_prior_plus_every_fields_log2_m_over_u_and_the_contributions_add_up():
    scored = MODEL.score(record(), record(given_name="Olivai", date_of_birth="2015-07-03"))
    comparisons = DEFAULT_BODY["comparisons"]
    expected = math.log2(DEFAULT_BODY["prior"] / (1 - DEFAULT_BODY["prior"]))
    for field, level in (("given_name", "phonetic"), ("family_name", "exact"), ("date_of_birth", "transposed"),
                         ("postcode", "full"), ("address", "exact"), ("gender", "agree")):
        expected += math.log2(comparisons[field][level]["m"] / comparisons[field][level]["u"])
    assert scored.weight == pytest.approx(expected)
    assert set(scored.contributions) == {"prior", *FIELDS}
    assert sum(part["weight"] for part in scored.contributions.values()) == pytest.approx(scored.weight, abs=0.05)
    assert scored.contributions["date_of_birth"] == {
        "level": "transposed", "weight": round(math.log2(0.01 / 0.0001), 2)}


def test_better_agreement_weighs_more():
    for field, ordered in LEVELS.items():
        weights = [MODEL.weights[field][level] for level in ordered]
        assert weights[0] == max(weights) and weights[-1] == min(weights), field


def test_a_shared_rare_surname_outweighs_a_shared_common_one():
    model = LinkageModel.from_body(body(term_frequencies={
        "given": {"olivia": 0.01, "jack": 0.01}, "family": {"smith": 0.012, "jones": 0.009, "oyelaran": 0.00002}}))
    common = model.score(record(), record())
    rare = model.score(record(family_name="Oyelaran"), record(family_name="Oyelaran"))
    unlisted = model.score(record(family_name="Zbyszewski"), record(family_name="Zbyszewski"))
    assert rare.contributions["family_name"]["level"] == common.contributions["family_name"]["level"] == "exact"
    assert rare.weight > common.weight
    assert common.contributions["family_name"]["weight"] == round(math.log2(0.86 / 0.012), 2)
    assert rare.contributions["family_name"]["weight"] == round(math.log2(0.86 / 1e-4), 2)  # the floor
    # A name beyond the table is at most as common as the rarest one in it (here: the floor again).
    assert unlisted.contributions["family_name"]["weight"] == rare.contributions["family_name"]["weight"]
    # Sharing only one part of a hyphenated name weighs like that (common) part.
    hyphenated = model.score(record(family_name="Smith-Oyelaran"), record())
    assert hyphenated.contributions["family_name"]["weight"] == common.contributions["family_name"]["weight"]


def test_without_a_frequency_table_an_exact_name_weighs_its_levels_m_over_u():
    scored = MODEL.score(record(), record())
    assert scored.contributions["given_name"]["weight"] == round(math.log2(0.85 / 0.01), 2)


def test_swapped_given_and_family_names_are_scored_in_the_better_orientation_one_bit_down():
    straight = MODEL.score(record(), record())
    swapped = MODEL.score(record(), record(given_name="Smith", family_name="Olivia"))
    assert swapped.contributions["given_name"]["level"] == swapped.contributions["family_name"]["level"] == "exact"
    assert swapped.contributions["names_swapped"] == {"level": "swapped", "weight": -1.0}
    assert swapped.weight == pytest.approx(straight.weight - 1.0)
    assert MODEL.decide(swapped) == "link"
    assert "names_swapped" not in straight.contributions


def test_a_swapped_orientation_is_not_used_when_the_straight_one_is_as_good():
    # "Thomas Thomas": both orientations are exact; no penalty.
    scored = MODEL.score(record(given_name="Thomas", family_name="Thomas"),
                         record(given_name="Thomas", family_name="Thomas"))
    assert "names_swapped" not in scored.contributions


# --- decisions and hard rules ---------------------------------------------------------------------------------------

def test_decisions_follow_the_thresholds():
    assert MODEL.decide(MODEL.score(record(), record())) == "link"
    moved_and_misspelt = MODEL.score(record(), record(given_name="Olivai", postcode="M1 1AA",
                                                      address_line_1="3 Low Road"))
    assert MODEL.lower <= moved_and_misspelt.weight < MODEL.upper
    assert MODEL.decide(moved_and_misspelt) == "review"
    sibling = MODEL.score(record(), record(given_name="Jack", date_of_birth="2012-05-01", gender="male"))
    assert sibling.weight < MODEL.lower and MODEL.decide(sibling) == "create"


def test_twins_never_link_and_by_default_make_no_review_item():
    twin = MODEL.score(record(), record(given_name="Amelia"))
    assert twin.weight >= MODEL.upper  # every other field agrees: only the rule keeps them apart
    assert MODEL.decide(twin) == "create"
    reviewing = LinkageModel.from_body(body(twin_decision="review"))
    assert reviewing.decide(reviewing.score(record(), record(given_name="Amelia"))) == "review"


def test_twins_with_a_slip_in_the_birth_date_or_an_earlier_address_still_never_link():
    for changes in ({"date_of_birth": "2015-03-17"}, {"postcode": "M1 1AA", "previous_postcodes": ["LS6 2AB"]},
                    {"family_name": "Smyth", "postcode": None}):
        assert MODEL.decide(MODEL.score(record(), record(given_name="Amelia", **changes))) == "create", changes


def test_a_twin_whose_names_reached_us_swapped_still_never_links():
    # "Bayley Harry" is Harry Bailey written family name first; his twin Alfie Bailey shares everything else.
    alfie = record(given_name="Alfie", family_name="Bailey")
    harry = MODEL.score(record(given_name="Bayley", family_name="Harry"), alfie)
    assert harry.levels()["names_swapped"] == "swapped" and harry.weight >= MODEL.upper
    assert MODEL.decide(harry) == "create"


def test_a_twin_whose_first_name_is_the_others_middle_name_goes_to_a_person():
    # Reem Nour Nur and her twin Nour Nur: "Nour" may be Reem going by her middle name, or Nour.
    reem = record(given_name="Reem", middle_names="Nour", family_name="Nur")
    nour = MODEL.score(record(given_name="Nour", family_name="Nur"), reem)
    assert nour.contributions["given_name"] == {**nour.contributions["given_name"], "level": "variant",
                                                "by": "middle_name"}
    assert nour.weight >= MODEL.upper and MODEL.decide(nour) == "review"
    # With her NHS number on both (no twin shares it), the child going by her middle name links.
    number = nhs_number("943476591")
    same = MODEL.score(record(given_name="Nour", family_name="Nur", nhs_number=number),
                       record(given_name="Reem", middle_names="Nour", family_name="Nur", nhs_number=number))
    assert same.contributions["given_name"]["by"] == "middle_name" and MODEL.decide(same) == "link"


def test_boy_and_girl_twins_with_similar_names_are_at_most_reviewed():
    for given, other in (("Olivia", "Oliver"), ("Christine", "Christopher")):
        twin = MODEL.score(record(given_name=given), record(given_name=other, gender="male"))
        assert twin.weight >= MODEL.upper
        assert MODEL.decide(twin) == "review", other


def test_a_shared_identifier_lifts_the_twin_rule():
    number = nhs_number("943476591")
    renamed = MODEL.score(record(nhs_number=number), record(given_name="Amelia", nhs_number=number))
    assert MODEL.decide(renamed) == "link"


def test_different_nhs_numbers_or_upns_never_link():
    for field, first, second in (("nhs_number", nhs_number("943476591"), nhs_number("401023213")),
                                 ("upn", upn("801200001001"), upn("801200001002"))):
        scored = MODEL.score(record(**{field: first}), record(**{field: second}))
        assert scored.weight >= MODEL.upper  # every other field agrees
        assert MODEL.decide(scored) == "review"


def test_decide_reads_stored_contributions():
    stored = MODEL.score(record(), record(given_name="Amelia"))
    again = type(stored)(weight=stored.weight, contributions=copy.deepcopy(stored.contributions))
    assert MODEL.decide(again) == "create"


# --- the body ----------------------------------------------------------------------------------------------------

def test_the_default_body_round_trips_and_is_labelled():
    model = LinkageModel.from_body(DEFAULT_BODY)
    assert model.to_body() == DEFAULT_BODY
    assert (model.name, model.version, model.label) == ("default", 1, "default:1")
    assert LinkageModel.from_body(model.to_body()).weights == model.weights


def test_the_default_body_holds_probabilities_that_sum_to_one_per_field():
    for field, levels_ in DEFAULT_BODY["comparisons"].items():
        assert sum(level["m"] for level in levels_.values()) == pytest.approx(1, abs=1e-9), field
        assert sum(level["u"] for level in levels_.values()) == pytest.approx(1, abs=1e-9), field


def _without(path: tuple[str, ...]) -> dict:
    changed = copy.deepcopy(DEFAULT_BODY)
    target = changed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return changed


def _with(path: tuple[str, ...], value) -> dict:
    changed = copy.deepcopy(DEFAULT_BODY)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


@pytest.mark.parametrize("malformed, key", [
    (["not", "an", "object"], "body"),
    (_with(("colour",), "blue"), "colour"),
    (_without(("upper",)), "upper"),
    (_with(("name",), "no spaces allowed"), "name"),
    (_with(("version",), 0), "version"),
    (_with(("version",), True), "version"),
    (_with(("prior",), 1), "prior"),
    (_with(("upper",), "high"), "upper"),
    (_with(("lower",), 10.0), "lower"),
    (_with(("twin_decision",), "link"), "twin_decision"),
    (_with(("tf_floor",), 0), "tf_floor"),
    (_with(("term_frequencies",), {"given": {}}), "term_frequencies"),
    (_with(("term_frequencies", "family", "smith"), 2), "term_frequencies.family.smith"),
    (_without(("comparisons", "postcode")), "comparisons.postcode"),
    (_with(("comparisons", "middle_names"), {"exact": {"m": 1, "u": 1}}), "comparisons.middle_names.similar"),
    (_with(("comparisons", "shoe_size"), {}), "comparisons.shoe_size"),
    (_with(("comparisons", "gender", "maybe"), {"m": 0.1, "u": 0.1}), "comparisons.gender.maybe"),
    (_without(("comparisons", "date_of_birth", "near")), "comparisons.date_of_birth.near"),
    (_with(("comparisons", "given_name", "exact", "m"), 0), "comparisons.given_name.exact.m"),
    (_with(("comparisons", "upn", "agree", "u"), float("nan")), "comparisons.upn.agree.u"),
    (_with(("trained",), "yesterday"), "trained"),
])
def test_a_malformed_body_is_a_value_error_naming_the_key(malformed, key):
    with pytest.raises(ValueError) as refused:
        LinkageModel.from_body(malformed)
    assert isinstance(refused.value, LinkageModelError)
    assert str(refused.value).startswith(f"{key}:")


def test_a_body_without_trained_metadata_is_accepted():
    assert LinkageModel.from_body(_without(("trained",))).version == 1


def test_the_model_does_not_share_its_body():
    given = copy.deepcopy(DEFAULT_BODY)
    model = LinkageModel.from_body(given)
    given["comparisons"]["gender"]["agree"]["m"] = 0.5
    model.to_body()["upper"] = 99
    assert model.to_body() == DEFAULT_BODY


def test_dates_of_birth_years_apart_never_link_without_an_identifier():
    import datetime as _dt

    from registry.linkage import LinkageModel, LinkRecord

    model = LinkageModel.default().with_prior(1e-4)
    older = LinkRecord.from_fields({"given_name": "Khalid", "middle_names": "Omar", "family_name": "Nasser",
                                    "date_of_birth": _dt.date(2018, 4, 21), "gender": "male", "postcode": "LE4 6TD",
                                    "address_line_1": "7 Oak Street"})
    younger = LinkRecord.from_fields({"given_name": "Omar", "middle_names": "Yusuf", "family_name": "Nasser",
                                      "date_of_birth": _dt.date(2024, 9, 23), "gender": "male",
                                      "postcode": "LE4 6TD", "address_line_1": "7 Oak Street"})
    scored = model.score(older, younger)
    assert scored.contributions["date_of_birth"]["level"] == "else"
    assert model.decide(scored) in ("review", "create")
