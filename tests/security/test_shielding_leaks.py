"""Shielding and sensitive services: what each viewer sees of each child, in the API, the pages and search."""
from __future__ import annotations

import re

from sqlalchemy import select

from analyzers import postcode_area
from registry import checkpoints, writes
from registry.models import Child

from ..integration.helpers import ALIAS, change_child
from .conftest import ACTING_FOR_LABEL, FULL_KEYS, IDENTITY_KEYS, LA_NAMES, NOT_AVAILABLE, PURPOSE, USERS, report

VIEWERS = ("practitioner", "camhs", "school", "la1", "la2", "national", "api")
NOT_FOUND_PAGE = "There is no record with that ContactPoint ID that you can open."
# CSRF tokens and CSP nonces differ from one response to the next.
TOKENS = re.compile(r'(nonce="|value=")[A-Za-z0-9_-]{10,}(\.[A-Za-z0-9_-]+){0,2}"')


def _viewer(label: str) -> tuple[str, str | None, tuple[str, str]]:
    """(role, la_code, (organisation kind, code)) of a viewer label."""
    if label == "api":
        return "api_client", "E09000001", ("local_authority", "E09000001")
    _, role, la_code, organisation = USERS[label]
    return role, la_code, organisation


def expected_view(label: str, spec) -> dict | None:
    """What a viewer may see of a child (None: a 404, as for an ID that does not exist)."""
    role, la_code, org = _viewer(label)
    owner = role == "la_management" and la_code == spec.la
    full_access = owner or role == "national_admin"
    if spec.status != "active" and not full_access:
        return None
    redacted = bool(spec.shielded) and not full_access
    access = ("national_admin" if role == "national_admin" else "owning_local_authority" if owner
              else "shielded_redacted" if spec.shielded else "practitioner")
    return {"redacted": redacted, "access": access,
            "sensitive": not redacted and (full_access or org == ("service", spec.sensitive[0]))}


def _visible_strings(text: str, spec) -> tuple[list[str], list[str]]:
    return ([s for s in spec.location_strings if s in text], [s for s in spec.sensitive_strings if s in text])


