"""Exactly one answer per callback uuid, and the call that survives a database restart.

The stored functions keep the answer in the same transaction as the work it
describes (wallet/ledger/sql/requests.sql), so a replayed uuid gets the first
answer back and the money cannot move twice. What is left for Python is the two
cases where a call must be made again: it lost the race for its uuid to a
concurrent request, or its connection died under it.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from wallet.jsonutil import dumps
from wallet.ledger import functions
from wallet.ledger.movements import Movement
from wallet.ledger.outcomes import Answer
from wallet.ledger.requests import CallbackRequest

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


def run_callback(engine: Engine, q: CallbackRequest) -> Reply:
    """Run q's stored function; once more if its connection had died (a database restart).

    Repeating is safe because the answer is stored with the work: if the lost
    connection had committed after all, the second call meets the stored answer
    and returns it; otherwise it does the work for the first time.
    Returns only after the commit. Database errors propagate (the caller maps them).
    """
    try:
        return _call(engine, q)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        log.warning("database connection lost in %s uuid=%s; retrying on a new one", q.method, q.uuid)
        return _call(engine, q)


def _call(engine: Engine, q: CallbackRequest) -> Reply:
    done = functions.call(engine, q)
    if done is None:
        # A concurrent request with this uuid stored its answer first, and this call was
        # rolled back whole. Its answer is committed now (the uniqueness check waited for
        # it): the same call meets it and returns it, or 5 for another body.
        done = functions.call(engine, q)
        assert done is not None, "a uuid's answer cannot be lost twice"
    return Reply(*done)
