"""Guessing tokens cannot flood the audit trail: past the sign-in limit, refusals go unrecorded."""
import json

from sqlalchemy import select

from access_control.models import AuditEvent


def test_bad_tokens_past_the_limit_get_429_and_one_event_says_so(settings, sessions, es):
    from webapp import create_app

    app = create_app({"SETTINGS": settings.replace(login_limit="3 per minute"), "TESTING": True})
    try:
        client = app.test_client()
        statuses = [client.post("/api/v1/search", json={"family_name": "Okafor", "given_name": "Amara"},
                                headers={"Authorization": f"Bearer cp_{n:012x}_{'A' * 43}",
                                         "X-Acting-For": "Someone"}).status_code for n in range(7)]
    finally:
        app.extensions["contactpoint"]["engine"].dispose()
    assert statuses == [401, 401, 401, 429, 429, 429, 429]
    with sessions() as session:
        events = [(action, json.loads(d)["reason"]) for action, d in session.execute(
            select(AuditEvent.action, AuditEvent.details).where(AuditEvent.actor == "anonymous")
            .order_by(AuditEvent.seq))]
    assert events == [("request_refused", "token_unknown")] * 3 + [("refusals_limited", "refusals_limited")]
