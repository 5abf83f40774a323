"""Settings read from the environment, once, when the app is created (never at import)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{ROOT / 'var' / 'wallet.sqlite3'}"


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


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment. Secrets are kept out of repr()."""

    env: str = "development"
    database_url: str = DEFAULT_DATABASE_URL
    callback_secret: str | None = field(default=None, repr=False)
    allowed_networks: tuple[Network, ...] = ()
    trusted_proxies: tuple[Network, ...] = ()
    admin_token: str | None = field(default=None, repr=False)
    max_body_bytes: int = 1024 * 1024
    db_pool_size: int = 5
    db_max_overflow: int = 5
    db_pre_ping: bool = False
    provider_api_url: str = "http://127.0.0.1:8100"
    provider_id: str = "LuckyMonaco"
    provider_timeout: float = 5.0
    provider_attempts: int = 3
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if environ is None else environ
        env = e.get("WALLET_ENV", "development").strip().lower() or "development"
        if env not in ("development", "production"):
            raise ConfigError(f"WALLET_ENV must be development or production, got {env!r}")
        settings = cls(
            env=env,
            database_url=e.get("WALLET_DATABASE_URL") or DEFAULT_DATABASE_URL,
            callback_secret=e.get("WALLET_CALLBACK_SECRET") or None,
            allowed_networks=_networks(e.get("WALLET_ALLOWED_NETWORKS"), "WALLET_ALLOWED_NETWORKS"),
            trusted_proxies=_networks(e.get("WALLET_TRUSTED_PROXIES"), "WALLET_TRUSTED_PROXIES"),
            admin_token=e.get("WALLET_ADMIN_TOKEN") or None,
            max_body_bytes=_number(e.get("WALLET_MAX_BODY_BYTES"), "WALLET_MAX_BODY_BYTES", 1024 * 1024),
            db_pool_size=_number(e.get("WALLET_DB_POOL_SIZE"), "WALLET_DB_POOL_SIZE", 5),
            db_max_overflow=_number(e.get("WALLET_DB_MAX_OVERFLOW"), "WALLET_DB_MAX_OVERFLOW", 5, minimum=0),
            db_pre_ping=(e.get("WALLET_DB_PRE_PING") or "").strip().lower() in ("1", "true", "yes", "on"),
            provider_api_url=(e.get("LUCKY_MONACO_API_URL") or "http://127.0.0.1:8100").rstrip("/"),
            provider_id=e.get("LUCKY_MONACO_PROVIDER_ID") or "LuckyMonaco",
            provider_timeout=_number(e.get("LUCKY_MONACO_TIMEOUT"), "LUCKY_MONACO_TIMEOUT", 5.0, float, 0.001),
            provider_attempts=_number(e.get("LUCKY_MONACO_ATTEMPTS"), "LUCKY_MONACO_ATTEMPTS", 3),
            log_level=(e.get("WALLET_LOG_LEVEL") or "INFO").upper(),
        )
        settings.check()
        return settings

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def check(self) -> None:
        """Fail fast on settings that would run an open wallet in production."""
        if not self.is_production:
            return
        problems = []
        if not self.callback_secret and not self.allowed_networks:
            problems.append("set WALLET_CALLBACK_SECRET or WALLET_ALLOWED_NETWORKS")
        if not self.admin_token:
            problems.append("set WALLET_ADMIN_TOKEN")
        if self.admin_token and len(self.admin_token) < 16:
            problems.append("WALLET_ADMIN_TOKEN must be at least 16 characters")
        if problems:
            raise ConfigError("refusing to start in production: " + "; ".join(problems))