def test_each_viewer_sees_exactly_what_the_visibility_policy_allows_of_each_child(world):
    """Record views through the API and the page, by every searching role, of every kind of child."""
    mismatches = []
    not_found_pages = {}  # viewer -> {normalised 404 page}: a hidden record must look like a missing one
    for label in VIEWERS:
        caller = world.caller(label)
        channels = ("api",) if label == "api" else ("api", "page")
        for child_label in (*world.specs, "unknown"):
            spec = world.specs.get(child_label)
            cp_id = world.ids.get(child_label, world.unknown_id)
            expected = expected_view(label, spec) if spec else None
            for channel in channels:
                case = (label, child_label, channel)
                before = world.mark()
                try:
                    response = caller.view_api(cp_id) if channel == "api" else caller.view_page(cp_id)
                except Exception as exc:  # TESTING propagates what production would answer with a 500
                    mismatches.append((case, "crashed", repr(exc)))
                    continue
                text = response.get_data(as_text=True)
                events = world.events_since(before)
                common = {"cp_id": cp_id, "purpose": PURPOSE, "channel": channel,
                          "on_behalf_of": ACTING_FOR_LABEL if label == "api" else None}
                if expected is None:
                    want_events = [(caller.username, "record_view_refused", {**common, "reason": "not_found"})]
                    got_events = [(a, act, {k: d.get(k) for k in want_events[0][2]}) for a, act, d in events]
                    if response.status_code != 404 or got_events != want_events:
                        mismatches.append((case, 404, response.status_code, want_events, got_events))
                    if channel == "api" and response.get_json() != NOT_AVAILABLE:
                        mismatches.append((case, "404 body", response.get_json()))
                    if channel == "page":
                        not_found_pages.setdefault(label, set()).add(TOKENS.sub(r'\1"', text.replace(cp_id, "ID")))
                        if NOT_FOUND_PAGE not in text:
                            mismatches.append((case, "404 page", text[:300]))
                    if spec and _visible_strings(text, spec) != ([], []):
                        mismatches.append((case, "leaked", _visible_strings(text, spec)))
                    continue
                want_events = [(caller.username, "record_view", {
                    **common, "access": expected["access"], "shielded": bool(spec.shielded), "child_la": spec.la,
                    "redacted": expected["redacted"], "role": _viewer(label)[0]})]
                got_events = [(a, act, {k: d.get(k) for k in want_events[0][2]}) for a, act, d in events]
                if response.status_code != 200 or got_events != want_events:
                    mismatches.append((case, 200, response.status_code, want_events, got_events))
                    continue
                location, sensitive = _visible_strings(text, spec)
                want_location = [] if expected["redacted"] else spec.location_strings
                want_sensitive = spec.sensitive_strings if expected["sensitive"] else []
                if (location, sensitive) != (want_location, want_sensitive):
                    mismatches.append((case, "strings", (want_location, want_sensitive), (location, sensitive)))
                if channel == "page":
                    marker = "Shielded record." in text
                    if marker != bool(spec.shielded):
                        mismatches.append((case, "shielded marker", bool(spec.shielded), marker))
                    continue
                body = response.get_json()
                want_keys = IDENTITY_KEYS if expected["redacted"] else FULL_KEYS
                name, phone, email = LA_NAMES[spec.la]
                got = (set(body), body["redacted"], body["shielded"], body["status"], body["local_authority"],
                       body["given_name"], body["family_name"], body["date_of_birth"])
                want = (want_keys, expected["redacted"], bool(spec.shielded), spec.status,
                        {"code": spec.la, "name": name, "phone": phone, "email": email},
                        spec.given, spec.family, spec.dob.isoformat())
                if got != want:
                    mismatches.append((case, "record", want, got))
                elif not expected["redacted"]:
                    categories = [i["sensitive_category"] for i in body["involvements"]]
                    want_categories = [None, spec.sensitive[4]] if expected["sensitive"] else [None]
                    got_full = (categories, body["address"]["postcode"], body["shielding_reason"],
                                [n["family_name"] for n in body["other_names"]])
                    want_full = (want_categories, spec.postcode, spec.shielded, [spec.alias[1]])
                    if got_full != want_full:
                        mismatches.append((case, "full record", want_full, got_full))
    # Archived (hidden) and never-existing IDs: one and the same page for each viewer.
    for label, pages in not_found_pages.items():
        if len(pages) != 1:
            mismatches.append((label, "404 pages differ between hidden and missing records", len(pages)))
    assert mismatches == [], report(mismatches)


# --- search ---------------------------------------------------------------------------------

WRONG_POSTCODE = "TR19 7AA"   # nobody in the world lives there, nor in that district


def _entries(body: dict) -> dict[str, tuple]:
    """cp_id -> (position, score, match_grade, matched_on, shielded)."""
    return {r["cp_id"]: (position, r["score"], r["match_grade"], r["matched_on"], r["shielded"])
            for position, r in enumerate(body["results"])}


def _search(caller, criteria: dict) -> dict:
    response = caller.api_post("/api/v1/search", criteria)
    assert response.status_code == 200, (criteria, response.get_json())
    return response.get_json()


def _district_neighbour(postcode: str) -> str:
    """Another postcode in the same district (same outward code)."""
    outward, inward = postcode.split()
    return f"{outward} {'9ZZ' if inward != '9ZZ' else '8YY'}"


def _area_neighbour(postcode: str) -> str:
    """A postcode in another district of the same area (same letters, e.g. M1 1AE -> M99 9ZZ)."""
    return f"{postcode_area(postcode)}99 9ZZ"


