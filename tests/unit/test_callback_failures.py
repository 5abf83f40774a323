"""What a callback answers when its run raises (wallet/callbacks/blueprint.py, `_failed`): a data
error from the database (SQLSTATE class 22) is a final 7, never 100; a fault a retry (or a fix)
can cure is 100, or 130 for EndRound; a Refund's answer still echoes its reference."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from prometheus_client import REGISTRY
from psycopg import errors
from sqlalchemy.exc import DBAPIError

from tests.conftest import Provider, make_app
from wallet.callbacks import blueprint, schemas

SQL = "SELECT o_error FROM wallet_secret_statement($1)"


def _wrapped(orig: Exception) -> DBAPIError:
    """As SQLAlchemy (and wallet.ledger.functions) raise a driver's error."""
    return DBAPIError.instance(SQL, None, orig, psycopg.Error)


DATA_ERRORS = [
    _wrapped(errors.StringDataRightTruncation("value too long for type character varying(64)")),
    _wrapped(errors.NumericValueOutOfRange("bigint out of range")),
    _wrapped(errors.CharacterNotInRepertoire("invalid byte sequence")),
    _wrapped(errors.InvalidTextRepresentation("invalid input syntax for type numeric")),
    _wrapped(errors.DatetimeFieldOverflow("date/time field value out of range")),
    _wrapped(psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")),  # from the driver
    errors.StringDataRightTruncation("raised bare"),
]
RETRYABLE = [
    _wrapped(psycopg.OperationalError("connection refused")),
    _wrapped(errors.SerializationFailure("could not serialize access")),
    _wrapped(errors.DeadlockDetected("deadlock detected")),
    _wrapped(errors.LockNotAvailable("could not obtain lock")),
    _wrapped(errors.QueryCanceled("canceling statement due to statement timeout")),
    _wrapped(errors.AdminShutdown("terminating connection due to administrator command")),
    _wrapped(errors.CannotConnectNow("the database system is starting up")),
    _wrapped(errors.DiskFull("could not extend file")),
    _wrapped(errors.TooManyConnections("too many clients already")),
    _wrapped(errors.UndefinedFunction("function wallet_bet does not exist")),  # not migrated yet: a fix cures
    _wrapped(errors.UniqueViolation("duplicate key")),  # a race lost: the retry meets the winner's row
    RuntimeError("a bug in the wallet"),
    KeyError("a bug in the wallet"),
]
METHODS = ["Check", "Balance", "Bet", "Result", "Refund", "EndRound"]


@pytest.fixture(scope="module")
def mocked() -> Iterator[Provider]:
    """The provider's client of a wallet whose run_callback each test replaces: no database needed."""
    app = make_app("postgresql+psycopg://nobody@127.0.0.1:1/none")
    yield Provider(app.test_client())
    app.extensions["wallet.engine"].dispose()


def _raising(exc: Exception) -> Any:
    def run(*args: Any, **kwargs: Any) -> Any:
        raise exc
    return run


def _failures() -> float:
    return sum(REGISTRY.get_sample_value("wallet_callback_failures_total", {"method": m, "kind": k}) or 0.0
               for m in METHODS for k in ("database", "unexpected", "data"))


@pytest.mark.parametrize("exc", DATA_ERRORS, ids=lambda e: type(getattr(e, "orig", e)).__name__)
@pytest.mark.parametrize("method", METHODS)
def test_a_data_error_is_a_final_7_with_a_short_reason(mocked, monkeypatch, caplog, method, exc):
    monkeypatch.setattr(blueprint, "run_callback", _raising(exc))
    failures = _failures()
    with caplog.at_level(logging.ERROR, logger="wallet.callbacks"):
        answer = mocked.call(method, reference="the-ref", amount="1.00")
    assert answer["error"] == 7 and answer["description"].startswith("Bad parameters: "), answer
    assert "wallet_secret_statement" not in answer["description"] and "varchar" not in answer["description"]
    assert len(answer["description"]) < 80
    if method == "Refund":
        assert answer["reference"] == "the-ref"
    assert _failures() == failures  # not a failure to serve: nothing for the retry alert
    assert any("data error" in r.getMessage() for r in caplog.records)  # but a gap at the edge: logged


@pytest.mark.parametrize("exc", RETRYABLE, ids=lambda e: type(getattr(e, "orig", e)).__name__)
@pytest.mark.parametrize("method", METHODS)
def test_a_fault_a_retry_can_cure_is_100_and_130_for_end_round(mocked, monkeypatch, method, exc):
    monkeypatch.setattr(blueprint, "run_callback", _raising(exc))
    failures = _failures()
    answer = mocked.call(method, reference="the-ref", amount="1.00")
    assert answer["error"] == (130 if method == "EndRound" else 100), answer
    assert answer["description"] == "Internal error, please retry"
    if method == "Refund":
        assert answer["reference"] == "the-ref"
    assert _failures() == failures + 1


@pytest.mark.parametrize("method", METHODS)
def test_the_database_unreachable_is_100_and_130_for_end_round(method):
    app = make_app("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        answer = Provider(app.test_client()).call(method, reference="the-ref", amount="1.00")
    finally:
        app.extensions["wallet.engine"].dispose()
    assert answer["error"] == (130 if method == "EndRound" else 100), answer


# --------------------------------------------------------------------------- the real database

def _past_the_edge(monkeypatch: pytest.MonkeyPatch, **changes: Any) -> None:
    """Let a value the edge refuses reach the database, as a gap in the edge's checks would."""
    real = schemas.parse

    def parse(method: str, data: Any) -> Any:
        return dataclasses.replace(real(method, data), **changes)

    monkeypatch.setattr(blueprint, "parse", parse)


@pytest.mark.parametrize("method, changes", [
    ("Bet", {"timestamp": "t" * 5000}),
    ("Result", {"timestamp": "t" * 5000}),
    ("Refund", {"reference": "r" * 500}),
    ("Bet", {"reference": "nul\x00inside"}),
    ("Bet", {"session_id": "s" * 300}),
], ids=["bet-timestamp", "result-timestamp", "refund-reference", "bet-nul", "bet-session"])
def test_a_real_data_error_from_postgresql_is_7_and_moves_nothing(provider, operator, player, monkeypatch,
                                                                   method, changes):
    provider.call("Bet", reference="real-bet", amount="2.00")
    _past_the_edge(monkeypatch, **changes)
    answer = provider.call(method, reference="real-bet" if method == "Refund" else "other-ref", amount="1.00")
    assert answer["error"] == 7 and answer["description"].startswith("Bad parameters: "), answer
    assert "INSERT" not in answer["description"] and "SELECT" not in answer["description"]
    assert operator.balance() == Decimal("998.00")
    monkeypatch.undo()
    # The same uuid was never stored as answered: nothing is half-done, and the ledger balances.
    assert operator.reconciliation() == {"ok": True, "mismatches": [], "bonusWinsRecorded": []}
