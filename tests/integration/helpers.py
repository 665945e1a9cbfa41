"""Small builders shared by the integration tests."""
import datetime as dt
import io

from analyzers import clock
from registry import writes
from registry.feeds import load_feed
from registry.models import Child

ALIAS = "children"
CHECKPOINT = "children-sync"


def years_ago(years: int, day: int = 1) -> dt.date:
    today = dt.date.today()
    return today.replace(year=today.year - years, day=day)


def add_child(sessions, given="Amara", family="Okafor", dob=None, postcode="LS6 2AB", la_code="E08000035",
              shielded=False, gender="female", aliases=()) -> str:
    with sessions.begin() as session:
        child = writes.create_child(session, given_name=given, family_name=family, date_of_birth=dob or years_ago(6),
                                    gender=gender, postcode=postcode, la_code=la_code)
        for alias_given, alias_family in aliases:
            writes.add_name(session, child, "alias", alias_given, alias_family)
        writes.set_shielded(session, child, shielded)
        return child.cp_id


def load_new_child(sessions, header: str, source: str, row: str, at) -> str:
    """Load one feed row at the moment ``at`` as a source record that makes a new child; its cp_id."""
    results = []
    with clock.pinned(at):
        load_feed(sessions, source, io.BytesIO((header + row + "\n").encode()), "csv", on_result=results.append)
    assert [r.outcome for r in results] == ["created"], results
    return results[0].cp_id


def change_child(sessions, cp_id, action):
    """Run ``action(session, child)`` in one registry transaction."""
    from sqlalchemy import select

    with sessions.begin() as session:
        child = session.scalar(select(Child).where(Child.cp_id == cp_id))
        action(session, child)


def api_search(client, **criteria) -> tuple[int, dict]:
    """POST /api/v1/search: (status, body)."""
    response = client.post("/api/v1/search", json=criteria)
    return response.status_code, response.get_json()


def top_results(client, **criteria) -> list[dict]:
    """The ranked candidates of a search that must succeed and single children out (not "too many")."""
    status, body = api_search(client, **criteria)
    assert status == 200, body
    assert body["too_many"] is False
    return body["results"]


def count(sessions, model, *where) -> int:
    """How many rows of ``model`` (matching ``where``) the database holds."""
    from sqlalchemy import func, select

    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def involve(sessions, cp_id, org: str, registered_by=None, role="Health visitor", **fields) -> None:
    """Register an involvement of service ``org`` (made when new) with the child, as ``registered_by``."""
    def add(session, child):
        organisation = writes.get_or_create_organisation(session, "service", org, f"{org.title()} service",
                                                         phone="0113 496 0000")
        writes.add_involvement(session, child, organisation, role=role, registered_by=registered_by,
                               start_date=fields.pop("start_date", years_ago(1)), **fields)
    change_child(sessions, cp_id, add)
