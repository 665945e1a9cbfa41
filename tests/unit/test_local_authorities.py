"""The shipped names of England's upper-tier local authorities."""
import re

from registry.local_authorities import LOCAL_AUTHORITIES, SUCCESSORS, authority_name


def test_the_152_authorities_have_well_formed_unique_codes_and_unique_names():
    assert len(LOCAL_AUTHORITIES) == 152
    assert all(re.fullmatch(r"E(06|08|09|10)\d{6}", code) for code in LOCAL_AUTHORITIES)
    assert len(set(LOCAL_AUTHORITIES.values())) == 152
    kinds = {prefix: sum(code.startswith(prefix) for code in LOCAL_AUTHORITIES)
             for prefix in ("E06", "E08", "E09", "E10")}
    assert kinds == {"E06": 56, "E08": 36, "E09": 33, "E10": 27}
    assert LOCAL_AUTHORITIES["E09000001"] == "City of London"
    assert LOCAL_AUTHORITIES["E06000053"] == "Isles of Scilly"


def test_successors_are_new_unitary_codes_and_names_are_found_in_both_sets():
    assert all(re.fullmatch(r"E06\d{6}", code) for code in SUCCESSORS)
    assert not set(SUCCESSORS) & set(LOCAL_AUTHORITIES)
    retired = {"E06000028", "E06000029", "E10000009", "E10000002", "E10000021", "E10000006", "E10000023",
               "E10000027"}  # Bournemouth, Poole, and the counties that became unitary or were split
    assert retired <= set(LOCAL_AUTHORITIES)
    today = {code: name for code, name in {**LOCAL_AUTHORITIES, **SUCCESSORS}.items() if code not in retired}
    assert len(today) == 153 and len(set(today.values())) == 153
    assert authority_name("E08000035") == "Leeds"
    assert authority_name("E06000063") == "Cumberland"
    assert authority_name("E99999999") is None and authority_name(None) is None
