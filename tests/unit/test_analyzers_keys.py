import pytest

from analyzers.keys import NameKeys, family_name_keys, given_name_keys, mc_form
from analyzers.phonetic import phonetic_codes
from analyzers.variants import given_variant_ids


def test_mac_and_mc_spellings_share_an_exact_key():
    assert "mcdonald" in family_name_keys("MacDonald").exact
    assert "mcdonald" in family_name_keys("McDonald").exact
    assert "mcdonald" in family_name_keys("Mac Donald").exact
    assert "mcaulay" in family_name_keys("Macaulay").exact


@pytest.mark.parametrize("name", ["Mack", "Macey", "Machin", "Mace", "Maciej", "Maciejewski", "Machado"])
def test_names_merely_starting_with_mac_are_not_unified(name):
    assert mc_form(name.lower()) is None
    assert not any(key.startswith("mc") for key in family_name_keys(name).exact)


def test_family_name_particles_are_stripped_for_the_core_but_not_from_the_compact_form():
    keys = family_name_keys("van der Berg")
    assert "berg" in keys.exact
    assert "vanderberg" in keys.exact
    assert "van" not in keys.exact and "der" not in keys.exact
    assert "cruz" in family_name_keys("de la Cruz").exact
    assert "rosagarcia" in family_name_keys("de la Rosa Garcia").exact


def test_particles_get_no_phonetic_codes_but_the_compact_form_does():
    keys = family_name_keys("van der Berg")
    assert phonetic_codes("van") == ("dm:FN", "ny:VAN")
    assert phonetic_codes("der") == ("dm:TR", "ny:DAR")
    assert not {"dm:FN", "ny:VAN", "dm:TR", "ny:DAR"} & set(keys.phonetic)
    assert set(phonetic_codes("berg")) <= set(keys.phonetic)
    assert set(phonetic_codes("vanderberg")) <= set(keys.phonetic)


def test_a_family_name_that_is_only_a_particle_keeps_it():
    keys = family_name_keys("Le")
    assert keys.exact == ("le",)
    assert keys.phonetic


def test_apostrophe_names_stay_whole():
    assert family_name_keys("De'Ath").exact == ("death",)
    assert family_name_keys("O'Brien").exact == ("obrien",)


def test_hyphenated_names_give_each_part_and_the_compact_form():
    keys = family_name_keys("Smith-Jones")
    assert keys.exact == ("smith", "jones", "smithjones")
    assert set(phonetic_codes("smithjones")) <= set(keys.phonetic)
    assert keys.initials == ("s",)


def test_variant_keys_join_spellings_of_one_name():
    assert "v:mohammed" in given_name_keys("Muhammad").variant
    assert "v:mohammed" in given_name_keys("Mohamed").variant
    assert set(given_name_keys("Alex").variant) & set(given_name_keys("Alexander").variant)
    assert set(given_name_keys("Siobhan").variant) & set(given_name_keys("Shivaun").variant)
    assert "v:kowalski" in family_name_keys("Kowalska").variant
    assert "v:kowalski" in family_name_keys("Kowalski").variant


def test_phonetic_keys_are_prefixed_codes():
    keys = given_name_keys("Mary-Jane")
    assert keys.phonetic
    assert all(code.startswith(("dm:", "ny:")) for code in keys.phonetic)
    assert "dm:MR" in keys.phonetic and "ny:MARY" in keys.phonetic


def test_a_middle_initial_is_not_an_exact_key():
    keys = given_name_keys("John P")
    assert "john" in keys.exact
    assert "p" not in keys.exact
    assert given_name_keys("J").exact == ("j",)
    assert given_name_keys("J").phonetic == ()
    assert given_name_keys("J").initials == ("j",)


@pytest.mark.parametrize("blank", [None, "", "   ", "-'-"])
def test_blank_names_have_no_keys(blank):
    assert given_name_keys(blank) == NameKeys()
    assert family_name_keys(blank) == NameKeys()


def test_keys_are_deterministic_unique_tuples():
    names = ["Mohammed Ali", "van der Berg", "Siobhán O'Brien-Smith", "Zoë", "Kowalska"]
    first = [(given_name_keys(n), family_name_keys(n)) for n in names]
    given_name_keys.cache_clear()
    family_name_keys.cache_clear()
    given_variant_ids.cache_clear()
    phonetic_codes.cache_clear()
    assert [(given_name_keys(n), family_name_keys(n)) for n in names] == first
    for pair in first:
        for keys in pair:
            for field in (keys.exact, keys.variant, keys.phonetic, keys.initials):
                assert isinstance(field, tuple)
                assert len(field) == len(set(field))


def test_name_keys_are_immutable():
    keys = given_name_keys("Alex")
    with pytest.raises(AttributeError):
        keys.exact = ("x",)  # type: ignore[misc]


def test_family_full_keys_keep_the_whole_name_as_one_key():
    from analyzers import family_full_keys

    assert family_full_keys("Cooper-Watson") == ("cooperwatson",)
    assert family_full_keys("MacDonald") == ("macdonald", "mcdonald")
    assert family_full_keys("O'Brien") == ("obrien",)
    assert family_full_keys("") == ()
    assert family_full_keys(None) == ()
