"""The linkage candidate query: term clauses over the search's own name keys, no fuzzy clause, no name required."""
import datetime as dt
import json

from search_service.linkage import MIN_SCORE, WEIGHTS, linkage_query

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


def test_no_fuzzy_clause_and_a_date_of_birth_alone_is_not_enough():
    body = linkage_query(ROW, 10)
    assert "fuzzy" not in json.dumps(body)
    assert WEIGHTS["dob_exact"] < MIN_SCORE <= WEIGHTS["dob_exact"] + WEIGHTS["given"]
    assert WEIGHTS["nhs_number"] >= MIN_SCORE


def test_missing_fields_leave_no_empty_clause():
    body = linkage_query({"given_name": "Olivia", "family_name": "Smith"}, 5)
    text = json.dumps(body)
    assert "date_of_birth" not in text and "postcode" not in text and "nhs_number" not in text
    assert all(clause.get("dis_max", {"queries": [1]})["queries"] for clause in body["query"]["bool"]["should"])
