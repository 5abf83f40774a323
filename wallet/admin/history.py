"""Staff searches of what happened: the callbacks' request log and the rounds (API, CLI and site alike).

`requests_page`: every callback the wallet answered, refused ones included
(docs/admin.md, "Request log"), newest first by (createdAt, id), filtered by
player, reference, method, error, uuid and time; each filter has an index in
every day partition (`from`/`to` also prune whole days). `rounds_page`: rounds
by status, player and opening time, newest first by id. Both keyset-paginated:
a page continues strictly after the last row of the previous one, so rows
written meanwhile never shift it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, and_, select, tuple_

from wallet import cursors
from wallet.ledger.models import iso, players, requests_log, rounds
from wallet.ledger.outcomes import Invalid

MAX_PAGE = 1000
ROUND_STATUSES = ("open", "settled", "ended", "cancelled")
REQUEST_COLUMNS = ("createdAt", "method", "uuid", "userId", "reference", "error", "description", "replayable")
ROUND_COLUMNS = ("roundId", "userId", "gameId", "status", "createdAt", "updatedAt")


# --------------------------------------------------------------------------- cursors


def _positive_bigint(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 2**63:
        raise Invalid("cursor is not valid")
    return int(text)


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}")


# --------------------------------------------------------------------------- the request log


@dataclass(frozen=True)
class RequestFilter:
    """What GET /admin/requests may filter on; `until` is exclusive. `method` is lower case."""

    user_id: str | None = None
    reference: str | None = None
    method: str | None = None
    error: int | None = None
    uuid: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def request_dict(row: Row[Any]) -> dict[str, Any]:
    """A logged callback as staff see it. `replayable`: its answer is stored and a retransmission
    of the uuid gets it again (false for 100 and for refusals before the database)."""
    return {
        "createdAt": iso(row.created_at),
        "method": row.method,
        "uuid": row.uuid,
        "userId": row.user_id,
        "reference": row.reference,
        "error": row.error,
        "description": row.description,
        "replayable": row.replayable,
    }


def _requests_query(f: RequestFilter, after: tuple[datetime, int] | None = None) -> Select[Any]:
    r = requests_log.c
    conditions: list[Any] = []
    if f.user_id is not None:
        conditions.append(r.user_id == f.user_id)
    if f.reference is not None:
        conditions.append(r.reference == f.reference)
    if f.method is not None:
        conditions.append(r.method == f.method)
    if f.error is not None:
        conditions.append(r.error == f.error)
    if f.uuid is not None:
        conditions.append(r.uuid == f.uuid)
    if f.since is not None:
        since = f.since.astimezone(UTC)
        conditions += [r.created_at >= since, r.day >= since.date()]  # the day: whole partitions skipped
    if f.until is not None:
        until = f.until.astimezone(UTC)
        conditions += [r.created_at < until, r.day <= until.date()]
    if after is not None:
        conditions.append(tuple_(r.created_at, r.id) < tuple_(*after))
    return (
        select(r.id, r.created_at, r.method, r.uuid, r.user_id, r.reference, r.error, r.description,
               r.response.is_not(None).label("replayable"))
        .where(and_(True, *conditions))
        .order_by(r.created_at.desc(), r.id.desc())
    )


def _request_cursor(row: Row[Any]) -> str:
    return cursors.encode("rq", f"{row.created_at.astimezone(UTC).isoformat()}|{row.id}")


def _request_after(cursor: str) -> tuple[datetime, int]:
    moment, _, last_id = cursors.decode("rq", cursor).partition("|")
    try:
        at = datetime.fromisoformat(moment)
    except ValueError as exc:
        raise Invalid("cursor is not valid") from exc
    if at.tzinfo is None:
        raise Invalid("cursor is not valid")
    return at, _positive_bigint(last_id)


def requests_page(conn: Connection, f: RequestFilter, limit: int = 100,
                  cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of logged callbacks, newest first: (items, next cursor or None on the last page)."""
    _check_limit(limit)
    after = _request_after(cursor) if cursor is not None else None
    rows = conn.execute(_requests_query(f, after).limit(limit + 1)).all()
    items = [request_dict(row) for row in rows[:limit]]
    return items, _request_cursor(rows[limit - 1]) if len(rows) > limit else None


def iter_requests(conn: Connection, f: RequestFilter, batch: int = 2000) -> Iterator[dict[str, Any]]:
    """Every match, newest first, streamed from one server-side cursor (the CSV export)."""
    result = conn.execute(_requests_query(f), execution_options={"stream_results": True, "yield_per": batch})
    return (request_dict(row) for row in result)


# --------------------------------------------------------------------------- rounds


@dataclass(frozen=True)
class RoundFilter:
    """What GET /admin/rounds may filter on: status, player, opening time (`until` exclusive)."""

    status: str | None = None
    user_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def round_status(status: str, has_result: bool) -> str:
    """A round's status as staff list it, one of ROUND_STATUSES: open (no Result yet, still holding
    its stakes), settled (a Result, not ended), ended (EndRound), cancelled (CancelRound or a Cancel)."""
    if status == "open":
        return "settled" if has_result else "open"
    return status


def _status_condition(status: str) -> Any:
    if status not in ROUND_STATUSES:
        raise Invalid(f"status must be one of {', '.join(ROUND_STATUSES)}")
    if status in ("open", "settled"):
        return and_(rounds.c.status == "open", rounds.c.has_result.is_(status == "settled"))
    return rounds.c.status == status


def round_dict(row: Row[Any]) -> dict[str, Any]:
    return {
        "roundId": row.round_id,
        "userId": row.user_id,
        "gameId": row.game_id,
        "status": round_status(row.status, row.has_result),
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


def _rounds_query(f: RoundFilter, after_id: int | None = None) -> Select[Any]:
    conditions: list[Any] = []
    if f.status is not None:
        conditions.append(_status_condition(f.status))
    if f.user_id is not None:
        conditions.append(
            rounds.c.player_id == select(players.c.id).where(players.c.user_id == f.user_id).scalar_subquery())
    if f.since is not None:
        conditions.append(rounds.c.created_at >= f.since.astimezone(UTC))
    if f.until is not None:
        conditions.append(rounds.c.created_at < f.until.astimezone(UTC))
    if after_id is not None:
        conditions.append(rounds.c.id < after_id)
    owner = select(players.c.user_id).where(players.c.id == rounds.c.player_id).scalar_subquery()
    return (
        select(rounds.c.id, rounds.c.round_id, owner.label("user_id"), rounds.c.game_id, rounds.c.status,
               rounds.c.has_result, rounds.c.created_at, rounds.c.updated_at)
        .where(and_(True, *conditions))
        .order_by(rounds.c.id.desc())
    )


def rounds_page(conn: Connection, f: RoundFilter, limit: int = 100,
                cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of rounds, newest first: (items, next cursor or None on the last page)."""
    _check_limit(limit)
    after_id = _positive_bigint(cursors.decode("rd", cursor)) if cursor is not None else None
    rows = conn.execute(_rounds_query(f, after_id).limit(limit + 1)).all()
    items = [round_dict(row) for row in rows[:limit]]
    return items, cursors.encode("rd", rows[limit - 1].id) if len(rows) > limit else None


def iter_rounds(conn: Connection, f: RoundFilter, batch: int = 2000) -> Iterator[dict[str, Any]]:
    """Every matching round, newest first, streamed (the CSV export)."""
    result = conn.execute(_rounds_query(f), execution_options={"stream_results": True, "yield_per": batch})
    return (round_dict(row) for row in result)
