import datetime as dt
import itertools

import pytest
from marshmallow import ValidationError

from analyzers import near_dates, transposed
from registry.feed_schema import FeedRowSchema
from registry.retention import eighteenth_birthday
from search_service.judgments import meets_minimum
from webapp.schemas import MINIMUM_CRITERIA, SearchSchema


def _errors(schema, data):
    with pytest.raises(ValidationError) as caught:
        schema.load(data)
    return caught.value.messages


def _years_ago(years):
    today = dt.date.today()
    return today.replace(year=today.year - years, day=min(today.day, 28)).isoformat()


ROW = {"source_record_id": "S1", "given_name": "Zoë", "family_name": "O'Brien", "date_of_birth": _years_ago(5)}


def test_a_minimal_feed_row_loads_and_normalises():
    row = FeedRowSchema().load({**ROW, "gender": "F", "postcode": "ls62ab", "middle_names": ""})
    assert row["gender"] == "female"
    assert row["postcode"] == "LS6 2AB"
    assert "middle_names" not in row  # an empty CSV cell means "not given"


@pytest.mark.parametrize("change, field, message", [
    ({"date_of_birth": "2023-02-30"}, "date_of_birth", "Not a valid date."),
    ({"date_of_birth": "2999-01-01"}, "date_of_birth", "must not be in the future"),
    ({"date_of_birth": _years_ago(18)}, "date_of_birth", "the person is 18 or over: ContactPoint only holds children"),
    ({"postcode": "nowhere"}, "postcode", "is not a UK postcode (for example LS6 2AB)"),
    ({"gender": "q"}, "gender", "must be one of female, male, other, unknown"),
    ({"family_name": "Sm1th"}, "family_name", "may contain only letters, spaces, hyphens, apostrophes and full stops"),
    ({"case_notes": "anything"}, "case_notes", "Unknown field."),
])
def test_bad_feed_values_name_the_field(change, field, message):
    assert _errors(FeedRowSchema(), {**ROW, **change})[field] == [message]


def test_a_sensitive_service_needs_consent():
    errors = _errors(FeedRowSchema(), {**ROW, "service_code": "SH1", "practitioner_role": "Nurse",
                                       "involvement_start": _years_ago(1), "sensitive_category": "sexual_health"})
    assert set(errors) == {"consent_recorded_by", "consent_recorded_at"}


def test_partial_carer_or_involvement_columns_are_refused():
    errors = _errors(FeedRowSchema(), {**ROW, "carer_phone": "07700 900123", "practitioner_name": "A Nurse"})
    assert set(errors) == {"carer_given_name", "carer_family_name", "carer_relationship", "service_code",
                           "practitioner_role", "involvement_start"}


def test_search_needs_a_minimum_set_of_criteria():
    assert _errors(SearchSchema(), {"family_name": "Smith"}) == {"_schema": [MINIMUM_CRITERIA]}
    assert _errors(SearchSchema(), {"given_name": "Jo", "date_of_birth": _years_ago(3)}) == {"_schema": [MINIMUM_CRITERIA]}
    assert SearchSchema().load({"family_name": "Smith", "given_name": "Jo"}) == {"family_name": "Smith", "given_name": "Jo"}
    assert SearchSchema().load({"cp_id": "943 476 5919"}) == {"cp_id": "943 476 5919"}


def test_the_minimum_message_names_every_accepted_combination():
    assert MINIMUM_CRITERIA == ("give at least one of: family name and given name; family name and date of birth; "
                                "family name and year of birth; given name, date of birth, gender and postcode; "
                                "NHS number and date of birth; unique pupil number and date of birth; ContactPoint ID")


def test_pds_alternative_without_a_family_name_is_accepted_and_nothing_less():
    """PDS: given name + date of birth + gender + postcode (and family name + the same) find a patient."""
    pds = {"given_name": "Jack", "date_of_birth": _years_ago(10), "gender": "M", "postcode": "ls6 2ab"}
    assert SearchSchema().load(pds) == {"given_name": "Jack", "date_of_birth": dt.date.fromisoformat(_years_ago(10)),
                                        "gender": "male", "postcode": "LS6 2AB"}
    assert SearchSchema().load({**pds, "given_name": None, "family_name": "Smith"})["family_name"] == "Smith"
    for missing in pds:
        assert _errors(SearchSchema(), {k: v for k, v in pds.items() if k != missing}) == {
            "_schema": [MINIMUM_CRITERIA]}, missing
    # Without a family name the full date of birth is needed: a year narrows too little.
    partial = {**{k: v for k, v in pds.items() if k != "date_of_birth"}, "birth_year": dt.date.today().year - 10}
    assert _errors(SearchSchema(), partial) == {"_schema": [MINIMUM_CRITERIA]}


