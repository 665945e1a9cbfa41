"""The app served on 127.0.0.1 with a few indexed children, an all-scopes token and its OpenAPI document loaded.

Usage limits are raised so that hundreds of generated requests are never refused with a 429.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from indexing import rebuild
from registry import writes

from ..integration.helpers import ALIAS, CHECKPOINT, years_ago
from ..support.accounts import ACTING_FOR, add_token  # noqa: F401 -- the tests import ACTING_FOR from here

CLIENT_LA = "E09000001"  # add_token's api_client user belongs to this local authority
OTHER_LA = "E08000035"
HIGH_LIMIT = "100000 per hour"


@pytest.fixture
def settings(settings, database_url):
    """The shared settings, with usage limits no generated run reaches (the `app` fixture builds from these).

    ``database_url`` is named so that pytest sees it in the closure of an overridden fixture (and the
    module's ``parametrize("database_url", ...)`` applies).
    """
    return settings.replace(search_limit=HIGH_LIMIT, view_limit=HIGH_LIMIT, client_limit=HIGH_LIMIT,
                            login_limit=HIGH_LIMIT)


@pytest.fixture
def api_token(sessions):
    """A case-management system's token with every scope the API has."""
    return add_token(sessions, "case-system", scopes=("search", "view", "involvements"))


@pytest.fixture
def auth_headers(api_token):
    return {"Authorization": f"Bearer {api_token}"}


@dataclass
class Seeded:
    open_child: str  # not shielded: the caller sees the full record
    shielded_child: str  # shielded, another authority's: the caller sees the redacted record
    other_child: str  # not shielded, another authority's, with an involvement the caller may not manage
    own_involvement: int  # on open_child, by the caller's own organisation: the caller may end or re-flag it
    others_involvement: int  # on other_child, by another organisation
    names: list[str] = field(default_factory=list)

    @property
    def path_targets(self) -> list[dict]:
        """Real path parameters, mixed into generated cases so that success answers are checked too."""
        return [{"cp_id": self.open_child, "involvement_id": self.own_involvement},
                {"cp_id": self.shielded_child, "involvement_id": self.own_involvement},
                {"cp_id": self.other_child, "involvement_id": self.others_involvement}]


@pytest.fixture
def seeded(es, sessions) -> Seeded:
    """Three children with names, carers, settings and involvements, in the registry and in the index."""
    with sessions.begin() as db:
        own_org = writes.get_or_create_organisation(db, "local_authority", CLIENT_LA, "Test Borough Council",
                                                    phone="020 7946 0000", email="cp@test-borough.example")
        open_child = writes.create_child(db, given_name="Amara", middle_names="Ngozi", family_name="Okafor",
                                         date_of_birth=years_ago(6, day=14), gender="female",
                                         address_line_1="1 Test Street", town="Leeds", postcode="LS6 2AB",
                                         la_code=CLIENT_LA)
        writes.add_name(db, open_child, "alias", "Amy", "Bello")
        writes.add_carer(db, open_child, given_name="Grace", family_name="Okafor", relationship_to_child="mother",
                         parental_responsibility=True, phone="0113 496 0000")
        writes.set_setting(db, open_child, "school",
                           writes.get_or_create_organisation(db, "school", "100001", "Test Primary School"))
        own = writes.add_involvement(db, open_child, own_org, role="Social worker", practitioner_name="Sam Reed",
                                     start_date=years_ago(1), email="sam.reed@test-borough.example")
        shielded_child = writes.create_child(db, given_name="Kwame", family_name="Mensah", gender="male",
                                             date_of_birth=years_ago(9, day=3), postcode="LS1 4AP", la_code=OTHER_LA)
        writes.set_shielded(db, shielded_child, True, "risk_of_harm")
        other_child = writes.create_child(db, given_name="Siobhan", family_name="O'Brien", gender="female",
                                          date_of_birth=years_ago(12, day=21), la_code=OTHER_LA)
        others = writes.add_involvement(db, other_child,
                                        writes.get_or_create_organisation(db, "service", "HV-NORTH", "Health visitors"),
                                        role="Health visitor", start_date=years_ago(2))
        db.flush()
        seeded = Seeded(open_child.cp_id, shielded_child.cp_id, other_child.cp_id, own.id, others.id,
                        names=["Amara", "Okafor", "Kwame", "Mensah", "Siobhan", "Grace"])
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    return seeded


@pytest.fixture
def api_schema(live_server, seeded):
    """The OpenAPI document as the running server serves it, loaded by schemathesis."""
    import schemathesis

    return schemathesis.openapi.from_url(f"{live_server}/api/v1/openapi.json", timeout=30)
