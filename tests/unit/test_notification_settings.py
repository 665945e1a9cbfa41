"""Notification settings and parsing: the SMTP URL, the sender, the timeout, and whom an involvement names."""
import pytest

from webapp.config import Settings
from webapp.notifications import parse_smtp_url
from webapp.notifications.recipients import registrants


@pytest.mark.parametrize("url, expected", [
    ("smtp://mail.example.org", ("smtp", "mail.example.org", 25, None, None)),
    ("smtp+starttls://relay:2525", ("smtp+starttls", "relay", 2525, None, None)),
    ("smtps://user%40org:p%3Ass@mail.example.org", ("smtps", "mail.example.org", 465, "user@org", "p:ss")),
])
def test_smtp_urls_are_read_with_the_schemes_default_ports_and_escaped_credentials(url, expected):
    smtp = parse_smtp_url(url)
    assert (smtp.scheme, smtp.host, smtp.port, smtp.username, smtp.password) == expected


@pytest.mark.parametrize("url, message", [("http://mail.example.org", "scheme"), ("smtp://", "host"),
                                          ("smtp://mail:99999", "port")])
def test_a_bad_smtp_url_is_refused_at_start_naming_the_variable(url, message):
    with pytest.raises(ValueError, match=f"CONTACTPOINT_SMTP_URL: .*{message}"):
        Settings.from_env({"CONTACTPOINT_SMTP_URL": url})


def test_the_sender_and_timeout_reach_the_smtp_settings_and_are_checked():
    settings = Settings.from_env({"CONTACTPOINT_SMTP_URL": "smtp://mail", "CONTACTPOINT_MAIL_FROM": "CP <cp@example.org>",
                                  "CONTACTPOINT_SMTP_TIMEOUT": "3"})
    assert (settings.smtp().sender, settings.smtp().timeout) == ("CP <cp@example.org>", 3.0)
    assert Settings.from_env({}).smtp() is None
    with pytest.raises(ValueError, match="CONTACTPOINT_MAIL_FROM"):
        Settings.from_env({"CONTACTPOINT_MAIL_FROM": "nobody"})
    with pytest.raises(ValueError, match="CONTACTPOINT_SMTP_TIMEOUT"):
        Settings.from_env({"CONTACTPOINT_SMTP_TIMEOUT": "0"})


@pytest.mark.parametrize("registered_by, names", [
    ("hv.one", ["hv.one"]),
    ("case-system/Jo Health-Visitor (jo.health-visitor)", ["jo.health-visitor", "case-system"]),
    ("case-system/Someone without a username", ["case-system"]),
    (None, []),
])
def test_an_involvement_names_the_person_before_the_system(registered_by, names):
    assert registrants(registered_by) == names
