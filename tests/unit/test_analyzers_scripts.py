"""Names written in scripts other than Latin: transliterated for matching, kept as written as exact keys."""
import pytest

from analyzers import (family_full_keys, family_name_keys, fold, given_name_keys, name_agreement, name_problem,
                       script_tokens, skeleton_keys, tokens)
from search_service.profiles import default_profile
from search_service.queries import family_group, given_group


@pytest.mark.parametrize("name, folded", [
    ("Дмитрий Иванов", "dmitriy ivanov"),          # Cyrillic
    ("Юлия Щербакова", "yuliya shcherbakova"),
    ("Γιώργος Παπαδόπουλος", "giorgos papadopoylos"),  # Greek
    ("محمد حسن", "mhmd hsn"),                      # Arabic, written without vowels ...
    ("مُحَمَّد", "mhmd"),                            # ... or with its optional vowel points
    ("王小明", "wangxiaoming"),                     # Chinese
    ("김민준", "gimminjun"),                        # Korean
    ("さくら", "sakura"),                           # Japanese
    ("Zoë O’Brien-Łukasz", "zoe obrien lukasz"),   # Latin is folded as before
])
def test_fold_transliterates_other_scripts(name, folded):
    assert fold(name) == folded


@pytest.mark.parametrize("name", ["🙂", "★☆", "😀 😀", "ʹʹ", "ʼ"])
def test_symbols_and_modifiers_fold_to_nothing_rather_than_to_words(name):
    # anyascii spells emoji out (':slight_smile:'); a name's keys must never contain that.
    assert fold(name) == "" and tokens(name) == [] and script_tokens(name) == []
    assert given_name_keys(name).exact == () and family_full_keys(name) == ()


def test_the_name_as_written_is_kept_lower_case_without_optional_marks():
    assert script_tokens("Дмитрий Иванов") == ["дмитрий", "иванов"]
    assert script_tokens("مُحَمَّد") == script_tokens("محمد") == ["محمد"]   # vowel points are optional
    assert script_tokens("Йосиф") != script_tokens("Иосиф")              # letters with their own mark stay apart
    assert script_tokens("Иван-Smith") == ["иван"]                       # the Latin part is a token already
    assert script_tokens("Zoë") == [] and script_tokens("Smith") == []


def test_a_name_in_another_script_has_transliterated_and_written_exact_keys():
    keys = given_name_keys("Дмитрий")
    assert {"dmitriy", "дмитрий"} <= set(keys.exact)
    assert keys.phonetic and keys.initials == ("d",)
    family = family_name_keys("Παπαδόπουλος")
    assert {"papadopoylos", "παπαδόπουλοσ"} <= set(family.exact)
    assert set(family_full_keys("Иванова-Петрова")) == {"ivanovapetrova", "ивановапетрова"}


def test_letters_anyascii_cannot_spell_still_give_the_written_key():
    rare = "\U00030000"  # a CJK Extension G ideograph: no transliteration
    assert fold(rare) == ""
    keys = family_name_keys(rare)
    assert keys.exact == (rare,) and keys.initials == ()
    assert family_full_keys(rare) == (rare,)
    assert name_agreement(rare, rare, "family") == "exact"
    assert name_agreement(rare, "Smith", "family") == "none"


@pytest.mark.parametrize("query, written, kind, agreement", [
    ("Dmitriy", "Дмитрий", "given", "exact"),
    ("Дмитрий", "Дмитрий", "given", "exact"),
    ("Dmitri", "Дмитрий", "given", "phonetic"),
    ("Ivanoff", "Иванов", "family", "phonetic"),
    ("Giorgos", "Γιώργος", "given", "exact"),
    ("Papadopoulos", "Παπαδόπουλος", "family", "phonetic"),
    ("Wang", "王", "family", "exact"),
    ("Xiao Ming", "小明", "given", "exact"),
    ("Mohammed", "محمد", "given", "phonetic"),
    ("Muhammad", "محمد", "given", "phonetic"),
    ("Fatima", "فاطمة", "given", "phonetic"),
    ("Hassan", "حسن", "family", "phonetic"),
    ("Hassan", "الحسن", "family", "phonetic"),
    ("Li", "王", "family", "none"),
    ("Ivanova", "Дмитрий", "given", "none"),
])
def test_romanised_names_agree_with_names_as_written(query, written, kind, agreement):
    assert name_agreement(query, written, kind) == agreement
    assert name_agreement(written, query, kind) == agreement


def test_only_names_written_in_an_abjad_carry_consonant_skeletons():
    assert "sk:mhmd" in given_name_keys("محمد").phonetic
    assert {"sk:hsn", "sk:lhsn"} <= set(family_name_keys("الحسن").phonetic)   # with and without the article
    assert skeleton_keys("Mohammed") == ("sk:mhmd",)
    # Romanised names never index them, so "Mary" and "Omar" (both m-r) do not match on consonants.
    assert not any(key.startswith("sk:") for key in given_name_keys("Mohammed").phonetic)
    assert name_agreement("Mary", "Omar", "given") == "none"


def test_queries_look_up_skeletons_and_written_forms():
    profile = default_profile()
    given = str(given_group("Mohammed", profile))
    assert "sk:mhmd" in given
    family = str(family_group("Иванов", profile))
    assert "иванов" in family and "ivanov" in family


@pytest.mark.parametrize("name", ["Дмитрий", "محمد", "王", "Γιώργος", "김민준", "\U00030000"])
def test_names_in_other_scripts_are_valid(name):
    assert name_problem(name) is None


@pytest.mark.parametrize("name, problem", [
    ("🙂", "may contain only letters, spaces, hyphens, apostrophes and full stops"),
    ("ʹʹ", "must contain at least one letter of a name, not only marks or modifiers"),
    ("ʻ ʼ", "must contain at least one letter of a name, not only marks or modifiers"),
])
def test_a_name_that_yields_no_keys_is_refused(name, problem):
    assert name_problem(name) == problem
