"""Settings read from the environment, once, when the app is created (never at import)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ROOT = Path(__file__).resolve().parent.parent
# No WALLET_DATABASE_URL: None, the embedded PostgreSQL with its data under var/postgres. Nothing
# starts it here; wallet.db.make_engine (the app, the CLI) and migrations/env.py (alembic) ask
# wallet.pgserver.default_url() for its URL when they connect, which starts it if needed.
DEFAULT_DATABASE_URL: str | None = None


class ConfigError(RuntimeError):
    """The environment does not describe a service that may start."""


def _networks(raw: str | None, name: str) -> tuple[Network, ...]:
    if not raw:
        return ()
    try:
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False)
            for part in raw.replace(";", ",").split(",")
            if part.strip()
        )
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from exc


def _number(raw: str | None, name: str, default: float, kind: type = int, minimum: float = 1) -> Any:
    """An integer (or, with kind=float, a number) of at least `minimum`, or the default when unset."""
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {raw!r}") from exc
    if not minimum <= value < float("inf"):  # also refuses nan and inf
        raise ConfigError(f"{name} must be at least {minimum}")
    return value


def _timezone(raw: str | None) -> str:
    """An IANA time zone name (Europe/Malta), UTC when unset."""
    name = (raw or "").strip() or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"WALLET_TIMEZONE must be an IANA time zone such as Europe/Malta, got {raw!r}") from exc
    return name


def _choice(raw: str | None, name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first when unset)."""
    value = (raw or "").strip().lower() or choices[0]
    if value not in choices:
        raise ConfigError(f"{name} must be {' or '.join(choices)}, got {raw!r}")
    return value


