"""The security suite's world: children in two authorities, users of every role, one index.

Everything goes through the real registry, access_control and indexing code, a real
Elasticsearch node and a real database (SQLite and PostgreSQL, via ``database_url``).

Every child carries its own distinctive strings (postcode, address, school, GP, carer,
services, aliases) so a test can check, string by string, that a response shows exactly what
the caller may see: the "location" strings only to those allowed to see where the child is,
the sensitive service only to those allowed to see it.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pytest
from jinja2 import BytecodeCache
from sqlalchemy import func, select

from access_control.models import AuditEvent
from indexing import rebuild, sync_until_current
from registry import cpid, writes
from registry.models import Child
from webapp import create_app

from ..integration.helpers import ALIAS, CHECKPOINT, years_ago
from ..support.accounts import ACTING_FOR, ACTING_FOR_LABEL, Account, add_user, csrf_token, sign_in  # noqa: F401

LA1, LA2 = "E09000001", "E09000002"
PURPOSE = "safeguarding_concern"
NOT_AVAILABLE = {"message": "no record with that ContactPoint ID is available to you", "errors": {}}
# The "api" caller acts for ACTING_FOR (a practitioner of its own authority), recorded as ACTING_FOR_LABEL.
# Usage limits out of the way: tests/security/test_rate_limits.py builds apps with low ones.
GENEROUS = dict(search_limit="10000 per hour", view_limit="10000 per hour", client_limit="10000 per hour",
                login_limit="10000 per minute")

IDENTITY_KEYS = {"cp_id", "given_name", "middle_names", "family_name", "date_of_birth", "gender", "shielded",
                 "status", "local_authority", "redacted"}
FULL_KEYS = IDENTITY_KEYS | {"shielding_reason", "other_names", "address", "school", "gp_practice", "carers",
                             "involvements"}


class SharedTemplates(BytecodeCache):
    """Compiled templates shared by every app the suite builds, so each test's new app does not compile the
    GOV.UK macros again. Jinja checks each entry against its template source's checksum before using it."""

    def __init__(self):
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key] = bucket.bytecode_to_string()


TEMPLATES = SharedTemplates()


def make_app(settings):
    """An app as the `app` fixture makes it, with other settings (dispose of its engine afterwards)."""
    app = create_app({"SETTINGS": settings, "TESTING": True})
    app.jinja_env.bytecode_cache = TEMPLATES
    return app


@pytest.fixture
def settings(settings):
    return settings.replace(**GENEROUS)


@pytest.fixture
def app(app):
    app.jinja_env.bytecode_cache = TEMPLATES
    return app


@dataclass(frozen=True)
class ChildSpec:
    label: str
    given: str
    family: str
    dob: dt.date
    la: str
    postcode: str
    address: str
    town: str
    school: tuple[str, str, str]          # code, name, phone
    gp: tuple[str, str, str]              # code, name, phone
    carer: tuple[str, str, str]           # given name, family name, phone
    service: tuple[str, str, str, str]    # organisation code, organisation name, practitioner, phone
    sensitive: tuple[str, str, str, str, str]  # organisation code, name, practitioner, phone, category
    alias: tuple[str, str]
    shielded: str | None = None           # the reason category when shielded
    status: str = "active"

    @property
    def location_strings(self) -> list[str]:
        """What only a viewer allowed to see where the child is (and who works with them) may see."""
        return [self.postcode, self.address, self.town, self.school[1], self.school[2], self.gp[1], self.gp[2],
                self.carer[0], self.carer[1], self.carer[2], self.service[1], self.service[2], self.service[3],
                *self.alias]

    @property
    def sensitive_strings(self) -> list[str]:
        return [self.sensitive[1], self.sensitive[2], self.sensitive[3]]


