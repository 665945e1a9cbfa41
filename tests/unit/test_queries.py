import datetime as dt

from search_service.queries import Criteria, build_query, match_grade, reasons

FILTERS = [{"term": {"status": "active"}}]
SCOPE = {"term": {"shielded": False}}


def _clauses(body, kind):
    return body["query"]["bool"][kind]


def _names(clauses):
    found = []
    for clause in clauses:
        text = repr(clause)
        found.extend(name for name in ("family_name_exact", "family_name_fuzzy", "given_name_exact",
                                       "given_name_fuzzy", "date_of_birth", "gender", "postcode", "cp_id")
                     if f"'_name': '{name}'" in text)
    return found


def test_visibility_filters_are_always_applied():
    body = build_query(Criteria(family_name="Smith", given_name="Jo"), FILTERS, SCOPE, size=11)
    assert body["query"]["bool"]["filter"] == FILTERS
    assert body["size"] == 11


def test_family_name_is_required_in_some_form_and_others_score():
    body = build_query(Criteria(family_name="O'Brien", given_name="Zoë", date_of_birth=dt.date(2015, 3, 4),
                                gender="female"), FILTERS, SCOPE, size=11)
    assert _names(_clauses(body, "must")) == ["family_name_exact", "family_name_fuzzy"]
    assert _names(_clauses(body, "should")) == ["given_name_exact", "given_name_fuzzy", "date_of_birth", "gender"]


def test_names_are_folded_the_same_way_as_at_index_time():
    body = build_query(Criteria(family_name="Smith-Jones", given_name="Zoë"), FILTERS, SCOPE, size=11)
    family_exact = body["query"]["bool"]["must"][0]["bool"]["should"][0]
    assert family_exact["terms"]["family_keys"] == ["smith", "jones", "smithjones"]
    given_fuzzy = body["query"]["bool"]["should"][1]
    assert given_fuzzy["match"]["given_names"]["query"] == "zoe"


def test_postcode_only_counts_inside_the_location_scope():
    body = build_query(Criteria(family_name="Smith", given_name="Jo", postcode="ls62ab"), FILTERS, SCOPE, size=11)
    postcode = _clauses(body, "should")[-1]
    assert postcode["bool"]["filter"] == [SCOPE]
    assert postcode["bool"]["must"] == [{"term": {"postcode": {"value": "LS6 2AB"}}}]
    assert postcode["bool"]["_name"] == "postcode"


def test_postcode_counts_everywhere_without_a_scope():
    body = build_query(Criteria(family_name="Smith", given_name="Jo", postcode="LS6 2AB"), FILTERS, None, size=11)
    assert _clauses(body, "should")[-1]["term"]["postcode"]["value"] == "LS6 2AB"


def test_only_identity_fields_are_fetched():
    body = build_query(Criteria(cp_id="9434765919"), FILTERS, SCOPE, size=11)
    assert set(body["_source"]) == {"cp_id", "given_name", "family_name", "date_of_birth", "gender", "shielded"}
    assert _names(_clauses(body, "must")) == ["cp_id"]


def test_match_grades():
    assert match_grade({"family_name_exact", "given_name_exact", "date_of_birth"}) == "certain"
    assert match_grade({"cp_id"}) == "certain"
    assert match_grade({"family_name_fuzzy", "date_of_birth"}) == "probable"
    assert match_grade({"family_name_exact", "given_name_exact"}) == "probable"
    assert match_grade({"family_name_exact"}) == "possible"
    assert match_grade({"family_name_fuzzy", "given_name_fuzzy"}) == "possible"


def test_reasons_prefer_the_exact_form_and_read_plainly():
    assert reasons({"family_name_exact", "family_name_fuzzy", "given_name_fuzzy", "date_of_birth"}) == [
        "family name", "given name spelt similarly", "date of birth"]
