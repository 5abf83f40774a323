"""Exactly one answer per callback uuid.

The answer is stored in the same transaction as the work it describes, so a
replayed uuid gets the first answer back and the money cannot move twice. The
uuid is the primary key of `requests`: two workers racing with one uuid
serialise on that key, the loser rolls back all it did and replays the
winner's answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, Row, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from wallet.jsonutil import dumps, loads
from wallet.ledger import functions
from wallet.ledger.movements import Movement, collecting
from wallet.ledger.models import requests_log, utcnow
from wallet.ledger.outcomes import Answer, Code, Refused
from wallet.ledger.requests import CallbackRequest

Operation = Callable[[Connection, CallbackRequest], Answer]
log = logging.getLogger("wallet.callbacks")


class Reply(NamedTuple):
    """The provider error code of an answer and its JSON text, exactly as sent (and stored).

    `moved`: the ledger entries this very call committed (empty for replays), for metrics.
    """

    error: int
    body: str
    moved: tuple[Movement, ...] = ()

    @classmethod
    def of(cls, answer: Answer) -> Reply:
        return cls(int(answer.error), dumps(answer.as_dict()))


class _LostRace(Exception):
    """Another transaction stored an answer for this uuid first."""


def _stored(conn: Connection, uuid: str) -> Row[Any] | None:
    return conn.execute(
        select(requests_log.c.body_hash, requests_log.c.response).where(requests_log.c.uuid == uuid)
    ).first()


@cache
def _remember_statement(dialect_name: str) -> Any:
    """Built once per dialect: SQLAlchemy reuses its compiled form (docs/performance.md)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(requests_log)
        .values(uuid=bindparam("q_uuid"), method=bindparam("q_method"), body_hash=bindparam("q_body_hash"),
                response=bindparam("q_response"), created_at=bindparam("q_created_at"))
        .on_conflict_do_nothing(index_elements=["uuid"])
        .returning(requests_log.c.uuid)
    )


def _remember(conn: Connection, q: CallbackRequest, response: str) -> bool:
    inserted = conn.execute(_remember_statement(conn.dialect.name), {
        "q_uuid": q.uuid, "q_method": q.method, "q_body_hash": q.body_hash, "q_response": response,
        "q_created_at": utcnow(),
    }).first()
    return inserted is not None


def _replay(stored: Row[Any], q: CallbackRequest) -> Reply:
    if stored.body_hash != q.body_hash:
        fields = {"reference": q.reference} if q.method == "refund" and q.reference else {}
        return Reply.of(Answer(Code.INVALID_UUID_OR_SIGNATURE, "uuid already used for a different request", fields))
    return Reply(int(loads(stored.response)["error"]), stored.response)


def _stored_reply(engine: Engine, q: CallbackRequest) -> Reply | None:
    """The answer stored under `q.uuid` as this request gets it (the answer, or 5), if any."""
    with engine.begin() as conn:
        stored = _stored(conn, q.uuid)
    return None if stored is None else _replay(stored, q)


def run_callback(engine: Engine, q: CallbackRequest, operation: Operation) -> Reply:
    """Run `operation` for `q.uuid`; once more if its pooled connection had died (a database restart).

    Repeating is safe because of this module: if the lost connection had
    committed after all, the second run meets the stored answer and returns it;
    otherwise it does the work for the first time. The dead connection
    invalidated the pool, so the second run gets a fresh one.
    """
    try:
        return _run_once(engine, q, operation)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        log.warning("database connection lost in %s uuid=%s; retrying on a new one", q.method, q.uuid)
        return _run_once(engine, q, operation)


def _run_once(engine: Engine, q: CallbackRequest, operation: Operation) -> Reply:
    """Run `operation` once for `q.uuid` and return the JSON answer (the stored one on replay).

    The uuid is not looked up first: for a new uuid, the usual case, that costs
    no round trip. A replayed uuid runs the operation again, but the INSERT of
    its answer finds the first one (ON CONFLICT, waiting for a concurrent first
    attempt to commit), so the whole transaction is rolled back: it moves
    nothing, and the stored answer is sent.

    Returns only after the commit: an answer never reports work that did not
    reach the database. Database errors propagate (the caller answers 100).

    On PostgreSQL, Bet, Result and Refund run all of this (the operation, the stored
    answer, the lost race) inside one stored function call (`functions`).
    """
    if functions.handles(engine, q.method):
        done = functions.call(engine, q)
        return Reply(*done) if done is not None else _winner(engine, q)
    try:
        with collecting() as moved, engine.begin() as conn:
            reply = Reply.of(operation(conn, q))
            if not _remember(conn, q, reply.body):
                raise _LostRace
        return reply._replace(moved=tuple(moved))  # committed
    except Refused as refused:
        # Nothing of the refused operation is kept. A final answer is, so that a replay gets
        # it again; "internal error, retry" is not, or the provider's retry could never pass.
        reply = Reply.of(refused.answer)
        if reply.error == Code.INTERNAL_RETRY:  # unless the uuid is taken: then its answer, or 5
            return _stored_reply(engine, q) or reply
        with engine.begin() as conn:
            if _remember(conn, q, reply.body):
                return reply
    except _LostRace:
        pass
    return _winner(engine, q)


def _winner(engine: Engine, q: CallbackRequest) -> Reply:
    """The answer of the request that stored one for `q.uuid` first (this one lost the race)."""
    replayed = _stored_reply(engine, q)
    assert replayed is not None
    return replayed
