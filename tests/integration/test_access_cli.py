"""`contactpoint users` and `contactpoint tokens`, end to end."""
import re

from sqlalchemy import select

from access_control import tokens
from access_control.models import ApiToken, AuditEvent, User

from ..support.accounts import PASSWORD


def test_users_add_disable_and_tokens_create_and_revoke(run, sessions):
    added = run("users", "add", "pat.jones", "--name", "Pat Jones", "--role", "practitioner",
                "--organisation", "service:HV-NORTH", "--la", "E09000001", "--password-stdin", input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert "added pat.jones (practitioner)" in added.output
    run_client = run("users", "add", "case-system", "--name", "Case system", "--role", "api_client",
                     "--organisation", "local_authority:E09000001", "--la", "E09000001")
    assert run_client.exit_code == 0, run_client.output
    created = run("tokens", "create", "--user", "case-system", "--scope", "search", "--days", "7")
    assert created.exit_code == 0, created.output
    text = re.search(r"cp_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", created.output).group(0)
    with sessions() as session:
        assert tokens.authenticate(session, text).user.username == "case-system"
        row = session.scalar(select(ApiToken))
        assert text not in (row.secret_hash, row.token_id)
    assert run("tokens", "revoke", row.token_id).exit_code == 0
    assert run("users", "disable", "pat.jones").exit_code == 0
    with sessions() as session:
        assert session.scalar(select(User.disabled).where(User.username == "pat.jones")) is True
        assert session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all() == [
            "user_added", "user_added", "token_created", "token_revoked", "user_disabled"]


def test_bad_input_and_scope_limits_exit_non_zero_naming_the_problem(run, sessions):
    short = run("users", "add", "pat.jones", "--name", "Pat", "--role", "practitioner", "--organisation",
                "service:HV", "--password-stdin", input="short\n")
    assert short.exit_code == 2 and "'password'" in short.output and "at least 12 characters" in short.output
    org = run("users", "add", "pat.jones", "--name", "Pat", "--role", "practitioner", "--organisation", "HV",
              "--password-stdin", input=PASSWORD + "\n")
    assert org.exit_code == 2 and "KIND:CODE" in org.output
    manager = run("users", "add", "la.boss", "--name", "LA boss", "--role", "la_management", "--organisation",
                  "local_authority:E09000001", "--la", "E09000001", "--password-stdin", input=PASSWORD + "\n")
    assert manager.exit_code == 0
    elsewhere = run("users", "add", "far.away", "--name", "Far", "--role", "practitioner", "--organisation",
                    "school:100001", "--la", "E09000002", "--as", "la.boss", "--password-stdin", input=PASSWORD + "\n")
    assert elsewhere.exit_code == 1 and "own authority" in elsewhere.output
    no_token = run("tokens", "create", "--user", "la.boss", "--scope", "search")
    assert no_token.exit_code == 2 and "api_client" in no_token.output
    with sessions() as session:
        assert session.scalars(select(User.username)).all() == ["la.boss"]


def test_contactpoint_dev_makes_its_users_once_and_a_working_token_each_run(sessions):
    from webapp.cli.dev import DEV_USERS, _dev_accounts

    first, second = _dev_accounts(sessions), _dev_accounts(sessions)
    with sessions() as session:
        assert sorted(session.scalars(select(User.username)).all()) == sorted(
            [name for name, _, _ in DEV_USERS] + ["dev.case-system"])
        assert {tokens.authenticate(session, t).user.username for t in (first, second)} == {"dev.case-system"}
