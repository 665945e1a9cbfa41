import pytest

from analyzers.compare import AGREEMENT_ORDER, damerau_levenshtein, jaro_winkler, name_agreement, phonetic_equal


def test_jaro_winkler_works_on_folded_forms():
    assert jaro_winkler("Zoë", "ZOE") == 1.0
    assert jaro_winkler("Martha", "Marhta") == pytest.approx(0.961, abs=0.001)
    assert jaro_winkler("Smith", "Jones") == 0.0
    assert jaro_winkler("", "Smith") == 0.0
    assert jaro_winkler(None, None) == 0.0


def test_damerau_levenshtein_counts_a_swap_as_one_edit():
    assert damerau_levenshtein("Jonh", "John") == 1
    assert damerau_levenshtein("O'Brien", "obrien") == 0
    assert damerau_levenshtein("Jonathon", "Jonathan") == 1
    assert damerau_levenshtein("Smith", "Jones") == 5


def test_phonetic_equal_on_whole_names_and_token_pairs():
    assert phonetic_equal("Smith", "Smyth")
    assert phonetic_equal("Thompson", "Tompson")
    assert phonetic_equal("Jane Smith-Jones", "Smyth")
    assert phonetic_equal("Mary Ann", "Maryanne")
    assert not phonetic_equal("Smith", "Jones")
    assert not phonetic_equal("de Silva", "de Costa")  # a shared particle is not a shared sound
    assert not phonetic_equal("J", "John")


@pytest.mark.parametrize("query, candidate, kind, level", [
    ("Smith", "SMITH", "family", "exact"),
    ("smith", "Smith-Jones", "family", "exact"),
    ("MacDonald", "McDonald", "family", "exact"),
    ("Berg", "van der Berg", "family", "exact"),
    ("Vanderberg", "van der Berg", "family", "exact"),
    ("Mary", "Mary-Jane", "given", "exact"),
    ("Mohammed", "Muhammad", "given", "variant"),
    ("Alex", "Alexander", "given", "variant"),
    ("Siobhan", "Shivaun", "given", "variant"),
    ("Kowalska", "Kowalski", "family", "variant"),
    ("Chowdhury", "Chaudhry", "family", "variant"),
    ("Katherine", "Katharyn", "given", "phonetic"),
    ("Taylor", "Tayler", "family", "phonetic"),
    ("Oliver", "Olivia", "given", "fuzzy"),
    ("Xavier", "Javier", "given", "fuzzy"),
    ("J", "John", "given", "initial"),
    ("John", "J.", "given", "initial"),
    ("Smith", "Jones", "family", "none"),
    ("J", "Mary", "given", "none"),
    ("", "Smith", "family", "none"),
    (None, "Smith", "family", "none"),
])
def test_name_agreement_levels(query, candidate, kind, level):
    assert name_agreement(query, candidate, kind) == level


@pytest.mark.parametrize("query, candidate", [
    ("Smith", "Smyth"), ("Thompson", "Tompson"), ("Jonathon", "Jonathan"),
])
def test_common_misspellings_agree_at_least_phonetically_or_fuzzily(query, candidate):
    level = name_agreement(query, candidate, "family")
    assert AGREEMENT_ORDER.index(level) <= AGREEMENT_ORDER.index("fuzzy")


def test_shared_particles_do_not_make_different_family_names_agree():
    assert name_agreement("de Silva", "de Costa", "family") == "none"
    assert name_agreement("Le Roux", "De Costa", "family") == "none"


def test_name_agreement_is_one_of_the_ordered_levels_and_rejects_unknown_kinds():
    assert AGREEMENT_ORDER == ("exact", "variant", "phonetic", "fuzzy", "initial", "none")
    assert name_agreement("Sam", "Samuel") in AGREEMENT_ORDER
    with pytest.raises(ValueError):
        name_agreement("Sam", "Samuel", kind="middle")