def _postcode_invariance(world, label: str, base_criteria: dict, hidden_labels, variants) -> list:
    """Mismatches when a shielded child's entry, or too_many, moves with the postcode criterion."""
    caller = world.caller(label)
    base = _search(caller, base_criteria)
    base_entries = _entries(base)
    mismatches = []
    hidden = [world.ids[h] for h in hidden_labels if world.ids[h] in base_entries]
    if len(hidden) != len(hidden_labels):
        mismatches.append((label, base_criteria, "shielded children missing", hidden_labels, base_entries))
    moved = {cp_id: {} for cp_id in hidden}  # cp_id -> {postcode: entry with that postcode (None: gone)}
    for postcode in variants:
        body = _search(caller, {**base_criteria, "postcode": postcode})
        entries = _entries(body)
        if body["too_many"] != base["too_many"]:
            mismatches.append((label, postcode, "too_many", base["too_many"], body["too_many"]))
        for cp_id in hidden:
            got = entries.get(cp_id)
            if got != base_entries[cp_id] or any("postcode" in reason for reason in (got or (0, 0, 0, [], 0))[3]):
                moved[cp_id][postcode] = got
    for cp_id, changes in moved.items():
        if changes:  # (position, score, match_grade, matched_on, shielded) without a postcode, then with each
            mismatches.append((label, world.label_of(cp_id), base_criteria, base_entries[cp_id], changes))
    return mismatches


def _criteria_sets(spec, weak: bool = True) -> list[dict]:
    """A strong match on everything but location and (``weak``) one that only just clears the minimum score."""
    strong = {"given_name": "Amara", "family_name": "Okafor", "date_of_birth": spec.dob.isoformat()}
    return [strong, {"given_name": "Quentin", "family_name": "Okafor", "birth_year": spec.dob.year - 6}] if weak \
        else [strong]


def test_a_postcode_never_counts_for_or_against_a_shielded_child_the_viewer_may_not_locate(world):
    world.index()
    s1, s2 = world.specs["shielded1"], world.specs["shielded2"]
    mismatches = []
    # Whom each viewer may not locate: both shielded children, except the owning authority's own. The
    # postcodes tried are the hidden children's own, their districts', their areas' and one nobody has (never
    # that of a child the viewer may locate, which would rightly move up the list).
    for label, hidden in (("practitioner", ("shielded1", "shielded2")), ("api", ("shielded1", "shielded2")),
                          ("la1", ("shielded2",)), ("la2", ("shielded1",))):
        variants = [p for h in hidden for p in (world.specs[h].postcode, _district_neighbour(world.specs[h].postcode),
                                                _area_neighbour(world.specs[h].postcode))]
        variants.append(WRONG_POSTCODE)
        for spec in (s1, s2):
            for criteria in _criteria_sets(spec, weak=spec is s1):  # one weak search is enough
                mismatches += _postcode_invariance(world, label, criteria, hidden, variants)
    # Those who may locate the child: its postcode does count (so the check above can fail).
    for label, spec in (("la1", s1), ("la2", s2), ("national", s1), ("national", s2)):
        caller = world.caller(label)
        criteria = {"given_name": "Amara", "family_name": "Okafor", "date_of_birth": spec.dob.isoformat()}
        cp_id = world.ids[spec.label]
        base = _entries(_search(caller, criteria))[cp_id]
        exact = _entries(_search(caller, {**criteria, "postcode": spec.postcode}))[cp_id]
        district = _entries(_search(caller, {**criteria, "postcode": _district_neighbour(spec.postcode)}))[cp_id]
        area = _entries(_search(caller, {**criteria, "postcode": _area_neighbour(spec.postcode)}))[cp_id]
        got = (exact[1] > base[1], "postcode" in exact[3], district[1] > base[1], "postcode district" in district[3],
               area[1] > base[1], "postcode area" in area[3])
        if got != (True,) * 6:
            mismatches.append((label, spec.label, "postcode should count", base, exact, district, area))
    # The search page as a whole, apart from the postcode typed in, does not move with the postcode.
    pages = {}
    for postcode in ("", s1.postcode, _district_neighbour(s1.postcode), WRONG_POSTCODE):
        response = world.caller("practitioner").search_page({"given_name": s1.given, "family_name": s1.family,
                                                             "date_of_birth": s1.dob.isoformat(),
                                                             "postcode": postcode})
        page = TOKENS.sub(r'\1"', response.get_data(as_text=True))
        pages[postcode] = (response.status_code, page.replace(postcode, "") if postcode else page)
    if world.ids["shielded1"] not in pages[""][1] or [s for s in s1.location_strings if s in pages[""][1]]:
        mismatches.append(("search page", "should list shielded1 and nothing of where it lives"))
    for postcode, page in pages.items():
        if page != pages[""]:
            mismatches.append(("search page", postcode, "differs from the page without a postcode"))
    assert mismatches == [], report(mismatches)