VALID = {"family_name": "Smith", "given_name": "Jo", "date_of_birth": _years_ago(3),
         "birth_year": dt.date.today().year - 3, "gender": "female", "postcode": "LS6 2AB", "cp_id": "943 476 5919"}


@pytest.mark.parametrize("fields", [
    combination for size in range(len(VALID) + 1) for combination in itertools.combinations(VALID, size)
    if not {"date_of_birth", "birth_year"} <= set(combination)], ids="+".join)
def test_the_api_and_the_judgment_generator_share_one_minimum(fields):
    """Judgments are only ever queries the API accepts, and every query it accepts may be a judgment."""
    criteria = {name: VALID[name] for name in fields}
    try:
        SearchSchema().load(criteria)
        accepted = True
    except ValidationError as exc:
        assert exc.messages == {"_schema": [MINIMUM_CRITERIA]}
        accepted = False
    assert accepted == meets_minimum(criteria)


def test_search_refuses_bad_ids_unknown_fields_and_non_objects():
    assert _errors(SearchSchema(), {"cp_id": "9434765918"})["cp_id"] == [
        "is not a valid ContactPoint ID: 10 digits whose last is the check digit"]
    assert _errors(SearchSchema(), {"family_name": "Smith", "given_name": "Jo", "query": {"match_all": {}}})["query"] == [
        "Unknown field."]
    assert _errors(SearchSchema(), ["Smith"]) == {"_schema": ["the request body must be a JSON object of search criteria"]}


def test_a_partial_date_of_birth_is_checked():
    this_year = dt.date.today().year
    assert SearchSchema().load({"family_name": "Smith", "birth_year": this_year - 3}) == {
        "family_name": "Smith", "birth_year": this_year - 3}
    assert _errors(SearchSchema(), {"family_name": "Smith", "birth_year": this_year + 1})["birth_year"] == [
        "must not be in the future"]
    assert _errors(SearchSchema(), {"family_name": "Smith", "birth_year": this_year - 19})["birth_year"] == [
        "is too long ago: ContactPoint only holds children under 18"]
    assert _errors(SearchSchema(), {"family_name": "Smith", "birth_year": "soon"})["birth_year"] == [
        "Not a valid integer."]
    assert _errors(SearchSchema(), {"family_name": "Smith", "given_name": "Jo", "birth_month": 3})["birth_month"] == [
        "needs birth_year too"]
    assert _errors(SearchSchema(), {"family_name": "Smith", "birth_year": this_year - 3, "birth_month": 13})[
        "birth_month"] == ["must be a month from 1 to 12"]
    assert "birth_year" in _errors(SearchSchema(), {"family_name": "Smith", "birth_year": this_year - 3,
                                                    "date_of_birth": _years_ago(3)})


@pytest.mark.parametrize("name", ["a" * 201, "Smith\u0000", "Smith\u202e", "🙂", "<script>alert(1)</script>",
                                  "Smith*", "Sm?th", "Smith~2", "Smith AND 1", '"Smith"', '{"query": {}}', "\\Smith"])
def test_hostile_names_are_refused_by_field(name):
    errors = _errors(SearchSchema(), {"family_name": name, "given_name": "Jo"})
    if name == "Smith AND 1":  # letters and a digit: the digit is what is refused
        assert errors["family_name"] == ["may contain only letters, spaces, hyphens, apostrophes and full stops"]
    else:
        assert list(errors) == ["family_name"]


def _a_childs_date_whose_transposition_is_an_adults():
    """A date of birth under 18 whose day and month swapped make it 18 or over (exists every year: 5 Dec -> 12 May)."""
    today = dt.date.today()

    def adult(d):
        return eighteenth_birthday(d) <= today
    day = today.replace(year=today.year - 19, day=1)
    while adult(day) or not (transposed(day) and adult(transposed(day))):
        day += dt.timedelta(days=1)
    return day


def test_a_search_date_a_slip_from_a_childs_is_searched_for_not_refused():
    child = _a_childs_date_whose_transposition_is_an_adults()
    assert SearchSchema().load({"family_name": "Fox", "date_of_birth": transposed(child).isoformat()}) == {
        "family_name": "Fox", "date_of_birth": transposed(child)}
    # A baby's date with one digit slipped into the future.
    baby = dt.date.today() - dt.timedelta(days=3)
    future = next(d for d in near_dates(baby, today=dt.date.max) if d > dt.date.today())
    assert SearchSchema().load({"family_name": "Fox", "date_of_birth": future.isoformat()})["date_of_birth"] == future


@pytest.mark.parametrize("date_of_birth, message", [
    ("1990-06-15", "the person is 18 or over: ContactPoint only holds children"),
    ("2999-01-01", "must not be in the future"),
])
def test_a_search_date_no_slip_from_any_childs_is_refused_naming_the_field(date_of_birth, message):
    assert _errors(SearchSchema(), {"family_name": "Fox", "date_of_birth": date_of_birth}) == {
        "date_of_birth": [message]}
