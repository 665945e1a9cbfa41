import pytest

from analyzers.phonetic import (double_metaphone, match_rating_codex, metaphone, nysiis, phonetic_codes,
                                soundex)


def test_double_metaphone_gives_primary_and_secondary_codes():
    assert double_metaphone("Siobhan") == ("SPN", "XPN")
    assert double_metaphone("Smith") == ("SM0", "XMT")


@pytest.mark.parametrize("function", [double_metaphone, metaphone, nysiis, soundex, match_rating_codex])
def test_codes_are_computed_on_the_folded_name(function):
    assert function("ZOË") == function("zoe")
    assert function("O'Brien") == function("obrien")
    assert function("Smith-Jones") == function("smithjones")


@pytest.mark.parametrize("function, empty", [
    (double_metaphone, ("", "")), (metaphone, ""), (nysiis, ""), (soundex, ""), (match_rating_codex, ""),
])
def test_blank_or_letterless_input_gives_empty_codes(function, empty):
    assert function("") == empty
    assert function(None) == empty
    assert function("--'") == empty


def test_the_single_code_algorithms_match_known_values():
    assert soundex("Robert") == soundex("Rupert") == "R163"
    assert metaphone("Tompson") == "TMPSN"
    assert nysiis("Knight") == "NAGT"
    assert match_rating_codex("Byrne") == "BYRN"


def test_phonetic_codes_are_prefixed_and_skip_a_secondary_equal_to_the_primary():
    assert phonetic_codes("Smith") == ("dm:SM0", "dm:XMT", "ny:SNAT")
    assert phonetic_codes("Thompson") == ("dm:TMPSN", "ny:TANPSAN")


def test_spellings_that_sound_alike_share_a_phonetic_code():
    assert set(phonetic_codes("Smith")) & set(phonetic_codes("Smyth"))
    assert set(phonetic_codes("Thompson")) & set(phonetic_codes("Tompson"))
    assert not set(phonetic_codes("Smith")) & set(phonetic_codes("Jones"))


def test_an_initial_has_no_phonetic_codes():
    assert phonetic_codes("J") == ()
    assert phonetic_codes("") == ()
    assert phonetic_codes(None) == ()


def test_phonetic_codes_are_deterministic_tuples():
    first = phonetic_codes("Katarzyna")
    phonetic_codes.cache_clear()
    assert phonetic_codes("Katarzyna") == first
    assert isinstance(first, tuple)
