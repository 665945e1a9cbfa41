"""The read path every front end shares: policy filters in, database re-check, audit, out."""
from __future__ import annotations

import dataclasses

from flask import current_app

from access_control import Viewer, VisibilityPolicy, audit
from registry import cpid
from registry.profiles import active_profile
from search_service import Criteria, SearchOutcome, search

from .extensions import es_client, sessions


def search_children(viewer: Viewer, data: dict, channel: str) -> SearchOutcome:
    policy = VisibilityPolicy(viewer)
    criteria = Criteria(**{**data, "cp_id": cpid.normalise(data["cp_id"]) if data.get("cp_id") else None})
    settings = current_app.config["SETTINGS"]
    session_factory = sessions()
    with session_factory() as session:
        profile = active_profile(session)
    outcome = search(es_client(), settings.es_alias, criteria, profile, policy.query_filters(),
                     policy.location_scope(), settings.max_results)
    with session_factory.begin() as session:
        current = policy.recheck(session, [c.cp_id for c in outcome.results])
        results = [dataclasses.replace(c, shielded=current[c.cp_id][0]) for c in outcome.results
                   if c.cp_id in current]
        # Committed before anything is shown: an access that is not on record never happened.
        audit.append(session, viewer.username, viewer.organisation, "search", {
            "channel": channel, "criteria": {k: str(v) for k, v in data.items()},
            "returned": [c.cp_id for c in results], "too_many": outcome.too_many,
            "profile": f"{profile.name}:{profile.version}",
            "on_behalf_of": viewer.on_behalf_of})
    return SearchOutcome(results, outcome.too_many, outcome.took_ms)
