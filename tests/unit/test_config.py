"""Settings come from the environment; production refuses to run open."""

from __future__ import annotations

import ipaddress

import pytest

from config import DEFAULT_DATABASE_URL, ConfigError, Settings


def test_defaults_are_a_local_development_wallet():
    s = Settings.from_env({})
    assert s.env == "development" and s.database_url == DEFAULT_DATABASE_URL
    assert s.callback_secret is None and s.admin_token is None and s.max_body_bytes == 1024 * 1024


def test_every_variable_is_read():
    s = Settings.from_env({
        "WALLET_ENV": "production", "WALLET_DATABASE_URL": "postgresql://db/wallet",
        "WALLET_CALLBACK_SECRET": "s3cret-s3cret-s3cret", "WALLET_ALLOWED_NETWORKS": "10.0.0.0/8, 192.168.1.5",
        "WALLET_TRUSTED_PROXIES": "127.0.0.1/32", "WALLET_ADMIN_TOKEN": "x" * 32, "WALLET_MAX_BODY_BYTES": "2048",
        "WALLET_SECRET_KEY": "y" * 32,
        "LUCKY_MONACO_API_URL": "https://api.example/", "WALLET_DB_POOL_SIZE": "3",
    })
    assert s.is_production and s.callback_secret == "s3cret-s3cret-s3cret" and s.max_body_bytes == 2048
    assert s.allowed_networks == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.168.1.5/32"))
    assert s.provider_api_url == "https://api.example" and s.db_pool_size == 3


def test_secrets_stay_out_of_repr():
    s = Settings(callback_secret="callback-secret-value", admin_token="admin-token-value")
    assert "callback-secret-value" not in repr(s) and "admin-token-value" not in repr(s)


@pytest.mark.parametrize("env", [
    {"WALLET_ENV": "production", "WALLET_ADMIN_TOKEN": "x" * 32},
    {"WALLET_ENV": "production", "WALLET_CALLBACK_SECRET": "s"},
    {"WALLET_ENV": "production", "WALLET_CALLBACK_SECRET": "s", "WALLET_ADMIN_TOKEN": "short"},
])
def test_production_refuses_insecure_settings(env):
    with pytest.raises(ConfigError):
        Settings.from_env(env)


def test_production_accepts_an_allow_list_instead_of_a_secret():
    s = Settings.from_env({"WALLET_ENV": "production", "WALLET_ALLOWED_NETWORKS": "10.1.0.0/16",
                           "WALLET_ADMIN_TOKEN": "x" * 32, "WALLET_DATABASE_URL": "postgresql://db/wallet",
                           "WALLET_SECRET_KEY": "y" * 32})
    assert s.callback_secret is None and s.allowed_networks


@pytest.mark.parametrize("env", [
    {"WALLET_ENV": "staging"}, {"WALLET_ALLOWED_NETWORKS": "not-a-network"}, {"WALLET_MAX_BODY_BYTES": "big"},
    {"WALLET_MAX_BODY_BYTES": "0"},
])
def test_malformed_settings_fail_fast(env):
    with pytest.raises(ConfigError):
        Settings.from_env(env)


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1", "soon"])
def test_provider_timeout_must_be_a_positive_finite_number(value):
    with pytest.raises(ConfigError):
        Settings.from_env({"LUCKY_MONACO_TIMEOUT": value})
    assert Settings.from_env({"LUCKY_MONACO_TIMEOUT": "2.5"}).provider_timeout == 2.5


def test_production_refuses_the_embedded_database():
    with pytest.raises(ConfigError, match="WALLET_DATABASE_URL"):
        Settings.from_env({"WALLET_ENV": "production", "WALLET_CALLBACK_SECRET": "s" * 32,
                           "WALLET_ADMIN_TOKEN": "x" * 32})


@pytest.mark.parametrize("raw,days", [(None, 30), ("", 30), ("1", 1), ("90", 90)])
def test_the_request_log_keeps_whole_days_30_by_default(raw, days):
    assert Settings.from_env({} if raw is None else {"WALLET_REQUEST_LOG_DAYS": raw}).request_log_days == days


@pytest.mark.parametrize("raw", ["0", "-3", "1.5", "a month"])
def test_the_request_log_keeps_at_least_one_day(raw):
    with pytest.raises(ConfigError, match="WALLET_REQUEST_LOG_DAYS"):
        Settings.from_env({"WALLET_REQUEST_LOG_DAYS": raw})