SPECS = [
    ChildSpec("shielded1", "Amara", "Okafor", years_ago(6, day=14), LA1, "M1 1AE", "12 Larkspur Close", "Wythenshawe",
              ("S-QW1", "Quietwater Primary", "0161 496 0101"), ("G-LF1", "Lowfield Surgery", "0161 496 0102"),
              ("Marguerite", "Vantongeren", "07700 900111"),
              ("EWS-1", "Education Welfare North", "Ottoline Blackwood", "0113 496 0222"),
              ("CAMHS-1", "Mindful Futures CAMHS", "Perpetua Lindqvist", "0113 496 0333", "mental_health"),
              ("Zephyrine", "Quaster"), shielded="risk_of_harm"),
    ChildSpec("open1", "Amara", "Okafor", years_ago(6, day=3), LA1, "LS6 2AB", "3 Birchwood Row", "Headingley",
              ("S-HP1", "Hollybank Primary", "0113 496 0404"), ("G-MS1", "Meadowside Practice", "0113 496 0405"),
              ("Ingrid", "Thorsby", "07700 900222"),
              ("YOT-1", "Youth Offending Team Leeds", "Barnaby Quill", "0113 496 0406"),
              ("CAMHS-1", "Mindful Futures CAMHS", "Cressida Fairweather", "0113 496 0407", "mental_health"),
              ("Ysolde", "Brackenridge")),
    ChildSpec("shielded2", "Amara", "Okafor", years_ago(7, day=14), LA2, "B1 1AA", "9 Foxglove Mews", "Digbeth",
              ("S-CB2", "Canalside Primary", "0121 496 0501"), ("G-BR2", "Bullring Medical Centre", "0121 496 0502"),
              ("Octavia", "Pemberton", "07700 900333"),
              ("FS-2", "Family Support Birmingham", "Leopold Whitcombe", "0121 496 0503"),
              ("SH-2", "Riverside Sexual Health", "Hyacinth Moreau", "0121 496 0504", "sexual_health"),
              ("Ximena", "Drummond"), shielded="domestic_abuse"),
    ChildSpec("open2", "Kwame", "Mensah", years_ago(9, day=5), LA2, "L1 8JQ", "21 Ropewalk Street", "Baltic Triangle",
              ("S-RW2", "Ropewalk Primary", "0151 496 0601"), ("G-DK2", "Dockside Surgery", "0151 496 0602"),
              ("Benedikt", "Aalders", "07700 900444"),
              ("EH-2", "Early Help Liverpool", "Marisol Ekwueme", "0151 496 0603"),
              ("SUB-2", "Harbour Recovery Service", "Tobias Wainwright", "0151 496 0604", "substance_misuse"),
              ("Wilhelmina", "Stroud")),
    ChildSpec("archived1", "Amara", "Okafor", years_ago(6, day=20), LA1, "S1 2HE", "4 Rowan Court", "Sheaf Valley",
              ("S-SV1", "Sheaf Valley Academy", "0114 496 0701"), ("G-PK1", "Parkhill Health Centre", "0114 496 0702"),
              ("Fenella", "Oyelaran", "07700 900555"),
              ("SS-1", "Sheffield Speech Therapy", "Rupert Abernathy", "0114 496 0703"),
              ("CAMHS-1", "Mindful Futures CAMHS", "Saoirse Kettleborough", "0114 496 0704", "mental_health"),
              ("Valentina", "Crisp"), status="archived"),
    ChildSpec("archived2", "Kwame", "Mensah", years_ago(9, day=22), LA2, "NE1 4ST", "6 Quayside Walk", "Ouseburn",
              ("S-QS2", "Quayside Juniors", "0191 496 0801"), ("G-TY2", "Tyne Bridge Practice", "0191 496 0802"),
              ("Gwendolyn", "Hargreave", "07700 900666"),
              ("PE-2", "Portage Early Years", "Ignatius Fairbairn", "0191 496 0803"),
              ("SH-2", "Riverside Sexual Health", "Araminta Coleridge", "0191 496 0804", "sexual_health"),
              ("Theodora", "Blyth"), status="archived"),
    # The only child in its postcode area (WF), so a postcode tried for it lifts no child the viewer may locate.
    ChildSpec("pending", "Amara", "Okafor", years_ago(6, day=9), LA1, "WF3 1QE", "8 Hawthorn Gardens",
              "Tingley", ("S-CA1", "Chapel Allerton Primary", "0113 496 0901"),
              ("G-HG1", "Harehills Group Practice", "0113 496 0902"), ("Rosalind", "Achterberg", "07700 900777"),
              ("SW-1", "Leeds Social Work East", "Percival Oduya", "0113 496 0903"),
              ("CAMHS-1", "Mindful Futures CAMHS", "Lavinia Stroheim", "0113 496 0904", "mental_health"),
              ("Ulrika", "Penhaligon")),
]
LA_NAMES = {LA1: ("City of London Children's Services", "020 7946 0001", "cp-team@city.example"),
            LA2: ("Hackney Children and Families", "020 7946 0002", "cp-team@hackney.example")}