def test_a_child_shielded_after_indexing_is_treated_as_shielded_at_once_and_after_sync(world, es):
    world.index()
    spec, cp_id = world.specs["pending"], world.ids["pending"]
    variants = [spec.postcode, _district_neighbour(spec.postcode), WRONG_POSTCODE]
    practitioner = world.caller("practitioner")
    criteria = {"given_name": "Amara", "family_name": "Okafor", "date_of_birth": spec.dob.isoformat()}
    # Before shielding the postcode counts for this child (so the invariance below means something).
    before = _entries(_search(practitioner, criteria))[cp_id]
    with_postcode = _entries(_search(practitioner, {**criteria, "postcode": spec.postcode}))[cp_id]
    assert (with_postcode[1] > before[1], "postcode" in with_postcode[3], before[4]) == (True, True, False)

    la1 = world.caller("la1")
    mark = world.mark()
    response = la1.api_post(f"/api/v1/children/{cp_id}/shielding", {"shielded": True,
                                                                      "reason_category": "witness_protection"})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["shielded"], body["redacted"], body["shielding_reason"]) == (True, False, "witness_protection")
    assert [(a, act, {k: d.get(k) for k in ("cp_id", "shielded", "was", "reason_category", "role")})
            for a, act, d in world.events_since(mark)] == [
        ("lee.la1", "shielding_changed", {"cp_id": cp_id, "shielded": True, "was": False,
                                          "reason_category": "witness_protection", "role": "la_management"})]
    # The index has not heard of it yet ...
    assert es.get(index=ALIAS, id=cp_id)["_source"]["shielded"] is False
    with world.sessions() as session:
        assert checkpoints.shielded_since_indexed(session, "children-sync") == [cp_id]

    def check(stage: str) -> list:
        found = []
        for label in ("practitioner", "api", "la2"):
            found += [(stage, *m) for criteria in _criteria_sets(spec)
                      for m in _postcode_invariance(world, label, criteria, ("pending",), variants)]
            entry = _entries(_search(world.caller(label), criteria)).get(cp_id)
            if entry is None or entry[4] is not True:
                found.append((stage, label, "result should say shielded", entry))
            view = world.caller(label).view_api(cp_id).get_json()
            if (set(view), view["redacted"]) != (IDENTITY_KEYS, True):
                found.append((stage, label, "record should be redacted", view))
        return found

    mismatches = check("before sync")
    world.sync()
    assert es.get(index=ALIAS, id=cp_id)["_source"]["shielded"] is True
    mismatches += check("after sync")
    assert mismatches == [], report(mismatches)


def test_status_and_metrics_name_no_child(world, anonymous, sessions):
    world.index()
    spec, cp_id = world.specs["open1"], world.ids["open1"]
    # Lag (a change not yet applied) and a dead letter whose error quotes the child.
    change_child(sessions, cp_id, lambda s, c: writes.update_child(s, c, town="Kirkstall"))
    with sessions.begin() as session:
        child = session.scalar(select(Child).where(Child.cp_id == cp_id))
        checkpoints.record_dead_letter(session, child.id, cp_id,
                                       f"document could not be built: {spec.given} {spec.family} {spec.postcode}")
    status = anonymous.get("/status")
    metrics = anonymous.get("/metrics")
    assert (status.status_code, metrics.status_code) == (200, 200)
    body = status.get_json()
    assert set(body) == {"alias", "indices", "template_version_installed", "template_version_code", "documents",
                         "checkpoint", "last_change", "lag_changes", "lag_seconds", "dead_letters"}
    assert (body["dead_letters"], body["documents"]) == (1, len(world.specs))
    personal = [*world.ids.values(), *(s.given for s in world.specs.values()),
                *(s.family for s in world.specs.values()), *(s.postcode for s in world.specs.values()), "Kirkstall"]
    for response in (status, metrics):
        text = response.get_data(as_text=True)
        assert [p for p in personal if p in text] == []
