"""What a practitioner reads on a record: GOV.UK dates, and the local authority team by name with how to
reach it, or whom to ask when no contact details are held yet."""
import re

from sqlalchemy import update

from registry.models import Organisation

from ..support.accounts import add_user, csrf_token, sign_in
from .helpers import add_child, years_ago

LEEDS = "E08000035"


def _record(client, cp_id) -> str:
    token = csrf_token(client, f"/children/{cp_id}")
    response = client.post(f"/children/{cp_id}", data={"purpose": "safeguarding_concern", "csrf_token": token})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _la_cell(html) -> str:
    return re.search(r'<span id="la-contact">(.*?)</span>', html, re.S).group(1)


def _set_leeds(sessions, **values):
    with sessions.begin() as session:
        session.execute(update(Organisation).where(Organisation.kind == "local_authority",
                                                   Organisation.code == LEEDS).values(**values))


def test_dates_are_written_as_govuk_writes_them(anonymous, sessions):
    dob = years_ago(6, day=12)
    cp_id = add_child(sessions, dob=dob)
    sign_in(anonymous, sessions, add_user(sessions, "pat.jones"))
    html = _record(anonymous, cp_id)
    assert f"12 {dob:%B %Y}" in html and dob.isoformat() not in html


def test_an_authority_known_only_by_its_code_is_named_with_whom_to_ask(anonymous, sessions):
    cp_id = add_child(sessions)
    _set_leeds(sessions, name=LEEDS, phone=None, email=None)  # a row made from a feed that gave only the code
    sign_in(anonymous, sessions, add_user(sessions, "pat.jones"))
    html = _record(anonymous, cp_id)
    assert _la_cell(html).strip() == "Leeds"
    line = re.search(r'<p [^>]*id="la-no-contact">(.*?)</p>', html, re.S).group(1)
    assert "No contact details are recorded for Leeds yet." in line and "your own local authority" in line


def test_a_shielded_record_names_the_team_and_how_to_reach_it_but_not_where_the_child_lives(anonymous, sessions):
    cp_id = add_child(sessions, shielded=True, postcode="LS6 2AB")
    _set_leeds(sessions, phone="0113 222 4403", email="cp-team@leeds.gov.uk")
    sign_in(anonymous, sessions, add_user(sessions, "pat.jones", la_code="E09000001"))  # another authority
    html = _record(anonymous, cp_id)
    assert 'id="shielded-marker"' in html and "Contact the local authority team below" in html
    assert _la_cell(html).split("<br>") == ["Leeds", "0113 222 4403", "cp-team@leeds.gov.uk"]
    assert 'id="la-no-contact"' not in html
    assert "LS6" not in html and 'id="address"' not in html
