"""Production refuses a callback secret (or admin token) that is short or made of blanks
(docs/protocol.md): a blank secret is no secret at all."""

from __future__ import annotations

import pytest

from config import MIN_SECRET_LENGTH, ConfigError, Settings

TOKEN = "t" * 32
GOOD = "k" * MIN_SECRET_LENGTH


def _production(**env: str) -> Settings:
    return Settings.from_env({"WALLET_ENV": "production", "WALLET_ADMIN_TOKEN": TOKEN,
                              "WALLET_DATABASE_URL": "postgresql://db/wallet", "WALLET_SECRET_KEY": "y" * 32, **env})


@pytest.mark.parametrize("secret", [" ", " " * 40, "\t\n  \r", "\u3000" * 20])
def test_a_blank_secret_without_an_allow_list_refuses_to_start_and_says_why(secret):
    with pytest.raises(ConfigError) as err:
        _production(WALLET_CALLBACK_SECRET=secret)
    message = str(err.value)
    assert "WALLET_CALLBACK_SECRET is only blanks" in message
    assert "WALLET_ALLOWED_NETWORKS" in message  # what to set instead


@pytest.mark.parametrize("secret", ["s", "x" * (MIN_SECRET_LENGTH - 1), "  " + "x" * (MIN_SECRET_LENGTH - 1) + "  "])
def test_a_short_secret_is_refused(secret):
    with pytest.raises(ConfigError, match=f"at least {MIN_SECRET_LENGTH} characters"):
        _production(WALLET_CALLBACK_SECRET=secret)


@pytest.mark.parametrize("secret", [" " * 20, "short"])
def test_a_weak_secret_is_refused_even_beside_an_allow_list(secret):
    """The wallet would check every callback's signature with it: refusing beats a guessable key."""
    with pytest.raises(ConfigError):
        _production(WALLET_CALLBACK_SECRET=secret, WALLET_ALLOWED_NETWORKS="10.0.0.0/8")


def test_a_secret_of_sixteen_characters_or_an_allow_list_alone_starts():
    assert _production(WALLET_CALLBACK_SECRET=GOOD).callback_secret == GOOD
    assert _production(WALLET_ALLOWED_NETWORKS="10.0.0.0/8").callback_secret is None


@pytest.mark.parametrize("token", [" " * 32, "short"])
def test_the_admin_token_follows_the_same_rule(token):
    with pytest.raises(ConfigError, match="WALLET_ADMIN_TOKEN"):
        Settings.from_env({"WALLET_ENV": "production", "WALLET_ADMIN_TOKEN": token,
                           "WALLET_CALLBACK_SECRET": GOOD})


def test_development_does_not_care():
    assert Settings.from_env({"WALLET_CALLBACK_SECRET": " "}).callback_secret == " "
