"""Every operator -> provider call, recorded for staff; GetRoundStatus, CloseSession and HealthCheck.

A call is stored before it is sent and finished after, in short transactions
of their own, never one held across the network (the provider calls this
wallet back during a CancelRound, and that Refund locks the player's row):

1. `open_call`: the `pending` row, with the body as stored (no token);
2. `run`: each HTTP attempt committed as it ends;
3. the final status with the provider's answer, or the reason there is none.

The admin API and the CLI (wallet/admin) call the functions here and in
wallet/provider/service.py (CancelRound) and wallet/provider/sweeper.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, select, update
from sqlalchemy.dialects.postgresql import insert

from config import Settings
from wallet import clock
from wallet.people import audit
from wallet.people.staff import Actor, require
from wallet.jsonutil import dumps, loads
from wallet.ledger.models import iso, players, rounds
from wallet.ledger.outcomes import Invalid, NotFound
from wallet.observability import count_provider_call, observe_provider_health
from wallet.provider.client import Attempt, ProviderAnswer, ProviderClient, new_uuid
from wallet.provider.models import CALL_KINDS, provider_call_attempts, provider_calls

log = logging.getLogger("wallet.provider")

MAX_PAGE = 1000


@dataclass(frozen=True)
class Outcome:
    """How a call ended: its record's id and status, and the provider's answer when it gave one."""

    call_id: int
    status: str
    answer: ProviderAnswer | None
    description: str | None


@contextmanager
def provider_client(settings: Settings, client: ProviderClient | None = None) -> Iterator[ProviderClient]:
    """The given client, or one built from the settings for this use (and closed after it)."""
    if client is not None:
        yield client
        return
    made = ProviderClient.from_settings(settings)
    try:
        yield made
    finally:
        made.close()


def open_call(
    conn: Connection,
    client: ProviderClient,
    kind: str,
    body: dict[str, Any],
    *,
    requested_by: str,
    reason: str | None = None,
    user_id: str | None = None,
    round_id: str | None = None,
    reference: str | None = None,
    bet_id: int | None = None,
    round_pk: int | None = None,
    sweep_id: int | None = None,
) -> int | None:
    """Insert the `pending` record of a call about to be sent; its id, or None when a unique index
    refused it (INSERT ... ON CONFLICT DO NOTHING: a cancel of that bet in flight, a round a sweep
    has already cancelled). The stored body has the token replaced by "***"."""
    return conn.execute(
        insert(provider_calls)
        .values(
            kind=kind, uuid=body["uuid"], requested_by=requested_by, reason=reason, user_id=user_id,
            round_id=round_id, reference=reference, bet_transaction_id=bet_id, round_pk=round_pk,
            sweep_id=sweep_id, request_body=dumps(client.redacted(body)), status="pending",
            created_at=clock.utcnow(),
        )
        .on_conflict_do_nothing()
        .returning(provider_calls.c.id)
    ).scalar_one_or_none()


def run(
    engine: Engine,
    client: ProviderClient,
    call_id: int,
    kind: str,
    body: dict[str, Any],
    *,
    attempts: int | None = None,
    deadline: float | None = None,
) -> Outcome:
    """Send the call recorded as `call_id`, store each attempt as it ends, and its outcome."""
    last: list[Attempt] = []

    def store(attempt: Attempt) -> None:
        last[:] = [attempt]
        with engine.begin() as conn:
            conn.execute(insert(provider_call_attempts).values(
                call_id=call_id, number=attempt.number, started_at=attempt.started_at,
                elapsed_ms=attempt.elapsed_ms, http_status=attempt.http_status, exception=attempt.exception,
                answer=attempt.answer, problem=attempt.problem,
            ))

    try:
        answer = client.call(kind, body, store, attempts=attempts, deadline=deadline)
    except Exception:
        _finish(engine, call_id, "failed", None, "internal error while sending; see the service log", None)
        count_provider_call(kind, "failed")
        raise
    if answer is None:
        tried = last[0].number if last else 0
        reason = last[0].problem if last else "not sent: no time left"
        status, error = "failed", None
        description = f"no usable answer after {tried} attempt{'s' if tried != 1 else ''}: {reason}"
        stored = None
    else:
        status = "confirmed" if answer.error == 0 else "rejected"
        error, description = answer.error, answer.description
        stored = client.scrub(dumps(answer.as_dict()))
    _finish(engine, call_id, status, error, description, stored)
    count_provider_call(kind, status)
    log.info("provider call", extra={"fields": {
        "kind": kind, "callId": call_id, "uuid": body["uuid"], "status": status, "error": error}})
    return Outcome(call_id, status, answer, description)


def _finish(engine: Engine, call_id: int, status: str, error: int | None, description: str | None,
            answer: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(provider_calls)
            .where(provider_calls.c.id == call_id)
            .values(status=status, error=error, description=description, answer=answer,
                    finished_at=clock.utcnow())
        )


def perform(engine: Engine, client: ProviderClient, kind: str, body: dict[str, Any], *,
            attempts: int | None = None, deadline: float | None = None, **record: Any) -> Outcome:
    """Record, send and finish one call that no unique index constrains (all but CancelRound)."""
    with engine.begin() as conn:
        call_id = open_call(conn, client, kind, body, **record)
    assert call_id is not None  # a fresh uuid, and no other index applies to these kinds
    return run(engine, client, call_id, kind, body, attempts=attempts, deadline=deadline)


# --------------------------------------------------------------------------- the calls


def _round_of(conn: Connection, round_id: str, user_id: str | None) -> Row[Any] | None:
    """The wallet's round `round_id` (of `user_id`, or the only one with that id), or None."""
    stmt = (select(rounds.c.id, players.c.user_id)
            .select_from(rounds.join(players, players.c.id == rounds.c.player_id))
            .where(rounds.c.round_id == round_id))
    if user_id is not None:
        stmt = stmt.where(players.c.user_id == user_id)
    found = conn.execute(stmt.limit(2)).all()
    return found[0] if len(found) == 1 else None


