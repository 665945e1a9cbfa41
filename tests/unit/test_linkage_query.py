"""The linkage candidate query: blocking rules over the search's own keys, no fuzzy clause, no one kind required."""
import datetime as dt
import json

from search_service.linkage import RULES, linkage_query

ROW = {"given_name": "Olivia", "family_name": "Smith", "date_of_birth": dt.date(2018, 3, 4), "postcode": "ls62ab",
       "nhs_number": "9434765919"}


def _terms(query: dict) -> dict:
    found = {}

    def walk(node):
        if isinstance(node, dict):
            if "terms" in node:
                field, values = next(iter(node["terms"].items()))
                found.setdefault(field, set()).update(values)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(query)
    return found


def test_a_row_is_looked_up_by_every_kind_of_evidence_with_the_search_keys():
    body = linkage_query(ROW, 10)
    terms = _terms(body["query"])
    assert terms["nhs_number"] == {"9434765919"}
    assert terms["date_of_birth"] == {"2018-03-04", "2018-04-03"}          # and day and month swapped
    assert terms["postcode"] == {"LS6 2AB"} and terms["outward_code"] == {"LS6"}
    assert "smith" in terms["family_exact"] and "olivia" in terms["given_exact"]
    assert "smith" in terms["given_exact"] and "olivia" in terms["family_exact"]  # names swapped
    assert any(key.startswith("dm:") for key in terms["family_phonetic"])
    assert body["query"]["bool"]["filter"] == [{"term": {"status": "active"}}]
    assert body["size"] == 10 and body["_source"] is False and body["docvalue_fields"] == ["cp_id"]


def _rules(body: dict) -> list[tuple[int, dict]]:
    return [(clause["constant_score"]["boost"], _terms(clause)) for clause in body["query"]["bool"]["should"]
            if "constant_score" in clause]


def test_every_rule_but_an_identifier_needs_two_kinds_of_evidence():
    assert all(len(kinds) >= 2 for kinds, _ in RULES if kinds not in (("nhs_number",), ("upn",)))
    assert "fuzzy" not in json.dumps(linkage_query(ROW, 10))
    # A date of birth alone, or a common name alone, finds nobody: every child born that day is not a candidate.
    for row in ({"date_of_birth": dt.date(2018, 3, 4)}, {"given_name": "Olivia", "family_name": "Smith"}):
        body = linkage_query(row, 10)
        assert _rules(body) == [] and body["query"]["bool"]["should"] == [{"bool": {"must_not": {"match_all": {}}}}]


def test_a_misspelt_surname_still_meets_its_child_through_the_given_name_and_the_date_of_birth():
    rules = _rules(linkage_query({**ROW, "family_name": "Xqzv"}, 10))
    assert any(set(terms) >= {"date_of_birth", "given_exact"} and not any(f.startswith("family") for f in terms)
               for _, terms in rules)


def test_missing_fields_leave_no_empty_clause():
    body = linkage_query({"given_name": "Olivia", "family_name": "Smith", "date_of_birth": dt.date(2018, 3, 4)}, 5)
    text = json.dumps(body)
    assert "postcode" not in text and "nhs_number" not in text and "outward_code" not in text
    for _, terms in _rules(body):
        assert terms and all(values for values in terms.values())