def _thresholds(raw: str | None) -> tuple[tuple[str, Decimal], ...]:
    """`USD=1000,EUR=1000,JPY=150000`: per currency, a positive amount in major units with at most the
    currency's minor-unit digits (exact, never rounded); each currency once."""
    from wallet.money import AmountError, is_known_currency, to_minor

    name = "WALLET_APPROVAL_THRESHOLDS"
    found: dict[str, Decimal] = {}
    for part in (raw or "").replace(";", ",").split(","):
        if not part.strip():
            continue
        currency, sep, amount = (p.strip() for p in part.partition("="))
        if not sep or not is_known_currency(currency):
            raise ConfigError(f"{name}: expected CURRENCY=AMOUNT with an ISO 4217 code (USD=1000), got {part!r}")
        if currency in found:
            raise ConfigError(f"{name}: {currency} is given twice")
        try:
            value = Decimal(amount)
            to_minor(value, currency)
        except (InvalidOperation, AmountError) as exc:
            raise ConfigError(f"{name}: {currency}'s threshold must be an amount of {currency}, "
                              f"got {amount!r}") from exc
        if not value.is_finite() or value <= 0:
            raise ConfigError(f"{name}: {currency}'s threshold must be positive, got {amount!r}")
        found[currency] = value
    return tuple(found.items())


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment. Secrets are kept out of repr()."""

    env: str = "development"
    database_url: str | None = DEFAULT_DATABASE_URL
    # A streaming replica for staff reads (lists, searches, reports, exports); None: the primary.
    read_database_url: str | None = field(default=None, repr=False)
    callback_secret: str | None = field(default=None, repr=False)
    allowed_networks: tuple[Network, ...] = ()
    trusted_proxies: tuple[Network, ...] = ()
    admin_token: str | None = field(default=None, repr=False)
    # Signs the back-office site's session cookie (and its CSRF tokens); shared by every worker and host.
    secret_key: str | None = field(default=None, repr=False)
    max_body_bytes: int = 1024 * 1024
    db_pool_size: int = 5
    db_max_overflow: int = 5
    db_pre_ping: bool = False
    provider_api_url: str = "http://127.0.0.1:8100"
    provider_id: str = "LuckyMonaco"
    provider_timeout: float = 5.0
    provider_attempts: int = 3
    provider_backoff: float = 0.5  # seconds before the 2nd attempt of a provider call; doubles after
    provider_api_style: str = "2024"  # CancelRound's body: 2024 (the seed page), or 2025 (V4.02, by round)
    provider_secure_login: str | None = None  # the operator's partner login at the provider
    provider_token: str | None = field(default=None, repr=False)  # the provider API's secret token
    log_level: str = "INFO"
    error_codes: str = "2024"  # the provider's error table: 2024, or 2025 (its V4.02 numbering)
    bonus_win: str = "record"  # BonusWin: record it (0.00, amount kept beside it), or credit it
    timezone: str = "UTC"  # the operator's calendar: the days, weeks and months of player limits
    limit_cooling_off_hours: float = 24.0  # how long a loosened player limit waits before it applies
    # Four eyes: (currency, amount in major units) pairs; a finance or admin adjustment at or above its
    # currency's amount waits for a second person. Empty: no adjustment waits.
    approval_thresholds: tuple[tuple[str, Decimal], ...] = ()
    request_log_days: int = 30  # days of the callbacks' request log kept (whole UTC days; prune-requests)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if environ is None else environ
        env = e.get("WALLET_ENV", "development").strip().lower() or "development"
        if env not in ("development", "production"):
            raise ConfigError(f"WALLET_ENV must be development or production, got {env!r}")
        settings = cls(
            env=env,
            database_url=e.get("WALLET_DATABASE_URL") or DEFAULT_DATABASE_URL,
            read_database_url=(e.get("WALLET_READ_DATABASE_URL") or "").strip() or None,
            callback_secret=e.get("WALLET_CALLBACK_SECRET") or None,
            allowed_networks=_networks(e.get("WALLET_ALLOWED_NETWORKS"), "WALLET_ALLOWED_NETWORKS"),
            trusted_proxies=_networks(e.get("WALLET_TRUSTED_PROXIES"), "WALLET_TRUSTED_PROXIES"),
            admin_token=e.get("WALLET_ADMIN_TOKEN") or None,
            secret_key=e.get("WALLET_SECRET_KEY") or (None if env == "production" else development_secret_key()),
            max_body_bytes=_number(e.get("WALLET_MAX_BODY_BYTES"), "WALLET_MAX_BODY_BYTES", 1024 * 1024),
            db_pool_size=_number(e.get("WALLET_DB_POOL_SIZE"), "WALLET_DB_POOL_SIZE", 5),
            db_max_overflow=_number(e.get("WALLET_DB_MAX_OVERFLOW"), "WALLET_DB_MAX_OVERFLOW", 5, minimum=0),
            db_pre_ping=(e.get("WALLET_DB_PRE_PING") or "").strip().lower() in ("1", "true", "yes", "on"),
            provider_api_url=(e.get("LUCKY_MONACO_API_URL") or "http://127.0.0.1:8100").rstrip("/"),
            provider_id=e.get("LUCKY_MONACO_PROVIDER_ID") or "LuckyMonaco",
            provider_timeout=_number(e.get("LUCKY_MONACO_TIMEOUT"), "LUCKY_MONACO_TIMEOUT", 5.0, float, 0.001),
            provider_attempts=_number(e.get("LUCKY_MONACO_ATTEMPTS"), "LUCKY_MONACO_ATTEMPTS", 3),
            provider_backoff=_number(e.get("LUCKY_MONACO_BACKOFF"), "LUCKY_MONACO_BACKOFF", 0.5, float, 0),
            provider_api_style=_choice(e.get("LUCKY_MONACO_API_STYLE"), "LUCKY_MONACO_API_STYLE", ("2024", "2025")),
            provider_secure_login=e.get("LUCKY_MONACO_SECURE_LOGIN") or None,
            provider_token=e.get("LUCKY_MONACO_TOKEN") or None,
            log_level=(e.get("WALLET_LOG_LEVEL") or "INFO").upper(),
            error_codes=_choice(e.get("WALLET_ERROR_CODES"), "WALLET_ERROR_CODES", ("2024", "2025")),
            bonus_win=_choice(e.get("WALLET_BONUS_WIN"), "WALLET_BONUS_WIN", ("record", "credit")),
            timezone=_timezone(e.get("WALLET_TIMEZONE")),
            approval_thresholds=_thresholds(e.get("WALLET_APPROVAL_THRESHOLDS")),
            limit_cooling_off_hours=_number(e.get("WALLET_LIMIT_COOLING_OFF_HOURS"), "WALLET_LIMIT_COOLING_OFF_HOURS",
                                            24.0, float, 0),
            request_log_days=_number(e.get("WALLET_REQUEST_LOG_DAYS"), "WALLET_REQUEST_LOG_DAYS", 30),
        )
        settings.check()
        if settings.provider_api_style == "2025" and not (settings.provider_secure_login and settings.provider_token):
            # The 2025 CancelRound authenticates with both; without them every cancel would be refused.
            raise ConfigError("LUCKY_MONACO_API_STYLE=2025 needs LUCKY_MONACO_SECURE_LOGIN and LUCKY_MONACO_TOKEN")
        return settings

    @property
    def thresholds(self) -> dict[str, Decimal]:
        """The approval thresholds by currency (four eyes)."""
        return dict(self.approval_thresholds)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def check(self) -> None:
        """Fail fast on settings that would run an open wallet in production.

        Secrets (the callback secret, the admin token) count without the blanks around
        them: one made only of blanks is no secret at all, and one shorter than
        MIN_SECRET_LENGTH is refused, even beside an allow-list (the wallet would check
        every callback's signature with it).
        """
        if not self.is_production:
            return
        problems = []
        secret = _secret_problem("WALLET_CALLBACK_SECRET", self.callback_secret)
        if secret:
            problems.append(secret)
        if not _has_secret(self.callback_secret) and not self.allowed_networks:
            problems.append(f"set WALLET_CALLBACK_SECRET (at least {MIN_SECRET_LENGTH} characters) "
                            "or WALLET_ALLOWED_NETWORKS: nothing would authenticate the callbacks")
        token = _secret_problem("WALLET_ADMIN_TOKEN", self.admin_token)
        if token:
            problems.append(token)
        if not _has_secret(self.admin_token):
            problems.append("set WALLET_ADMIN_TOKEN")
        if not self.secret_key or len(self.secret_key.strip()) < MIN_SECRET_KEY_LENGTH:
            problems.append(f"set WALLET_SECRET_KEY (at least {MIN_SECRET_KEY_LENGTH} characters): it signs the "
                            "back-office site's sessions")
        if not self.database_url:  # the embedded server is for a first run, not for money
            problems.append("set WALLET_DATABASE_URL (production does not run on the embedded PostgreSQL)")
        if problems:
            raise ConfigError("refusing to start in production: " + "; ".join(problems))


# The shortest callback secret or admin token production accepts (blanks around it not counted).
MIN_SECRET_LENGTH = 16
# The shortest WALLET_SECRET_KEY production accepts.
MIN_SECRET_KEY_LENGTH = 32


def development_secret_key(path: Path | None = None) -> str:
    """Development's session key when WALLET_SECRET_KEY is unset: var/secret-key, made once.

    Created exclusively (a link that fails when the file exists), so every gunicorn worker that
    starts at the same moment ends up reading the one key the first of them wrote.
    """
    path = path or ROOT / "var" / "secret-key"
    if not path.exists():
        import secrets
        import tempfile

        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-key-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48) + "\n")
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


def _has_secret(value: str | None) -> bool:
    """True when `value` is a secret at all: set, and not only blanks."""
    return bool(value and value.strip())


def _secret_problem(name: str, value: str | None) -> str | None:
    """Why the secret in variable `name` is refused in production, or None (also None when unset)."""
    if not value:
        return None
    if not value.strip():
        return f"{name} is only blanks, which is no secret at all"
    if len(value.strip()) < MIN_SECRET_LENGTH:
        return f"{name} must be at least {MIN_SECRET_LENGTH} characters"
    return None