def round_status(
    engine: Engine,
    settings: Settings,
    round_id: str,
    *,
    requested_by: str,
    user_id: str | None = None,
    reason: str | None = None,
    sweep_id: int | None = None,
    client: ProviderClient | None = None,
    deadline: float | None = None,
) -> Outcome:
    """Ask GetRoundStatus about `round_id`. The outcome is `confirmed` only when the provider answered 0
    with a round status of its list (`answer.round_status`); `rejected` when it answered another code;
    `failed` when it gave no usable answer (an unknown status included)."""
    with provider_client(settings, client) as c:
        with engine.connect() as conn:
            known = _round_of(conn, round_id, user_id)
        body = c.round_status_body(new_uuid(), round_id)
        return perform(engine, c, "GetRoundStatus", body, deadline=deadline, requested_by=requested_by,
                       reason=reason, user_id=user_id or (known.user_id if known else None), round_id=round_id,
                       round_pk=known.id if known else None, sweep_id=sweep_id)


def close_session(
    engine: Engine,
    settings: Settings,
    user_id: str,
    *,
    actor: Actor,
    reason: str | None = None,
    game_id: str | None = None,
    client: ProviderClient | None = None,
    attempts: int | None = None,
) -> dict[str, Any]:
    """Ask the provider to close the player's game session (CloseSession). NotFound: no such player.
    The call's record and its audit entry are written in one transaction, before it is sent."""
    require(actor, "player.controls")
    with provider_client(settings, client) as c:
        body = c.close_session_body(new_uuid(), user_id, game_id)
        with engine.begin() as conn:
            if conn.execute(select(players.c.id).where(players.c.user_id == user_id)).first() is None:
                raise NotFound(f"player {user_id} not found")
            call_id = open_call(conn, c, "CloseSession", body, requested_by=actor.name, reason=reason,
                                user_id=user_id)
            assert call_id is not None  # a fresh uuid, and no other index applies to this kind
            audit.record(conn, actor, "session.close", audit.target("player", user_id), reason, None,
                         {"callId": str(call_id), "gameId": game_id})
        outcome = run(engine, c, call_id, "CloseSession", body, attempts=attempts)
    with engine.connect() as conn:
        return get_call(conn, outcome.call_id)


def close_session_quietly(engine: Engine, settings: Settings, user_id: str, *, actor: Actor,
                          reason: str) -> dict[str, Any] | None:
    """CloseSession as a side effect (a player frozen): best effort, one attempt (the operation that
    asked waits for it; a provider that is down must not make a freeze slow). The call is recorded
    whatever the provider does; nothing here ever fails the operation that asked (None when even
    the record could not be written: the reason is logged)."""
    try:
        return close_session(engine, settings, user_id, actor=actor, reason=reason, attempts=1)
    except Exception as exc:  # the freeze has happened: it must not fail for this
        log.warning("CloseSession after %s not recorded", reason,
                    extra={"fields": {"userId": user_id, "error": type(exc).__name__}})
        return None


