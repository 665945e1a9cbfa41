import pytest

from analyzers import compact, fold, name_problem, normalise_postcode, outward_code, postcode_area, tokens


@pytest.mark.parametrize("raw, folded", [
    ("Zoë", "zoe"),
    ("O'Brien", "obrien"),
    ("O’Brien", "obrien"),
    ("Smith-Jones", "smith jones"),
    ("  van der   Berg ", "van der berg"),
    ("Łukasz Wójcik", "lukasz wojcik"),
    ("De'Ath", "death"),
    ("SIÂN", "sian"),
    ("Straße", "strasse"),
])
def test_fold_gives_the_same_key_for_spellings_of_one_name(raw, folded):
    assert fold(raw) == folded


def test_tokens_and_compact_split_and_join_multi_part_names():
    assert tokens("Smith-Jones") == ["smith", "jones"]
    assert tokens("Nic Giolla") == ["nic", "giolla"]
    assert tokens(None) == []
    assert compact("van der Berg") == "vanderberg"


@pytest.mark.parametrize("raw, expected", [
    ("ls62ab", "LS6 2AB"), ("SW1A 1AA", "SW1A 1AA"), (" ec1a  1bb ", "EC1A 1BB"), ("M1 1AE", "M1 1AE"),
    ("hello", None), ("", None), (None, None), ("LS6 2A", None), ("12345", None),
])
def test_normalise_postcode(raw, expected):
    assert normalise_postcode(raw) == expected


def test_outward_code():
    assert outward_code("ls62ab") == "LS6"
    assert outward_code("not one") is None


def test_postcode_area_is_the_letters_before_the_district():
    assert [postcode_area(p) for p in ("ls62ab", "L6 2AB", "W1A 1AA", "EC1A 1BB", "B1 1AA")] == ["LS", "L", "W", "EC", "B"]
    assert postcode_area("not one") is None


@pytest.mark.parametrize("value", ["Zoë", "O'Brien", "Smith-Jones", "Nic Giolla", "Mohammed", "St. John", "Łukasz"])
def test_real_names_are_accepted(value):
    assert name_problem(value) is None


@pytest.mark.parametrize("value, problem", [
    ("", "must not be blank"),
    ("   ", "must not be blank"),
    ("a" * 101, "must be at most 100 characters"),
    ("Smith\x00", "must not contain control or invisible characters"),
    ("Smi\u200bth", "must not contain control or invisible characters"),
    ("Smith😀", "may contain only letters, spaces, hyphens, apostrophes and full stops"),
    ("<script>", "may contain only letters, spaces, hyphens, apostrophes and full stops"),
    ("Smith*", "may contain only letters, spaces, hyphens, apostrophes and full stops"),
    ('{"query": 1}', "may contain only letters, spaces, hyphens, apostrophes and full stops"),
    ("--", "must contain at least one letter"),
])
def test_unusable_names_are_refused_with_the_reason(value, problem):
    assert name_problem(value) == problem
