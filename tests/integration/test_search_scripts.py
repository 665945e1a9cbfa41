"""Children whose names are written in other scripts, found through the real index and POST /api/v1/search."""
import io

import pytest

from indexing import rebuild
from registry.feeds import load_feed

from ..support.accounts import add_user, sign_in
from .helpers import ALIAS, CHECKPOINT, add_child, years_ago

DOB = years_ago(8, day=11)


@pytest.fixture
def population(es, sessions):
    """One child per script, and a decoy born the same day whose name agrees with none of them."""
    people = {
        "russian": add_child(sessions, given="Дмитрий", family="Иванов", dob=DOB, gender="male"),
        "arabic": add_child(sessions, given="محمد", family="حسن", dob=DOB, gender="male"),
        "greek": add_child(sessions, given="Γιώργος", family="Παπαδόπουλος", dob=DOB, gender="male"),
        "chinese": add_child(sessions, given="小明", family="王", dob=DOB, gender="male"),
        # Shielded in another authority than the caller's: found by its current name alone.
        "shielded": add_child(sessions, given="Юлия", family="Щербакова", dob=DOB, la_code="E08000035",
                              shielded=True),
        "decoy": add_child(sessions, given="Kwame", family="Mensah", dob=DOB, gender="male"),
    }
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    return people


def _search(client, **criteria):
    response = client.post("/api/v1/search", json={**criteria, "date_of_birth": DOB.isoformat()})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["too_many"] is False
    return body["results"]


@pytest.mark.parametrize("given, family, target, grade", [
    ("Dmitriy", "Ivanov", "russian", "certain"),          # anyascii's own romanisation
    ("Дмитрий", "Иванов", "russian", "certain"),          # as written
    ("Dmitri", "Ivanoff", "russian", None),               # another romanisation: sounds like
    ("Mohammed", "Hassan", "arabic", None),               # vowels a name written in Arabic leaves out
    ("Muhammad", "Hasan", "arabic", None),
    ("محمد", "حسن", "arabic", "certain"),
    ("مُحَمَّد", "حسن", "arabic", "certain"),                # with optional vowel points
    ("Giorgos", "Papadopoulos", "greek", None),
    ("Γιώργος", "Παπαδόπουλος", "greek", "certain"),
    ("Xiaoming", "Wang", "chinese", "certain"),
    ("Xiao Ming", "Wang", "chinese", "certain"),
    ("小明", "王", "chinese", "certain"),
    ("Yuliya", "Shcherbakova", "shielded", "certain"),
    ("Юлия", "Щербакова", "shielded", "certain"),
])
def test_a_child_named_in_another_script_is_found_by_name(client, population, given, family, target, grade):
    results = _search(client, given_name=given, family_name=family)
    assert results[0]["cp_id"] == population[target]
    assert results[0]["matched_on"][0].startswith("family name")
    assert "given name" in results[0]["matched_on"][1]
    if grade:
        assert results[0]["match_grade"] == grade
    # A date of birth alone never makes a candidate: the decoy born the same day is not offered.
    assert population["decoy"] not in [r["cp_id"] for r in results]


def test_names_as_written_are_returned_as_written(client, population):
    first, = [r for r in _search(client, given_name="Dmitriy", family_name="Ivanov")
              if r["cp_id"] == population["russian"]]
    assert (first["given_name"], first["family_name"]) == ("Дмитрий", "Иванов")


def test_a_different_name_in_the_same_script_is_not_a_match(client, population):
    results = _search(client, given_name="Сергей", family_name="Петров")
    assert population["russian"] not in [r["cp_id"] for r in results]


@pytest.mark.parametrize("given, family, field, message", [
    ("🙂", "Ivanov", "given_name", "may contain only letters, spaces, hyphens, apostrophes and full stops"),
    ("Dmitriy", "★★", "family_name", "may contain only letters, spaces, hyphens, apostrophes and full stops"),
    ("ʹʹ", "Иванов", "given_name", "must contain at least one letter of a name, not only marks or modifiers"),
    ("Дмитрий", "ʻ ʼ", "family_name", "must contain at least one letter of a name, not only marks or modifiers"),
])
def test_a_name_that_yields_no_keys_is_a_400_naming_the_field(client, population, given, family, field, message):
    response = client.post("/api/v1/search", json={"given_name": given, "family_name": family,
                                                   "date_of_birth": DOB.isoformat()})
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["errors"][field] == [message]


@pytest.mark.parametrize("given, family, message", [
    ("🙂🙂", "Иванов", "may contain only letters, spaces, hyphens, apostrophes and full stops"),
    ("ʹʹ", "Иванов", "must contain at least one letter of a name, not only marks or modifiers"),
])
def test_the_search_page_refuses_a_name_that_yields_no_keys(anonymous, sessions, population, app, given, family,
                                                            message):
    sign_in(anonymous, sessions, add_user(sessions, "pat.jones"))
    app.config["WTF_CSRF_ENABLED"] = False
    page = anonymous.post("/search", data={"given_name": given, "family_name": family, "dob-day": str(DOB.day),
                                           "dob-month": str(DOB.month), "dob-year": str(DOB.year)})
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "There is a problem" in html and message in html
    assert 'href="#given_name"' in html or "#given_name" in html
    assert population["russian"] not in html


def test_a_feed_row_with_names_in_another_script_is_accepted_and_found(es, sessions, client):
    header = "source_record_id,given_name,family_name,date_of_birth,gender\n"
    rows = f"A1,Дмитрий,Иванов,{DOB.isoformat()},M\nA2,فاطمة,الحسن,{DOB.isoformat()},F\n"
    results = []
    summary = load_feed(sessions, "school-census", io.BytesIO((header + rows).encode()), "csv",
                        on_result=results.append)
    assert summary.counts["created"] == 2, [r.errors for r in results]
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    russian, arabic = (r.cp_id for r in results)
    assert _search(client, given_name="Dmitri", family_name="Ivanoff")[0]["cp_id"] == russian
    assert _search(client, given_name="Fatima", family_name="Al-Hassan")[0]["cp_id"] == arabic
    assert _search(client, given_name="Fatimah", family_name="Hassan")[0]["cp_id"] == arabic
