import subprocess
import sys
from pathlib import Path

import pytest

from analyzers.text import compact
from analyzers.variants import (DIMINUTIVES, FAMILY_NAME_GROUPS, GIVEN_NAME_GROUPS, are_variants, family_variant_ids,
                                given_variant_ids, masculine_form)

MOHAMMED_SPELLINGS = ["Mohammed", "Muhammad", "Mohamed", "Mohammad", "Muhammed", "Mohamad", "Mo", "Mohd"]


@pytest.mark.parametrize("spelling", MOHAMMED_SPELLINGS)
def test_spellings_of_mohammed_share_one_given_name_id(spelling):
    assert "v:mohammed" in given_variant_ids(spelling)


@pytest.mark.parametrize("a, b", [
    ("Alex", "Alexander"), ("Siobhan", "Shivaun"), ("Siobhan", "Chevonne"), ("Niamh", "Neve"),
    ("Aoife", "Eefa"), ("Sean", "Shawn"), ("Sinéad", "Shinead"), ("Ciara", "Keira"), ("Caoimhe", "Keeva"),
    ("Eoin", "Owen"), ("Rhys", "Reece"), ("Dafydd", "David"), ("Dafydd", "Dave"), ("Siân", "Shan"),
    ("Oleksandr", "Alex"), ("Aleksander", "Alexander"), ("Wojciech", "Wojtek"), ("Katarzyna", "Kasia"),
    ("Małgorzata", "Gosia"), ("Oluwaseun", "Seun"), ("Olumide", "Mide"), ("Chukwuemeka", "Emeka"),
    ("Abdul", "Abdool"), ("Ahmed", "Ahmet"), ("Hussain", "Hossain"), ("Fatima", "Fatimah"),
    ("Aisha", "Ayesha"), ("Maryam", "Miriam"), ("Zainab", "Zaynab"), ("Khadija", "Kadija"),
    ("Ibrahim", "Ebrahim"), ("Yusuf", "Youssef"), ("Catherine", "Kate"), ("Jonathan", "Jonathon"),
])
def test_same_given_name_in_another_spelling_or_short_form_is_a_variant(a, b):
    assert are_variants(a, b)
    assert are_variants(b, a)


@pytest.mark.parametrize("a, b", [
    ("Yusuf", "Joseph"),      # cross-language equivalents stay apart
    ("Saoirse", "Sorcha"),    # different names
    ("Katarzyna", "Katherine"),
    ("Siobhan", "Sinead"),
    ("Mohammed", "Ahmed"),
])
def test_different_given_names_are_not_variants(a, b):
    assert not are_variants(a, b)


@pytest.mark.parametrize("a, b", [
    ("Chowdhury", "Chaudhry"), ("Choudhury", "Chowdhry"), ("Kowalska", "Kowalski"), ("Nowicka", "Nowicki"),
    ("Grodzka", "Grodzki"), ("Muhammad", "Mohammed"), ("Begum", "Begam"), ("Nowak", "Novak"),
    ("D'Souza", "de Souza"), ("Smith", "Smyth"),
])
def test_same_family_name_in_another_spelling_is_a_family_variant(a, b):
    assert are_variants(a, b, kind="family")


def test_feminine_polish_family_names_map_to_the_masculine_form():
    assert family_variant_ids("Kowalska") == ("v:kowalski",)
    assert family_variant_ids("kowalski") == ("v:kowalski",)
    assert family_variant_ids("Wiśniewska") == ("v:wisniewski",)
    assert masculine_form("nowicka") == "nowicki"
    assert masculine_form("ska") is None
    assert masculine_form("smith") is None


def test_family_names_do_not_use_the_given_name_nickname_list():
    assert family_variant_ids("Alex") == ()
    assert not are_variants("Alex", "Alexander", kind="family")
    # "Mo" is a Chinese family name, not a short form of Mohammed.
    assert not are_variants("Mo", "Mohammed", kind="family")


def test_variant_ids_are_prefixed_ordered_and_stable():
    ids = given_variant_ids("Alex")
    assert ids and all(i.startswith("v:") for i in ids)
    assert len(ids) == len(set(ids))
    given_variant_ids.cache_clear()
    assert given_variant_ids("Alex") == ids
    assert given_variant_ids("Mohammed")[0] == "v:mohammed"


def test_unknown_blank_or_initial_tokens_have_no_ids():
    assert given_variant_ids("Xqzt") == ()
    assert given_variant_ids("") == ()
    assert given_variant_ids(None) == ()
    assert given_variant_ids("J") == ()


def test_are_variants_treats_equal_names_as_variants_and_blank_as_not():
    assert are_variants("Zoë", "ZOE")
    assert not are_variants("", "")
    assert not are_variants(None, "Sam")
    with pytest.raises(ValueError):
        are_variants("a", "b", kind="middle")


def test_are_variants_looks_at_each_part_of_a_multi_part_name():
    assert are_variants("Mohammed Ali", "Muhammad")
    assert are_variants("Smith-Chowdhury", "Choudhury", kind="family")


def test_curated_groups_are_well_formed():
    unique_groups = {group[0] for group in GIVEN_NAME_GROUPS + FAMILY_NAME_GROUPS}
    assert 80 <= len(unique_groups) <= 200
    for groups in (GIVEN_NAME_GROUPS, FAMILY_NAME_GROUPS):
        first_members = [group[0] for group in groups]
        assert len(first_members) == len(set(first_members)), "group ids must be unique"
        for group in groups:
            assert len(group) >= 2, group
            assert len(group) == len(set(group)), group
            assert all(member == compact(member) for member in group), group


def test_importing_the_analyzers_does_not_load_the_nickname_tables():
    code = "import sys, analyzers; assert 'nicknames' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


@pytest.mark.parametrize("a, b", [
    ("Katie", "Katherine"), ("Katie", "Catherine"), ("Izzy", "Isabella"), ("Izzy", "Isobel"), ("Alfie", "Alfred"),
    ("Lexi", "Alexandra"), ("Charlie", "Charlotte"), ("Charlie", "Charles"), ("Liv", "Olivia"), ("Tilly", "Matilda"),
    ("Millie", "Amelia"), ("Kuba", "Jakub"), ("Kuba", "Jacob"), ("Dai", "Dafydd"), ("Temi", "Temitope"),
    ("Finn", "Finley"), ("Gracie", "Grace"),
])
def test_british_short_forms_the_nicknames_package_lacks_are_variants(a, b):
    assert are_variants(a, b)
    assert are_variants(b, a)


@pytest.mark.parametrize("a, b", [("Charles", "Charlotte"), ("Oliver", "Olivia"), ("Edward", "Theodore"),
                                  ("Jayden", "Jason"), ("Patrick", "Pádraig")])
def test_two_full_names_sharing_a_short_form_stay_apart(a, b):
    """Charlie is short for both; that does not make Charles Charlotte."""
    assert not are_variants(a, b)


def test_every_short_form_reaches_each_of_its_full_names():
    for short, full_names in DIMINUTIVES.items():
        for full in full_names:
            assert full == compact(full) and are_variants(short, full), (short, full)
