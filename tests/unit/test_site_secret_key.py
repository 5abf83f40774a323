"""WALLET_SECRET_KEY: required in production, made once in development, kept out of repr()."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from config import ConfigError, Settings, development_secret_key

PRODUCTION = {"WALLET_ENV": "production", "WALLET_ADMIN_TOKEN": "t" * 32, "WALLET_CALLBACK_SECRET": "c" * 32,
              "WALLET_DATABASE_URL": "postgresql://db/wallet"}


@pytest.mark.parametrize("key", [None, "", "short-key", " " * 40, "k" * 31])
def test_production_refuses_to_start_without_a_secret_key_of_32_characters(key):
    env = dict(PRODUCTION) if key is None else {**PRODUCTION, "WALLET_SECRET_KEY": key}
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    assert "WALLET_SECRET_KEY" in str(refused.value)
    assert not key or key.strip() == "" or key not in str(refused.value)


def test_production_takes_the_key_and_keeps_it_out_of_repr():
    settings = Settings.from_env({**PRODUCTION, "WALLET_SECRET_KEY": "s3cret-" * 6})
    assert settings.secret_key == "s3cret-" * 6 and "s3cret-" not in repr(settings)


def test_development_makes_one_key_that_every_process_reads(tmp_path):
    path = tmp_path / "var" / "secret-key"
    with ThreadPoolExecutor(8) as pool:  # workers starting at once agree on one key
        keys = set(pool.map(lambda _: development_secret_key(path), range(16)))
    assert len(keys) == 1 and len(keys.pop()) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret-key"]  # no temporary file left


def test_development_uses_the_given_key_when_set():
    assert Settings.from_env({"WALLET_SECRET_KEY": "given"}).secret_key == "given"
