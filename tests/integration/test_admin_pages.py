"""The user and relevance administration pages: scope, audit, sign-out on disable, versions, evaluation."""
import datetime as dt
import json
import re

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from access_control import accounts, audit
from access_control.accounts import find_user
from access_control.models import AuditEvent
from registry.models import RelevanceProfileRow
from search_service.profiles import default_profile
from webapp.relevance_service import active_profile, get_profile

from ..support.accounts import OPERATOR, PASSWORD, add_user, csrf_token, sign_in

LA1, LA2 = "E09000001", "E09000002"


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    """Argon2id with the cheapest parameters: these tests sign in often and are not about hashing."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _client(app, sessions, username, role, la_code=None, organisation=("service", "ADMIN")):
    client = app.test_client()
    sign_in(client, sessions, add_user(sessions, username, role=role, la_code=la_code, organisation=organisation))
    return client


def _la_team(app, sessions, username="lee.la1", la_code=LA1):
    return _client(app, sessions, username, "la_management", la_code, ("local_authority", la_code))


def _events(sessions, action=None):
    with sessions() as db:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if action:
            query = query.where(AuditEvent.action == action)
        return [(e.actor, e.action, json.loads(e.details)) for e in db.scalars(query)]


def _post(client, path, data, form_path=None):
    return client.post(path, data={"csrf_token": csrf_token(client, form_path or path), **data})


NEW_PRACTITIONER = {"username": "new.practitioner", "display_name": "New Practitioner", "role": "practitioner",
                    "organisation_kind": "school", "organisation_code": "100234", "la_code": LA1,
                    "email": "new.practitioner@example.gov.uk", "expires_on-day": "", "expires_on-month": "",
                    "expires_on-year": "", "password": "a long initial password"}


def test_an_la_team_adds_a_practitioner_in_its_own_authority_only(app, sessions):
    team = _la_team(app, sessions)
    form = team.get("/admin/users/new").get_data(as_text=True)
    assert 'value="practitioner"' in form and 'value="la_management"' in form
    assert 'value="national_admin"' not in form and 'value="auditor"' not in form
    assert re.search(rf'id="la_code" name="la_code" type="text" value="{LA1}"[^>]*readonly', form)

    next_year = dt.date.today().year + 1
    added = _post(team, "/admin/users/new", {**NEW_PRACTITIONER, "expires_on-day": "31", "expires_on-month": "3",
                                             "expires_on-year": str(next_year)})
    assert added.status_code == 302
    assert added.headers["Location"].endswith("/admin/users?username_prefix=new.practitioner")
    listed = team.get(added.headers["Location"]).get_data(as_text=True)
    assert "Added new.practitioner" in listed and "New Practitioner" in listed and f"31 March {next_year}" in listed
    with sessions() as db:
        user = find_user(db, "new.practitioner")
        assert (user.role, user.local_authority.code, user.organisation.code, user.created_by) == \
            ("practitioner", LA1, "100234", "lee.la1")
        assert user.password_hash.startswith("$argon2id$") and user.expires_on == dt.date(next_year, 3, 31)
    assert [(actor, d["user"], d["la_code"]) for actor, _, d in _events(sessions, "user_added")][-1] == \
        ("lee.la1", "new.practitioner", LA1)

    # Another authority, or a national role: refused by access_control, a 403 on record, nobody added.
    other_la = _post(team, "/admin/users/new", {**NEW_PRACTITIONER, "username": "other.la", "la_code": LA2},
                     "/admin/users/new")
    national = _post(team, "/admin/users/new", {**NEW_PRACTITIONER, "username": "would.be.admin",
                                                "role": "national_admin"}, "/admin/users/new")
    assert other_la.status_code == 403 and national.status_code == 403
    assert "own authority" in other_la.get_data(as_text=True)
    with sessions() as db:
        assert find_user(db, "other.la") is None and find_user(db, "would.be.admin") is None
    refusals = [d for _, _, d in _events(sessions, "request_refused")]
    assert [(d["reason"], d["path"]) for d in refusals[-2:]] == [("not_allowed", "/admin/users/new")] * 2


def test_the_add_form_comes_back_with_every_problem_and_what_was_typed(app, sessions):
    team = _la_team(app, sessions)
    page = _post(team, "/admin/users/new", {**NEW_PRACTITIONER, "username": "Bad Name!", "display_name": "",
                                            "email": "not-an-email", "expires_on-day": "31", "expires_on-month": "2",
                                            "expires_on-year": "2030"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and 'id="error-summary"' in html
    assert "Full name: enter the person" in html and "Email address: enter an email address" in html
    assert "Last day of use: must be a real date" in html and 'href="#expires_on-day"' in html
    assert "Username: use 3 to 100 lower-case letters" in html
    assert 'value="not-an-email"' in html and 'value="Bad Name!"' in html and "a long initial password" not in html
    # What only access_control knows (a name in use, a password the role needs) is reported per field too.
    page = _post(team, "/admin/users/new", {**NEW_PRACTITIONER, "username": "lee.la1"}, "/admin/users/new")
    assert page.status_code == 400 and "Username: &#39;lee.la1&#39; is already taken" in page.get_data(as_text=True)
    page = _post(team, "/admin/users/new", {**NEW_PRACTITIONER, "password": ""}, "/admin/users/new")
    assert page.status_code == 400 and "Initial password: is required" in page.get_data(as_text=True)
    with sessions() as db:
        assert find_user(db, "new.practitioner") is None
    assert _events(sessions, "user_added")[-1][2]["user"] == "lee.la1"  # only the fixture's own account


def test_the_user_list_is_scoped_to_the_authority_filtered_and_paged(app, sessions):
    with sessions.begin() as db:  # practitioners of the authority (the cheap hasher above makes them quick)
        for n in range(52):
            accounts.add_user(db, OPERATOR, username=f"case.worker.{n:02d}", display_name=f"Case worker {n}",
                              role="practitioner", organisation_kind="local_authority", organisation_code=LA1,
                              la_code=LA1, password=PASSWORD)
    add_user(sessions, "other.practitioner", la_code=LA2)
    team = _la_team(app, sessions)
    first = team.get("/admin/users").get_data(as_text=True)
    assert "case.worker.00" in first and "case.worker.49" in first and "case.worker.50" not in first
    assert "other.practitioner" not in first and 'rel="next"' in first
    second = team.get("/admin/users?page=2").get_data(as_text=True)
    assert "case.worker.50" in second and "case.worker.51" in second and "lee.la1" in second
    assert "other.practitioner" not in second and 'rel="next"' not in second
    filtered = team.get("/admin/users?username_prefix=LEE").get_data(as_text=True)
    assert "lee.la1" in filtered and "case.worker" not in filtered
    assert 'id="this-is-you"' in filtered and 'id="disable-' not in filtered  # no locking yourself out
    assert "No users match" in team.get("/admin/users?username_prefix=other").get_data(as_text=True)
    assert team.get("/admin/users?page=0").status_code == 400

    national = _client(app, sessions, "nat.admin", "national_admin")
    everyone = national.get("/admin/users?username_prefix=o").get_data(as_text=True)
    assert "other.practitioner" in everyone
    assert national.get("/admin/users/new").get_data(as_text=True).count('name="role"') == 7
    # An LA team cannot act on another authority's user even by posting directly.
    refused = _post(team, "/admin/users/other.practitioner/disable", {}, "/admin/users")
    assert refused.status_code == 403
    with sessions() as db:
        assert not find_user(db, "other.practitioner").disabled


def test_disabling_signs_the_user_out_and_every_account_action_is_audited(app, sessions):
    practitioner = app.test_client()
    account = add_user(sessions, "pat.practitioner", la_code=LA1)
    sign_in(practitioner, sessions, account)
    assert practitioner.get("/").status_code == 200
    team = _la_team(app, sessions)

    assert _post(team, "/admin/users/pat.practitioner/disable", {}, "/admin/users").status_code == 302
    bounced = practitioner.get("/")
    assert bounced.status_code == 302 and bounced.headers["Location"].startswith("/login")
    listed = team.get("/admin/users?username_prefix=pat").get_data(as_text=True)
    assert "pat.practitioner is disabled" in listed and "Disabled" in listed and 'id="enable-' in listed
    assert _post(team, "/admin/users/pat.practitioner/enable", {}, "/admin/users").status_code == 302
    with sessions.begin() as db:  # as five wrong passwords would
        find_user(db, "pat.practitioner").locked_until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=15)
    table = team.get("/admin/users?username_prefix=pat").get_data(as_text=True).split('id="users"')[1]
    assert "Locked" in table and 'id="unlock-' in table
    assert _post(team, "/admin/users/pat.practitioner/unlock", {}, "/admin/users").status_code == 302
    assert 'id="unlock-' not in team.get("/admin/users?username_prefix=pat").get_data(as_text=True)
    assert _post(team, "/admin/users/pat.practitioner/reset-authenticator", {}, "/admin/users").status_code == 302
    with sessions() as db:
        user = find_user(db, "pat.practitioner")
        assert not user.disabled and not user.totp_confirmed and user.totp_secret != account.secret
        assert user.locked_until is None

    next_year = dt.date.today().year + 1
    expiry = {"expires_on-day": "1", "expires_on-month": "4", "expires_on-year": str(next_year), "action": "set"}
    set_it = _post(team, "/admin/users/pat.practitioner/expiry", {**expiry, "username_prefix": "pat"}, "/admin/users")
    assert set_it.status_code == 302 and set_it.headers["Location"].endswith("/admin/users?username_prefix=pat")
    bad = _post(team, "/admin/users/pat.practitioner/expiry", {**expiry, "expires_on-month": "13"}, "/admin/users")
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "Expiry date: must be a real date" in html and 'value="13"' in html
    assert _post(team, "/admin/users/pat.practitioner/expiry", {"action": "clear"}, "/admin/users").status_code == 302
    with sessions() as db:
        assert find_user(db, "pat.practitioner").expires_on is None
    assert [(actor, action) for actor, action, d in _events(sessions) if d.get("user") == "pat.practitioner"][1:] == [
        ("lee.la1", "user_disabled"), ("lee.la1", "user_enabled"), ("lee.la1", "user_unlocked"),
        ("lee.la1", "user_second_factor_reset"), ("lee.la1", "user_expiry_set"), ("lee.la1", "user_expiry_set")]
    # Without the CSRF token nothing changes.
    assert team.post("/admin/users/pat.practitioner/disable").status_code == 400
    with sessions() as db:
        assert not find_user(db, "pat.practitioner").disabled
        assert audit.verify(db) == []


def test_a_relevance_admin_edits_a_version_into_a_new_one_and_activates_it(app, sessions):
    admin = _client(app, sessions, "rel.admin", "relevance_admin")
    listing = admin.get("/admin/relevance").get_data(as_text=True)
    assert 'id="version-default-1"' in listing and 'id="active-version"' in listing
    form = admin.get("/admin/relevance/default/1").get_data(as_text=True)
    assert re.search(r'id="weight_dob_exact" name="weight_dob_exact" [^>]*value="16"', form)

    shipped = default_profile()
    fields = {f"weight_{k}": str(v) for k, v in shipped.weights.items()}
    fields.update({f"threshold_{k}": str(v) for k, v in shipped.thresholds.items()})
    fields.update(name="default", description="Postcode counts for more")
    bad = _post(admin, "/admin/relevance/default/1", {**fields, "weight_postcode": "lots", "threshold_minimum": "0.9",
                                                      "weight_gender": "-1"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and 'href="#weight_postcode"' in html and 'href="#weight_gender"' in html
    assert 'href="#threshold_probable"' in html and 'value="lots"' in html
    saved = _post(admin, "/admin/relevance/default/1", {**fields, "weight_postcode": "9.5"})
    assert saved.status_code == 302
    with sessions() as db:
        assert get_profile(db, "default", 2).weights["postcode"] == 9.5
        assert active_profile(db).version == 1
    assert _events(sessions, "relevance_profile_saved")[-1][0::2] == \
        ("rel.admin", {"role": "relevance_admin", "actor_la": None, "on_behalf_of": None, "profile": "default",
                       "version": 2, "based_on": "default:1"})
    listing = admin.get("/admin/relevance").get_data(as_text=True)
    assert "Saved default version 2" in listing and 'id="activate-default-2"' in listing

    assert _post(admin, "/admin/relevance/default/2/activate", {}, "/admin/relevance").status_code == 302
    with sessions() as db:
        assert active_profile(db).version == 2
        assert db.scalars(select(RelevanceProfileRow.version).where(RelevanceProfileRow.active)).all() == [2]
    assert _events(sessions, "relevance_profile_activated")[-1][2]["version"] == 2
    assert 'id="activate-default-1"' in admin.get("/admin/relevance").get_data(as_text=True)
    assert _post(admin, "/admin/relevance/default/9/activate", {}, "/admin/relevance").status_code == 404


# Once, on SQLite: this is about the page and the search engine; saving and auditing are exercised on
# both databases above, and indexing from PostgreSQL by the indexing tests.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_evaluation_and_comparison_of_two_versions(app, sessions, run, tmp_path):
    assert run("demo-data", "--children", "40", "--seed", "5").exit_code == 0
    assert run("index", "rebuild").exit_code == 0
    judgments = tmp_path / "judgments.jsonl"
    assert run("relevance", "judgments", "--count", "20", "--seed", "2", "--out", str(judgments)).exit_code == 0
    admin = _client(app, sessions, "rel.admin", "relevance_admin")
    shipped = default_profile()
    weak = {f"weight_{k}": "0" if k.startswith("dob_") else str(v) for k, v in shipped.weights.items()}
    weak.update({f"threshold_{k}": str(v) for k, v in shipped.thresholds.items()}, name="no-dates", description="")
    assert _post(admin, "/admin/relevance/default/1", weak).status_code == 302

    one = _post(admin, "/admin/relevance/evaluate", {"profile": "default:1", "against": "",
                                                     "judgments": str(judgments)}, "/admin/relevance")
    html = one.get_data(as_text=True)
    assert one.status_code == 200 and "Evaluation of default:1" in html and "recall@1" in html and "MRR" in html
    compared = _post(admin, "/admin/relevance/evaluate", {"profile": "default:1", "against": "no-dates:1",
                                                          "judgments": str(judgments)}, "/admin/relevance")
    html = compared.get_data(as_text=True)
    assert compared.status_code == 200
    assert ">default:1</th>" in html and ">no-dates:1</th>" in html and ">Change</th>" in html
    assert 'id="worse"' in html and 'id="better"' in html

    missing = _post(admin, "/admin/relevance/evaluate",
                    {"profile": "default:1", "judgments": str(tmp_path / "no.jsonl")}, "/admin/relevance")
    assert missing.status_code == 400 and "there is no file" in missing.get_data(as_text=True)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "q1", "criteria": {"family_name": "Okafor"}, "expected": "1", "corruptions": []}\nnope\n')
    bad = _post(admin, "/admin/relevance/evaluate", {"profile": "default:1", "judgments": str(broken)},
                "/admin/relevance")
    assert bad.status_code == 400 and "line 2" in bad.get_data(as_text=True)
    evaluations = [d for actor, _, d in _events(sessions, "relevance_evaluation") if actor == "rel.admin"]
    assert [(d["queries"], d["profiles"]) for d in evaluations] == [(20, ["default:1"]),
                                                                    (20, ["default:1", "no-dates:1"])]


ADMIN_PAGES = [("GET", "/admin/users"), ("GET", "/admin/users/new"), ("POST", "/admin/users/new"),
               ("POST", "/admin/users/pat.practitioner/disable"), ("POST", "/admin/users/pat.practitioner/enable"),
               ("POST", "/admin/users/pat.practitioner/unlock"),
               ("POST", "/admin/users/pat.practitioner/reset-authenticator"),
               ("POST", "/admin/users/pat.practitioner/expiry"), ("GET", "/admin/relevance"),
               ("GET", "/admin/relevance/default/1"), ("POST", "/admin/relevance/default/1"),
               ("POST", "/admin/relevance/default/1/activate"), ("POST", "/admin/relevance/evaluate")]


def test_a_practitioner_is_refused_every_admin_page(app, sessions):
    client = _client(app, sessions, "pat.practitioner", "practitioner", LA1)
    token = csrf_token(client, "/")
    for method, path in ADMIN_PAGES:
        response = client.get(path) if method == "GET" else client.post(path, data={"csrf_token": token})
        assert response.status_code == 403, (method, path)
    home = client.get("/").get_data(as_text=True)
    assert "/admin/users" not in home and "/admin/relevance" not in home  # not in the navigation either
    refusals = [(d["path"], d["reason"]) for _, _, d in _events(sessions, "request_refused")]
    assert len(refusals) == len(ADMIN_PAGES)
    assert {reason for _, reason in refusals} == {"role_may_not_administer_users", "role_may_not_manage_relevance"}
    with sessions() as db:
        assert not find_user(db, "pat.practitioner").disabled
        assert db.scalar(select(RelevanceProfileRow.id)) is None
