"""One place for limits (wallet/limits.py): the columns are as wide as the constants say, and every
limit is checked at the edge, so a value at the limit is stored and one past it is a final 7 that
moves nothing (docs/protocol.md, "final or retry, never confused"). On the real database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import String, Text, create_engine, text

import wallet.provider.models  # noqa: F401  (the cancel tables share the ledger's metadata)
from tests.support import callback_body
from wallet.ledger.models import Base
from wallet.limits import (
    FREE_JSON_BYTES,
    FREE_TEXT_LENGTH,
    IDENTIFIER_LENGTH,
    JSON_MAX_DEPTH,
    SESSION_ID_LENGTH,
)

# The provider's fields, the column that stores each, and its limit.
TEXT_FIELDS = [
    ("uuid", "requests", "uuid", IDENTIFIER_LENGTH),
    ("reference", "transactions", "reference", IDENTIFIER_LENGTH),
    ("roundId", "rounds", "round_id", IDENTIFIER_LENGTH),
    ("gameId", "transactions", "game_id", IDENTIFIER_LENGTH),
    ("gameName", "transactions", "game_name", IDENTIFIER_LENGTH),
    ("providerId", "transactions", "provider_id", IDENTIFIER_LENGTH),
    ("bonusCode", "transactions", "bonus_code", IDENTIFIER_LENGTH),
    ("sessionId", "transactions", "session_id", SESSION_ID_LENGTH),
    ("timeStamp", "transactions", "provider_ts", FREE_TEXT_LENGTH),
]


def _column_lengths(url: str) -> dict[tuple[str, str], int | None]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT table_name, column_name, character_maximum_length FROM information_schema.columns"
            " WHERE table_schema = 'public' AND data_type = 'character varying'"
        )).all()
    engine.dispose()
    return {(t, c): n for t, c, n in rows}


def test_the_migrated_columns_are_as_wide_as_the_models_and_the_models_use_the_constants(postgres_url):
    """Migrations write their numbers out (frozen history); here they meet the constants."""
    migrated = {key: n for key, n in _column_lengths(postgres_url).items() if key[0] in Base.metadata.tables}
    modelled = {
        (table.name, column.name): column.type.length
        for table in Base.metadata.tables.values() for column in table.columns
        if isinstance(column.type, String) and not isinstance(column.type, Text)
    }
    assert migrated == modelled
    for _field, table, column, limit in TEXT_FIELDS:
        assert modelled[(table, column)] == limit, (table, column)
    assert migrated[("transactions", "provider_ts")] == FREE_TEXT_LENGTH == 1024


def _stored(url: str, sql: str) -> Any:
    engine = create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(text(sql)).scalar()
    engine.dispose()
    return value


def _state(url: str) -> tuple[Any, ...]:
    engine = create_engine(url)
    with engine.connect() as conn:
        state = (conn.execute(text("SELECT user_id, balance FROM players ORDER BY id")).all(),
                 conn.execute(text("SELECT count(*) FROM transactions")).scalar(),
                 conn.execute(text("SELECT count(*) FROM rounds")).scalar())
    engine.dispose()
    return state


@pytest.mark.parametrize("field, table, column, limit", TEXT_FIELDS, ids=[f[0] for f in TEXT_FIELDS])
def test_text_at_its_limit_is_stored_and_one_character_more_is_a_final_7(
        provider, operator, player, postgres_url, field, table, column, limit):
    # Multi-byte characters: the limits are characters, as VARCHAR counts them.
    at_limit = ("é" if field != "uuid" else "u") * limit
    bet = provider.call("Bet", amount="1.00", **{field: at_limit})
    assert bet["error"] == 0, bet
    assert _stored(postgres_url, f"SELECT max(length({column})) FROM {table}") == limit

    before = _state(postgres_url)
    answer = provider.call("Bet", amount="1.00", **{field: at_limit + "é"})
    assert answer["error"] == 7 and answer["description"].startswith("Bad parameters"), answer
    assert _state(postgres_url) == before
    assert operator.reconciliation() == {"ok": True, "mismatches": [], "bonusWinsRecorded": []}


def test_user_id_past_its_limit_is_7_not_player_not_found(provider, player):
    assert provider.call("Balance", userId="p" * (IDENTIFIER_LENGTH + 1))["error"] == 7
    assert provider.call("Balance", userId="p" * IDENTIFIER_LENGTH)["error"] == 100  # no such player: retry


@pytest.mark.parametrize("method", ["Bet", "Result", "Refund", "EndRound"])
def test_a_long_timestamp_is_refused_by_every_callback_that_carries_one(provider, player, method):
    fields: dict[str, Any] = {"timeStamp": "t" * (FREE_TEXT_LENGTH + 1)}
    if method == "Refund":
        fields["reference"] = "some-bet"
    answer = provider.call(method, **fields)
    assert answer["error"] == 7, answer
    if method == "Refund":
        assert answer["reference"] == "some-bet"  # a Refund answer echoes the reference, even refused


def test_a_refund_with_a_timestamp_of_the_contract_s_length_returns_the_stake(provider, operator, player):
    """The issue's case: a Refund whose timeStamp the old VARCHAR(64) could not hold was answered
    100 for ever, and the player's stake never came back."""
    provider.call("Bet", reference="stuck-bet", amount="5.00")
    refund = provider.call("Refund", reference="stuck-bet", timeStamp="2026-11-24T10:00:00Z " + "x" * 1000)
    assert refund["error"] == 0 and refund["cash"] == Decimal("1000.00"), refund
    assert operator.reconciliation()["ok"] is True


@pytest.mark.parametrize("as_json", [False, True], ids=["string", "json"])
def test_round_details_up_to_64_kib_once_serialised(provider, player, postgres_url, as_json):
    def details(size: int) -> Any:
        if not as_json:
            return "é" * (size // 2) + "x" * (size % 2)  # UTF-8 bytes: 2 per é
        return {"d": "x" * (size - len('{"d":""}'))}  # compact, as stored

    assert provider.call("Bet", amount="1.00", roundDetails=details(FREE_JSON_BYTES))["error"] == 0
    stored = _stored(postgres_url, "SELECT max(octet_length(round_details)) FROM transactions")
    assert stored == FREE_JSON_BYTES
    answer = provider.call("Bet", amount="1.00", roundDetails=details(FREE_JSON_BYTES + 1))
    assert answer["error"] == 7 and "roundDetails" in answer["description"], answer


def test_json_nesting_of_64_levels_is_served_and_65_is_7(provider, player):
    def nested(levels: int) -> Any:  # the body is level 1, roundDetails' value level 2, ...
        value: Any = "leaf"
        for _ in range(levels - 1):
            value = [value]
        return value

    assert provider.call("Bet", amount="1.00", roundDetails=nested(JSON_MAX_DEPTH))["error"] == 0
    answer = provider.call("Bet", amount="1.00", roundDetails=nested(JSON_MAX_DEPTH + 1))
    assert answer["error"] == 7 and "nested deeper than 64" in answer["description"], answer
    # Deep in a field the wallet ignores: the same.
    assert provider.call("Balance", extra=nested(JSON_MAX_DEPTH + 1))["error"] == 7
    assert provider.call("Balance", extra=nested(JSON_MAX_DEPTH))["error"] == 0