# label -> (username, role, la_code, organisation)
USERS = {
    "practitioner": ("pat.practitioner", "practitioner", LA1, ("service", "HV-NORTH")),
    "camhs": ("cam.practitioner", "practitioner", LA1, ("service", "CAMHS-1")),
    # Same code as the CAMHS service, but a different organisation (a school): no sensitive services for it.
    "school": ("sam.school", "practitioner", LA1, ("school", "CAMHS-1")),
    "la1": ("lee.la1", "la_management", LA1, ("local_authority", LA1)),
    "la2": ("lou.la2", "la_management", LA2, ("local_authority", LA2)),
    "national": ("nat.admin", "national_admin", None, ("service", "NATIONAL")),
    "auditor": ("aud.itor", "auditor", None, ("service", "AUDIT")),
    "relevance": ("rel.admin", "relevance_admin", None, ("service", "RELEVANCE")),
    "indexer": ("index.er", "indexer", None, ("service", "INDEXER")),
}


def create_child(session, spec: ChildSpec) -> Child:
    child = writes.create_child(session, given_name=spec.given, family_name=spec.family, date_of_birth=spec.dob,
                                gender="female", address_line_1=spec.address, town=spec.town, postcode=spec.postcode,
                                la_code=spec.la)
    writes.add_name(session, child, "alias", *spec.alias)
    writes.set_setting(session, child, "school", writes.get_or_create_organisation(
        session, "school", spec.school[0], spec.school[1], phone=spec.school[2]))
    writes.set_setting(session, child, "gp_practice", writes.get_or_create_organisation(
        session, "gp_practice", spec.gp[0], spec.gp[1], phone=spec.gp[2]))
    writes.add_carer(session, child, given_name=spec.carer[0], family_name=spec.carer[1],
                     relationship_to_child="mother", parental_responsibility=True, phone=spec.carer[2])
    code, name, practitioner, phone = spec.service
    writes.add_involvement(session, child, writes.get_or_create_organisation(session, "service", code, name),
                           role="Key worker", start_date=spec.dob + dt.timedelta(days=400),
                           practitioner_name=practitioner, phone=phone)
    code, name, practitioner, phone, category = spec.sensitive
    writes.add_involvement(session, child, writes.get_or_create_organisation(session, "service", code, name),
                           role="Clinician", start_date=spec.dob + dt.timedelta(days=500),
                           practitioner_name=practitioner, phone=phone, sensitive_category=category,
                           consent_recorded_by="Consent Officer",
                           consent_recorded_at=dt.datetime(2024, 1, 5, 10, 0, tzinfo=dt.timezone.utc))
    if spec.shielded:
        writes.set_shielded(session, child, True, spec.shielded)
    if spec.status != "active":
        child.status = spec.status
        writes.log_change(session, child, spec.status)
    return child


class Caller:
    """One way in: a signed-in browser session (CSRF token at hand) or a bearer-token client."""

    def __init__(self, client, csrf: str | None = None, username: str | None = None):
        self.client, self.csrf, self.username = client, csrf, username

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def api_get(self, path: str):
        # A signed-in session reads the API only with its CSRF token (no cross-site record views).
        return self.client.get(path, headers={"X-CSRFToken": self.csrf} if self.csrf else None)

    def api_post(self, path: str, body, headers: dict | None = None):
        headers = dict(headers or {})
        if self.csrf:
            headers.setdefault("X-CSRFToken", self.csrf)
        return self.client.post(path, json=body, headers=headers)

    def form_post(self, path: str, data: dict):
        return self.client.post(path, data={"csrf_token": self.csrf, **data})

    def view_api(self, cp_id: str, purpose: str = PURPOSE):
        return self.api_get(f"/api/v1/children/{cp_id}?purpose={purpose}")

    def view_page(self, cp_id: str, purpose: str = PURPOSE):
        return self.form_post(f"/children/{cp_id}", {"purpose": purpose})

    def search_page(self, criteria: dict):
        return self.form_post("/search", search_form(criteria))