def health(engine: Engine, settings: Settings, *, requested_by: str,
           client: ProviderClient | None = None) -> dict[str, Any]:
    """HealthCheck, one attempt (a health check that retries hides what it measures): `{up, latencyMs,
    error}`, `up` false when the provider fails or does not answer; also the provider metrics."""
    started = time.monotonic()
    with provider_client(settings, client) as c:
        outcome = perform(engine, c, "HealthCheck", c.health_body(new_uuid()), attempts=1,
                          requested_by=requested_by)
    seconds = time.monotonic() - started
    up = outcome.status == "confirmed"
    observe_provider_health(up, seconds)
    if up:
        error = None
    elif outcome.status == "rejected":
        error = f"error {outcome.answer.error if outcome.answer else '?'}: {outcome.description}"
    else:
        error = outcome.description
    return {"up": up, "latencyMs": int(seconds * 1000), "error": error}


# --------------------------------------------------------------------------- reads


def attempt_dict(a: Row[Any]) -> dict[str, Any]:
    return {"number": a.number, "startedAt": iso(a.started_at), "elapsedMs": a.elapsed_ms,
            "httpStatus": a.http_status, "exception": a.exception, "answer": a.answer, "problem": a.problem}


def attempts_of(conn: Connection, call_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(provider_call_attempts).where(provider_call_attempts.c.call_id == call_id)
                        .order_by(provider_call_attempts.c.number)).all()
    return [attempt_dict(a) for a in rows]


def call_dict(row: Row[Any], attempts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": str(row.id),
        "kind": row.kind,
        "status": row.status,
        "uuid": row.uuid,
        "requestedBy": row.requested_by,
        "reason": row.reason,
        "userId": row.user_id,
        "roundId": row.round_id,
        "reference": row.reference,
        "sweepId": None if row.sweep_id is None else str(row.sweep_id),
        "error": row.error,
        "description": row.description,
        "answer": None if row.answer is None else loads(row.answer),
        "createdAt": iso(row.created_at),
        "finishedAt": iso(row.finished_at),
    }
    if attempts is None:
        record["attemptCount"] = row.attempt_count
    else:
        record["request"] = loads(row.request_body)
        record["attempts"] = attempts
    return record


def db_id(value: int | str, what: str) -> int:
    """A record's id from a path or an argument; NotFound when it cannot name one."""
    try:
        pk = int(value)
    except (TypeError, ValueError) as exc:
        raise NotFound(f"{what} {value} not found") from exc
    if not 0 < pk < 2**63:
        raise NotFound(f"{what} {value} not found")
    return pk


def get_call(conn: Connection, call_id: int | str) -> dict[str, Any]:
    """One call with the body sent (token masked) and every attempt."""
    pk = db_id(call_id, "provider call")
    row = conn.execute(select(provider_calls).where(provider_calls.c.id == pk)).first()
    if row is None:
        raise NotFound(f"provider call {call_id} not found")
    return call_dict(row, attempts_of(conn, pk))


def calls_page(conn: Connection, where: list[Any], limit: int, cursor: str | None) -> tuple[list[Row[Any]], str | None]:
    """Calls matching `where`, newest first, keyset-paginated on the id (`cursor` = the last id seen),
    each with its attempt count. Returns (rows, next_cursor)."""
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}")
    if cursor is not None:
        try:
            where = [*where, provider_calls.c.id < int(cursor)]
        except ValueError as exc:
            raise Invalid("cursor is not valid") from exc
    count = (select(func.count()).select_from(provider_call_attempts)
             .where(provider_call_attempts.c.call_id == provider_calls.c.id).scalar_subquery())
    rows = conn.execute(
        select(provider_calls, count.label("attempt_count")).where(*where)
        .order_by(provider_calls.c.id.desc()).limit(limit + 1)
    ).all()
    return rows[:limit], (str(rows[limit - 1].id) if len(rows) > limit else None)


def list_calls(
    conn: Connection,
    *,
    limit: int = 100,
    cursor: str | None = None,
    kind: str | None = None,
    user_id: str | None = None,
    round_id: str | None = None,
    reference: str | None = None,
    status: str | None = None,
    sweep_id: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Every kind of call, newest first. Returns (items, next_cursor)."""
    where: list[Any] = []
    if kind is not None:
        if kind not in CALL_KINDS:
            raise Invalid(f"kind must be one of {', '.join(CALL_KINDS)}")
        where.append(provider_calls.c.kind == kind)
    for column, value in ((provider_calls.c.user_id, user_id), (provider_calls.c.round_id, round_id),
                          (provider_calls.c.reference, reference), (provider_calls.c.status, status)):
        if value is not None:
            where.append(column == value)
    if sweep_id is not None:
        where.append(provider_calls.c.sweep_id == db_id(sweep_id, "sweep"))
    rows, next_cursor = calls_page(conn, where, limit, cursor)
    return [call_dict(r) for r in rows], next_cursor
