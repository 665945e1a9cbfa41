"""All configuration, read once from ``CONTACTPOINT_*`` environment variables.

Nothing reads the environment at import time: the CLI and the app factory call
``Settings.from_env()`` and pass the values down, so tests can build their own.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
from pathlib import Path

from limits import parse_many

from registry.survivorship import TrustError, parse_trust
from search_service.urls import parse_es_urls

from .notifications.mailer import DEFAULT_SENDER, parse_smtp_url

PREFIX = "CONTACTPOINT_"
# Written by `contactpoint dev` (mode 0600) so that the development web app and the CLI share one
# key; production sets CONTACTPOINT_SECRET_KEY instead.
SECRET_KEY_FILE = "secret-key"


class MissingSecretKey(RuntimeError):
    """No key was configured where one is required."""


def _default_state_dir() -> Path:
    # As root the Elasticsearch node runs as an unprivileged user, which cannot enter /root.
    if os.geteuid() == 0:
        return Path("/var/lib/contactpoint")
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "contactpoint"


def _default_cache_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/cache/contactpoint")
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "contactpoint"


@dataclasses.dataclass(frozen=True)
class Settings:
    state_dir: Path
    cache_dir: Path
    database_url: str
    es_url: str | None = None  # one URL, or several comma-separated: the nodes the client spreads over and retries on
    es_api_key: str | None = None
    es_username: str | None = None
    es_password: str | None = None
    # A cluster with security on answers over TLS with certificates its own CA signed (not a public one).
    es_ca_certs: str | None = None
    es_version: str | None = None
    es_alias: str = "children"
    secret_key: str | None = None
    # Keys kept outside the database: the TOTP secrets' encryption key and the audit trail's MAC key.
    # Each defaults to a key derived from secret_key for its one purpose.
    totp_key: str | None = None
    audit_key: str | None = None
    max_results: int = 10
    retention_years: int = 6
    # Access control: sessions, sign-in and per-user usage limits (flask-limiter notation).
    secure_cookies: bool = True
    trusted_proxies: int = 0
    idle_minutes: int = 15
    session_hours: int = 12  # however active: a stolen cookie dies within a working day
    lockout_failures: int = 5
    lockout_minutes: int = 15
    search_limit: str = "60 per hour;200 per day"
    view_limit: str = "30 per hour;100 per day"
    client_limit: str = "2000 per hour;10000 per day"
    login_limit: str = "30 per minute"
    # Which source each group of a child's fields is taken from first (registry/survivorship.py).
    source_trust: dict = dataclasses.field(default_factory=dict)
    # Notification email (webapp/notifications): the SMTP server, the sender, and how long one SMTP step may take.
    smtp_url: str | None = None
    mail_from: str = DEFAULT_SENDER
    smtp_timeout: int = 10

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ

        def get(name: str, default: str | None = None) -> str | None:
            value = env.get(PREFIX + name)
            return value if value not in (None, "") else default

        state_dir = Path(get("STATE_DIR") or _default_state_dir())

        def whole_number(name: str, default: int, low: int, high: int) -> int:
            text = get(name, str(default))
            try:
                value = int(text)
            except ValueError:
                raise ValueError(f"{PREFIX}{name} must be a whole number, got {text!r}") from None
            if not low <= value <= high:
                raise ValueError(f"{PREFIX}{name} must be between {low} and {high}, got {value}")
            return value

        def flag(name: str, default: bool) -> bool:
            text = get(name, "1" if default else "0").lower()
            if text not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(f"{PREFIX}{name} must be 1 or 0, got {text!r}")
            return text in ("1", "true", "yes")

        def trust() -> dict:
            try:
                return parse_trust(get("SOURCE_TRUST"))
            except TrustError as exc:
                raise ValueError(f"{PREFIX}SOURCE_TRUST: {exc}") from None

        def checked(name: str, parse, what: str) -> str | None:
            """The setting, refused at start (naming it) when ``parse`` refuses it."""
            text = get(name)
            if text is not None:
                try:
                    parse(text)
                except ValueError as exc:
                    raise ValueError(f"{PREFIX}{name}{what}: {exc}") from None
            return text

        def ca_certs() -> str | None:
            path = get("ES_CA_CERTS")
            # Refused at start, naming the variable, rather than as a TLS error on the first search.
            if path is not None and not (Path(path).is_file() and os.access(path, os.R_OK)):
                raise ValueError(f"{PREFIX}ES_CA_CERTS must name a readable PEM file, got {path!r}")
            return path

        def rate(name: str, default: str) -> str:
            text = get(name, default)
            try:
                parse_many(text)
            except ValueError:
                raise ValueError(f"{PREFIX}{name} must be limits such as '60 per hour;200 per day', "
                                 f"got {text!r}") from None
            return text

        def mail_from() -> str:
            text = get("MAIL_FROM", DEFAULT_SENDER)
            if "@" not in text or "\n" in text or "\r" in text:
                raise ValueError(f"{PREFIX}MAIL_FROM must be an email address (optionally 'Name <address>'), got {text!r}")
            return text

        return cls(
            state_dir=state_dir,
            cache_dir=Path(get("CACHE_DIR") or _default_cache_dir()),
            database_url=get("DATABASE_URL") or f"sqlite:///{state_dir / 'contactpoint.sqlite3'}",
            es_url=checked("ES_URL", parse_es_urls, " must be one URL or several comma-separated"),
            es_api_key=get("ES_API_KEY"),
            es_username=get("ES_USERNAME"),
            es_password=get("ES_PASSWORD"),
            es_ca_certs=ca_certs(),
            es_version=get("ES_VERSION"),
            es_alias=get("ES_ALIAS", "children"),
            secret_key=get("SECRET_KEY") or _read_key_file(state_dir / SECRET_KEY_FILE),
            totp_key=get("TOTP_KEY"),
            audit_key=get("AUDIT_KEY"),
            max_results=whole_number("MAX_RESULTS", 10, 1, 50),
            retention_years=whole_number("RETENTION_YEARS", 6, 1, 100),
            secure_cookies=flag("SECURE_COOKIES", True),
            trusted_proxies=whole_number("TRUSTED_PROXIES", 0, 0, 5),
            idle_minutes=whole_number("IDLE_MINUTES", 15, 1, 480),
            session_hours=whole_number("SESSION_HOURS", 12, 1, 24),
            lockout_failures=whole_number("LOCKOUT_FAILURES", 5, 1, 100),
            lockout_minutes=whole_number("LOCKOUT_MINUTES", 15, 1, 1440),
            search_limit=rate("SEARCH_LIMIT", "60 per hour;200 per day"),
            view_limit=rate("VIEW_LIMIT", "30 per hour;100 per day"),
            client_limit=rate("CLIENT_LIMIT", "2000 per hour;10000 per day"),
            login_limit=rate("LOGIN_LIMIT", "30 per minute"),
            source_trust=trust(),
            smtp_url=checked("SMTP_URL", parse_smtp_url, ""),
            mail_from=mail_from(),
            smtp_timeout=whole_number("SMTP_TIMEOUT", 10, 1, 300),
        )

    def smtp(self):
        """The SMTP server and sender for notification email (webapp.notifications.SmtpSettings); None when unset."""
        if not self.smtp_url:
            return None
        return dataclasses.replace(parse_smtp_url(self.smtp_url), sender=self.mail_from, timeout=float(self.smtp_timeout))

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)

    def key(self, purpose: str) -> bytes:
        """The key for one purpose ("totp", "audit"): its own setting, else derived from the secret key.

        Deriving (HMAC-SHA256 of the purpose under the secret key) keeps the purposes apart, so the
        session-signing key never doubles as the audit or encryption key.
        """
        explicit = {"totp": self.totp_key, "audit": self.audit_key}.get(purpose)
        if explicit:
            return hashlib.sha256(explicit.encode()).digest()
        if not self.secret_key:
            raise MissingSecretKey(f"no key for {purpose}: set {PREFIX}SECRET_KEY (or {PREFIX}"
                                   f"{purpose.upper()}_KEY)")
        return hmac.new(self.secret_key.encode(), f"contactpoint/{purpose}".encode(), hashlib.sha256).digest()


def _read_key_file(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