def search_form(criteria: dict) -> dict:
    """The search page's form fields for API-style criteria (the page asks for the date of birth in parts)."""
    form = {k: v for k, v in criteria.items() if k != "date_of_birth"}
    if criteria.get("date_of_birth"):
        year, month, day = criteria["date_of_birth"].split("-")
        form.update({"dob-day": day, "dob-month": month, "dob-year": year})
    return form


class World:
    """The children exist at once; users are added, and the index built, only when a test asks."""

    def __init__(self, app, sessions, es, api_token: str):
        self.app, self.sessions, self.es, self.api_token = app, sessions, es, api_token
        self.specs = {spec.label: spec for spec in SPECS}
        self.ids: dict[str, str] = {}
        self._accounts: dict[str, Account] = {}
        self._callers: dict[str, Caller] = {}
        self._indexed = False
        with sessions.begin() as session:
            for code, (name, phone, email) in LA_NAMES.items():  # the contact shown even on shielded records
                authority = writes.get_or_create_organisation(session, "local_authority", code, name)
                authority.phone, authority.email = phone, email
            for spec in SPECS:
                self.ids[spec.label] = create_child(session, spec).cp_id
        self.unknown_id = next(i for i in iter(cpid.generate, None) if i not in self.ids.values())

    def label_of(self, cp_id: str) -> str:
        return next((label for label, known in self.ids.items() if known == cp_id), cp_id)

    # --- users and callers --------------------------------------------------------------------

    def account(self, label: str) -> Account:
        if label not in self._accounts:
            username, role, la_code, organisation = USERS[label]
            self._accounts[label] = add_user(self.sessions, username, role=role, la_code=la_code,
                                             organisation=organisation)
        return self._accounts[label]

    def caller(self, label: str) -> Caller:
        """A signed-in caller for a user label (signed in once per test), "api" for the token, or "anonymous"."""
        if label not in self._callers:
            client = self.app.test_client()
            if label == "api":
                client.environ_base.update(HTTP_AUTHORIZATION=f"Bearer {self.api_token}",
                                           HTTP_X_ACTING_FOR=ACTING_FOR)
                self._callers[label] = Caller(client, None, "case-system")
            elif label == "anonymous":
                self._callers[label] = Caller(client, csrf_token(client, "/login"), "anonymous")
            else:
                account = self.account(label)
                sign_in(client, self.sessions, account)
                self._callers[label] = Caller(client, csrf_token(client, "/login"), account.username)
        return self._callers[label]

    # --- index --------------------------------------------------------------------------------

    def index(self) -> "World":
        """Build the index from the database (once); later changes need ``sync``."""
        if not self._indexed:
            rebuild(self.es, self.sessions, ALIAS, CHECKPOINT)
            self._indexed = True
        return self

    def sync(self) -> None:
        sync_until_current(self.es, self.sessions, ALIAS, CHECKPOINT)
        self.es.indices.refresh(index=ALIAS)

    # --- audit trail --------------------------------------------------------------------------

    def mark(self) -> int:
        return audit_mark(self.sessions)

    def events_since(self, seq: int) -> list[tuple[str, str, dict]]:
        return events_since(self.sessions, seq)


@pytest.fixture
def world(app, sessions, es, api_token):
    return World(app, sessions, es, api_token)


@pytest.fixture
def limited(settings, es, sessions, api_token):
    """A world whose app has the given usage limits (one per test)."""
    apps = []

    def make(**limits) -> World:
        app = make_app(settings.replace(**limits))
        apps.append(app)
        return World(app, sessions, es, api_token).index()
    yield make
    for app in apps:
        app.extensions["contactpoint"]["engine"].dispose()


def events_since(sessions, seq: int) -> list[tuple[str, str, dict]]:
    with sessions() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq)).all()
        return [(e.actor, e.action, json.loads(e.details)) for e in rows]


def audit_mark(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0)))


def report(mismatches: list) -> str:
    """Every mismatch on its own line, so one run shows them all."""
    return f"{len(mismatches)} mismatches:\n" + "\n".join(repr(m) for m in mismatches)


def refusal(events: list[tuple[str, str, dict]]) -> list[tuple]:
    """(actor, action, status, reason, fields) of each event: the shape refusals are compared in."""
    return [(actor, action, details.get("status"), details.get("reason"), details.get("fields"))
            for actor, action, details in events]
